"""Project settings: JSON values by dotted key, stored in the project file itself."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from mlops_desktop.store.damage import reads

if TYPE_CHECKING:
    from mlops_desktop.store.project_file import ProjectFile


class Settings:
    def __init__(self, project: ProjectFile):
        self._project = project

    @reads("settings")
    def get(self, key: str, default: Any = None) -> Any:
        row = self._project.conn.execute(
            "SELECT value FROM settings WHERE key = ?", (key,)
        ).fetchone()
        return default if row is None else json.loads(row[0])

    def set(self, key: str, value: Any) -> None:
        """Store ``value``; call inside the transaction that records the change as an event."""
        self._project.conn.execute(
            "INSERT INTO settings (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, json.dumps(value)),
        )

    @reads("settings")
    def all(self) -> dict[str, Any]:
        rows = self._project.conn.execute("SELECT key, value FROM settings ORDER BY key")
        return {k: json.loads(v) for k, v in rows}
