"""Retraining a version on new data: its recipe and spec, a queued job, a review against the
alias holder on the same fresh hold-out rows, promotion through the gates, lineage."""

import pytest
from sklearn.datasets import load_iris

from mlops_desktop.domain.errors import UserError
from mlops_desktop.services.registry import GatesFailedError
from tests.services.test_evaluation import SPECIES, raw_csv
from tests.services.test_training import run_queue


def state_of(project):
    """Everything a refused retraining must leave as it was."""
    conn = project.file.conn
    return [
        conn.execute(f"SELECT count(*) FROM {table}").fetchone()
        for table in ("dataset_versions", "jobs", "retrains", "events", "blobs")
    ]


@pytest.fixture
def production(cleaned):
    """flowers:1 (trained on iris:2, the import iris:1 renamed) holds flowers@production."""
    cleaned.models.promote("flowers:1", "production")
    return cleaned


def test_a_raw_file_is_imported_cleaned_by_the_recipe_and_queued(production, tmp_path):
    retrain = production.retraining.start(
        "flowers:1", file=raw_csv(tmp_path / "april.csv", 1, 100), reason="petal drift"
    )
    assert (retrain.number, retrain.source_label) == (1, "flowers:1")
    assert (retrain.data_label, retrain.trained_on_label) == ("iris:3", "iris:4")
    cleaned_version = production.datasets.get("iris:4")
    assert cleaned_version.parent_label == "iris:3"
    assert [s["step"] for s in cleaned_version.recipe] == ["rename_columns"]
    job = production.queue.job(retrain.job_number)
    assert (job.status, job.spec["dataset"], job.spec["model_name"]) == (
        "queued",
        "iris:4",
        "flowers",
    )
    assert retrain.version_label is None
    assert production.history()[0].action == "model.retrain"

    # Not trained yet: nothing to review or promote.
    with pytest.raises(UserError, match="Job #2 is still queued"):
        production.retraining.review(1)
    with pytest.raises(UserError, match="no new version yet"):
        production.retraining.promote(1)

    run_queue(production)
    retrain = production.retraining.get(1)
    assert retrain.version_label == "flowers:2"
    review = production.retraining.review(1)
    assert (review.candidate, review.holder) == ("flowers:2", "flowers:1")
    assert review.basis == "flowers:1 re-measured on flowers:2's hold-out rows"
    assert set(review.holder_metrics) == set(review.candidate_metrics) >= {"accuracy"}
    # flowers:1 was not trained on these rows: its figures differ from its own hold-out's.
    assert review.holder_metrics != production.models.get("flowers:1").metrics["holdout"]
    assert review.passed  # no gates
    assert production.retraining.get(1).review == review

    promotion = production.retraining.promote(1)
    assert promotion.outcome == "promoted"
    assert [a.label for a in production.models.aliases_of(production.models.get("flowers:2"))] == [
        "flowers@production"
    ]

    # The loop in lineage, both ways.
    steps = production.models.lineage("flowers:2")
    assert (steps[0].kind, steps[0].label) == ("model_version", "flowers:1")
    assert "retrained on iris:3 by retraining #1 for flowers@production (petal drift)" in (
        steps[0].detail
    )
    assert [s.label for s in steps if s.kind == "dataset_version"] == ["iris:3", "iris:4"]
    back = production.models.lineage("flowers:1")[-1]
    assert (back.kind, back.label, back.key) == (
        "model_version",
        "flowers:2",
        production.models.get("flowers:2").uuid,
    )
    assert "retrained from this version by retraining #1 on iris:4: flowers:2 against " in (
        back.detail
    )


def test_prepared_data_is_trained_on_as_it_is(production, tmp_path):
    frame = load_iris(as_frame=True).frame.sample(n=90, random_state=3)
    frame["target"] = frame["target"].map(SPECIES)
    frame.to_csv(tmp_path / "may.csv", index=False)
    production.datasets.import_file(str(tmp_path / "may.csv"), "may")
    # An import goes through the recipe unless told it is prepared already.
    with pytest.raises(UserError, match="may:1 does not fit the recipe"):
        production.retraining.start("flowers:1", data="may:1")
    retrain = production.retraining.start("flowers:1", data="may:1", recipe="none")
    assert retrain.trained_on_label == retrain.data_label == "may:1"
    assert len(production.datasets.list()) == 3


def test_gates_judge_the_retrained_version_and_block_a_worse_one(production, tmp_path):
    production.models.set_gates("flowers", "production", ["accuracy >= current + 0.5"])
    production.retraining.start("flowers:1", file=raw_csv(tmp_path / "april.csv", 1, 100))
    run_queue(production)
    review = production.retraining.review(1)
    assert not review.passed
    assert review.gates[0].startswith("accuracy >= current + 0.5:")
    with pytest.raises(GatesFailedError, match="was not promoted to flowers@production"):
        production.retraining.promote(1)
    assert production.models.aliases_of(production.models.get("flowers:2")) == []
    overridden = production.retraining.promote(1, reason="the new month matters more")
    assert overridden.outcome == "overridden"
    assert "retrained from flowers:1 on iris:4" in overridden.reason


def test_bad_requests_are_refused_and_change_nothing(production, tmp_path):
    retraining = production.retraining
    before = state_of(production)
    with pytest.raises(UserError, match="a dataset version or a raw file"):
        retraining.start("flowers:1")
    with pytest.raises(UserError, match="a dataset version or a raw file"):
        retraining.start("flowers:1", data="iris:1", file="x.csv")
    with pytest.raises(UserError, match="iris:2 is the data flowers:1 was trained on"):
        retraining.start("flowers:1", data="iris:2")
    with pytest.raises(UserError, match="alias name 'a@b' contains '@'"):
        retraining.start("flowers:1", data="iris:1", alias="a@b")
    with pytest.raises(UserError, match="not a recipe choice"):
        retraining.start("flowers:1", data="iris:1", recipe="mine")
    # A file without the column the recipe renames: imported in the same transaction, so
    # the refusal leaves no dataset version behind.
    frame = load_iris(as_frame=True).frame
    frame.to_csv(tmp_path / "odd.csv", index=False)
    with pytest.raises(UserError, match="does not fit the recipe that prepared flowers:1"):
        retraining.start("flowers:1", file=str(tmp_path / "odd.csv"))
    # Data without the target does not fit the experiment.
    frame.drop(columns=["target"]).rename(columns={"sepal length (cm)": "sl"}).to_csv(
        tmp_path / "unlabelled.csv", index=False
    )
    with pytest.raises(UserError, match=r"experiment does not fit iris:.*no column 'target'"):
        retraining.start("flowers:1", file=str(tmp_path / "unlabelled.csv"))
    with pytest.raises(UserError, match=r"no labels|no file|not found|does not exist|No such"):
        retraining.start("flowers:1", file=str(tmp_path / "missing.csv"))
    with pytest.raises(UserError, match="There is no retraining #7"):
        retraining.review(7)
    assert state_of(production) == before


def test_a_failed_job_is_reported_by_the_review(production, tmp_path):
    production.retraining.start("flowers:1", file=raw_csv(tmp_path / "april.csv", 1, 100))
    production.queue.cancel(2)
    run_queue(production)
    with pytest.raises(UserError, match="Job #2 ended cancelled without a new version"):
        production.retraining.review(1)
