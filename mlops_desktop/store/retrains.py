"""Retrains: which version was retrained on what, by which job, and how the result was judged."""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING

from mlops_desktop.domain.errors import UserError
from mlops_desktop.domain.retraining import Retrain, Review
from mlops_desktop.store.clock import utc_now
from mlops_desktop.store.counters import next_number
from mlops_desktop.store.damage import decodes
from mlops_desktop.store.identity import current_actor

if TYPE_CHECKING:
    from mlops_desktop.store.project_file import ProjectFile

# The labels of the source and the new version are read live: a version's label never
# changes, but the new one exists only once the job is done.
_SELECT = """
    SELECT r.uuid, r.number, r.source_uuid, sm.name || ':' || sv.version, r.data_uuid,
           r.data_label, r.trained_on_uuid, r.trained_on_label, r.job_uuid, j.number, r.alias,
           r.reason, r.created_at, r.created_by, nv.uuid, nm.name || ':' || nv.version, r.review
    FROM retrains r
    JOIN model_versions sv ON sv.uuid = r.source_uuid
    JOIN models sm ON sm.uuid = sv.model_uuid
    JOIN jobs j ON j.uuid = r.job_uuid
    LEFT JOIN model_versions nv ON nv.uuid = j.model_version_uuid
    LEFT JOIN models nm ON nm.uuid = nv.model_uuid
"""


@decodes("retraining")
def _retrain(row) -> Retrain:
    values = list(row)
    values[-1] = None if values[-1] is None else Review.from_json(json.loads(values[-1]))
    return Retrain(*values)


class RetrainRepository:
    def __init__(self, project: ProjectFile):
        self._project = project

    @property
    def _conn(self):
        return self._project.conn

    def add(
        self,
        source_uuid: str,
        data: tuple[str, str],
        trained_on: tuple[str, str],
        job_uuid: str,
        alias: str,
        reason: str,
    ) -> Retrain:
        """Record a retrain (``data`` and ``trained_on`` as (uuid, label)); call in the
        transaction that queues its job."""
        retrain_uuid = str(uuid.uuid4())
        (last,) = self._conn.execute("SELECT coalesce(max(number), 0) FROM retrains").fetchone()
        number = next_number(last, "retrain number")
        self._conn.execute(
            "INSERT INTO retrains (uuid, number, source_uuid, data_uuid, data_label, "
            "trained_on_uuid, trained_on_label, job_uuid, alias, reason, created_at, created_by) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                retrain_uuid,
                number,
                source_uuid,
                *data,
                *trained_on,
                job_uuid,
                alias,
                reason,
                utc_now(),
                current_actor(),
            ),
        )
        return self.by_uuid(retrain_uuid)

    def all(self) -> list[Retrain]:
        """Newest first."""
        return [_retrain(r) for r in self._conn.execute(_SELECT + " ORDER BY r.number DESC")]

    def by_uuid(self, retrain_uuid: str) -> Retrain:
        row = self._conn.execute(_SELECT + " WHERE r.uuid = ?", (retrain_uuid,)).fetchone()
        if row is None:
            raise UserError("That retraining no longer exists (its version was deleted).")
        return _retrain(row)

    def by_number(self, number: int) -> Retrain:
        row = self._conn.execute(_SELECT + " WHERE r.number = ?", (number,)).fetchone()
        if row is None:
            raise UserError(f"There is no retraining #{number}: `retrain list` shows them.")
        return _retrain(row)

    def of_job(self, job_uuid: str) -> Retrain | None:
        row = self._conn.execute(_SELECT + " WHERE r.job_uuid = ?", (job_uuid,)).fetchone()
        return None if row is None else _retrain(row)

    def of_source(self, source_uuid: str) -> list[Retrain]:
        rows = self._conn.execute(
            _SELECT + " WHERE r.source_uuid = ? ORDER BY r.number", (source_uuid,)
        )
        return [_retrain(r) for r in rows]

    def set_review(self, retrain_uuid: str, review: Review) -> None:
        """Store the judgement; call in the transaction that records it as an event."""
        self._conn.execute(
            "UPDATE retrains SET review = ? WHERE uuid = ?",
            (json.dumps(review.to_json()), retrain_uuid),
        )
