"""The Serving panel: real servers started and stopped from it, and what it refuses."""

import json
import socket
import urllib.request

import pytest
from PySide6.QtGui import QGuiApplication

from mlops_desktop.qt.panels.serving.detail import EXAMPLES_TAB, OUTPUT_TAB
from mlops_desktop.services.servers import CRASHED, SERVING, STOPPED
from tests.helpers import copy_project
from tests.serving.conftest import free_port


@pytest.fixture
def project_file(served_project, tmp_path):
    """A copy of the shared project: these servers write their sessions to it."""
    return copy_project(served_project, tmp_path / "serving.mlops")


@pytest.fixture
def panel(window, project_file, qtbot):
    window.open_project(project_file)
    qtbot.waitUntil(lambda: window.show_panel("serving") is not None, timeout=60_000)
    panel = window.show_panel("serving")
    qtbot.waitUntil(lambda: panel.model_choice.findData("flowers:1") >= 0, timeout=10_000)
    return panel


def errors(window) -> list[str]:
    return [message for kind, message in window.notifications.messages() if kind == "error"]


def start(panel, qtbot, ref: str, port: int | None = None):
    assert panel.choose(ref)
    panel.port.setValue(port or free_port())
    assert panel.toggle_button.text() == "Start serving"
    count = len(panel.manager.servers)
    panel.toggle_button.click()
    qtbot.waitUntil(lambda: len(panel.manager.servers) > count, timeout=10_000)
    server = panel.manager.servers[-1]
    qtbot.waitUntil(lambda: server.state == SERVING, timeout=60_000)
    return server


def cell(panel, row: int, column: int) -> str:
    return panel.model.index(row, column).data()


