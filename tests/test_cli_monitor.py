"""The monitor and thresholds commands."""

import json

import pytest

from mlops_desktop import Project
from tests.helpers import file_digest
from tests.services.test_training import train_flowers
from tests.test_cli import assert_user_error, run

PETAL = "petal length (cm)"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """flowers:1 trained on iris:1; iris:2 with longer petals; iris:3 without petal widths."""
    folder = tmp_path_factory.mktemp("cli-monitor")
    path = train_flowers(folder / "trained.mlops")
    with Project.open(path) as project:
        frame = project.datasets.load_frame("iris:1")
        shifted = frame.assign(**{PETAL: frame[PETAL] + 2.0})
        shifted.to_csv(folder / "shifted.csv", index=False)
        project.datasets.import_file(str(folder / "shifted.csv"), "iris")
        frame.drop(columns=["petal width (cm)"]).to_csv(folder / "narrow.csv", index=False)
        project.datasets.import_file(str(folder / "narrow.csv"), "iris")
    return path


@pytest.fixture
def path(trained, tmp_path):
    with Project.open(trained) as source:
        copy = source.save_copy(tmp_path / "monitor.mlops")
    # A shared copy is one self-contained file; opening it to write turns the journal on.
    Project.open(copy).close()
    return copy


def test_a_dataset_against_the_reference_with_a_line_per_alert(path):
    result = json.loads(
        run("monitor", path, "flowers:1", "--against", "iris:2", "--json", check_exit=0).stdout
    )
    assert result["status"] == "red"
    petal = next(f for f in result["features"] if f["name"] == PETAL)
    assert (petal["test"], petal["drift"]) == ("ks", True)
    assert petal["p_value"] < 0.01
    assert petal["psi"] > 0.25
    assert set(petal) >= {"name", "test", "statistic", "p_value", "psi", "drift"}
    assert not next(f for f in result["features"] if f["name"] == "sepal width (cm)")["drift"]
    assert result["alerts"]
    assert all(a["new"] for a in result["alerts"])
    assert {a["subject"] for a in result["alerts"]} >= {PETAL, "prediction"}
    again = run("monitor", path, "flowers:1", "--against", "iris:2", check_exit=0).stdout
    assert again.splitlines()[0].startswith("flowers:1 against iris:2")
    assert f"{PETAL[:24]:<24} ks" in again
    assert "alerts:" in again
    assert "NEW" not in again
    assert f"  still {PETAL}: psi" in again
    with Project.open(path, read_only=True) as project:
        recorded = [e for e in project.history(50) if e.action == "monitoring.alert"]
    assert len(recorded) == len(result["alerts"])


def test_bad_requests_are_one_error_line_and_change_nothing(path):
    before = file_digest(path)
    assert_user_error(run("monitor", path, "flowers:9"), "no model version flowers:9")
    assert_user_error(
        run("monitor", path, "flowers:1", "--against", "iris:3"), "lacks 'petal width (cm)'"
    )
    assert_user_error(run("monitor", path, "flowers:1"), "No predictions of flowers:1 were logged")
    assert_user_error(run("monitor", path, "flowers:1", "--since", "yesterday"), "not a time")
    assert_user_error(
        run("monitor", path, "flowers:1", "--against", "iris:1", "--since", "1d"),
        "drop them with --against",
    )
    assert file_digest(path) == before


def test_thresholds_are_shown_set_and_reset(path):
    shown = json.loads(run("thresholds", path, "--json", check_exit=0).stdout)
    assert (shown["psi_amber"], shown["psi_red"], shown["p_value"]) == (0.1, 0.25, 0.01)
    out = run("thresholds", path, "psi_red=0.5", "sla_p95_ms=120", check_exit=0).stdout
    assert "psi_red              0.5  (default 0.25)" in out
    assert_user_error(run("thresholds", path, "psi_red"), "is not NAME=VALUE")
    assert_user_error(run("thresholds", path, "psi_red=0.01"), "amber must come before red")
    reset = json.loads(run("thresholds", path, "--reset", "psi_red", "--json", check_exit=0).stdout)
    assert (reset["psi_red"], reset["sla_p95_ms"]) == (0.25, 120)


def test_labels_from_the_command_line(path, tmp_path):
    from tests.services.test_monitoring import iris, log_requests
    from tests.store.test_serving import T0

    with Project.open(path) as project:
        frame = iris(project, seed=5, rows=10)
        log_requests(project, frame, T0)
    labels = tmp_path / "labels.csv"
    rows = [f"r{T0}-{i},{t}" for i, t in enumerate(frame["target"])]
    labels.write_text("request_id,label\n" + "\n".join(rows) + "\n")
    result = json.loads(run("monitor", path, "flowers:1", "--labels", labels, "--json").stdout)
    assert result["labelled_rows"] == 10
    assert result["metrics"]["accuracy"]["live"] == 1.0
    text = run("monitor", path, "flowers:1", "--labels", labels).stdout
    assert "10 logged rows with a true value" in text
    assert_user_error(
        run("monitor", path, "flowers:1", "--labels", labels, "--against", "iris:2"), "--labels"
    )
