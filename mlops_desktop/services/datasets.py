"""Dataset use cases: import, save a version, load, profile, export."""

from __future__ import annotations

import itertools
import json
import os
import uuid
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from mlops_desktop.domain.dataset import (
    DatasetVersion,
    SourceFile,
    VersionRef,
    check_name,
    name_from_file,
)
from mlops_desktop.domain.errors import BlobCorruptError, CorruptProjectError, UserError
from mlops_desktop.domain.profile import TableProfile, correlation, profile_columns
from mlops_desktop.domain.tasks import SubTask, TaskState
from mlops_desktop.services import tabular
from mlops_desktop.store.blobs import FetchedBlob, Payload

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from mlops_desktop.services.project import Project
    from mlops_desktop.services.sniffing import ImportSettings


def _workers() -> int:
    return max(os.cpu_count() or 1, 2)


def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=_workers())


def _encoded_part(table: pa.Table, repeating_columns: list[str]) -> Payload:
    """A part as Parquet, hashed on the worker that wrote it."""
    # The writer's buffer is mutable but no one else holds it: seen read-only, it is hashed
    # and stored as it is rather than copied first (48 MB for the import benchmark).
    return Payload.of(memoryview(tabular.encode_part(table, repeating_columns)).toreadonly())


def _verified_part(fetched: FetchedBlob, use_threads: bool) -> pa.Table:
    return tabular.decode_part(fetched.verified(), use_threads)


