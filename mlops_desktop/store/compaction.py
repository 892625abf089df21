"""Compacting a project file: drop the blobs nothing refers to any more, then VACUUM."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mlops_desktop.domain.tasks import TaskState

if TYPE_CHECKING:
    from mlops_desktop.store.project_file import ProjectFile


@dataclass(frozen=True)
class CompactReport:
    blobs_removed: int
    bytes_before: int
    bytes_after: int

    @property
    def bytes_won(self) -> int:
        return max(self.bytes_before - self.bytes_after, 0)

    def to_json(self) -> dict:
        return {
            "blobs_removed": self.blobs_removed,
            "bytes_before": self.bytes_before,
            "bytes_after": self.bytes_after,
            "bytes_won": self.bytes_won,
        }


def blob_references(conn) -> list[tuple[str, str]]:
    """Every (table, column) with a foreign key to a blob: found from the schema itself, so a
    table added by a later migration is never forgotten (and its blobs never deleted)."""
    tables = [
        r[0]
        for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    ]
    found = []
    for table in tables:
        for key in conn.execute(f"PRAGMA foreign_key_list('{table}')"):
            # (id, seq, table, from, to, on_update, on_delete, match)
            if key[2] == "blobs" and key[4] == "sha256":
                found.append((table, key[3]))
    return found


def compact(project: ProjectFile, state: TaskState | None = None) -> CompactReport:
    conn = project.conn
    before = project.size_bytes()
    if state is not None:
        state.set_progress(None, "Finding data nothing refers to")
    used = " UNION ".join(
        f'SELECT "{column}" FROM "{table}" WHERE "{column}" IS NOT NULL'
        for table, column in blob_references(conn)
    )
    with project.transaction():
        # A NULL sha256 is a blob another connection is still writing: not ours to touch.
        removed = conn.execute(
            f"DELETE FROM blobs WHERE sha256 IS NOT NULL AND sha256 NOT IN ({used})"
        ).rowcount
        if removed:
            project.events.record(
                "project.compacted", f"Compacted the project: removed {removed} unused blobs"
            )
    if state is not None:
        state.check_cancelled()
        state.set_progress(None, "Rewriting the file without the free space (VACUUM)")
    try:
        # VACUUM rewrites the whole file (it needs that much free disk) and waits for readers.
        conn.execute("VACUUM")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    except sqlite3.OperationalError as exc:
        raise project.explain_write_error(exc) from None
    return CompactReport(removed, before, project.size_bytes())
