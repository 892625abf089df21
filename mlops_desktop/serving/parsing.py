"""Request bodies -> one typed NumPy array per input column, checked against the signature.

MLflow's scoring protocol, parsed without a DataFrame: ``application/json`` with exactly one
of ``dataframe_split``, ``dataframe_records``, ``instances`` or ``inputs`` (and optional
``params``), ``text/csv`` with a header line, or ``application/vnd.apache.parquet``. Every
problem is a ``ServingError`` with one sentence that names the key or column at fault; extra
columns are ignored, as MLflow ignores them.
"""

from __future__ import annotations

import contextlib
import csv
import gc
import io
import json
import math
from dataclasses import dataclass

import numpy as np
import orjson

from mlops_desktop.services.predictors import PREDICT, PREDICT_PROBA, ServedColumn
from mlops_desktop.serving.errors import ServingError, bad_request

JSON = "application/json"
CSV = "text/csv"
PARQUET = "application/vnd.apache.parquet"
CONTENT_TYPES = (JSON, CSV, PARQUET)
FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")
PARAMS = "params"

#: Bounds on what one request may hold, whatever its size in bytes.
MAX_COLUMNS = 10_000
MAX_ROWS = 1_000_000
#: Objects and arrays in a JSON body (counted before parsing): bounds the parser's memory.
MAX_CONTAINERS = 2_000_000
#: A Parquet body may expand to this many times the body limit, no more (compression bombs).
PARQUET_EXPANSION = 16
#: CSV fields read as missing in number and true/false columns (pandas' defaults).
MISSING_WORDS = frozenset(
    {"", "NA", "N/A", "n/a", "NaN", "nan", "-NaN", "-nan", "null", "NULL", "None", "<NA>"}
)
_TRUE = frozenset({"true", "True", "TRUE", "1"})
_FALSE = frozenset({"false", "False", "FALSE", "0"})
_FORMAT_LIST = "dataframe_split, dataframe_records, instances or inputs"


@dataclass
class Parsed:
    """A request's rows, ready to predict."""

    columns: dict[str, np.ndarray]
    rows: int
    method: str = PREDICT


def media_type(header: str | None) -> str:
    """The request's media type, or a 415 naming what is accepted."""
    accepted = ", ".join(CONTENT_TYPES)
    if header is None or not header.strip():
        raise ServingError(415, f"The request has no Content-Type header: send one of {accepted}.")
    mime, *pairs = (part.strip() for part in header.split(";"))
    mime = mime.lower()
    parameters = {}
    for pair in pairs:
        if pair:
            key, _, value = pair.partition("=")
            parameters[key.strip().lower()] = value.strip().strip('"').lower()
    if mime not in CONTENT_TYPES:
        raise ServingError(
            415,
            f"The Content-Type {header.strip()[:80]!r} is not supported: send one of {accepted}.",
        )
    charset = parameters.pop("charset", "utf-8")
    if charset != "utf-8":
        raise ServingError(
            415, f"The charset {charset[:40]!r} is not supported: send UTF-8 (charset=utf-8)."
        )
    if parameters:
        name = sorted(parameters)[0]
        raise ServingError(
            415, f"The Content-Type parameter {name[:40]!r} is not supported: only charset is."
        )
    return mime


def parse_body(
    body: bytes,
    mime: str,
    columns: tuple[ServedColumn, ...],
    methods: tuple[str, ...] = (PREDICT,),
    max_bytes: int = 32 << 20,
) -> Parsed:
    if not body.strip():
        raise bad_request(
            "The request body is empty: send the rows to predict "
            f"({'a JSON object with ' + _FORMAT_LIST if mime == JSON else 'a ' + mime + ' body'})."
        )
    if mime == JSON:
        with _collector_paused():
            parsed = _parse_json(body, columns, methods)
    elif mime == CSV:
        parsed = Parsed(*_columns_from_table(_read_csv(body, columns), columns, "CSV"))
    else:
        parsed = Parsed(*_columns_from_table(_read_parquet(body, columns, max_bytes), columns))
    if parsed.rows == 0:
        raise bad_request("The request has no rows: send at least one row to predict.")
    if parsed.rows > MAX_ROWS:
        raise ServingError(
            413, f"The request has {parsed.rows:,} rows; at most {MAX_ROWS:,} are taken."
        )
    return parsed


