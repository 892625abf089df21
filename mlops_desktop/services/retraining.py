"""Retraining as use cases: a version's recipe and spec on new data, queued as a job, then
the new version and the alias holder judged on the same fresh hold-out rows.

Say ``churn:3`` holds ``churn@production`` and was trained on ``calls:2``, which is the import
``calls:1`` cleaned by a recipe. Next month's export arrives and drifts. ``start`` imports it
as ``calls:3``, applies the same recipe to make ``calls:4``, and queues ``churn:3``'s spec on
``calls:4``. When the job has made ``churn:4``, ``review`` measures ``churn:3`` on
``churn:4``'s hold-out rows (rows neither model was trained on), runs the gates of
``churn@production``, and ``promote`` moves the alias through those gates.
"""

from __future__ import annotations

import dataclasses
import os
from typing import TYPE_CHECKING

from mlops_desktop.domain.dataset import check_name
from mlops_desktop.domain.errors import UserError
from mlops_desktop.domain.job import FINISHED
from mlops_desktop.domain.retraining import Retrain, Review
from mlops_desktop.domain.tasks import SubTask, TaskState, quiet_state

if TYPE_CHECKING:
    from mlops_desktop.domain.model import Promotion
    from mlops_desktop.services.project import Project
    from mlops_desktop.services.registry import PromotionCheck

DEFAULT_ALIAS = "production"


class Retraining:
    """``project.retraining``."""

    def __init__(self, project: Project):
        self._project = project
        self._file = project.file
        self._repo = project.file.retrains

    def list(self) -> list[Retrain]:
        return self._repo.all()

    def get(self, number: int) -> Retrain:
        return self._repo.by_number(number)

    def of_version(self, ref: str) -> list[Retrain]:
        """The retrains of version ``ref``, oldest first."""
        return self._repo.of_source(self._project.models.get(ref).uuid)

    def start(
        self,
        ref: str,
        data: str | None = None,
        file: str | os.PathLike | None = None,
        alias: str = DEFAULT_ALIAS,
        reason: str = "",
        state: TaskState | None = None,
        recipe: str = "auto",
    ) -> Retrain:
        """Queue version ``ref``'s spec on new data: a dataset version ``data`` or a raw
        ``file`` (imported as the next version of the data ``ref`` was first imported as),
        through ``ref``'s cleaning recipe as ``recipe`` chooses (see ``evaluation.recipe_for``:
        by default an import is cleaned and a cleaned version used as it is).

        All or nothing: if the data does not fit the recipe or the spec, nothing is imported.
        """
        from mlops_desktop.domain.experiment import ExperimentSpec
        from mlops_desktop.domain.recipe import recipe_from_json
        from mlops_desktop.services.evaluation import RECIPE_CHOICES, recipe_for

        state = state or quiet_state()
        if recipe not in RECIPE_CHOICES:
            raise UserError(f"{recipe!r} is not a recipe choice: use {', '.join(RECIPE_CHOICES)}.")
        if (data is None) == (file is None):
            raise UserError(
                "Give the new data to retrain on: a dataset version or a raw file (one of them)."
            )
        project = self._project
        version = project.models.get(ref)
        alias = check_name(alias, "alias")
        datasets = project.datasets
        trained = (
            datasets.chain(datasets.by_uuid(version.dataset_version_uuid))
            if version.dataset_version_uuid
            else []
        )
        with self._file.transaction():
            if file is not None:
                if not trained:
                    raise UserError(
                        f"{version.label}'s training data was deleted, so there is no dataset "
                        "to import the file into: import it in the Data panel, then retrain "
                        "on that dataset version."
                    )
                given = datasets.import_file(file, trained[0].name, state=SubTask(state, 0, 0.5))
            else:
                given = datasets.get(data)
            state.check_cancelled()
            steps, _why = recipe_for(project, version, given, recipe)
            trained_on = given
            if steps:
                state.set_progress(0.5, f"Cleaning {given.label} with {version.label}'s recipe")
                try:
                    trained_on, _ = datasets.clean(
                        given, recipe_from_json(steps), trained[-1].name, SubTask(state, 0.5, 0.9)
                    )
                except UserError as exc:
                    raise UserError(
                        f"{given.label} does not fit the recipe that prepared "
                        f"{version.label}'s training data ({exc.message.rstrip('.')}): choose "
                        "data with the same columns, or clean it in the Data panel first."
                    ) from None
            if trained and trained_on.uuid == trained[-1].uuid:
                raise UserError(
                    f"{trained_on.label} is the data {version.label} was trained on: retrain "
                    "on newer data."
                )
            spec = ExperimentSpec.from_json(version.spec)
            spec = dataclasses.replace(spec, dataset=trained_on.label, model_name=version.name)
            try:
                project.experiments.plan(spec)
            except UserError as exc:
                raise UserError(
                    f"{version.label}'s experiment does not fit {trained_on.label}: {exc.message}"
                ) from None
            job = self._file.jobs.enqueue(None, version.experiment_name, spec.to_json())
            retrain = self._repo.add(
                version.uuid,
                (given.uuid, given.label),
                (trained_on.uuid, trained_on.label),
                job.uuid,
                alias,
                reason.strip(),
            )
            self._file.events.record(
                "model.retrain",
                f"Queued job #{job.number} to retrain {version.label} on {trained_on.label} "
                f"for {version.name}@{alias}",
                "model_version",
                version.uuid,
                {"retrain": retrain.uuid, "job": job.uuid, "reason": retrain.reason},
            )
        state.set_progress(1.0, f"Queued job #{job.number}")
        return retrain

    def review(self, number: int, state: TaskState | None = None) -> Review:
        """Measure the retrained version and the alias holder on the retrained version's
        hold-out rows and run the alias's gates; the judgement is stored with the retrain.
        Loads the holder's model: call it in a worker process, as the GUI does."""
        retrain = self._repo.by_number(number)
        job = self._file.jobs.get(retrain.job_uuid)
        if retrain.version_label is None:
            if job.status not in FINISHED:
                raise UserError(
                    f"Job #{job.number} is still {job.status}: review the retraining once it "
                    "has trained the new version."
                )
            raise UserError(
                f"Job #{job.number} ended {job.status} without a new version"
                + (f" ({job.error.rstrip('.')})" if job.error else "")
                + ": fix the cause and retrain again."
            )
        check = self._project.models.check_promotion(
            retrain.version_label, retrain.alias, state, same_rows=True
        )
        review = review_of(check)
        with self._file.transaction():
            self._repo.set_review(retrain.uuid, review)
            self._file.events.record(
                "model.retrain_review",
                f"Reviewed retraining #{retrain.number}: {review.summary}",
                "model_version",
                retrain.version_uuid,
                {"retrain": retrain.uuid, "review": review.to_json()},
            )
        return review

    def promote(self, number: int, reason: str | None = None) -> Promotion:
        """Point the proposed alias at the retrained version through its gates (a failed gate
        blocks unless ``reason`` overrides it, as for any promotion)."""
        retrain = self._repo.by_number(number)
        if retrain.version_label is None:
            raise UserError(
                f"Retraining #{number} has no new version yet: wait for job "
                f"#{retrain.job_number}, then review it."
            )
        why = f"retrained from {retrain.source_label} on {retrain.trained_on_label}"
        reason = (reason or "").strip() or None
        return self._project.models.promote(
            retrain.version_label, retrain.alias, reason=reason and f"{reason} ({why})"
        )


