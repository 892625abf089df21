"""Models and their versions: rows in, ``ModelVersion`` values out."""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING

from mlops_desktop.domain.dataset import VersionRef
from mlops_desktop.domain.errors import UserError
from mlops_desktop.domain.model import ModelVersion
from mlops_desktop.store.clock import utc_now
from mlops_desktop.store.counters import next_number
from mlops_desktop.store.damage import decodes, reads
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

BROWSE_COLUMNS = (
    "uuid",
    "model",
    "version",
    "estimator",
    "dataset",
    "task",
    "metric",
    "cv",
    "cv_std",
    "holdout",
    "aliases",
    "author",
    "created",
    "tags",
    "notes",
)
# The primary metric is a scorer name. Errors are scored negated ("neg_..."): show them by
# the metric's own name and sign, as the hold-out metrics are, so one column reads one way.
_BROWSE = """
    WITH v AS (
        SELECT *, json_extract(metrics, '$.primary') AS scorer,
               substr(json_extract(metrics, '$.primary'), 1, 4) = 'neg_' AS negated
        FROM model_versions
    )
    SELECT v.uuid, m.name, v.version, v.estimator, dn.name || ':' || dv.version, v.task,
           CASE WHEN v.negated THEN substr(v.scorer, 5) ELSE v.scorer END,
           (CASE WHEN v.negated THEN -1 ELSE 1 END)
               * json_extract(v.metrics, '$.cv."' || v.scorer || '".mean'),
           json_extract(v.metrics, '$.cv."' || v.scorer || '".std'),
           json_extract(v.metrics, '$.holdout."' || (CASE WHEN v.negated
               THEN substr(v.scorer, 5) ELSE v.scorer END) || '"'),
           (SELECT group_concat(a.name, ', ') FROM aliases a WHERE a.version_uuid = v.uuid),
           v.created_by, v.created_at, v.tags, v.notes
    FROM v
    JOIN models m ON m.uuid = v.model_uuid
    LEFT JOIN dataset_versions dv ON dv.uuid = v.dataset_version_uuid
    LEFT JOIN datasets dn ON dn.uuid = dv.dataset_uuid
    ORDER BY m.name COLLATE NOCASE, v.version
"""
#: Rows read at a time: fewer than the collector's first threshold (700 new objects).
_BROWSE_CHUNK = 256


@decodes("model version")
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

    @reads("model versions")
    def all(self) -> list[ModelVersion]:
        rows = self._conn.execute(f"{_SELECT} ORDER BY m.name COLLATE NOCASE, v.version")
        return [_version(r) for r in rows]

    def by_uuid(self, version_uuid: str) -> ModelVersion:
        row = self._conn.execute(f"{_SELECT} WHERE v.uuid = ?", (version_uuid,)).fetchone()
        if row is None:
            raise UserError(f"There is no model version {version_uuid}.")
        return _version(row)

    @reads("model versions")
    def get(self, ref: str) -> ModelVersion:
        """``MODEL:N``, ``MODEL@ALIAS``, or ``MODEL`` for its latest version."""
        if "@" in (ref or ""):
            return self._by_alias(ref)
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

    def _by_alias(self, ref: str) -> ModelVersion:
        name, _, alias = ref.strip().partition("@")
        row = self._conn.execute(
            f"{_SELECT} JOIN aliases a ON a.version_uuid = v.uuid WHERE m.name = ? AND a.name = ?",
            (name.strip(), alias.strip()),
        ).fetchone()
        if row is not None:
            return _version(row)
        model = self.model_uuid(name.strip())
        names = [
            r[0]
            for r in self._conn.execute(
                "SELECT name FROM aliases WHERE model_uuid = ? ORDER BY name", (model,)
            )
        ]
        hint = f" Its aliases are: {', '.join(names)}." if names else " It has no aliases yet."
        raise UserError(f"Model {name.strip()} has no alias {alias.strip()!r}.{hint}")

    def model_uuid(self, name: str) -> str:
        row = self._conn.execute("SELECT uuid FROM models WHERE name = ?", (name,)).fetchone()
        if row is None:
            names = [r[0] for r in self._conn.execute("SELECT name FROM models ORDER BY name")]
            hint = f" The models are: {', '.join(names)}." if names else " It has no models yet."
            raise UserError(f"The project has no model {name!r}.{hint}")
        return row[0]

    def browse(self) -> dict[str, list]:
        """Every version as columns of plain values: what the browser shows, in one query
        that reads the few metrics it needs out of the JSON in SQLite rather than in Python."""
        columns: list[list] = [[] for _ in BROWSE_COLUMNS]
        cursor = self._conn.execute(_BROWSE)
        # A few hundred rows at a time: 10,000 row tuples held at once live through enough
        # collections to reach the collector's oldest generation, and every few reads its
        # full sweep stopped all threads (the GUI's too) for a few hundred milliseconds.
        while chunk := cursor.fetchmany(_BROWSE_CHUNK):
            for column, values in zip(columns, zip(*chunk, strict=True), strict=True):
                column.extend(values)
        return dict(zip(BROWSE_COLUMNS, columns, strict=True))

    def set_notes(self, version_uuid: str, notes: str) -> None:
        self._conn.execute(
            "UPDATE model_versions SET notes = ? WHERE uuid = ?", (notes, version_uuid)
        )

    def set_tags(self, version_uuid: str, tags: list[str]) -> None:
        self._conn.execute(
            "UPDATE model_versions SET tags = ? WHERE uuid = ?", (json.dumps(tags), version_uuid)
        )

    def delete(self, version_uuid: str) -> None:
        """Remove a version (its evaluations go with it); call in a transaction, after
        checking that no alias points at it. Its blobs stay until the project is compacted."""
        self._conn.execute(
            "UPDATE jobs SET model_version_uuid = NULL WHERE model_version_uuid = ?",
            (version_uuid,),
        )
        self._conn.execute("DELETE FROM model_versions WHERE uuid = ?", (version_uuid,))

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
        (last,) = self._conn.execute(
            "SELECT last_version FROM models WHERE uuid = ?", (model_uuid,)
        ).fetchone()
        version = next_number(last, f"version number of model {name!r}")
        self._conn.execute(
            "UPDATE models SET last_version = ? WHERE uuid = ?", (version, model_uuid)
        )
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
