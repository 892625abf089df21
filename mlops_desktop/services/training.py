"""Training one job: fit the spec's pipeline (or search), measure it, and record a version.

Everything a finished job produces is written in one transaction: the model (skops), the
search table, plot data, metrics, signature and environment, the version row and the job's
end. The same spec and seed give the same metrics: every random choice is seeded.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import time
from contextlib import nullcontext
from importlib import metadata
from typing import TYPE_CHECKING

import joblib
import numpy as np

from mlops_desktop.domain import metrics as m
from mlops_desktop.domain.errors import Cancelled, UserError
from mlops_desktop.domain.experiment import ExperimentSpec
from mlops_desktop.domain.job import Job
from mlops_desktop.domain.model import ModelVersion
from mlops_desktop.domain.pipeline import scorers, split_holdout, splitter
from mlops_desktop.domain.signature import signature_of
from mlops_desktop.services.modelfiles import dump_model

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


def environment() -> dict:
    packages = {}
    for name in ENVIRONMENT_PACKAGES:
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            packages[name] = None
    from mlops_desktop.version import __version__

    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "mlops_desktop": __version__,
        "packages": packages,
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
            self._config = joblib.parallel_config(backend="dask", scheduler_host=address)
            self._config.__enter__()
            return client

        def __exit__(self, *exc_info):
            self._config.__exit__(*exc_info)
            client.close()

    return _Session(), -1


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
    split = split_holdout(datasets.load_frame(version), spec, plan.task)
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
    plots["permutation_importance"] = _importance(model, X_test, y_test, seed, fit_seconds, state)
    if results is not None:
        plots["search"] = m.search_curve(results, names[0])
    signature = signature_of(
        datasets.profile(version), plan.columns, plan.task, spec.target, classes
    )
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
            "predict_seconds": measured.predict_seconds,
            "model_sha256": file.blobs.put(model_bytes, compress=False),
            "plots_sha256": file.blobs.put(json.dumps(m.json_safe(plots)).encode()),
            "search_sha256": (
                file.blobs.put(json.dumps(m.json_safe(results)).encode())
                if results is not None
                else None
            ),
        }
        model_version = file.models.add(spec.model, **fields)
        file.jobs.finish(job.uuid, model_version.uuid)
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


def _score(estimator, X, y) -> float:
    """What ``estimator.score`` measures (accuracy, or R²), without the input checks that
    make it cost milliseconds a call: permutation importance calls it a hundred times."""
    predicted = estimator.predict(X)
    if hasattr(estimator, "classes_"):
        return float(np.mean(predicted == y))
    total = float(np.sum((y - np.mean(y)) ** 2))
    return 1.0 - float(np.sum((y - predicted) ** 2)) / total if total else 0.0


def _importance(model, X_test, y_test, seed: int, fit_seconds: float, state) -> dict | None:
    """Permutation importance of the model's input features (after preparation), scored by
    accuracy (classifiers) or R² (regressors) on the hold-out rows, as ``score`` would be.

    It works on the prepared matrix, so each permutation costs one call of the bare estimator
    rather than of the whole pipeline, and it repeats each shuffle as often as a time budget
    of about 3 % of the fit (at least a quarter of a second) allows, up to five times.
    """
    from sklearn.inspection import permutation_importance

    prepare, estimator = model[:-1], model[-1]
    try:
        names = [str(n) for n in prepare.get_feature_names_out()]
    except (AttributeError, ValueError):
        names = None
    prepared = prepare.transform(X_test)
    if hasattr(prepared, "toarray"):
        if prepared.shape[0] * prepared.shape[1] > 5_000_000:
            state.log("Permutation importance skipped: too many prepared features")
            return None
        prepared = prepared.toarray()
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
    started = time.perf_counter()
    _score(estimator, prepared, y_values)
    one_call = max(time.perf_counter() - started, 1e-5)
    budget = max(IMPORTANCE_BUDGET_FLOOR, IMPORTANCE_BUDGET_SHARE * fit_seconds)
    repeats = int(min(max(budget // (one_call * features), 1), IMPORTANCE_REPEATS))
    # Threads, not processes: predictions release the GIL, and a process pool would cost
    # more to start than the work. One per core this worker may use.
    threads = max(1, int(os.environ.get("OMP_NUM_THREADS", "0")) or (os.cpu_count() or 1))
    with joblib.parallel_config(backend="threading", n_jobs=threads):
        result = permutation_importance(
            estimator,
            prepared,
            y_values,
            scoring=_score,
            n_repeats=repeats,
            random_state=seed,
        )
    names = names or [f"feature {i}" for i in range(features)]
    order = np.argsort(-result.importances_mean)
    return {
        "scorer": "score",
        "repeats": repeats,
        "features": [names[i] for i in order],
        "mean": [float(result.importances_mean[i]) for i in order],
        "std": [float(result.importances_std[i]) for i in order],
    }
