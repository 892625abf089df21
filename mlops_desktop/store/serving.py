"""Serving sessions and the prediction log, in the project file.

How the log is stored, and why
------------------------------
The log is read in bulk (drift over a million predictions, the Monitoring panel's charts, the
join with ground truth) and written in a steady trickle (a thousand or two requests a second,
flushed once a second). So it is stored the way it is read: by column.

``prediction_batches`` holds the log in batches. Each row carries many logged predictions of
one serving session and one model version, with their time bounds, counts and a CRC-32, and
the predictions themselves as one Arrow table (columns ``request_id``, ``row``, ``at``,
``latency_ms``, one per input, ``prediction``; see ``mlops_desktop.domain.serving``):

* every flush writes one **level 0** batch as Arrow IPC: no encoding to speak of (the flush
  thread spends its time building columns, not compressing them), and read back with next to
  no work;
* the writer then merges level-0 batches into **Parquet segments** (compressed, page
  checksums), and small segments into bigger ones (size-tiered: ``fanout`` segments of a level
  make one of the next), until a segment holds ``segment_rows`` rows. A merge is one
  transaction that inserts the new segment and deletes what it replaces, so a reader sees
  one or the other, never both and never neither.

A million logged rows are then a handful of large Parquet segments and at most a few dozen
small IPC batches, read in one statement (one snapshot) and decoded by Arrow's C++ straight
into columns, within a small factor of reading one Parquet file of the same rows.

Rejected: **a row per request** (inputs and outputs as JSON). Reading a million rows means a
million ``json.loads`` (or twenty ``json_extract`` per row) before pandas sees a single
column, tens of times slower than Parquet, and every value is typed again from text. The
payload is also larger. **Parquet batches in the content-addressed blob store**: nothing in a
log batch is ever identical to anything else (request ids, times), so content addressing
buys nothing, while every read would sha256 every byte (as long again as decoding it), and
merging or deleting a log would leave blobs behind for compaction. The batches keep their
payload inline instead, checked by their CRC-32 (level 0) and Parquet's page checksums.
**A per-request index table** (request id -> batch): request ids are random, so each flush's
thousand or two inserts land on pages all over the B-tree: measured, 11 ms of inserts per
flush and most of the index's 64 KiB pages rewritten to the WAL at every commit once it no
longer fits in the page cache, for a lookup that only a support question needs. Finding one
request (``find_request``) scans the ``request_id`` column of the batches newest first; the
bulk join with ground truth is a pandas merge on ``request_id`` (and ``row``).

``serving_errors`` keeps the requests that got no prediction (refused input, failures), one
row each: they are few, and they carry no inputs worth a column.
"""

from __future__ import annotations

import contextlib
import json
import uuid
import zlib
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from mlops_desktop.domain.errors import BlobCorruptError, UserError
from mlops_desktop.domain.serving import (
    META_COLUMNS,
    PREDICTION,
    PROBABILITIES,
    ServingError,
    ServingSession,
    epoch_us,
    iso_us,
    logged_name,
    parse_time,
)
from mlops_desktop.domain.signature import arrow_type
from mlops_desktop.store.clock import utc_now
from mlops_desktop.store.damage import reads
from mlops_desktop.store.identity import current_actor

if TYPE_CHECKING:
    import pyarrow as pa

    from mlops_desktop.store.project_file import ProjectFile

ARROW, PARQUET = "arrow", "parquet"
#: Rows at which a Parquet segment is full and merged no further.
SEGMENT_ROWS = 262_144
#: Segments of one level merged into one of the next.
FANOUT = 8
#: Parquet row groups: the time filter skips whole groups by their statistics.
ROW_GROUP = 65_536
#: Characters of an error message kept.
MAX_MESSAGE = 500

#: One logged request, as ``PredictionLog.add`` buffers it:
#: (request_id, version_uuid, at (POSIX seconds), latency_ms, columns, outputs).
Entry = tuple

_SESSION = """
    SELECT s.uuid, s.model_version_uuid, s.served_as, s.version_label, s.host, s.port,
           s.engine, s.engine_reason, s.log_predictions, s.started_at, s.started_by,
           s.stopped_at, s.last_seen_at, s.requests, s.errors, s.dropped
    FROM serving_sessions s
"""


