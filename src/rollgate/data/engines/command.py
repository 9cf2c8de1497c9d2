"""Your own commands: shell templates for backup, restore and (optionally) check.

``{file}`` in a template is replaced by the shell-quoted path of the backup file; nothing else
is touched, so ``${VAR}`` and other braces reach the shell as written. The commands run with
``sh -c`` in ``cwd``, with rollgate's environment plus ``env``; secret-looking values of
``env`` (and passwords of URLs in it) are masked in every message.
"""

from __future__ import annotations

import shlex
from pathlib import Path

from rollgate.data.engines.base import (
    Finished,
    Secrets,
    atomic_file,
    child_env,
    is_corrupt,
    last_line,
    reason,
    run_tool,
    sha256_file,
    url_password,
)
from rollgate.errors import DataError
from rollgate.redact import secret_values

DESCRIBE_CHARS = 60


class CommandEngine:
    """Backs up with commands the spec gives."""

    kind = "command"
    suffix = ".bak"

    def __init__(self, backup: str, restore: str, check: str | None, env: dict[str, str],
                 cwd: Path) -> None:
        self.backup_command = backup
        self.restore_command = restore
        self.check_command = check
        self.env = dict(env)
        self.cwd = cwd
        passwords = [url_password(value) for value in env.values() if "://" in value]
        self._secrets = Secrets.of(*secret_values(env), *passwords)

    def describe(self) -> str:
        """E.g. ``command: pg_basebackup -D {file} ...`` (secrets masked, shortened)."""
        text = self._secrets.mask(" ".join(self.backup_command.split()))
        cut = text if len(text) <= DESCRIBE_CHARS else text[:DESCRIBE_CHARS - 3] + "..."
        return f"command: {cut}"

    def _run(self, template: str, path: Path) -> Finished:
        command = template.replace("{file}", shlex.quote(str(path)))
        return run_tool(command, shell=True, env=child_env(self.env), cwd=self.cwd,
                        secrets_=self._secrets)

    def backup(self, dest: Path) -> str:
        """Run the backup command with ``{file}`` = a temporary sibling of ``dest``."""
        what = f"backup with `{self._secrets.mask(self.backup_command)}`"
        with atomic_file(dest, what) as tmp:
            done = self._run(self.backup_command, tmp)
            if not done.ok:
                raise DataError(f"{what} failed: it exited {done.code}: "
                                f"{reason(done.stderr) or last_line(done.stdout)}; fix the "
                                "command or what it needs and try again",
                                details=done.stderr or done.stdout)
            if tmp.is_dir():
                raise DataError(f"{what} wrote a directory at {{file}}; a backup is one file: "
                                "archive the directory into it (e.g. tar -czf {file} DIR)")
            if not tmp.is_file():
                raise DataError(f"{what} exited 0 but did not create {{file}} ({tmp.name}); "
                                "the command must write the backup to the path given as "
                                "{file}")
            digest = sha256_file(tmp)
        return digest

    def check(self, path: Path) -> str:
        """The check command (exit 0 = good), or: the file exists and is not empty."""
        if self.check_command is None:
            if not path.is_file():
                raise is_corrupt(path, "the file does not exist")
            size = path.stat().st_size
            if size == 0:
                raise is_corrupt(path, "the file is empty")
            return f"file present, {size} bytes (no check command)"
        done = self._run(self.check_command, path)
        if not done.ok:
            why = reason(done.stderr) or last_line(done.stdout) or f"exit {done.code}"
            raise is_corrupt(path, f"the check command exited {done.code}: {why}")
        return f"check command ok: {last_line(done.stdout)}".removesuffix(": ")

    def restore(self, path: Path) -> None:
        """Run the restore command with ``{file}`` = the backup file."""
        done = self._run(self.restore_command, path)
        if not done.ok:
            raise DataError(f"restore from {path.name} failed: "
                            f"`{self._secrets.mask(self.restore_command)}` exited {done.code}: "
                            f"{reason(done.stderr) or last_line(done.stdout)}; the command "
                            "decides what is left of the database: check it before retrying",
                            details=done.stderr or done.stdout)
