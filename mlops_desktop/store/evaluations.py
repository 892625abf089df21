"""Evaluations: a model version measured on another dataset version."""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING

from mlops_desktop.domain.errors import UserError
from mlops_desktop.domain.model import Evaluation
from mlops_desktop.store.clock import utc_now
from mlops_desktop.store.damage import decodes
from mlops_desktop.store.identity import current_actor

if TYPE_CHECKING:
    from mlops_desktop.store.project_file import ProjectFile

_COLUMNS = (
    "uuid, version_uuid, dataset_version_uuid, dataset_label, recipe, rows, metrics, "
    "plots_sha256, seconds, created_at, created_by"
)
_SELECT = f"SELECT {_COLUMNS} FROM evaluations"


@decodes("evaluation")
def _evaluation(row) -> Evaluation:
    values = list(row)
    values[4], values[6] = json.loads(values[4]), json.loads(values[6])
    return Evaluation(*values)


class EvaluationRepository:
    def __init__(self, project: ProjectFile):
        self._project = project

    @property
    def _conn(self):
        return self._project.conn

    def add(
        self,
        version_uuid: str,
        dataset_version_uuid: str,
        dataset_label: str,
        recipe: list,
        rows: int,
        metrics: dict,
        plots_sha256: str | None,
        seconds: float,
    ) -> Evaluation:
        """Record an evaluation; call in a transaction after its plot blob is stored."""
        evaluation_uuid = str(uuid.uuid4())
        self._conn.execute(
            f"INSERT INTO evaluations ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                evaluation_uuid,
                version_uuid,
                dataset_version_uuid,
                dataset_label,
                json.dumps(recipe),
                rows,
                json.dumps(metrics),
                plots_sha256,
                seconds,
                utc_now(),
                current_actor(),
            ),
        )
        return self.get(evaluation_uuid)

    def get(self, evaluation_uuid: str) -> Evaluation:
        row = self._conn.execute(f"{_SELECT} WHERE uuid = ?", (evaluation_uuid,)).fetchone()
        if row is None:
            raise UserError(f"There is no evaluation {evaluation_uuid}.")
        return _evaluation(row)

    def of_version(self, version_uuid: str) -> list[Evaluation]:
        rows = self._conn.execute(
            f"{_SELECT} WHERE version_uuid = ? ORDER BY created_at DESC", (version_uuid,)
        )
        return [_evaluation(r) for r in rows]
