"""Importing heavy modules on a worker thread, and knowing on the GUI thread when they are in.

Every import asked for goes through one background thread, in the order asked: two threads
importing parts of scikit-learn at once can see each other's half-initialised modules.
"""

from __future__ import annotations

import gc
import importlib
import logging
import queue
import threading
from collections.abc import Callable, Sequence

from PySide6.QtCore import QObject, QTimer

log = logging.getLogger(__name__)

_loaded: dict[str, threading.Event] = {}
_failed: dict[str, BaseException] = {}
_lock = threading.Lock()
_waiting: queue.SimpleQueue[str] = queue.SimpleQueue()
_importer: threading.Thread | None = None


def _import_forever() -> None:
    while True:
        name = _waiting.get()
        try:
            importlib.import_module(name)
        except BaseException as exc:  # reported on the GUI thread by when_imported
            log.exception("could not import %s", name)
            _failed[name] = exc
        finally:
            # What an import makes lives as long as the process: out of the collector's sight,
            # a full collection (which stops every thread, the window's too) stays short.
            gc.freeze()
            _loaded[name].set()


def start_import(name: str) -> threading.Event:
    """Queue ``name`` for importing in the background (once); the event is set when done."""
    global _importer
    with _lock:
        event = _loaded.get(name)
        if event is None:
            event = _loaded[name] = threading.Event()
            _waiting.put(name)
            if _importer is None:
                _importer = threading.Thread(
                    target=_import_forever, daemon=True, name="background imports"
                )
                _importer.start()
    return event


def imported(names: Sequence[str]) -> bool:
    """Whether every one of ``names`` has finished importing (or failed to)."""
    return all(start_import(name).is_set() for name in names)


def when_imported(
    receiver: QObject,
    names: str | Sequence[str],
    callback: Callable[[], None],
    failed: Callable[[BaseException], None],
) -> None:
    """Call ``callback`` on the GUI thread once ``names`` are imported (``failed`` with the
    first error if one cannot be); the poll stops with ``receiver``."""
    names = [names] if isinstance(names, str) else list(names)

    def finish() -> None:
        errors = [_failed[name] for name in names if name in _failed]
        if errors:
            failed(errors[0])
        else:
            callback()

    if imported(names):
        finish()
        return
    timer = QTimer(receiver)
    timer.setInterval(30)

    def check() -> None:
        if imported(names):
            timer.stop()
            timer.deleteLater()
            finish()

    timer.timeout.connect(check)
    timer.start()
