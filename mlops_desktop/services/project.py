"""``Project``: the entry point of the Python API and of every use case on a project file."""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from mlops_desktop.domain.project import (
    CheckReport,
    CopyReport,
    Event,
    MergeReport,
    ProjectInfo,
)
from mlops_desktop.domain.tasks import TaskState
from mlops_desktop.store import (
    ProjectFile,
    compaction,
    copies,
    health,
    merging,
    project_file,
)
from mlops_desktop.store.compaction import CompactReport

if TYPE_CHECKING:
    from mlops_desktop.services.datasets import Datasets
    from mlops_desktop.services.experiments import Experiments
    from mlops_desktop.services.monitoring import Monitoring
    from mlops_desktop.services.predictionlog import Serving
    from mlops_desktop.services.queue import Queue
    from mlops_desktop.services.registry import Models
    from mlops_desktop.services.retraining import Retraining


class Project:
    """An open project file.

    >>> with Project.create("churn.mlops") as project:
    ...     project.info().counts["datasets"]
    0
    """

    def __init__(self, file: ProjectFile):
        self.file = file

    @classmethod
    def create(cls, path: str | os.PathLike, name: str | None = None) -> Project:
        return cls(ProjectFile.create(path, name))

    @classmethod
    def open(cls, path: str | os.PathLike, read_only: bool = False) -> Project:
        return cls(ProjectFile.open(path, read_only=read_only))

    @staticmethod
    def writable_on_disk(path: str | os.PathLike) -> bool:
        """Whether ``path`` can be opened read-write (the file and its folder are writable)."""
        return project_file.writable_on_disk(Path(path).absolute())

    def close(self) -> None:
        self.file.close()

    def __enter__(self) -> Project:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    @property
    def path(self) -> Path:
        return self.file.path

    @property
    def name(self) -> str:
        return self.file.project_row()["name"]

    @property
    def uuid(self) -> str:
        return self.file.project_row()["uuid"]

    @property
    def read_only(self) -> bool:
        return self.file.read_only

    @cached_property
    def datasets(self) -> Datasets:
        """Import, version, load and export datasets."""
        from mlops_desktop.services.datasets import Datasets

        return Datasets(self)

    @cached_property
    def experiments(self) -> Experiments:
        """Save, check, compare and dry-run experiment specs."""
        from mlops_desktop.services.experiments import Experiments

        return Experiments(self)

    @cached_property
    def queue(self) -> Queue:
        """Queue experiments for training, cancel, re-run, reorder and pause jobs."""
        from mlops_desktop.services.queue import Queue

        return Queue(self)

    @cached_property
    def models(self) -> Models:
        """Browse, compare, annotate, promote (behind gates) and delete model versions."""
        from mlops_desktop.services.registry import Models

        return Models(self)

    @cached_property
    def serving(self) -> Serving:
        """Serving sessions and their prediction logs: what the model server did."""
        from mlops_desktop.services.predictionlog import Serving

        return Serving(self)

    @cached_property
    def monitoring(self) -> Monitoring:
        """Drift of served traffic or new data against a version's reference, the service
        level, thresholds and alerts."""
        from mlops_desktop.services.monitoring import Monitoring

        return Monitoring(self)

    @cached_property
    def retraining(self) -> Retraining:
        """Versions retrained on new data, judged against an alias holder, and promoted."""
        from mlops_desktop.services.retraining import Retraining

        return Retraining(self)

    def info(self) -> ProjectInfo:
        row = self.file.project_row()
        return ProjectInfo(
            path=str(self.path),
            name=row["name"],
            uuid=row["uuid"],
            schema_version=self.file.schema_version,
            created_at=row["created_at"],
            created_by=row["created_by"],
            size_bytes=self.file.size_bytes(),
            read_only=self.read_only,
            counts=self.file.counts(),
        )

    def history(self, limit: int = 200) -> list[Event]:
        """The most recent events first."""
        return self.file.events.recent(limit)

    def check(self, state: TaskState | None = None) -> CheckReport:
        """SQLite's integrity check, the foreign-key check and every blob's sha256."""
        return health.check(self.file, state)

    def compact(self, state: TaskState | None = None) -> CompactReport:
        """Remove stored data nothing refers to any more (the models, plots and search
        tables of deleted versions) and give the space back to the disk."""
        return compaction.compact(self.file, state)

    def save_copy(self, dest: str | os.PathLike, state: TaskState | None = None) -> Path:
        """Write a consistent, self-contained copy to ``dest`` (safe while others write)."""
        return Path(self.share_copy(dest, state).path)

    def merge(self, other: str | os.PathLike, state: TaskState | None = None) -> MergeReport:
        """Bring in another project file's datasets, experiments, models, evaluations and
        history, matched by UUID (merging twice adds nothing); ``other`` is not changed."""
        return merging.merge_file(self.file, Path(other), state)

    def share_copy(self, dest: str | os.PathLike, state: TaskState | None = None) -> CopyReport:
        """``save_copy``, reporting the copy's size and SHA-256 for whoever receives it."""
        return copies.save_copy(self.file, dest, state)


# Task functions: (inputs, state) -> result, each opening its own connection so that they can
# run on any thread or in a child process.


def compact_task(path: str, state: TaskState) -> CompactReport:
    with Project.open(path) as project:
        return project.compact(state)


def check_task(path: str, state: TaskState) -> CheckReport:
    with Project.open(path, read_only=True) as project:
        return project.check(state)


def merge_task(path: str, other: str, state: TaskState) -> MergeReport:
    with Project.open(path) as project:
        return project.merge(other, state)


def save_copy_task(path: str, dest: str, state: TaskState) -> CopyReport:
    with Project.open(path, read_only=True) as project:
        return project.share_copy(dest, state)
