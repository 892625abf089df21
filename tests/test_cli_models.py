"""The models commands: list, show, compare, annotate, gates, alias, evaluate, export, delete,
and project compact."""

import json

import pytest

from mlops_desktop import Project
from tests.helpers import file_digest
from tests.services.test_training import train_flowers
from tests.test_cli import assert_user_error, run


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """iris:1 and iris:2, with flowers:1 (a forest) and flowers:2 (a one-split tree)."""
    path = tmp_path_factory.mktemp("cli-models") / "trained.mlops"
    train_flowers(path)
    with Project.open(path) as project:
        project.datasets.import_file("sklearn:iris")
    return path


@pytest.fixture
def path(trained, tmp_path):
    with Project.open(trained) as source:
        copy = source.save_copy(tmp_path / "models.mlops")
    # A shared copy is one self-contained file; opening it to write turns the journal on.
    Project.open(copy).close()
    return copy


def as_json(*args):
    return json.loads(run(*args, "--json", check_exit=0).stdout)


def test_list_and_show_give_the_same_facts(path):
    listed = as_json("models", "list", path)["versions"]
    assert [v["label"] for v in listed] == ["flowers:1", "flowers:2"]
    shown = as_json("models", "show", path, "flowers:2")
    assert shown["metrics"] == listed[1]["metrics"]
    assert shown["params"] == listed[1]["params"] == {"max_depth": 1}
    assert set(shown["metrics"]["holdout"]) == {
        "accuracy",
        "balanced_accuracy",
        "precision_macro",
        "recall_macro",
        "f1_macro",
        "roc_auc",
        "log_loss",
    }  # scikit-learn's own metric names
    assert [step["kind"] for step in shown["lineage"]] == [
        "raw_file",
        "dataset_version",
        "experiment",
        "job",
        "model_version",
    ]
    text = run("models", "list", path, check_exit=0).stdout
    assert "flowers:1" in text
    assert "RandomForestClassifier" in text


def test_compare_reports_deltas_and_whether_they_are_real(path):
    result = as_json("models", "compare", path, "flowers:1", "flowers:2")
    assert result["versions"] == ["flowers:1", "flowers:2"]
    [test] = result["tests"]
    assert test["significant"] is True
    text = run("models", "compare", path, "flowers:1", "flowers:2", check_exit=0).stdout
    assert "max_depth" in text
    assert "a real difference" in text
    assert_user_error(
        run("models", "compare", path, "flowers:1", "flowers:1"), "same version twice"
    )


def test_annotate_changes_notes_and_tags_only(path):
    result = as_json(
        "models", "annotate", path, "flowers:1", "--notes", "baseline", "--tag", "iris"
    )
    assert (result["notes"], result["tags"]) == ("baseline", ["iris"])
    result = as_json("models", "annotate", path, "flowers:1", "--untag", "iris")
    assert result["tags"] == []
    assert_user_error(run("models", "annotate", path, "flowers:1"), "Nothing to change")


def test_a_failed_gate_blocks_the_alias_until_overridden(path):
    as_json("models", "gates", path, "flowers", "production", "accuracy >= 0.99")
    assert as_json("models", "gates", path, "flowers", "production")["gates"] == [
        "accuracy >= 0.99"
    ]
    before = file_digest(path)
    failed = run("models", "alias", path, "flowers:2", "production")
    assert_user_error(failed, "accuracy")
    listed = as_json("models", "list", path)["versions"]
    assert all(v["aliases"] == [] for v in listed)
    moved = as_json("models", "alias", path, "flowers:2", "production", "--reason", "a demo")
    assert (moved["outcome"], moved["reason"]) == ("overridden", "a demo")
    assert as_json("models", "show", path, "flowers@production")["version"] == 2
    assert file_digest(path) != before


def test_a_version_behind_an_alias_is_not_deleted_and_compact_reclaims_space(path):
    as_json("models", "alias", path, "flowers:1", "production")
    before = file_digest(path)
    assert_user_error(run("models", "delete", path, "flowers:1", "--yes"), "production")
    assert file_digest(path) == before
    assert as_json("models", "delete", path, "flowers:2", "--yes") == {"deleted": "flowers:2"}
    report = as_json("project", "compact", path)
    assert report["blobs_removed"] >= 1
    assert report["bytes_won"] >= 0
    assert [v["version"] for v in as_json("models", "list", path)["versions"]] == [1]
    run("project", "check", path, check_exit=0)


def test_evaluate_records_an_evaluation(path):
    evaluation = as_json("models", "evaluate", path, "flowers:1", "iris:2")
    assert evaluation["dataset"] == "iris:2"
    assert evaluation["rows"] == 150
    assert 0.9 <= evaluation["metrics"]["accuracy"] <= 1.0
    shown = as_json("models", "show", path, "flowers:1")
    assert [e["dataset"] for e in shown["evaluations"]] == ["iris:2"]
    assert_user_error(run("models", "evaluate", path, "flowers:1", "iris:9"), "iris:9")


@pytest.mark.parametrize(
    ("fmt", "name", "written"),
    [
        ("card", "card.md", ["card.md", "card.html", "card-plots"]),
        ("script", "retrain.py", ["retrain.py", "retrain.ipynb"]),
        ("mlflow", "model", ["model"]),
    ],
)
def test_export_writes_each_format(path, tmp_path, fmt, name, written):
    out = tmp_path / "out"
    out.mkdir()
    result = as_json("models", "export", path, "flowers:1", out / name, "--format", fmt)
    assert sorted(p.name for p in out.iterdir()) == sorted(written)
    assert len(result["paths"]) >= 1
    again = run("models", "export", path, "flowers:1", out / name, "--format", fmt)
    assert again.returncode == 1
    assert again.stderr.startswith("error: ")
    assert sorted(p.name for p in out.iterdir()) == sorted(written)


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("models", "show", "{path}", "flowers:7"), "flowers:7"),
        (("models", "show", "{path}", "trees:1"), "trees"),
        (("models", "alias", "{path}", "flowers:1", "prod/uction"), "'/'"),
        (("models", "gates", "{path}", "flowers", "production", "speed >= 3"), "speed"),
        (("models", "delete", "{path}", "flowers:9", "--yes"), "flowers:9"),
    ],
)
def test_user_errors_name_the_problem_and_change_nothing(path, args, fragment):
    before = file_digest(path)
    assert_user_error(run(*(str(path) if a == "{path}" else a for a in args)), fragment)
    assert file_digest(path) == before