def test_the_panel_starts_a_server_shows_it_live_and_stops_it(window, panel, qtbot):
    assert "churn@production" in [
        panel.model_choice.itemData(i) for i in range(panel.model_choice.count())
    ]
    assert panel.log_predictions.isChecked()
    assert not panel.token_row.isVisibleTo(panel)
    server = start(panel, qtbot, "flowers:1")
    qtbot.waitUntil(lambda: cell(panel, 0, 1) == "serving", timeout=5_000)
    assert cell(panel, 0, 2) == server.url
    assert cell(panel, 0, 3) in ("onnxruntime", "scikit-learn")
    assert panel.selected() is server
    assert panel.toggle_button.text() == "Stop serving"

    panel.detail.tabs.setCurrentIndex(EXAMPLES_TAB)
    qtbot.waitUntil(lambda: server.url in panel.detail.curl.text.toPlainText(), timeout=30_000)
    script = panel.detail.python.text.toPlainText()
    assert "urllib.request" in script
    panel.detail.python.copy_button.click()
    assert QGuiApplication.clipboard().text() == script
    body = panel._examples["flowers:1"]
    for _ in range(3):
        request = urllib.request.Request(
            server.url + "/invocations",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert json.load(response)["predictions"]
    qtbot.waitUntil(lambda: cell(panel, 0, 4) == "3", timeout=10_000)
    assert cell(panel, 0, 5) == "0"
    panel.detail.tabs.setCurrentIndex(0)
    qtbot.waitUntil(lambda: panel.detail.canvas is not None, timeout=30_000)
    qtbot.waitUntil(
        lambda: panel.detail.canvas.idle and bool(panel.detail.canvas.figure.axes), timeout=5_000
    )
    assert "Latency per second" in panel.detail.canvas.figure.axes[0].get_title(loc="left")

    panel.toggle_button.click()
    qtbot.waitUntil(lambda: server.state == STOPPED, timeout=15_000)
    qtbot.waitUntil(lambda: cell(panel, 0, 1) == "stopped", timeout=5_000)
    assert server.returncode == 0
    assert panel.toggle_button.text() == "Start serving"
    assert errors(window) == []


def test_a_busy_port_is_said_and_the_next_free_one_offered(window, panel, qtbot):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        panel.choose("flowers:1")
        panel.port.setValue(port)
        panel.toggle_button.click()
        qtbot.waitUntil(lambda: bool(errors(window)), timeout=10_000)
    assert f"Port {port} on 127.0.0.1 is already in use" in errors(window)[0]
    assert panel.port.value() > port
    assert f"now {panel.port.value()}" in errors(window)[0]
    assert panel.manager.servers == []


def test_a_port_taken_after_the_check_is_said_too(window, panel, qtbot):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        # As if another program took the port between the check and the start.
        panel._port_checked("flowers:1", "127.0.0.1", port, None, True, None)
        server = panel.manager.servers[0]
        qtbot.waitUntil(lambda: server.state == CRASHED, timeout=60_000)
        qtbot.waitUntil(lambda: bool(errors(window)), timeout=5_000)
    assert f"Port {port} on 127.0.0.1 was taken just before" in errors(window)[0]
    assert panel.port.value() > port


def test_a_host_on_the_network_needs_a_strong_token(window, panel, qtbot):
    panel.choose("flowers:1")
    panel.host.setText("0.0.0.0")
    assert panel.token_row.isVisibleTo(panel)
    panel.toggle_button.click()
    assert "needs a token" in errors(window)[0]
    panel.token.setText("secret")
    panel.toggle_button.click()
    assert "too easy to guess" in errors(window)[0]
    panel.generate_button.click()
    assert len(panel.token.text()) >= 43  # 32 random bytes
    assert panel.manager.servers == []
    panel.host.setText("localhost")
    assert not panel.token_row.isVisibleTo(panel)


def test_a_crashed_server_shows_its_error_output(window, panel, qtbot):
    server = panel.manager.start(panel.context.project.path, "churn:9", port=free_port())
    qtbot.waitUntil(lambda: server.state == CRASHED, timeout=60_000)
    panel.poll()
    panel.select(server)
    qtbot.waitUntil(lambda: cell(panel, 0, 1) == "crashed", timeout=5_000)
    assert panel.detail.tabs.currentIndex() == OUTPUT_TAB
    assert "no model version churn:9" in panel.detail.output.toPlainText()
    assert "Exit code 1." in panel.detail.output.toPlainText()
    assert any("no model version churn:9" in message for message in errors(window))
    panel.clear_button.click()
    assert panel.manager.servers == []


def test_closing_the_project_stops_every_server_it_started(window, panel, qtbot):
    first = start(panel, qtbot, "flowers:1")
    second = start(panel, qtbot, "churn@production")
    assert first.port != second.port
    qtbot.waitUntil(lambda: cell(panel, 1, 0) == "churn@production → churn:1", timeout=5_000)
    window.close_project()
    assert first.state == STOPPED
    assert second.state == STOPPED
    assert first.returncode == second.returncode == 0


def test_a_read_only_project_serves_without_a_prediction_log(project_file, qtbot):
    from mlops_desktop.qt.context import ProjectContext
    from mlops_desktop.qt.panels.serving.panel import ServingPanel
    from mlops_desktop.qt.widgets.notifications import NotificationArea
    from mlops_desktop.qt.workers.tasks import TaskRunner
    from mlops_desktop.services.project import Project

    runner, notifications = TaskRunner(), NotificationArea()
    context = ProjectContext(Project.open(project_file, read_only=True), runner, notifications)
    panel = ServingPanel(context)
    qtbot.addWidget(panel)
    assert not panel.log_predictions.isChecked()
    assert not panel.log_predictions.isEnabled()
    assert "read-only" in panel.log_hint.text()
    runner.cancel_all()
    context.close()


def test_a_lineage_link_to_a_session_selects_its_server_or_says_what_it_was(window, panel, qtbot):
    server = start(panel, qtbot, "flowers:1")
    other = panel.model_choice.findData("churn:1")
    panel.model_choice.setCurrentIndex(other)
    window.reveal("serving_session", server.started["session"])
    assert panel.selected() is server
    server.stop()

    serving = window.context.project.serving
    elsewhere = serving.start_session("churn:1", host="127.0.0.1", port=5999)
    serving.stop_session(elsewhere.uuid)
    window.reveal("serving_session", elsewhere.uuid)
    assert panel.model_choice.currentData() == "churn:1"
    infos = [m for kind, m in window.notifications.messages() if kind == "info"]
    assert any("127.0.0.1:5999" in m and "did not start it" in m for m in infos)
