"""Schema migrations: Alembic or your own commands; status, the non-destructive check, apply, undo.

Alembic runs in a child process (``rollgate.data.alembic_child``) so a project's env.py
and migrations never run inside rollgate; its status is read in-process from the
revision files and the database's ``alembic_version`` table.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rollgate.data.alembic_child import URL_ENV, load_config
from rollgate.data.target import DataTarget
from rollgate.errors import DataError, UsageError
from rollgate.redact import excerpt, redact
from rollgate.spec.data import AlembicMigrations, CommandMigrations


@dataclass
class MigrationStatus:
    """Where a database's schema is and what would be applied."""

    kind: str
    current: str | None
    target: str
    pending: list[str] = field(default_factory=list)  # "rev: message", oldest first
    detail: str | None = None  # a status command's own output

    def to_json(self) -> dict[str, Any]:
        """As the CLI's --json prints it."""
        return {"kind": self.kind, "current": self.current, "target": self.target,
                "pending": self.pending, "detail": self.detail}


def _ini(t: DataTarget, m: AlembicMigrations) -> Path:
    path = Path(m.config)
    path = path if path.is_absolute() else (t.spec_dir / path).resolve()
    if not path.is_file():
        raise UsageError(f"databases.{t.name}.migrations.config: {path} does not exist")
    return path


def _config(t: DataTarget) -> AlembicMigrations | CommandMigrations:
    if t.config.migrations is None:
        raise UsageError(f"database {t.name} has no migrations in the spec")
    return t.config.migrations


def _run(t: DataTarget, command: list[str] | str, timeout: float, extra: dict[str, str],
         cwd: Path, stdout_only: bool = False) -> tuple[int, str]:
    """Run a command with the database's environment; (exit code, masked output).

    The output is the tail of stdout and stderr together, or with ``stdout_only`` all of
    stdout (a plan's SQL) and, when the command fails, the tail of stderr after it.
    """
    env = {**os.environ, **t.command_env(), **extra}
    try:
        proc = subprocess.run(
            command, shell=isinstance(command, str), cwd=cwd, env=env, timeout=timeout,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE if stdout_only else subprocess.STDOUT,
            text=True, check=False, executable="/bin/sh" if isinstance(command, str) else None,
        )
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout if isinstance(exc.stdout, str) else ""
        return 124, redact(excerpt(out + f"\n(timed out after {timeout:.0f} s)"), t.secrets())
    if stdout_only:
        out = proc.stdout or ""
        if proc.returncode != 0:
            out = excerpt(out + (proc.stderr or ""))
        return proc.returncode, redact(out, t.secrets())
    return proc.returncode, redact(excerpt(proc.stdout or ""), t.secrets())


def _alembic(t: DataTarget, m: AlembicMigrations, *args: str) -> tuple[int, str]:
    ini = _ini(t, m)
    argv = [sys.executable, "-m", "rollgate.data.alembic_child", *args, "--config", str(ini)]
    return _run(t, argv, m.timeout, {URL_ENV: t.sqlalchemy_url()}, ini.parent,
                stdout_only="--sql" in args)


def current_revision(t: DataTarget) -> str | None:
    """The database's schema revision now (None: not migrated, or not knowable)."""
    m = t.config.migrations
    if isinstance(m, AlembicMigrations):
        from alembic.runtime.migration import MigrationContext
        from sqlalchemy import create_engine

        engine = create_engine(t.sqlalchemy_url())
        try:
            with engine.connect() as conn:
                heads = MigrationContext.configure(conn).get_current_heads()
        except Exception as exc:
            raise DataError(f"cannot read the schema revision of {t.label}: "
                            f"{redact(str(exc).splitlines()[0], t.secrets())}") from None
        finally:
            engine.dispose()
        return ",".join(heads) if heads else None
    if isinstance(m, CommandMigrations) and m.revision:
        code, out = _run(t, m.revision, m.timeout, {}, t.spec_dir)
        if code != 0:
            raise DataError(f"the revision command of {t.label} exited {code}: {out.strip()}")
        return out.strip().splitlines()[-1] if out.strip() else None
    return None


def status(t: DataTarget) -> MigrationStatus:
    """Current revision and pending migrations."""
    m = _config(t)
    if isinstance(m, AlembicMigrations):
        from alembic.script import ScriptDirectory

        current = current_revision(t)
        script = ScriptDirectory.from_config(load_config(_ini(t, m), None))  # type: ignore[arg-type]
        lower = current.split(",")[0] if current else "base"
        revs = list(script.iterate_revisions(m.target, lower))
        pending = [f"{r.revision}: {r.doc}" for r in reversed(revs)]
        return MigrationStatus("alembic", current, m.target, pending)
    current = current_revision(t)
    detail = None
    if m.status:
        code, out = _run(t, m.status, m.timeout, {}, t.spec_dir)
        detail = out.strip() if code == 0 else f"status command exited {code}: {out.strip()}"
    return MigrationStatus("command", current, "(the run command's)", [], detail)


def plan_sql(t: DataTarget) -> str | None:
    """The SQL the pending migrations would run, or None when it cannot be known."""
    m = _config(t)
    if isinstance(m, AlembicMigrations):
        current = current_revision(t)
        span = f"{current.split(',')[0]}:{m.target}" if current else m.target
        code, out = _alembic(t, m, "upgrade", span, "--sql")
        if code != 0:
            raise DataError(f"alembic could not write the migration plan as SQL (offline "
                            f"mode, exit {code}): {_last_line(out)}")
        return out
    if m.plan:
        code, out = _run(t, m.plan, m.timeout, {}, t.spec_dir, stdout_only=True)
        if code != 0:
            raise DataError(f"the plan command of {t.label} exited {code}: {_last_line(out)}")
        return out
    return None


