"""What a trained model is measured by: hold-out metrics and the data behind its plots.

Plots are kept as numbers (curves, matrices, points), never as images, so the Models panel
redraws them with matplotlib and never needs the model itself.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from mlops_desktop.domain.metric_names import (  # noqa: F401  (re-exported)
    CLASSIFICATION_METRICS,
    LOWER_IS_BETTER,
    REGRESSION_METRICS,
    higher_is_better,
)

#: At most this many points of a scatter plot are kept.
MAX_POINTS = 2000
CURVE_POINTS = 200


def _number(value) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def json_safe(value):
    """cv_results_ and friends as JSON: arrays to lists, masked and non-finite to None."""
    if isinstance(value, np.ma.MaskedArray):
        return [
            None if masked else json_safe(v)
            for v, masked in zip(value.data, np.ma.getmaskarray(value), strict=True)
        ]
    if isinstance(value, np.ndarray):
        return [json_safe(v) for v in value.tolist()]
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, np.generic):
        return json_safe(value.item())
    if isinstance(value, float):
        return value if np.isfinite(value) else None
    if value is None or isinstance(value, str | int | bool):
        return value
    return repr(value)  # an estimator object inside a parameter grid


def classification_metrics(y_true, y_pred, proba, classes) -> dict[str, float | None]:
    from sklearn import metrics

    # precision_score, recall_score and f1_score each compute all three (and check their
    # inputs, which costs more than the sums): one call gives the same numbers.
    precision, recall, f1, _ = metrics.precision_recall_fscore_support(
        y_true, y_pred, average="macro", zero_division=0
    )
    result = {
        "accuracy": metrics.accuracy_score(y_true, y_pred),
        "balanced_accuracy": metrics.balanced_accuracy_score(y_true, y_pred),
        "precision_macro": precision,
        "recall_macro": recall,
        "f1_macro": f1,
        "roc_auc": None,
        "log_loss": None,
    }
    present = set(np.unique(y_true))
    if proba is not None and len(present) > 1:
        if len(classes) == 2:
            result["roc_auc"] = metrics.roc_auc_score(y_true, proba[:, 1])
        elif present == set(classes):
            result["roc_auc"] = metrics.roc_auc_score(
                y_true, proba, multi_class="ovr", labels=classes
            )
        if present <= set(classes):  # a label the model never saw has no probability
            result["log_loss"] = metrics.log_loss(y_true, proba, labels=classes)
    return {k: None if v is None else _number(v) for k, v in result.items()}


def regression_metrics(y_true, y_pred) -> dict[str, float | None]:
    from sklearn import metrics

    return {
        "mean_absolute_error": _number(metrics.mean_absolute_error(y_true, y_pred)),
        "root_mean_squared_error": _number(metrics.root_mean_squared_error(y_true, y_pred)),
        "r2": _number(metrics.r2_score(y_true, y_pred)) if len(y_true) > 1 else None,
        "mean_absolute_percentage_error": _number(
            metrics.mean_absolute_percentage_error(y_true, y_pred)
        ),
    }


@dataclass(frozen=True)
class Measured:
    metrics: dict
    plots: dict
    classes: list
    predict_seconds: float
    #: ``X`` as the pipeline's final estimator saw it (after every preparation step), for
    #: what else is measured on the same rows (permutation importance).
    prepared: object = field(default=None, repr=False, compare=False)
    #: What the model predicted for ``X``: the model's reference keeps their distribution.
    predicted: object = field(default=None, repr=False, compare=False)


def measure(model, X, y, task: str, seed: int, plots: bool = True) -> Measured:
    """Predict ``X`` with a fitted pipeline and score it against ``y``: the hold-out metrics
    and plot data training records, and what an evaluation or a gate check measures.

    The rows are prepared once: the predictions and the probabilities both come from the
    final estimator on that one prepared matrix (what ``predict`` and ``predict_proba`` of the
    pipeline would each compute again), and every metric and plot reuses them.
    """
    steps = getattr(model, "steps", None)
    started = time.perf_counter()
    if steps is not None and len(steps) > 1:
        prepared, final = model[:-1].transform(X), steps[-1][1]
    else:
        prepared, final = X, (steps[-1][1] if steps else model)
    predicted = final.predict(prepared)
    predict_seconds = time.perf_counter() - started
    classes = list(getattr(final, "classes_", []))
    if task == "regression":
        return Measured(
            regression_metrics(y, predicted),
            regression_plots(y, predicted, seed) if plots else {},
            [],
            predict_seconds,
            prepared,
            predicted,
        )
    proba = final.predict_proba(prepared) if hasattr(final, "predict_proba") else None
    return Measured(
        classification_metrics(y, predicted, proba, classes),
        classification_plots(y, predicted, proba, classes, seed) if plots else {},
        classes,
        predict_seconds,
        prepared,
        predicted,
    )


def _thin(values: np.ndarray, count: int = CURVE_POINTS) -> np.ndarray:
    """Evenly chosen indices so a curve keeps its shape in ``count`` points."""
    if len(values) <= count:
        return np.arange(len(values))
    return np.unique(np.linspace(0, len(values) - 1, count).round().astype(int))


def _curve(x, y) -> dict:
    keep = _thin(np.asarray(x))
    return {
        "x": [float(v) for v in np.asarray(x)[keep]],
        "y": [float(v) for v in np.asarray(y)[keep]],
    }


def classification_plots(y_true, y_pred, proba, classes, seed: int) -> dict:
    from sklearn import metrics
    from sklearn.calibration import calibration_curve

    labels = [str(c) for c in classes]
    matrix = metrics.confusion_matrix(y_true, y_pred, labels=classes)
    plots: dict = {"confusion_matrix": {"labels": labels, "matrix": matrix.tolist()}}
    if proba is None:
        return plots
    # Binary: the positive class only; multiclass: one versus the rest for each class.
    targets = [1] if len(classes) == 2 else range(len(classes))
    roc, pr, calibration = [], [], []
    y_true = np.asarray(y_true)
    for index in targets:
        positive = (y_true == classes[index]).astype(int)
        if positive.min() == positive.max():
            continue  # a class absent from the hold-out has no curve
        scores = proba[:, index]
        fpr, tpr, _ = metrics.roc_curve(positive, scores)
        roc.append(
            {"label": labels[index], "auc": _number(metrics.auc(fpr, tpr)), **_curve(fpr, tpr)}
        )
        precision, recall, _ = metrics.precision_recall_curve(positive, scores)
        pr.append(
            {
                "label": labels[index],
                "average_precision": _number(metrics.average_precision_score(positive, scores)),
                **_curve(recall, precision),
            }
        )
        bins = max(2, min(10, len(positive) // 10))
        observed, predicted = calibration_curve(positive, scores, n_bins=bins)
        calibration.append(
            {"label": labels[index], "x": predicted.tolist(), "y": observed.tolist()}
        )
    plots.update(roc=roc, precision_recall=pr, calibration=calibration)
    return plots


def regression_plots(y_true, y_pred, seed: int) -> dict:
    y_true, y_pred = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
    keep = np.arange(len(y_true))
    if len(keep) > MAX_POINTS:
        keep = np.sort(np.random.default_rng(seed).choice(len(keep), MAX_POINTS, replace=False))
    return {
        "predicted_vs_actual": {"actual": y_true[keep].tolist(), "predicted": y_pred[keep].tolist()}
    }


def search_curve(cv_results: dict, scorer: str) -> dict | None:
    """The search's learning curve: each candidate's mean CV score, in the order tried."""
    key = f"mean_test_{scorer}" if f"mean_test_{scorer}" in cv_results else "mean_test_score"
    if key not in cv_results:
        return None
    scores = [_number(v) if v == v else None for v in cv_results[key]]
    best, running = None, []
    for score in scores:
        if score is not None and (best is None or score > best):
            best = score
        running.append(best)
    curve = {"scorer": scorer, "scores": scores, "best_so_far": running}
    if "iter" in cv_results:  # successive halving: the round each candidate was scored in
        curve["round"] = [int(i) for i in cv_results["iter"]]
    return curve
