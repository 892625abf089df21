"""Comparing versions: deltas, parameter differences and the corrected resampled t-test."""

import math

import numpy as np
import pytest
from scipy import stats

from mlops_desktop.domain.comparison import compare, corrected_resampled_ttest, paired_test
from mlops_desktop.domain.model import ModelVersion

SPEC = {"target": "y", "validation": {"holdout": 0.2, "seed": 42}, "search": {"cv": 5}}


def version(number, folds, holdout=None, dataset="d1", spec=SPEC, **params):
    known = [f for f in folds if f is not None]
    mean = float(np.mean(known)) if known else None
    return ModelVersion(
        uuid=f"u{number}",
        model_uuid="m",
        name="m",
        version=number,
        experiment_name="e",
        spec=spec,
        dataset_version_uuid=dataset,
        dataset_label=f"data:{dataset}",
        task="binary",
        estimator="LogisticRegression",
        params=params,
        metrics={
            "primary": "accuracy",
            "cv": {"accuracy": {"mean": mean, "std": 0.0, "folds": folds}},
            "holdout": holdout or {"accuracy": mean, "log_loss": 0.3},
        },
        signature={},
        environment={},
        seed=42,
        fit_seconds=1.0,
        predict_seconds=0.1,
        model_sha256="x",
        plots_sha256=None,
        search_sha256=None,
        created_at="2026-11-26T00:00:00Z",
        created_by="tester",
    )


def test_the_corrected_test_matches_its_formula():
    a = [0.80, 0.82, 0.79, 0.81, 0.80]
    b = [0.83, 0.84, 0.80, 0.85, 0.82]
    t, p = corrected_resampled_ttest(a, b, 1 / 4)
    d = np.subtract(b, a)
    expected = d.mean() / math.sqrt((1 / 5 + 1 / 4) * d.var(ddof=1))
    assert t == pytest.approx(expected)
    assert p == pytest.approx(2 * stats.t.sf(abs(expected), 4))


def test_the_correction_makes_the_test_more_cautious_than_a_plain_paired_t_test():
    a = [0.80, 0.82, 0.79, 0.81, 0.80]
    b = [0.81, 0.84, 0.80, 0.83, 0.80]
    _, corrected = corrected_resampled_ttest(a, b, 1 / 4)
    plain = stats.ttest_rel(b, a).pvalue
    assert corrected > plain


def test_identical_folds_mean_no_difference_and_constant_shifts_are_certain():
    assert corrected_resampled_ttest([0.5, 0.6], [0.5, 0.6], 1.0) == (0.0, 1.0)
    t, p = corrected_resampled_ttest([0.5, 0.6], [0.6, 0.7], 1.0)
    assert (t, p) == (math.inf, 0.0)


def test_a_clear_improvement_is_called_real_and_noise_is_not():
    base = version(1, [0.70, 0.72, 0.69, 0.71, 0.70])
    better = version(2, [0.90, 0.91, 0.89, 0.92, 0.90])
    noisy = version(3, [0.71, 0.70, 0.72, 0.69, 0.71])
    real = paired_test(base, better)
    assert real.significant
    assert "a real difference" in real.verdict()
    assert real.difference == pytest.approx(0.2, abs=0.01)
    noise = paired_test(base, noisy)
    assert not noise.significant
    assert "not shown to be real" in noise.verdict()


@pytest.mark.parametrize(
    ("other", "reason"),
    [
        (version(2, [0.9] * 5, dataset="d2"), "different data"),
        (version(2, [0.9] * 5, spec={**SPEC, "validation": {"seed": 1}}), "split differently"),
        (version(2, [0.9] * 5, spec={**SPEC, "search": {"cv": 3}}), "numbers of folds"),
        (version(2, [0.9, None, 0.9, 0.9, 0.9]), "no score"),
        (version(2, []), "not recorded"),
    ],
)
def test_versions_not_scored_on_the_same_folds_get_no_test_and_a_reason(other, reason):
    result = paired_test(version(1, [0.8] * 5), other)
    assert result.p is None
    assert reason in result.reason
    assert result.verdict().startswith("m:2 vs m:1: no test")


def test_compare_lists_metrics_with_deltas_the_best_and_parameter_differences():
    a = version(1, [0.8] * 5, holdout={"accuracy": 0.8, "log_loss": 0.4}, C=1.0, max_iter=100)
    b = version(2, [0.9] * 5, holdout={"accuracy": 0.9, "log_loss": 0.3}, C=10.0, max_iter=100)
    result = compare([a, b])
    rows = {(r.source, r.metric): r for r in result.metrics}
    accuracy = rows[("hold-out", "accuracy")]
    assert accuracy.deltas() == [0.0, pytest.approx(0.1)]
    assert accuracy.best() == 1
    assert rows[("hold-out", "log_loss")].best() == 1  # smaller is better for a loss
    params = {name: (values, differs) for name, values, differs in result.params}
    assert params["C"] == ((1.0, 10.0), True)
    assert params["max_iter"] == ((100, 100), False)
    assert params["estimator"][1] is False
    assert result.to_json()["tests"][0]["baseline"] == "m:1"
