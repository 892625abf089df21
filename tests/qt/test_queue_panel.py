"""The Training queue panel: live jobs, actions, workers it starts and stops."""

import itertools
import time

import pytest
from PySide6.QtCore import QTimer

from mlops_desktop import Project
from mlops_desktop.domain.experiment import ExperimentSpec
from mlops_desktop.qt.panels.queue.panel import LogDialog


@pytest.fixture
def project_file(tmp_path):
    path = tmp_path / "queue.mlops"
    with Project.create(path) as project:
        project.datasets.import_file("sklearn:iris")
        for name in ("first", "second", "third"):
            project.experiments.save(
                ExperimentSpec.from_json(
                    {
                        "name": name,
                        "dataset": "iris",
                        "target": "target",
                        "params": {"n_estimators": 5},
                    }
                )
            )
    return path


@pytest.fixture
def panel(window, project_file, qtbot):
    window.open_project(project_file)
    qtbot.waitUntil(lambda: window.show_panel("training-queue") is not None, timeout=60_000)
    return window.show_panel("training-queue")


def statuses(panel):
    return {job.experiment_name: job.status for job in panel.model.jobs}


@pytest.mark.slow
def enqueue(panel, qtbot, name):
    """Queue ``name`` from the panel (checked off the GUI thread) and wait until it shows."""
    count = len(panel.model.jobs)
    panel.enqueue(name)
    qtbot.waitUntil(lambda: len(panel.model.jobs) == count + 1, timeout=30_000)


def test_queued_jobs_run_in_worker_processes_and_show_live(panel, qtbot):
    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(time.monotonic()))
    timer.start()
    enqueue(panel, qtbot, "first")
    assert statuses(panel).get("first") in ("queued", "running")
    qtbot.waitUntil(lambda: statuses(panel).get("first") == "done", timeout=90_000)
    timer.stop()
    row = next(r for r, j in enumerate(panel.model.jobs) if j.experiment_name == "first")
    assert panel.model.data(panel.model.index(row, 7)) == "first:1"
    gaps = [b - a for a, b in itertools.pairwise(ticks)]
    assert max(gaps) < 0.5  # the window kept handling events while the job ran
    assert "1 done" in panel.summary.text()


def test_pause_cancel_reorder_priority_and_log(panel, qtbot):
    panel.pause_button.setChecked(True)  # nothing starts while paused
    assert panel.context.project.queue.paused()
    for name in ("first", "second", "third"):
        enqueue(panel, qtbot, name)
    assert [j.experiment_name for j in panel.model.jobs] == ["first", "second", "third"]
    panel.select(3)
    panel.move(-2)
    assert [j.experiment_name for j in panel.model.jobs] == ["third", "first", "second"]
    panel._dropped(3, 3)  # dragged below "second"
    assert [j.experiment_name for j in panel.model.jobs] == ["first", "second", "third"]
    panel.select(2)
    panel.priority.setValue(5)
    assert panel.model.jobs[0].experiment_name == "second"
    panel.select(1)
    panel.cancel()
    assert statuses(panel)["first"] == "cancelled"
    panel.select(1)
    assert panel.rerun_button.isEnabled()
    panel.rerun()
    assert sum(1 for j in panel.model.jobs if j.status == "queued") == 3
    dialog = LogDialog(panel.context, 1)
    qtbot.addWidget(dialog)
    assert dialog.text.toPlainText() == ""  # a cancelled-before-start job has no log lines
    assert not panel.pool.workers


def test_the_worker_count_is_remembered(panel):
    panel.workers.setValue(3)
    assert panel.pool.size == 3
    assert panel._settings.worker_count(1) == 3


def test_closing_the_project_stops_its_workers(window, panel, qtbot):
    enqueue(panel, qtbot, "first")
    qtbot.waitUntil(lambda: bool(panel.pool.workers), timeout=10_000)
    pool = panel.pool
    window.close_project()
    assert not pool.workers


def test_the_poll_reads_the_queue_off_the_gui_thread(panel, project_file, qtbot, monkeypatch):
    import threading

    from mlops_desktop.services.queue import Queue

    panel.pause_button.setChecked(True)  # nothing starts: the job stays queued
    readers = []
    original = Queue.jobs

    def recorded(self):
        readers.append(threading.current_thread())
        return original(self)

    monkeypatch.setattr(Queue, "jobs", recorded)
    with Project.open(project_file) as other:  # queued elsewhere, as by the CLI
        other.queue.enqueue("second")
    qtbot.waitUntil(lambda: statuses(panel) == {"second": "queued"}, timeout=10_000)
    assert readers
    assert threading.main_thread() not in readers


def test_a_poll_read_before_an_action_does_not_undo_what_it_shows(panel, qtbot):
    panel.pause_button.setChecked(True)
    stale = panel._refreshes
    enqueue(panel, qtbot, "first")
    panel._show_polled(stale, ([], True))  # read before the job was queued, delivered after
    assert statuses(panel) == {"first": "queued"}
    panel._show_polled(panel._refreshes, None)  # the poll thread could not read: read here
    assert statuses(panel) == {"first": "queued"}
    panel._show_polled(panel._refreshes, ([], True))
    assert statuses(panel) == {}


def test_showing_the_queue_again_repaints_only_the_rows_that_changed(qapp):
    from dataclasses import replace

    from mlops_desktop.domain.job import Job
    from mlops_desktop.qt.models.jobs import JobTableModel

    def job(number, status):
        return Job(
            uuid=f"u{number}",
            number=number,
            experiment_name="e",
            spec={},
            status=status,
            priority=0,
            position=float(number),
            retries_left=0,
            cancel_requested=False,
            created_at="2026-01-01T00:00:00.000+00:00",
            created_by="me",
            started_at="2026-01-01T00:00:00.000+00:00",
        )

    jobs = [job(1, "running"), job(2, "queued"), job(3, "queued"), job(4, "done"), job(5, "done")]
    model = JobTableModel()
    model.set_jobs(jobs)
    repainted = []
    model.dataChanged.connect(lambda first, last: repainted.append((first.row(), last.row())))
    model.set_jobs([*jobs[:2], replace(jobs[2], priority=3), replace(jobs[3], error="x"), jobs[4]])
    assert repainted == [(0, 0), (2, 3)]  # the running job's clock, and the two that changed
