"""Concurrent use of one project file: two app windows, two workers and a server under load.

For ``--minutes``: a model server answers four clients without pause (prediction log on);
two workers train the jobs the windows queue; two app windows (the real main window, every
panel loaded, offscreen, each as another user) each make a change every second (notes,
tags, a queued job) and watch for the other's. Prints, with targets:
- errors shown to the user in either window (any, and "locked"/"busy" ones): target 0;
- how long a change made in one window took to show in the other (p50, max): a few seconds;
- requests answered, and prediction-log rows lost after a clean stop: target 0;
- jobs trained, lock errors in the workers' and the server's logs, and the project check.

    python benchmarks/sharing.py [--minutes 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _crash import ROW, build_base
from _net import Load, free_port

WINDOWS = ("ada", "grace")
CHANGE_SECONDS = 1.0
#: The windows queue a job only while fewer than this many wait, so the workers keep up.
MAX_QUEUED = 3


def window(path: Path, name: str, other: str, seconds: float) -> None:
    """One app window as a user who changes something every second; prints what it saw."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QTimer

    from mlops_desktop.app import create_application, install_excepthook
    from mlops_desktop.domain.errors import UserError
    from mlops_desktop.qt.main_window import MainWindow
    from mlops_desktop.services.logs import configure_logging

    app = create_application()
    main = MainWindow(log_file=configure_logging())
    install_excepthook(main)
    shown: list[str] = []
    for method in ("show_error", "show_warning"):
        original = getattr(main.notifications, method)

        def record(message, *args, _original=original, **kwargs):
            shown.append(message)
            return _original(message, *args, **kwargs)

        setattr(main.notifications, method, record)
    if not main.open_project(path):
        raise SystemExit(f"{name} could not open {path}: {shown}")
    main.show()
    context = main.context
    project = context.project
    seen: set[str] = {event.uuid for event in project.history(500)}
    latencies: list[float] = []
    actions = 0

    def on_changed() -> None:
        now = time.time()
        for event in project.history(200):
            if event.uuid in seen:
                continue
            seen.add(event.uuid)
            if event.actor == other:
                latencies.append(now - datetime.fromisoformat(event.at).timestamp())

    def act() -> None:
        nonlocal actions
        step = actions % 3
        actions += 1
        try:
            if step == 0:
                project.models.set_notes("churn:1", f"{name} was here ({actions})")
            elif step == 1:
                project.models.set_tags("churn:1", [name, f"round-{actions}"])
            elif project.file.jobs.counts().get("queued", 0) < MAX_QUEUED:
                project.queue.enqueue("churn")
            context.mark_changed()
        except UserError as exc:  # as every panel does with a refusal
            main.notifications.show_error(exc.message)

    context.changed.connect(on_changed)
    timer = QTimer()
    timer.setInterval(int(CHANGE_SECONDS * 1000))
    timer.timeout.connect(act)
    timer.start()
    result = {}

    def finish() -> None:
        timer.stop()
        on_changed()
        result.update(name=name, actions=actions, shown=shown, latencies=latencies)
        main.close_project()
        app.quit()

    QTimer.singleShot(int(seconds * 1000), finish)
    app.exec()
    print(json.dumps(result), flush=True)


def _env(home: Path, user: str) -> dict:
    return {
        **os.environ,
        "MLOPS_DESKTOP_HOME": str(home / user),
        "MLOPS_DESKTOP_USER": user,
        "QT_QPA_PLATFORM": "offscreen",
    }


def _lock_lines(home: Path) -> int:
    """Lines of every log file under ``home`` that mention a locked or busy database."""
    count = 0
    for log_file in home.rglob("*.log"):
        text = log_file.read_text(errors="replace").lower()
        count += text.count("database is locked") + text.count("database is busy")
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=3.0)
    args = parser.parse_args()
    seconds = args.minutes * 60

    from mlops_desktop.services.project import Project
    from mlops_desktop.services.servers import ServerProcess

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        home = folder / "home"
        os.environ["MLOPS_DESKTOP_HOME"] = str(home / "bench")
        path = build_base(folder / "base")
        server = ServerProcess(path, "churn:1", port=free_port(), env=_env(home, "server"))
        if not server.wait_serving(120):
            raise SystemExit(f"the server did not start: {server.error}")
        load = Load(server.url, json.dumps({"dataframe_records": [ROW]}).encode())
        workers = [
            subprocess.Popen(
                [sys.executable, "-m", "mlops_desktop", "worker", str(path), "--wait"],
                env=_env(home, f"worker-{n}"),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,  # they log to their log files
            )
            for n in (1, 2)
        ]
        me = str(Path(__file__).resolve())
        try:
            windows = [
                subprocess.Popen(
                    [sys.executable, me, "window", str(path), name, other, str(seconds)],
                    env=_env(home, name),
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
                for name, other in (WINDOWS, WINDOWS[::-1])
            ]
            print(f"running for {args.minutes:g} min ...", flush=True)
            results = []
            for process in windows:
                out, err = process.communicate(timeout=seconds + 300)
                if process.returncode != 0:
                    raise SystemExit(f"a window failed:\n{err[-3000:]}")
                results.append(json.loads(out.strip().splitlines()[-1]))
        finally:
            load.stop()
            for process in workers:
                process.terminate()
                process.wait(60)
            server.stop()
        with Project.open(path) as project:
            report = project.check()
            logged: set[str] = set()
            for session in project.serving.sessions():
                frame = project.serving.predictions_frame(
                    session.model_version_uuid, session_uuid=session.uuid
                )
                logged.update(str(i) for i in frame["request_id"])
            jobs = project.file.jobs.counts()
        lock_lines = _lock_lines(home)

    shown = [message for r in results for message in r["shown"]]
    locked = [m for m in shown if "locked" in m.lower() or "busy" in m.lower()]
    latencies = [x for r in results for x in r["latencies"]]
    lost = sum(1 for _, request_id in load.answered if request_id not in logged)
    for r in results:
        print(
            f"window {r['name']:6} changes made {r['actions']:4}; changes of the other seen "
            f"{len(r['latencies'])}; errors shown {len(r['shown'])}"
        )
    for message in shown[:5]:
        print(f"  shown: {message}")
    print(
        f"errors shown to the user {len(shown)} (of them about a locked or busy file "
        f"{len(locked)}; target 0)"
    )
    if latencies:
        print(
            f"a change in one window shown in the other after p50 "
            f"{statistics.median(latencies):.2f} s, max {max(latencies):.2f} s "
            "(target: a few seconds)"
        )
    print(
        f"server answered {len(load.answered):,} requests ({len(load.failed)} errors); "
        f"prediction-log rows lost {lost} (target 0)"
    )
    print(
        f"jobs {dict(jobs)}; 'database is locked' lines in the logs {lock_lines}; "
        f"project check {'ok' if report.ok else report.problems()}"
    )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "window":
        window(Path(sys.argv[2]), sys.argv[3], sys.argv[4], float(sys.argv[5]))
    else:
        main()
