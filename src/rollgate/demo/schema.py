"""The demo database's migrations, laid out in a project the way a release brings them."""

from __future__ import annotations

import shutil
from pathlib import Path

MIGRATIONS = Path(__file__).parent / "migrations"


def install_migrations(project: Path, revisions: list[str]) -> Path:
    """Put the demo's Alembic setup and the given revisions (e.g. ["0001", "0002"]) in
    ``project/migrations``, replacing what was there; return the alembic.ini path."""
    dest = project / "migrations"
    versions = dest / "versions"
    if versions.exists():
        shutil.rmtree(versions)
    versions.mkdir(parents=True)
    for name in ("alembic.ini", "env.py"):
        shutil.copyfile(MIGRATIONS / name, dest / name)
    for rev in revisions:
        found = sorted((MIGRATIONS / "versions").glob(f"{rev}_*.py"))
        if not found:
            raise ValueError(f"the demo has no migration {rev}")
        shutil.copyfile(found[0], versions / found[0].name)
    return dest / "alembic.ini"