# -- JSON --------------------------------------------------------------------------------------


def _parse_json(body: bytes, columns, methods) -> Parsed:
    # Every object or array takes at least one byte: a shorter body cannot hold too many.
    containers = body.count(b"[") + body.count(b"{") if len(body) > MAX_CONTAINERS else 0
    if containers > MAX_CONTAINERS:
        raise ServingError(
            413,
            f"The JSON body holds over {MAX_CONTAINERS:,} objects and arrays: send fewer rows "
            "per request, or send them as CSV or Parquet.",
        )
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise bad_request(
            f"The body is not valid UTF-8 (at byte {exc.start}): send UTF-8 text."
        ) from None
    try:
        document = _loads(text.removeprefix("\ufeff"))
    except json.JSONDecodeError as exc:
        raise bad_request(
            f"The body is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}."
        ) from None
    except RecursionError:
        raise bad_request("The JSON body is nested too deeply to be a request.") from None
    if not isinstance(document, dict):
        kind = "a list" if isinstance(document, list) else f"a JSON {_json_kind(document)}"
        raise bad_request(
            f"The body must be a JSON object with exactly one of {_FORMAT_LIST}; it is {kind}."
        )
    given = [key for key in FORMATS if key in document]
    if len(given) != 1:
        found = " and ".join(given) if given else "none of them"
        raise bad_request(f"The body must have exactly one of {_FORMAT_LIST}; it has {found}.")
    unknown = [key for key in document if key not in FORMATS and key != PARAMS]
    if unknown:
        raise bad_request(
            f"The body has an unknown key {unknown[0][:60]!r}: the keys are {given[0]} and, "
            "optionally, params."
        )
    method = _method(document.get(PARAMS), methods)
    key = given[0]
    value = document[key]
    if key == "dataframe_split":
        arrays, rows = _from_split(value, columns)
    elif key == "dataframe_records":
        if not isinstance(value, list):
            raise bad_request(
                f"dataframe_records must be a list of objects, one per row; it is "
                f"{_json_kind(value, article=True)}."
            )
        arrays, rows = _from_records(value, columns, key)
    else:
        arrays, rows = _from_tf_serving(value, columns, key)
    return Parsed(arrays, rows, method)


