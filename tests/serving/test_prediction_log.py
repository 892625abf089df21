"""A real server writes its session and every request to the project's prediction log."""

import hashlib
import os
import signal
import time

import httpx
import pytest

from mlops_desktop.domain.errors import ProjectFileError, UserError
from mlops_desktop.services.project import Project
from mlops_desktop.serving.server import ServeOptions, prepare
from tests.helpers import copy_project
from tests.serving.conftest import ServerProcess, free_port
from tests.serving.test_server import ROWS

ROW = ROWS[0]


@pytest.fixture
def started(serving_home):
    """Start servers that are stopped after the test, passed or failed."""
    servers = []

    def start(*args):
        servers.append(ServerProcess(list(args), serving_home))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def project_copy(served_project, tmp_path):
    """A project of this test's own: the sessions and logs of one test stay out of others."""
    copy = copy_project(served_project, tmp_path / "copy.mlops")
    return copy


def post(client, rows):
    return client.post("/invocations", json={"dataframe_records": rows})


def test_every_answered_and_refused_request_is_logged_by_a_clean_stop(project_copy, started):
    server = started(project_copy, "churn:1")
    assert server.started["logging"] is True
    session_uuid = server.started["session"]
    with httpx.Client(base_url=server.url, timeout=10) as client:
        answered = [post(client, [ROW] * (1 + i % 3)) for i in range(40)]
        refused = post(client, [{"tenure": "soon"}])
    assert all(r.status_code == 200 for r in answered)
    assert refused.status_code == 400
    assert server.stop() == 0

    with Project.open(project_copy, read_only=True) as project:
        session = project.serving.session(session_uuid)
        version = project.models.get("churn:1")
        frame = project.serving.predictions_frame(version.uuid, session_uuid=session_uuid)
        errors = project.serving.errors(session_uuid=session_uuid)
        events = [e.action for e in project.file.events.recent(20)]
    assert session.stopped_at is not None
    assert (session.requests, session.errors) == (40, 1)
    assert session.served_as == "churn:1"
    assert session.log_predictions
    assert frame["request_id"].nunique() == 40
    assert len(frame) == sum(1 + i % 3 for i in range(40))
    assert set(frame["request_id"]) == {r.headers["x-request-id"] for r in answered}
    assert frame["tenure"].tolist()[:1] == [3]
    assert frame["latency_ms"].gt(0).all()
    assert [e.request_id for e in errors] == [refused.headers["x-request-id"]]
    assert errors[0].status == 400
    assert "tenure" in errors[0].message
    assert "serving.started" in events
    assert "serving.stopped" in events


def test_with_no_log_requests_are_counted_not_logged(project_copy, started):
    server = started(project_copy, "churn:1", "--no-log")
    assert server.started["logging"] is False
    with httpx.Client(base_url=server.url, timeout=10) as client:
        for _ in range(5):
            assert post(client, [ROW]).status_code == 200
    assert server.stop() == 0
    with Project.open(project_copy, read_only=True) as project:
        session = project.serving.session(server.started["session"])
        version = project.models.get("churn:1")
        frame = project.serving.predictions_frame(version.uuid, session_uuid=session.uuid)
    assert session.requests == 5
    assert not session.log_predictions
    assert frame.empty


def test_read_only_serving_writes_nothing_to_the_project(project_copy, started):
    before = hashlib.sha256(project_copy.read_bytes()).hexdigest()
    server = started(project_copy, "churn:1", "--read-only")
    assert server.started["logging"] is False
    assert server.started["session"] is None
    with httpx.Client(base_url=server.url, timeout=10) as client:
        assert post(client, [ROW]).status_code == 200
    assert server.stop() == 0
    assert hashlib.sha256(project_copy.read_bytes()).hexdigest() == before


def test_a_killed_server_leaves_a_consistent_project(project_copy, started):
    server = started(project_copy, "churn:1")
    with httpx.Client(base_url=server.url, timeout=10) as client:
        for _ in range(20):
            assert post(client, [ROW]).status_code == 200
    time.sleep(2.5)  # past two flushes: what was answered before is written
    os.kill(server.process.pid, signal.SIGKILL)
    server.stop()
    with Project.open(project_copy) as project:
        assert project.check().ok
        version = project.models.get("churn:1")
        logged = project.serving.predictions_frame(
            version.uuid, session_uuid=server.started["session"]
        )
    assert len(logged) == 20


def test_a_project_that_cannot_be_written_serves_only_without_the_log(
    project_copy, monkeypatch, tmp_path
):
    """As a file the user may not write (a permission a test run as root cannot set)."""
    monkeypatch.setenv("MLOPS_DESKTOP_HOME", str(tmp_path))
    opened = Project.open.__func__

    def open_read_only(cls, path, read_only=False, **kwargs):
        if not read_only:
            raise ProjectFileError(f"{path} is read-only")
        return opened(cls, path, read_only=True, **kwargs)

    monkeypatch.setattr(Project, "open", classmethod(open_read_only))
    before = project_copy.read_bytes()
    options = ServeOptions(project=project_copy, model="churn:1", port=free_port())
    with pytest.raises(UserError, match="--no-log"):
        prepare(options)
    options.log_predictions = False
    prepared = prepare(options)
    prepared.sock.close()
    assert prepared.prediction_log is None
    assert project_copy.read_bytes() == before