def _session(row) -> ServingSession:
    values = list(row)
    values[8] = bool(values[8])
    return ServingSession(*values)


# -- the stored columns ------------------------------------------------------------------------


def _meta_types():
    import pyarrow as pa

    return {
        "request_id": pa.string(),
        "row": pa.int32(),
        "at": pa.timestamp("us", tz="UTC"),
        "latency_ms": pa.float64(),
    }


def _text(value) -> str:
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, default=str)
    except (TypeError, ValueError):
        return str(value)


def _array(values) -> pa.Array:
    """Values of one column as Arrow infers them; NaN and None are missing. Datetimes arrive
    naive in UTC (the server's ``datetime64[ms]``) and are stored as UTC instants. Values
    Arrow cannot put in one column are logged as text rather than lost."""
    import numpy as np
    import pyarrow as pa

    try:
        array = pa.array(values, from_pandas=True)
        if pa.types.is_timestamp(array.type) and array.type.tz is None:
            array = array.view(pa.timestamp(array.type.unit, tz="UTC"))
        return array
    except (pa.ArrowException, TypeError, ValueError, OverflowError):
        if isinstance(values, np.ndarray):
            values = values.tolist()
        return pa.array([None if v is None else _text(v) for v in values], pa.string())


class _MalformedError(Exception):
    """An entry whose parts do not fit together (lengths, times)."""


class _Missing:
    """A column an entry does not have: that many missing values."""

    def __init__(self, n: int):
        self.n = n

    def __len__(self) -> int:
        return self.n

    def tolist(self) -> list:
        return [None] * self.n


def _column(chunks: Sequence, counts: list[int]) -> pa.Array:
    """One input column from each request's part of it (a list or NumPy array each)."""
    import numpy as np

    if list(map(len, chunks)) != counts:
        raise _MalformedError()
    if set(map(type, chunks)) == {np.ndarray}:
        try:
            return _array(np.concatenate(chunks))
        except (ValueError, TypeError):
            pass  # arrays numpy cannot join (different shapes): one value at a time
    values: list = []
    for chunk in chunks:
        values.extend(chunk.tolist() if isinstance(chunk, np.ndarray | _Missing) else chunk)
    return _array(values)


def _build(entries: Sequence[Entry]) -> pa.Table:
    import numpy as np
    import pyarrow as pa

    try:
        counts = [len(e[5]) for e in entries]
        at = np.array([e[2] for e in entries], dtype=np.float64)
        latency = np.array([e[3] for e in entries], dtype=np.float64)
        if not (np.isfinite(at).all() and np.isfinite(latency).all()):
            raise _MalformedError()
        dicts = [e[4] for e in entries]
        first = tuple(dicts[0])
        same_keys = all(tuple(d) == first for d in dicts)
    except (TypeError, ValueError, IndexError, AttributeError) as exc:
        raise _MalformedError() from exc
    if same_keys:  # the server sends the same columns in the same order: transpose at once
        names = list(first)
        columns = list(zip(*[d.values() for d in dicts], strict=True)) if names else []
    else:
        names = list(dict.fromkeys(name for d in dicts for name in d))
        columns = [
            tuple(
                _Missing(n) if (c := d.get(name)) is None else c
                for d, n in zip(dicts, counts, strict=True)
            )
            for name in names
        ]
    total = sum(counts)
    types = _meta_types()
    ids = [str(e[0]) for e in entries]
    at_us = np.rint(at * 1e6).astype(np.int64)
    if total == len(entries) and all(n == 1 for n in counts):  # single rows: the common case
        rows = np.zeros(total, dtype=np.int32)
        outputs = [e[5][0] for e in entries]
    else:
        repeats = np.asarray(counts, dtype=np.int64)
        ids = np.repeat(np.array(ids, dtype=object), repeats)
        at_us, latency = np.repeat(at_us, repeats), np.repeat(latency, repeats)
        starts = np.repeat(np.cumsum(repeats) - repeats, repeats)
        rows = (np.arange(total) - starts).astype(np.int32)
        outputs = [value for e in entries for value in e[5]]
    arrays = [
        pa.array(ids, types["request_id"]),
        pa.array(rows, types["row"]),
        pa.array(at_us, types["at"]),
        pa.array(latency, types["latency_ms"]),
    ]
    fields = list(META_COLUMNS)
    for name, chunks in zip(names, columns, strict=True):
        arrays.append(_column(chunks, counts))
        fields.append(logged_name(name))
    sequences = set(map(type, outputs)) & {list, tuple, np.ndarray}
    if sequences:  # predict_proba: a list of probabilities per row instead of a label
        arrays.append(_array([None if type(v) in sequences else v for v in outputs]))
        fields.append(PREDICTION)
        arrays.append(_array([list(v) if type(v) in sequences else None for v in outputs]))
        fields.append(PROBABILITIES)
    else:
        arrays.append(_array(outputs))
        fields.append(PREDICTION)
    return pa.Table.from_arrays(arrays, names=fields)


