"""Crash safety: SIGKILL at random points of every kind of write, hundreds of times.

Kills a child process during an import, saving a cleaning, a worker writing a finished job,
a server writing its prediction log under load, a merge, a migration and Compact, taking
turns. After every kill a new process opens the file, as a restart does, and runs the
project check; every dataset it lists must load whole, and every request the server
answered over 2.5 s before its kill must be in the prediction log. Every tenth kill of a
scenario is followed by running the operation to its end. Prints kills done, corruptions
found (target 0) and prediction-log rows lost (target 0).

    python benchmarks/stress.py [--kills 280] [--seed 0]
"""

from __future__ import annotations

import argparse
import collections
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _crash import SCENARIOS, Harness, build_base


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=280, help="kills in all (default 280)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        harness = Harness(folder / "runs", build_base(folder / "base"), args.seed)
        for scenario in SCENARIOS:
            took = harness.calibrate(scenario)
            print(f"{scenario:15} runs to its end in {took:.2f} s", flush=True)
        kills = collections.Counter()
        finished = collections.Counter()
        corrupt = collections.Counter()
        lost = collections.Counter()
        restarts = 0
        for n in range(args.kills):
            scenario = SCENARIOS[n % len(SCENARIOS)]
            kill = harness.kill(scenario)
            kills[scenario] += 1
            finished[scenario] += kill.finished_first
            lost[scenario] += kill.lost_rows
            if kill.corrupt:
                corrupt[scenario] += 1
                print(f"  CORRUPT after {scenario} killed at {kill.after:.3f} s: {kill.problems}")
            if kills[scenario] % 10 == 0:
                harness.run_to_end(scenario)  # raises if a restart cannot carry on
                restarts += 1
            if (n + 1) % 35 == 0:
                print(f"  {n + 1} kills, {sum(corrupt.values())} corrupt", flush=True)
    print()
    for scenario in SCENARIOS:
        print(
            f"{scenario:15} kills {kills[scenario]:4}  (finished before the kill "
            f"{finished[scenario]:3})  corruptions {corrupt[scenario]}  rows lost "
            f"{lost[scenario]}"
        )
    print(
        f"kills done {sum(kills.values())}, corruptions found {sum(corrupt.values())} "
        f"(target 0), prediction-log rows lost {sum(lost.values())} (target 0), "
        f"runs to the end after kills {restarts}, in {(time.perf_counter() - started) / 60:.1f} min"
    )


if __name__ == "__main__":
    main()
