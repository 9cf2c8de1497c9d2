"""Test helpers for real databases: fresh databases, SQL on any URL, and content fingerprints.

URLs: ``sqlite:///path``, ``postgresql://`` (or ``postgresql+psycopg://``) and ``mysql://``
(or ``mariadb://``, ``mysql+pymysql://``). PostgreSQL and MariaDB are the local servers
(127.0.0.1:5432 user postgres, 127.0.0.1:3306 user root), as on the project's machines.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import socket
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import psycopg
import pymysql

PG_ADMIN = os.environ.get("ROLLGATE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
MARIADB_HOST, MARIADB_PORT, MARIADB_USER = "127.0.0.1", 3306, "root"


def answers(host: str, port: int) -> bool:
    """True when something accepts connections on host:port."""
    try:
        socket.create_connection((host, port), 1).close()
        return True
    except OSError:
        return False


def _kind(url: str) -> str:
    scheme = urlsplit(url).scheme.split("+", 1)[0]
    return {"postgres": "postgresql", "mariadb": "mysql"}.get(scheme, scheme)


@contextmanager
def connect(url: str) -> Iterator[Any]:
    """A DB-API connection (autocommit) to any of the three kinds of URL."""
    kind, parts = _kind(url), urlsplit(url)
    if kind == "sqlite":
        conn: Any = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
    elif kind == "postgresql":
        conn = psycopg.connect(parts._replace(scheme="postgresql").geturl(), autocommit=True)
    elif kind == "mysql":
        conn = pymysql.connect(host=parts.hostname, port=parts.port or 3306,
                               user=unquote(parts.username or ""),
                               password=unquote(parts.password or ""),
                               database=parts.path.lstrip("/"), autocommit=True)
    else:
        raise ValueError(f"no test driver for {url}")
    with closing(conn):
        yield conn


def execute(url: str, *statements: str) -> None:
    """Run SQL statements one by one."""
    with connect(url) as conn:
        cur = conn.cursor()
        for statement in statements:
            cur.execute(statement)
        cur.close()


def query(url: str, sql: str) -> list[tuple[Any, ...]]:
    """All rows of a query."""
    with connect(url) as conn:
        cur = conn.cursor()
        cur.execute(sql)
        rows = [tuple(row) for row in cur.fetchall()]
        cur.close()
        return rows


def relations(url: str) -> list[str]:
    """Every table and view of the database (PostgreSQL: schema-qualified outside public)."""
    kind = _kind(url)
    if kind == "sqlite":
        sql = ("SELECT name FROM sqlite_master WHERE type IN ('table', 'view') "
               "AND name NOT LIKE 'sqlite_%'")
    elif kind == "postgresql":
        sql = ("SELECT CASE WHEN table_schema = 'public' THEN '' ELSE table_schema || '.' END "
               "|| table_name FROM information_schema.tables WHERE table_schema NOT IN "
               "('pg_catalog', 'information_schema')")
    else:
        sql = "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE()"
    return sorted(row[0] for row in query(url, sql))


def _quote(kind: str, name: str) -> str:
    if kind == "mysql":
        return f"`{name}`"
    return ".".join(f'"{part}"' for part in name.split("."))


def fingerprint(url: str) -> dict[str, tuple[int, str]]:
    """Every table and view -> (row count, sha256 of its column names and sorted rows)."""
    kind = _kind(url)
    result = {}
    with connect(url) as conn:
        cur = conn.cursor()
        for name in relations(url):
            cur.execute(f"SELECT * FROM {_quote(kind, name)}")
            columns = [d[0] for d in cur.description]
            rows = sorted(repr(tuple(row)) for row in cur.fetchall())
            digest = hashlib.sha256("\n".join([repr(columns), *rows]).encode()).hexdigest()
            result[name] = (len(rows), digest)
        cur.close()
    return result


@contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database (its URL), dropped WITH (FORCE) afterwards."""
    name = f"rg_engines_{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{PG_ADMIN.rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def mariadb_database() -> Iterator[str]:
    """A fresh MariaDB database (its URL), dropped afterwards."""
    name = f"rg_engines_{secrets.token_hex(4)}"
    admin = pymysql.connect(host=MARIADB_HOST, port=MARIADB_PORT, user=MARIADB_USER,
                            autocommit=True)
    with closing(admin):
        admin.cursor().execute(f"CREATE DATABASE `{name}`")
    try:
        yield f"mysql://{MARIADB_USER}@{MARIADB_HOST}:{MARIADB_PORT}/{name}"
    finally:
        admin = pymysql.connect(host=MARIADB_HOST, port=MARIADB_PORT, user=MARIADB_USER,
                                autocommit=True)
        with closing(admin):
            admin.cursor().execute(f"DROP DATABASE IF EXISTS `{name}`")


# --- the scenario every engine test plays -------------------------------------------------

USERS = 300
ORDERS = 900


def seed(url: str) -> None:
    """Two related tables with rows, and alembic_version at revision 0001."""
    users = ", ".join(f"({i}, 'user {i}', 'u{i}@example.com')" for i in range(1, USERS + 1))
    orders = ", ".join(f"({i}, {1 + i % USERS}, {i * 7 % 1000}.25, 'note ''{i}''')"
                       for i in range(1, ORDERS + 1))
    execute(url,
            "CREATE TABLE users (id INTEGER PRIMARY KEY, name VARCHAR(50) NOT NULL, "
            "email VARCHAR(100))",
            "CREATE TABLE orders (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL "
            "REFERENCES users (id), total DECIMAL(10, 2), note VARCHAR(200))",
            "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)",
            f"INSERT INTO users VALUES {users}",
            f"INSERT INTO orders VALUES {orders}",
            "INSERT INTO alembic_version VALUES ('0001')")


def change(url: str) -> None:
    """What happens after a backup: rows inserted, updated, deleted; a half-applied migration
    (a new table, a new column, a view on an old table, a new revision)."""
    execute(url,
            "INSERT INTO users VALUES (1001, 'late', NULL)",
            "UPDATE orders SET total = 0 WHERE id <= 100",
            "DELETE FROM orders WHERE user_id = 7",
            "DELETE FROM users WHERE id = 7",
            "CREATE TABLE audit (id INTEGER PRIMARY KEY, what VARCHAR(20))",
            "INSERT INTO audit VALUES (1, 'x')",
            "ALTER TABLE users ADD COLUMN age INTEGER",
            "CREATE VIEW big_orders AS SELECT id, total FROM orders WHERE total > 500",
            "UPDATE alembic_version SET version_num = '0002'")


def flip_byte(path: Path, offset: int) -> None:
    """Invert one byte of a file in place."""
    with path.open("r+b") as f:
        f.seek(offset)
        byte = f.read(1)
        f.seek(offset)
        f.write(bytes([byte[0] ^ 0xFF]))


def truncate(path: Path, keep: float = 0.5) -> None:
    """Cut a file to a fraction of its size."""
    size = path.stat().st_size
    with path.open("r+b") as f:
        f.truncate(int(size * keep))
