"""Importing a 1,000,000-row x 20-column CSV, against ``pandas.read_csv(engine="pyarrow")``.

Prints, each as a ratio to the anchor measured in the same run (medians of ``--runs``):
- import into a project (parse + Parquet + hash + store + profile); target within 2x;
- reopening that version as a DataFrame; target within 0.5x;
- peak memory of the import over the DataFrame's in-memory size; target under 3x;
- the longest gap between 10 ms timer ticks in an offscreen GUI while it imports (in a child
  process, as the Data panel does); target under 100 ms.

    python benchmarks/import.py [--rows 1000000] [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import itertools

from _data import mixed_csv
from _timing import median_time

_MEMORY_PROBE = """
import json, resource, sys
from mlops_desktop import Project
import pandas, pyarrow.csv, pyarrow.parquet, sklearn  # loaded before the baseline is read

def rss_kib(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1])

baseline = rss_kib("VmRSS:")
with Project.create(sys.argv[2]) as project:
    project.datasets.import_file(sys.argv[1])
print(json.dumps({"baseline_kib": baseline, "peak_kib": rss_kib("VmHWM:")}))
"""


def gui_stall(csv: Path, folder: Path) -> tuple[float, float]:
    """Longest gap between 10 ms ticks (s) and the import's wall time, in an offscreen GUI."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from mlops_desktop import Project
    from mlops_desktop.qt.workers.tasks import TaskRunner
    from mlops_desktop.services.datasets import import_task

    app = QApplication.instance() or QApplication([])
    project = folder / "gui.mlops"
    Project.create(project).close()
    runner = TaskRunner()
    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    started = time.perf_counter()
    timer.start()
    handle = runner.start(
        "Import", import_task, str(project), str(csv), None, None, in_process=True
    )
    failures: list[str] = []
    handle.failed.connect(failures.append)
    handle.finished.connect(app.quit)
    app.exec()
    timer.stop()
    if failures:
        raise SystemExit(f"GUI import failed: {failures[0]}")
    gaps = [b - a for a, b in itertools.pairwise(ticks)]
    return max(gaps), time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    import pandas as pd

    from mlops_desktop import Project

    csv = mixed_csv(args.rows)
    print(f"data    {csv} ({csv.stat().st_size / 1e6:.0f} MB, {args.rows:,} rows x 20 columns)")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        frame = pd.read_csv(csv, engine="pyarrow")
        frame_bytes = int(frame.memory_usage(deep=True).sum())
        del frame
        anchor = median_time(lambda: pd.read_csv(csv, engine="pyarrow"), args.runs)

        counter = iter(range(10_000))

        def import_once():
            # A new project each time: a repeat import into one project would find its data
            # already stored and skip the writes.
            with Project.create(folder / f"p{next(counter)}.mlops") as project:
                project.datasets.import_file(csv)

        imported = median_time(import_once, args.runs)
        with Project.create(folder / "reopen.mlops") as project:
            version = project.datasets.import_file(csv)
            reopen = median_time(lambda: project.datasets.load_frame(version), args.runs)

        probe = subprocess.run(
            [sys.executable, "-c", _MEMORY_PROBE, str(csv), str(folder / "memory.mlops")],
            capture_output=True,
            text=True,
            check=True,
        )
        memory = json.loads(probe.stdout)
        peak_bytes = (memory["peak_kib"] - memory["baseline_kib"]) * 1024
        stall, gui_wall = gui_stall(csv, folder)

    print(f"anchor  pandas.read_csv(engine='pyarrow')  median {anchor:.3f} s ({args.runs} runs)")
    print(
        f"import  into a project                    median {imported:.3f} s  "
        f"ratio {imported / anchor:.2f}x (target <= 2)"
    )
    print(
        f"reopen  version as a DataFrame            median {reopen:.3f} s  "
        f"ratio {reopen / anchor:.2f}x (target <= 0.5)"
    )
    print(
        f"memory  import peak over baseline {peak_bytes / 1e6:.0f} MB; DataFrame "
        f"{frame_bytes / 1e6:.0f} MB  ratio {peak_bytes / frame_bytes:.2f}x (target < 3)"
    )
    print(
        f"gui     longest event-loop gap {stall * 1000:.0f} ms during a {gui_wall:.1f} s "
        "import in a child process (target < 100 ms)"
    )


if __name__ == "__main__":
    main()
