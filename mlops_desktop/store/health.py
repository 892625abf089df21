"""Checking a project file: SQLite's integrity and foreign-key checks and every blob's hash."""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from typing import TYPE_CHECKING

from mlops_desktop.domain.errors import Cancelled
from mlops_desktop.domain.project import CheckReport
from mlops_desktop.domain.tasks import SubTask, TaskState

if TYPE_CHECKING:
    from mlops_desktop.store.project_file import ProjectFile


@contextmanager
def interruptible(conn: sqlite3.Connection, state: TaskState | None):
    """Let a cancel request stop a long single SQL statement (it then raises ``Cancelled``)."""
    if state is None:
        yield
        return
    conn.set_progress_handler(lambda: int(state.is_cancelled()), 10_000)
    try:
        yield
    except sqlite3.OperationalError as exc:
        if "interrupted" in str(exc) and state.is_cancelled():
            raise Cancelled() from None
        raise
    finally:
        conn.set_progress_handler(None, 0)


def check(project: ProjectFile, state: TaskState | None = None) -> CheckReport:
    conn = project.conn
    if state is not None:
        state.check_cancelled()
        state.set_progress(None, "Checking the database structure")
    with interruptible(conn, state):
        integrity = [r[0] for r in conn.execute("PRAGMA integrity_check")]
        foreign = [
            f"{table} row {rowid} points at a missing {parent}"
            for table, rowid, parent, _ in conn.execute("PRAGMA foreign_key_check")
        ]
    blob_state = SubTask(state, 0.0, 1.0) if state is not None else None
    checked, problems = project.blobs.verify_all(blob_state)
    if state is not None:
        state.set_progress(1.0, "Checked")
    return CheckReport(
        integrity=integrity,
        foreign_key_problems=foreign,
        blobs_checked=checked,
        blob_problems=problems,
    )
