"""Cold start: time from launch to the main window's first paint, against the Qt import floor.

Starts ``python -m mlops_desktop PROJECT --exit-after-first-paint`` on an empty project N times
(offscreen) and prints the median wall time to first paint next to the median wall time of
``python -c "import PySide6.QtWidgets"``, the floor no PySide6 app can beat. Target: first
paint within 0.6 s of the floor.

    python benchmarks/cold_start.py [--runs 15]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_GAP_S = 0.6


def wall_time(argv: list[str], env: dict[str, str], expect: str | None = None) -> float:
    started = time.perf_counter()
    result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
    elapsed = time.perf_counter() - started
    if result.returncode != 0 or (expect and expect not in result.stdout):
        raise SystemExit(f"{' '.join(argv)} failed:\n{result.stdout}\n{result.stderr}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "MLOPS_DESKTOP_HOME": home}
        project = Path(home) / "empty.mlops"
        subprocess.run(
            [sys.executable, "-m", "mlops_desktop", "init", str(project)],
            env=env,
            check=True,
            capture_output=True,
        )
        floor_cmd = [sys.executable, "-c", "import PySide6.QtWidgets"]
        app_cmd = [
            sys.executable,
            "-m",
            "mlops_desktop",
            str(project),
            "--exit-after-first-paint",
        ]
        # One warm-up each so that both measure a warm file cache.
        wall_time(floor_cmd, env)
        wall_time(app_cmd, env, expect="first-paint")
        floors, apps = [], []
        for _ in range(args.runs):  # interleaved, so drift in machine load hits both alike
            floors.append(wall_time(floor_cmd, env))
            apps.append(wall_time(app_cmd, env, expect="first-paint"))
    floor, app = statistics.median(floors), statistics.median(apps)
    gap = app - floor
    print(f"anchor  import PySide6.QtWidgets   median {floor:.3f} s  ({args.runs} runs)")
    print(f"app     launch to first paint     median {app:.3f} s  ({args.runs} runs)")
    print(f"ratio   app / anchor               {app / floor:.2f}x")
    print(f"gap     app - anchor               {gap:.3f} s  (target <= {TARGET_GAP_S} s)")
    print("PASS" if gap <= TARGET_GAP_S else "FAIL")


if __name__ == "__main__":
    main()
