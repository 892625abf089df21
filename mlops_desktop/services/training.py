"""Training one job: fit the spec's pipeline (or search), measure it, and record a version.

Everything a finished job produces is written in one transaction: the model (skops), the
search table, plot data, metrics, signature and environment, the reference monitoring
compares new data with, the version row and the job's end. The same spec and seed give the
same metrics: every random choice is seeded.
"""

from __future__ import annotations

import importlib
import json
import logging
import platform
import sys
import threading
import time
from contextlib import nullcontext
from functools import cache
from importlib import metadata
from typing import TYPE_CHECKING

import numpy as np

from mlops_desktop.domain import metrics as m
from mlops_desktop.domain.errors import Cancelled, UserError
from mlops_desktop.domain.experiment import ExperimentSpec
from mlops_desktop.domain.job import Job
from mlops_desktop.domain.model import ModelVersion
from mlops_desktop.domain.pipeline import scorers, split_holdout, splitter
from mlops_desktop.domain.signature import signature_of
from mlops_desktop.services.modelfiles import dump_model
from mlops_desktop.services.monitoring import reference_of, store_reference

if TYPE_CHECKING:
    from mlops_desktop.services.project import Project

log = logging.getLogger(__name__)

#: Project setting naming a Dask scheduler (tcp://host:8786) to run the search on.
DASK_SETTING = "compute.dask_scheduler"
#: Permutation importance on at most this many hold-out rows and input columns.
IMPORTANCE_ROWS = 2000
IMPORTANCE_COLUMNS = 100
IMPORTANCE_REPEATS = 5
IMPORTANCE_BUDGET_SHARE = 0.03
IMPORTANCE_BUDGET_FLOOR = 0.25
#: At most this many values (8 MB of floats) in one stacked prediction of permuted rows.
IMPORTANCE_CELLS = 1_000_000
ENVIRONMENT_PACKAGES = ("scikit-learn", "numpy", "pandas", "scipy", "pyarrow", "skops", "joblib")


class JobState:
    """What a running job reports: progress, log lines, and whether to stop (thread-safe by
    replacing whole values; the worker's heartbeat thread reads them)."""

    def __init__(self):
        self.latest: tuple[float | None, str] = (0.0, "Starting")
        self.lines: list[str] = []
        self.cancelled = False

    def set_progress(self, fraction: float | None, message: str = "") -> None:
        self.latest = (fraction, message)

    def set_partial_result(self, value) -> None:
        pass  # training has no partial results to show

    def log(self, line: str) -> None:
        self.lines.append(f"{time.strftime('%H:%M:%S')} {line}\n")

    def is_cancelled(self) -> bool:
        return self.cancelled

    def check_cancelled(self) -> None:
        if self.cancelled:
            raise Cancelled()


