"""Exporting a model version as an MLflow Model directory, checked by MLflow itself if present."""

import errno
import json
import os
import pickle
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import skops.io as sio
import yaml

from mlops_desktop.domain.errors import Cancelled, UserError
from mlops_desktop.domain.experiment import ExperimentSpec
from mlops_desktop.domain.signature import InputColumn, Signature
from mlops_desktop.domain.tasks import TaskControl, quiet_state
from mlops_desktop.services import modelfiles
from mlops_desktop.services.exports import mlflow as export
from mlops_desktop.services.exports.mlflow import export_mlflow
from mlops_desktop.services.project import Project
from mlops_desktop.services.worker import Worker
from tests.helpers import leftovers

ROWS = 120
SPECS = [
    {
        "name": "iris",
        "dataset": "iris",
        "target": "target",
        "estimator": "RandomForestClassifier",
        "params": {"n_estimators": 10},
    },
    {
        "name": "rides",
        "dataset": "rides",
        "target": "label",
        "estimator": "RandomForestClassifier",
        "params": {"n_estimators": 10},
        # A boolean column cannot be imputed yet (SimpleImputer refuses bool).
        "features": {"columns": {"promo": {"impute": "none"}}},
    },
    {
        "name": "price",
        "dataset": "rides",
        "target": "price",
        "estimator": "Ridge",
        "features": {"columns": {"promo": {"impute": "none"}}},
    },
]
RIDES_INPUTS = [
    {"type": "long", "name": "id", "required": False},
    {"type": "datetime", "name": "day", "required": True},
    {"type": "string", "name": "store", "required": True},
    {"type": "double", "name": "visits", "required": True},  # whole numbers with gaps
    {"type": "boolean", "name": "promo", "required": True},
    {"type": "double", "name": "price", "required": True},
]


def rides() -> pa.Table:
    """Every kind of column: an identifier, dates, categories, gappy counts, flags, numbers."""
    return pa.table(
        {
            "id": list(range(ROWS)),
            "day": pa.array(pd.date_range("2024-01-01", periods=ROWS, freq="37h")),
            "store": [("north", "south", "east")[i % 3] for i in range(ROWS)],
            "visits": pa.array([None if i % 9 == 0 else i % 13 for i in range(ROWS)], pa.int64()),
            "promo": [i % 2 == 1 for i in range(ROWS)],
            "price": np.random.default_rng(0).normal(10, 2, ROWS),
            "label": [("low", "high")[int(i % 13 > 6)] for i in range(ROWS)],
        }
    )


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A project with one trained version per spec, shared by this module's tests."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLOPS_DESKTOP_HOME", str(tmp_path_factory.mktemp("home")))
        patch.setenv("MLOPS_DESKTOP_USER", "tester")
        project = Project.create(tmp_path_factory.mktemp("project") / "export.mlops")
        project.datasets.import_file("sklearn:iris")
        project.datasets.save_table(rides(), "rides")
        for spec in SPECS:
            project.experiments.save(ExperimentSpec.from_json(spec))
            project.queue.enqueue(spec["name"])
        Worker(str(project.path)).run()
    yield project
    project.close()


def version_of(project, name):
    return project.file.models.get(f"{name}:1")


def inputs_of(project, version) -> pd.DataFrame:
    frame = project.datasets.load_frame(version.dataset_label)
    return frame[[c["name"] for c in version.signature["inputs"]]]


def our_predictions(project, version, frame) -> list:
    model = modelfiles.load_model(project.file.blobs.get(version.model_sha256))
    return model.predict(frame).tolist()


def read_mlmodel(folder: Path) -> dict:
    return yaml.safe_load((folder / "MLmodel").read_text())


# -- layout ---------------------------------------------------------------------------------


