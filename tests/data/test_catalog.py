"""The backup catalog on a real store and real files: ids, metadata, failures, the store guard."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rollgate.data import catalog
from rollgate.data.storage import meta_path
from rollgate.data.target import DataTarget
from rollgate.errors import DataError, UsageError
from rollgate.spec.data import Database as DatabaseConfig
from rollgate.store import backups as backup_store
from rollgate.store.db import Database


def _store(tmp_path: Path) -> Database:
    db = Database(f"sqlite:///{tmp_path / 'store.db'}")
    db.migrate()
    return db


def _command_target(tmp_path: Path, backup: str = "cp data.txt {file}") -> DataTarget:
    (tmp_path / "data.txt").write_text("rows: 3\n")
    config = DatabaseConfig(engine="command", backup=backup, restore="cp {file} data.txt")
    return DataTarget(name="main", environment="production", config=config, url=None,
                      spec_dir=tmp_path, state_dir=tmp_path / ".rollgate")


def test_ids_are_per_second_and_never_reused(tmp_path: Path) -> None:
    db, t = _store(tmp_path), _command_target(tmp_path)
    first = catalog.create(db, t, actor="ana", reason="nightly")
    assert first.id == f"backup_{first.created_at:%Y%m%d_%H%M%S}"
    # A second backup in the same second gets the next free suffix.
    assert catalog.new_id(db, first.created_at) == f"{first.id}_2"
    meta = json.loads(meta_path(Path(first.location)).read_text())
    assert (meta["id"], meta["sha256"], meta["actor"], meta["reason"], meta["retention"]) == (
        first.id, first.sha256, "ana", "nightly", "valid")
    db.dispose()


def test_a_failed_backup_leaves_no_file_and_no_row(tmp_path: Path) -> None:
    db = _store(tmp_path)
    t = _command_target(tmp_path, backup="echo 'disk full' >&2; exit 1")
    with pytest.raises(DataError, match="disk full"):
        catalog.create(db, t, actor="ana", reason=None)
    with db.session() as s:
        assert backup_store.listing(session=s) == []
    folder = t.storage().root
    assert not folder.exists() or not any(folder.iterdir())
    db.dispose()


def test_the_store_itself_is_never_backed_up_or_restored(tmp_path: Path) -> None:
    db = _store(tmp_path)
    config = DatabaseConfig(engine="sqlite", url=f"sqlite:///{tmp_path / 'store.db'}")
    t = DataTarget(name="main", environment="production", config=config,
                   url=config.url, spec_dir=tmp_path, state_dir=tmp_path / ".rollgate")
    with pytest.raises(UsageError, match="rollgate's own store"):
        catalog.create(db, t, actor="ana", reason=None)
    db.dispose()


def test_keep_survives_and_shows_in_the_metadata(tmp_path: Path) -> None:
    db, t = _store(tmp_path), _command_target(tmp_path)
    row = catalog.create(db, t, actor="ana", reason=None)
    catalog.set_retention(db, row.id, backup_store.KEEP)
    assert json.loads(meta_path(Path(row.location)).read_text())["retention"] == "keep"
    with pytest.raises(UsageError):
        catalog.set_retention(db, row.id, "forever")
    db.dispose()
