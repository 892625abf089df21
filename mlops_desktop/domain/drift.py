"""Drift statistics: what a model's training data looked like, and how far new data moved."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from itertools import pairwise

import numpy as np
import pandas as pd

from mlops_desktop.domain.errors import UserError

REFERENCE_FORMAT = 1
DECILES = 10
#: Quantiles kept per numeric column for KS and Wasserstein: all values when there are fewer.
SKETCH_POINTS = 1000
TOP_CATEGORIES = 100
#: A bin's share is at least this in PSI, so an empty bin counts as rare rather than infinite.
PSI_FLOOR = 1e-4
GREEN, AMBER, RED = "green", "amber", "red"
STATUS_ORDER = {GREEN: 0, AMBER: 1, RED: 2}
NUMERIC_KINDS = frozenset({"numeric"})
CATEGORY_KINDS = frozenset({"categorical", "boolean"})
#: Why columns of the other kinds are not compared.
SKIPPED_KINDS = {
    "datetime": "dates move on with time, so a shift says nothing about the model",
    "text": "free text has no distribution to compare",
}
OTHER = "(other)"
NEW = "(new)"
MISSING = "(missing)"


@dataclass(frozen=True)
class Thresholds:
    """When a statistic turns a column amber or red (project settings ``monitoring.NAME``)."""

    psi_amber: float = 0.1
    psi_red: float = 0.25
    #: A test counts only below this p-value, and only with an effect of at least...
    p_value: float = 0.01
    effect_amber: float = 0.1
    effect_red: float = 0.25
    #: Change of the missing-value rate (absolute: 0.05 = five points).
    missing_amber: float = 0.05
    missing_red: float = 0.2
    #: Share of values in categories training never saw.
    new_category_amber: float = 0.01
    new_category_red: float = 0.1
    #: The service level: 95th-percentile latency (ms) and the share of failed requests.
    sla_p95_ms: float = 50.0
    sla_error_rate: float = 0.01

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    @classmethod
    def check_name(cls, name: str) -> None:
        if name not in cls.names():
            raise UserError(
                f"{name!r} is not a monitoring threshold: use one of {', '.join(cls.names())}."
            )

    def to_json(self) -> dict:
        return {name: getattr(self, name) for name in self.names()}

    def with_values(self, values: dict) -> Thresholds:
        """A copy with ``values`` (name -> number) changed, each checked."""
        changes = {}
        for name, value in values.items():
            self.check_name(name)
            try:
                number = float(value)
            except (TypeError, ValueError):
                raise UserError(f"The threshold {name} must be a number, not {value!r}.") from None
            if not math.isfinite(number) or number < 0:
                raise UserError(f"The threshold {name} must be a number of zero or more.")
            if name in ("p_value", "missing_amber", "missing_red") and number > 1:
                raise UserError(f"The threshold {name} is a share: give a number from 0 to 1.")
            changes[name] = number
        result = replace(self, **changes)
        for low, high in (
            ("psi_amber", "psi_red"),
            ("effect_amber", "effect_red"),
            ("missing_amber", "missing_red"),
            ("new_category_amber", "new_category_red"),
        ):
            if getattr(result, low) > getattr(result, high):
                raise UserError(
                    f"The threshold {low} ({getattr(result, low):g}) is above {high} "
                    f"({getattr(result, high):g}): amber must come before red."
                )
        return result


def worst(statuses) -> str:
    return max(statuses, key=STATUS_ORDER.__getitem__, default=GREEN)


def level_of(value: float | None, amber: float, red: float) -> str:
    if value is None:
        return GREEN
    return RED if value >= red else AMBER if value >= amber else GREEN


# -- the reference ------------------------------------------------------------------------


def _numbers(values: pd.Series) -> tuple[np.ndarray, int]:
    """The finite values of a column as floats, and how many were missing (or not numbers)."""
    floats = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    present = floats[np.isfinite(floats)]
    return present, len(floats) - len(present)


def _labels(values: pd.Series) -> tuple[pd.Series, int]:
    """A column's present values as text (categories compare by their text), and the number
    missing."""
    present = values[values.notna()]
    return present.astype(str), len(values) - len(present)


def summarize(values: pd.Series, kind: str) -> dict:
    """One column's reference: kind ``numeric`` (bins and quantiles) or ``categorical``."""
    rows = len(values)
    if kind == "numeric":
        present, missing = _numbers(values)
        summary: dict = {"kind": "numeric", "rows": rows, "missing": missing}
        if not present.size:
            return {**summary, "edges": [], "counts": [], "sketch": [], "std": None}
        ordered = np.sort(present)
        edges = np.unique(np.quantile(ordered, np.linspace(0, 1, DECILES + 1)[1:-1]))
        return {
            **summary,
            "edges": edges.tolist(),
            "counts": _bin_counts(ordered, edges).tolist(),
            "sketch": _sketch(ordered).tolist(),
            "std": float(np.std(ordered)),
        }
    labels, missing = _labels(values)
    counts = labels.value_counts(sort=True)
    top = counts.iloc[:TOP_CATEGORIES]
    return {
        "kind": "categorical",
        "rows": rows,
        "missing": missing,
        "counts": {str(k): int(v) for k, v in top.items()},
        "other": int(counts.iloc[TOP_CATEGORIES:].sum()),
    }


