"""The Qt side of the task protocol: run task functions off the event loop, report to the UI.

Panels call ``TaskRunner.start(title, fn, *args)`` and connect to the returned handle's
signals; they never touch threads. Short I/O runs on a worker thread; CPU-heavy work passes
``in_process=True`` so it runs in a child process and the GIL cannot freeze the window.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, Qt, QTimer, Signal

from mlops_desktop.domain.errors import WRITES_REFUSED, Cancelled, UserError
from mlops_desktop.domain.tasks import TaskControl
from mlops_desktop.services.background import TaskCrashed, run_in_process

log = logging.getLogger(__name__)

#: How often a running task's progress is read for display.
PROGRESS_POLL_MS = 100


class TaskHandle(QObject):
    """One running task. Exactly one of ``succeeded``, ``failed`` or ``cancelled`` is
    emitted, then ``finished``.

    Every signal is emitted on the GUI thread, so any slot (lambdas included) runs there.
    Progress is polled from the task's ``TaskControl`` at the display's pace: a task that
    reports a million times cannot flood the event queue, and its latest words always show.
    The worker thread only posts its outcome to ``_posted``, a queued hop into ``_deliver``.
    """

    progress = Signal(object, str)  # fraction in [0, 1] or None (unknown), message
    partial_result = Signal(object)
    succeeded = Signal(object)
    failed = Signal(str)  # a sentence for the user
    cancelled = Signal()
    finished = Signal()
    _posted = Signal(str, object)
    _ended = Signal()  # for the runner: emitted even when the owner is gone

    def __init__(self, title: str, parent: QObject | None = None):
        super().__init__(parent)
        self.title = title
        self.running = True
        self.control = TaskControl(
            on_partial_result=lambda value: self._posted.emit("partial", value)
        )
        self._shown: tuple[float | None, str] = self.control.latest
        self._owner: QObject | None = None
        self._owner_gone = False
        self._posted.connect(self._deliver, Qt.ConnectionType.QueuedConnection)
        self._poll = QTimer(self)
        self._poll.setInterval(PROGRESS_POLL_MS)
        self._poll.timeout.connect(self._show_progress)
        self._poll.start()

    @property
    def fraction(self) -> float | None:
        return self._shown[0]

    @property
    def message(self) -> str:
        return self._shown[1]

    def cancel(self) -> None:
        self.control.cancel()

    def bind(self, owner: QObject) -> None:
        """Cancel and go quiet when ``owner`` is destroyed.

        Qt drops connections to a destroyed object's methods, but not to lambdas that
        capture it: without this, a task finishing after its panel closed would call into
        deleted widgets.
        """
        self._owner = owner
        owner.destroyed.connect(self._owner_destroyed)

    def owned_within(self, root: QObject) -> bool:
        """Whether this task's owner is ``root`` or one of its descendants."""
        owner = self._owner
        while owner is not None and shiboken6.isValid(owner):
            if owner is root:
                return True
            owner = owner.parent()
        return False

    def _owner_destroyed(self, *_args) -> None:
        self._owner_gone = True
        self.cancel()

    def _show_progress(self) -> None:
        latest = self.control.latest
        if latest != self._shown:
            self._shown = latest
            self.progress.emit(*latest)

    def _deliver(self, kind: str, payload: object) -> None:
        if kind == "partial":
            if not self._owner_gone:
                self.partial_result.emit(payload)
            return
        self._poll.stop()
        self.running = False
        if self._owner_gone:
            self._ended.emit()
            return
        self._show_progress()
        if kind == "succeeded":
            self.succeeded.emit(payload)
        elif kind == "failed":
            self.failed.emit(payload)
        else:
            self.cancelled.emit()
        self.finished.emit()
        self._ended.emit()


class TaskRunner(QObject):
    """Starts tasks and keeps them alive until they finish."""

    task_started = Signal(object)  # TaskHandle
    #: A task failed because the project takes no more changes (a full disk, a file that
    #: became read-only); emitted just before its handle's ``failed``.
    writes_refused = Signal(str)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._handles: list[TaskHandle] = []
        self._threads: list[threading.Thread] = []

    def start(
        self,
        title: str,
        fn: Callable[..., Any],
        *args: Any,
        in_process: bool = False,
        owner: QObject | None = None,
    ) -> TaskHandle:
        """Run ``fn(*args, state=...)`` in the background and return its handle.

        Pass the widget whose slots consume the result as ``owner``: the task is cancelled
        and its signals stay silent once that widget is gone.
        """
        # No Qt parent: the list below keeps a running handle alive, and Python frees it when
        # the last reference goes (a deleteLater racing the parent's destructor crashed).
        handle = TaskHandle(title)
        if owner is not None:
            handle.bind(owner)
        self._handles.append(handle)
        handle._ended.connect(lambda: self._forget(handle))  # emitted on the GUI thread
        thread = threading.Thread(
            target=self._work,
            args=(handle, fn, args, in_process),
            name=f"task: {title}",
            daemon=True,  # a task stuck in a C call must not keep the app from quitting
        )
        self._threads.append(thread)
        thread.start()
        self.task_started.emit(handle)
        return handle

    def active(self) -> list[TaskHandle]:
        return [h for h in self._handles if h.running]

    def cancel_all(self, wait: float = 5.0) -> None:
        """Ask every task to stop and give them ``wait`` seconds in total to do so."""
        for handle in self._handles:
            handle.cancel()
        for thread in self._threads:
            thread.join(timeout=wait / max(len(self._threads), 1))

    def abandon_within(self, root: QObject) -> None:
        """Cancel and silence the tasks owned by ``root`` or by a widget inside it, before it
        is deleted later: a result already queued would otherwise still reach it (a cleaning
        saved as its project closes, telling a closed project it changed)."""
        for handle in self._handles:
            if handle.owned_within(root):
                handle._owner_destroyed()

    def _forget(self, handle: TaskHandle) -> None:
        if handle in self._handles:
            self._handles.remove(handle)
        self._threads = [t for t in self._threads if t.is_alive()]

    def _work(self, handle: TaskHandle, fn, args, in_process: bool) -> None:
        post = handle._posted.emit
        try:
            if in_process:
                result = run_in_process(fn, args, handle.control)
            else:
                result = fn(*args, state=handle.control)
        except Cancelled:
            post("cancelled", None)
        except UserError as exc:
            if isinstance(exc, WRITES_REFUSED):
                self.writes_refused.emit(exc.message)
            post("failed", exc.message)
        except TaskCrashed as exc:
            log.error("task %r crashed: %s\n%s", handle.title, exc, exc.details)
            post("failed", f"{handle.title} failed: {exc}. Details are in the log file.")
        except Exception as exc:
            log.exception("task %r failed", handle.title)
            post(
                "failed",
                f"{handle.title} failed unexpectedly ({type(exc).__name__}: {exc}). "
                "Details are in the log file.",
            )
        else:
            post("succeeded", result)