def test_the_folder_is_laid_out_as_mlflow_lays_it_out(trained, tmp_path):
    version = version_of(trained, "rides")
    out = export_mlflow(trained, version, tmp_path / "rides", quiet_state())
    assert out == tmp_path / "rides"
    assert leftovers(tmp_path) == ["rides"]
    assert leftovers(out) == [
        "MLmodel",
        "code",
        "conda.yaml",
        "input_example.json",
        "model.skops",
        "python_env.yaml",
        "requirements.txt",
        "serving_input_example.json",
    ]
    blob = trained.file.blobs.get(version.model_sha256)
    assert (out / "model.skops").read_bytes() == blob
    mlmodel = read_mlmodel(out)
    packages = version.environment["packages"]
    assert mlmodel["flavors"] == {
        "python_function": {
            "code": "code",
            "env": {"conda": "conda.yaml", "virtualenv": "python_env.yaml"},
            "loader_module": "mlflow.sklearn",
            "model_path": "model.skops",
            "predict_fn": "predict",
            "python_version": version.environment["python"],
        },
        "sklearn": {
            "code": "code",
            "pickled_model": "model.skops",
            "serialization_format": "skops",
            "sklearn_version": packages["scikit-learn"],
            "skops_trusted_types": sorted(sio.get_untrusted_types(data=blob)),
        },
    }
    trusted = mlmodel["flavors"]["sklearn"]["skops_trusted_types"]
    assert "mlops_desktop.domain.transformers.DatetimeParts" in trusted
    assert mlmodel["mlflow_version"] == "3.9.0"
    assert len(mlmodel["model_uuid"]) == 32
    int(mlmodel["model_uuid"], 16)
    created = datetime.fromisoformat(mlmodel["utc_time_created"])
    assert abs((datetime.now() - created).total_seconds()) < 24 * 3600
    measured = [out / "model.skops", out / "input_example.json", out / "serving_input_example.json"]
    measured += [p for p in (out / "code").rglob("*") if p.is_file()]
    assert mlmodel["model_size_bytes"] == sum(p.stat().st_size for p in measured)
    assert mlmodel["metadata"]["mlops_desktop"]["model_version"] == "rides:1"
    assert mlmodel["saved_input_example_info"] == {
        "artifact_path": "input_example.json",
        "pandas_orient": "split",
        "serving_input_path": "serving_input_example.json",
        "type": "dataframe",
    }
    signature = mlmodel["signature"]
    assert json.loads(signature["inputs"]) == RIDES_INPUTS
    assert json.loads(signature["outputs"]) == [{"type": "string", "required": True}]
    assert signature["params"] is None
    assert mlmodel["is_signature_from_type_hint"] is False


def test_the_environment_pins_what_trained_the_model(trained, tmp_path):
    version = version_of(trained, "rides")
    out = export_mlflow(trained, version, tmp_path / "rides", quiet_state())
    packages = version.environment["packages"]
    requirements = (out / "requirements.txt").read_text().splitlines()
    assert requirements == [
        "mlflow>=3.9.0",
        f"numpy=={packages['numpy']}",
        f"pandas=={packages['pandas']}",
        f"scikit-learn=={packages['scikit-learn']}",
        f"scipy=={packages['scipy']}",
        f"skops=={packages['skops']}",
    ]
    python = version.environment["python"]
    conda = yaml.safe_load((out / "conda.yaml").read_text())
    assert conda == {
        "channels": ["conda-forge"],
        "dependencies": [f"python={python}", "pip", {"pip": requirements}],
        "name": "mlflow-env",
    }
    python_env = (out / "python_env.yaml").read_text()
    assert yaml.safe_load(python_env) == {
        "python": python,
        "build_dependencies": ["pip", "setuptools", "wheel"],
        "dependencies": ["-r requirements.txt"],
    }
    assert python_env.startswith("python: ")  # MLflow keeps this file in this order


def test_the_input_example_is_real_rows_in_mlflow_formats(trained, tmp_path):
    version = version_of(trained, "rides")
    out = export_mlflow(trained, version, tmp_path / "rides", quiet_state())
    example = json.loads((out / "input_example.json").read_text())
    assert example["columns"] == [c["name"] for c in RIDES_INPUTS]
    assert len(example["data"]) == export.EXAMPLE_ROWS
    first, second = example["data"][:2]
    assert first[:5] == [0, "2024-01-01T00:00:00", "north", None, False]
    assert second[:5] == [1, "2024-01-02T13:00:00", "south", 1.0, True]
    frame = trained.datasets.load_frame("rides")
    assert [row[5] for row in example["data"]] == frame["price"][:5].tolist()
    serving = json.loads((out / "serving_input_example.json").read_text())
    assert serving == {"dataframe_split": example}


