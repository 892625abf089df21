"""Experiments: named specs stored as JSON, rows in and ``Experiment`` values out."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mlops_desktop.domain.errors import UserError
from mlops_desktop.store.clock import utc_now
from mlops_desktop.store.damage import decodes
from mlops_desktop.store.identity import current_actor

if TYPE_CHECKING:
    from mlops_desktop.store.project_file import ProjectFile


@dataclass(frozen=True)
class ExperimentRow:
    uuid: str
    name: str
    spec: dict
    created_at: str
    created_by: str
    updated_at: str
    updated_by: str


_COLUMNS = "uuid, name, spec, created_at, created_by, updated_at, updated_by"


class ExperimentRepository:
    def __init__(self, project: ProjectFile):
        self._project = project

    @staticmethod
    @decodes("experiment")
    def _row(row) -> ExperimentRow:
        return ExperimentRow(row[0], row[1], json.loads(row[2]), *row[3:])

    def all(self) -> list[ExperimentRow]:
        rows = self._project.conn.execute(
            f"SELECT {_COLUMNS} FROM experiments ORDER BY name COLLATE NOCASE"
        )
        return [self._row(r) for r in rows]

    def find(self, name: str) -> ExperimentRow | None:
        row = self._project.conn.execute(
            f"SELECT {_COLUMNS} FROM experiments WHERE name = ?", (name,)
        ).fetchone()
        return self._row(row) if row else None

    def get(self, name: str) -> ExperimentRow:
        found = self.find(name)
        if found is None:
            known = [e.name for e in self.all()]
            hint = f" The experiments are: {', '.join(known)}." if known else ""
            raise UserError(f"The project has no experiment {name!r}.{hint}")
        return found

    def add(self, name: str, spec: dict) -> ExperimentRow:
        """Insert a new experiment; call inside a transaction."""
        if self.find(name) is not None:
            raise UserError(
                f"An experiment called {name!r} exists already: choose another name, or edit it."
            )
        now, actor = utc_now(), current_actor()
        experiment_uuid = str(uuid.uuid4())
        self._project.conn.execute(
            f"INSERT INTO experiments ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (experiment_uuid, name, json.dumps(spec), now, actor, now, actor),
        )
        return self.get(name)

    def replace(self, old_name: str, name: str, spec: dict) -> ExperimentRow:
        """Store a new spec (and maybe a new name) for an experiment; call in a transaction."""
        existing = self.get(old_name)
        clash = self.find(name)
        if clash is not None and clash.uuid != existing.uuid:
            raise UserError(f"An experiment called {name!r} exists already: choose another name.")
        self._project.conn.execute(
            "UPDATE experiments SET name = ?, spec = ?, updated_at = ?, updated_by = ? "
            "WHERE uuid = ?",
            (name, json.dumps(spec), utc_now(), current_actor(), existing.uuid),
        )
        return self.get(name)

    def delete(self, name: str) -> ExperimentRow:
        existing = self.get(name)
        self._project.conn.execute("DELETE FROM experiments WHERE uuid = ?", (existing.uuid,))
        return existing
