"""Guards against Qt binding bugs that would crash the app long after they happen."""

import sys

import pytest
from PySide6.QtCore import QObject, Signal


class _Emitter(QObject):
    fired = Signal(str)


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="True is immortal from Python 3.12")
def test_emitting_a_signal_keeps_the_reference_count_of_true():
    # PySide6 6.12.0 returned True from emit() without a new reference: every emit took one
    # reference away from True until the interpreter aborted in bool_dealloc.
    emitter = _Emitter()
    before = sys.getrefcount(True)
    for _ in range(100):
        emitter.fired.emit("x")
    assert sys.getrefcount(True) - before > -50


_QT_LIBRARIES_ON_THE_GUI_THREAD = r"""
import importlib.abc, sys, threading

seen = {}

class Watch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.startswith("PySide6.Qt"):
            seen.setdefault(name, threading.current_thread().name)
        return None

sys.meta_path.insert(0, Watch())
from mlops_desktop.qt.workers import modules

modules.start_import("matplotlib.backends.backend_qtagg").wait(120)
elsewhere = {name: where for name, where in seen.items() if where != "MainThread"}
print(sorted(seen), elsewhere)
sys.exit(1 if elsewhere or "PySide6.QtSvg" not in seen else 0)
"""


def test_qt_libraries_load_on_the_gui_thread_not_the_import_thread():
    # QtSvg initialising on the background import thread while the window ran crashed the
    # process now and then: matplotlib's Qt backend imports it.
    import subprocess

    result = subprocess.run(
        [sys.executable, "-c", _QT_LIBRARIES_ON_THE_GUI_THREAD],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr[-2000:]
