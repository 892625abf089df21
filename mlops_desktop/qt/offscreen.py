"""Quieting Qt's offscreen platform, which scripts drawing windows without a display use."""

from __future__ import annotations

import sys


def quiet_offscreen_warnings() -> None:
    """Drop the offscreen plugin's one warning per window resize ("does not support
    propagateSizeHints"), which would bury a real error; keep every other message."""
    from PySide6.QtCore import qInstallMessageHandler

    def handler(_mode, _context, message):
        if "propagateSizeHints" not in message:
            print(message, file=sys.stderr)

    qInstallMessageHandler(handler)