@contextlib.contextmanager
def _collector_paused():
    """Parsed JSON is lists, strings and numbers, which hold no reference cycles; a large
    body makes so many lists that the cyclic collector would run over and over while it is
    read, and walk them each time (a 10,000-row body: 10.5 ms to read, 3.2 ms without)."""
    if not gc.isenabled():  # paused already, by a parse on another thread
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _loads(text: str):
    """The JSON document: orjson's reading where it takes the text (most bodies, in a
    quarter of the time), Python's where it refuses it, for NaN and Infinity (not JSON, but
    what Python clients send for missing and infinite values, and taken as the json module
    takes them) and for the json module's error messages."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def _json_kind(value, article: bool = False) -> str:
    if isinstance(value, dict):
        kind = "object"
    elif isinstance(value, list):
        kind = "list"
    elif isinstance(value, str):
        kind = "string"
    elif isinstance(value, bool):
        kind = "boolean"
    elif value is None:
        kind = "null"
    else:
        kind = "number"
    if not article:
        return kind
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"


def _method(params, methods) -> str:
    if params is None:
        return PREDICT
    if not isinstance(params, dict):
        raise bad_request(f"params must be an object; it is {_json_kind(params, article=True)}.")
    unknown = [key for key in params if key != "predict_method"]
    if unknown:
        raise bad_request(
            f"params has an unknown parameter {unknown[0][:60]!r}: the only one is predict_method."
        )
    method = params.get("predict_method", PREDICT)
    if method not in (PREDICT, PREDICT_PROBA):
        raise bad_request(
            f"params.predict_method {str(method)[:60]!r} is not known: use predict or "
            "predict_proba."
        )
    if method not in methods:
        raise bad_request(
            "params.predict_method predict_proba needs a classifier; this model is a regressor."
        )
    return method


def _from_split(value, columns):
    if not isinstance(value, dict):
        raise bad_request(
            "dataframe_split must be an object with columns and data; it is "
            f"{_json_kind(value, article=True)}."
        )
    extra = [key for key in value if key not in ("columns", "data", "index")]
    if extra:
        raise bad_request(
            f"dataframe_split has an unknown key {extra[0][:60]!r}: its keys are columns, data "
            "and, optionally, index."
        )
    if "data" not in value:
        raise bad_request("dataframe_split has no data: give the rows as a list of lists.")
    names = value.get("columns")
    if not isinstance(names, list):
        raise bad_request(
            "dataframe_split needs columns, the list of column names its rows follow."
        )
    if len(names) > MAX_COLUMNS:
        raise ServingError(
            413, f"dataframe_split has {len(names):,} columns; at most {MAX_COLUMNS:,} are taken."
        )
    if not all(isinstance(n, str) for n in names):
        bad = next(n for n in names if not isinstance(n, str))
        raise bad_request(f"dataframe_split.columns must be names (text); {bad!r} is not.")
    data = value["data"]
    if not isinstance(data, list):
        raise bad_request(
            f"dataframe_split.data must be a list of rows; it is {_json_kind(data, article=True)}."
        )
    width = len(names)
    if width == 1 and all(not isinstance(row, list | dict) for row in data):
        data = [[row] for row in data]  # one column may be given as a flat list, as in pandas
    # Checked with C-level passes over the rows; the loop only finds which row is wrong.
    if not (set(map(type, data)) <= {list} and set(map(len, data)) <= {width}):
        for i, row in enumerate(data):
            if not isinstance(row, list) or len(row) != width:
                shape = f"{len(row)} values" if isinstance(row, list) else _json_kind(row, True)
                raise bad_request(
                    f"dataframe_split.data row {i + 1} has {shape}; every row needs {width} "
                    "values, one per column."
                )
    index = value.get("index")
    if index is not None and (not isinstance(index, list) or len(index) != len(data)):
        raise bad_request(f"dataframe_split.index must list one label per row ({len(data)} rows).")
    positions = {}
    for position, name in enumerate(names):
        if name in positions and any(c.name == name for c in columns):
            raise bad_request(f"Column {name!r} appears twice in dataframe_split.columns.")
        positions.setdefault(name, position)
    for column in columns:
        if column.name not in positions:
            raise _missing(column, names)
    # One transposing pass (in C) gives every column at once (the rows were checked to be
    # of one length above, so strictness would only check them again).
    transposed = list(zip(*data, strict=False)) if data else [() for _ in names]
    arrays = {
        column.name: convert(list(transposed[positions[column.name]]), column) for column in columns
    }
    return arrays, len(data)


def _from_records(records: list, columns, where: str):
    if not records:
        raise bad_request(f"{where} is empty: send at least one row to predict.")
    for i, record in enumerate(records):
        if not isinstance(record, dict):
            raise bad_request(
                f"{where} must be a list of objects, one per row; row {i + 1} is "
                f"{_json_kind(record, article=True)}."
            )
        if len(record) > MAX_COLUMNS:
            raise ServingError(
                413,
                f"{where} row {i + 1} has {len(record):,} columns; at most "
                f"{MAX_COLUMNS:,} are taken.",
            )
    arrays = {}
    for column in columns:
        name = column.name
        if not any(name in record for record in records):
            raise _missing(column, list(records[0]) if records else [])
        arrays[name] = convert([record.get(name) for record in records], column)
    return arrays, len(records)


def _from_tf_serving(value, columns, where: str):
    """``instances`` and ``inputs``: rows (a list of objects) or columns (an object of lists,
    or of single values for one row)."""
    if isinstance(value, list):
        if value and not isinstance(value[0], dict):
            raise bad_request(
                f"{where} must name the columns: a list of objects (one per row) or an object "
                "of lists (one per column); it is a list of "
                f"{_json_kind(value[0])}s."
            )
        return _from_records(value, columns, where)
    if not isinstance(value, dict):
        raise bad_request(
            f"{where} must be a list of objects (one per row) or an object of lists (one per "
            f"column); it is {_json_kind(value, article=True)}."
        )
    if len(value) > MAX_COLUMNS:
        raise ServingError(
            413, f"{where} has {len(value):,} columns; at most {MAX_COLUMNS:,} are taken."
        )
    lists = [isinstance(v, list) for v in value.values()]
    if any(lists) and not all(lists):
        name = next(k for k, v in value.items() if not isinstance(v, list))
        raise bad_request(
            f"{where}: column {name[:60]!r} has a single value while others have lists; give "
            "every column a list of values (or every column one value, for one row)."
        )
    if not all(lists):
        value = {k: [v] for k, v in value.items()}  # one row
    rows = None
    arrays = {}
    for column in columns:
        if column.name not in value:
            raise _missing(column, list(value))
        values = value[column.name]
        if rows is None:
            rows = len(values)
        elif len(values) != rows:
            first = next(c.name for c in columns if c.name in arrays)
            raise bad_request(
                f"{where}: column {column.name!r} has {len(values)} values but {first!r} has "
                f"{rows}; every column needs one value per row."
            )
        arrays[column.name] = convert(values, column)
    return arrays, rows or 0


def _missing(column: ServedColumn, given) -> ServingError:
    shown = ", ".join(repr(str(n)[:40]) for n in list(given)[:8])
    more = ", …" if len(given) > 8 else ""
    also = f" (the request has {shown}{more})" if given else ""
    return bad_request(f"The request has no column {column.name!r}{also}, which the model needs.")


# -- values ------------------------------------------------------------------------------------

_NUMBER_TYPES = frozenset({int, float, type(None)})


def convert(values: list, column: ServedColumn) -> np.ndarray:
    """Python values (parsed JSON) as the column's array; a 400 names the first bad value."""
    family = column.family
    if family == "number":
        return _numbers(values, column)
    present = set(map(type, values))
    if float in present:  # NaN: how Python clients send a missing value
        values = [None if type(v) is float and math.isnan(v) else v for v in values]
        present = set(map(type, values))
    if family == "boolean":
        _check_types(values, column, (bool,), "true or false", present)
        array = np.array(values, dtype=object)
    elif family == "string":
        _check_types(values, column, (str,), "text", present)
        array = np.array(values, dtype=object)
    elif family == "datetime":
        _check_types(values, column, (str,), "dates and times as ISO 8601 text", present)
        array = _datetimes(values, column)
    elif family == "time":
        _check_types(values, column, (str,), "times of day as text (HH:MM:SS)", present)
        array = _times(values, column)
    elif family == "duration":
        array = _durations(values, column)
    else:
        array = np.empty(len(values), dtype=object)
        array[:] = values
    _check_missing(array, column)
    return array


