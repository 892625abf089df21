"""The training queue's overhead and scaling, against plain scikit-learn in one process.

Prints, each next to its anchor measured in the same run:
- 20 small jobs (a LogisticRegression pipeline on breast_cancer, 5-fold CV then a fit)
  through ``queue run --workers 1``, against a plain script fitting the same 20 pipelines in
  one process; target at most 1.5x;
- one larger job (a RandomForest grid search, tens of seconds) the same way; target 1.05x;
- 20 medium jobs (a 200-tree RandomForest each, about a second of fitting) on 2 workers
  against 1 worker; target at least 1.7x faster (with the small jobs, starting two
  processes costs as much as the jobs themselves, so they cannot show the scaling);
- the longest event-loop gap in an offscreen window whose queue panel runs jobs; target
  under 100 ms.

    python benchmarks/training.py [--quick] [--runs 3]
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SMALL = {
    "dataset": "breast_cancer",
    "target": "target",
    "estimator": "LogisticRegression",
    "params": {"max_iter": 2000},
}
MEDIUM = {
    "dataset": "breast_cancer",
    "target": "target",
    "estimator": "RandomForestClassifier",
    "params": {"n_estimators": 200},
}
LARGE = {
    "dataset": "breast_cancer",
    "target": "target",
    "estimator": "RandomForestClassifier",
    "search": {
        "strategy": "grid",
        "cv": 5,
        "space": {
            "n_estimators": [100, 200, 300],
            "max_depth": [4, 8, 12, None],
            "min_samples_leaf": [1, 3],
        },
    },
}

# The same work without the queue: data from the project, the same pipeline compiled from the
# same spec, a hold-out split, cross-validation (or the grid search) and a final fit.
PLAIN = """
import json, sys, time
from mlops_desktop import Project
from mlops_desktop.domain.experiment import ExperimentSpec
from mlops_desktop.domain.pipeline import scorers, splitter
from sklearn.model_selection import cross_validate, train_test_split
spec_json, count, path = json.loads(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
with Project.open(path, read_only=True) as project:
    for i in range(count):
        spec = ExperimentSpec.from_json({**spec_json, "name": f"plain{i}"})
        plan = project.experiments.plan(spec)
        frame = project.datasets.load_frame(spec.dataset)
        X, y = frame.drop(columns=[spec.target]), frame[spec.target]
        X_train, X_test, y_train, y_test = train_test_split(
            X, y, test_size=0.2, random_state=42, stratify=y)
        if spec.search.strategy == "none":
            cross_validate(plan.pipeline, X_train, y_train, cv=splitter(spec, plan.task),
                           scoring=scorers(spec, plan.task))
            model = plan.pipeline.fit(X_train, y_train)
        else:
            model = plan.estimator.fit(X_train, y_train).best_estimator_
        model.predict(X_test)
"""


def cli(*args) -> float:
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "mlops_desktop", *map(str, args)], capture_output=True, text=True
    )
    if result.returncode:
        raise SystemExit(f"mlops-desktop {' '.join(map(str, args))} failed:\n{result.stderr}")
    return time.perf_counter() - started


def plain(spec: dict, count: int, project: Path) -> float:
    import json

    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", PLAIN, json.dumps(spec), str(count), str(project)],
        capture_output=True,
        text=True,
    )
    if result.returncode:
        raise SystemExit(f"the plain script failed on {project.name}:\n{result.stderr}")
    return time.perf_counter() - started


def make_project(folder: Path, name: str, spec: dict, jobs: int) -> Path:
    from mlops_desktop import Project
    from mlops_desktop.domain.experiment import ExperimentSpec

    path = folder / f"{name}.mlops"
    with Project.create(path) as project:
        project.datasets.import_file("sklearn:breast_cancer")
        project.experiments.save(ExperimentSpec.from_json({**spec, "name": name}))
        for _ in range(jobs):
            project.queue.enqueue(name)
    return path


def gui_stall(folder: Path, jobs: int) -> tuple[float, float]:
    """Open the project in an offscreen window, wait for its panels, queue ``jobs`` jobs from
    the queue panel, and time the gaps between 10 ms ticks until they have all run."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from mlops_desktop.qt.main_window import MainWindow
    from mlops_desktop.qt.panels import PANELS

    path = make_project(folder, "gui", SMALL, 0)
    app = QApplication.instance() or QApplication([])
    window = MainWindow()
    window.show()
    window.open_project(path)
    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    started: list[float] = []

    def check():
        if len(window.panels) < len(PANELS):
            return  # the panels are still loading: that is the cold start, not the queue
        panel = window.show_panel("training-queue")
        if not started:
            for _ in range(jobs):
                panel.enqueue("gui")
            started.append(time.perf_counter())
            timer.start()
            return
        if all(j.status in ("done", "failed", "cancelled") for j in panel.model.jobs):
            failed = [j for j in panel.model.jobs if j.status != "done"]
            if failed:
                raise SystemExit(
                    f"GUI job #{failed[0].number} {failed[0].status}: {failed[0].error}"
                )
            app.quit()

    poll = QTimer()
    poll.timeout.connect(check)
    poll.start(200)
    app.exec()
    timer.stop()
    window.close()
    gaps = [b - a for a, b in itertools.pairwise(ticks)]
    return max(gaps), time.perf_counter() - started[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer, smaller jobs")
    parser.add_argument(
        "--runs", type=int, default=3, help="runs of the small and the large jobs (medians)"
    )
    args = parser.parse_args()
    small_jobs = 6 if args.quick else 20
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        os.environ["MLOPS_DESKTOP_HOME"] = str(folder)
        # Alternated, and the medians taken: a busy moment of the machine hits one run of
        # each rather than all of one side.
        plains, queueds = [], []
        for run in range(args.runs):
            one = make_project(folder, f"one{run}", SMALL, small_jobs)
            plains.append(plain(SMALL, small_jobs, one))
            queueds.append(cli("queue", "run", one, "--workers", "1"))
        plain_small, queued_small = statistics.median(plains), statistics.median(queueds)
        medium_one = make_project(folder, "medium1", MEDIUM, small_jobs)
        one_worker = cli("queue", "run", medium_one, "--workers", "1")
        medium_two = make_project(folder, "medium2", MEDIUM, small_jobs)
        two_workers = cli("queue", "run", medium_two, "--workers", "2")
        plains, queueds = [], []
        for run in range(args.runs):
            large = make_project(folder, f"large{run}", LARGE, 1)
            plains.append(plain(LARGE, 1, large))
            queueds.append(cli("queue", "run", large, "--workers", "1"))
        plain_large, queued_large = statistics.median(plains), statistics.median(queueds)
        stall, gui_wall = gui_stall(folder, 4 if args.quick else 8)
    print(
        f"small   {small_jobs} jobs: plain script {plain_small:.1f} s, queue run (1 worker) "
        f"{queued_small:.1f} s (medians of {args.runs})  ratio {queued_small / plain_small:.2f}x "
        "(target <= 1.5)"
    )
    print(
        f"large   1 grid search: plain script {plain_large:.1f} s, queue run "
        f"{queued_large:.1f} s (medians of {args.runs})  ratio {queued_large / plain_large:.2f}x "
        "(target <= 1.05)"
    )
    print(
        f"scaling {small_jobs} medium jobs: 1 worker {one_worker:.1f} s, 2 workers "
        f"{two_workers:.1f} s  speed-up {one_worker / two_workers:.2f}x (target >= 1.7)"
    )
    print(
        f"gui     longest event-loop gap {stall * 1000:.0f} ms while the queue panel ran jobs "
        f"for {gui_wall:.1f} s (target < 100 ms)"
    )


if __name__ == "__main__":
    main()
