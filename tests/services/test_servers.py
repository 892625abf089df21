"""Model servers started and watched as child processes, and the examples to call them."""

import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from mlops_desktop.services import servers
from mlops_desktop.services.servers import (
    CRASHED,
    SERVING,
    STOPPED,
    ServerManager,
    curl_example,
    example_task,
    python_example,
)
from tests.serving.conftest import free_port

TOKEN = "k3Vq9-xZpL2mW8rT_4nYc6HbJ0sDfGaE"


def eventually(condition, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the condition did not come true in time"
        time.sleep(0.05)


def post(url: str, body: dict, token: str | None = None) -> list:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(
        url + "/invocations", data=json.dumps(body).encode(), headers=headers
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)["predictions"]


@pytest.fixture(scope="module")
def running(served_project):
    """Two servers at once: churn@production (logging), flowers:1 with a token, no log."""
    manager = ServerManager()
    churn = manager.start(served_project, "churn@production", port=free_port())
    flowers = manager.start(
        served_project, "flowers:1", port=free_port(), token=TOKEN, log_predictions=False
    )
    assert churn.wait_serving(60), churn.stderr
    assert flowers.wait_serving(60), flowers.stderr
    yield manager, churn, flowers
    manager.stop_all()


def test_a_server_serves_and_reports_its_stats(running, served_project):
    _, churn, _ = running
    assert churn.state == SERVING
    assert churn.url == f"http://127.0.0.1:{churn.port}"
    assert churn.docs == churn.url + "/docs"
    assert churn.engine in ("onnxruntime", "scikit-learn")
    assert churn.reason
    assert churn.serving_label == "churn:1"
    body = example_task(str(served_project), "churn@production", None)
    for _ in range(5):
        assert len(post(churn.url, body)) == len(body["dataframe_split"]["data"])
    eventually(lambda: churn.total_requests >= 5)
    points = churn.points()
    assert points
    assert sum(p.requests for p in points) >= 5
    assert any(p.p50_ms is not None and p.p95_ms >= p.p50_ms for p in points)
    assert churn.total_errors == 0
    assert churn.error is None


def test_the_examples_run_as_they_are_copied(running, served_project):
    _, churn, flowers = running
    body = example_task(str(served_project), "churn:1", None)
    split = body["dataframe_split"]
    assert split["columns"]
    assert "churned" not in split["columns"]
    # Real rows of the training data, complete ones first.
    assert all(value is not None for row in split["data"] for value in row)

    script = python_example(churn.url, body)
    assert churn.url + "/invocations" in script
    ran = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=30, check=True
    )
    assert ran.stdout.startswith("[")

    flowers_body = example_task(str(served_project), "flowers:1", None)
    command = curl_example(flowers.url, flowers_body, TOKEN)
    assert flowers.url + "/invocations" in command
    assert f"Bearer {TOKEN}" in command
    words = shell_words(command)
    assert json.loads(words[words.index("-d") + 1]) == flowers_body
    if shutil.which("curl") and shutil.which("sh"):
        answer = subprocess.run(
            ["sh", "-c", command], capture_output=True, text=True, timeout=30, check=True
        )
        assert len(json.loads(answer.stdout)["predictions"]) == 2
    ran = subprocess.run(
        [sys.executable, "-c", python_example(flowers.url, flowers_body, TOKEN)],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert ran.stdout.startswith("[")


def shell_words(command: str) -> list[str]:
    return shlex.split(command.replace(" \\\n", " "))


def test_a_value_with_a_quote_survives_the_shell():
    body = {"dataframe_split": {"columns": ["name"], "data": [['O\'Brien "Bob" $HOME']]}}
    words = shell_words(curl_example("http://127.0.0.1:5005/", body))
    assert words[:4] == ["curl", "-sS", "-X", "POST"]
    assert words[4] == "http://127.0.0.1:5005/invocations"
    assert json.loads(words[words.index("-d") + 1]) == body


def test_two_servers_run_at_once_and_stop_together(served_project):
    manager = ServerManager()
    first = manager.start(served_project, "flowers:2", port=free_port())
    second = manager.start(served_project, "churn:2", port=free_port())
    assert first.wait_serving(60), first.stderr
    assert second.wait_serving(60), second.stderr
    assert manager.on_port("127.0.0.1", first.port) is first
    assert {s.state for s in manager.running()} == {SERVING}
    os.kill(second.pid, signal.SIGKILL)  # as if it died: it did not stop by itself
    assert second.wait(10)
    assert second.state == CRASHED
    assert "exit code -9" in second.error
    manager.stop_all()
    assert first.state == STOPPED
    assert first.returncode == 0
    assert manager.running() == []
    manager.forget(second)
    assert manager.servers == [first]


def test_a_refused_start_ends_as_crashed_with_its_error(served_project):
    server = servers.ServerProcess(served_project, "churn:9", port=free_port())
    assert not server.wait_serving(60)
    assert server.state == CRASHED
    assert server.returncode == 1
    assert "no model version churn:9" in server.error
    assert server.error == server.error.strip()
    assert not server.error.startswith("error:")


def test_a_busy_port_is_refused_naming_the_next_free_one(served_project):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = servers.ServerProcess(served_project, "flowers:1", port=port)
        assert server.wait(60)
    assert server.state == CRASHED
    assert f"Port {port} on 127.0.0.1 is already in use: try --port" in server.error


def test_a_server_stopped_before_it_serves_is_stopped(served_project):
    server = servers.ServerProcess(served_project, "flowers:1", port=free_port())
    server.stop()
    assert server.state == STOPPED
    assert server.url is None


_PARENT = """
import sys, time
from mlops_desktop.services.servers import ServerProcess
server = ServerProcess(sys.argv[1], "flowers:1", port=int(sys.argv[2]))
assert server.wait_serving(60), server.stderr
print(server.pid, server.started["session"], flush=True)
time.sleep(600)
"""


def _ended(pid: int) -> bool:
    """Gone, or a zombie nobody has reaped yet: either way no longer serving."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_server_stops_cleanly_when_the_app_that_started_it_is_killed(served_project):
    from mlops_desktop.services.project import Project

    parent = subprocess.Popen(
        [sys.executable, "-c", _PARENT, str(served_project), str(free_port())],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        pid, session = parent.stdout.readline().split()
        os.kill(parent.pid, signal.SIGKILL)
        eventually(lambda: _ended(int(pid)))
    finally:
        parent.kill()
        parent.wait()
        parent.stdout.close()
    with Project.open(served_project, read_only=True) as project:
        assert project.serving.session(session).stopped_at is not None
