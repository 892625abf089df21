"""Real processes killed with SIGKILL during every kind of write leave a sound project.

The fast version of ``benchmarks/stress.py``: one random kill per operation, then the
operation run to its end. The harness lives with the benchmarks."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from _crash import SCENARIOS, TYPICAL_SECONDS, Harness, build_base

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def harness(tmp_path_factory):
    folder = tmp_path_factory.mktemp("crash")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLOPS_DESKTOP_HOME", str(folder / "home"))
        base = build_base(folder / "base")
    harness = Harness(folder / "runs", base, seed=7)
    harness.durations.update(TYPICAL_SECONDS)  # measuring each would double the test's time
    return harness


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_a_kill_leaves_a_sound_file_and_a_restart_carries_on(harness, scenario):
    kill = harness.kill(scenario)
    assert kill.ok, f"killed {kill.after:.3f} s into {scenario}: {kill.problems}"
    assert kill.lost_rows == 0
    harness.run_to_end(scenario)  # raises if the operation cannot carry on
