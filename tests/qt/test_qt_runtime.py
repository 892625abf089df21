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