def _sketch(ordered: np.ndarray) -> np.ndarray:
    """Sorted values, or ``SKETCH_POINTS`` evenly spaced quantiles of them if more."""
    if ordered.size <= SKETCH_POINTS:
        return ordered
    return np.quantile(ordered, np.linspace(0, 1, SKETCH_POINTS))


def _bin_counts(ordered: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts of sorted values in the bins (-inf, e1), [e1, e2), ..., [ek, inf): the edges
    are looked up among the values (a few searches), not each value among the edges."""
    below = np.searchsorted(ordered, edges, side="left")  # values under each edge
    return np.diff(np.concatenate(([0], below, [len(ordered)])))


def reference_of(frame: pd.DataFrame, kinds: dict[str, str], predictions, task: str) -> dict:
    """The reference of a model: its training inputs' columns (``kinds``: name -> the kind
    training treated it as) and its predictions (classes, or numbers for a regression)."""
    columns, skipped = {}, {}
    for name, kind in kinds.items():
        if name not in frame.columns:
            continue
        if kind in NUMERIC_KINDS:
            columns[name] = summarize(frame[name], "numeric")
        elif kind in CATEGORY_KINDS:
            columns[name] = summarize(frame[name], "categorical")
        else:
            skipped[name] = SKIPPED_KINDS.get(kind, f"columns of kind {kind} are not compared")
    prediction = None
    if predictions is not None:
        prediction = summarize(
            pd.Series(np.asarray(predictions)),
            "numeric" if task == "regression" else "categorical",
        )
    return {
        "format": REFERENCE_FORMAT,
        "rows": len(frame),
        "columns": columns,
        "skipped": skipped,
        "prediction": prediction,
    }


# -- comparing ----------------------------------------------------------------------------


def psi(expected, actual) -> float:
    """Population stability index of two sets of bin counts (or shares), over the same bins:
    the sum over bins of (a - e) * ln(a / e), shares floored at ``PSI_FLOOR``."""
    e = np.asarray(expected, dtype=float)
    a = np.asarray(actual, dtype=float)
    e = np.maximum(e / e.sum(), PSI_FLOOR)
    a = np.maximum(a / a.sum(), PSI_FLOOR)
    return float(np.sum((a - e) * np.log(a / e)))


def cramers_v(chi2: float, n: int, shape: tuple[int, int]) -> float:
    """Cramér's V of a contingency table: 0 for no association, 1 for a complete one."""
    k = min(shape) - 1
    return math.sqrt(chi2 / (n * k)) if n and k else 0.0