def test_a_cloudpickle_export_for_older_mlflow(trained, tmp_path):
    version = version_of(trained, "rides")
    out = export_mlflow(trained, version, tmp_path / "old", quiet_state(), "cloudpickle")
    assert "model.pkl" in leftovers(out)
    assert "model.skops" not in leftovers(out)
    mlmodel = read_mlmodel(out)
    assert mlmodel["mlflow_version"] == "2.10.0"
    assert mlmodel["flavors"]["python_function"]["model_path"] == "model.pkl"
    sklearn = mlmodel["flavors"]["sklearn"]
    assert sklearn["serialization_format"] == "cloudpickle"
    assert sklearn["pickled_model"] == "model.pkl"
    assert sklearn["skops_trusted_types"] is None
    requirements = (out / "requirements.txt").read_text().splitlines()
    assert requirements[0].startswith("cloudpickle==")
    assert "mlflow>=2.10.0" in requirements
    assert not [r for r in requirements if r.startswith("skops")]
    # Our own file, just written: the one pickle these tests open.
    model = pickle.loads((out / "model.pkl").read_bytes())
    frame = inputs_of(trained, version)
    assert model.predict(frame).tolist() == our_predictions(trained, version, frame)


def test_a_model_without_our_transformers_carries_no_code(trained, tmp_path):
    out = export_mlflow(trained, version_of(trained, "iris"), tmp_path / "iris", quiet_state())
    assert not (out / "code").exists()
    flavors = read_mlmodel(out)["flavors"]
    assert "code" not in flavors["python_function"]
    assert flavors["sklearn"]["code"] is None


def test_a_regressor_outputs_doubles(trained, tmp_path):
    out = export_mlflow(trained, version_of(trained, "price"), tmp_path / "price", quiet_state())
    outputs = json.loads(read_mlmodel(out)["signature"]["outputs"])
    assert outputs == [{"type": "double", "required": True}]


def test_column_types_map_to_mlflow_types():
    def column(name, arrow_type, required=True):
        return InputColumn(name, arrow_type, "numeric", required)

    signature = Signature(
        inputs=(
            column("a", "int64"),
            column("b", "int32"),
            column("c", "int64"),
            column("d", "float"),
            column("e", "decimal128(10, 2)"),
            column("f", "bool"),
            column("g", "timestamp[ms, tz=UTC]"),
            column("h", "dictionary<values=string, indices=int32, ordered=0>"),
            column("i", "large_string"),
            column("j", "duration[s]", required=False),
        ),
        task="multiclass",
        target="y",
        classes=(1, 2, 3),
    )
    specs = export.column_specs(signature, missing={"c": 4})
    assert [(s["name"], s["type"]) for s in specs] == [
        ("a", "long"),
        ("b", "long"),  # never "integer": JSON requests carry 64-bit whole numbers
        ("c", "double"),
        ("d", "double"),
        ("e", "double"),
        ("f", "boolean"),
        ("g", "datetime"),
        ("h", "string"),
        ("i", "string"),
    ]
    assert export.output_type(signature) == "long"
    assert export.output_type(Signature((), "binary", "y", (False, True))) == "boolean"
    assert export.output_type(Signature((), "binary", "y", ("no", "yes"))) == "string"
    assert export.output_type(Signature((), "regression", "y")) == "double"
    used = Signature((column("j", "duration[s]"),), "regression", "y")
    with pytest.raises(UserError, match=r"'j' of type duration\[s\].*train again"):
        export.column_specs(used)


def test_zone_aware_dates_are_written_as_wall_clock_time():
    frame = pd.DataFrame(
        {"when": pd.to_datetime(["2024-03-01 09:30", None]).tz_localize("Europe/Paris")}
    )
    split = export.example_split(frame, [{"type": "datetime", "name": "when", "required": True}])
    assert split == {"columns": ["when"], "data": [["2024-03-01T09:30:00"], [None]]}


# -- our transformers, as source --------------------------------------------------------------


def test_the_transformers_source_stands_alone():
    source = export.standalone_source("mlops_desktop.domain.transformers")
    assert "mlops_desktop" not in "".join(
        line for line in source.splitlines() if line.startswith(("import", "from"))
    )
    namespace = {"__name__": "standalone"}
    exec(compile(source, "transformers.py", "exec"), namespace)
    parts = namespace["DatetimeParts"](parts=("year", "hour")).fit(pd.DataFrame({"d": [0]}))
    dates = pd.DataFrame({"d": pd.to_datetime(["2021-05-06 07:00"])})
    assert parts.transform(dates).tolist() == [[2021.0, 7.0]]


