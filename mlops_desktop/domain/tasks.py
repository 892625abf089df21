"""The task protocol: long work is a plain function ``(inputs, state) -> result``.

The function reports progress through ``state`` and checks ``state.check_cancelled()`` between
steps; it knows nothing of threads, processes or Qt. Runners (the Qt task runner, the CLI, a
training worker) hand it a ``TaskControl`` wired to whatever shows the progress.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol

from mlops_desktop.domain.errors import Cancelled

ProgressCallback = Callable[[float | None, str], None]
PartialCallback = Callable[[object], None]


class TaskState(Protocol):
    """What a task function may do with its runner."""

    def set_progress(self, fraction: float | None, message: str = "") -> None:
        """Report progress as a fraction in [0, 1], or None when the amount is unknown."""

    def set_partial_result(self, value: object) -> None:
        """Hand over a result that is already useful while the work goes on."""

    def is_cancelled(self) -> bool:
        """True once the user asked to stop."""

    def check_cancelled(self) -> None:
        """Raise ``Cancelled`` if the user asked to stop."""


class TaskControl:
    """A thread-safe ``TaskState`` that can be cancelled and whose latest progress can be read.

    ``latest`` always holds the last report, so a display may poll it at its own pace. The
    ``on_progress`` callback, if given, is called at most every ``min_interval`` seconds (and
    on completion) so that a tight loop cannot flood whatever it drives.
    """

    def __init__(
        self,
        on_progress: ProgressCallback | None = None,
        on_partial_result: PartialCallback | None = None,
        min_interval: float = 0.05,
    ):
        self._on_progress = on_progress
        self._on_partial_result = on_partial_result
        self._min_interval = min_interval
        self._cancel = threading.Event()
        self._last_report = float("-inf")
        # One tuple, replaced whole, so a reader on another thread never sees a torn pair.
        self.latest: tuple[float | None, str] = (None, "")

    @property
    def fraction(self) -> float | None:
        return self.latest[0]

    @property
    def message(self) -> str:
        return self.latest[1]

    def set_progress(self, fraction: float | None, message: str = "") -> None:
        if fraction is not None:
            fraction = min(max(float(fraction), 0.0), 1.0)
        self.latest = (fraction, message)
        if self._on_progress is None:
            return
        now = time.monotonic()
        if now - self._last_report >= self._min_interval or fraction == 1.0:
            self._last_report = now
            self._on_progress(fraction, message)

    def set_partial_result(self, value: object) -> None:
        if self._on_partial_result:
            self._on_partial_result(value)

    def cancel(self) -> None:
        self._cancel.set()

    def is_cancelled(self) -> bool:
        return self._cancel.is_set()

    def check_cancelled(self) -> None:
        if self._cancel.is_set():
            raise Cancelled()


class SubTask:
    """A view of a parent state that maps this step's progress into ``[start, end]`` of it.

    ``SubTask(state, 0.2, 0.9)`` lets a helper report 0..1 while the parent bar moves from
    20 % to 90 %; cancellation is the parent's.
    """

    def __init__(self, parent: TaskState, start: float, end: float):
        self._parent, self._start, self._end = parent, start, end

    def set_progress(self, fraction: float | None, message: str = "") -> None:
        scaled = None if fraction is None else self._start + (self._end - self._start) * fraction
        self._parent.set_progress(scaled, message)

    def set_partial_result(self, value: object) -> None:
        self._parent.set_partial_result(value)

    def is_cancelled(self) -> bool:
        return self._parent.is_cancelled()

    def check_cancelled(self) -> None:
        self._parent.check_cancelled()


def quiet_state() -> TaskControl:
    """A state for callers that want neither progress nor cancellation (scripts, notebooks)."""
    return TaskControl()
