"""Screenshots of every panel on a freshly built demo project, for the README.

    python docs/screenshots.py [OUT_FOLDER]    (default: docs/images)

Runs without a display (Qt's offscreen platform); the demo is built in a temporary folder,
so the pictures show what a new user sees, and stay current when run again.
"""

from __future__ import annotations

import faulthandler
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
faulthandler.enable()  # a crash in Qt or a library says where

SIZE = (1280, 800)


def wait(condition, seconds: float = 60.0) -> None:
    """Process events until ``condition()`` holds (or fail after ``seconds``)."""
    from PySide6.QtWidgets import QApplication

    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up waiting for {condition}")
        QApplication.processEvents()
        time.sleep(0.02)


def settle(window, seconds: float = 1.0) -> None:
    """Let background reads finish and charts draw."""
    from mlops_desktop.qt.widgets.charts import ChartCanvas

    wait(lambda: not window.runner.active(), 120)
    end = time.monotonic() + seconds
    wait(lambda: time.monotonic() > end)
    # Charts render on a thread of their own: wait for the last image each one asked for.
    wait(lambda: all(c.idle for c in window.findChildren(ChartCanvas)), 60)


def main(out: Path) -> None:
    from mlops_desktop.app import create_application
    from mlops_desktop.qt.main_window import MainWindow
    from mlops_desktop.qt.offscreen import quiet_offscreen_warnings
    from mlops_desktop.qt.panels.models.compare_dialog import CompareDialog
    from mlops_desktop.services.demo import build_demo

    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        os.environ["MLOPS_DESKTOP_HOME"] = str(Path(folder) / "home")
        demo = build_demo(Path(folder) / "Demo.mlops")
        queue_every_kind_of_job(demo)  # before any window: training imports a lot
        create_application()
        quiet_offscreen_warnings()
        window = MainWindow()
        window.resize(*SIZE)
        window.show()
        window.grab().save(str(out / "welcome.png"))
        window.open_project(demo)

        def panel(key: str):
            wait(lambda: window.show_panel(key) is not None)
            return window.show_panel(key)

        shots = []
        overview = panel("overview")
        shots.append(("overview", overview))
        data = panel("data")
        data.select_version(window.context.project.datasets.get("milk:2").uuid)
        shots.append(("data", data))
        experiments = panel("experiments")
        experiments.select("milk-forecast")
        shots.append(("experiments", experiments))
        shots.append(("training-queue", panel("training-queue")))
        models = panel("models")
        wait(lambda: models.model.rowCount() > 0)
        models.select(window.context.project.models.get("milk:2").uuid)
        shots.append(("models", models))
        shots.append(("serving", panel("serving")))
        monitoring = panel("monitoring")
        wait(lambda: monitoring._choices is not None and monitoring.drift_canvas is not None)
        shots.append(("monitoring", monitoring))

        for index, (name, _shown) in enumerate(shots, start=1):
            window.show_panel(name)
            if name == "training-queue":  # one job running, as a user sees it mid-search
                queue = panel("training-queue")
                window.context.project.queue.enqueue("milk-forecast-wide")
                window.context.mark_changed()
                wait(
                    lambda q=queue: any(
                        j.status == "running" and (j.progress or 0) > 0.1 for j in q.model.jobs
                    ),
                    120,
                )
            if name == "monitoring":  # last: its alerts add banners above every panel
                monitoring.choose("milk:2")
                last_day = monitoring.window_choice.findText("last day")
                monitoring.window_choice.setCurrentIndex(last_day)
                monitoring.check_button.click()
            settle(window)
            path = out / f"{index:02d}-{name}.png"
            window.grab().save(str(path))
            print(path)
            if name == "training-queue":  # stopped: the other pictures show the demo as built
                for job in queue.model.jobs:
                    if job.status in ("queued", "running"):
                        window.context.project.queue.cancel(job.number)
                wait(
                    lambda q=queue: all(
                        j.status not in ("queued", "running") for j in q.model.jobs
                    ),
                    60,
                )
            if name == "experiments":
                experiments.editor.tabs.setCurrentIndex(4)  # the compiled pipeline
                extra(window, out / f"{index:02d}-experiments-pipeline.png")
            if name == "models":
                models.detail.setCurrentIndex(1)  # the plots
                extra(window, out / f"{index:02d}-models-plots.png")
                models.detail.setCurrentIndex(2)  # the lineage
                extra(window, out / f"{index:02d}-models-lineage.png")
                compare = CompareDialog(window.context, ["milk:1", "milk:2"], window)
                compare.resize(1000, 640)
                compare.show()
                wait(lambda dialog=compare: dialog.result is not None)
                extra(window, out / f"{index:02d}-models-compare.png", compare)
                compare.close()
        tour = window.start_tour()
        while tour.step.panel != "monitoring":
            tour.next()
        extra(window, out / "08-tour.png")
        tour.skip()
        window.close_project()


def queue_every_kind_of_job(path: Path) -> None:
    """Jobs that failed and were cancelled beside the demo's finished ones, and a wide search
    for the window to run while its picture is taken: the queue in every state."""
    from mlops_desktop.domain.experiment import ExperimentSpec
    from mlops_desktop.services.commands import own_command
    from mlops_desktop.services.project import Project

    with Project.open(path) as project:
        # The raw months still miss temperatures: with no filling, Ridge refuses the NaNs.
        spec = project.experiments.get("milk-baseline").to_json()
        spec.update(name="milk-raw", dataset="milk:1")
        spec["features"]["columns"]["avg_temp_c"] = {"impute": "none"}
        project.experiments.save(ExperimentSpec.from_json(spec))
        project.queue.enqueue("milk-raw")
        # In a process of its own, as the app trains: this one is about to start Qt.
        subprocess.run(own_command("queue", "run", str(path)), check=True, capture_output=True)
        cancelled = project.queue.enqueue("milk-baseline")
        project.queue.cancel(cancelled.number)
        wide = project.experiments.get("milk-forecast").to_json()
        wide.update(name="milk-forecast-wide", dataset="milk:2")
        wide["search"]["space"] = {
            "max_leaf_nodes": [7, 15, 31, 63],
            "learning_rate": [0.02, 0.05, 0.1, 0.2],
            "max_iter": [100, 300],
        }
        project.experiments.save(ExperimentSpec.from_json(wide))


def extra(window, path: Path, widget=None) -> None:
    """One more picture, of the window or of ``widget`` (a dialog), once what it shows has
    been read and drawn."""
    settle(window, 0.5)
    (widget or window).grab().save(str(path))
    print(path)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "images")