class Datasets:
    """The datasets of one project: ``project.datasets``."""

    def __init__(self, project: Project):
        self._project = project
        self._repo = project.file.datasets

    def list(self) -> list[DatasetVersion]:
        return self._repo.all()

    def get(self, ref: VersionRef | str) -> DatasetVersion:
        return self._repo.get(ref)

    def by_uuid(self, version_uuid: str) -> DatasetVersion:
        return self._repo.by_uuid(version_uuid)

    def chain(self, ref: DatasetVersion | VersionRef | str) -> list[DatasetVersion]:
        """The version and its ancestors, the import first."""
        chain = [self._resolve(ref)]
        while chain[0].parent_uuid is not None:
            chain.insert(0, self._repo.by_uuid(chain[0].parent_uuid))
        return chain

    def _resolve(self, ref: DatasetVersion | VersionRef | str) -> DatasetVersion:
        return ref if isinstance(ref, DatasetVersion) else self._repo.get(ref)

    # -- reading -------------------------------------------------------------------------------

    def load_table(self, ref: DatasetVersion | VersionRef | str) -> pa.Table:
        """The version's data, every part's hash verified before it is decoded."""
        version = self._resolve(ref)
        if not version.parts:  # every version has at least one, empty or not
            raise CorruptProjectError(
                f"{version.label} has lost its stored data: the project file is damaged; "
                "restore it from a shared copy or a backup."
            )
        blobs = self._project.file.blobs
        try:
            with _pool() as pool:
                # The connection reads the parts one by one on this thread (map submits each
                # as it is read); the pool checks and decodes the parts already read meanwhile.
                fetched = (blobs.fetch(sha) for sha in version.parts)
                # With a part for every worker, handing a part's columns to Arrow's threads
                # too only adds contention: 10 to 20 ms of the 160 it takes to reopen the
                # import benchmark's version.
                threaded = itertools.repeat(len(version.parts) < _workers())
                table = tabular.concat_parts(list(pool.map(_verified_part, fetched, threaded)))
        except BlobCorruptError as exc:
            raise BlobCorruptError(f"{version.label} cannot be read. {exc}") from None
        if (table.num_rows, table.num_columns) != (version.rows, version.columns):
            # Each part matches its hash, so the version's own record is what was altered.
            raise CorruptProjectError(
                f"{version.label} is recorded as {version.rows:,} rows × {version.columns:,} "
                f"columns but its stored data has {table.num_rows:,} × {table.num_columns:,}: "
                "the project file is damaged; restore it from a shared copy or a backup."
            )
        return table

    def load_frame(self, ref: DatasetVersion | VersionRef | str) -> pd.DataFrame:
        return self.load_table(ref).to_pandas()

    def profile(self, ref: DatasetVersion | VersionRef | str) -> TableProfile:
        version = self._resolve(ref)
        if version.profile_sha256 is None:
            raise UserError(f"{version.label} has no stored profile.")
        return TableProfile.from_json(
            json.loads(self._project.file.blobs.get(version.profile_sha256))
        )

    # -- writing -------------------------------------------------------------------------------

    def save_table(
        self,
        table: pa.Table,
        name: str,
        *,
        parent: DatasetVersion | None = None,
        recipe: list | None = None,
        source: SourceFile | None = None,
        notes: list[str] | None = None,
        state: TaskState | None = None,
    ) -> DatasetVersion:
        """Profile and store ``table`` as the next version of dataset ``name``, all or nothing."""
        name = check_name(name)
        table, renamed = tabular.normalise(table)
        notes = [*(notes or []), *renamed]
        if state is not None:
            state.set_progress(None, "Profiling")
        file = self._project.file
        with _pool() as pool:
            # Arrow's kernels and the Parquet writer release the GIL, so the pool keeps every
            # core busy; parts are stored as they come while the others are still encoding.
            columns, encodings = profile_columns(table, state, pool.map)
            repeating = tabular.repeating_columns(columns)
            # Text columns go to the writer already encoded by the profile, so it writes their
            # indices instead of hashing every value a second time.
            stored = tabular.with_encoded_text(
                table, {name: encodings[name] for name in repeating if name in encodings}
            )
            slices = tabular.part_slices(table.num_rows)
            encoding = deque(
                pool.submit(_encoded_part, stored.slice(*piece), repeating) for piece in slices
            )
            if state is not None:
                state.check_cancelled()
                state.set_progress(None, "Compressing and saving")
            # This thread would only wait for the first part: it correlates meanwhile, so no
            # worker is left alone with the last part (and pandas mostly releases the GIL).
            profile = TableProfile(table.num_rows, columns, correlation(table, columns))
            with file.transaction():
                parts = []
                with file.flushing_early() as before_write:
                    for _, rows in slices:
                        if state is not None:
                            state.check_cancelled()
                        # Taken off the queue, a part's Parquet bytes are freed once stored.
                        payload = encoding.popleft().result()
                        before_write(len(payload.data))
                        parts.append((file.blobs.put(payload, compress=False), rows))
                profile_bytes = json.dumps(profile.to_json(), allow_nan=False).encode()
                version = self._repo.add(
                    name,
                    tabular.schema_of(profile),
                    table.num_rows,
                    parts,
                    file.blobs.put(profile_bytes),
                    parent_uuid=parent.uuid if parent else None,
                    recipe=recipe,
                    source=source,
                    notes=notes,
                )
                self._record(version, parent, source)
        return version

    def _record(
        self, version: DatasetVersion, parent: DatasetVersion | None, source: SourceFile | None
    ) -> None:
        if parent is not None:
            summary = f"Cleaned {parent.label} into {version.label}"
        elif source is not None:
            summary = f"Imported {source.name} as {version.label}"
        else:
            summary = f"Saved {version.label}"
        self._project.file.events.record(
            "dataset.version",
            f"{summary} ({version.rows:,} rows × {version.columns} columns)",
            "dataset_version",
            version.uuid,
        )

    def import_file(
        self,
        source: str | os.PathLike,
        name: str | None = None,
        settings: ImportSettings | None = None,
        state: TaskState | None = None,
    ) -> DatasetVersion:
        """Read a file (or ``sklearn:NAME``) and store it as the next version of ``name``."""
        from mlops_desktop.services.importing import SKLEARN_PREFIX, read_source

        text = str(source)
        if name is None:
            stem = (
                text[len(SKLEARN_PREFIX) :] if text.startswith(SKLEARN_PREFIX) else Path(text).stem
            )
            name = name_from_file(stem)
        check_name(name)
        read_state = SubTask(state, 0.0, 0.6) if state is not None else None
        read = read_source(source, settings, read_state)
        return self.save_table(read.table, name, source=read.source, notes=read.notes, state=state)

    def clean(
        self,
        ref: DatasetVersion | VersionRef | str,
        steps: list,
        name: str | None = None,
        state: TaskState | None = None,
    ) -> tuple[DatasetVersion, list]:
        """Apply a recipe to a version and save the result as the next version (of ``name``,
        by default the same dataset). Returns the new version and each step's report."""
        from mlops_desktop.domain.recipe import recipe_to_json

        parent = self._resolve(ref)
        if not steps:
            raise UserError("The recipe has no steps: add at least one before saving.")
        if state is not None:
            state.set_progress(None, f"Loading {parent.label}")
        table = self.load_table(parent)
        apply_state = SubTask(state, 0.0, 0.5) if state is not None else None
        cleaned, reports = tabular.through_recipe(table, steps, apply_state)
        if cleaned.num_columns == 0:
            raise UserError("The recipe removes every column: nothing would be left to save.")
        notes = [f"{r.description}: {r.summary()}" for r in reports]
        notes += [note for r in reports for note in r.notes]
        version = self.save_table(
            cleaned,
            name or parent.name,
            parent=parent,
            recipe=recipe_to_json(steps)["steps"],
            notes=notes,
            state=state,
        )
        return version, reports

    def diff(self, a: DatasetVersion | VersionRef | str, b: DatasetVersion | VersionRef | str):
        """Rows and columns added or removed between two versions, and their statistics."""
        from mlops_desktop.domain.diff import diff

        va, vb = self._resolve(a), self._resolve(b)
        return diff(
            va.label,
            tabular.exact_frame(self.load_table(va)),
            self.profile(va),
            vb.label,
            tabular.exact_frame(self.load_table(vb)),
            self.profile(vb),
        )

    def export(self, ref: DatasetVersion | VersionRef | str, path: str | os.PathLike) -> Path:
        """Write the version to ``path`` (.csv or .parquet); the file appears complete or not
        at all."""
        import pyarrow.parquet as pq

        path = Path(path).expanduser().absolute()
        suffix = path.suffix.lower()
        if suffix not in (".csv", ".parquet"):
            raise UserError(
                f"Cannot export to {path.name}: the file name must end in .csv or .parquet."
            )
        if not path.parent.is_dir():
            raise UserError(f"The folder {path.parent} does not exist: choose another.")
        table = self.load_table(ref)
        partial = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.partial")
        try:
            if suffix == ".csv":
                tabular.write_csv(table, partial)
            else:
                pq.write_table(table, partial, compression="zstd")
            os.replace(partial, path)
        except OSError as exc:
            partial.unlink(missing_ok=True)
            raise UserError(
                f"Could not write {path} ({exc.strerror or exc}): check the folder's free "
                "space and permissions."
            ) from None
        return path


