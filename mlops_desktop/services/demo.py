"""The demo project: a retail milk forecast and a tumour classifier with every stage of the
lifecycle filled in, built locally (no network) from data generated in code.

A chain of stores sells milk. Each row is one store in one month: its postcode area, the
month, the promotion days and the weather of that month, the litres sold, and the target,
the litres it sells the month after. Two years of history train the forecast; then a January
arrives with a heat wave, more promotions and a newly opened area, and the production model
sees it in its served traffic: the Monitoring panel has drift to show, and the retraining
loop has new data to start from.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from mlops_desktop.domain.errors import UserError
from mlops_desktop.domain.tasks import SubTask, TaskState, quiet_state

if TYPE_CHECKING:
    import pandas as pd

    from mlops_desktop.services.project import Project

DEMO_FILE = "Demo.mlops"
STORES = 120
HISTORY_MONTHS = 24  # January 2024 to December 2025
FIRST_YEAR = 2024
AREAS = {"LS1": 1.0, "LS6": 0.8, "M4": 1.3, "M20": 0.9, "B15": 1.1, "BS8": 0.7, "CF10": 0.85}
NEW_AREA = "EH1"  # opens in January 2026: a category training never saw
TARGET = "litres_next_month"
SEED = 2026

#: The steps that clean a raw export: what the Data panel's recipe editor would make.
RECIPE = [
    {"step": "drop_duplicates"},
    {"step": "clean_text", "columns": ["postcode_area"], "case": "upper"},
    {"step": "fill_missing", "columns": ["avg_temp_c"], "strategy": "median"},
]
#: Which store and which month a row is: labels, not inputs (the weather carries the season,
#: and a month the model never saw would otherwise be a category it cannot use).
IDENTIFIERS = {"columns": {"store": {"role": "identifier"}, "month": {"role": "identifier"}}}
EXPERIMENTS = (
    {
        "name": "milk-baseline",
        "model_name": "milk",
        "dataset": "milk",
        "target": TARGET,
        "estimator": "Ridge",
        "features": IDENTIFIERS,
        # The same folds as milk-forecast: Compare can then test whether the gap is real.
        "search": {"cv": 3},
    },
    {
        "name": "milk-forecast",
        "model_name": "milk",
        "dataset": "milk",
        "target": TARGET,
        "estimator": "HistGradientBoostingRegressor",
        "features": IDENTIFIERS,
        "search": {
            "strategy": "grid",
            "space": {"learning_rate": [0.05, 0.1], "max_leaf_nodes": [15, 31]},
            "cv": 3,
        },
    },
    {
        "name": "tumour-classifier",
        "model_name": "tumours",
        "dataset": "breast_cancer",
        "target": "target",
        "estimator": "LogisticRegression",
        "params": {"max_iter": 2000},
    },
)


def default_demo_path() -> Path:
    from mlops_desktop.services.paths import default_project_folder

    return default_project_folder() / DEMO_FILE


# -- the data --------------------------------------------------------------------------------


def milk_months(first: int, count: int, seed: int = SEED, drifted: bool = False) -> pd.DataFrame:
    """``count`` months of every store from month index ``first`` (0 = January 2024), as a
    raw export: stray spaces and lower case in some areas, missing temperatures, a few rows
    sent twice. ``drifted``: a heat wave, twice the promotions and the new area's stores."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    areas = list(AREAS)
    store_area = rng.choice(areas, STORES)
    if drifted:
        store_area[: STORES // 6] = NEW_AREA
    base = rng.uniform(600, 2400, STORES) * np.array([AREAS.get(a, 1.2) for a in store_area])
    rows = []
    # Every month is generated from the first so that a store's history is continuous.
    sold = base * rng.uniform(0.9, 1.1, STORES)
    for index in range(first + count + 1):
        month = index % 12 + 1
        season = 1 + 0.12 * np.cos((month - 7) / 12 * 2 * np.pi)  # more in summer
        temp = 10 - 7 * np.cos((month - 1) / 12 * 2 * np.pi) + rng.normal(0, 2, STORES)
        promos = rng.poisson(2, STORES)
        if drifted and index >= first:
            temp = temp + 9
            promos = promos + rng.poisson(4, STORES)
        rainy = np.clip(rng.normal(12 - 0.4 * (temp - 10), 3, STORES), 0, 31).round()
        next_sold = (
            base
            * season
            * (1 + 0.035 * promos)
            * (1 + 0.012 * (temp - 10))
            * (1 - 0.004 * rainy)
            * rng.normal(1, 0.05, STORES)
        )
        if index >= first and index < first + count:
            year, month0 = divmod(index, 12)
            rows.append(
                pd.DataFrame(
                    {
                        "store": [f"S{i + 1:03d}" for i in range(STORES)],
                        "postcode_area": store_area,
                        "month": f"{FIRST_YEAR + year}-{month0 + 1:02d}",
                        "promotion_days": promos,
                        "avg_temp_c": temp.round(1),
                        "rainy_days": rainy.astype(int),
                        "litres_sold": sold.round(),
                        TARGET: next_sold.round(),
                    }
                )
            )
        sold = next_sold
    frame = pd.concat(rows, ignore_index=True)
    # What a real export looks like before cleaning.
    messy = rng.random(len(frame)) < 0.08
    frame.loc[messy, "postcode_area"] = "  " + frame.loc[messy, "postcode_area"].str.lower()
    frame.loc[rng.random(len(frame)) < 0.05, "avg_temp_c"] = np.nan
    twice = frame.sample(frac=0.01, random_state=seed)
    return pd.concat([frame, twice], ignore_index=True)


# -- building --------------------------------------------------------------------------------


def build_demo(
    path: str | os.PathLike | None = None,
    state: TaskState | None = None,
    rebuild: bool = False,
) -> Path:
    """Build the demo project at ``path`` (by default ``Demo.mlops`` in the projects folder)
    and return where it is. It is built under another name and renamed into place at the end,
    so a failed or cancelled build leaves nothing; an existing file is kept unless
    ``rebuild``."""
    from mlops_desktop.services.project import Project

    state = state or quiet_state()
    final = Path(path) if path is not None else default_demo_path()
    if final.exists() and not rebuild:
        raise UserError(
            f"{final} already exists: open it, or rebuild it (mlops-desktop demo --rebuild)."
        )
    final.parent.mkdir(parents=True, exist_ok=True)
    partial = final.with_name(f".{final.stem}-building-{os.getpid()}{final.suffix}")
    try:
        with tempfile.TemporaryDirectory() as folder, Project.create(partial, "Demo") as project:
            _fill(project, Path(folder), state)
        state.check_cancelled()
        os.replace(partial, final)
    finally:
        for leftover in (partial, *(partial.with_name(partial.name + s) for s in ("-wal", "-shm"))):
            leftover.unlink(missing_ok=True)
    state.set_progress(1.0, f"Built the demo project at {final}")
    return final


def _fill(project: Project, folder: Path, state: TaskState) -> None:
    from mlops_desktop.domain.experiment import ExperimentSpec
    from mlops_desktop.domain.recipe import recipe_from_json
    from mlops_desktop.services.evaluation import evaluate

    datasets = project.datasets
    state.set_progress(0.02, "Generating two years of milk sales")
    history = folder / "milk-sales-2024-2025.csv"
    milk_months(0, HISTORY_MONTHS).to_csv(history, index=False)
    january = folder / "milk-sales-2026-01.csv"
    milk_months(HISTORY_MONTHS, 1, drifted=True).to_csv(january, index=False)

    state.set_progress(0.05, "Importing and cleaning")
    raw = datasets.import_file(history, "milk")
    steps = recipe_from_json(RECIPE)
    datasets.clean(raw, steps)
    datasets.import_file("sklearn:breast_cancer")
    state.check_cancelled()

    for spec in EXPERIMENTS:
        project.experiments.save(ExperimentSpec.from_json(spec))
        project.queue.enqueue(spec["name"])
    _train(project, SubTask(state, 0.1, 0.75))

    models = project.models
    milk = max(
        (v for v in models.list() if v.name == "milk"),
        key=lambda v: v.metrics["holdout"]["r2"],
    )
    models.set_gates("milk", "production", ["r2 >= 0.8", "mean_absolute_error <= current + 20"])
    models.promote(milk.label, "production")
    models.set_notes(
        milk.label, "The better of the two milk experiments on the hold-out months: in production."
    )
    models.promote("tumours:1", "production")
    state.check_cancelled()

    state.set_progress(0.78, "January 2026 arrives: importing it")
    new_raw = datasets.import_file(january, "milk")
    cleaned, _ = datasets.clean(new_raw, steps)
    evaluate(project, milk.label, cleaned.label, SubTask(state, 0.8, 0.85))

    state.set_progress(0.86, "Serving the production model")
    _serve(project, milk.label, folder, history, january)
    state.check_cancelled()

    state.set_progress(0.95, "Checking it for drift")
    monitoring = project.monitoring
    monitoring.served_drift(milk.label, None)
    monitoring.dataset_drift(milk.label, cleaned.label)


def _train(project: Project, state: TaskState) -> None:
    """Train every queued job here, following the queue for progress."""
    import threading

    from mlops_desktop.services.worker import Worker

    jobs = len(project.queue.jobs())
    worker = threading.Thread(target=Worker(str(project.path)).run, name="demo worker")
    worker.start()
    while worker.is_alive():
        worker.join(0.25)
        if state.is_cancelled():
            for job in project.queue.jobs():
                if job.status in ("queued", "running"):
                    project.queue.cancel(job.number)
            worker.join()
            state.check_cancelled()
        done = [j for j in project.queue.jobs() if j.status in ("done", "failed", "cancelled")]
        state.set_progress(len(done) / jobs, f"Training {len(done) + 1} of {jobs} models")
    failed = [j for j in project.queue.jobs() if j.status != "done"]
    if failed:
        raise UserError(
            f"The demo's job #{failed[0].number} did not train ({failed[0].error}): report it."
        )


def _serve(project: Project, label: str, folder: Path, history: Path, january: Path) -> None:
    """A day of ordinary traffic two days ago, then January's, as a model server with its
    prediction log on would have recorded them; and January's true litres, known a month
    later, as a dataset Live performance can score against."""
    import pandas as pd

    from mlops_desktop.domain.recipe import apply_recipe, recipe_from_json
    from mlops_desktop.domain.signature import Signature
    from mlops_desktop.services.onnx import request_columns
    from mlops_desktop.services.predictors import SklearnPredictor

    version = project.models.get(label)
    signature = Signature.from_json(version.signature)
    predictor = SklearnPredictor.load(project, version)
    serving = project.serving
    session = serving.start_session(version, served_as="milk@production", port=5005)
    now = time.time()
    ordinary, _ = apply_recipe(pd.read_csv(history), recipe_from_json(RECIPE))
    new, _ = apply_recipe(pd.read_csv(january), recipe_from_json(RECIPE))
    traffic = (
        # Stores and months like those trained on.
        (ordinary.sample(n=300, random_state=SEED), now - 2 * 86400, 86400),
        (new, now - 6 * 3600, 5 * 3600),
    )
    outcomes = []
    with serving.open_log(session) as log:
        for frame, start, span in traffic:
            inputs = frame.drop(columns=[TARGET]).reset_index(drop=True)
            columns = request_columns(inputs, signature)
            predictions = predictor.predict(columns, len(inputs))
            for i in range(len(inputs)):
                request_id = f"demo-{int(start)}-{i}"
                log.add(
                    request_id,
                    version.uuid,
                    start + span * i / len(inputs),
                    4.0 + (i % 7) * 0.3,
                    {name: values[i : i + 1] for name, values in columns.items()},
                    [predictions[i]],
                )
                if frame is new:
                    outcomes.append((request_id, frame[TARGET].iloc[i]))
    table = folder / "january-outcomes.csv"
    pd.DataFrame(outcomes, columns=["request_id", TARGET]).to_csv(table, index=False)
    project.datasets.import_file(table, "january-outcomes")


def build_task(path: str, state: TaskState) -> str:
    """Task function (child process: it trains models): build the demo at ``path``."""
    return str(build_demo(path, state))