def _numbers(values: list, column: ServedColumn) -> np.ndarray:
    if not set(map(type, values)) <= _NUMBER_TYPES:
        for i, v in enumerate(values):
            if type(v) not in _NUMBER_TYPES:
                raise _wrong(column, i, v, "numbers")
    try:
        array = np.array(values, dtype=np.float64)
    except OverflowError:
        raise bad_request(f"Column {column.name!r} has a number too large to use.") from None
    return _check_numbers(array, column)


def _check_numbers(array: np.ndarray, column: ServedColumn) -> np.ndarray:
    finite = np.isfinite(array)
    if not finite.all():
        infinite = np.isinf(array)
        if infinite.any():
            i = int(np.argmax(infinite))
            raise bad_request(
                f"Column {column.name!r} has {'-' if array[i] < 0 else ''}Infinity in row "
                f"{i + 1}: send finite numbers."
            )
        _check_missing(array, column)
    if column.whole:
        fractional = finite & (np.floor(array) != array)
        if fractional.any():
            i = int(np.argmax(fractional))
            raise bad_request(
                f"Column {column.name!r} takes whole numbers ({column.type}), but row {i + 1} "
                f"has {float(array[i])!r}."
            )
    return array


def _check_types(
    values: list, column: ServedColumn, types: tuple, what: str, present: set | None = None
) -> None:
    """Refuse a value of another type, naming the first; ``present``: the values' types,
    if known already."""
    allowed = {*types, type(None)}
    if not (set(map(type, values)) if present is None else present) <= allowed:
        for i, v in enumerate(values):
            if type(v) not in allowed:
                raise _wrong(column, i, v, what)


def _wrong(column: ServedColumn, i: int, value, what: str) -> ServingError:
    shown = json.dumps(value)[:40] if not isinstance(value, float) else repr(value)
    return bad_request(
        f"Column {column.name!r} takes {what} ({column.type}), but row {i + 1} has {shown}."
    )


