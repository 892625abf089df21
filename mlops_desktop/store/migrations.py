"""Numbered schema migrations; each runs in the caller's transaction and is recorded."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "project, settings, events and blob store",
        """
        CREATE TABLE migrations (
            version INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            applied_at TEXT NOT NULL,
            app_version TEXT NOT NULL
        );
        CREATE TABLE project (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            uuid TEXT NOT NULL UNIQUE,
            name TEXT NOT NULL,
            created_at TEXT NOT NULL,
            created_by TEXT NOT NULL
        );
        CREATE TABLE settings (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL CHECK (json_valid(value))
        );
        CREATE TABLE events (
            id INTEGER PRIMARY KEY,
            uuid TEXT NOT NULL UNIQUE,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            subject_kind TEXT,
            subject_uuid TEXT,
            summary TEXT NOT NULL,
            details TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(details))
        );
        CREATE INDEX events_at ON events (at);
        CREATE INDEX events_subject ON events (subject_uuid);
        -- sha256 is NULL only inside the transaction that is still streaming the blob in.
        CREATE TABLE blobs (
            id INTEGER PRIMARY KEY,
            sha256 TEXT UNIQUE,
            size INTEGER NOT NULL,
            chunk_count INTEGER NOT NULL,
            created_at TEXT NOT NULL
        );
        CREATE TABLE blob_chunks (
            blob_id INTEGER NOT NULL REFERENCES blobs (id) ON DELETE CASCADE,
            seq INTEGER NOT NULL,
            codec TEXT NOT NULL CHECK (codec IN ('raw', 'zlib')),
            data BLOB NOT NULL,
            PRIMARY KEY (blob_id, seq)
        );
        """,
    ),
)

LATEST_VERSION = MIGRATIONS[-1].version


def pending(current_version: int) -> list[Migration]:
    return [m for m in MIGRATIONS if m.version > current_version]


def apply(conn: sqlite3.Connection, migration: Migration, applied_at: str, app_version: str):
    """Run one migration inside the open transaction and record it."""
    # executescript() would COMMIT first; run statement by statement to stay in the transaction.
    for statement in _statements(migration.sql):
        conn.execute(statement)
    conn.execute(
        "INSERT INTO migrations (version, name, applied_at, app_version) VALUES (?, ?, ?, ?)",
        (migration.version, migration.name, applied_at, app_version),
    )
    conn.execute(f"PRAGMA user_version = {int(migration.version)}")


def _statements(script: str) -> list[str]:
    """Split a script at the semicolons that end statements (not those inside strings or
    trigger bodies), which is exactly where ``sqlite3.complete_statement`` becomes true."""
    statements, start = [], 0
    for end, char in enumerate(script, start=1):
        if char == ";" and sqlite3.complete_statement(script[start:end]):
            statements.append(script[start:end].strip())
            start = end
    rest = script[start:].strip()
    if rest:
        raise ValueError(f"incomplete SQL statement in migration: {rest[:60]}")
    return statements
