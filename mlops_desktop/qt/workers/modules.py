"""Importing heavy modules on a worker thread, and knowing on the GUI thread when they are in.

Every import asked for goes through one background thread, in the order asked: two threads
importing parts of scikit-learn at once can see each other's half-initialised modules. The
thread tells the GUI thread through a queued signal when each import ends.
"""

from __future__ import annotations

import gc
import importlib
import logging
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import shiboken6
from PySide6.QtCore import QCoreApplication, QObject, Signal

log = logging.getLogger(__name__)

#: The Qt libraries the background imports use (matplotlib's Qt backend needs all of them).
QT_LIBRARIES = ("PySide6.QtWidgets", "PySide6.QtSvg")

_loaded: dict[str, threading.Event] = {}
_failed: dict[str, BaseException] = {}
_lock = threading.Lock()
_waiting: queue.SimpleQueue[str] = queue.SimpleQueue()
_importer: threading.Thread | None = None


class _Notifier(QObject):
    """Lives on the GUI thread; the import thread emits ``ended`` after each import."""

    ended = Signal(str)


@dataclass(eq=False)
class _Waiter:
    receiver: QObject
    names: list[str]
    callback: Callable[[], None]
    failed: Callable[[BaseException], None]

    def finish(self) -> None:
        errors = [_failed[name] for name in self.names if name in _failed]
        if errors:
            self.failed(errors[0])
        else:
            self.callback()


_notifier: _Notifier | None = None
_waiters: list[_Waiter] = []


def _import_forever() -> None:
    while True:
        name = _waiting.get()
        # No collection while a module imports: one started by the GUI thread's allocations
        # would walk the Qt classes this import is still creating (matplotlib's Qt backend,
        # the panels), and crashed the process doing so.
        collecting = gc.isenabled()
        gc.disable()
        try:
            importlib.import_module(name)
        except BaseException as exc:  # reported on the GUI thread by when_imported
            log.exception("could not import %s", name)
            _failed[name] = exc
        finally:
            if collecting:
                gc.enable()
            # What an import makes lives as long as the process: out of the collector's sight,
            # a full collection (which stops every thread, the window's too) stays short.
            gc.freeze()
            _loaded[name].set()
            notifier = _notifier
            if notifier is not None and shiboken6.isValid(notifier):
                notifier.ended.emit(name)


def start_import(name: str) -> threading.Event:
    """Queue ``name`` for importing in the background (once); the event is set when done."""
    global _importer
    with _lock:
        event = _loaded.get(name)
        if event is None:
            event = _loaded[name] = threading.Event()
            _waiting.put(name)
            if _importer is None:
                # Qt's own libraries load here, on the GUI thread: QtSvg initialising on the
                # import thread (matplotlib's Qt backend asks for it) while the window ran
                # crashed the process. Both take 2 ms once the window exists.
                for library in QT_LIBRARIES:
                    importlib.import_module(library)
                _importer = threading.Thread(
                    target=_import_forever, daemon=True, name="background imports"
                )
                _importer.start()
    return event


def imported(names: Sequence[str]) -> bool:
    """Whether every one of ``names`` has finished importing (or failed to)."""
    return all(start_import(name).is_set() for name in names)


def _deliver(_name: str = "") -> None:
    """On the GUI thread: finish every waiter whose modules are all in."""
    ready = [w for w in _waiters if imported(w.names)]
    # Out of the list before any callback runs: a callback may wait for more imports.
    _waiters[:] = [w for w in _waiters if w not in ready]
    for waiter in ready:
        if shiboken6.isValid(waiter.receiver):  # a closed panel no longer wants its callback
            waiter.finish()


def when_imported(
    receiver: QObject,
    names: str | Sequence[str],
    callback: Callable[[], None],
    failed: Callable[[BaseException], None],
) -> None:
    """Call ``callback`` on the GUI thread once ``names`` are imported (``failed`` with the
    first error if one cannot be), unless ``receiver`` is gone by then."""
    global _notifier
    if _notifier is None or not shiboken6.isValid(_notifier):
        # Parented to the application, so it lives on the GUI thread as long as the app.
        _notifier = _Notifier(QCoreApplication.instance())
        _notifier.ended.connect(_deliver)
    waiter = _Waiter(receiver, [names] if isinstance(names, str) else list(names), callback, failed)
    if imported(waiter.names):
        waiter.finish()
        return
    _waiters.append(waiter)
    _deliver()  # an import may have ended between the check above and now