def _check_missing(array: np.ndarray, column: ServedColumn) -> None:
    if column.nullable:
        return
    if array.dtype == object:
        missing = np.equal(array, None)
    elif array.dtype.kind in "mM":
        missing = np.isnat(array)
    elif array.dtype.kind == "f":
        missing = np.isnan(array)
    else:
        return
    if missing.any():
        i = int(np.argmax(missing))
        raise bad_request(
            f"Column {column.name!r} has no value in row {i + 1}, and the model cannot fill "
            "in a missing value there: send a value."
        )


def _datetimes(values: list, column: ServedColumn) -> np.ndarray:
    import pandas as pd

    try:
        parsed = pd.to_datetime(pd.Index(values, dtype=object), format="ISO8601", utc=True)
    except (ValueError, TypeError, OverflowError):
        for i, v in enumerate(values):
            if v is None:
                continue
            try:
                pd.to_datetime(v, format="ISO8601", utc=True)
            except (ValueError, TypeError, OverflowError):
                raise _wrong(column, i, v, "dates and times as ISO 8601 text") from None
        raise bad_request(f"Column {column.name!r} has dates that cannot be read.") from None
    return parsed.tz_convert(None).as_unit("ms").to_numpy()


def _times(values: list, column: ServedColumn) -> np.ndarray:
    import datetime as dt

    result = np.empty(len(values), dtype=object)
    for i, v in enumerate(values):
        if v is None:
            result[i] = None
            continue
        try:
            result[i] = dt.time.fromisoformat(v)
        except ValueError:
            raise _wrong(column, i, v, "times of day as text (HH:MM:SS)") from None
    return result


def _durations(values: list, column: ServedColumn) -> np.ndarray:
    import re

    unit = re.search(r"\[(\w+)\]", column.type)
    unit = unit.group(1) if unit else "ms"
    numbers = _numbers(
        values, ServedColumn(column.name, column.type, "numeric", "number", True, True)
    )
    result = np.full(len(numbers), np.timedelta64("NaT"), dtype="timedelta64[ms]")
    present = ~np.isnan(numbers)
    result[present] = numbers[present].astype(np.int64).astype(f"timedelta64[{unit}]")
    return result


# -- CSV and Parquet: through Arrow ------------------------------------------------------------


