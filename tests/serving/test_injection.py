"""Synthetic drift for demonstrations: checked specs, changed copies, a server that says so."""

import json
import re

import httpx
import numpy as np
import pytest

from mlops_desktop.domain.errors import UserError
from mlops_desktop.services.predictors import served_columns
from mlops_desktop.services.project import Project
from mlops_desktop.serving.injection import Injector, parse_injections
from tests.helpers import copy_project
from tests.serving.conftest import ServerProcess, free_port
from tests.serving.test_serve_command import assert_user_error, serve
from tests.serving.test_server import ROWS


@pytest.fixture(scope="module")
def columns(served_project):
    with Project.open(served_project, read_only=True) as project:
        return served_columns(project.models.get("churn:1"))


def test_specs_become_injections(columns):
    found = parse_injections(("tenure*1.5", "monthly - 10", "plan=basic@0.3"), columns)
    assert [i.text for i in found] == ["tenure*1.5", "monthly-10", "plan=basic@0.3"]


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ("tenure", "write COLUMN+X"),
        ("age*2", "no input 'age'"),
        ("plan*2", "is not a number column"),
        ("tenure=5@0.5", "takes numbers"),
        ("autopay=maybe@0.5", "takes true or false"),
        ("plan=basic@1.5", "above 0 and up to 1"),
    ],
)
def test_bad_specs_are_refused_with_the_reason(columns, spec, fragment):
    with pytest.raises(UserError, match=re.escape(fragment)):
        parse_injections((spec,), columns)


def test_the_injector_changes_a_copy(columns):
    injector = Injector(parse_injections(("tenure+10", "plan=max@0.5"), columns))
    rows = 2000
    given = {
        "tenure": np.arange(rows, dtype=np.float64),
        "plan": np.array(["basic"] * rows, dtype=object),
    }
    changed = injector.apply(given, rows)
    assert changed["tenure"].tolist() == (given["tenure"] + 10).tolist()
    assert 0.45 < np.mean(changed["plan"] == "max") < 0.55
    assert set(given["plan"]) == {"basic"}  # the request's own arrays are left alone


def test_the_server_injects_logs_and_says_so(served_project, serving_home, tmp_path):
    copy = copy_project(served_project, tmp_path / "demo.mlops")
    server = ServerProcess([copy, "churn:1", "--inject-drift", "tenure*3"], serving_home)
    try:
        assert server.started["injected_drift"] == "tenure*3"
        with httpx.Client(base_url=server.url, timeout=10) as client:
            answer = client.post("/invocations", json={"dataframe_records": ROWS[:1]})
            metadata = client.get("/metadata").json()
        assert answer.status_code == 200
        assert answer.headers["x-drift-injected"] == "tenure*3"
        assert metadata["injected_drift"] == "tenure*3"
    finally:
        assert server.stop() == 0
    with Project.open(copy, read_only=True) as project:
        version = project.models.get("churn:1")
        logged = project.serving.predictions_frame(
            version.uuid, session_uuid=server.started["session"]
        )
    assert logged["tenure"].tolist() == [ROWS[0]["tenure"] * 3]


def test_a_bad_spec_stops_the_server_before_it_serves(served_project, tmp_path):
    result = serve(
        served_project, "churn:1", "--inject-drift", "age*2", "--port", free_port(), home=tmp_path
    )
    assert_user_error(result, "no input 'age'")


def test_injected_drift_is_what_monitoring_then_finds(served_project, serving_home, tmp_path):
    """The teacher's demonstration: ordinary rows in, drift found in the served traffic."""
    copy = copy_project(served_project, tmp_path / "class.mlops")
    with Project.open(copy, read_only=True) as project:
        rows = project.datasets.load_frame("churn").drop(columns=["id", "churned"])
    body = {
        "dataframe_split": json.loads(rows.to_json(orient="split", index=False, date_format="iso"))
    }
    server = ServerProcess([copy, "churn:1", "--inject-drift", "tenure*3"], serving_home)
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            assert client.post("/invocations", json=body).status_code == 200
    finally:
        assert server.stop() == 0
    with Project.open(copy) as project:
        report = project.monitoring.served_drift("churn:1")
    assert report.drift.column("tenure").status == "red"
    assert report.drift.column("monthly").status == "green"