@dataclass(frozen=True)
class Crossing:
    """One threshold a column crossed."""

    measure: str  # psi, test, missing, new_categories
    value: float
    threshold: float
    status: str

    def to_json(self) -> dict:
        return {
            "measure": self.measure,
            "value": self.value,
            "threshold": self.threshold,
            "status": self.status,
        }


@dataclass(frozen=True)
class ColumnDrift:
    """How one column (or the predictions) moved from the reference."""

    name: str
    kind: str  # numeric or categorical
    test: str | None  # ks or chi2; None when there was nothing to test
    statistic: float | None
    p_value: float | None
    effect_name: str | None  # wasserstein (in reference standard deviations) or cramers_v
    effect: float | None
    psi: float | None
    rows: int  # current rows (present and missing)
    missing_reference: float
    missing_current: float
    new_categories: float | None  # share of present values in categories training never saw
    status: str
    crossed: tuple[Crossing, ...]
    note: str = ""
    distance: float | None = None  # the raw Wasserstein distance, in the column's units
    bins: tuple[str, ...] = field(default_factory=tuple)
    reference_shares: tuple[float, ...] = field(default_factory=tuple)
    current_shares: tuple[float, ...] = field(default_factory=tuple)

    @property
    def drift(self) -> bool:
        return self.status != GREEN

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "kind": self.kind,
            "test": self.test,
            "statistic": self.statistic,
            "p_value": self.p_value,
            "effect_name": self.effect_name,
            "effect": self.effect,
            "distance": self.distance,
            "psi": self.psi,
            "rows": self.rows,
            "missing_reference": self.missing_reference,
            "missing_current": self.missing_current,
            "new_categories": self.new_categories,
            "status": self.status,
            "drift": self.drift,
            "crossed": [c.to_json() for c in self.crossed],
            "note": self.note,
            "histogram": {
                "bins": list(self.bins),
                "reference": list(self.reference_shares),
                "current": list(self.current_shares),
            },
        }


def _finite(value) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def _shares(counts) -> tuple[float, ...]:
    counts = np.asarray(counts, dtype=float)
    total = counts.sum()
    return tuple((counts / total).tolist()) if total else tuple(0.0 for _ in counts)


#: Up to this many current values scipy's ks_2samp runs as it is (its exact p-value).
KS_SCIPY_ROWS = 10_000


def ks_two_sample(reference: np.ndarray, current: np.ndarray) -> tuple[float, float]:
    """Two-sided two-sample Kolmogorov–Smirnov statistic and p-value of two sorted samples,
    the same as ``scipy.stats.ks_2samp``'s.

    For a large ``current`` (a million logged values) scipy evaluates both empirical CDFs at
    every value of both samples by binary search, most of the time of a drift report. Both
    are sorted here, so the larger one's CDF is exact at the end of each run of equal values
    without a search, and only the small sample is searched; the supremum is reached at one
    of those points. The p-value is scipy's asymptotic one (what it uses at this size)."""
    from scipy import stats

    if len(current) <= KS_SCIPY_ROWS:
        result = stats.ks_2samp(reference, current)
        return float(result.statistic), float(result.pvalue)
    n1, n2 = len(reference), len(current)
    ends = np.flatnonzero(np.diff(current)) if n2 > 1 else np.array([], dtype=np.int64)
    ends = np.append(ends, n2 - 1)  # the last position of each distinct value
    at_current = current[ends]
    # How many reference values are at or below each distinct current value, from where
    # each reference value falls among them: a thousand searches, not a million.
    falls = np.searchsorted(at_current, reference, side="left")
    reference_at = np.cumsum(np.bincount(falls, minlength=len(at_current) + 1))[:-1]
    gaps_current = np.abs(reference_at / n1 - (ends + 1) / n2)
    gaps_reference = np.abs(
        np.searchsorted(reference, reference, side="right") / n1
        - np.searchsorted(current, reference, side="right") / n2
    )
    d = float(max(gaps_current.max(), gaps_reference.max()))
    m, n = sorted([float(n1), float(n2)], reverse=True)
    p_value = float(np.clip(stats.kstwo.sf(d, np.round(m * n / (m + n))), 0, 1))
    return d, p_value


