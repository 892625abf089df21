"""Layering and start-up promises that the code must keep."""

import json
import subprocess
import sys

import pytest


def modules_after(statement: str) -> set[str]:
    code = f"import json, sys; {statement}; print(json.dumps(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return set(json.loads(result.stdout))


@pytest.mark.parametrize(
    "module",
    [
        "mlops_desktop.domain.tasks",
        "mlops_desktop.store",
        "mlops_desktop.services.project",
        "mlops_desktop.services.background",
        "mlops_desktop.cli",
        "mlops_desktop.serving.app",
    ],
)
def test_qt_free_layers_import_no_qt(module):
    loaded = modules_after(f"import {module}")
    assert not any(m.startswith("PySide6") for m in loaded)


def test_the_window_module_defers_heavy_libraries():
    # The command line is on the way to the window too: `mlops-desktop PROJECT` parses first.
    loaded = modules_after(
        "import mlops_desktop.cli, mlops_desktop.app, mlops_desktop.qt.main_window"
    )
    heavy = {
        "pandas",
        "sklearn",
        "matplotlib",
        "skops",
        "sqlite_utils",
        "pyarrow",
        "scipy",
        "numpy",
    }
    assert not heavy & {m.split(".")[0] for m in loaded}
