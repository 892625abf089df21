"""The model registry: browsing, notes and tags, aliases behind gates, deleting, lineage."""

import pytest

from mlops_desktop.domain.errors import UserError
from mlops_desktop.services.registry import GatesFailedError
from tests.services.test_training import run_queue, save, train_flowers


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One project with flowers:1 (a forest) and flowers:2 (a shallow tree), made once."""
    return train_flowers(tmp_path_factory.mktemp("registry") / "registry.mlops")


@pytest.fixture
def registry(trained, tmp_path):
    """A fresh copy of the trained project for each test."""
    from mlops_desktop.services.project import Project

    with Project.open(trained) as source:
        copy = source.save_copy(tmp_path / "copy.mlops")
    with Project.open(copy) as project:
        yield project


def test_browse_gives_one_row_per_version_with_its_main_metric(registry):
    rows = registry.models.browse()
    assert rows["model"] == ["flowers", "flowers"]
    assert rows["version"] == [1, 2]
    assert rows["estimator"] == ["RandomForestClassifier", "DecisionTreeClassifier"]
    assert rows["dataset"] == ["iris:1", "iris:1"]
    assert rows["metric"] == ["f1_macro", "f1_macro"]
    forest = registry.models.get("flowers:1")
    assert rows["cv"][0] == pytest.approx(forest.metrics["cv"]["f1_macro"]["mean"])
    assert rows["holdout"][0] == pytest.approx(forest.metrics["holdout"]["f1_macro"])
    assert rows["aliases"] == [None, None]


def test_notes_and_tags_are_the_only_edits_and_each_is_an_event(registry):
    registry.models.set_notes("flowers:1", "  the baseline  ")
    version = registry.models.set_tags("flowers:1", ["baseline", " iris ", "baseline", ""])
    assert (version.notes, version.tags) == ("the baseline", ["baseline", "iris"])
    actions = [e.action for e in registry.history()[:2]]
    assert actions == ["model.tags", "model.notes"]
    with pytest.raises(UserError, match="comma"):
        registry.models.set_tags("flowers:1", ["a,b"])
    assert registry.models.get("flowers:1").tags == ["baseline", "iris"]


def test_an_alias_without_gates_moves_and_the_move_is_recorded(registry):
    promotion = registry.models.promote("flowers:1", "production")
    assert promotion.outcome == "promoted"
    assert registry.models.get("flowers@production").label == "flowers:1"
    registry.models.promote("flowers:2", "production")
    assert registry.models.get("flowers@production").label == "flowers:2"
    history = registry.models.promotions("flowers")
    assert [(p.version_label, p.previous_label) for p in history] == [
        ("flowers:2", "flowers:1"),
        ("flowers:1", None),
    ]
    assert registry.models.browse()["aliases"] == [None, "production"]
    with pytest.raises(UserError, match="already points at flowers:2"):
        registry.models.promote("flowers:2", "production")


def test_a_failed_gate_blocks_the_promotion_but_the_attempt_is_recorded(registry):
    registry.models.promote("flowers:1", "production")
    registry.models.set_gates("flowers", "production", ["accuracy >= current - 0.01"])
    check = registry.models.check_promotion("flowers:2", "production")
    assert not check.passed
    assert check.holder_label == "flowers:1"
    assert "same rows" in check.basis
    with pytest.raises(GatesFailedError, match="override with a reason"):
        registry.models.promote("flowers:2", "production")
    assert registry.models.get("flowers@production").label == "flowers:1"
    blocked = registry.models.promotions("flowers")[0]
    assert (blocked.outcome, blocked.gates[0]["passed"]) == ("blocked", False)


def test_an_override_needs_a_reason_and_the_reason_is_kept(registry):
    registry.models.promote("flowers:1", "production")
    registry.models.set_gates("flowers", "production", ["accuracy >= 0.99"])
    promotion = registry.models.promote("flowers:2", "production", reason="demo for the class")
    assert promotion.outcome == "overridden"
    assert registry.models.get("flowers@production").label == "flowers:2"
    event = registry.history()[0]
    assert "overridden: demo for the class" in event.summary
    assert event.details["gates"][0]["passed"] is False


def test_gates_name_real_hold_out_metrics(registry):
    with pytest.raises(UserError, match="not a hold-out metric"):
        registry.models.set_gates("flowers", "production", ["rmse <= 1"])
    with pytest.raises(UserError, match="no model 'roses'"):
        registry.models.set_gates("roses", "production", ["accuracy >= 0.5"])
    assert registry.models.set_gates("flowers", "candidate", ["accuracy>=0.5"]) == [
        "accuracy >= 0.5"
    ]
    registry.models.set_gates("flowers", "candidate", [])
    assert registry.models.gates("flowers", "candidate") == []


def test_a_promotion_checked_against_a_holder_that_moved_since_is_refused(registry):
    registry.models.set_gates("flowers", "production", ["accuracy >= 0.1"])
    check = registry.models.check_promotion("flowers:2", "production")
    registry.models.promote("flowers:1", "production")
    with pytest.raises(UserError, match="changed while"):
        registry.models.promote("flowers:2", "production", check=check)
    assert registry.models.get("flowers@production").label == "flowers:1"


def test_a_holder_measured_on_other_rows_is_re_measured_on_the_candidate_s(registry, tmp_path):
    from sklearn.datasets import load_iris

    registry.models.promote("flowers:1", "production")
    frame = load_iris(as_frame=True).frame
    frame["target"] = frame["target"].map(dict(enumerate(["setosa", "versicolor", "virginica"])))
    frame.sample(frac=0.8, random_state=1).to_csv(tmp_path / "iris.csv", index=False)
    registry.datasets.import_file(str(tmp_path / "iris.csv"), "iris2")
    save(registry, name="other", dataset="iris2", model_name="flowers")
    run_queue(registry)
    registry.models.set_gates("flowers", "production", ["f1_macro >= current - 0.5"])
    check = registry.models.check_promotion("flowers:3", "production")
    assert "re-measured on flowers:3's hold-out rows" in check.basis
    assert check.passed


def test_alias_names_follow_the_naming_rules_and_unknown_aliases_say_which_exist(registry):
    with pytest.raises(UserError, match="alias name"):
        registry.models.promote("flowers:1", "prod:1")
    registry.models.promote("flowers:1", "candidate")
    with pytest.raises(UserError, match="Its aliases are: candidate"):
        registry.models.get("flowers@production")
    registry.models.remove_alias("flowers", "candidate")
    with pytest.raises(UserError, match="nothing to remove"):
        registry.models.remove_alias("flowers", "candidate")


def test_a_version_an_alias_points_at_cannot_be_deleted(registry):
    registry.models.promote("flowers:1", "production")
    with pytest.raises(UserError, match="while flowers@production points at it"):
        registry.models.delete("flowers:1")
    assert registry.models.delete("flowers:2") == "flowers:2"
    assert [v.label for v in registry.models.list()] == ["flowers:1"]
    job = registry.queue.job(2)
    assert job.model_version_uuid is None


def test_a_version_being_served_cannot_be_deleted(registry):
    serving = registry.serving
    session = serving.start_session("flowers:2", host="127.0.0.1", port=5123)
    with pytest.raises(UserError, match=r"while it is served at http://127\.0\.0\.1:5123"):
        registry.models.delete("flowers:2")
    assert [v.label for v in registry.models.list()] == ["flowers:1", "flowers:2"]
    serving.stop_session(session.uuid)
    assert registry.models.delete("flowers:2") == "flowers:2"


def test_version_numbers_are_never_reused_after_a_delete(registry):
    registry.models.delete("flowers:2")
    save(registry, name="again", model_name="flowers")
    run_queue(registry)
    assert [v.label for v in registry.models.list()] == ["flowers:1", "flowers:3"]


def test_compacting_after_a_delete_removes_the_version_s_blobs(registry):
    before = registry.file.conn.execute("SELECT count(*) FROM blobs").fetchone()[0]
    stump = registry.models.get("flowers:2")
    registry.models.delete("flowers:2")
    report = registry.compact()
    after = registry.file.conn.execute("SELECT count(*) FROM blobs").fetchone()[0]
    assert report.blobs_removed == before - after >= 2
    assert not registry.file.blobs.has(stump.model_sha256)
    assert registry.file.blobs.has(registry.models.get("flowers:1").model_sha256)
    assert report.bytes_after <= report.bytes_before
    assert registry.check().ok
    assert registry.compact().blobs_removed == 0


def test_lineage_walks_from_the_raw_file_to_the_aliases(registry):
    registry.models.promote("flowers:1", "production")
    steps = registry.models.lineage("flowers:1")
    assert [s.kind for s in steps] == [
        "raw_file",
        "dataset_version",
        "experiment",
        "job",
        "model_version",
        "alias",
    ]
    assert [s.label for s in steps][1:] == [
        "iris:1",
        "forest",
        "#1",
        "flowers:1",
        "flowers@production",
    ]
    assert steps[2].key == "forest"
    assert steps[3].key == "1"


def test_compare_needs_two_distinct_versions(registry):
    with pytest.raises(UserError, match="at least two"):
        registry.models.compare(["flowers:1"])
    with pytest.raises(UserError, match="same version twice"):
        registry.models.compare(["flowers:1", "flowers:1"])
    result = registry.models.compare(["flowers:1", "flowers:2"])
    assert result.tests[0].folds == 5
    assert result.tests[0].p is not None
