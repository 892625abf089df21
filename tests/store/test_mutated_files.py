"""Randomly damaged project files (bit flips, truncation, a broken header) are refused with
a sentence, or read; never another exception, a crash or a hang."""

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow

#: Mutated copies tried; ``MLOPS_DESKTOP_MUTATIONS`` asks for more (thousands in a long run).
MUTATIONS = int(os.environ.get("MLOPS_DESKTOP_MUTATIONS", "200"))

PROBE = r"""
import json, random, sys, time
from pathlib import Path

from mlops_desktop.domain.errors import UserError
from mlops_desktop.services.project import Project

source, folder, count = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
original = source.read_bytes()
page = int.from_bytes(original[16:18], "big") or 65536
rng = random.Random(11)
outcomes, slowest = {}, 0.0
for n in range(count):
    data = bytearray(original)
    how = ("flips", "truncate", "header")[n % 3]
    if how == "flips":
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    elif how == "truncate":
        data = data[: rng.randrange(len(data))]
    else:
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(100)] = rng.randrange(256)
    path = folder / f"mutated-{n}.mlops"
    path.write_bytes(bytes(data))
    started = time.monotonic()
    try:
        with Project.open(path, read_only=True) as project:
            for version in project.datasets.list():
                project.datasets.load_frame(version)
                project.datasets.profile(version)
            for version in project.models.list():
                project.models.get(version.label)
            project.history(50)
        outcome = "read"
    except UserError as exc:
        assert exc.message.endswith((".", ")", "?")), exc.message
        outcome = type(exc).__name__
    except Exception as exc:
        outcome = f"LEAKED {type(exc).__name__}: {exc}"[:200]
    slowest = max(slowest, time.monotonic() - started)
    outcomes[outcome] = outcomes.get(outcome, 0) + 1
    path.unlink()
print(json.dumps({"outcomes": outcomes, "slowest": slowest}))
"""


def test_mutated_files_are_read_or_refused_with_a_sentence(project, tmp_path):
    project.datasets.import_file("sklearn:iris")
    project.datasets.import_file("sklearn:wine")
    path = project.path
    project.close()
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(path), str(tmp_path), str(MUTATIONS)],
        capture_output=True,
        text=True,
        timeout=60 + MUTATIONS,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    leaked = {k: v for k, v in report["outcomes"].items() if k.startswith("LEAKED")}
    assert not leaked, report
    assert sum(report["outcomes"].values()) == MUTATIONS
    assert report["slowest"] < 5, report
