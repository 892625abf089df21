"""The same requests to ``mlflow models serve`` and to ours: the same answers.

Runs only where ``MLOPS_DESKTOP_MLFLOW_PYTHON`` names a Python with MLflow installed (for
example ``/work/mlflow-venv/bin/python``); skipped otherwise.
"""

import json
import os
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.serving.conftest import ServerProcess, free_port

MLFLOW_PYTHON = os.environ.get("MLOPS_DESKTOP_MLFLOW_PYTHON")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not MLFLOW_PYTHON or not Path(MLFLOW_PYTHON).exists(),
        reason="set MLOPS_DESKTOP_MLFLOW_PYTHON to a Python with MLflow to compare",
    ),
]
COLUMNS = ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"]
ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3], [5.9, 3.0, 4.2, 1.5]]
RECORDS = [dict(zip(COLUMNS, row, strict=True)) for row in ROWS]
GOOD = [
    {"dataframe_split": {"columns": COLUMNS, "data": ROWS}},
    {"dataframe_records": RECORDS},
    {"instances": RECORDS},
    {"inputs": {c: [r[i] for r in ROWS] for i, c in enumerate(COLUMNS)}},
]
BAD = [
    "{not json",
    "[1, 2]",
    json.dumps({"dataframe_split": GOOD[0]["dataframe_split"], "inputs": GOOD[3]["inputs"]}),
    json.dumps({"dataframe_records": [{COLUMNS[0]: 1.0}]}),
]


@pytest.fixture(scope="module")
def servers(served_project, serving_home, tmp_path_factory):
    folder = tmp_path_factory.mktemp("mlflow") / "flowers"
    _export(served_project, folder, serving_home)
    port = free_port()
    mlflow = subprocess.Popen(
        [
            MLFLOW_PYTHON,
            "-m",
            "mlflow",
            "models",
            "serve",
            "-m",
            folder,
            "-p",
            str(port),
            "--env-manager",
            "local",
            "-h",
            "127.0.0.1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        # mlflow runs "uvicorn" from PATH: the one beside its own Python.
        env={**os.environ, "PATH": f"{Path(MLFLOW_PYTHON).parent}:{os.environ.get('PATH', '')}"},
    )
    theirs = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if httpx.get(theirs + "/ping").status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.5)
    ours = ServerProcess([served_project, "flowers:1"], serving_home)
    yield theirs, ours.url
    ours.stop()
    mlflow.terminate()
    mlflow.wait(20)


def _export(project_path, folder, home):
    import sys

    subprocess.run(
        [
            sys.executable,
            "-m",
            "mlops_desktop",
            "models",
            "export",
            str(project_path),
            "flowers:1",
            str(folder),
            "--format",
            "mlflow",
        ],
        check=True,
        capture_output=True,
        env={**os.environ, "MLOPS_DESKTOP_HOME": str(home)},
    )


@pytest.mark.parametrize("payload", GOOD, ids=["split", "records", "instances", "inputs"])
def test_the_same_predictions(servers, payload):
    theirs, ours = (httpx.post(url + "/invocations", json=payload, timeout=30) for url in servers)
    assert theirs.status_code == ours.status_code == 200
    assert theirs.json() == ours.json()


def test_the_same_csv_predictions(servers):
    csv = ",".join(COLUMNS) + "\n" + "\n".join(",".join(map(str, r)) for r in ROWS) + "\n"
    theirs, ours = (
        httpx.post(url + "/invocations", content=csv, headers={"content-type": "text/csv"})
        for url in servers
    )
    assert theirs.json() == ours.json()


@pytest.mark.parametrize("body", BAD)
def test_the_same_refusals(servers, body):
    theirs, ours = (
        httpx.post(url + "/invocations", content=body, headers={"content-type": "application/json"})
        for url in servers
    )
    assert theirs.status_code == ours.status_code == 400
    assert set(ours.json()) == {"error_code", "message"}
    assert ours.json()["error_code"] == "BAD_REQUEST"
    # MLflow says INVALID_PARAMETER_VALUE (also 400) when a column is missing.
    assert theirs.json()["error_code"] in ("BAD_REQUEST", "INVALID_PARAMETER_VALUE")


def test_the_same_health_answers(servers):
    for path in ("/ping", "/health"):
        theirs, ours = (httpx.get(url + path) for url in servers)
        assert theirs.status_code == ours.status_code == 200
        assert theirs.text == ours.text
