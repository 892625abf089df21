"""Datasets and their versions: rows in, ``DatasetVersion`` values out."""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING

from mlops_desktop.domain.dataset import ColumnSchema, DatasetVersion, SourceFile, VersionRef
from mlops_desktop.domain.errors import UserError
from mlops_desktop.store.clock import utc_now
from mlops_desktop.store.counters import next_number
from mlops_desktop.store.damage import decodes, reads
from mlops_desktop.store.identity import current_actor

if TYPE_CHECKING:
    from mlops_desktop.store.project_file import ProjectFile

_SELECT = """
    SELECT v.uuid, v.dataset_uuid, d.name, v.version, v.rows, v.columns, v.schema,
           v.profile_sha256, v.created_at, v.created_by, v.parent_uuid,
           p.version AS parent_version, pd.name AS parent_name, v.recipe, v.source, v.notes
    FROM dataset_versions v
    JOIN datasets d ON d.uuid = v.dataset_uuid
    LEFT JOIN dataset_versions p ON p.uuid = v.parent_uuid
    LEFT JOIN datasets pd ON pd.uuid = p.dataset_uuid
"""


class DatasetRepository:
    def __init__(self, project: ProjectFile):
        self._project = project

    @property
    def _conn(self):
        return self._project.conn

    def _version(self, row) -> DatasetVersion:
        return _decoded(row, self.parts(row[0]))

    def parts(self, version_uuid: str) -> tuple[str, ...]:
        rows = self._conn.execute(
            "SELECT blob_sha256 FROM dataset_version_parts WHERE version_uuid = ? ORDER BY seq",
            (version_uuid,),
        )
        return tuple(r[0] for r in rows)

    @reads("dataset versions")
    def all(self) -> list[DatasetVersion]:
        """Every version, grouped by dataset name, oldest version first."""
        rows = self._conn.execute(f"{_SELECT} ORDER BY d.name COLLATE NOCASE, v.version")
        return [self._version(r) for r in rows]

    def by_uuid(self, version_uuid: str) -> DatasetVersion:
        row = self._conn.execute(f"{_SELECT} WHERE v.uuid = ?", (version_uuid,)).fetchone()
        if row is None:
            raise UserError(f"There is no dataset version with id {version_uuid}.")
        return self._version(row)

    @reads("dataset versions")
    def get(self, ref: VersionRef | str) -> DatasetVersion:
        """The version ``NAME:N``, or the latest of ``NAME``."""
        ref = VersionRef.parse(ref) if isinstance(ref, str) else ref
        if ref.version is None:
            row = self._conn.execute(
                f"{_SELECT} WHERE d.name = ? ORDER BY v.version DESC LIMIT 1", (ref.name,)
            ).fetchone()
        else:
            row = self._conn.execute(
                f"{_SELECT} WHERE d.name = ? AND v.version = ?", (ref.name, ref.version)
            ).fetchone()
        if row is None:
            known = self.names()
            hint = f" The datasets are: {', '.join(known)}." if known else " It has no datasets."
            raise UserError(
                f"The project has no dataset version {ref}: check the name and number "
                f"('mlops-desktop data list' shows them).{hint}"
            )
        return self._version(row)

    def names(self) -> list[str]:
        rows = self._conn.execute("SELECT name FROM datasets ORDER BY name COLLATE NOCASE")
        return [r[0] for r in rows]

    def next_version(self, name: str) -> int:
        row = self._conn.execute(
            "SELECT max(v.version) FROM dataset_versions v JOIN datasets d "
            "ON d.uuid = v.dataset_uuid WHERE d.name = ?",
            (name,),
        ).fetchone()
        return next_number(row[0] or 0, f"version number of dataset {name!r}")

    def add(
        self,
        name: str,
        schema: list[ColumnSchema],
        rows: int,
        parts: list[tuple[str, int]],
        profile_sha256: str | None,
        parent_uuid: str | None = None,
        recipe: list | None = None,
        source: SourceFile | None = None,
        notes: list[str] | None = None,
    ) -> DatasetVersion:
        """Record version N+1 of dataset ``name`` (created if new); call in a transaction
        after the blobs it names are stored."""
        now, actor = utc_now(), current_actor()
        row = self._conn.execute("SELECT uuid, name FROM datasets WHERE name = ?", (name,))
        existing = row.fetchone()
        if existing is None:
            dataset_uuid = str(uuid.uuid4())
            self._conn.execute(
                "INSERT INTO datasets (uuid, name, created_at, created_by) VALUES (?, ?, ?, ?)",
                (dataset_uuid, name, now, actor),
            )
        else:
            dataset_uuid, name = existing  # keep the stored spelling of the name
        version_uuid = str(uuid.uuid4())
        self._conn.execute(
            "INSERT INTO dataset_versions (uuid, dataset_uuid, version, parent_uuid, recipe, "
            "source, rows, columns, schema, profile_sha256, notes, created_at, created_by) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                version_uuid,
                dataset_uuid,
                self.next_version(name),
                parent_uuid,
                json.dumps(recipe or []),
                json.dumps(source.to_json()) if source else None,
                rows,
                len(schema),
                json.dumps([c.to_json() for c in schema]),
                profile_sha256,
                json.dumps(notes or []),
                now,
                actor,
            ),
        )
        self._conn.executemany(
            "INSERT INTO dataset_version_parts (version_uuid, seq, rows, blob_sha256) "
            "VALUES (?, ?, ?, ?)",
            [(version_uuid, seq, n, sha) for seq, (sha, n) in enumerate(parts)],
        )
        return self.by_uuid(version_uuid)


@decodes("dataset version")
def _decoded(row, parts: tuple[str, ...]) -> DatasetVersion:
    source = json.loads(row[14]) if row[14] else None
    return DatasetVersion(
        uuid=row[0],
        dataset_uuid=row[1],
        name=row[2],
        version=row[3],
        rows=row[4],
        columns=row[5],
        schema=tuple(ColumnSchema.from_json(c) for c in json.loads(row[6])),
        parts=parts,
        profile_sha256=row[7],
        created_at=row[8],
        created_by=row[9],
        parent_uuid=row[10],
        parent_label=f"{row[12]}:{row[11]}" if row[10] else None,
        recipe=json.loads(row[13]),
        source=SourceFile(**source) if source else None,
        notes=json.loads(row[15]),
    )
