"""Experiment use cases: save, edit, delete, duplicate and compare specs; plan and dry-run."""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlops_desktop.domain.errors import UserError
from mlops_desktop.domain.experiment import ExperimentSpec, spec_differences
from mlops_desktop.domain.profile import TOP_CATEGORIES
from mlops_desktop.domain.tasks import TaskState

if TYPE_CHECKING:
    from mlops_desktop.domain.pipeline import Plan
    from mlops_desktop.services.project import Project
    from mlops_desktop.store.experiments import ExperimentRow

DRY_RUN_ROWS = 200


@dataclass
class DryRun:
    """What fitting the pipeline on a small sample showed."""

    rows: int
    seconds: float
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> str:
        text = f"The pipeline fitted and predicted on {self.rows} rows in {self.seconds:.1f} s."
        if self.warnings:
            text += " Warnings: " + " ".join(self.warnings)
        return text


class Experiments:
    """The experiments of one project: ``project.experiments``."""

    def __init__(self, project: Project):
        self._project = project
        self._repo = project.file.experiments

    def list(self) -> list[ExperimentRow]:
        return self._repo.all()

    def get(self, name: str) -> ExperimentSpec:
        return ExperimentSpec.from_json(self._repo.get(name).spec)

    # -- checking against the data -------------------------------------------------------------

    def class_counts(self, spec: ExperimentSpec) -> dict | None:
        """Rows per class of the target (None for a regression-looking target)."""
        datasets = self._project.datasets
        version = datasets.get(spec.dataset)
        target = datasets.profile(version).column(spec.target)
        if target.kind == "numeric" and target.unique > 20:
            return None
        if target.unique <= TOP_CATEGORIES:
            return {str(v): c for v, c in target.top}
        import pyarrow.compute as pc

        column = datasets.load_table(version).column(spec.target)
        counts = pc.value_counts(column.drop_null())
        return {
            str(v): c
            for v, c in zip(
                counts.field("values").to_pylist(), counts.field("counts").to_pylist(), strict=True
            )
        }

    def plan(self, spec: ExperimentSpec) -> Plan:
        """Check ``spec`` against its dataset and compile it (raises ``UserError``)."""
        from mlops_desktop.domain.pipeline import plan

        datasets = self._project.datasets
        try:
            version = datasets.get(spec.dataset)
        except UserError as exc:
            raise UserError(f"dataset: {exc.message}") from None
        try:
            profile = datasets.profile(version)
            profile.column(spec.target)
        except KeyError:
            raise UserError(
                f"target: {version.label} has no column {spec.target!r}; its columns are "
                f"{', '.join(version.column_names)}."
            ) from None
        return plan(spec, profile, self.class_counts(spec))

    def dry_run(self, spec: ExperimentSpec, state: TaskState | None = None) -> DryRun:
        """Fit the pipeline (not the search) on a small sample, so errors show before a
        long job does."""
        plan = self.plan(spec)
        if state is not None:
            state.set_progress(None, "Loading a sample")
        frame = self._project.datasets.load_frame(spec.dataset)
        frame = frame[frame[spec.target].notna()]
        sample = frame.sample(n=min(DRY_RUN_ROWS, len(frame)), random_state=spec.validation.seed)
        X, y = sample.drop(columns=[spec.target]), sample[spec.target]
        if state is not None:
            state.check_cancelled()
            state.set_progress(None, f"Fitting on {len(sample)} rows")
        started = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                plan.pipeline.fit(X, y)
                plan.pipeline.predict(X)
            except Exception as exc:  # any failure here is what the dry run is for
                raise UserError(
                    f"The dry run failed on {len(sample)} rows: {type(exc).__name__}: {exc}"
                ) from None
        seen = sorted({str(w.message).splitlines()[0] for w in caught})
        return DryRun(len(sample), time.perf_counter() - started, seen[:3])

    # -- storing -------------------------------------------------------------------------------

    def save(self, spec: ExperimentSpec, replacing: str | None = None) -> ExperimentRow:
        """Check ``spec`` and store it, as a new experiment or in place of ``replacing``."""
        self.plan(spec)
        file = self._project.file
        with file.transaction():
            if replacing is None:
                row = self._repo.add(spec.name, spec.to_json())
                summary = f"Created experiment {spec.name}"
            else:
                row = self._repo.replace(replacing, spec.name, spec.to_json())
                summary = f"Edited experiment {spec.name}"
            file.events.record("experiment.save", summary, "experiment", row.uuid)
        return row

    def delete(self, name: str) -> None:
        file = self._project.file
        with file.transaction():
            row = self._repo.delete(name)
            file.events.record(
                "experiment.delete", f"Deleted experiment {row.name}", "experiment", row.uuid
            )

    def duplicate(self, name: str, new_name: str) -> ExperimentRow:
        spec = self.get(name)
        spec.name = new_name
        spec.check_shape()
        file = self._project.file
        with file.transaction():
            row = self._repo.add(new_name, spec.to_json())
            file.events.record(
                "experiment.save",
                f"Duplicated experiment {name} as {new_name}",
                "experiment",
                row.uuid,
            )
        return row

    def diff(self, a: str, b: str) -> list[tuple[str, Any, Any]]:
        return spec_differences(self._repo.get(a).spec, self._repo.get(b).spec)


# Task functions (run off the GUI thread; each opens its own connection).


def plan_task(project_path: str, spec_json: dict, state: TaskState) -> dict:
    """Check a spec and describe the compiled result for the panel."""
    from mlops_desktop.domain.pipeline import outline
    from mlops_desktop.services.project import Project

    with Project.open(project_path, read_only=True) as project:
        result = project.experiments.plan(ExperimentSpec.from_json(spec_json))
    return {
        "task": result.task,
        "reason": result.task_reason,
        "pipeline": str(result.pipeline),
        "outline": [step.to_json() for step in outline(result.pipeline)],
        "size": result.size_text(),
        "candidates": result.candidates,
    }


def dry_run_task(project_path: str, spec_json: dict, state: TaskState) -> DryRun:
    from mlops_desktop.services.project import Project

    with Project.open(project_path, read_only=True) as project:
        return project.experiments.dry_run(ExperimentSpec.from_json(spec_json), state)