def import_task(
    project_path: str, source: str, name: str | None, settings: dict | None, state: TaskState
) -> DatasetVersion:
    """Task function for importing in a child process (it opens its own connection)."""
    from mlops_desktop.services.project import Project
    from mlops_desktop.services.sniffing import ImportSettings

    with Project.open(project_path) as project:
        parsed = ImportSettings.from_json(settings) if settings is not None else None
        return project.datasets.import_file(source, name, parsed, state)


def clean_task(
    project_path: str, version_uuid: str, recipe: list, name: str | None, state: TaskState
) -> DatasetVersion:
    """Task function: apply a recipe in a child process and save the new version."""
    from mlops_desktop.domain.recipe import recipe_from_json
    from mlops_desktop.services.project import Project

    with Project.open(project_path) as project:
        parent = project.file.datasets.by_uuid(version_uuid)
        version, _ = project.datasets.clean(parent, recipe_from_json(recipe), name, state)
        return version


def diff_task(project_path: str, uuid_a: str, uuid_b: str, state: TaskState):
    from mlops_desktop.services.project import Project

    with Project.open(project_path, read_only=True) as project:
        repo = project.file.datasets
        return project.datasets.diff(repo.by_uuid(uuid_a), repo.by_uuid(uuid_b))


def load_table_task(project_path: str, version_uuid: str, state: TaskState) -> pa.Table:
    from mlops_desktop.services.project import Project

    with Project.open(project_path, read_only=True) as project:
        return project.datasets.load_table(project.file.datasets.by_uuid(version_uuid))
