"""A version's plots drawn from the numbers training stored, with scikit-learn's displays.

The Models panel draws them on its canvases and the model card on Agg figures: the same code,
never the model itself. Each function takes a matplotlib ``Figure`` and clears it first.
"""

from __future__ import annotations

import numpy as np

#: What the drawing functions import: a GUI can import them off its main thread first.
MODULES = ("sklearn.metrics", "sklearn.calibration", "matplotlib.ticker")
#: (key, title) of each plot, in the order shown; a version has those its data allows.
PLOTS = (
    ("confusion_matrix", "Confusion matrix"),
    ("roc", "ROC curve"),
    ("precision_recall", "Precision-recall curve"),
    ("calibration", "Calibration"),
    ("predicted_vs_actual", "Predicted vs actual"),
    ("residuals", "Residuals"),
    ("permutation_importance", "Permutation importance"),
    ("search", "Search progress"),
)
#: Plots that several versions can share one set of axes for.
OVERLAYS = (("roc", "ROC curves"), ("precision_recall", "Precision-recall curves"))
_DATA_KEY = {"residuals": "predicted_vs_actual"}
MAX_IMPORTANCE_BARS = 20


def available(plots: dict) -> list[tuple[str, str]]:
    return [(key, title) for key, title in PLOTS if plots.get(_DATA_KEY.get(key, key))]


def draw(figure, key: str, plots: dict, title: str = "") -> None:
    """Draw plot ``key`` of one version's ``plots`` on ``figure``."""
    figure.clear()
    data = plots.get(_DATA_KEY.get(key, key))
    axes = figure.add_subplot()
    if not data:
        _empty(axes, "Not recorded for this version")
        return
    _DRAWERS[key](figure, axes, data)
    heading = dict(PLOTS)[key] + (f": {title}" if title else "")
    axes.set_title(heading, loc="left", fontsize=10)


def draw_overlay(figure, key: str, series: list[tuple[str, dict]]) -> None:
    """ROC or precision-recall curves of several versions on one set of axes. Multiclass
    versions contribute one curve per class, labelled ``version: class``."""
    from sklearn.metrics import PrecisionRecallDisplay, RocCurveDisplay

    figure.clear()
    axes = figure.add_subplot()
    drawn = 0
    for label, plots in series:
        curves = plots.get(key) or []
        for curve in curves:
            name = label if len(curves) == 1 else f"{label}: {curve['label']}"
            if key == "roc":
                RocCurveDisplay(
                    fpr=np.array(curve["x"]), tpr=np.array(curve["y"]), roc_auc=curve["auc"]
                ).plot(ax=axes, name=name)
            else:
                PrecisionRecallDisplay(
                    precision=np.array(curve["y"]),
                    recall=np.array(curve["x"]),
                    average_precision=curve["average_precision"],
                ).plot(ax=axes, name=name)
            drawn += 1
    if not drawn:
        _empty(axes, "None of these versions recorded this curve (no class probabilities)")
        return
    axes.legend(fontsize=7, loc="lower right" if key == "roc" else "lower left")
    axes.set_title(dict(OVERLAYS)[key], loc="left", fontsize=10)


def _empty(axes, text: str) -> None:
    axes.text(0.5, 0.5, text, ha="center", va="center", fontsize=10, wrap=True)
    axes.set_axis_off()


def _confusion(figure, axes, data) -> None:
    from sklearn.metrics import ConfusionMatrixDisplay

    labels = [str(label)[:20] for label in data["labels"]]
    rotation = "vertical" if len(labels) > 4 else "horizontal"
    ConfusionMatrixDisplay(np.array(data["matrix"]), display_labels=labels).plot(
        ax=axes, colorbar=False, cmap="Blues", xticks_rotation=rotation, values_format="d"
    )


def _roc(figure, axes, curves) -> None:
    from sklearn.metrics import RocCurveDisplay

    for curve in curves:
        RocCurveDisplay(
            fpr=np.array(curve["x"]), tpr=np.array(curve["y"]), roc_auc=curve["auc"]
        ).plot(ax=axes, name=curve["label"], plot_chance_level=curve is curves[-1])
    axes.legend(fontsize=7, loc="lower right")


def _precision_recall(figure, axes, curves) -> None:
    from sklearn.metrics import PrecisionRecallDisplay

    for curve in curves:
        PrecisionRecallDisplay(
            precision=np.array(curve["y"]),
            recall=np.array(curve["x"]),
            average_precision=curve["average_precision"],
        ).plot(ax=axes, name=curve["label"])
    axes.legend(fontsize=7, loc="lower left")


def _calibration(figure, axes, curves) -> None:
    from sklearn.calibration import CalibrationDisplay

    for curve in curves:
        CalibrationDisplay(np.array(curve["y"]), np.array(curve["x"]), np.array(curve["x"])).plot(
            ax=axes, name=curve["label"], ref_line=curve is curves[0]
        )
    axes.legend(fontsize=7, loc="upper left")


def _prediction_error(kind: str):
    def drawer(figure, axes, data) -> None:
        from sklearn.metrics import PredictionErrorDisplay

        PredictionErrorDisplay(
            y_true=np.array(data["actual"]), y_pred=np.array(data["predicted"])
        ).plot(ax=axes, kind=kind, scatter_kwargs={"alpha": 0.4, "s": 8})

    return drawer


def _importance(figure, axes, data) -> None:
    names = data["features"][:MAX_IMPORTANCE_BARS][::-1]
    means = data["mean"][:MAX_IMPORTANCE_BARS][::-1]
    spread = data["std"][:MAX_IMPORTANCE_BARS][::-1]
    axes.barh([str(n)[:30] for n in names], means, xerr=spread, color="#1f77b4")
    axes.axvline(0, color="grey", linewidth=0.8)
    axes.set_xlabel(f"drop in score when shuffled ({data['repeats']} repeats)")
    axes.tick_params(axis="y", labelsize=7)


def _search(figure, axes, data) -> None:
    scores = [np.nan if s is None else s for s in data["scores"]]
    best = [np.nan if s is None else s for s in data["best_so_far"]]
    tried = np.arange(1, len(scores) + 1)
    axes.scatter(tried, scores, s=10, alpha=0.6, label="candidate")
    axes.plot(tried, best, color="#d62728", label="best so far")
    from matplotlib.ticker import MaxNLocator

    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_xlabel("candidate, in the order tried")
    axes.set_ylabel(f"mean CV {data['scorer']}")
    axes.legend(fontsize=7, loc="lower right")


_DRAWERS = {
    "confusion_matrix": _confusion,
    "roc": _roc,
    "precision_recall": _precision_recall,
    "calibration": _calibration,
    "predicted_vs_actual": _prediction_error("actual_vs_predicted"),
    "residuals": _prediction_error("residual_vs_predicted"),
    "permutation_importance": _importance,
    "search": _search,
}
