"""Numbered schema migrations; each runs in the caller's transaction and is recorded."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str
    #: A change SQL statements cannot make, run after ``sql``.
    step: Callable[[sqlite3.Connection], None] | None = None


def _without_json_checks(sql: str) -> str:
    """A CREATE TABLE statement with its ``CHECK (… json_valid(…) …)`` clauses taken out."""
    out, at = [], 0
    while (start := sql.find("CHECK (", at)) != -1:
        end, depth = start + len("CHECK ("), 1
        while depth:
            depth += {"(": 1, ")": -1}.get(sql[end], 0)
            end += 1
        keep = "json_valid(" not in sql[start:end]
        out.append(sql[at:end] if keep else sql[at:start].rstrip(" "))
        at = end
    return "".join(out) + sql[at:]


def _drop_json_checks(conn: sqlite3.Connection) -> None:
    """Take json_valid() out of every table's CHECK constraints, in place.

    SQLite does not count its JSON functions as innocuous, so a schema that uses them cannot
    be read with ``trusted_schema = OFF``, the setting that stops a file's own schema from
    calling functions. Removing a CHECK constraint is one of the changes SQLite documents as
    safe to make by editing sqlite_schema (lang_altertable.html, "other kinds of changes")."""
    tables = conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND sql LIKE '%json_valid(%'"
    ).fetchall()
    version = conn.execute("PRAGMA schema_version").fetchone()[0]
    conn.execute("PRAGMA writable_schema = ON")
    try:
        for name, sql in tables:
            conn.execute(
                "UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = ?",
                (_without_json_checks(sql), name),
            )
        conn.execute(f"PRAGMA schema_version = {version + 1}")
    finally:
        conn.execute("PRAGMA writable_schema = OFF")


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
    Migration(
        2,
        "datasets and their immutable versions, stored as Parquet parts",
        """
        CREATE TABLE datasets (
            uuid TEXT PRIMARY KEY,
            name TEXT NOT NULL UNIQUE COLLATE NOCASE,
            created_at TEXT NOT NULL,
            created_by TEXT NOT NULL
        );
        CREATE TABLE dataset_versions (
            uuid TEXT PRIMARY KEY,
            dataset_uuid TEXT NOT NULL REFERENCES datasets (uuid),
            version INTEGER NOT NULL CHECK (version >= 1),
            parent_uuid TEXT REFERENCES dataset_versions (uuid),
            recipe TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(recipe)),
            source TEXT CHECK (source IS NULL OR json_valid(source)),
            rows INTEGER NOT NULL,
            columns INTEGER NOT NULL,
            schema TEXT NOT NULL CHECK (json_valid(schema)),
            profile_sha256 TEXT REFERENCES blobs (sha256),
            notes TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(notes)),
            created_at TEXT NOT NULL,
            created_by TEXT NOT NULL,
            UNIQUE (dataset_uuid, version)
        );
        CREATE INDEX dataset_versions_parent ON dataset_versions (parent_uuid);
        CREATE TABLE dataset_version_parts (
            version_uuid TEXT NOT NULL REFERENCES dataset_versions (uuid) ON DELETE CASCADE,
            seq INTEGER NOT NULL,
            rows INTEGER NOT NULL,
            blob_sha256 TEXT NOT NULL REFERENCES blobs (sha256),
            PRIMARY KEY (version_uuid, seq)
        );
        CREATE INDEX dataset_version_parts_blob ON dataset_version_parts (blob_sha256);
        -- A version is a fact about the past: lineage and reproducibility depend on it.
        CREATE TRIGGER dataset_versions_are_immutable BEFORE UPDATE ON dataset_versions
        BEGIN
            SELECT RAISE(ABORT, 'dataset versions are immutable');
        END;
        """,
    ),
    Migration(
        3,
        "experiments: named, editable specs",
        """
        CREATE TABLE experiments (
            uuid TEXT PRIMARY KEY,
            name TEXT NOT NULL UNIQUE COLLATE NOCASE,
            spec TEXT NOT NULL CHECK (json_valid(spec)),
            created_at TEXT NOT NULL,
            created_by TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            updated_by TEXT NOT NULL
        );
        """,
    ),
    Migration(
        4,
        "the training queue, models and their versions",
        """
        CREATE TABLE jobs (
            uuid TEXT PRIMARY KEY,
            number INTEGER NOT NULL UNIQUE,
            experiment_uuid TEXT REFERENCES experiments (uuid) ON DELETE SET NULL,
            experiment_name TEXT NOT NULL,
            spec TEXT NOT NULL CHECK (json_valid(spec)),
            status TEXT NOT NULL
                CHECK (status IN ('queued', 'running', 'done', 'failed', 'cancelled')),
            priority INTEGER NOT NULL DEFAULT 0,
            position REAL NOT NULL,
            retries_left INTEGER NOT NULL DEFAULT 0,
            cancel_requested INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            created_by TEXT NOT NULL,
            started_at TEXT,
            finished_at TEXT,
            worker_id TEXT,
            heartbeat_at TEXT,
            progress REAL,
            progress_message TEXT NOT NULL DEFAULT '',
            log TEXT NOT NULL DEFAULT '',
            error TEXT,
            model_version_uuid TEXT
        );
        CREATE INDEX jobs_queue ON jobs (status, priority DESC, position);
        CREATE TABLE models (
            uuid TEXT PRIMARY KEY,
            name TEXT NOT NULL UNIQUE COLLATE NOCASE,
            created_at TEXT NOT NULL,
            created_by TEXT NOT NULL
        );
        CREATE TABLE model_versions (
            uuid TEXT PRIMARY KEY,
            model_uuid TEXT NOT NULL REFERENCES models (uuid),
            version INTEGER NOT NULL CHECK (version >= 1),
            job_uuid TEXT REFERENCES jobs (uuid) ON DELETE SET NULL,
            experiment_name TEXT NOT NULL,
            spec TEXT NOT NULL CHECK (json_valid(spec)),
            dataset_version_uuid TEXT REFERENCES dataset_versions (uuid),
            task TEXT NOT NULL,
            estimator TEXT NOT NULL,
            params TEXT NOT NULL CHECK (json_valid(params)),
            metrics TEXT NOT NULL CHECK (json_valid(metrics)),
            signature TEXT NOT NULL CHECK (json_valid(signature)),
            environment TEXT NOT NULL CHECK (json_valid(environment)),
            seed INTEGER NOT NULL,
            fit_seconds REAL NOT NULL,
            predict_seconds REAL NOT NULL,
            model_sha256 TEXT NOT NULL REFERENCES blobs (sha256),
            plots_sha256 TEXT REFERENCES blobs (sha256),
            search_sha256 TEXT REFERENCES blobs (sha256),
            notes TEXT NOT NULL DEFAULT '',
            tags TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(tags)),
            created_at TEXT NOT NULL,
            created_by TEXT NOT NULL,
            UNIQUE (model_uuid, version)
        );
        CREATE INDEX model_versions_dataset ON model_versions (dataset_version_uuid);
        -- What a version learned and how it scored is history; only notes and tags are edits.
        CREATE TRIGGER model_versions_are_immutable BEFORE UPDATE ON model_versions
        WHEN NEW.notes IS OLD.notes AND NEW.tags IS OLD.tags
            OR NEW.uuid IS NOT OLD.uuid OR NEW.metrics IS NOT OLD.metrics
            OR NEW.model_sha256 IS NOT OLD.model_sha256 OR NEW.spec IS NOT OLD.spec
            OR NEW.params IS NOT OLD.params OR NEW.version IS NOT OLD.version
        BEGIN
            SELECT RAISE(ABORT, 'model versions are immutable but for notes and tags');
        END;
        """,
    ),
    Migration(
        5,
        "aliases with gates, promotions and evaluations",
        """
        -- Version numbers are never reused, even after the latest version is deleted: the
        -- history and other people's notes name versions by number.
        ALTER TABLE models ADD COLUMN last_version INTEGER NOT NULL DEFAULT 0;
        UPDATE models SET last_version = (
            SELECT coalesce(max(version), 0) FROM model_versions WHERE model_uuid = models.uuid
        );
        -- A named pointer at one version of a model: churn@production.
        CREATE TABLE aliases (
            model_uuid TEXT NOT NULL REFERENCES models (uuid),
            name TEXT NOT NULL,
            version_uuid TEXT NOT NULL REFERENCES model_versions (uuid),
            set_at TEXT NOT NULL,
            set_by TEXT NOT NULL,
            PRIMARY KEY (model_uuid, name)
        );
        CREATE INDEX aliases_version ON aliases (version_uuid);
        -- What a version must pass before an alias may point at it.
        CREATE TABLE alias_gates (
            model_uuid TEXT NOT NULL REFERENCES models (uuid),
            alias TEXT NOT NULL,
            gates TEXT NOT NULL CHECK (json_valid(gates)),
            updated_at TEXT NOT NULL,
            updated_by TEXT NOT NULL,
            PRIMARY KEY (model_uuid, alias)
        );
        -- Every attempt to move an alias, with each gate's result; history, never edited.
        -- Labels are kept as text so the record outlives a deleted version.
        CREATE TABLE promotions (
            uuid TEXT PRIMARY KEY,
            model_uuid TEXT NOT NULL REFERENCES models (uuid),
            alias TEXT NOT NULL,
            version_uuid TEXT REFERENCES model_versions (uuid) ON DELETE SET NULL,
            version_label TEXT NOT NULL,
            previous_label TEXT,
            outcome TEXT NOT NULL CHECK (outcome IN ('promoted', 'blocked', 'overridden')),
            gates TEXT NOT NULL CHECK (json_valid(gates)),
            reason TEXT,
            created_at TEXT NOT NULL,
            created_by TEXT NOT NULL
        );
        CREATE INDEX promotions_model ON promotions (model_uuid, alias, created_at);
        -- A version measured on another dataset version, through its own recipe and pipeline.
        CREATE TABLE evaluations (
            uuid TEXT PRIMARY KEY,
            version_uuid TEXT NOT NULL REFERENCES model_versions (uuid) ON DELETE CASCADE,
            dataset_version_uuid TEXT REFERENCES dataset_versions (uuid),
            dataset_label TEXT NOT NULL,
            recipe TEXT NOT NULL CHECK (json_valid(recipe)),
            rows INTEGER NOT NULL,
            metrics TEXT NOT NULL CHECK (json_valid(metrics)),
            plots_sha256 TEXT REFERENCES blobs (sha256),
            seconds REAL NOT NULL,
            created_at TEXT NOT NULL,
            created_by TEXT NOT NULL
        );
        CREATE INDEX evaluations_version ON evaluations (version_uuid, created_at);
        """,
    ),
    Migration(
        6,
        "serving sessions and the prediction log",
        """
        -- One run of the model server. The version goes (SET NULL) if it is deleted; the
        -- labels stay, so the history still says what was served.
        CREATE TABLE serving_sessions (
            uuid TEXT PRIMARY KEY,
            model_version_uuid TEXT REFERENCES model_versions (uuid) ON DELETE SET NULL,
            version_label TEXT NOT NULL,
            served_as TEXT NOT NULL,
            host TEXT NOT NULL,
            port INTEGER NOT NULL,
            engine TEXT NOT NULL,
            engine_reason TEXT NOT NULL DEFAULT '',
            log_predictions INTEGER NOT NULL CHECK (log_predictions IN (0, 1)),
            started_at TEXT NOT NULL,
            started_by TEXT NOT NULL,
            stopped_at TEXT,
            last_seen_at TEXT,
            requests INTEGER NOT NULL DEFAULT 0,
            errors INTEGER NOT NULL DEFAULT 0,
            dropped INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX serving_sessions_version ON serving_sessions (model_version_uuid, started_at);
        -- Every version a session answered with: one, or more when it follows an alias that
        -- moved while it ran.
        CREATE TABLE serving_versions (
            session_uuid TEXT NOT NULL REFERENCES serving_sessions (uuid) ON DELETE CASCADE,
            version_uuid TEXT NOT NULL REFERENCES model_versions (uuid) ON DELETE CASCADE,
            first_at TEXT NOT NULL,
            last_at TEXT NOT NULL,
            requests INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (session_uuid, version_uuid)
        ) WITHOUT ROWID;
        CREATE INDEX serving_versions_version ON serving_versions (version_uuid);
        -- The prediction log, columnar: each row holds many logged predictions of one session
        -- and version, as Arrow IPC (level 0: one flush) or Parquet (level 1 and up: merged);
        -- see store/serving.py. Bounds are ISO 8601 UTC to the microsecond, so that text
        -- order is time order.
        CREATE TABLE prediction_batches (
            id INTEGER PRIMARY KEY,
            session_uuid TEXT NOT NULL REFERENCES serving_sessions (uuid) ON DELETE CASCADE,
            model_version_uuid TEXT NOT NULL REFERENCES model_versions (uuid) ON DELETE CASCADE,
            format TEXT NOT NULL CHECK (format IN ('arrow', 'parquet')),
            level INTEGER NOT NULL CHECK (level >= 0),
            first_at TEXT NOT NULL,
            last_at TEXT NOT NULL,
            requests INTEGER NOT NULL,
            rows INTEGER NOT NULL,
            crc32 INTEGER NOT NULL,
            data BLOB NOT NULL,
            created_at TEXT NOT NULL
        );
        CREATE INDEX prediction_batches_version ON prediction_batches (model_version_uuid, last_at);
        CREATE INDEX prediction_batches_session
            ON prediction_batches (session_uuid, model_version_uuid, level);
        -- Requests refused (bad input) or failed: no prediction, so not in the batches.
        CREATE TABLE serving_errors (
            id INTEGER PRIMARY KEY,
            session_uuid TEXT NOT NULL REFERENCES serving_sessions (uuid) ON DELETE CASCADE,
            request_id TEXT NOT NULL,
            at TEXT NOT NULL,
            latency_ms REAL NOT NULL,
            status INTEGER NOT NULL,
            message TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX serving_errors_session ON serving_errors (session_uuid, at);
        """,
    ),
    Migration(
        7,
        "model references and monitoring alerts",
        """
        -- What a version's training data and predictions looked like (JSON in a blob; see
        -- domain/drift.py): made when it is trained, or on demand for older versions.
        CREATE TABLE model_references (
            version_uuid TEXT PRIMARY KEY REFERENCES model_versions (uuid) ON DELETE CASCADE,
            sha256 TEXT NOT NULL REFERENCES blobs (sha256),
            source TEXT NOT NULL,
            rows INTEGER NOT NULL,
            created_at TEXT NOT NULL
        ) WITHOUT ROWID;
        -- Thresholds crossed and not yet back under, so that an alert is recorded once per
        -- crossing and not on every look. scope: 'served', or 'dataset' with its version.
        CREATE TABLE monitoring_alerts (
            version_uuid TEXT NOT NULL REFERENCES model_versions (uuid) ON DELETE CASCADE,
            scope TEXT NOT NULL,
            subject TEXT NOT NULL,
            measure TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('amber', 'red')),
            since TEXT NOT NULL,
            PRIMARY KEY (version_uuid, scope, subject, measure)
        ) WITHOUT ROWID;
        """,
    ),
    Migration(
        8,
        "retrains",
        """
        -- A version retrained on new data: what was given, what its recipe made of it, the job
        -- that trains it, the alias proposed, and (once judged) the review as JSON. The new
        -- version is the job's model_version_uuid.
        CREATE TABLE retrains (
            uuid TEXT PRIMARY KEY,
            number INTEGER NOT NULL UNIQUE,
            source_uuid TEXT NOT NULL REFERENCES model_versions (uuid) ON DELETE CASCADE,
            data_uuid TEXT NOT NULL,
            data_label TEXT NOT NULL,
            trained_on_uuid TEXT NOT NULL,
            trained_on_label TEXT NOT NULL,
            job_uuid TEXT NOT NULL REFERENCES jobs (uuid) ON DELETE CASCADE,
            alias TEXT NOT NULL,
            reason TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL,
            created_by TEXT NOT NULL,
            review TEXT CHECK (review IS NULL OR json_valid(review))
        );
        CREATE INDEX retrains_source ON retrains (source_uuid);
        CREATE INDEX retrains_job ON retrains (job_uuid);
        """,
    ),
    Migration(
        9,
        "openers",
        """
        -- Who has the project open in a window, so a second opener is told: one row per
        -- window, refreshed while it is open, removed when it closes (or found stale).
        CREATE TABLE openers (
            uuid TEXT PRIMARY KEY,
            user TEXT NOT NULL,
            host TEXT NOT NULL,
            pid INTEGER NOT NULL,
            since TEXT NOT NULL,
            seen_at TEXT NOT NULL
        );
        """,
    ),
    Migration(
        10,
        "schema readable with trusted_schema off",
        "",
        _drop_json_checks,
    ),
)

LATEST_VERSION = MIGRATIONS[-1].version
#: The first schema SQLite reads with ``trusted_schema = OFF``.
TRUSTED_SCHEMA_OFF_SINCE = 10


def pending(current_version: int) -> list[Migration]:
    return [m for m in MIGRATIONS if m.version > current_version]


def apply(conn: sqlite3.Connection, migration: Migration, applied_at: str, app_version: str):
    """Run one migration inside the open transaction and record it."""
    # executescript() would COMMIT first; run statement by statement to stay in the transaction.
    for statement in _statements(migration.sql):
        conn.execute(statement)
    if migration.step is not None:
        migration.step(conn)
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
