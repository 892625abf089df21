"""The retrain commands: start (and wait, review, promote), list, review, promote."""

import json

import pytest

from mlops_desktop import Project
from mlops_desktop.domain.recipe import RenameColumns
from tests.helpers import file_digest
from tests.services.test_evaluation import raw_csv
from tests.services.test_training import run_queue, save
from tests.test_cli import assert_user_error, run


@pytest.fixture
def path(tmp_path):
    """flowers:1, trained on iris:2 (the import iris:1 with one column renamed), holds
    flowers@production."""
    path = tmp_path / "retrain.mlops"
    with Project.create(path) as project:
        raw = project.datasets.import_file(raw_csv(tmp_path / "march.csv", 0), "iris")
        project.datasets.clean(raw, [RenameColumns({"sl": "sepal length (cm)"})])
        save(project, name="forest", dataset="iris:2", model_name="flowers")
        run_queue(project)
        project.models.promote("flowers:1", "production")
    return path


def test_start_wait_and_promote_in_one_command(path, tmp_path):
    april = raw_csv(tmp_path / "april.csv", 1, 100)
    result = run(
        "retrain", "start", path, "flowers:1", "--file", april, "--wait", "--promote", "--json"
    )
    assert result.returncode == 0, result.stderr
    retrain = json.loads(result.stdout)
    assert (retrain["data"], retrain["trained_on"], retrain["version"]) == (
        "iris:3",
        "iris:4",
        "flowers:2",
    )
    review = retrain["review"]
    assert review["holder"] == "flowers:1"
    assert review["passed"]
    assert set(review["metrics"]["accuracy"]) == {"candidate", "holder"}
    with Project.open(path, read_only=True) as project:
        assert project.models.aliases("flowers")[0].version == 2

    listed = run("retrain", "list", path, check_exit=0).stdout
    assert listed.startswith("#1    flowers:1      on iris:4")
    assert "-> flowers:2" in listed
    assert "gates pass" in listed
    # Promoted: there is nothing left to judge.
    assert_user_error(
        run("retrain", "review", path, "1"), "flowers@production already points at flowers:2"
    )


def test_start_queues_and_review_and_promote_follow(path, tmp_path):
    april = raw_csv(tmp_path / "april.csv", 1, 100)
    queued = run("retrain", "start", path, "flowers:1", "--file", april, check_exit=0).stdout
    assert queued.startswith("Retraining #1: queued job #2 on iris:4.")
    assert_user_error(run("retrain", "review", path, "1"), "Job #2 is still queued")
    run("queue", "run", path, check_exit=0)
    text = run("retrain", "review", path, "1", check_exit=0).stdout
    assert text.startswith("flowers:2 against flowers:1 on flowers:2's hold-out rows")
    assert "accuracy" in text
    promoted = run("retrain", "promote", path, "1", check_exit=0).stdout
    assert promoted.strip() == "flowers:2 is now flowers@production."


def test_bad_requests_are_one_error_line_and_change_nothing(path, tmp_path):
    before = file_digest(path)
    assert_user_error(run("retrain", "start", path, "flowers:1"), "a dataset version or a raw file")
    assert_user_error(
        run("retrain", "start", path, "flowers:1", "--data", "iris:1", "--promote"),
        "--promote needs --wait",
    )
    assert_user_error(run("retrain", "start", path, "flowers:9", "--data", "iris:1"), "flowers:9")
    assert_user_error(run("retrain", "promote", path, "3"), "There is no retraining #3")
    assert file_digest(path) == before
