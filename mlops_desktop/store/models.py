"""Models and their versions: rows in, ``ModelVersion`` values out."""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING

from mlops_desktop.domain.dataset import VersionRef
from mlops_desktop.domain.errors import UserError
from mlops_desktop.domain.model import ModelVersion
from mlops_desktop.store.clock import utc_now
from mlops_desktop.store.identity import current_actor

if TYPE_CHECKING:
    from mlops_desktop.store.project_file import ProjectFile

_SELECT = """
    SELECT v.uuid, v.model_uuid, m.name, v.version, v.experiment_name, v.spec,
           v.dataset_version_uuid, dn.name || ':' || dv.version, v.task, v.estimator, v.params,
           v.metrics, v.signature, v.environment, v.seed, v.fit_seconds, v.predict_seconds,
           v.model_sha256, v.plots_sha256, v.search_sha256, v.created_at, v.created_by,
           v.job_uuid, v.notes, v.tags
    FROM model_versions v
    JOIN models m ON m.uuid = v.model_uuid
    LEFT JOIN dataset_versions dv ON dv.uuid = v.dataset_version_uuid
    LEFT JOIN datasets dn ON dn.uuid = dv.dataset_uuid
"""
_JSON = {5, 10, 11, 12, 13}


def _version(row) -> ModelVersion:
    values = [json.loads(v) if i in _JSON else v for i, v in enumerate(row)]
    return ModelVersion(
        uuid=values[0],
        model_uuid=values[1],
        name=values[2],
        version=values[3],
        experiment_name=values[4],
        spec=values[5],
        dataset_version_uuid=values[6],
        dataset_label=values[7],
        task=values[8],
        estimator=values[9],
        params=values[10],
        metrics=values[11],
        signature=values[12],
        environment=values[13],
        seed=values[14],
        fit_seconds=values[15],
        predict_seconds=values[16],
        model_sha256=values[17],
        plots_sha256=values[18],
        search_sha256=values[19],
        created_at=values[20],
        created_by=values[21],
        job_uuid=values[22],
        notes=values[23],
        tags=json.loads(values[24]),
    )


class ModelRepository:
    def __init__(self, project: ProjectFile):
        self._project = project

    @property
    def _conn(self):
        return self._project.conn

    def all(self) -> list[ModelVersion]:
        rows = self._conn.execute(f"{_SELECT} ORDER BY m.name COLLATE NOCASE, v.version")
        return [_version(r) for r in rows]

    def by_uuid(self, version_uuid: str) -> ModelVersion:
        row = self._conn.execute(f"{_SELECT} WHERE v.uuid = ?", (version_uuid,)).fetchone()
        if row is None:
            raise UserError(f"There is no model version {version_uuid}.")
        return _version(row)

    def get(self, ref: str) -> ModelVersion:
        """``MODEL:N``, or ``MODEL`` for its latest version."""
        parsed = VersionRef.parse(ref, "model")
        name, number = parsed.name, parsed.version
        if number is None:
            row = self._conn.execute(
                f"{_SELECT} WHERE m.name = ? ORDER BY v.version DESC LIMIT 1", (name,)
            ).fetchone()
        else:
            row = self._conn.execute(
                f"{_SELECT} WHERE m.name = ? AND v.version = ?", (name, number)
            ).fetchone()
        if row is None:
            names = [r[0] for r in self._conn.execute("SELECT name FROM models ORDER BY name")]
            hint = f" The models are: {', '.join(names)}." if names else " It has no models yet."
            raise UserError(f"The project has no model version {ref}.{hint}")
        return _version(row)

    def add(self, name: str, **fields) -> ModelVersion:
        """Record version N+1 of model ``name`` (created if new); call in a transaction after
        the blobs it names are stored."""
        now, actor = utc_now(), current_actor()
        existing = self._conn.execute("SELECT uuid FROM models WHERE name = ?", (name,)).fetchone()
        if existing is None:
            model_uuid = str(uuid.uuid4())
            self._conn.execute(
                "INSERT INTO models (uuid, name, created_at, created_by) VALUES (?, ?, ?, ?)",
                (model_uuid, name, now, actor),
            )
        else:
            model_uuid = existing[0]
        version = self._conn.execute(
            "SELECT coalesce(max(version), 0) + 1 FROM model_versions WHERE model_uuid = ?",
            (model_uuid,),
        ).fetchone()[0]
        version_uuid = str(uuid.uuid4())
        for key in ("spec", "params", "metrics", "signature", "environment"):
            fields[key] = json.dumps(fields[key])
        columns = ["uuid", "model_uuid", "version", "created_at", "created_by", *fields]
        values = [version_uuid, model_uuid, version, now, actor, *fields.values()]
        self._conn.execute(
            f"INSERT INTO model_versions ({', '.join(columns)}) "
            f"VALUES ({', '.join('?' * len(columns))})",
            values,
        )
        return self.by_uuid(version_uuid)
