"""Drift statistics: references, PSI, the tests and their traffic lights."""

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from mlops_desktop.domain import drift as d
from mlops_desktop.domain.errors import UserError

T = d.Thresholds()


def training(rows=2000, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "age": rng.normal(40, 10, rows),
            "income": rng.lognormal(8, 0.5, rows),
            "city": rng.choice(["Lyon", "Paris", "Nice"], rows, p=[0.5, 0.3, 0.2]),
            "joined": pd.date_range("2026-01-01", periods=rows, freq="h"),
        }
    )


KINDS = {"age": "numeric", "income": "numeric", "city": "categorical", "joined": "datetime"}


def reference(frame=None, predictions=None, task="binary"):
    return d.reference_of(training() if frame is None else frame, KINDS, predictions, task)


def test_psi_is_the_textbook_sum():
    expected, actual = [50, 30, 20], [40, 30, 30]
    by_hand = (0.4 - 0.5) * math.log(0.4 / 0.5) + (0.3 - 0.2) * math.log(0.3 / 0.2)
    assert d.psi(expected, actual) == pytest.approx(by_hand)
    assert d.psi(expected, expected) == 0
    # An empty bin counts as rare (1e-4), not as an infinite change.
    assert d.psi([1, 1], [2, 0]) == pytest.approx(
        (1 - 0.5) * math.log(1 / 0.5) + (1e-4 - 0.5) * math.log(1e-4 / 0.5)
    )


def test_a_reference_is_compact_json():
    summary = reference(predictions=np.array(["yes"] * 30 + ["no"] * 70))
    json.dumps(summary, allow_nan=False)
    age = summary["columns"]["age"]
    assert len(age["edges"]) == 9  # deciles
    assert sum(age["counts"]) == 2000
    assert all(abs(c - 200) <= 1 for c in age["counts"])
    assert len(age["sketch"]) == d.SKETCH_POINTS
    assert age["sketch"] == sorted(age["sketch"])
    assert summary["columns"]["city"]["counts"]["Lyon"] > 900
    assert summary["prediction"]["counts"] == {"no": 70, "yes": 30}
    assert "joined" not in summary["columns"]
    assert "dates move on" in summary["skipped"]["joined"]


def test_the_same_distribution_is_green():
    report = d.drift(reference(), training(5000, seed=1), T)
    assert report.status == d.GREEN, [c.to_json() for c in report.columns]
    for column in report.columns:
        assert column.p_value > 0.01
        assert column.psi < 0.1
        assert not column.drift


def test_a_shifted_mean_flags_that_feature_alone():
    current = training(3000, seed=2)
    current["age"] += 8  # almost a standard deviation
    report = d.drift(reference(), current, T)
    age = report.column("age")
    assert (age.test, age.status, age.drift) == ("ks", d.RED, True)
    assert age.p_value < 1e-10
    assert age.psi > 0.25
    assert age.distance == pytest.approx(8, rel=0.1)  # Wasserstein: the shift itself
    assert age.effect == pytest.approx(0.8, rel=0.1)  # in reference standard deviations
    assert {c.measure for c in age.crossed} == {"psi", "wasserstein"}
    assert report.column("income").status == report.column("city").status == d.GREEN
    assert report.status == d.RED


def test_the_ks_test_is_scipy_s_on_the_reference_sketch():
    current = training(500, seed=3)
    summary = reference()["columns"]["income"]
    drift = d.compare("income", summary, current["income"], T)
    expected = stats.ks_2samp(summary["sketch"], current["income"])
    assert drift.statistic == pytest.approx(expected.statistic)
    assert drift.p_value == pytest.approx(expected.pvalue)


def test_new_categories_are_tested_and_counted():
    current = training(1000, seed=4)
    current.loc[:99, "city"] = "Berlin"  # 10 % in a city training never saw
    drift = d.compare("city", reference()["columns"]["city"], current["city"], T)
    assert drift.test == "chi2"
    assert drift.new_categories == pytest.approx(0.1)
    assert drift.bins[-1] == d.NEW
    assert drift.p_value < 1e-10
    table = np.array(
        [
            [*reference()["columns"]["city"]["counts"].values(), 0],
            [*(current["city"].value_counts()[["Lyon", "Paris", "Nice", "Berlin"]])],
        ]
    )
    chi2 = stats.chi2_contingency(table, correction=False)
    assert drift.statistic == pytest.approx(chi2.statistic)
    assert drift.effect == pytest.approx(math.sqrt(chi2.statistic / table.sum()))  # Cramér's V
    assert drift.status == d.RED
    assert "new_categories" in {c.measure for c in drift.crossed}


