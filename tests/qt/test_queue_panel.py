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
def test_queued_jobs_run_in_worker_processes_and_show_live(panel, qtbot):
    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(time.monotonic()))
    timer.start()
    panel.enqueue("first")
    assert statuses(panel) == {"first": "queued"}
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
        panel.enqueue(name)
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
    assert int(panel._settings.value("queue/workers")) == 3


def test_closing_the_project_stops_its_workers(window, panel, qtbot):
    panel.enqueue("first")
    qtbot.waitUntil(lambda: bool(panel.pool.workers), timeout=10_000)
    pool = panel.pool
    window.close_project()
    assert not pool.workers
