"""The demo project: built from generated data with every stage of the lifecycle in it."""

import pytest

from mlops_desktop import Project
from mlops_desktop.domain.errors import Cancelled, UserError
from mlops_desktop.services import demo
from mlops_desktop.services.demo import NEW_AREA, build_demo, milk_months
from tests.helpers import cancelling_after, leftovers


def test_the_generated_sales_are_messy_like_an_export_and_january_has_drifted():
    history = milk_months(0, demo.HISTORY_MONTHS)
    january = milk_months(demo.HISTORY_MONTHS, 1, drifted=True)
    assert len(history) > demo.STORES * demo.HISTORY_MONTHS  # rows sent twice
    assert history["avg_temp_c"].isna().mean() == pytest.approx(0.05, abs=0.01)
    assert history["postcode_area"].str.startswith(" ").any()
    assert set(january["month"]) == {"2026-01"}
    assert january["promotion_days"].mean() > 2 * history["promotion_days"].mean()
    assert NEW_AREA in set(january["postcode_area"].str.strip().str.upper())
    assert NEW_AREA not in set(history["postcode_area"].str.strip().str.upper())
    # The same seed gives the same data: the demo is the same on every machine.
    assert milk_months(0, 2).equals(milk_months(0, 2))


def test_every_stage_of_the_lifecycle_has_something_to_show(demo_project):
    with Project.open(demo_project, read_only=True) as project:
        assert project.check().ok
        labels = {d.label for d in project.datasets.list()}
        assert labels == {
            "milk:1",
            "milk:2",
            "milk:3",
            "milk:4",
            "breast_cancer:1",
            "january-outcomes:1",
        }
        milk2, milk4 = project.datasets.get("milk:2"), project.datasets.get("milk:4")
        assert (
            [s["step"] for s in milk2.recipe]
            == [s["step"] for s in milk4.recipe]
            == [
                "drop_duplicates",
                "clean_text",
                "fill_missing",
            ]
        )
        assert milk2.parent_label == "milk:1"
        assert milk4.parent_label == "milk:3"

        experiments = {e.name: project.experiments.get(e.name) for e in project.experiments.list()}
        assert set(experiments) == {"milk-baseline", "milk-forecast", "tumour-classifier"}
        assert experiments["milk-forecast"].search.strategy == "grid"
        assert {j.status for j in project.queue.jobs()} == {"done"}

        models = project.models
        assert {v.label for v in models.list()} == {"milk:1", "milk:2", "tumours:1"}
        production = {a.label: a.version for a in models.aliases()}
        assert set(production) == {"milk@production", "tumours@production"}
        served = models.get(f"milk:{production['milk@production']}")
        assert served.metrics["holdout"]["r2"] > 0.8
        assert models.gates("milk", "production")
        assert [e.dataset_label for e in models.evaluations(served)] == ["milk:4"]

        sessions = project.serving.sessions(served)
        assert len(sessions) == 1
        assert sessions[0].requests == 420
        # The drift it was built with is the drift monitoring finds.
        report = project.monitoring.served_drift(served, since=None)
        status = {c.name: c.status for c in report.drift.columns}
        assert status["promotion_days"] == status["postcode_area"] == "red"
        assert status["rainy_days"] == "green"
        assert any(e.action == "monitoring.alert" for e in project.history(500))
        live = project.monitoring.performance(served, "january-outcomes")
        assert live.labelled == 120
        assert live.live["mean_absolute_error"] > live.training["mean_absolute_error"]


def test_an_existing_demo_is_kept_unless_rebuilt(demo_project, tmp_path):
    with pytest.raises(UserError, match="already exists: open it, or rebuild it"):
        build_demo(demo_project)


def test_a_cancelled_build_leaves_nothing(tmp_path):
    with pytest.raises(Cancelled):
        build_demo(tmp_path / "Demo.mlops", cancelling_after(6))
    assert leftovers(tmp_path) == []
