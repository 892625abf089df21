"""Evaluating a model version on another dataset version, through its own recipe and pipeline.

Say ``churn:3`` was trained on ``calls:2``, which is ``calls:1`` (an import) cleaned by a
recipe. Next month's raw export, imported as ``calls:4``, gets that same recipe applied in
memory before the version's pipeline predicts it, so the model sees data prepared as it was
in training. A dataset version that is already cleaned is used as it is.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING

from mlops_desktop.domain.errors import UserError
from mlops_desktop.domain.metrics import json_safe, measure
from mlops_desktop.domain.model import Evaluation, ModelVersion
from mlops_desktop.domain.recipe import recipe_from_json
from mlops_desktop.domain.signature import Signature
from mlops_desktop.domain.tasks import SubTask, TaskState
from mlops_desktop.services import tabular

if TYPE_CHECKING:
    import pandas as pd

    from mlops_desktop.domain.dataset import DatasetVersion
    from mlops_desktop.services.project import Project

#: auto: the version's own recipe for imported data, nothing for cleaned data.
RECIPE_CHOICES = ("auto", "own", "none")


def recipe_for(
    project: Project, version: ModelVersion, data: DatasetVersion, choice: str = "auto"
) -> tuple[list, str]:
    """The recipe steps (as JSON) to apply to ``data`` before predicting, and why."""
    if choice not in RECIPE_CHOICES:
        raise UserError(f"{choice!r} is not a recipe choice: use {', '.join(RECIPE_CHOICES)}.")
    if choice == "none":
        return [], f"{data.label} used as it is"
    datasets = project.datasets
    trained = (
        datasets.chain(datasets.by_uuid(version.dataset_version_uuid))
        if version.dataset_version_uuid
        else []
    )
    own = [step for made in trained for step in made.recipe]
    if choice == "auto":
        if trained and data.uuid == trained[-1].uuid:
            return [], f"{data.label} is the data {version.label} was trained on"
        if data.recipe:
            return [], f"{data.label} is already cleaned"
        if not own:
            return [], f"{version.label} was trained on data without a recipe"
    if not own:
        raise UserError(
            f"{version.label} was trained on data without a cleaning recipe, so there is none "
            "to apply: evaluate with the recipe choice 'auto' or 'none'."
        )
    source = trained[-1].label
    return own, f"the {len(own)} cleaning steps that made {source} applied to {data.label}"


def prepared_data(
    project: Project, version: ModelVersion, data: DatasetVersion, recipe: str, state: TaskState
) -> tuple[pd.DataFrame, list, str]:
    """``data`` as ``version`` needs it: loaded, through the recipe ``recipe`` chooses (see
    ``recipe_for``), and checked to hold every input the version needs. Returns the frame,
    the recipe steps applied and why."""
    steps, why = recipe_for(project, version, data, recipe)
    state.set_progress(0.02, f"Loading {data.label}")
    table = project.datasets.load_table(data)
    if steps:
        state.check_cancelled()
        try:
            # Read back as the version would be had the cleaning been saved, which is how
            # the training data was read.
            table, _ = tabular.through_recipe(
                table, recipe_from_json(steps), SubTask(state, 0.1, 0.4)
            )
        except UserError as exc:
            raise UserError(
                f"{data.label} does not fit the recipe that prepared {version.label}'s training "
                f"data ({exc.message.rstrip('.')}). If it is prepared already, use the "
                "recipe choice 'none'."
            ) from None
    frame = table.to_pandas()
    required = Signature.from_json(version.signature).required
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise UserError(
            f"{data.label} lacks {', '.join(repr(c) for c in missing)}, which "
            f"{version.label} needs ({why}): choose data with the columns it was trained on."
        )
    return frame, steps, why


def evaluate(
    project: Project,
    ref: str,
    dataset_ref: str,
    state: TaskState,
    recipe: str = "auto",
) -> Evaluation:
    """Measure version ``ref`` on ``dataset_ref`` and record the result; loads the model, so
    call it in a worker process (``evaluate_task``)."""
    from mlops_desktop.services.modelfiles import load_version

    started = time.perf_counter()
    version = project.models.get(ref)
    data = project.datasets.get(dataset_ref)
    frame, steps, why = prepared_data(project, version, data, recipe, state)
    target = version.spec["target"]
    if target not in frame.columns:
        raise UserError(
            f"{data.label} has no column {target!r}, the target {version.label} predicts, so "
            "there is nothing to score its predictions against: choose data that has it."
        )
    frame = frame[frame[target].notna()]
    if frame.empty:
        raise UserError(f"{data.label} has no rows with a value of {target!r} to score.")
    state.set_progress(0.45, f"Loading {version.label}")
    model = load_version(project.file.blobs, version)
    state.check_cancelled()
    state.set_progress(0.55, f"Predicting {len(frame):,} rows")
    try:
        measured = measure(
            model, frame.drop(columns=[target]), frame[target], version.task, version.seed
        )
    except (ValueError, TypeError) as exc:
        raise UserError(
            f"{version.label} could not predict {data.label} ({exc}): check that its columns "
            "hold the kinds of values the model was trained on (see the version's signature)."
        ) from None
    state.check_cancelled()
    state.set_progress(0.9, "Saving the evaluation")
    file = project.file
    with file.transaction():
        evaluation = file.evaluations.add(
            version.uuid,
            data.uuid,
            data.label,
            steps,
            len(frame),
            measured.metrics,
            file.blobs.put(json.dumps(json_safe(measured.plots)).encode()),
            time.perf_counter() - started,
        )
        primary = next(
            (f"{k} {v:.4g}" for k, v in measured.metrics.items() if v is not None), "no metrics"
        )
        file.events.record(
            "model.evaluated",
            f"Evaluated {version.label} on {data.label} ({len(frame):,} rows): {primary}",
            "model_version",
            version.uuid,
            {"evaluation": evaluation.uuid, "recipe": why},
        )
    state.set_progress(1.0, f"Evaluated {version.label} on {data.label}")
    return evaluation


def evaluate_task(
    project_path: str, ref: str, dataset_ref: str, recipe: str, state: TaskState
) -> Evaluation:
    """Task function: evaluate in a child process (it opens its own connection)."""
    from mlops_desktop.services.project import Project

    with Project.open(project_path) as project:
        return evaluate(project, ref, dataset_ref, state, recipe)
