"""Randomly damaged project files (bit flips, truncation, a broken header) are refused with
a sentence, or read; never another exception, a crash or a hang. The long run is
``benchmarks/mutations.py``."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from _mutations import run

pytestmark = pytest.mark.slow

MUTATIONS = 200


def test_mutated_files_are_read_or_refused_with_a_sentence(project, tmp_path):
    project.datasets.import_file("sklearn:iris")
    project.datasets.import_file("sklearn:wine")
    path = project.path
    project.close()
    report = run(path, tmp_path, MUTATIONS)
    leaked = {k: v for k, v in report["outcomes"].items() if k.startswith("LEAKED")}
    assert not leaked, report
    assert sum(report["outcomes"].values()) == MUTATIONS
    assert report["slowest"] < 5, report