def _read_csv(body: bytes, columns):
    import pyarrow as pa
    from pyarrow import csv as pacsv

    body = body.removeprefix(b"\xef\xbb\xbf")
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise bad_request(
            f"The CSV is not valid UTF-8 (at byte {exc.start}): send UTF-8 text."
        ) from None
    first = body.split(b"\n", 1)[0].rstrip(b"\r").decode("utf-8")
    try:
        header = next(csv.reader(io.StringIO(first)), [])
    except csv.Error as exc:
        raise bad_request(f"The CSV's header line cannot be read ({exc}).") from None
    if len(header) > MAX_COLUMNS:
        raise ServingError(
            413, f"The CSV has {len(header):,} columns; at most {MAX_COLUMNS:,} are taken."
        )
    seen = set()
    for name in header:
        if name in seen and any(c.name == name for c in columns):
            raise bad_request(f"Column {name!r} appears twice in the CSV's header.")
        seen.add(name)
    for column in columns:
        if column.name not in seen:
            hint = ""
            if not any(c.name in seen for c in columns):
                hint = " A CSV's first line must be a header naming the columns."
            raise bad_request(
                f"The CSV has no column {column.name!r}, which the model needs.{hint}"
            )
    wanted = [c.name for c in columns]
    try:
        table = pacsv.read_csv(
            pa.py_buffer(body),
            read_options=pacsv.ReadOptions(use_threads=len(body) > 1 << 20),
            parse_options=pacsv.ParseOptions(newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                include_columns=wanted,
                column_types={name: pa.string() for name in wanted},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        message = str(exc).splitlines()[0][:200]
        raise bad_request(f"The CSV cannot be read: {message}.") from None
    return table


def _read_parquet(body: bytes, columns, max_bytes: int):
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(pa.BufferReader(body))
        metadata = parquet.metadata
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise bad_request(
            f"The body is not a Parquet file ({str(exc).splitlines()[0][:120]})."
        ) from None
    if metadata.num_columns > MAX_COLUMNS:
        raise ServingError(
            413,
            f"The Parquet file has {metadata.num_columns:,} columns; at most "
            f"{MAX_COLUMNS:,} are taken.",
        )
    expanded = sum(metadata.row_group(i).total_byte_size for i in range(metadata.num_row_groups))
    if expanded > PARQUET_EXPANSION * max_bytes:
        raise ServingError(
            413,
            f"The Parquet file expands to {expanded / 2**20:,.0f} MiB; send fewer rows "
            "per request.",
        )
    names = parquet.schema_arrow.names
    for column in columns:
        if column.name not in names:
            raise bad_request(
                f"The Parquet file has no column {column.name!r}, which the model needs."
            )
    try:
        return parquet.read(columns=[c.name for c in columns], use_threads=False)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise bad_request(
            f"The Parquet file cannot be read ({str(exc).splitlines()[0][:120]})."
        ) from None


def _columns_from_table(table, columns, source: str = "Parquet"):
    """Arrow columns as the columns' arrays: CSV columns arrive as text, Parquet typed."""
    import pyarrow as pa

    arrays = {}
    for column in columns:
        data = table.column(column.name)
        if source == "CSV":
            arrays[column.name] = _from_csv_text(data, column)
        else:
            arrays[column.name] = _from_arrow(data, column, pa)
    return arrays, table.num_rows


def _from_csv_text(data, column: ServedColumn) -> np.ndarray:
    import pyarrow as pa
    import pyarrow.compute as pc

    family = column.family
    if family in ("string", "other"):
        values = [None if v == "" else v for v in data.to_pylist()]
        return convert(values, column)
    if family == "number":
        missing = pc.is_in(data, value_set=pa.array(sorted(MISSING_WORDS)))
        cleaned = pc.if_else(missing, pa.scalar(None, pa.string()), pc.utf8_trim_whitespace(data))
        try:
            numbers = pc.cast(cleaned, pa.float64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            for i, v in enumerate(cleaned.to_pylist()):
                if v is None:
                    continue
                try:
                    float(v)
                except ValueError:
                    raise _wrong(column, i, v, "numbers") from None
            raise bad_request(f"Column {column.name!r} has values that are not numbers.") from None
        return _check_numbers(numbers.to_numpy(zero_copy_only=False), column)
    if family == "boolean":
        values = []
        for i, v in enumerate(data.to_pylist()):
            v = v.strip()
            if v in MISSING_WORDS:
                values.append(None)
            elif v in _TRUE:
                values.append(True)
            elif v in _FALSE:
                values.append(False)
            else:
                raise _wrong(column, i, v, "true or false")
        return convert(values, column)
    values = [None if v.strip() in MISSING_WORDS else v.strip() for v in data.to_pylist()]
    if family == "duration":
        try:
            values = [None if v is None else float(v) for v in values]
        except ValueError:
            raise bad_request(f"Column {column.name!r} takes numbers ({column.type}).") from None
    return convert(values, column)


def _from_arrow(data, column: ServedColumn, pa) -> np.ndarray:
    kind = data.type
    family = column.family
    if pa.types.is_dictionary(kind):
        data = data.cast(kind.value_type)
        kind = data.type
    if pa.types.is_null(kind):
        return convert([None] * len(data), column)
    if family == "number":
        if not (
            pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind)
        ):
            raise _wrong_type(column, kind, "numbers")
        numbers = data.cast(pa.float64()).to_numpy(zero_copy_only=False)
        return _check_numbers(numbers, column)
    if family == "boolean" and not pa.types.is_boolean(kind):
        raise _wrong_type(column, kind, "true or false")
    if family == "string" and not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
        raise _wrong_type(column, kind, "text")
    if family == "datetime":
        if pa.types.is_timestamp(kind) or pa.types.is_date(kind):
            if pa.types.is_date(kind):
                data = data.cast(pa.timestamp("ms"))
            array = data.to_numpy(zero_copy_only=False).astype("datetime64[ms]")
            _check_missing(array, column)
            return array
        if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
            raise _wrong_type(column, kind, "dates and times")
    if family == "time" and pa.types.is_time(kind):
        array = np.array(data.to_pylist(), dtype=object)
        _check_missing(array, column)
        return array
    return convert(data.to_pylist(), column)


def _wrong_type(column: ServedColumn, kind, what: str) -> ServingError:
    return bad_request(f"Column {column.name!r} takes {what} ({column.type}), but it holds {kind}.")
