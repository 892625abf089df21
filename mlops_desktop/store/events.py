"""The events table: the team's history of who did what, when."""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING

from mlops_desktop.domain.project import Event
from mlops_desktop.store.clock import utc_now
from mlops_desktop.store.damage import decodes, reads
from mlops_desktop.store.identity import current_actor

if TYPE_CHECKING:
    from mlops_desktop.store.project_file import ProjectFile

_COLUMNS = "uuid, at, actor, action, summary, subject_kind, subject_uuid, details"


class EventLog:
    def __init__(self, project: ProjectFile):
        self._project = project

    def record(
        self,
        action: str,
        summary: str,
        subject_kind: str | None = None,
        subject_uuid: str | None = None,
        details: dict | None = None,
    ) -> Event:
        """Append one event; call inside the transaction of the change it describes."""
        event = Event(
            uuid=str(uuid.uuid4()),
            at=utc_now(),
            actor=current_actor(),
            action=action,
            summary=summary,
            subject_kind=subject_kind,
            subject_uuid=subject_uuid,
            details=details or {},
        )
        self._project.conn.execute(
            f"INSERT INTO events ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                event.uuid,
                event.at,
                event.actor,
                event.action,
                event.summary,
                event.subject_kind,
                event.subject_uuid,
                json.dumps(event.details),
            ),
        )
        return event

    @reads("history")
    def recent(self, limit: int = 200) -> list[Event]:
        rows = self._project.conn.execute(
            f"SELECT {_COLUMNS} FROM events ORDER BY at DESC, id DESC LIMIT ?", (limit,)
        )
        return [_event(r) for r in rows]


@decodes("history event")
def _event(r) -> Event:
    return Event(
        uuid=r[0],
        at=r[1],
        actor=r[2],
        action=r[3],
        summary=r[4],
        subject_kind=r[5],
        subject_uuid=r[6],
        details=json.loads(r[7]),
    )
