"""Where backup files live. Local folders today; the catalog only uses this interface."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Protocol


class BackupStorage(Protocol):
    """A place for backup files and their ``.meta.json`` descriptions."""

    def path_for(self, backup_id: str, suffix: str) -> Path:
        """The local path a new backup is written to (and read from for restores)."""
        ...

    def write_meta(self, path: Path, meta: dict[str, Any]) -> Path:
        """Write the ``.meta.json`` beside a backup file, atomically; return its path."""
        ...

    def delete(self, path: Path) -> None:
        """Remove a backup file and its metadata."""
        ...


def meta_path(path: Path) -> Path:
    """``backup_x.dump`` -> ``backup_x.meta.json``."""
    return path.with_name(path.name.split(".", 1)[0] + ".meta.json")


class LocalStorage:
    """Backups in a folder: ``<root>/<id><suffix>`` and ``<root>/<id>.meta.json``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path_for(self, backup_id: str, suffix: str) -> Path:
        """A path in the folder (created on demand, readable by the owner only)."""
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        return self.root / f"{backup_id}{suffix}"

    def write_meta(self, path: Path, meta: dict[str, Any]) -> Path:
        """Write the metadata through a temporary sibling, fsync and rename."""
        target = meta_path(path)
        tmp = target.with_name(f".{target.name}.tmp")
        with tmp.open("w", encoding="utf-8") as out:
            json.dump(meta, out, indent=2, sort_keys=True)
            out.write("\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
        return target

    def delete(self, path: Path) -> None:
        """Remove the file and its metadata (missing files are fine)."""
        for item in (path, meta_path(path)):
            item.unlink(missing_ok=True)
