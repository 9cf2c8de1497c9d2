"""The non-destructive check: which SQL statements destroy data, and what they are said to do."""

from __future__ import annotations

import pytest

from rollgate.data.migrations import destructive


@pytest.mark.parametrize(("sql", "found"), [
    ("ALTER TABLE items ADD COLUMN note VARCHAR(200);", []),
    ("CREATE TABLE t (id int); CREATE INDEX ix ON t (id);", []),
    ("UPDATE items SET note = 'x';", []),
    ("ALTER TABLE t ALTER COLUMN c DROP NOT NULL; ALTER TABLE t DROP CONSTRAINT fk;", []),
    ("UPDATE alembic_version SET version_num='2'; DELETE FROM alembic_version;", []),
    ("ALTER TABLE items DROP COLUMN version;", ["drops column items.version"]),
    ("ALTER TABLE `items` DROP `legacy`;", ["drops column items.legacy"]),
    ('ALTER TABLE "users" DROP COLUMN IF EXISTS age;', ["drops column users.age"]),
    ("DROP TABLE IF EXISTS old_stuff;", ["drops table old_stuff"]),
    ("TRUNCATE TABLE sessions;", ["empties table sessions"]),
    ("DELETE FROM carts WHERE created < now();", ["deletes rows of carts"]),
    ("ALTER TABLE users ALTER COLUMN age TYPE bigint;", ["rewrites column users.age (new type)"]),
    ("ALTER TABLE t MODIFY COLUMN c varchar(10);", ["rewrites column t.c"]),
    ("ALTER TABLE t RENAME COLUMN a TO b;", ["renames COLUMN a TO b in t"]),
    ("DROP SCHEMA legacy CASCADE;", ["drops schema legacy"]),
    # SQLite batch mode copies the table and swaps it in: one rewrite, not a dropped table.
    ("CREATE TABLE _alembic_tmp_items (id int); INSERT INTO _alembic_tmp_items SELECT id FROM "
     "items; DROP TABLE items; ALTER TABLE _alembic_tmp_items RENAME TO items;",
     ["rewrites table items (copy and swap)"]),
    ("-- DROP TABLE in a comment\n/* DROP TABLE x; */ SELECT 1;", []),
])
def test_destructive_statements_are_named(sql: str, found: list[str]) -> None:
    assert destructive(sql) == found
