"""``mlops-desktop serve`` refusals: one ``error:`` line and exit 1, before serving anything."""

import socket
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

import mlops_desktop
from mlops_desktop.services.project import Project
from tests.serving.conftest import ServerProcess, free_port


def serve(*args, home, timeout=60):
    return subprocess.run(
        [sys.executable, "-m", "mlops_desktop", "serve", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={"MLOPS_DESKTOP_HOME": str(home), "PATH": "/usr/bin:/bin"},
    )


def assert_user_error(result, fragment):
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert fragment in lines[0]
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("churn:9",), "no model version churn:9"),
        (("nosuch@production",), "no model 'nosuch'"),
        (("churn@staging",), "has no alias 'staging'"),
        (("churn",), "MODEL:N"),
        (("churn:1", "--host", "0.0.0.0"), "needs a token"),
        (("churn:1", "--host", "192.168.1.10"), "needs a token"),
        (("churn:1", "--token", "secret"), "too easy to guess"),
        (("churn:1", "--token", "a" * 40), "too easy to guess"),
        (("churn:1", "--port", "70000"), "from 1 to 65535"),
        (("churn:1", "--max-body-mib", "0"), "--max-body-mib"),
        (("churn:1", "--cors-origin", "*"), "not *"),
    ],
)
def test_user_errors(served_project, tmp_path, args, fragment):
    port = () if "--port" in args else ("--port", free_port())
    assert_user_error(serve(served_project, *args, *port, home=tmp_path), fragment)


def test_a_missing_project(tmp_path):
    assert_user_error(serve(tmp_path / "none.mlops", "churn:1", home=tmp_path), "no project file")


def test_a_busy_port_names_the_next_free_one(served_project, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = serve(served_project, "churn:1", "--port", port, home=tmp_path)
    assert_user_error(result, f"Port {port} on 127.0.0.1 is already in use: try --port ")
    suggested = int(result.stderr.split("--port ")[1].rstrip(".\n"))
    assert suggested > port


def _untrusted_type() -> bytes:
    import skops.io as sio

    return sio.dumps(warnings.WarningMessage("x", UserWarning, "f", 1))


def _pickle_running_code() -> bytes:
    import pickle

    from tests.services.test_hostile_files import _RunsCode

    return pickle.dumps(_RunsCode())


def _tampered_tree() -> bytes:
    from tests.services.test_hostile_files import _tampered_forest

    return _tampered_forest()


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        (_untrusted_type, "types that are not trusted"),
        (_pickle_running_code, "damaged"),
        (_tampered_tree, "child is outside the tree"),
    ],
    ids=["untrusted-type", "pickle", "tampered-tree"],
)
def test_a_hostile_model_is_refused_at_start(served_project, tmp_path, payload, fragment):
    copy = tmp_path / "hostile.mlops"
    with Project.open(served_project, read_only=True) as project:
        project.save_copy(copy)
    hostile = payload()
    with Project.open(copy) as project, project.file.transaction():
        good = project.models.get("flowers:1")
        fields = {
            key: getattr(good, key)
            for key in (
                "experiment_name",
                "spec",
                "dataset_version_uuid",
                "task",
                "estimator",
                "params",
                "metrics",
                "signature",
                "environment",
                "seed",
                "fit_seconds",
                "predict_seconds",
            )
        }
        fields["model_sha256"] = project.file.blobs.put(hostile)
        project.file.models.add("flowers", **fields)  # flowers:3, with a hostile model file
    result = serve(copy, "flowers:3", "--port", free_port(), home=tmp_path)
    assert_user_error(result, fragment)
    assert "Model version flowers:3 cannot be used." in result.stderr
    # The pickle's code would leave a file beside the program it ran in: it never ran.
    assert not (Path(mlops_desktop.__file__).parent / "__main__.py.pwned").exists()


def test_help_documents_every_option():
    result = subprocess.run(
        [sys.executable, "-m", "mlops_desktop", "serve", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0
    for word in (
        "--host",
        "--port",
        "--token",
        "generate",
        "--max-body-mib",
        "--timeout",
        "--cors-origin",
        "--allow-host",
        "/invocations",
        "/metadata",
        "dataframe_split",
        "predict_proba",
        "MODEL@ALIAS",
        "stdout",
    ):
        assert word in result.stdout, word


def test_a_token_from_the_environment(served_project, serving_home):
    token = "Zq3" + "x7Kp_Lm2-Vb9Nc4Rt6Yw8" * 2
    server = ServerProcess(
        [served_project, "flowers:2"], serving_home, env={"MLOPS_DESKTOP_SERVE_TOKEN": token}
    )
    try:
        import httpx

        assert "token" not in server.started
        assert httpx.get(server.url + "/metadata").status_code == 401
        good = httpx.get(server.url + "/metadata", headers={"authorization": f"Bearer {token}"})
        assert good.json()["label"] == "flowers:2"
    finally:
        assert server.stop() == 0