_COMMENT = re.compile(r"--[^\n]*|/\*.*?\*/", re.DOTALL)
_IDENT = r"[`\"\[]?([\w.$]+)[`\"\]]?"
_NOT_COLUMNS = {"CONSTRAINT", "INDEX", "KEY", "FOREIGN", "PRIMARY", "CHECK", "DEFAULT",
                "PARTITION", "TRIGGER"}


def destructive(sql: str) -> list[str]:
    """What a migration's SQL would destroy: dropped or rewritten tables and columns, deletes.

    Statements on alembic_version (the revision bookkeeping) do not count.
    """
    found: list[str] = []
    for raw in _COMMENT.sub("", sql).split(";"):
        stmt = " ".join(raw.split())
        upper = stmt.upper()
        if not stmt or "ALEMBIC_VERSION" in upper:
            continue
        found += _describe(stmt, upper)
    swapped = {f.split()[2] for f in found if f.endswith("(copy and swap)")}
    return list(dict.fromkeys(f for f in found
                              if not (f.startswith("drops table ") and f.split()[2] in swapped)))


def _describe(stmt: str, upper: str) -> list[str]:
    if m := re.match(rf"DROP TABLE (?:IF EXISTS )?{_IDENT}", stmt, re.IGNORECASE):
        name = m.group(1)
        if name.lower().startswith("_alembic_tmp_"):
            return []
        return [f"drops table {name}"]
    if m := re.match(rf"(?:TRUNCATE)(?: TABLE)? {_IDENT}", stmt, re.IGNORECASE):
        return [f"empties table {m.group(1)}"]
    if m := re.match(rf"DELETE FROM {_IDENT}", stmt, re.IGNORECASE):
        return [f"deletes rows of {m.group(1)}"]
    if m := re.match(r"DROP (SCHEMA|DATABASE) (?:IF EXISTS )?(\S+)", stmt, re.IGNORECASE):
        return [f"drops {m.group(1).lower()} {m.group(2)}"]
    if m := re.match(rf"ALTER TABLE (?:ONLY )?{_IDENT} (.*)", stmt, re.IGNORECASE):
        table, actions = m.group(1), m.group(2)
        if table.lower().startswith("_alembic_tmp_") and "RENAME TO" in upper:
            target = _name(actions.split()[-1])
            return [f"rewrites table {target} (copy and swap)"]
        return [d for action in actions.split(",") if (d := _alter(table, action.strip()))]
    return []


def _name(word: str) -> str:
    return word.strip('`"[]')


def _alter(table: str, action: str) -> str | None:
    words = action.split()
    head = [w.upper() for w in words[:4]]
    if not head:
        return None
    if head[0] == "DROP":
        rest = words[1:]
        if rest and rest[0].upper() == "COLUMN":
            rest = rest[1:]
        elif rest and rest[0].upper() in _NOT_COLUMNS:
            return None
        if len(rest) > 2 and rest[0].upper() == "IF" and rest[1].upper() == "EXISTS":
            rest = rest[2:]
        return f"drops column {table}.{_name(rest[0])}" if rest else None
    col = _name(words[2] if head[1:2] == ["COLUMN"] and len(words) > 2 else words[-1])
    if head[0] == "ALTER" and ("TYPE" in head or "DATA" in head):
        return f"rewrites column {table}.{col} (new type)"
    if head[0] in ("MODIFY", "CHANGE"):
        return f"rewrites column {table}.{col}"
    if head[0] == "RENAME":
        return f"renames {' '.join(words[1:])} in {table}"
    return None


def apply(t: DataTarget) -> str:
    """Apply the pending migrations; raise DataError with the output when they fail."""
    m = _config(t)
    if isinstance(m, AlembicMigrations):
        code, out = _alembic(t, m, "upgrade", m.target)
        what = f"alembic upgrade {m.target}"
    else:
        code, out = _run(t, m.run, m.timeout, {}, t.spec_dir)
        what = "the migration command"
    if code != 0:
        raise DataError(f"{what} exited {code}: {_last_line(out)}", details=out)
    return out


def downgrade(t: DataTarget, revision: str | None) -> str:
    """Undo a migration: ``alembic downgrade REVISION`` (base when None) or the command."""
    m = _config(t)
    if isinstance(m, AlembicMigrations):
        code, out = _alembic(t, m, "downgrade", revision or "base")
        what = f"alembic downgrade {revision or 'base'}"
    else:
        assert m.downgrade
        code, out = _run(t, m.downgrade, m.timeout, {}, t.spec_dir)
        what = "the downgrade command"
    if code != 0:
        raise DataError(f"{what} exited {code}: {_last_line(out)}", details=out)
    return out


_EXCEPTION_LINE = re.compile(r"^\s*[\w.]+(Error|Exception|Failure)\b:")


def _last_line(out: str) -> str:
    """The line that says why: the last exception line of a traceback, else the last line."""
    lines = [line.strip() for line in out.strip().splitlines() if line.strip()]
    errors = [line for line in lines if _EXCEPTION_LINE.match(line)]
    return (errors or lines or ["(no output)"])[-1]
