"""Backup engines: SQLite, PostgreSQL, MariaDB/MySQL, and your own commands.

Every engine writes a backup atomically (a failure leaves no file), returns its sha256,
checks a backup file with the database's own tools, and restores it so that the database
holds exactly the backed-up tables and rows.
"""

from __future__ import annotations

from rollgate.data.engines.base import BackupEngine, sha256_file
from rollgate.data.engines.command import CommandEngine
from rollgate.data.engines.mariadb import MariaDBEngine
from rollgate.data.engines.postgres import PostgresEngine
from rollgate.data.engines.sqlite import SQLiteEngine

__all__ = [
    "BackupEngine",
    "CommandEngine",
    "MariaDBEngine",
    "PostgresEngine",
    "SQLiteEngine",
    "sha256_file",
]
