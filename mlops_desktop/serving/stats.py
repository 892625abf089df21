"""What the desktop panel reads: one JSON line on stdout when serving starts, then one per
second with the last second's traffic. Lines are written by a thread of their own, so a
reader that stops reading can never stall the server (lines are dropped instead)."""

from __future__ import annotations

import json
import queue
import sys
import threading
import time


class Stats:
    """Requests to ``/invocations`` in the current one-second window."""

    def __init__(self):
        self._latencies: list[float] = []
        self._errors = 0
        self._rows = 0
        self.total_requests = 0
        self.total_errors = 0

    def record(self, status: int, seconds: float, rows: int = 0) -> None:
        self._latencies.append(seconds)
        self._rows += rows
        self.total_requests += 1
        if status >= 400:
            self._errors += 1
            self.total_errors += 1

    def add_rows(self, rows: int) -> None:
        self._rows += rows

    def take(self) -> dict:
        """The window's figures, and a new window."""
        latencies, errors, rows = self._latencies, self._errors, self._rows
        self._latencies, self._errors, self._rows = [], 0, 0
        latencies.sort()
        return {
            "requests": len(latencies),
            "errors": errors,
            "rows": rows,
            "p50_ms": _percentile(latencies, 0.50),
            "p95_ms": _percentile(latencies, 0.95),
        }


def _percentile(ordered: list[float], q: float) -> float | None:
    """Linear interpolation between the closest ranks (NumPy's default), in milliseconds."""
    if not ordered:
        return None
    position = q * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    value = ordered[low] + (ordered[high] - ordered[low]) * (position - low)
    return round(value * 1000, 3)


class LineWriter:
    """JSON lines to a stream from a thread of its own; drops lines rather than block."""

    def __init__(self, stream=None, capacity: int = 1000):
        self._stream = stream or sys.stdout
        self._queue: queue.Queue = queue.Queue(capacity)
        self._thread = threading.Thread(target=self._run, name="stdout-lines", daemon=True)
        self._thread.start()
        self.dropped = 0

    def write(self, payload: dict) -> None:
        payload = {**payload, "time": round(time.time(), 3)} if "time" not in payload else payload
        try:
            self._queue.put_nowait(json.dumps(payload, separators=(",", ":")))
        except queue.Full:
            self.dropped += 1

    def close(self, timeout: float = 2.0) -> None:
        try:
            self._queue.put(None, timeout=timeout)
        except queue.Full:
            return
        self._thread.join(timeout)

    def _run(self) -> None:
        while (line := self._queue.get()) is not None:
            try:
                self._stream.write(line + "\n")
                self._stream.flush()
            except (OSError, ValueError):  # the reader went away
                return
