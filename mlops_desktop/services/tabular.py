"""Tables on disk: Arrow tables in and out of Parquet parts, and their schemas.

A dataset version is stored as Parquet parts of ``PART_ROWS`` rows, each a blob: parts are
encoded in parallel (a single Parquet file is written by one thread), identical parts are
stored once, and no part needs more memory than its own rows.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from mlops_desktop.domain.dataset import ColumnSchema, unique_column_names
from mlops_desktop.domain.profile import ColumnProfile, TableProfile
from mlops_desktop.domain.tasks import TaskState

PART_ROWS = 1 << 17
#: LZ4 (Parquet's LZ4_RAW) writes as fast as snappy, 5 % smaller, and reads back in about
#: half the time (measured on the import benchmark's parts): reopening a version waits on it.
CODEC = "lz4"
DICTIONARY_MAX_DISTINCT = 1 << 15
#: Field metadata of a text column stored from the profile's dictionary encoding.
_ENCODED_TEXT = b"mlops_desktop.encoded_text"


def normalise(table: pa.Table) -> tuple[pa.Table, list[str]]:
    """Unique, non-empty column names and pandas-friendly types: dates become timestamps, in
    milliseconds at least, the finest unit Parquet keeps as written (so a version read back
    and saved again keeps its types), and nested values (lists, records, maps) become JSON
    text, which every step, chart and estimator can handle."""
    names, notes = unique_column_names(table.column_names)
    columns = []
    for name, column in zip(names, table.columns, strict=True):
        is_seconds = pa.types.is_timestamp(column.type) and column.type.unit == "s"
        if pa.types.is_date(column.type) or is_seconds:
            tz = getattr(column.type, "tz", None)
            column = pc.cast(column, pa.timestamp("ms", tz=tz))
        elif pa.types.is_large_string(column.type):
            column = pc.cast(column, pa.string())
        elif pa.types.is_nested(column.type):
            column = _as_json_text(column)
            notes.append(f"Column {name!r} holds nested values; they are kept as JSON text.")
        columns.append(column)
    return pa.table(columns, names=names), notes


def _as_json_text(column: pa.ChunkedArray) -> pa.Array:
    # Maps come out of Arrow as lists of pairs; dates and decimals inside are written as text.
    return pa.array(
        [
            None if v is None else json.dumps(v, default=str, ensure_ascii=False)
            for v in column.to_pylist()
        ],
        pa.string(),
    )


def exact_frame(table: pa.Table):
    """``table`` as a DataFrame in which integer columns with missing values stay integers
    (pandas' nullable Int64 and kin): as floats, which ``to_pandas`` makes them, a recipe
    would save them as doubles, and ids past 2**53 would lose their last digits."""
    import pandas as pd

    nullable = {
        pa.int8(): pd.Int8Dtype(),
        pa.int16(): pd.Int16Dtype(),
        pa.int32(): pd.Int32Dtype(),
        pa.int64(): pd.Int64Dtype(),
        pa.uint8(): pd.UInt8Dtype(),
        pa.uint16(): pd.UInt16Dtype(),
        pa.uint32(): pd.UInt32Dtype(),
        pa.uint64(): pd.UInt64Dtype(),
    }
    frame = table.to_pandas()
    for name, column in zip(table.column_names, table.columns, strict=True):
        if column.null_count and column.type in nullable:
            frame[name] = column.to_pandas(types_mapper=nullable.get)
    return frame


def through_recipe(
    table: pa.Table, steps: list, state: TaskState | None = None
) -> tuple[pa.Table, list]:
    """``table`` through a recipe as a saved cleaning stores it (integer columns with gaps
    stay integers), and each step's report."""
    from mlops_desktop.domain.recipe import apply_recipe

    cleaned, reports = apply_recipe(exact_frame(table), steps, state)
    return frame_to_table(cleaned), reports


def frame_to_table(frame) -> pa.Table:
    """A DataFrame as Arrow; object columns of mixed Python types become text."""
    frame = frame.copy()
    frame.columns = [str(c) for c in frame.columns]
    for name in frame.columns:
        if frame[name].dtype == object and _mixed(frame[name]):
            frame[name] = _texts(frame[name])
    return pa.Table.from_pandas(frame, preserve_index=False)


def object_column(values) -> pa.Array:
    """A pandas column of Python objects as Arrow: typed by what it holds, text if mixed."""
    if _mixed(values):
        return pa.array(_texts(values), pa.string())
    return pa.array(values, from_pandas=True)


def _mixed(values) -> bool:
    try:
        pa.array(values, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return True
    return False


def _texts(values) -> list:
    """Values as text; None, NaN, NaT and pd.NA (nullable integers' gaps) stay missing."""
    import pandas as pd

    return [None if pd.api.types.is_scalar(v) and pd.isna(v) else str(v) for v in values]


def write_csv(table: pa.Table, path) -> None:
    """``table`` as CSV. In a file of one column a missing value would be an empty line,
    which every reader (this app's, pandas') skips: there it is written as "" instead."""
    import pyarrow.csv as pacsv

    options = pacsv.WriteOptions()
    if table.num_columns == 1 and table.column(0).null_count:
        text = pc.fill_null(table.column(0).cast(pa.string()), "")
        table = pa.table({table.column_names[0]: text})
        options.quoting_style = "all_valid"
    pacsv.write_csv(table, path, options)


def schema_of(profile: TableProfile) -> list[ColumnSchema]:
    return [ColumnSchema(c.name, c.type, c.kind) for c in profile.columns]


def part_slices(rows: int) -> list[tuple[int, int]]:
    """(offset, length) of each part; an empty table still has one (empty) part."""
    if rows == 0:
        return [(0, 0)]
    return [(start, min(PART_ROWS, rows - start)) for start in range(0, rows, PART_ROWS)]


def encode_part(table: pa.Table, repeating_columns: list[str]) -> pa.Buffer:
    """One part as Parquet, in Arrow's memory: a Python sink would take the GIL for every
    page the writer emits.

    Integers are stored as bit-packed differences (Parquet's DELTA_BINARY_PACKED) rather
    than with a dictionary or plainly: on the import benchmark's four integer columns that
    writes in 49 ms instead of 62, reads in 16 instead of 18.5, and takes 6.7 MB instead of
    8.4. Other ``repeating_columns`` get a dictionary."""
    # Sets: a file may have thousands of columns, and this runs for every part.
    integers = {f.name for f in table.schema if pa.types.is_integer(f.type)}
    sink = pa.BufferOutputStream()
    # No column statistics: versions are always read whole, so they would be dead weight.
    pq.write_table(
        table,
        sink,
        compression=CODEC,
        use_dictionary=[name for name in repeating_columns if name not in integers],
        column_encoding=dict.fromkeys(integers, "DELTA_BINARY_PACKED") or None,
        write_statistics=False,
    )
    return sink.getvalue()


def repeating_columns(columns: Iterable[ColumnProfile]) -> list[str]:
    """Columns whose values repeat, worth a dictionary (``encode_part`` packs integers
    instead). Beyond a page's worth of distinct values the writer gives up on the
    dictionary, after wasted work."""
    return [
        column.name
        for column in columns
        if column.unique <= DICTIONARY_MAX_DISTINCT and column.count > column.unique
    ]


def decode_part(data, use_threads: bool = True) -> pa.Table:
    """A part from its Parquet bytes (any buffer), read in place; ``use_threads`` spreads its
    columns over Arrow's threads.

    Text columns stored with a dictionary are read as dictionaries and then expanded: Arrow's
    ``take`` does that in about half the time the Parquet reader takes to expand each page
    (13 ms against 20 ms for a million values), and the table comes out the same. They are
    the ones marked by ``with_encoded_text`` and, in parts written before text was encoded
    by the profile, plain text that the writer gave a dictionary of its own."""
    source = pa.BufferReader(pa.py_buffer(data))
    metadata = pq.read_metadata(source)
    texts = _dictionary_text_columns(metadata)
    table = pq.ParquetFile(source, metadata=metadata, read_dictionary=texts).read(
        use_threads=use_threads
    )
    unmarked = set(texts)
    for i, field in enumerate(table.schema):
        marked = field.metadata is not None and _ENCODED_TEXT in field.metadata
        if marked or field.name in unmarked:
            rest = {k: v for k, v in (field.metadata or {}).items() if k != _ENCODED_TEXT}
            plain = field.with_type(field.type.value_type).with_metadata(rest or None)
            table = table.set_column(i, plain, table.column(i).cast(plain.type))
    return table


def with_encoded_text(table: pa.Table, encoded: dict[str, pa.ChunkedArray]) -> pa.Table:
    """``table`` with the named text columns swapped for the same values dictionary-encoded,
    marked so that ``decode_part`` reads them back as text (a column that was a dictionary,
    such as a pandas category, stays one)."""
    for name, array in encoded.items():
        i = table.schema.get_field_index(name)
        field = table.schema.field(i)
        marked = {**(field.metadata or {}), _ENCODED_TEXT: b"1"}
        table = table.set_column(i, field.with_type(array.type).with_metadata(marked), array)
    return table


def _dictionary_text_columns(metadata: pq.FileMetaData) -> list[str]:
    """Text columns whose every column chunk starts with a dictionary page."""
    texts = [f.name for f in metadata.schema.to_arrow_schema() if pa.types.is_string(f.type)]
    chunks = [
        metadata.row_group(g).column(c)
        for g in range(metadata.num_row_groups)
        for c in range(metadata.num_columns)
    ]
    plain = {chunk.path_in_schema for chunk in chunks if not chunk.has_dictionary_page}
    return [name for name in texts if name not in plain]


def concat_parts(tables: list[pa.Table]) -> pa.Table:
    return tables[0] if len(tables) == 1 else pa.concat_tables(tables)


def decode_parts(parts: Iterable, map_fn: Callable = map) -> pa.Table:
    return concat_parts(list(map_fn(decode_part, parts)))