def test_modules_that_need_more_than_the_model_needs_are_refused():
    with pytest.raises(RuntimeError, match=r"Cancelled.*not a plain constant"):
        export.standalone_source("mlops_desktop.domain.tasks")
    with pytest.raises(RuntimeError, match="imports platformdirs"):
        export.standalone_source("mlops_desktop.services.paths")


# -- refusals and failures ------------------------------------------------------------------


def test_an_unknown_serialization_is_refused(trained, tmp_path):
    with pytest.raises(UserError, match="no MLflow serialization 'pickle': use 'skops'"):
        export_mlflow(trained, version_of(trained, "iris"), tmp_path / "m", quiet_state(), "pickle")
    assert leftovers(tmp_path) == []


def test_a_folder_that_is_not_empty_is_refused_and_left_alone(trained, tmp_path):
    out = tmp_path / "taken"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(UserError, match="already exists and is not empty: choose a new folder"):
        export_mlflow(trained, version_of(trained, "iris"), out, quiet_state())
    assert leftovers(out) == ["notes.txt"]
    assert (out / "notes.txt").read_text() == "mine"
    assert leftovers(tmp_path) == ["taken"]
    with pytest.raises(UserError, match="is a file"):
        export_mlflow(trained, version_of(trained, "iris"), out / "notes.txt", quiet_state())


def test_an_empty_folder_is_filled(trained, tmp_path):
    out = tmp_path / "empty"
    out.mkdir()
    export_mlflow(trained, version_of(trained, "iris"), out, quiet_state())
    assert "MLmodel" in leftovers(out)
    assert leftovers(tmp_path) == ["empty"]


def test_a_failure_leaves_nothing_behind(trained, tmp_path, monkeypatch):
    def full_disk(*args):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(export, "_write_environment", full_disk)
    with pytest.raises(UserError, match=r"No space left on device.*export again"):
        export_mlflow(trained, version_of(trained, "rides"), tmp_path / "m", quiet_state())
    assert leftovers(tmp_path) == []
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError):
        export_mlflow(trained, version_of(trained, "rides"), tmp_path / "empty", quiet_state())
    assert leftovers(tmp_path) == ["empty"]
    assert leftovers(tmp_path / "empty") == []


@pytest.mark.parametrize("steps", [1, 3, 5])
def test_a_cancel_leaves_nothing_behind(trained, tmp_path, steps):
    reports = []

    def count(fraction, message):
        reports.append(message)
        if len(reports) == steps:
            state.cancel()

    state = TaskControl(on_progress=count, min_interval=0)
    with pytest.raises(Cancelled):
        export_mlflow(trained, version_of(trained, "rides"), tmp_path / "m", state)
    assert leftovers(tmp_path) == []


def test_progress_is_reported_to_the_end(trained, tmp_path):
    seen = []
    state = TaskControl(on_progress=lambda f, m: seen.append((f, m)), min_interval=0)
    export_mlflow(trained, version_of(trained, "rides"), tmp_path / "m", state)
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions)
    assert seen[-1] == (1.0, f"Exported rides:1 to {tmp_path / 'm'}")


# -- MLflow itself ----------------------------------------------------------------------------

CHECK = """
import importlib.util, json, sys
assert importlib.util.find_spec("mlops_desktop") is None, "mlops_desktop is installed here"
import numpy as np, pandas as pd
import mlflow.pyfunc, mlflow.sklearn
from mlflow.models import Model

folder, rows = sys.argv[1], sys.argv[2]
frame = pd.read_parquet(rows)
pyfunc = mlflow.pyfunc.load_model(folder)
example = Model.load(folder).load_input_example(folder)
result = {
    "pyfunc": np.asarray(pyfunc.predict(frame)).tolist(),
    "example": np.asarray(pyfunc.predict(example)).tolist(),
    "sklearn": mlflow.sklearn.load_model(folder).predict(frame).tolist(),
    "transformers": getattr(sys.modules.get("mlops_desktop.domain.transformers"), "__file__", None),
}
print(json.dumps(result))
"""