def build_table(entries: Sequence[Entry]) -> tuple[pa.Table | None, int, int]:
    """The logged rows of ``entries`` (all of one version) as one Arrow table; returns
    (table or None, requests in it, entries dropped as malformed)."""
    if not entries:
        return None, 0, 0
    try:
        return _build(entries), len(entries), 0
    except (_MalformedError, TypeError):
        pass
    # Some entry does not fit together: find which, one by one (slow, and rare).
    good = []
    for entry in entries:
        try:
            _build([entry])
        except (_MalformedError, TypeError, AttributeError):
            continue
        good.append(entry)
    if not good:
        return None, 0, len(entries)
    return _build(good), len(good), len(entries) - len(good)


def encode(table: pa.Table, fmt: str) -> bytes:
    import pyarrow as pa

    sink = pa.BufferOutputStream()
    if fmt == ARROW:
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
    else:
        import pyarrow.parquet as pq

        pq.write_table(
            table,
            sink,
            row_group_size=ROW_GROUP,
            compression="zstd",
            compression_level=1,
            write_page_checksum=True,
        )
    return sink.getvalue()


def decode(fmt: str, data: bytes, crc: int, columns: Sequence[str] | None = None) -> pa.Table:
    import pyarrow as pa

    if fmt == ARROW:
        if zlib.crc32(data) != crc:
            raise BlobCorruptError(
                "A batch of the prediction log does not match its checksum: the project file "
                "was altered or damaged. Restore it from a backup."
            )
        with pa.ipc.open_stream(data) as reader:
            table = reader.read_all()
        if columns is not None:
            table = table.select([c for c in columns if c in table.column_names])
        return table
    import pyarrow.parquet as pq

    source = pa.BufferReader(data)
    try:
        if columns is not None:
            present = set(pq.read_schema(source).names)
            columns = [c for c in columns if c in present]
        return pq.read_table(source, columns=columns, page_checksum_verification=True)
    except OSError as exc:  # Arrow reports a failed page checksum as an IOError
        raise BlobCorruptError(
            f"A segment of the prediction log is damaged ({exc}): restore the project from a "
            "backup."
        ) from None


