"""Importing heavy modules on a worker thread, and knowing on the GUI thread when they are in.

Every import asked for goes through one background thread, in the order asked: two threads
importing parts of scikit-learn at once can see each other's half-initialised modules. The
thread tells the GUI thread through a queued signal when each import ends. Modules that
create Qt classes are imported by the GUI thread itself, once the background thread has
imported everything else they need (``prerequisites``).
"""

from __future__ import annotations

import gc
import importlib
import logging
import queue
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import ModuleType

import shiboken6
from PySide6.QtCore import QCoreApplication, QObject, Signal

from mlops_desktop.qt.workers import prerequisites

log = logging.getLogger(__name__)

_loaded: dict[str, threading.Event] = {}
_failed: dict[str, BaseException] = {}
_lock = threading.Lock()
_waiting: queue.SimpleQueue[str] = queue.SimpleQueue()
#: GUI modules whose other imports are in: the GUI thread imports them next.
_for_gui_thread: queue.SimpleQueue[str] = queue.SimpleQueue()
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
            if prerequisites.needs_gui_thread(name):
                for package in prerequisites.packages_above(name):
                    importlib.import_module(package)
                for early in prerequisites.outside_gui(name):
                    _load_early(early)
            else:
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
            if prerequisites.needs_gui_thread(name) and name not in _failed:
                _for_gui_thread.put(name)
            else:
                _loaded[name].set()
            notifier = _notifier
            if notifier is not None and shiboken6.isValid(notifier):
                notifier.ended.emit(name)


def _load_early(name: str) -> None:
    """Import what a GUI module will import, if ``name`` is a module: a failure here only
    means the GUI thread will meet it (and report it) itself."""
    parent, _, attribute = name.rpartition(".")
    owner = sys.modules.get(parent)
    if owner is not None and not isinstance(getattr(owner, attribute, None), ModuleType | None):
        return  # a class or function of a module already in
    try:
        importlib.import_module(name)
    except Exception:
        log.debug("%s will be imported on the GUI thread, if at all", name, exc_info=True)


def _import_on_gui_thread() -> None:
    """On the GUI thread: import the GUI modules whose other imports are in."""
    while True:
        try:
            name = _for_gui_thread.get_nowait()
        except queue.Empty:
            return
        try:
            importlib.import_module(name)
        except BaseException as exc:  # reported by when_imported
            log.exception("could not import %s", name)
            _failed[name] = exc
        _loaded[name].set()


def start_import(name: str) -> threading.Event:
    """Queue ``name`` for importing in the background (once); the event is set when done.
    A module that creates Qt classes is imported on the GUI thread once what else it
    imports is in (``prerequisites``): call this on the GUI thread."""
    global _importer
    _ensure_notifier()
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
    """Whether every one of ``names`` has finished importing (or failed to). On the GUI
    thread, like everything here but the import thread."""
    _import_on_gui_thread()
    return all(start_import(name).is_set() for name in names)


def _ensure_notifier() -> None:
    global _notifier
    if _notifier is None or not shiboken6.isValid(_notifier):
        # Parented to the application, so it lives on the GUI thread as long as the app.
        _notifier = _Notifier(QCoreApplication.instance())
        _notifier.ended.connect(_deliver)


def _deliver(_name: str = "") -> None:
    """On the GUI thread: import the GUI modules now due, then finish every waiter whose
    modules are all in."""
    _import_on_gui_thread()
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
    _ensure_notifier()
    waiter = _Waiter(receiver, [names] if isinstance(names, str) else list(names), callback, failed)
    if imported(waiter.names):
        waiter.finish()
        return
    _waiters.append(waiter)
    _deliver()  # an import may have ended between the check above and now