def review_of(check: PromotionCheck) -> Review:
    """The review a promotion check amounts to."""
    if check.holder_label is None:
        summary = f"{check.model}@{check.alias} points nowhere yet; " + check.summary()
    else:
        summary = (
            f"{check.version_label} against {check.holder_label} on "
            f"{check.version_label}'s hold-out rows: " + check.summary()
        )
    return Review(
        check.version_label,
        check.holder_label,
        check.basis,
        check.candidate_metrics,
        check.holder_metrics,
        check.passed,
        tuple(f"{r.gate}: {r.message}" for r in check.results),
        summary,
    )


def start_task(
    project_path: str,
    ref: str,
    data: str | None,
    file: str | None,
    alias: str,
    reason: str,
    recipe: str,
    state: TaskState,
) -> Retrain:
    """Task function (child process: an import and a recipe can be long)."""
    from mlops_desktop.services.project import Project

    with Project.open(project_path) as project:
        return project.retraining.start(ref, data, file, alias, reason, state, recipe)


def review_task(project_path: str, number: int, state: TaskState) -> Review:
    """Task function (child process: it loads a model and predicts)."""
    from mlops_desktop.services.project import Project

    with Project.open(project_path) as project:
        return project.retraining.review(number, state)


def promote_task(project_path: str, number: int, reason: str | None, state: TaskState):
    """Task function (child process: a relative gate measures the holder)."""
    from mlops_desktop.services.project import Project

    with Project.open(project_path) as project:
        return project.retraining.promote(number, reason)
