"""Runs a task function in a child process, relaying its progress and honouring cancel.

Heavy work (fits, big imports) must not run in the GUI process's Python threads for long: the
GIL would freeze the window. ``run_in_process`` is a blocking call meant for a runner's worker
thread (or a CLI); the function runs in a fresh ``spawn`` child, which a cancel stops
cooperatively first and by termination after a grace period. Results and progress travel over
a pipe between our own two processes; no project data is ever unpickled.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

from mlops_desktop.domain.errors import Cancelled, UserError, error_class
from mlops_desktop.domain.tasks import TaskControl

log = logging.getLogger(__name__)

#: Seconds a cancelled child gets to stop on its own before it is terminated.
CANCEL_GRACE = 3.0
_POLL = 0.05


class _PipeState:
    """The child's ``TaskState``: cancel comes from an event; progress goes up the pipe.

    Reports are kept as "latest" and sent by a flusher thread at most every ``_POLL``
    seconds, so a chatty task cannot flood the pipe and a phase's last words are never lost.
    """

    def __init__(self, conn, cancel_event):
        self._conn, self._cancel = conn, cancel_event
        self._lock = threading.Lock()
        self._latest: tuple[float | None, str] | None = None
        self._sent: tuple[float | None, str] | None = None
        self._closed = threading.Event()
        threading.Thread(target=self._flush_periodically, daemon=True).start()

    def set_progress(self, fraction: float | None, message: str = "") -> None:
        self._latest = (fraction, message)

    def set_partial_result(self, value: object) -> None:
        self.send("partial", value)

    def is_cancelled(self) -> bool:
        return self._cancel.is_set()

    def check_cancelled(self) -> None:
        if self._cancel.is_set():
            raise Cancelled()

    def send(self, kind: str, payload: object) -> None:
        with self._lock:
            self._conn.send((kind, payload))

    def flush(self) -> None:
        latest = self._latest
        if latest is not None and latest != self._sent:
            self._sent = latest
            self.send("progress", latest)

    def close(self) -> None:
        self._closed.set()
        self.flush()

    def _flush_periodically(self) -> None:
        while not self._closed.wait(_POLL):
            try:
                self.flush()
            except OSError:  # the parent went away; the main thread will find out too
                return


def _child_main(fn, args, kwargs, conn, cancel_event) -> None:
    state = _PipeState(conn, cancel_event)
    try:
        result = fn(*args, state=state, **kwargs)
    except Cancelled:
        outcome = ("cancelled", None)
    except UserError as exc:
        outcome = ("user_error", (type(exc).__name__, exc.message))
    except BaseException as exc:
        outcome = ("error", (f"{type(exc).__name__}: {exc}", traceback.format_exc()))
    else:
        outcome = ("done", result)
    state.close()
    state.send(*outcome)
    conn.close()


class TaskCrashed(Exception):  # noqa: N818 - names the event, like Cancelled
    """The child failed unexpectedly; ``details`` holds its traceback for the log."""

    def __init__(self, summary: str, details: str = ""):
        super().__init__(summary)
        self.details = details


def run_in_process(
    fn: Callable[..., Any], args: tuple = (), control: TaskControl | None = None, **kwargs
) -> Any:
    """Run ``fn(*args, state=..., **kwargs)`` in a child process and return its result.

    Raises ``Cancelled`` when ``control`` was cancelled, ``UserError`` for the child's user
    errors, and ``TaskCrashed`` when it failed or died.
    """
    control = control or TaskControl()
    ctx = multiprocessing.get_context("spawn")
    receiver, sender = ctx.Pipe(duplex=False)
    cancel_event = ctx.Event()
    process = ctx.Process(
        target=_child_main, args=(fn, args, kwargs, sender, cancel_event), daemon=True
    )
    process.start()
    sender.close()
    outcome: tuple[str, Any] | None = None
    cancelled_at: float | None = None
    try:
        while outcome is None:
            if control.is_cancelled() and cancelled_at is None:
                cancel_event.set()
                cancelled_at = time.monotonic()
            if cancelled_at is not None and time.monotonic() - cancelled_at > CANCEL_GRACE:
                log.warning("terminating child %s after cancel", process.pid)
                process.terminate()
                process.join(CANCEL_GRACE)
                if process.is_alive():
                    process.kill()
                outcome = ("cancelled", None)
                break
            if receiver.poll(_POLL):
                try:
                    kind, payload = receiver.recv()
                except EOFError:
                    break
                if kind == "progress":
                    control.set_progress(*payload)
                elif kind == "partial":
                    control.set_partial_result(payload)
                else:
                    outcome = (kind, payload)
            elif not process.is_alive() and not receiver.poll(0):
                break
    finally:
        receiver.close()
        process.join(CANCEL_GRACE)
        if process.is_alive():
            process.kill()
            process.join()
    if outcome is None:
        if control.is_cancelled():
            raise Cancelled()
        raise TaskCrashed(
            f"the background process stopped unexpectedly (exit code {process.exitcode})"
        )
    kind, payload = outcome
    if kind == "done":
        return payload
    if kind == "cancelled":
        raise Cancelled()
    if kind == "user_error":
        name, message = payload
        raise error_class(name)(message)  # the same kind of refusal as in the child
    summary, details = payload
    raise TaskCrashed(summary, details)
