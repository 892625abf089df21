"""Early flushing of a project file's freshly written pages during a large transaction."""

from __future__ import annotations

import contextlib
import logging
import math
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

log = logging.getLogger(__name__)

#: Page cache (KiB) while writing in bulk, on top of room for the write at hand: small, so
#: that pages go to the file as they are written instead of all at the commit.
BULK_CACHE_KIB = 2048


class _Flusher:
    """One thread that has the disk take a file's written pages whenever it is asked to,
    while the caller goes on with its work."""

    def __init__(self, path: Path):
        self._fd = os.open(path, os.O_RDONLY)
        self._wanted = threading.Event()
        self._done = False
        self._thread = threading.Thread(target=self._run, name="flush", daemon=True)
        self._thread.start()

    def request(self) -> None:
        self._wanted.set()

    def _run(self) -> None:
        while True:
            self._wanted.wait()
            self._wanted.clear()
            if self._done:
                return
            try:
                os.fdatasync(self._fd)
            except OSError as exc:
                # Only a head start: the commit syncs the file itself and reports any error.
                log.debug("early flush failed: %s", exc)

    def stop(self) -> None:
        self._done = True
        self._wanted.set()
        self._thread.join()
        os.close(self._fd)


@contextlib.contextmanager
def flushing_early(
    conn: sqlite3.Connection, path: Path, cache_kib: int
) -> Iterator[Callable[[int], None]]:
    """Within a transaction that writes many megabytes, yield a function to call before each
    large write, with its size in bytes: the pages written so far reach the disk in the
    background, so the commit (which must wait until they are on it) waits only for the last
    ones. ``cache_kib`` is the connection's usual page cache, restored afterwards."""
    journal = conn.execute("PRAGMA journal_mode").fetchone()[0].lower()
    # In WAL mode pages go to the log; otherwise the journal keeps the old ones and the new
    # ones go to the file itself.
    target = path.with_name(path.name + "-wal") if journal == "wal" else path
    try:
        flusher = _Flusher(target)
    except OSError as exc:  # no log to flush (yet): the commit does all of it, as ever
        log.debug("no early flush of %s: %s", target, exc)
        yield lambda nbytes: None
        return

    def before_write(nbytes: int) -> None:
        flusher.request()
        # Every write also changes a few table pages. Pushed out of the cache by the write's
        # own pages, they would be written to the log again by the next one, and a page the
        # log holds twice has the commit read the log back from there to redo its checksums
        # (16 ms of processor time for the import benchmark's 48 MB). The room is capped at
        # the usual cache: past that, a rare huge write costs that re-read instead of memory.
        room = min(BULK_CACHE_KIB + math.ceil(nbytes / 1024), cache_kib)
        conn.execute(f"PRAGMA cache_size = -{room}")

    conn.execute(f"PRAGMA cache_size = -{BULK_CACHE_KIB}")
    try:
        yield before_write
    finally:
        flusher.stop()
        conn.execute(f"PRAGMA cache_size = -{cache_kib}")
