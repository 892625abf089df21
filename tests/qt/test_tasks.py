"""The Qt task runner: progress reaches the UI, cancel works, the event loop keeps ticking."""

import time

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QLabel

from mlops_desktop.qt.widgets.task_area import TaskArea
from mlops_desktop.qt.workers.tasks import TaskRunner
from tests.qt import tasks_for_tests as tasks
from tests.services import tasks_for_tests as process_tasks

FOREVER = 10**12


def test_a_long_task_shows_progress_and_can_be_cancelled_without_freezing(qtbot):
    runner = TaskRunner()
    area = TaskArea(runner)
    qtbot.addWidget(area)
    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(time.monotonic()))
    timer.start()

    handle = runner.start("Counting", tasks.busy_count, FOREVER)
    assert len(area.rows) == 1
    row = area.rows[0]
    qtbot.waitUntil(lambda: row.bar.maximum() == 1000 and "of" in row.label.text(), timeout=5000)
    ticks_before = len(ticks)
    qtbot.wait(500)
    # The window went on handling timer events while the worker thread computed.
    assert len(ticks) - ticks_before >= 10

    with qtbot.waitSignals([handle.cancelled, handle.finished], timeout=5000):
        row.cancel_button.click()
    assert row.label.text() == row.label.toolTip() == "Counting: cancelling…"
    assert not row.cancel_button.isEnabled()
    assert row.cancel_button.text() == "Cancel"  # keeps its width, and the label its room
    qtbot.waitUntil(lambda: not area.rows)
    assert not runner.active()
    timer.stop()


def test_results_and_user_errors_arrive_as_signals(qtbot):
    runner = TaskRunner()
    handle = runner.start("Counting", tasks.busy_count, 100_000)
    with qtbot.waitSignal(handle.succeeded, timeout=5000) as done:
        pass
    assert done.args == [sum(i * i for i in range(100_000))]

    failing = runner.start("Reading", tasks.refuse)
    with qtbot.waitSignal(failing.failed, timeout=5000) as failed:
        pass
    assert failed.args[0].startswith("The file has no header row")


def test_a_task_whose_owner_is_gone_is_cancelled_and_reaches_no_slot(qtbot):
    runner = TaskRunner()
    label = QLabel()
    handle = runner.start("Counting", tasks.busy_count, FOREVER, owner=label)
    shown = []
    # A lambda that touches the widget: Qt would not disconnect it when the label dies.
    handle.succeeded.connect(lambda result: shown.append(label.text()))
    handle.cancelled.connect(lambda: shown.append(label.text()))
    handle.finished.connect(lambda: shown.append(label.text()))
    qtbot.waitUntil(lambda: handle.fraction is not None, timeout=5000)
    label.deleteLater()
    qtbot.waitUntil(lambda: not handle.running, timeout=5000)
    assert handle.control.is_cancelled()
    assert shown == []
    assert not runner.active()


def test_a_result_already_queued_reaches_no_widget_inside_one_abandoned(qtbot):
    from PySide6.QtWidgets import QWidget

    runner = TaskRunner()
    panel = QWidget()
    label = QLabel(panel)  # the owner, inside the panel that is closing
    handle = runner.start("Counting", tasks.busy_count, 10, owner=label)
    shown = []
    handle.succeeded.connect(lambda result: shown.append(result))
    handle.finished.connect(lambda: shown.append("finished"))
    time.sleep(0.5)  # done on its thread: the result waits in the event queue
    runner.abandon_within(panel)
    panel.deleteLater()
    qtbot.waitUntil(lambda: not handle.running, timeout=5000)
    assert shown == []
    assert not runner.active()


def test_a_task_can_run_in_a_child_process(qtbot):
    runner = TaskRunner()
    handle = runner.start("Counting", process_tasks.count_up, 20, in_process=True)
    progress = []
    handle.progress.connect(lambda f, m: progress.append(f))
    with qtbot.waitSignal(handle.succeeded, timeout=30_000) as done:
        pass
    assert done.args == [40]
    assert progress[-1] == 1.0


def test_an_unexpected_error_is_one_sentence_pointing_to_the_log(qtbot):
    runner = TaskRunner()
    handle = runner.start("Dividing", process_tasks.fail_unexpectedly, in_process=True)
    with qtbot.waitSignal(handle.failed, timeout=30_000) as failed:
        pass
    assert failed.args[0] == (
        "Dividing failed: ZeroDivisionError: division by zero. Details are in the log file."
    )
