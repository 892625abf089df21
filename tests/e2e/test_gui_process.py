"""The real entry point, in its own process, as a user starts it."""

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow


def test_the_app_starts_on_a_project_and_paints(tmp_path):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    project = tmp_path / "e2e.mlops"
    subprocess.run(
        [sys.executable, "-m", "mlops_desktop", "init", str(project)], env=env, check=True
    )
    result = subprocess.run(
        [sys.executable, "-m", "mlops_desktop", str(project), "--exit-after-first-paint"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("first-paint ")
    assert "Traceback" not in result.stderr


def test_the_app_refuses_to_start_without_a_display(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "DISPLAY")}
    env.pop("WAYLAND_DISPLAY", None)
    result = subprocess.run(
        [sys.executable, "-m", "mlops_desktop"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert result.stderr.startswith("error: No display was found")
