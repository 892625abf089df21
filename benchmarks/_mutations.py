"""Randomly damaged copies of a project file, each opened and browsed in a child process.

Shared by ``tests/store/test_mutated_files.py`` (a few hundred) and
``benchmarks/mutations.py`` (thousands). Run as a script, it is the child:

    python benchmarks/_mutations.py SOURCE FOLDER COUNT [SEED]

and prints one JSON line: how many copies ended each way ("read", or the class of the
refusal; "LEAKED ..." for anything else), and the slowest open-and-browse in seconds.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from pathlib import Path

KINDS = ("flips", "truncate", "header")


def mutated(original: bytes, n: int, rng: random.Random) -> bytes:
    """Copy ``n``: bit flips anywhere, a truncation, or bytes of the header replaced."""
    data = bytearray(original)
    how = KINDS[n % len(KINDS)]
    if how == "flips":
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    elif how == "truncate":
        data = data[: rng.randrange(len(data))]
    else:
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(100)] = rng.randrange(256)
    return bytes(data)


def browse(path: Path, n: int = 0) -> str:
    """Open ``path``, read everything the window shows and load model ``n`` (of those it
    lists, in turn) as serving would: "read", or why it was refused."""
    from mlops_desktop.domain.errors import UserError
    from mlops_desktop.services import modelfiles
    from mlops_desktop.services.project import Project

    try:
        with Project.open(path, read_only=True) as project:
            for version in project.datasets.list():
                project.datasets.load_frame(version)
                project.datasets.profile(version)
            models = project.models.list()
            for version in models:
                project.models.get(version.label)
            if models:
                modelfiles.load_version(project.file.blobs, models[n % len(models)])
            project.queue.jobs()
            project.history(50)
        return "read"
    except UserError as exc:
        if not exc.message.endswith((".", ")", "?")):
            return f"LEAKED a refusal that is not a sentence: {exc.message}"[:200]
        return type(exc).__name__
    except Exception as exc:
        return f"LEAKED {type(exc).__name__}: {exc}"[:200]


def child(source: Path, folder: Path, count: int, seed: int) -> dict:
    original = source.read_bytes()
    rng = random.Random(seed)
    outcomes: dict[str, int] = {}
    slowest = 0.0
    for n in range(count):
        path = folder / f"mutated-{n}.mlops"
        path.write_bytes(mutated(original, n, rng))
        started = time.monotonic()
        outcome = browse(path, n)
        slowest = max(slowest, time.monotonic() - started)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        for leftover in folder.glob(f"{path.name}*"):
            leftover.unlink()
    return {"outcomes": outcomes, "slowest": slowest}


def run(source: Path, folder: Path, count: int, seed: int = 11) -> dict:
    """Try ``count`` mutated copies of ``source`` in a child process (a crash there is a
    finding, not the end of the run's parent); raises if the child dies."""
    result = subprocess.run(
        [sys.executable, __file__, str(source), str(folder), str(count), str(seed)],
        capture_output=True,
        text=True,
        timeout=60 + count,
    )
    if result.returncode != 0:
        raise RuntimeError(f"the child exited {result.returncode}: {result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    report = child(Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
    print(json.dumps(report))
