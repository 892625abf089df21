"""Model references and the monitoring thresholds each version has crossed: rows in, values out."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mlops_desktop.store.clock import utc_now
from mlops_desktop.store.damage import reads

if TYPE_CHECKING:
    from mlops_desktop.store.project_file import ProjectFile

#: Project settings of the monitoring thresholds: ``monitoring.psi_red`` and so on.
SETTING_PREFIX = "monitoring."


@dataclass(frozen=True)
class StoredReference:
    version_uuid: str
    sha256: str
    source: str  # "training", or "on demand" for a version trained before references
    rows: int
    created_at: str


class MonitoringRepository:
    def __init__(self, project: ProjectFile):
        self._project = project

    @property
    def _conn(self):
        return self._project.conn

    def reference(self, version_uuid: str) -> StoredReference | None:
        row = self._conn.execute(
            "SELECT version_uuid, sha256, source, rows, created_at FROM model_references "
            "WHERE version_uuid = ?",
            (version_uuid,),
        ).fetchone()
        return None if row is None else StoredReference(*row)

    def set_reference(self, version_uuid: str, sha256: str, source: str, rows: int) -> None:
        """Record a version's reference; call in a transaction after its blob is stored."""
        self._conn.execute(
            "INSERT INTO model_references (version_uuid, sha256, source, rows, created_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (version_uuid) DO UPDATE SET "
            "sha256 = excluded.sha256, source = excluded.source, rows = excluded.rows, "
            "created_at = excluded.created_at",
            (version_uuid, sha256, source, rows, utc_now()),
        )

    @reads("drift thresholds")
    def thresholds(self) -> dict:
        """The thresholds set in the project (name -> value); the rest keep their defaults."""
        rows = self._conn.execute(
            "SELECT substr(key, ?), value FROM settings WHERE key LIKE ?",
            (len(SETTING_PREFIX) + 1, SETTING_PREFIX + "%"),
        )
        return {name: json.loads(value) for name, value in rows}

    def set_threshold(self, name: str, value: float | None) -> None:
        """Set a threshold (None: back to its default); call in the transaction that records
        the change as an event."""
        if value is None:
            self._conn.execute("DELETE FROM settings WHERE key = ?", (SETTING_PREFIX + name,))
        else:
            self._project.settings.set(SETTING_PREFIX + name, value)

    def alerts(self, version_uuid: str, scope: str) -> dict[tuple[str, str], str]:
        """The thresholds the version is over in ``scope``: (subject, measure) -> status."""
        rows = self._conn.execute(
            "SELECT subject, measure, status FROM monitoring_alerts "
            "WHERE version_uuid = ? AND scope = ?",
            (version_uuid, scope),
        )
        return {(subject, measure): status for subject, measure, status in rows}

    def set_alerts(self, version_uuid: str, scope: str, current: dict[tuple[str, str], str]):
        """Make the stored crossings of ``scope`` exactly ``current`` (one still crossed at
        the same level keeps the time it was first crossed); call in a transaction."""
        previous = self.alerts(version_uuid, scope)
        self._conn.executemany(
            "DELETE FROM monitoring_alerts "
            "WHERE version_uuid = ? AND scope = ? AND subject = ? AND measure = ?",
            [(version_uuid, scope, s, m) for s, m in previous.keys() - current.keys()],
        )
        now = utc_now()
        self._conn.executemany(
            "INSERT INTO monitoring_alerts (version_uuid, scope, subject, measure, status, since) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (version_uuid, scope, subject, measure) "
            "DO UPDATE SET status = excluded.status, since = excluded.since",
            [
                (version_uuid, scope, s, m, status, now)
                for (s, m), status in current.items()
                if previous.get((s, m)) != status
            ],
        )
