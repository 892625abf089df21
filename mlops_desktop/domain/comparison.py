"""Model versions side by side: metrics with deltas, what differs, and whether it is real.

Whether one version truly beats another is judged from their cross-validation folds with
the corrected resampled t-test (Nadeau and Bengio, 2003), the test Weka's experimenter uses:
fold scores share training rows, so a plain paired t-test would find differences that are
not there. The test needs both versions scored on the same folds, which holds when they were
trained on the same dataset version with the same split settings.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mlops_desktop.domain.metric_names import higher_is_better
from mlops_desktop.domain.model import ModelVersion

#: Below this p-value a difference is called real.
SIGNIFICANCE = 0.05


@dataclass(frozen=True)
class MetricRow:
    source: str  # "hold-out" or "CV"
    metric: str
    values: tuple[float | None, ...]

    @property
    def higher_is_better(self) -> bool:
        # Scorers (CV) are always "greater is better"; some hold-out metrics are errors.
        return self.source == "CV" or higher_is_better(self.metric)

    def deltas(self) -> list[float | None]:
        """Each value minus the first version's."""
        base = self.values[0]
        return [None if base is None or v is None else v - base for v in self.values]

    def best(self) -> int | None:
        known = [(v, i) for i, v in enumerate(self.values) if v is not None]
        if len(known) < 2 or len({v for v, _ in known}) == 1:
            return None
        pick = max if self.higher_is_better else min
        return pick(known)[1]


@dataclass(frozen=True)
class PairedTest:
    metric: str
    baseline: str
    other: str
    folds: int = 0
    difference: float | None = None  # other minus baseline, mean over folds
    t: float | None = None
    p: float | None = None
    reason: str | None = None  # why there is no test

    @property
    def significant(self) -> bool:
        return self.p is not None and self.p < SIGNIFICANCE

    def verdict(self) -> str:
        if self.reason:
            return f"{self.other} vs {self.baseline}: no test, {self.reason}."
        direction = "higher" if self.difference > 0 else "lower"
        head = (
            f"{self.other} scores {abs(self.difference):.4g} {direction} than {self.baseline} "
            f"on {self.metric} (mean of {self.folds} folds; p = {self.p:.3g})"
        )
        if self.difference == 0:
            return f"{self.other} and {self.baseline} score the same on every fold."
        if self.significant:
            return f"{head}: a real difference."
        return f"{head}: within what the folds vary by, so not shown to be real."

    def to_json(self) -> dict:
        return {
            "metric": self.metric,
            "baseline": self.baseline,
            "other": self.other,
            "folds": self.folds,
            "difference": self.difference,
            "t": self.t,
            "p": self.p,
            "significant": self.significant,
            "reason": self.reason,
            "verdict": self.verdict(),
        }


@dataclass(frozen=True)
class Comparison:
    labels: tuple[str, ...]
    metrics: tuple[MetricRow, ...]
    params: tuple[tuple[str, tuple, bool], ...]  # (name, values per version, differs)
    tests: tuple[PairedTest, ...]

    def to_json(self) -> dict:
        return {
            "versions": list(self.labels),
            "metrics": [
                {
                    "source": row.source,
                    "metric": row.metric,
                    "values": list(row.values),
                    "deltas": row.deltas(),
                }
                for row in self.metrics
            ],
            "params": [
                {"name": name, "values": list(values), "differs": differs}
                for name, values, differs in self.params
            ],
            "tests": [t.to_json() for t in self.tests],
        }


def corrected_resampled_ttest(baseline, other, test_to_train: float) -> tuple[float, float]:
    """t and two-sided p of the mean fold difference, its variance inflated by
    ``1/k + n_test/n_train`` to account for folds that overlap in training rows."""
    from scipy import stats

    differences = np.asarray(other, dtype=float) - np.asarray(baseline, dtype=float)
    k = len(differences)
    mean = float(differences.mean())
    variance = float(differences.var(ddof=1))
    if variance == 0:
        return (0.0, 1.0) if mean == 0 else (math.copysign(math.inf, mean), 0.0)
    t = mean / math.sqrt((1 / k + test_to_train) * variance)
    return t, float(2 * stats.t.sf(abs(t), k - 1))


def _why_not_paired(a: ModelVersion, b: ModelVersion) -> str | None:
    if a.dataset_version_uuid != b.dataset_version_uuid:
        return f"they were trained on different data ({a.dataset_label}, {b.dataset_label})"
    spec_a, spec_b = a.spec, b.spec
    if spec_a.get("target") != spec_b.get("target"):
        return "they predict different targets"
    if spec_a.get("validation") != spec_b.get("validation"):
        return "their hold-out or folds were split differently"
    if spec_a.get("search", {}).get("cv") != spec_b.get("search", {}).get("cv"):
        return "they used different numbers of folds"
    if spec_a.get("validation", {}).get("split") == "timeseries":
        return "time-series folds grow in size, which the test does not allow for"
    return None


def paired_test(a: ModelVersion, b: ModelVersion, metric: str | None = None) -> PairedTest:
    """Is ``b`` better than ``a`` on ``metric`` (default: ``a``'s primary CV metric)?"""
    metric = metric or a.metrics.get("primary")
    blank = PairedTest(metric or "", a.label, b.label)
    reason = _why_not_paired(a, b)
    scores_a = a.metrics.get("cv", {}).get(metric, {}).get("folds")
    scores_b = b.metrics.get("cv", {}).get(metric, {}).get("folds")
    if reason is None and not (scores_a and scores_b):
        reason = f"the fold scores of {metric} were not recorded for both"
    elif reason is None and (
        len(scores_a) != len(scores_b) or None in scores_a or None in scores_b
    ):
        reason = "some folds have no score"
    elif reason is None and len(scores_a) < 2:
        reason = "one fold is too few"
    if reason:
        return PairedTest(**{**blank.__dict__, "reason": reason})
    k = len(scores_a)
    t, p = corrected_resampled_ttest(scores_a, scores_b, 1 / (k - 1))
    difference = float(np.mean(scores_b) - np.mean(scores_a))
    return PairedTest(metric, a.label, b.label, k, difference, t, p)


def _flat(params: dict) -> dict:
    return {k: v for k, v in sorted(params.items())}


def compare(versions: list[ModelVersion]) -> Comparison:
    """The first version is the baseline each delta and test is measured against."""
    labels = tuple(v.label for v in versions)
    rows = []
    for source, key in (("CV", "cv"), ("hold-out", "holdout")):
        names = []
        for version in versions:
            names += [n for n in version.metrics.get(key, {}) if n not in names]
        for name in names:
            values = []
            for version in versions:
                value = version.metrics.get(key, {}).get(name)
                values.append(value.get("mean") if isinstance(value, dict) else value)
            rows.append(MetricRow(source, name, tuple(values)))
    facts = {
        "estimator": [v.estimator for v in versions],
        "dataset": [v.dataset_label for v in versions],
        "experiment": [v.experiment_name for v in versions],
    }
    params = [
        (name, tuple(values), len(set(map(repr, values))) > 1) for name, values in facts.items()
    ]
    names = []
    for version in versions:
        names += [n for n in _flat(version.params) if n not in names]
    for name in names:
        values = tuple(v.params.get(name) for v in versions)
        params.append((name, values, len({repr(x) for x in values}) > 1))
    tests = tuple(paired_test(versions[0], other) for other in versions[1:])
    return Comparison(labels, tuple(rows), tuple(params), tests)
