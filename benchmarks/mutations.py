"""Thousands of randomly damaged copies of the demo project, each opened and browsed.

Bit flips anywhere, truncations and broken headers, in turns; each copy is opened read-only,
everything the window shows is read (datasets loaded whole, profiles, models, jobs,
history) and one of its models is loaded as serving loads it. Prints how each ended (read,
or the refusal's class), refusals that leaked as another exception (target 0), child
processes that crashed (target 0) and the slowest copy (target: a few seconds).

    python benchmarks/mutations.py [--files 3000] [--seed 0]
"""

from __future__ import annotations

import argparse
import collections
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _mutations import run

BATCH = 250  # copies per child process: a crash loses one batch, and is counted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from mlops_desktop.services.demo import build_demo

    started = time.perf_counter()
    outcomes: collections.Counter = collections.Counter()
    crashes, slowest = [], 0.0
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        source = build_demo(folder / "Demo.mlops")
        print(f"source  {source.name}, {source.stat().st_size / 1e6:.1f} MB", flush=True)
        work = folder / "copies"
        work.mkdir()
        for batch, first in enumerate(range(0, args.files, BATCH)):
            count = min(BATCH, args.files - first)
            try:
                report = run(source, work, count, seed=args.seed * 1000 + batch)
            except RuntimeError as exc:
                crashes.append(str(exc)[-500:])
                continue
            outcomes.update(report["outcomes"])
            slowest = max(slowest, report["slowest"])
            print(f"  {first + count:>6} copies tried", flush=True)
    leaked = {k: v for k, v in outcomes.items() if k.startswith("LEAKED")}
    print(
        f"files    {sum(outcomes.values()):,} mutated copies browsed ({len(crashes)} batches lost)"
    )
    for outcome, n in outcomes.most_common():
        print(f"  {n:>6}  {outcome}")
    print(f"leaked   {sum(leaked.values())} refusals that were not a sentence (target 0)")
    print(f"crashes  {len(crashes)} child processes died (target 0)")
    for crash in crashes:
        print("   ", crash)
    print(f"slowest  {slowest:.2f} s for one copy; {time.perf_counter() - started:.0f} s in all")


if __name__ == "__main__":
    main()
