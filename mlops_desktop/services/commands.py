"""How to start this app's own commands in a child process, installed or packaged."""

from __future__ import annotations

import sys


def own_command(*args: str) -> list[str]:
    """``mlops-desktop ARGS...`` as a child's command line: through this Python with
    ``-m mlops_desktop``, or, in the packaged app (PyInstaller sets ``sys.frozen``), the
    app's own executable, which has no ``-m``."""
    if getattr(sys, "frozen", False):
        return [sys.executable, *args]
    return [sys.executable, "-m", "mlops_desktop", *args]