def concat(tables: list[pa.Table]) -> pa.Table:
    """One table of batches whose columns may differ: a column missing from a batch is
    missing there, types widen (int to double, null to anything); a column logged with types
    that do not widen into one another becomes text."""
    import pyarrow as pa

    try:
        return pa.concat_tables(tables, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        pass
    seen: dict[str, set] = {}
    for table in tables:
        for field in table.schema:
            if not pa.types.is_null(field.type):
                seen.setdefault(field.name, set()).add(field.type)
    clashing = {name for name, kinds in seen.items() if len(kinds) > 1}
    fixed = []
    for table in tables:
        for name in clashing & set(table.column_names):
            index = table.schema.get_field_index(name)
            table = table.set_column(index, name, _as_text(table.column(index)))
        fixed.append(table)
    return pa.concat_tables(fixed, promote_options="permissive")


def _as_text(column) -> pa.Array:
    import pyarrow as pa

    try:
        return column.cast(pa.string())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return pa.array([None if v is None else _text(v) for v in column.to_pylist()], pa.string())


def _prediction_type(signature: dict):
    import pyarrow as pa

    output = signature.get("output") or {}
    if output.get("task") == "regression":
        return pa.float64()
    classes = output.get("classes") or []
    if classes and all(isinstance(c, bool) for c in classes):
        return pa.bool_()
    if classes and all(isinstance(c, int) and not isinstance(c, bool) for c in classes):
        return pa.int64()
    if classes and all(isinstance(c, str) for c in classes):
        return pa.string()
    return pa.null()


def shape_as_signed(table: pa.Table | None, signature: dict) -> pa.Table:
    """The log with the signature's inputs (in its order, with the types training saw where
    the logged values cast losslessly) and then any other logged columns."""
    import pyarrow as pa

    types = _meta_types()
    rows = 0 if table is None else table.num_rows
    present = set() if table is None else set(table.column_names)
    arrays, names = [], []

    def take(name, target):
        if name in present:
            column = table.column(name)
            if target is not None and column.type != target:
                # Values that do not cast losslessly are shown as logged.
                with contextlib.suppress(
                    pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError
                ):
                    column = column.cast(target)
            return column
        return pa.nulls(rows, target or pa.null())

    for name in META_COLUMNS:
        arrays.append(take(name, types[name]))
        names.append(name)
    signed = []
    for column in signature.get("inputs", []):
        name = logged_name(column["name"])
        if column.get("required", True) or name in present:
            signed.append(name)
            arrays.append(take(name, arrow_type(column["type"])))
            names.append(name)
    known = {*META_COLUMNS, *signed, PREDICTION, PROBABILITIES}
    for name in [] if table is None else table.column_names:
        if name not in known:
            arrays.append(table.column(name))
            names.append(name)
    if PREDICTION in present:
        arrays.append(table.column(PREDICTION))
    else:
        arrays.append(pa.nulls(rows, _prediction_type(signature)))
    names.append(PREDICTION)
    if PROBABILITIES in present:
        arrays.append(table.column(PROBABILITIES))
        names.append(PROBABILITIES)
    return pa.Table.from_arrays(arrays, names=names)


def _time_filter(table: pa.Table, since_us: int | None, until_us: int | None) -> pa.Table:
    import pyarrow as pa
    import pyarrow.compute as pc

    at = table.column("at").cast(pa.int64())
    mask = None
    if since_us is not None:
        mask = pc.greater_equal(at, since_us)
    if until_us is not None:
        before = pc.less(at, until_us)
        mask = before if mask is None else pc.and_(mask, before)
    return table if mask is None else table.filter(mask)


def _bound(value: datetime | str | float | None) -> tuple[str | None, int | None]:
    if value is None:
        return None, None
    moment = parse_time(value)
    return iso_us(moment), epoch_us(moment)


# -- the repository ----------------------------------------------------------------------------


class ServingRepository:
    def __init__(self, project: ProjectFile):
        self._project = project

    @property
    def _conn(self):
        return self._project.conn

    # -- sessions -------------------------------------------------------------------------------

    def start(
        self,
        version_uuid: str,
        version_label: str,
        served_as: str,
        host: str,
        port: int,
        engine: str,
        engine_reason: str = "",
        log_predictions: bool = True,
    ) -> ServingSession:
        """Record a new session; call in a transaction."""
        session_uuid, now = str(uuid.uuid4()), utc_now()
        self._conn.execute(
            "INSERT INTO serving_sessions (uuid, model_version_uuid, version_label, served_as, "
            "host, port, engine, engine_reason, log_predictions, started_at, started_by, "
            "last_seen_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                session_uuid,
                version_uuid,
                version_label,
                served_as,
                host,
                int(port),
                engine,
                engine_reason,
                int(bool(log_predictions)),
                now,
                current_actor(),
                now,
            ),
        )
        self.count_versions(session_uuid, {version_uuid: 0}, now)
        return self.by_uuid(session_uuid)

    def find(self, session_uuid: str) -> ServingSession | None:
        row = self._conn.execute(f"{_SESSION} WHERE s.uuid = ?", (session_uuid,)).fetchone()
        return None if row is None else _session(row)

    def by_uuid(self, session_uuid: str) -> ServingSession:
        session = self.find(session_uuid)
        if session is None:
            raise UserError(f"There is no serving session {session_uuid}.")
        return session

    def all(self, version_uuid: str | None = None) -> list[ServingSession]:
        """Newest first: every session, or those that answered with the version (started
        with it, or switched to it when their alias moved)."""
        if version_uuid is None:
            rows = self._conn.execute(f"{_SESSION} ORDER BY s.started_at DESC")
        else:
            rows = self._conn.execute(
                f"{_SESSION} WHERE s.model_version_uuid = ? OR s.uuid IN "
                "(SELECT session_uuid FROM serving_versions WHERE version_uuid = ?) "
                "ORDER BY s.started_at DESC",
                (version_uuid, version_uuid),
            )
        return [_session(r) for r in rows]

    def version_requests(self, session_uuid: str) -> dict[str, int]:
        """Requests the session answered with each version it served."""
        rows = self._conn.execute(
            "SELECT version_uuid, requests FROM serving_versions WHERE session_uuid = ?",
            (session_uuid,),
        )
        return dict(rows.fetchall())

    def count_versions(self, session_uuid: str, requests: dict[str, int], seen_at: str) -> None:
        """Add to the requests each version answered; call in a transaction."""
        self._conn.executemany(
            "INSERT INTO serving_versions (session_uuid, version_uuid, first_at, last_at, "
            "requests) SELECT ?, ?, ?, ?, ? WHERE EXISTS "
            "(SELECT 1 FROM model_versions WHERE uuid = ?) "
            "ON CONFLICT (session_uuid, version_uuid) DO UPDATE SET "
            "requests = requests + excluded.requests, last_at = excluded.last_at",
            (
                (session_uuid, version, seen_at, seen_at, n, version)
                for version, n in requests.items()
            ),
        )

    def count(
        self, session_uuid: str, requests: int, errors: int, dropped: int, seen_at: str
    ) -> None:
        self._conn.execute(
            "UPDATE serving_sessions SET requests = requests + ?, errors = errors + ?, "
            "dropped = dropped + ?, last_seen_at = ? WHERE uuid = ?",
            (requests, errors, dropped, seen_at, session_uuid),
        )

    def stop(self, session_uuid: str, at: str | None = None) -> bool:
        """Mark the session stopped (once); whether it was running."""
        at = at or utc_now()
        cursor = self._conn.execute(
            "UPDATE serving_sessions SET stopped_at = ?, last_seen_at = ? "
            "WHERE uuid = ? AND stopped_at IS NULL",
            (at, at, session_uuid),
        )
        return cursor.rowcount > 0

    # -- writing the log ------------------------------------------------------------------------

    def add_batch(
        self, session_uuid: str, version_uuid: str, table: pa.Table, requests: int, level: int = 0
    ) -> int:
        """Store a batch of logged rows; call in a transaction. Level 0 is Arrow IPC."""
        data = encode(table, ARROW if level == 0 else PARQUET)
        return self.insert_encoded(session_uuid, version_uuid, table, requests, level, data)

    def insert_encoded(
        self,
        session_uuid: str,
        version_uuid: str,
        table: pa.Table,
        requests: int,
        level: int,
        data,
        batch_id: int | None = None,
    ) -> int:
        import pyarrow.compute as pc

        bounds = pc.min_max(table.column("at"))
        first, last = bounds["min"].as_py(), bounds["max"].as_py()
        return self._conn.execute(
            "INSERT INTO prediction_batches (id, session_uuid, model_version_uuid, format, level, "
            "first_at, last_at, requests, rows, crc32, data, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                batch_id,
                session_uuid,
                version_uuid,
                ARROW if level == 0 else PARQUET,
                level,
                iso_us(first),
                iso_us(last),
                requests,
                table.num_rows,
                zlib.crc32(data),
                memoryview(data),
                utc_now(),
            ),
        ).lastrowid

    def add_errors(self, session_uuid: str, errors: Iterable[tuple]) -> None:
        """``errors``: (request_id, at (POSIX seconds), latency_ms, status, message)."""
        self._conn.executemany(
            "INSERT INTO serving_errors (session_uuid, request_id, at, latency_ms, status, "
            "message) VALUES (?, ?, ?, ?, ?, ?)",
            (
                (
                    session_uuid,
                    str(rid),
                    iso_us(parse_time(float(at))),
                    float(latency),
                    int(status),
                    str(message)[:MAX_MESSAGE],
                )
                for rid, at, latency, status, message in errors
            ),
        )

    # -- merging --------------------------------------------------------------------------------

    # A merge takes batches from the *tail* of a session's log of one version (those after its
    # newest full segment) and its segment takes the smallest id of those it replaces: so ids
    # stay in log order, and reading in id order reads each session's log in the order it
    # was written. Level 0 batches are never full: they are always merged.
    _TAIL = (
        "session_uuid = ? AND model_version_uuid = ? AND (level = 0 OR rows < ?) AND id > "
        "coalesce((SELECT max(id) FROM prediction_batches WHERE session_uuid = ? "
        "AND model_version_uuid = ? AND level > 0 AND rows >= ?), 0)"
    )

    def level_counts(self, session_uuid: str, version_uuid: str, segment_rows: int) -> dict:
        """How many batches of the tail each level holds: {level: count}."""
        args = (session_uuid, version_uuid, segment_rows) * 2
        rows = self._conn.execute(
            f"SELECT level, count(*) FROM prediction_batches WHERE {self._TAIL} GROUP BY level",
            args,
        )
        return dict(rows.fetchall())

    def versions_logged(self, session_uuid: str) -> list[str]:
        rows = self._conn.execute(
            "SELECT DISTINCT model_version_uuid FROM prediction_batches WHERE session_uuid = ?",
            (session_uuid,),
        )
        return [r[0] for r in rows]

    def read_unfull(
        self, session_uuid: str, version_uuid: str, segment_rows: int, level: int
    ) -> tuple[list[int], pa.Table | None, int]:
        """The tail's batches of one level, in log order: (ids, their rows as one table,
        requests)."""
        ids, tables, requests = [], [], 0
        rows = self._conn.execute(
            "SELECT id, format, crc32, data, requests FROM prediction_batches "
            f"WHERE {self._TAIL} AND level = ? ORDER BY id",
            (*((session_uuid, version_uuid, segment_rows) * 2), level),
        )
        for batch_id, fmt, crc, data, count in rows:
            ids.append(batch_id)
            tables.append(decode(fmt, data, crc))
            requests += count
        return ids, (concat(tables) if tables else None), requests

    def replace(
        self,
        ids: Sequence[int],
        session_uuid: str,
        version_uuid: str,
        table: pa.Table,
        requests: int,
        level: int,
        data,
    ) -> int:
        """Swap batches for the segment merged from them, in the place of the first (its id);
        call in a transaction."""
        marks = ", ".join("?" * len(ids))
        deleted = self._conn.execute(
            f"DELETE FROM prediction_batches WHERE id IN ({marks})", tuple(ids)
        ).rowcount
        if deleted != len(ids):
            raise RuntimeError("prediction log batches changed while they were being merged")
        return self.insert_encoded(
            session_uuid, version_uuid, table, requests, level, data, batch_id=min(ids)
        )

    # -- reading the log ------------------------------------------------------------------------

    def version_exists(self, version_uuid: str) -> bool:
        row = self._conn.execute(
            "SELECT 1 FROM model_versions WHERE uuid = ?", (version_uuid,)
        ).fetchone()
        return row is not None

    @reads("model signatures")
    def signature(self, version_uuid: str) -> dict:
        row = self._conn.execute(
            "SELECT signature FROM model_versions WHERE uuid = ?", (version_uuid,)
        ).fetchone()
        if row is None:
            raise UserError(f"There is no model version {version_uuid}.")
        return json.loads(row[0])

    def _rows(
        self,
        version_uuid: str | None,
        session_uuid: str | None,
        since_text: str | None,
        until_text: str | None,
        newest_first: bool = False,
    ):
        """(format, crc32, data, first_at, last_at, version) of the batches in the window, from
        one statement: one snapshot, so a merge that commits meanwhile is never seen half-done."""
        where, args = [], []
        if version_uuid is not None:
            where.append("model_version_uuid = ?")
            args.append(version_uuid)
        if session_uuid is not None:
            where.append("session_uuid = ?")
            args.append(session_uuid)
        if since_text is not None:
            where.append("last_at >= ?")
            args.append(since_text)
        if until_text is not None:
            where.append("first_at < ?")
            args.append(until_text)
        return self._conn.execute(
            "SELECT format, crc32, data, first_at, last_at, model_version_uuid "
            f"FROM prediction_batches WHERE {' AND '.join(where) or '1'} "
            f"ORDER BY id{' DESC' if newest_first else ''}",
            args,
        )

    def _batches(
        self,
        version_uuid: str | None,
        session_uuid: str | None,
        since,
        until,
        columns: Sequence[str] | None,
    ) -> Iterator[pa.Table]:
        """Decoded batches in ``[since, until)``, oldest first."""
        since_text, since_us = _bound(since)
        until_text, until_us = _bound(until)
        for fmt, crc, data, first, last, _ in self._rows(
            version_uuid, session_uuid, since_text, until_text
        ):
            table = decode(fmt, data, crc, columns)
            if (since_text is not None and first < since_text) or (
                until_text is not None and last >= until_text
            ):
                table = _time_filter(table, since_us, until_us)
            yield table

    def predictions(
        self,
        version_uuid: str,
        since=None,
        until=None,
        session_uuid: str | None = None,
        columns: Sequence[str] | None = None,
    ) -> pa.Table:
        """The logged rows of a version in ``[since, until)``, shaped by its signature
        (``shape_as_signed``); ``columns`` reads only those (unshaped). Rows come in the order
        they were logged (each session's in the order its server logged them, sessions side
        by side interleaved by flush): the order requests finished, so ``at`` (when each
        arrived) increases only nearly."""
        tables = list(self._batches(version_uuid, session_uuid, since, until, columns))
        table = concat(tables) if tables else None
        if columns is not None:
            if table is None:
                types = _meta_types()
                import pyarrow as pa

                return pa.table({c: pa.array([], types.get(c, pa.null())) for c in columns})
            return table
        return shape_as_signed(table, self.signature(version_uuid))

    def find_request(
        self, request_id: str, version_uuid: str | None = None, session_uuid: str | None = None
    ) -> pa.Table | None:
        """The rows logged for one request (None if there are none), looking from the newest
        batch back and reading only the ``request_id`` column of those it passes."""
        import pyarrow.compute as pc

        rows = self._rows(version_uuid, session_uuid, None, None, newest_first=True)
        for fmt, crc, data, _, _, version in rows:
            ids = decode(fmt, data, crc, ["request_id"]).column("request_id")
            if not pc.any(pc.equal(ids, request_id)).as_py():
                continue
            table = decode(fmt, data, crc)
            found = table.filter(pc.equal(table.column("request_id"), request_id))
            return shape_as_signed(found, self.signature(version))
        return None

    def errors(self, session_uuids: Sequence[str], since=None, until=None) -> list[ServingError]:
        since_text, _ = _bound(since)
        until_text, _ = _bound(until)
        if not session_uuids:
            return []
        where = [f"session_uuid IN ({', '.join('?' * len(session_uuids))})"]
        args: list = list(session_uuids)
        if since_text is not None:
            where.append("at >= ?")
            args.append(since_text)
        if until_text is not None:
            where.append("at < ?")
            args.append(until_text)
        rows = self._conn.execute(
            "SELECT session_uuid, request_id, at, latency_ms, status, message FROM "
            f"serving_errors WHERE {' AND '.join(where)} ORDER BY at, id",
            args,
        )
        return [ServingError(*r) for r in rows]

    def sessions_of(self, version_uuid: str | None, session_uuid: str | None) -> list[str]:
        if session_uuid is not None:
            return [session_uuid]
        return [s.uuid for s in self.all(version_uuid)]

    def traffic_columns(
        self, version_uuid: str | None, session_uuid: str | None, since=None, until=None
    ) -> pa.Table | None:
        """``at``, ``latency_ms`` and ``row`` of the logged rows: what traffic is counted on."""
        tables = list(
            self._batches(version_uuid, session_uuid, since, until, ["at", "latency_ms", "row"])
        )
        return concat(tables) if tables else None
