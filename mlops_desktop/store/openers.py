"""Who has a project open in a window: rows in, ``Opener`` values out."""

from __future__ import annotations

import os
import socket
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from mlops_desktop.domain.project import Opener
from mlops_desktop.store.clock import utc_now
from mlops_desktop.store.identity import current_actor

if TYPE_CHECKING:
    from mlops_desktop.store.project_file import ProjectFile

#: A window refreshes its row this often; one not seen for STALE_SECONDS is gone (its app
#: was killed, or its computer lost power).
REFRESH_SECONDS = 30
STALE_SECONDS = 120


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # it exists, and belongs to someone else
        return True
    return True


class OpenerRegistry:
    def __init__(self, project: ProjectFile):
        self._project = project

    def join(self) -> str:
        """Record this window as an opener; returns its key for ``refresh`` and ``leave``."""
        key, now = str(uuid.uuid4()), utc_now()
        with self._project.transaction() as conn:
            conn.execute(
                "INSERT INTO openers (uuid, user, host, pid, since, seen_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (key, current_actor(), socket.gethostname(), os.getpid(), now, now),
            )
        return key

    def refresh(self, key: str) -> None:
        with self._project.transaction() as conn:
            conn.execute("UPDATE openers SET seen_at = ? WHERE uuid = ?", (utc_now(), key))

    def leave(self, key: str) -> None:
        with self._project.transaction() as conn:
            conn.execute("DELETE FROM openers WHERE uuid = ?", (key,))

    def others(self, key: str | None) -> list[Opener]:
        """Everyone else with the project open now, oldest first; stale rows are left out
        (and removed, when this connection may write)."""
        stale_before = (datetime.now(UTC) - timedelta(seconds=STALE_SECONDS)).isoformat(
            timespec="milliseconds"
        )
        here = socket.gethostname()
        rows = self._project.conn.execute(
            "SELECT uuid, user, host, pid, since, seen_at FROM openers ORDER BY since"
        ).fetchall()
        gone = [r[0] for r in rows if r[5] < stale_before or (r[2] == here and not _alive(r[3]))]
        if gone and not self._project.read_only:
            with self._project.transaction() as conn:
                conn.executemany("DELETE FROM openers WHERE uuid = ?", [(g,) for g in gone])
        return [
            Opener(user, host, since)
            for uuid_, user, host, _pid, since, _seen in rows
            if uuid_ != key and uuid_ not in gone
        ]
