"""Serving sessions and the prediction log: ``project.serving`` and the server's writer.

The model server (its own process) records a session, then logs every request through a
``PredictionLog``, which keeps the request path free of I/O::

    with Project.open(path) as project:
        version = project.models.get("churn@production")
        session = project.serving.start_session(
            version, served_as="churn@production", host="127.0.0.1", port=5005,
            engine="onnxruntime", engine_reason="agrees with scikit-learn on 200 rows",
        )
    log = PredictionLog(path, session.uuid)
    ...
    # on the request thread, after predicting (a few microseconds: a lock and an append)
    log.add(request_id, version.uuid, time.time(), latency_ms, columns, predictions)
    log.add_error(request_id, time.time(), latency_ms, 400, "column 'age' is missing")
    ...
    log.close()  # writes what is left and marks the session stopped

``add`` buffers; a background thread with its own connection writes the buffer at least once
every ``flush_seconds``, in one transaction per flush, and keeps the session's counts. A lock
held elsewhere makes it retry with back-off (never an exception in the server); what arrives
meanwhile waits in memory (up to ``max_pending`` requests, then it is counted as dropped). A
second thread merges the flushed batches into Parquet segments off the flush path (see
``mlops_desktop.store.serving``). ``close()`` writes everything; after a kill at most the last
flush interval (plus the commit in flight) is missing, and the project is consistent: each
flush is one transaction.

With ``log_predictions`` off for the session, ``add`` only counts.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from mlops_desktop.domain.errors import ProjectFileError, UserError
from mlops_desktop.domain.model import ModelVersion
from mlops_desktop.domain.serving import (
    HEARTBEAT_SECONDS,
    ServingError,
    ServingSession,
    TrafficBucket,
    epoch_us,
    iso_us,
    parse_time,
)
from mlops_desktop.store import ProjectFile
from mlops_desktop.store import serving as log_store
from mlops_desktop.store.clock import utc_now

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from mlops_desktop.services.project import Project

log = logging.getLogger(__name__)

#: Flushed (level 0) batches of one version merged into a Parquet segment.
MERGE_AFTER = 30
#: How long the writer waits for the project's write lock before backing off and retrying.
WRITE_BUSY_MS = 2_000
#: Back-off between failed writes: doubling from the first to the last.
BACKOFF = (0.05, 2.0)
#: Most buckets ``traffic`` makes: choose a longer bucket or a shorter window beyond.
MAX_BUCKETS = 100_000


def _record_stop(file: ProjectFile, session_uuid: str) -> ServingSession | None:
    """Mark a session stopped and say so in the history; call in a transaction. None if it
    had stopped already."""
    repo = file.serving
    if not repo.stop(session_uuid):
        return None
    session = repo.by_uuid(session_uuid)
    file.events.record(
        "serving.stopped",
        f"Stopped serving {_served(session)} at {session.url}: {session.requests:,} "
        f"request{'' if session.requests == 1 else 's'}, {session.errors:,} "
        f"error{'' if session.errors == 1 else 's'}",
        "serving_session",
        session.uuid,
        {"requests": session.requests, "errors": session.errors, "dropped": session.dropped},
    )
    return session


def _served(session: ServingSession) -> str:
    if session.served_as == session.version_label:
        return session.served_as
    return f"{session.served_as} ({session.version_label})"


def _as_tuple(entry) -> tuple:
    """A buffered entry as (request_id, version_uuid, at, latency_ms, columns, outputs)."""
    if type(entry) is tuple:
        return entry
    try:  # the server's PredictionRecord
        return (
            entry.request_id,
            entry.version.uuid,
            entry.received_at,
            entry.latency_ms,
            entry.columns,
            entry.predictions,
        )
    except AttributeError:
        return (None, None, None, None, None, None)  # dropped as malformed


def _record_version(entry) -> str | None:
    version = getattr(entry, "version", None)
    return getattr(version, "uuid", None)


def _is_transient(exc: BaseException) -> bool:
    """A write that may well work if tried again: the file was locked, busy or full."""
    if isinstance(exc, ProjectFileError):
        return True
    return isinstance(exc, sqlite3.OperationalError)


class PredictionLog:
    """Writes one serving session's prediction log from a background thread.

    ``add`` and ``add_error`` may be called from any thread, never block on I/O and never
    raise. The caller hands over its arrays: do not change them after ``add``.
    """

    def __init__(
        self,
        project_path: str | os.PathLike,
        session_uuid: str,
        flush_seconds: float = 1.0,
        *,
        merge_after: int = MERGE_AFTER,
        fanout: int = log_store.FANOUT,
        segment_rows: int = log_store.SEGMENT_ROWS,
        max_pending: int = 1_000_000,
    ):
        if flush_seconds <= 0:
            raise ValueError("flush_seconds must be positive")
        self.path = project_path
        self.session_uuid = session_uuid
        self.flush_seconds = float(flush_seconds)
        self._merge_after, self._fanout = max(2, merge_after), max(2, fanout)
        self._segment_rows = segment_rows
        self._lock = threading.Lock()
        self._pending: list[tuple] = []
        self._errors: list[tuple] = []
        self._skipped = 0  # requests answered but not buffered (log off, or buffer full)
        self._skipped_versions: dict[str | None, int] = {}
        self._capacity = max_pending
        self._logging = True
        self._accepting = True
        # What the flush thread failed to write and carries into the next attempt.
        self._carry_batches: list[tuple[str, pa.Table, int]] = []
        self._carry_errors: list[tuple] = []
        self._carry_counts = [0, 0, 0]  # requests, errors, dropped
        self._carry_versions: dict[str, int] = {}  # requests per version served
        self._flushed_since_merge: dict[str, int] = {}
        self._stop = threading.Event()
        self._merge_wanted = threading.Event()
        self._merge_stop = threading.Event()
        self._deadline: float | None = None
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None
        self._closed = False
        self._final: ServingSession | None = None
        self.written_requests = 0
        self.dropped = 0
        self.flushes = 0
        self.failed_writes = 0
        self._flusher = threading.Thread(
            target=self._run_flusher, name=f"prediction-log-{session_uuid[:8]}", daemon=True
        )
        self._flusher.start()
        self._ready.wait()
        if self._startup_error is not None:
            raise self._startup_error
        self._merger = None
        if self._logging:
            self._merger = threading.Thread(
                target=self._run_merger, name=f"prediction-merge-{session_uuid[:8]}", daemon=True
            )
            self._merger.start()
        atexit.register(self.close)

    # -- the request path -----------------------------------------------------------------------

    def add(
        self,
        request_id,
        version_uuid: str | None = None,
        at: float | None = None,
        latency_ms: float | None = None,
        columns: dict | None = None,
        outputs: Sequence | None = None,
    ) -> None:
        """Log one answered request: its inputs (``columns``: name -> list or NumPy array,
        one value per row), its ``outputs`` (one per row: a label or number, or a list of
        class probabilities), when it arrived (``at``: POSIX seconds, ``time.time()``) and
        how long it took. The server's ``PredictionRecord`` may be passed whole instead
        (``add(record)``): it is unpacked on the flush thread."""
        entry = (
            request_id
            if version_uuid is None
            else (request_id, version_uuid, at, latency_ms, columns, outputs)
        )
        with self._lock:
            if self._logging and len(self._pending) < self._capacity:
                self._pending.append(entry)
            else:
                self._skipped += 1
                version = version_uuid or _record_version(entry)
                self._skipped_versions[version] = self._skipped_versions.get(version, 0) + 1

    def add_error(
        self, request_id: str, at: float, latency_ms: float, status: int = 400, message: str = ""
    ) -> None:
        """Log a request that got no prediction: refused (``status`` 4xx) or failed (5xx)."""
        with self._lock:
            if self._accepting and len(self._errors) < self._capacity:
                self._errors.append((request_id, at, latency_ms, status, message))

    # -- closing --------------------------------------------------------------------------------

    def close(self, timeout: float = 60.0) -> ServingSession | None:
        """Write everything logged so far, mark the session stopped and record it in the
        history; merge what this session left in small batches. Gives up (logging what was
        lost) if the project stays locked for ``timeout`` seconds. Returns the session as
        stopped, or None if it could not be written."""
        if self._closed:
            return self._final
        self._closed = True
        with contextlib.suppress(Exception):
            atexit.unregister(self.close)
        self._deadline = time.monotonic() + timeout
        self._stop.set()
        self._flusher.join(timeout + 5)
        if self._merger is not None:
            self._merge_stop.set()
            self._merge_wanted.set()
            self._merger.join(max(1.0, self._deadline - time.monotonic()) + 5)
        return self._final

    def __enter__(self) -> PredictionLog:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # -- the flush thread -----------------------------------------------------------------------

    def _run_flusher(self) -> None:
        try:
            file = ProjectFile.open(self.path)
        except BaseException as exc:
            self._startup_error = exc
            self._ready.set()
            return
        try:
            file.conn.execute(f"PRAGMA busy_timeout = {WRITE_BUSY_MS}")
            session = file.serving.find(self.session_uuid)
            if session is None or session.stopped_at is not None:
                raise UserError(
                    f"There is no running serving session {self.session_uuid} in "
                    f"{file.path.name}: start one with project.serving.start_session()."
                )
            self._logging = session.log_predictions
        except BaseException as exc:
            file.close()
            self._startup_error = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            self._flush_loop(file)
        except BaseException:  # never seen; but the server must not hear of it
            log.exception("the prediction log of session %s stopped", self.session_uuid)
        finally:
            file.close()

    def _flush_loop(self, file: ProjectFile) -> None:
        period = self.flush_seconds
        due = time.monotonic() + period
        self._last_write = time.monotonic()
        backoff = 0.0
        while not self._stop.wait(max(0.0, due - time.monotonic())):
            heartbeat = time.monotonic() - self._last_write >= HEARTBEAT_SECONDS
            if self._flush(file, heartbeat=heartbeat):
                backoff = 0.0
                # On a fixed cadence: a slow flush does not push the next one back.
                due = max(due + period, time.monotonic() + 0.001)
            else:
                backoff = min(BACKOFF[1], max(BACKOFF[0], backoff * 2))
                due = time.monotonic() + backoff
        # Closing: take everything, accept nothing more, write until done or out of time.
        backoff = BACKOFF[0]
        while True:
            if self._flush(file, final=True):
                return
            if self._deadline is None or time.monotonic() + backoff > self._deadline:
                lost = self._carry_counts[0] + sum(n for _, _, n in self._carry_batches)
                log.error(
                    "could not write the prediction log of session %s before closing: the "
                    "project stayed locked; about %d requests were not logged",
                    self.session_uuid,
                    lost,
                )
                return
            time.sleep(backoff)
            backoff = min(BACKOFF[1], backoff * 2)

    def _carry_pending(self) -> bool:
        return bool(
            self._carry_batches
            or self._carry_errors
            or any(self._carry_counts)
            or self._carry_versions
        )

    def _take(self, final: bool) -> tuple[list, list, int, dict]:
        with self._lock:
            entries, self._pending = self._pending, []
            errors, self._errors = self._errors, []
            skipped, self._skipped = self._skipped, 0
            skipped_versions, self._skipped_versions = self._skipped_versions, {}
            if final:
                self._accepting = False
                self._logging = False
                self._capacity = 0
        return [_as_tuple(e) for e in entries], errors, skipped, skipped_versions

    def _flush(self, file: ProjectFile, heartbeat: bool = False, final: bool = False) -> bool:
        """Write what was added since the last flush (and what earlier attempts could not
        write) in one transaction; whether it was written."""
        logging_on = self._logging
        entries, errors, skipped, skipped_versions = self._take(final)
        counts = self._carry_counts
        counts[0] += len(entries) + skipped
        counts[1] += len(errors)
        if logging_on:
            counts[2] += skipped
        self._carry_errors.extend(errors)
        served = self._carry_versions
        for version_uuid, n in skipped_versions.items():
            if version_uuid is not None:
                served[version_uuid] = served.get(version_uuid, 0) + n
        if entries:
            by_version: dict[str, list] = {}
            for entry in entries:
                by_version.setdefault(entry[1], []).append(entry)
            for version_uuid, group in by_version.items():
                if version_uuid is not None:
                    served[version_uuid] = served.get(version_uuid, 0) + len(group)
            for version_uuid, group in by_version.items():
                try:
                    table, requests, malformed = log_store.build_table(group)
                except Exception:  # a bug in building columns must not lose the counts
                    log.exception("could not build a prediction log batch")
                    table, requests, malformed = None, 0, len(group)
                counts[2] += malformed
                if table is not None:
                    self._carry_batches.append((version_uuid, table, requests))
        if not (self._carry_pending() or heartbeat or final):
            return True
        batches, errs = self._carry_batches, self._carry_errors
        try:
            with file.transaction():
                repo = file.serving
                for version_uuid, table, requests in batches:
                    repo.add_batch(self.session_uuid, version_uuid, table, requests)
                if errs:
                    repo.add_errors(self.session_uuid, errs)
                now = utc_now()
                repo.count(self.session_uuid, counts[0], counts[1], counts[2], now)
                if served:
                    repo.count_versions(self.session_uuid, served, now)
                stopped = None
                if final:
                    stopped = _record_stop(file, self.session_uuid) or repo.find(self.session_uuid)
        except Exception as exc:
            self.failed_writes += 1
            if isinstance(exc, sqlite3.IntegrityError):
                # A version deleted while it was served: its log went with it.
                kept = []
                for batch in batches:
                    if file.serving.version_exists(batch[0]):
                        kept.append(batch)
                    else:
                        counts[2] += batch[2]
                log.warning(
                    "dropped %d batches of the prediction log of a deleted model version",
                    len(batches) - len(kept),
                )
                self._carry_batches = kept
            elif not _is_transient(exc):
                log.exception("could not write the prediction log; will retry")
            elif self.failed_writes == 1 or self.failed_writes % 30 == 0:
                log.warning("could not write the prediction log yet (%s); will retry", exc)
            self._bound_carry()
            return False
        if final:
            self._final = stopped
        self.flushes += 1
        self._last_write = time.monotonic()
        self.written_requests += sum(n for _, _, n in batches)
        self.dropped += counts[2]
        for version_uuid, _, _ in batches:
            seen = self._flushed_since_merge.get(version_uuid, 0) + 1
            self._flushed_since_merge[version_uuid] = seen
            if seen >= self._merge_after:
                self._flushed_since_merge[version_uuid] = 0
                self._merge_wanted.set()
        self._carry_batches, self._carry_errors = [], []
        self._carry_counts = [0, 0, 0]
        self._carry_versions = {}
        return True

    def _bound_carry(self) -> None:
        """Keep what waits for a write within ``max_pending`` requests: beyond, the oldest
        batches are dropped (and counted)."""
        waiting = sum(n for _, _, n in self._carry_batches)
        while self._carry_batches and waiting > self._capacity_limit:
            _, _, n = self._carry_batches.pop(0)
            waiting -= n
            self._carry_counts[2] += n
        del self._carry_errors[: max(0, len(self._carry_errors) - self._capacity_limit)]

    @property
    def _capacity_limit(self) -> int:
        return max(self._capacity, 1)

    # -- the merge thread -----------------------------------------------------------------------

    def _run_merger(self) -> None:
        file = None
        try:
            while True:
                self._merge_wanted.wait()
                self._merge_wanted.clear()
                closing = self._merge_stop.is_set()
                try:
                    if file is None:
                        file = ProjectFile.open(self.path)
                        file.conn.execute(f"PRAGMA busy_timeout = {WRITE_BUSY_MS}")
                    for version_uuid in file.serving.versions_logged(self.session_uuid):
                        self._merge(file, version_uuid, closing)
                except Exception:
                    # Merging only makes reading faster: the log is complete without it.
                    log.exception(
                        "could not merge the prediction log of session %s", self.session_uuid
                    )
                if closing:
                    return
        finally:
            if file is not None:
                file.close()

    def _merge(self, file: ProjectFile, version_uuid: str, closing: bool) -> None:
        """Merge each level that is full enough into one segment of the next (size-tiered);
        when closing, the level-0 batches however few (at most ``merge_after`` flushes' worth,
        so closing stays quick)."""
        repo, rows = file.serving, self._segment_rows
        while True:
            counts = repo.level_counts(self.session_uuid, version_uuid, rows)
            ready = [
                level
                for level, n in sorted(counts.items())
                if n >= (self._merge_after if level == 0 else self._fanout)
                or (closing and level == 0)
            ]
            if not ready:
                return
            level = ready[0]
            ids, table, requests = repo.read_unfull(self.session_uuid, version_uuid, rows, level)
            if table is None or not self._write_merge(
                file, ids, version_uuid, table, requests, level + 1
            ):
                return

    def _write_merge(self, file, ids, version_uuid, table, requests, level) -> bool:
        """Swap the batches ``ids`` for one Parquet segment of their rows; whether it was
        done (not when closing ran out of time while the project was locked)."""
        data = log_store.encode(table, log_store.PARQUET)
        backoff = BACKOFF[0]
        while True:
            try:
                with file.transaction():
                    file.serving.replace(
                        ids, self.session_uuid, version_uuid, table, requests, level, data
                    )
                return True
            except Exception as exc:
                if not _is_transient(exc):
                    raise
                deadline = self._deadline
                if deadline is not None and time.monotonic() + backoff > deadline:
                    return False
                time.sleep(backoff)
                backoff = min(BACKOFF[1], backoff * 2)


class Serving:
    """Serving sessions and their prediction logs: ``project.serving``."""

    def __init__(self, project: Project):
        self._project = project
        self._file = project.file
        self._repo = project.file.serving

    def _version(self, version: ModelVersion | str) -> ModelVersion:
        if isinstance(version, ModelVersion):
            return version
        try:
            return self._project.models.get(version)
        except UserError:
            try:
                return self._project.models.by_uuid(version)
            except UserError:
                pass
            raise

    def _version_uuid(self, version: ModelVersion | str | None) -> str | None:
        return None if version is None else self._version(version).uuid

    # -- sessions -------------------------------------------------------------------------------

    def start_session(
        self,
        version: ModelVersion | str,
        *,
        served_as: str | None = None,
        host: str = "127.0.0.1",
        port: int = 5005,
        engine: str = "scikit-learn",
        engine_reason: str = "",
        log_predictions: bool = True,
    ) -> ServingSession:
        """Record that ``version`` (a ``ModelVersion``, ``MODEL:N``, ``MODEL@ALIAS`` or a
        version's uuid) is being served, as ``served_as`` (what the user asked for, e.g.
        ``churn@production``; the version's label if not given)."""
        model_version = self._version(version)
        if served_as is None:
            asked = version.strip() if isinstance(version, str) else ""
            served_as = asked if asked and asked != model_version.uuid else model_version.label
        with self._file.transaction():
            session = self._repo.start(
                model_version.uuid,
                model_version.label,
                served_as,
                host,
                port,
                engine,
                engine_reason,
                log_predictions,
            )
            self._file.events.record(
                "serving.started",
                f"Served {_served(session)} at {session.url}",
                "serving_session",
                session.uuid,
                {
                    "version_uuid": model_version.uuid,
                    "engine": engine,
                    "engine_reason": engine_reason,
                    "log_predictions": bool(log_predictions),
                },
            )
        return session

    def stop_session(self, session_uuid: str) -> ServingSession:
        """Mark a session stopped (a server's ``PredictionLog.close`` does it itself; this is
        for one that ended without closing). Stopping a stopped session changes nothing."""
        with self._file.transaction():
            stopped = _record_stop(self._file, session_uuid)
        return stopped or self._repo.by_uuid(session_uuid)

    def open_log(self, session: ServingSession | str, flush_seconds: float = 1.0) -> PredictionLog:
        """A ``PredictionLog`` for the session, with its own connection to this project."""
        session_uuid = session.uuid if isinstance(session, ServingSession) else session
        return PredictionLog(self._file.path, session_uuid, flush_seconds)

    def sessions(self, version: ModelVersion | str | None = None) -> list[ServingSession]:
        """Every session, or those of one version; newest first."""
        return self._repo.all(self._version_uuid(version))

    def session(self, session_uuid: str) -> ServingSession:
        return self._repo.by_uuid(session_uuid)

    # -- the log --------------------------------------------------------------------------------

    def predictions_table(
        self,
        version_uuid: str,
        since: datetime | str | float | None = None,
        until: datetime | str | float | None = None,
        session_uuid: str | None = None,
    ) -> pa.Table:
        """The version's logged predictions in ``[since, until)`` as an Arrow table (see
        ``predictions_frame``)."""
        return self._repo.predictions(version_uuid, since, until, session_uuid)

    def predictions_frame(
        self,
        version_uuid: str,
        since: datetime | str | float | None = None,
        until: datetime | str | float | None = None,
        session_uuid: str | None = None,
    ) -> pd.DataFrame:
        """One row per predicted row, in time order: ``request_id``, ``row`` (its place in
        the request), ``at`` (UTC), ``latency_ms`` (the whole request's), one column per
        input (the signature's, typed as in training where the values allow; an input named
        like one of these is ``input.NAME``), then ``prediction``. ``since``/``until``: a
        datetime (naive = UTC), ISO 8601 text or POSIX seconds."""
        return self.predictions_table(version_uuid, since, until, session_uuid).to_pandas()

    def find_request(
        self, request_id: str, version_uuid: str | None = None, session_uuid: str | None = None
    ) -> pd.DataFrame | None:
        """The logged rows of one request (None if it was not logged). A scan of the
        ``request_id`` column, newest first: fast for recent requests; give the version or
        the session to look in fewer batches."""
        table = self._repo.find_request(str(request_id), version_uuid, session_uuid)
        return None if table is None else table.to_pandas()

    def errors(
        self,
        version_uuid: str | None = None,
        session_uuid: str | None = None,
        since: datetime | str | float | None = None,
        until: datetime | str | float | None = None,
    ) -> list[ServingError]:
        """Requests refused or failed, oldest first."""
        return self._repo.errors(self._repo.sessions_of(version_uuid, session_uuid), since, until)

    def traffic(
        self,
        version_uuid: str | None = None,
        session_uuid: str | None = None,
        bucket_seconds: float = 60.0,
        since: datetime | str | float | None = None,
        until: datetime | str | float | None = None,
        logged: pd.DataFrame | None = None,
    ) -> list[TrafficBucket]:
        """Requests, rows, errors and latency (p50, p95 of the answered requests) per time
        bucket, every bucket from the first request to the last (empty ones too), for the
        operational view. Needs a version or a session. ``logged``: the same window's
        ``predictions_frame`` if read already, so the log is not read twice."""
        import numpy as np
        import pyarrow as pa

        if version_uuid is None and session_uuid is None:
            raise UserError("Say which model version or serving session to count traffic of.")
        if bucket_seconds <= 0:
            raise UserError("A traffic bucket must last longer than zero seconds.")
        width = max(1, round(bucket_seconds * 1_000_000))
        errors = self.errors(version_uuid, session_uuid, since, until)
        if logged is not None:
            at = logged["at"].to_numpy(dtype="datetime64[us]").astype(np.int64)
            latency = logged["latency_ms"].to_numpy()
            first_rows = logged["row"].to_numpy() == 0
        else:
            table = self._repo.traffic_columns(version_uuid, session_uuid, since, until)
            if table is not None and table.num_rows:
                at = table.column("at").cast(pa.int64()).to_numpy()
                latency = table.column("latency_ms").to_numpy()
                first_rows = table.column("row").to_numpy() == 0
            else:
                at = np.zeros(0, np.int64)
                latency = np.zeros(0, np.float64)
                first_rows = np.zeros(0, bool)
        error_at = np.array([epoch_us(parse_time(e.at)) for e in errors], dtype=np.int64)
        every = np.concatenate([at, error_at])
        if not every.size:
            return []
        start = int(every.min()) // width
        count = int(every.max()) // width - start + 1
        if count > MAX_BUCKETS:
            raise UserError(
                f"That would make {count:,} buckets: choose buckets longer than "
                f"{bucket_seconds:g} s or a shorter time window."
            )
        keys = at // width - start
        rows = np.bincount(keys, minlength=count)
        request_keys = keys[first_rows]
        request_latency = latency[first_rows]
        requests = np.bincount(request_keys, minlength=count)
        failed = np.bincount(error_at // width - start, minlength=count)
        p50 = _bucket_quantile(request_keys, request_latency, requests, 0.5)
        p95 = _bucket_quantile(request_keys, request_latency, requests, 0.95)
        return [
            TrafficBucket(
                start=iso_us(parse_time((start + i) * width / 1_000_000)),
                seconds=width / 1_000_000,
                requests=int(requests[i]),
                rows=int(rows[i]),
                errors=int(failed[i]),
                p50_ms=None if requests[i] == 0 else float(p50[i]),
                p95_ms=None if requests[i] == 0 else float(p95[i]),
            )
            for i in range(count)
        ]


def _bucket_quantile(keys, values, counts, q: float):
    """The q-quantile (linear, as ``numpy.quantile``) of ``values`` within each bucket."""
    import numpy as np

    order = np.lexsort((values, keys))
    ranked = values[order]
    starts = np.cumsum(counts) - counts
    position = starts + (np.maximum(counts, 1) - 1) * q
    low = np.floor(position).astype(np.int64)
    high = np.ceil(position).astype(np.int64)
    if not ranked.size:
        return np.full(len(counts), np.nan)
    low, high = np.clip(low, 0, ranked.size - 1), np.clip(high, 0, ranked.size - 1)
    return ranked[low] + (ranked[high] - ranked[low]) * (position - low)