def _numeric_test(reference: dict, present: np.ndarray) -> dict:
    from scipy import stats

    edges = np.asarray(reference["edges"], dtype=float)
    sketch = np.asarray(reference["sketch"], dtype=float)
    present = np.sort(present)
    current = _bin_counts(present, edges)
    statistic, p_value = ks_two_sample(sketch, present)
    # Between the two quantile sketches: within a few percent of the distance over every
    # value, in a fifth of the time on a million of them.
    distance = float(stats.wasserstein_distance(sketch, _sketch(present)))
    std = reference["std"]
    note = ""
    if std:
        scale = std
    else:
        # A constant column has no spread to measure a move in: measure it against the value.
        scale = abs(sketch[0]) or 1.0
        note = f"constant ({sketch[0]:g}) in training, so any other value is a change"
    bins = (
        [f"< {edges[0]:.4g}"]
        + [f"{lo:.4g} – {hi:.4g}" for lo, hi in pairwise(edges)]
        + [f"≥ {edges[-1]:.4g}"]
    )
    return {
        "test": "ks",
        "statistic": _finite(statistic),
        "p_value": _finite(p_value),
        "effect_name": "wasserstein",
        "effect": _finite(distance / scale),
        "distance": _finite(distance),
        "psi": psi(reference["counts"], current),
        "bins": tuple(bins),
        "reference_shares": _shares(reference["counts"]),
        "current_shares": _shares(current),
        "note": note,
    }


def _categorical_test(reference: dict, labels: pd.Series) -> dict:
    from scipy import stats

    known = reference["counts"]
    current = labels.value_counts()
    seen = current.reindex(list(known), fill_value=0)
    unseen = int(current.sum() - seen.sum())
    names = list(known)
    reference_counts = list(known.values())
    current_counts = seen.tolist()
    if reference["other"] > 0:
        # Training's rare categories were pooled: a value outside the top ones may be one of
        # them, so it counts as "other" rather than new.
        names.append(OTHER)
        reference_counts.append(reference["other"])
        current_counts.append(unseen)
        new_share = None
    else:
        new_share = unseen / len(labels) if len(labels) else 0.0
        if unseen:
            names.append(NEW)
            reference_counts.append(0)
            current_counts.append(unseen)
    table = np.array([reference_counts, current_counts], dtype=float)
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2:
        statistic, p_value, effect = 0.0, 1.0, 0.0  # one category on both sides: no change
    else:
        result = stats.chi2_contingency(table, correction=False)
        statistic, p_value = float(result.statistic), float(result.pvalue)
        effect = cramers_v(statistic, int(table.sum()), table.shape)
    return {
        "test": "chi2",
        "statistic": _finite(statistic),
        "p_value": _finite(p_value),
        "effect_name": "cramers_v",
        "effect": _finite(effect),
        "psi": psi(reference_counts, current_counts),
        "new_categories": new_share,
        "bins": tuple(names),
        "reference_shares": _shares(reference_counts),
        "current_shares": _shares(current_counts),
    }


