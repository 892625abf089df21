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


_QT_CLASSES_ON_THE_GUI_THREAD = r"""
import importlib.abc, sys, threading, time

from PySide6.QtWidgets import QApplication

seen = {}

class Watch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        seen.setdefault(name, threading.current_thread().name)
        return None

app = QApplication([])
sys.meta_path.insert(0, Watch())
from mlops_desktop.qt.workers import modules

wanted = ["matplotlib.backends.backend_qtagg", "mlops_desktop.qt.panels.data.panel"]
for name in wanted:
    modules.start_import(name)
deadline = time.monotonic() + 120
while not modules.imported(wanted) and time.monotonic() < deadline:
    app.processEvents()
    time.sleep(0.01)
assert modules.imported(wanted) and not modules._failed, modules._failed
qt = ("PySide6", "matplotlib.backends.backend_qt", "mlops_desktop.qt")
gui = {n: t for n, t in seen.items() if n.startswith(qt)}
elsewhere = {n: t for n, t in gui.items() if t != "MainThread"}
early = [n for n, t in seen.items() if t != "MainThread"]
print(len(gui), "Qt modules;", len(early), "others in the background;", elsewhere)
sys.exit(1 if elsewhere or "pandas" not in early or "PySide6.QtSvg" not in gui else 0)
"""


def test_modules_making_qt_classes_load_on_the_gui_thread_the_rest_in_the_background():
    # Qt classes created on the background import thread while the window ran crashed the
    # process now and then (matplotlib's Qt backend; earlier, the panels).
    import subprocess

    result = subprocess.run(
        [sys.executable, "-c", _QT_CLASSES_ON_THE_GUI_THREAD],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr[-2000:]
