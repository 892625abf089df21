"""docs/screenshots.py keeps working: the README's pictures can always be made again."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_the_screenshot_script_draws_every_panel_of_the_demo(tmp_path):
    result = subprocess.run(
        [sys.executable, str(ROOT / "docs" / "screenshots.py"), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    # A crash's traceback comes before the long list of extension modules: keep it in view.
    assert result.returncode == 0, result.stdout + result.stderr.split("\nExtension modules")[0]
    names = sorted(p.name for p in tmp_path.glob("*.png"))
    assert names == [
        "01-overview.png",
        "02-data.png",
        "03-experiments-pipeline.png",
        "03-experiments.png",
        "04-training-queue.png",
        "05-models-compare.png",
        "05-models-lineage.png",
        "05-models-plots.png",
        "05-models.png",
        "06-serving.png",
        "07-monitoring.png",
        "08-tour.png",
        "welcome.png",
    ]
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in names:
        assert f"docs/images/{name}" in readme
