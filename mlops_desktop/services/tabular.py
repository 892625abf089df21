"""Tables on disk: Arrow tables in and out of Parquet parts, and their schemas.

A dataset version is stored as Parquet parts of ``PART_ROWS`` rows, each a blob: parts are
encoded in parallel (a single Parquet file is written by one thread), identical parts are
stored once, and no part needs more memory than its own rows.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from mlops_desktop.domain.dataset import ColumnSchema, unique_column_names
from mlops_desktop.domain.profile import TableProfile

PART_ROWS = 1 << 17
DICTIONARY_MAX_DISTINCT = 1 << 15


def normalise(table: pa.Table) -> tuple[pa.Table, list[str]]:
    """Unique, non-empty column names and pandas-friendly types: dates become timestamps, in
    milliseconds at least, the finest unit Parquet keeps as written (so a version read back
    and saved again keeps its types)."""
    names, notes = unique_column_names(table.column_names)
    columns = []
    for column in table.columns:
        is_seconds = pa.types.is_timestamp(column.type) and column.type.unit == "s"
        if pa.types.is_date(column.type) or is_seconds:
            tz = getattr(column.type, "tz", None)
            column = pc.cast(column, pa.timestamp("ms", tz=tz))
        elif pa.types.is_large_string(column.type):
            column = pc.cast(column, pa.string())
        columns.append(column)
    return pa.table(columns, names=names), notes


def frame_to_table(frame) -> pa.Table:
    """A DataFrame as Arrow; object columns of mixed Python types become text."""
    frame = frame.copy()
    frame.columns = [str(c) for c in frame.columns]
    for name in frame.columns:
        if frame[name].dtype == object:
            try:
                pa.array(frame[name], from_pandas=True)
            except (pa.ArrowInvalid, pa.ArrowTypeError):
                frame[name] = frame[name].map(lambda v: v if v is None else str(v))
    return pa.Table.from_pandas(frame, preserve_index=False)


def schema_of(profile: TableProfile) -> list[ColumnSchema]:
    return [ColumnSchema(c.name, c.type, c.kind) for c in profile.columns]


def part_slices(rows: int) -> list[tuple[int, int]]:
    """(offset, length) of each part; an empty table still has one (empty) part."""
    if rows == 0:
        return [(0, 0)]
    return [(start, min(PART_ROWS, rows - start)) for start in range(0, rows, PART_ROWS)]


def encode_part(table: pa.Table, dictionary_columns: list[str]) -> bytes:
    sink = io.BytesIO()
    # No column statistics: versions are always read whole, so they would be dead weight.
    pq.write_table(
        table,
        sink,
        compression="snappy",
        use_dictionary=dictionary_columns,
        write_statistics=False,
    )
    return sink.getvalue()


def dictionary_columns(table: pa.Table, profile: TableProfile) -> list[str]:
    """Columns worth dictionary-encoding: those whose values repeat. Beyond a page's worth
    of distinct values the writer gives up on the dictionary, after wasted work."""
    return [
        column.name
        for column in profile.columns
        if column.unique <= DICTIONARY_MAX_DISTINCT and column.count > column.unique
    ]


def decode_parts(parts: Iterable[bytes], map_fn: Callable = map) -> pa.Table:
    tables = list(map_fn(lambda data: pq.read_table(io.BytesIO(data)), parts))
    if len(tables) == 1:
        return tables[0]
    return pa.concat_tables(tables)