def test_with_many_categories_an_unknown_one_may_be_a_rare_one():
    names = pd.Series([f"c{i}" for i in range(300)] * 3)
    summary = d.summarize(names, "categorical")
    assert len(summary["counts"]) == d.TOP_CATEGORIES
    assert summary["other"] == 600
    drift = d.compare("code", summary, pd.Series(["zzz"] * 10 + ["c0"] * 10), T)
    assert drift.new_categories is None
    assert drift.bins[-1] == d.OTHER


def test_missing_values_are_a_change_of_their_own():
    current = training(2000, seed=5)
    current.loc[:599, "income"] = np.nan  # 30 % missing, none in training
    drift = d.compare("income", reference()["columns"]["income"], current["income"], T)
    assert drift.missing_reference == 0
    assert drift.missing_current == pytest.approx(0.3)
    assert [c.measure for c in drift.crossed] == ["missing"]
    assert drift.status == d.RED


def test_a_window_of_missing_values_is_explained_not_nan():
    drift = d.compare("age", reference()["columns"]["age"], pd.Series([np.nan] * 80), T)
    assert drift.test is None
    assert drift.psi is None
    assert "all 80 values are missing" in drift.note
    assert drift.status == d.RED
    json.dumps(drift.to_json(), allow_nan=False)


def test_a_constant_reference_column():
    summary = d.summarize(pd.Series([3.0] * 500), "numeric")
    same = d.compare("level", summary, pd.Series([3.0] * 200), T)
    assert same.status == d.GREEN
    assert "constant (3) in training" in same.note
    moved = d.compare("level", summary, pd.Series([4.0] * 200), T)
    assert moved.status == d.RED
    assert moved.effect == pytest.approx(1 / 3)
    json.dumps(moved.to_json(), allow_nan=False)


def test_a_large_but_unproven_change_stays_green():
    # Five values spread over ten bins: a PSI far over red, which is sampling noise.
    summary = reference()["columns"]["age"]
    drift = d.compare("age", summary, pd.Series([39.0, 41.0, 45.0, 30.0, 52.0]), T)
    assert drift.psi > T.psi_red
    assert drift.p_value > T.p_value
    assert drift.status == d.GREEN


def test_a_proven_but_tiny_change_stays_green():
    summary = d.summarize(pd.Series(["a", "b"] * 100_000), "categorical")
    current = pd.Series(["a"] * 102_000 + ["b"] * 98_000)  # 51 % instead of 50 %
    drift = d.compare("x", summary, current, T)
    assert drift.p_value < 1e-6
    assert drift.effect < 0.05
    assert drift.psi < 0.01
    assert drift.status == d.GREEN


def test_prediction_drift_and_columns_the_data_lacks():
    summary = reference(predictions=np.array(["yes"] * 300 + ["no"] * 700))
    current = training(1000, seed=6).drop(columns=["income"])
    report = d.drift(summary, current, T, np.array(["yes"] * 700 + ["no"] * 300))
    assert report.prediction.status == d.RED
    assert "income" in report.skipped
    assert report.skipped["joined"].startswith("dates move on")
    assert report.status == d.RED
    json.dumps(report.to_json(), allow_nan=False)


def test_a_regression_s_predictions_are_compared_as_numbers():
    rng = np.random.default_rng(7)
    summary = reference(predictions=rng.normal(0, 1, 1000), task="regression")
    assert summary["prediction"]["kind"] == "numeric"
    same = d.drift(summary, training(800, 8), T, rng.normal(0, 1, 800))
    assert same.prediction.status == d.GREEN


def test_thresholds_are_checked():
    changed = T.with_values({"psi_red": "0.3", "sla_p95_ms": 20})
    assert (changed.psi_red, changed.sla_p95_ms) == (0.3, 20)
    with pytest.raises(UserError, match="not a monitoring threshold: use one of psi_amber"):
        T.with_values({"psi": 0.3})
    with pytest.raises(UserError, match="must be a number"):
        T.with_values({"psi_red": "high"})
    with pytest.raises(UserError, match="amber must come before red"):
        T.with_values({"psi_amber": 0.5})
    with pytest.raises(UserError, match="a share"):
        T.with_values({"p_value": 5})


@pytest.mark.parametrize("shift", [0.0, 0.05, 0.5])
@pytest.mark.parametrize("rows", [3_000, 200_000])
def test_ks_is_scipy_s_two_sample_test(shift, rows):
    rng = np.random.default_rng(7)
    reference = np.sort(np.quantile(rng.normal(size=4_000), np.linspace(0, 1, 1_000)))
    current = np.sort(rng.normal(shift, 1.0, rows).round(2))  # rounded: runs of equal values
    expected = stats.ks_2samp(reference, current)
    statistic, p_value = d.ks_two_sample(reference, current)
    assert statistic == pytest.approx(expected.statistic, abs=1e-12)
    assert p_value == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-300)
