"""Runs one Alembic command for rollgate in a child process, so a project's env.py and
migrations run isolated from rollgate: ``python -m rollgate.data.alembic_child upgrade
--config alembic.ini head``. The database URL comes from ROLLGATE_MIGRATION_URL (never argv).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

URL_ENV = "ROLLGATE_MIGRATION_URL"


def load_config(path: Path, url: str | None) -> object:
    """An Alembic Config for ``path`` with an absolute script location and ``url`` set."""
    from alembic.config import Config

    cfg = Config(str(path))
    location = cfg.get_main_option("script_location") or "migrations"
    if ":" not in location and not Path(location).is_absolute():
        cfg.set_main_option("script_location", str(path.parent / location))
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def main(argv: list[str] | None = None) -> int:
    """Run upgrade/downgrade (``--sql`` prints the SQL instead of running it)."""
    parser = argparse.ArgumentParser(prog="rollgate.data.alembic_child")
    parser.add_argument("command", choices=["upgrade", "downgrade"])
    parser.add_argument("revision")
    parser.add_argument("--config", required=True, type=Path)
    parser.add_argument("--sql", action="store_true")
    args = parser.parse_args(argv)
    from alembic import command

    cfg = load_config(args.config, os.environ.get(URL_ENV))
    sys.path.insert(0, str(args.config.parent))
    run = command.upgrade if args.command == "upgrade" else command.downgrade
    run(cfg, args.revision, sql=args.sql)  # type: ignore[arg-type]
    return 0


if __name__ == "__main__":
    sys.exit(main())
