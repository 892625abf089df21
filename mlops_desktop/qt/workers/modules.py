"""Importing heavy modules on a worker thread, and knowing on the GUI thread when they are in."""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer

log = logging.getLogger(__name__)

_loaded: dict[str, threading.Event] = {}
_failed: dict[str, BaseException] = {}
_lock = threading.Lock()


def _import(name: str, done: threading.Event) -> None:
    try:
        importlib.import_module(name)
    except BaseException as exc:  # reported on the GUI thread by when_imported
        log.exception("could not import %s", name)
        _failed[name] = exc
    finally:
        done.set()


def start_import(name: str) -> threading.Event:
    """Begin importing ``name`` in the background (once); the event is set when it is done."""
    with _lock:
        event = _loaded.get(name)
        if event is None:
            event = _loaded[name] = threading.Event()
            threading.Thread(
                target=_import, args=(name, event), daemon=True, name=f"import {name}"
            ).start()
    return event


def when_imported(
    receiver: QObject,
    name: str,
    callback: Callable[[], None],
    failed: Callable[[BaseException], None],
) -> None:
    """Call ``callback`` on the GUI thread once ``name`` is imported (``failed`` if it cannot
    be); the poll stops with ``receiver``."""
    event = start_import(name)

    def finish() -> None:
        if name in _failed:
            failed(_failed[name])
        else:
            callback()

    if event.is_set():
        finish()
        return
    timer = QTimer(receiver)
    timer.setInterval(30)

    def check() -> None:
        if event.is_set():
            timer.stop()
            timer.deleteLater()
            finish()

    timer.timeout.connect(check)
    timer.start()