def compare(name: str, reference: dict, values: pd.Series, thresholds: Thresholds) -> ColumnDrift:
    """How ``values`` (the current data of one column) moved from its ``reference``.

    Four checks, each green, amber or red by its thresholds; the column takes the worst:
    PSI and the test's effect size (Wasserstein distance in reference standard deviations,
    or Cramér's V), both counted only when the test's p-value is below ``p_value``, so
    that neither a large but unproven change (PSI of a few hundred rows is noisy: about
    0.1 from sampling alone with 10 bins and 150 rows) nor a proven but tiny one (any
    difference is significant in a million rows) raises an alarm; the change of the
    missing-value rate; and the share of values in categories training never saw.
    """
    kind = reference["kind"]
    rows = len(values)
    if kind == "numeric":
        present, missing = _numbers(values)
        count = present.size
    else:
        present, missing = _labels(values)
        count = len(present)
    missing_reference = reference["missing"] / reference["rows"] if reference["rows"] else 0.0
    missing_current = missing / rows if rows else 0.0
    measured: dict = {}
    notes = []
    if not count:
        notes.append(
            f"all {rows:,} values are missing, so only the missing rate is compared"
            if rows
            else "no rows to compare"
        )
    elif reference["rows"] == reference["missing"]:
        notes.append("every value was missing in training, so only the missing rate is compared")
    elif kind == "numeric":
        measured = _numeric_test(reference, present)
    else:
        measured = _categorical_test(reference, present)
    if measured.get("note"):
        notes.append(measured["note"])
    crossed = []

    def check(measure, value, amber, red):
        level = level_of(value, amber, red)
        if level != GREEN:
            crossed.append(Crossing(measure, value, red if level == RED else amber, level))

    t = thresholds
    if measured:
        p_value = measured["p_value"]
        if p_value is not None and p_value < t.p_value:
            check("psi", measured["psi"], t.psi_amber, t.psi_red)
            check(measured["effect_name"], measured["effect"], t.effect_amber, t.effect_red)
        new = measured.get("new_categories")
        check("new_categories", new, t.new_category_amber, t.new_category_red)
    check("missing", abs(missing_current - missing_reference), t.missing_amber, t.missing_red)
    return ColumnDrift(
        name=name,
        kind=kind,
        test=measured.get("test"),
        statistic=measured.get("statistic"),
        p_value=measured.get("p_value"),
        effect_name=measured.get("effect_name"),
        effect=measured.get("effect"),
        psi=measured.get("psi"),
        rows=rows,
        missing_reference=missing_reference,
        missing_current=missing_current,
        new_categories=measured.get("new_categories"),
        status=worst(c.status for c in crossed),
        crossed=tuple(crossed),
        note="; ".join(notes),
        distance=measured.get("distance"),
        bins=measured.get("bins", ()),
        reference_shares=measured.get("reference_shares", ()),
        current_shares=measured.get("current_shares", ()),
    )


@dataclass(frozen=True)
class DriftReport:
    """Every compared column of the current data, and the predictions, against a reference."""

    rows: int
    columns: tuple[ColumnDrift, ...]
    prediction: ColumnDrift | None
    skipped: dict  # column -> why it is not compared

    @property
    def status(self) -> str:
        every = [*self.columns, *([self.prediction] if self.prediction else [])]
        return worst(c.status for c in every)

    def column(self, name: str) -> ColumnDrift:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(name)

    def to_json(self) -> dict:
        return {
            "rows": self.rows,
            "status": self.status,
            "features": [c.to_json() for c in self.columns],
            "prediction": self.prediction.to_json() if self.prediction else None,
            "skipped": dict(self.skipped),
        }


def drift(
    reference: dict, frame: pd.DataFrame, thresholds: Thresholds, predictions=None, map_fn=map
) -> DriftReport:
    """Compare ``frame`` (one column per reference column, under the same names) and, if
    given, the ``predictions`` made for it, with ``reference``; a reference column the
    frame lacks is reported as skipped. ``map_fn`` (a thread pool's ``map``) compares the
    columns side by side: sorting and searching them release the GIL."""
    skipped = dict(reference.get("skipped", {}))
    work = []
    for name, summary in reference["columns"].items():
        if name in frame.columns:
            work.append((name, summary, frame[name]))
        else:
            skipped[name] = "not in the data compared (the model's inputs differ from these)"
    judged = predictions is not None and reference.get("prediction") is not None
    if judged:
        work.append(("prediction", reference["prediction"], pd.Series(predictions)))
    compared = list(map_fn(lambda item: compare(*item, thresholds), work))
    prediction = compared.pop() if judged else None
    return DriftReport(len(frame), tuple(compared), prediction, skipped)