def find_mlflow_python() -> str | None:
    """MLOPS_DESKTOP_MLFLOW_PYTHON, else the Python beside an ``mlflow`` on PATH that can
    import mlflow."""
    named = os.environ.get("MLOPS_DESKTOP_MLFLOW_PYTHON")
    if named:
        return named
    cli = shutil.which("mlflow")
    if cli is None:
        return None
    for name in ("python", "python3", "python.exe"):
        candidate = Path(cli).parent / name
        if candidate.exists():
            probe = subprocess.run(
                [candidate, "-c", "import mlflow"], capture_output=True, timeout=300
            )
            if probe.returncode == 0:
                return str(candidate)
    return None


@pytest.fixture(scope="module")
def mlflow_python():
    python = find_mlflow_python()
    if python is None:
        pytest.skip(
            "no MLflow to check the export with: set MLOPS_DESKTOP_MLFLOW_PYTHON to a Python "
            "that has mlflow, or put an mlflow executable on PATH"
        )
    return python


def mlflow_env(python: str) -> dict:
    """MLflow's own folder first on PATH (``mlflow models serve`` starts ``uvicorn`` by name),
    none of our paths, no telemetry, and model loading allowed whatever the caller's setting."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["PATH"] = os.pathsep.join([str(Path(python).parent), env.get("PATH", "")])
    env["MLFLOW_ALLOW_PICKLE_DESERIALIZATION"] = "true"
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    env["DO_NOT_TRACK"] = "true"
    return env


@pytest.mark.timeout(600)
@pytest.mark.parametrize(
    ("name", "serialization"),
    [("iris", "skops"), ("iris", "cloudpickle"), ("rides", "skops"), ("rides", "cloudpickle")],
)
def test_mlflow_loads_the_export_and_predicts_as_we_do(
    trained, tmp_path, mlflow_python, name, serialization
):
    version = version_of(trained, name)
    out = export_mlflow(trained, version, tmp_path / "model", quiet_state(), serialization)
    frame = inputs_of(trained, version)
    frame.to_parquet(tmp_path / "rows.parquet")
    run = subprocess.run(
        [mlflow_python, "-c", CHECK, str(out), str(tmp_path / "rows.parquet")],
        capture_output=True,
        text=True,
        timeout=540,
        cwd=tmp_path,  # not our checkout, whose mlops_desktop would be importable
        env=mlflow_env(mlflow_python),
    )
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.splitlines()[-1])
    ours = our_predictions(trained, version, frame)
    assert result["pyfunc"] == ours
    assert result["sklearn"] == ours
    assert result["example"] == ours[: export.EXAMPLE_ROWS]
    if name == "rides":
        assert Path(result["transformers"]).is_relative_to(out / "code")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_up(server: subprocess.Popen, url: str, deadline: float, log: Path) -> None:
    while time.monotonic() < deadline:
        if server.poll() is not None:
            # Its log holds the reason (often MLflow's own, e.g. a FastAPI it does not fit).
            tail = log.read_text(errors="replace")[-3000:]
            pytest.fail(f"mlflow models serve exited with {server.returncode}:\n{tail}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.25)
    pytest.fail("mlflow models serve did not answer /ping within 60 s")


def stop(server: subprocess.Popen) -> None:
    # Its own session: the group holds the server and the uvicorn it started, nothing else.
    try:
        os.killpg(server.pid, signal.SIGTERM)
    except ProcessLookupError:
        return  # the whole group has exited (the server failed): let its failure be reported
    try:
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=15)


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.skipif(not hasattr(os, "killpg"), reason="stops the server by process group")
def test_mlflow_models_serve_answers_the_serving_example(trained, tmp_path, mlflow_python):
    version = version_of(trained, "rides")
    out = export_mlflow(trained, version, tmp_path / "model", quiet_state())
    port = free_port()
    command = [mlflow_python, "-m", "mlflow", "models", "serve", "-m", str(out)]
    command += ["--env-manager", "local", "-h", "127.0.0.1", "-p", str(port)]
    with (tmp_path / "serve.log").open("w") as log:
        server = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
            env=mlflow_env(mlflow_python),
            start_new_session=True,
        )
    try:
        up_by = time.monotonic() + 60
        wait_until_up(server, f"http://127.0.0.1:{port}/ping", up_by, tmp_path / "serve.log")
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/invocations",
            data=(out / "serving_input_example.json").read_bytes(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            answer = json.loads(response.read())
    finally:
        stop(server)
    frame = inputs_of(trained, version)[: export.EXAMPLE_ROWS]
    assert answer == {"predictions": our_predictions(trained, version, frame)}