class _CountingScorer:
    """A scorer that also counts the folds scored (progress) and stops on cancel."""

    def __init__(self, scorer, state: JobState, total: int, folds: int, counts: bool):
        self.scorer, self.state, self.total, self.counts = scorer, state, total, counts
        self.folds = folds
        self.done = 0

    def __call__(self, estimator, X, y, **kwargs):
        self.state.check_cancelled()
        score = self.scorer(estimator, X, y, **kwargs)
        if self.counts:
            self.done += 1
            # A search evaluates candidate after candidate, each on every fold in turn.
            candidate, fold = divmod(self.done - 1, self.folds)
            candidates = -(-self.total // self.folds)
            where = f"candidate {candidate + 1:,} of {candidates:,}, " if candidates > 1 else ""
            self.state.set_progress(
                0.05 + 0.8 * min(self.done / max(self.total, 1), 1.0),
                f"{where}fold {fold + 1} of {self.folds}".capitalize(),
            )
        return score


def _scoring(names: list[str], state: JobState, total: int, folds: int) -> dict:
    from sklearn.metrics import get_scorer

    return {
        name: _CountingScorer(get_scorer(name), state, total, folds, counts=(i == 0))
        for i, name in enumerate(names)
    }


@cache
def _environment() -> tuple:
    """Python, the platform and the versions of the packages a model depends on: read once a
    process (looking them up costs milliseconds a job, and a running process keeps the
    versions it imported)."""
    packages = []
    for name in ENVIRONMENT_PACKAGES:
        try:
            packages.append((name, metadata.version(name)))
        except metadata.PackageNotFoundError:
            packages.append((name, None))
    from mlops_desktop.version import __version__

    return platform.python_version(), platform.platform(), __version__, tuple(packages)


def environment() -> dict:
    python, system, version, packages = _environment()
    return {
        "python": python,
        "platform": system,
        "mlops_desktop": version,
        "packages": dict(packages),
    }


def _fold_summary(scores) -> dict:
    """Mean, spread and each fold's score: the folds are what a paired test of two versions
    compares (their order follows the splitter, which is seeded)."""
    scores = np.asarray(scores, dtype=float)
    return {
        "mean": m._number(np.mean(scores)),
        "std": m._number(np.std(scores)),
        "folds": [m._number(v) for v in scores],
    }


def _dask(project: Project):
    address = project.file.settings.get(DASK_SETTING)
    if not address:
        return nullcontext(), 1
    try:
        from distributed import Client
    except ImportError:
        raise UserError(
            "The project sends training to a Dask scheduler, but the 'distributed' package is "
            "not installed: install mlops-desktop[dask], or clear the scheduler setting."
        ) from None
    try:
        client = Client(address, timeout="10s", set_as_default=False)
    except OSError as exc:
        raise UserError(
            f"Could not reach the Dask scheduler at {address} ({exc}): check that it runs and "
            "the address in the project settings, or clear the setting to train here."
        ) from None
    import joblib

    class _Session:
        def __enter__(self):
            # The backend's own client, if it made one from the address, would outlive the
            # job and keep reconnecting to a scheduler that may be gone.
            self._config = joblib.parallel_config(backend="dask", client=client)
            self._config.__enter__()
            return client

        def __exit__(self, *exc_info):
            self._config.__exit__(*exc_info)
            client.close()

    return _Session(), -1


def import_beside(name: str) -> None:
    """Import module ``name`` on a thread of its own, unless it is imported already.

    Saving a model needs skops, whose import (it lists the types it trusts by importing all
    of scikit-learn) takes a second or more: started just before the fit, which runs in
    compiled code that mostly releases the GIL, that second passes beside the fit rather
    than after it. The job's own import, when it saves, waits for this one to finish. Called
    once the pipeline is built, so the thread never imports what the fit is importing.
    """
    if name in sys.modules:
        return

    def run() -> None:
        try:
            importlib.import_module(name)
        except ImportError:
            # The job's own import fails too and says so in the job; a second import of a
            # module whose first one failed half-way can hide the cause, so it is logged here.
            log.warning("could not import %s beside the fit", name, exc_info=True)

    threading.Thread(target=run, name=f"import {name}", daemon=True).start()


#: The frame of the dataset version the last job trained on, by the version and its parts'
#: hashes: a worker often runs job after job on the same data, and a version never changes.
_frames: dict[tuple, object] = {}


def _load_frame(datasets, version):
    """The version's data as a frame, read once for consecutive jobs on the same version.

    Training never changes the frame (the hold-out split copies the rows it takes); only the
    last one is kept, dropped before another version is read so two never sit in memory.
    """
    key = (version.uuid, *version.parts)
    frame = _frames.get(key)
    if frame is None:
        _frames.clear()
        frame = datasets.load_frame(version)
        _frames[key] = frame
    return frame


def train(project: Project, job: Job, state: JobState) -> ModelVersion:
    """Run ``job`` and record its model version (raises ``UserError`` for its own faults)."""
    from sklearn.model_selection import cross_validate

    spec = ExperimentSpec.from_json(job.spec)
    state.set_progress(0.0, "Loading data")
    datasets = project.datasets
    try:
        version = datasets.get(spec.dataset)
    except UserError as exc:
        raise UserError(f"The job's dataset is gone: {exc.message}") from None
    state.log(f"Dataset {version.label}: {version.rows:,} rows × {version.columns} columns")
    plan = project.experiments.plan(spec)
    split = split_holdout(_load_frame(datasets, version), spec, plan.task)
    if split.dropped:
        state.log(f"Left out {split.dropped:,} rows whose target {spec.target!r} is missing")
    X_train, X_test, y_train, y_test = split.X_train, split.X_test, split.y_train, split.y_test
    state.log(
        f"{len(X_train):,} rows to fit, {len(X_test):,} held out; task {plan.task} "
        f"({plan.task_reason}); {plan.size_text()}"
    )
    names = scorers(spec, plan.task)
    session, n_jobs = _dask(project)
    estimator = plan.estimator
    search = spec.search.strategy != "none"
    state.check_cancelled()
    import_beside("skops.io")
    started = time.perf_counter()
    with session:
        if search:
            scoring = _scoring(names, state, plan.fits, plan.folds)
            if spec.search.strategy == "halving":
                estimator.set_params(scoring=scoring[names[0]], n_jobs=n_jobs)
            else:
                estimator.set_params(scoring=scoring, refit=names[0], n_jobs=n_jobs)
            state.set_progress(0.05, f"Searching: {plan.size_text()}")
            estimator.fit(X_train, y_train)
            model = estimator.best_estimator_
            results = estimator.cv_results_
            best = estimator.best_index_
            cv = {
                name: _fold_summary(
                    [results[f"split{i}_test_{key}"][best] for i in range(plan.folds)]
                )
                for name in names
                for key in [name if f"mean_test_{name}" in results else "score"]
            }
            best_params = {k.removeprefix("model__"): v for k, v in estimator.best_params_.items()}
        else:
            state.set_progress(0.05, f"Cross-validating ({spec.search.cv} folds)")
            scored = cross_validate(
                plan.pipeline,
                X_train,
                y_train,
                n_jobs=n_jobs,
                cv=splitter(spec, plan.task),
                scoring=_scoring(names, state, spec.search.cv, spec.search.cv),
                error_score="raise",
            )
            cv = {name: _fold_summary(scored[f"test_{name}"]) for name in names}
            state.set_progress(0.85, "Fitting on all training rows")
            model = plan.pipeline.fit(X_train, y_train)
            results, best_params = None, {}
    fit_seconds = time.perf_counter() - started
    state.log(
        f"Fitted in {fit_seconds:.1f} s; CV "
        + ", ".join(
            f"{k} {v['mean']:.4g} ± {v['std']:.2g}" for k, v in cv.items() if v["mean"] is not None
        )
    )

    state.check_cancelled()
    state.set_progress(0.87, "Measuring on the hold-out rows")
    seed = spec.validation.seed
    measured = m.measure(model, X_test, y_test, plan.task, seed)
    holdout, plots, classes = measured.metrics, measured.plots, measured.classes
    state.log("Hold-out " + ", ".join(f"{k} {v:.4g}" for k, v in holdout.items() if v is not None))
    state.set_progress(0.9, "Permutation importance")
    plots["permutation_importance"] = _importance(
        model, measured.prepared, y_test, seed, fit_seconds, state
    )
    predict_seconds, predicted = measured.predict_seconds, measured.predicted
    del measured  # and the prepared hold-out rows with it, before the model is saved
    if results is not None:
        plots["search"] = m.search_curve(results, names[0])
    signature = signature_of(
        datasets.profile(version), plan.columns, plan.task, spec.target, classes
    )
    reference = reference_of(X_train, signature, predicted)
    state.check_cancelled()
    state.set_progress(0.95, "Saving the model")
    model_bytes = dump_model(model)
    file = project.file
    with file.transaction():
        fields = {
            "job_uuid": job.uuid,
            "experiment_name": job.experiment_name,
            "spec": spec.to_json(),
            "dataset_version_uuid": version.uuid,
            "task": plan.task,
            "estimator": spec.estimator,
            "params": m.json_safe({**spec.params, **best_params}),
            "metrics": {
                "cv": cv,
                "holdout": holdout,
                "primary": names[0],
                "rows": {"train": len(X_train), "holdout": len(X_test)},
            },
            "signature": signature.to_json(),
            "environment": environment(),
            "seed": seed,
            "fit_seconds": fit_seconds,
            "predict_seconds": predict_seconds,
            "model_sha256": file.blobs.put(model_bytes, compress=False),
            "plots_sha256": file.blobs.put(json.dumps(m.json_safe(plots)).encode()),
            "search_sha256": (
                file.blobs.put(json.dumps(m.json_safe(results)).encode())
                if results is not None
                else None
            ),
        }
        model_version = file.models.add(spec.model, **fields)
        store_reference(file, model_version.uuid, reference, "training")
        file.jobs.finish(job.uuid, model_version.uuid, job.worker_id)
        state.log(f"Saved {model_version.label}")
        file.jobs.append_log(job.uuid, "".join(state.lines))
        state.lines.clear()
        primary = cv[names[0]]["mean"]
        score = f": CV {names[0]} {primary:.4g}" if primary is not None else ""
        file.events.record(
            "model.version",
            f"Trained {model_version.label} from experiment {job.experiment_name} "
            f"(job #{job.number}){score}",
            "model_version",
            model_version.uuid,
        )
    state.set_progress(1.0, f"Saved {model_version.label}")
    return model_version


def _score_of(predicted, y, classifier: bool) -> float:
    """What ``estimator.score`` gives for these predictions: accuracy, or R²."""
    if classifier:
        return float(np.mean(predicted == y))
    total = float(np.sum((y - np.mean(y)) ** 2))
    return 1.0 - float(np.sum((y - predicted) ** 2)) / total if total else 0.0


def _score(estimator, X, y) -> float:
    """What ``estimator.score`` measures (accuracy, or R²), without the input checks that
    make it cost milliseconds a call."""
    return _score_of(estimator.predict(X), y, hasattr(estimator, "classes_"))


def _permuted_scores(estimator, X, y, classifier: bool, order, columns) -> list[float]:
    """The score with each of ``columns`` in turn put in ``order`` (the others as they are),
    from one prediction over all of them stacked: one call instead of one per column, which
    for a small model is most of what a call costs."""
    rows = X.shape[0]
    stacked = np.repeat(X[np.newaxis], len(columns), axis=0)
    for block, column in enumerate(columns):
        stacked[block, :, column] = X[order, column]
    predicted = estimator.predict(stacked.reshape(len(columns) * rows, X.shape[1]))
    return [
        _score_of(predicted[block * rows : (block + 1) * rows], y, classifier)
        for block in range(len(columns))
    ]


def _importance(model, prepared, y_test, seed: int, fit_seconds: float, state) -> dict | None:
    """Permutation importance of the model's input features (after preparation), scored by
    accuracy (classifiers) or R² (regressors) on the hold-out rows, as ``score`` would be.

    ``prepared`` is the hold-out rows as the final estimator sees them (``measure`` prepared
    them already), so each permutation costs a prediction of the bare estimator rather than
    of the whole pipeline. The shuffles are scikit-learn's ``permutation_importance``'s for
    the same seed (one seed drawn from it, then the same sequence of shuffles for every
    column), so are the scores; but every column's permutation of one repeat is predicted in
    a few stacked calls, not one call per column. Shuffles are repeated as often as a time
    budget of about 3 % of the fit (at least a quarter of a second) allows, up to five times.
    """
    prepare, estimator = model[:-1], model[-1]
    try:
        names = [str(n) for n in prepare.get_feature_names_out()]
    except (AttributeError, ValueError):
        names = None
    if hasattr(prepared, "toarray"):
        if prepared.shape[0] * prepared.shape[1] > 5_000_000:
            state.log("Permutation importance skipped: too many prepared features")
            return None
        prepared = prepared.toarray()
    prepared = np.asarray(prepared)
    features = prepared.shape[1]
    if features > IMPORTANCE_COLUMNS or len(y_test) < 2:
        state.log(
            f"Permutation importance skipped ({features} prepared features, "
            f"{len(y_test)} hold-out rows)"
        )
        return None
    if len(y_test) > IMPORTANCE_ROWS:
        keep = np.sort(
            np.random.default_rng(seed).choice(len(y_test), IMPORTANCE_ROWS, replace=False)
        )
        prepared, y_test = prepared[keep], y_test.iloc[keep]
    y_values = np.asarray(y_test)
    classifier = hasattr(estimator, "classes_")
    rows = prepared.shape[0]
    # Columns per stacked prediction: all of them, unless that passes IMPORTANCE_CELLS values.
    # On one thread: two measured no faster even for a 300-tree forest, and a worker shares
    # the cores with the others.
    per_call = max(1, IMPORTANCE_CELLS // max(rows * features, 1))
    groups = [list(range(i, min(i + per_call, features))) for i in range(0, features, per_call)]
    budget = max(IMPORTANCE_BUDGET_FLOOR, IMPORTANCE_BUDGET_SHARE * fit_seconds)
    started = time.perf_counter()
    baseline = _score(estimator, prepared, y_values)
    random_seed = np.random.RandomState(seed).randint(np.iinfo(np.int32).max + 1)
    shuffles = np.random.RandomState(random_seed)
    shuffling, order = np.arange(rows), np.arange(rows)
    repeats: list[list[float]] = []
    while len(repeats) < IMPORTANCE_REPEATS:
        state.check_cancelled()
        # permutation_importance shuffles its index in place and applies it to the column
        # as shuffled so far: the column is the original in ``order``.
        shuffles.shuffle(shuffling)
        order = order[shuffling]
        repeats.append(
            [
                score
                for group in groups
                for score in _permuted_scores(
                    estimator, prepared, y_values, classifier, order, group
                )
            ]
        )
        spent = time.perf_counter() - started
        if spent + spent / len(repeats) > budget:
            break
    importances = baseline - np.array(repeats).T  # features × repeats, as scikit-learn's
    mean, std = np.mean(importances, axis=1), np.std(importances, axis=1)
    names = names or [f"feature {i}" for i in range(features)]
    ranked = np.argsort(-mean)
    return {
        "scorer": "score",
        "repeats": len(repeats),
        "features": [names[i] for i in ranked],
        "mean": [float(mean[i]) for i in ranked],
        "std": [float(std[i]) for i in ranked],
    }
