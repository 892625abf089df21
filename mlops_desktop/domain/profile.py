"""Column profiles of a table: types, missing values, distributions and correlations.

Each column's distinct values are counted in one pass: numbers on a narrow decimal grid by
their place on it, other values by hashing, numbers with many distinct values by sorting.
Its statistics, quartiles and histogram then come from the distinct values weighted by their
counts, which is exact and far cheaper than passing over millions of rows again.
Profiles are kept as plain JSON with the dataset version, so the GUI redraws charts from
stored numbers instead of data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mlops_desktop.domain.tasks import TaskState

TOP_CATEGORIES = 10
HISTOGRAM_BINS = 20
#: Strings with at most this many distinct values (and repeating) count as categories.
MAX_CATEGORIES = 1000
#: Strings this long on average read as free text rather than categories.
TEXT_MEAN_LENGTH = 30
#: Correlations use at most this many rows (a uniform sample) and this many columns.
CORRELATION_ROWS = 100_000
CORRELATION_COLUMNS = 30
#: Rows sampled to estimate how many distinct values a numeric column has, and the estimate
#: past which sorting counts them faster than hashing.
DISTINCT_SAMPLE = 16_384
HASH_MAX_DISTINCT = 150_000
#: Numbers written with at most this many decimals are counted by their place on that grid,
#: when it spans at most GRID_BINS_PER_ROW places per row (or GRID_MIN_BINS).
GRID_MAX_DECIMALS = 6
GRID_BINS_PER_ROW = 4
GRID_MIN_BINS = 1 << 16
GRID_SAMPLE = 4096
GRID_SLICE = 1 << 16


def _finite(value) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def column_kind(arrow_type: pa.DataType, distinct: int, non_null: int, mean_length: float) -> str:
    """numeric, boolean, datetime, categorical, text or other."""
    if pa.types.is_boolean(arrow_type):
        return "boolean"
    if pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type):
        return "numeric"
    if pa.types.is_decimal(arrow_type):
        return "numeric"
    if pa.types.is_temporal(arrow_type):
        return "datetime"
    if pa.types.is_dictionary(arrow_type):
        return "categorical"
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        repeats = distinct < non_null
        if mean_length >= TEXT_MEAN_LENGTH and not distinct <= MAX_CATEGORIES:
            return "text"
        return "categorical" if distinct <= MAX_CATEGORIES and repeats else "text"
    return "other"


@dataclass
class ColumnProfile:
    name: str
    type: str
    kind: str
    count: int
    missing: int
    unique: int
    rows: int
    stats: dict = field(default_factory=dict)  # min, max, mean, std, q25, q50, q75
    top: list = field(default_factory=list)  # [[value, count], ...] most frequent first
    histogram: dict | None = None  # {"edges": [...], "counts": [...]}, numeric and datetime

    @property
    def missing_share(self) -> float:
        return self.missing / self.rows if self.rows else 0.0

    @property
    def all_unique(self) -> bool:
        return self.count > 0 and self.unique == self.count

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "type": self.type,
            "kind": self.kind,
            "count": self.count,
            "missing": self.missing,
            "unique": self.unique,
            "rows": self.rows,
            "stats": self.stats,
            "top": self.top,
            "histogram": self.histogram,
        }

    @classmethod
    def from_json(cls, data: dict) -> ColumnProfile:
        return cls(**data)


@dataclass
class TableProfile:
    rows: int
    columns: list[ColumnProfile]
    correlation: dict | None = None  # {"columns": [...], "matrix": [[...]], "rows_used": n}

    def column(self, name: str) -> ColumnProfile:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(name)

    def to_json(self) -> dict:
        return {
            "rows": self.rows,
            "columns": [c.to_json() for c in self.columns],
            "correlation": self.correlation,
        }

    @classmethod
    def from_json(cls, data: dict) -> TableProfile:
        return cls(
            rows=data["rows"],
            columns=[ColumnProfile.from_json(c) for c in data["columns"]],
            correlation=data.get("correlation"),
        )


def _histogram(values: np.ndarray, weights: np.ndarray, low: float, high: float) -> dict:
    try:
        counts, edges = np.histogram(
            values, bins=HISTOGRAM_BINS, range=(low, high), weights=weights
        )
    except ValueError:
        # A range too narrow for finite bins at this magnitude: a single bar.
        counts, edges = np.array([weights.sum()]), np.array([low, high])
    return {"edges": [float(e) for e in edges], "counts": [int(c) for c in counts]}


def _json_value(value):
    """A value as JSON can hold it: infinities and dates become text."""
    if isinstance(value, (str, int, bool)) or (isinstance(value, float) and math.isfinite(value)):
        return value
    return str(value)


def _top(values: pa.Array, counts: np.ndarray) -> list:
    """The most frequent values, most frequent first (ties by value's text)."""
    k = min(TOP_CATEGORIES, len(counts))
    if k == 0:
        return []
    order = np.argpartition(-counts, k - 1)[:k] if len(counts) > k else np.arange(len(counts))
    top = [[values[int(i)].as_py(), int(counts[i])] for i in order]
    top.sort(key=lambda pair: (-pair[1], str(pair[0])))
    return [[_json_value(v), c] for v, c in top]


def _weighted_quantiles(values: np.ndarray, counts: np.ndarray, qs) -> list[float | None]:
    """Exact quantiles (numpy's linear method) of ``values`` each repeated ``counts`` times."""
    if (values[1:] < values[:-1]).any():
        order = np.argsort(values)  # distinct values: no need for a (slower) stable sort
        values, counts = values[order], counts[order]
    cumulative = np.cumsum(counts)
    n = int(cumulative[-1])
    result = []
    for q in qs:
        position = q * (n - 1)
        low, high = int(np.floor(position)), int(np.ceil(position))
        v_low = values[np.searchsorted(cumulative, low, side="right")]
        v_high = values[np.searchsorted(cumulative, high, side="right")]
        if v_low == v_high:  # also two equal infinities, whose difference is NaN
            result.append(_finite(v_low))
            continue
        with np.errstate(invalid="ignore"):
            result.append(_finite(v_low + (v_high - v_low) * (position - low)))
    return result


def _distinct_counts(array: pa.ChunkedArray) -> tuple[pa.Array, np.ndarray]:
    """The distinct values (not null, not NaN) and how often each occurs."""
    if pa.types.is_dictionary(array.type):
        return _category_counts(array.unify_dictionaries())
    if pa.types.is_integer(array.type) or pa.types.is_floating(array.type):
        return _number_counts(array)
    counted = pc.value_counts(array)  # one hashing pass
    values, counts = counted.field("values"), counted.field("counts").to_numpy()
    if values.null_count:
        # Missing values are counted as one more value: drop it.
        keep = values.is_valid()
        values, counts = values.filter(keep), counts[keep.to_numpy(zero_copy_only=False)]
    return values, counts


def _number_counts(array: pa.ChunkedArray) -> tuple[pa.Array, np.ndarray]:
    """Numbers are counted by hashing when they repeat and by sorting when they barely do:
    for a million numbers hashing (and then sorting the distinct values) takes 18 ms with ten
    thousand distinct values, 60 ms with two hundred thousand and 220 ms with a million, while
    sorting them all takes 60 to 80 ms throughout.
    The repeats in a sample estimate the number of distinct values; the distinct values come
    back in order either way. Numbers on a narrow decimal grid skip both (see _grid_counts)."""
    counted = _grid_counts(array)
    if counted is not None:
        return counted
    if _estimated_distinct(array) > HASH_MAX_DISTINCT:
        return _sorted_counts(array)
    counted = pc.value_counts(array)
    values, counts = counted.field("values"), counted.field("counts").to_numpy()
    keep = values.is_valid()
    if pa.types.is_floating(array.type):
        keep = pc.and_(keep, pc.invert(pc.fill_null(pc.is_nan(values), True)))
    if not pc.all(keep).as_py():
        values, counts = values.filter(keep), counts[keep.to_numpy(zero_copy_only=False)]
    # numpy sorts these in a quarter of the time Arrow's sort_indices takes.
    numbers = values.to_numpy()
    order = np.argsort(numbers)
    numbers, counts = numbers[order], counts[order]
    if pa.types.is_floating(array.type) and np.count_nonzero(numbers == 0) > 1:
        # Hashing tells -0.0 from 0.0 by their bits; they are one number, as sorting finds.
        starts = np.flatnonzero(np.concatenate(([True], numbers[1:] != numbers[:-1])))
        numbers, counts = numbers[starts] + 0.0, np.add.reduceat(counts, starts)
    return pa.array(numbers, type=array.type), counts


def _grid_counts(array: pa.ChunkedArray) -> tuple[pa.Array, np.ndarray] | None:
    """Counts of numbers that all lie on a grid of 10**-d (integers, or text written with up
    to GRID_MAX_DECIMALS decimals) over a span not much longer than the column: each number's
    place on the grid is counted with one bincount, 5 to 10 ms for a million numbers against
    25 to 60 ms for hashing or sorting them. None for other numbers (or infinities).

    A number x sits on the grid when rint(x * 10**d) / 10**d == x exactly; the division is
    correctly rounded, so the place k gives back x itself and distinct numbers have distinct
    places. The places are worked out GRID_SLICE numbers at a time: whole-column temporaries
    are fresh memory each time, which the kernel zeroes first, and that took as long again
    as the arithmetic."""
    is_integer = pa.types.is_integer(array.type)
    if not (is_integer or pa.types.is_float64(array.type)):
        return None
    scale = None if is_integer else _grid_scale(array)
    if not is_integer and scale is None:
        return None
    places = np.empty(len(array) - array.null_count, dtype=np.int64)
    filled, low, high = 0, math.inf, -math.inf
    for numbers in _numbers_in_slices(array):
        if not len(numbers):
            continue
        if scale is not None:
            with np.errstate(over="ignore", invalid="ignore"):  # infinities are refused below
                scaled = np.multiply(numbers, scale)
                np.rint(scaled, out=scaled)
                if not np.array_equal(scaled / scale, numbers):
                    return None
            numbers = scaled
        low, high = min(low, numbers.min().item()), max(high, numbers.max().item())
        # Past 2**53 a float no longer holds every integer (also infinities); uint64 ids past
        # 2**63 do not fit the places.
        if max(-low, high) >= (2**63 if is_integer else 2**53):
            return None
        places[filled : filled + len(numbers)] = numbers
        filled += len(numbers)
    if not filled:
        return pa.array([], type=array.type), np.zeros(0, dtype=np.int64)
    low, high = int(low), int(high)
    if high - low >= max(GRID_BINS_PER_ROW * filled, GRID_MIN_BINS):
        return None
    places = places[:filled]  # without the NaNs, which are missing too
    np.subtract(places, low, out=places)
    counts = np.bincount(places)
    present = np.flatnonzero(counts)
    if scale is None:
        values = pa.array(present + low).cast(array.type)
    else:
        values = pa.array((present + low) / scale, type=array.type)
    return values, counts[present]


def _numbers_in_slices(array: pa.ChunkedArray):
    """The column's numbers, without missing values, as numpy arrays of GRID_SLICE at most."""
    for chunk in array.chunks:
        for start in range(0, len(chunk), GRID_SLICE):
            yield _present_numbers(chunk.slice(start, GRID_SLICE))


def _present_numbers(array: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """The numbers as numpy, without missing values: nulls, and NaN in floats."""
    numbers = (pc.drop_null(array) if array.null_count else array).to_numpy()
    if numbers.dtype.kind == "f":
        nan = np.isnan(numbers)
        if nan.any():
            numbers = numbers[~nan]
    return numbers


def _grid_scale(array: pa.ChunkedArray) -> float | None:
    """10**d for the fewest decimals d that a sample of the numbers is written with."""
    picks = np.arange(0, len(array), max(1, len(array) // GRID_SAMPLE))
    sample = _present_numbers(array.take(pa.array(picks)))
    for decimals in range(GRID_MAX_DECIMALS + 1):
        scale = 10.0**decimals
        with np.errstate(invalid="ignore", over="ignore"):
            if np.array_equal(np.rint(sample * scale) / scale, sample):
                return scale
    return None


def _estimated_distinct(array: pa.ChunkedArray) -> float:
    """Distinct values in the column, from the repeats in a sample of its rows: drawing s
    values from d equally likely ones repeats about s*s/(2d) of them (the birthday problem)."""
    rows = len(array)
    if rows <= DISTINCT_SAMPLE:
        return rows
    picks = np.random.default_rng(0).integers(0, rows, DISTINCT_SAMPLE)
    sample = pc.drop_null(array.take(pa.array(picks))).to_numpy()
    repeats = len(sample) - len(np.unique(sample))
    return len(sample) ** 2 / (2 * repeats) if repeats else math.inf


def _sorted_counts(array: pa.ChunkedArray) -> tuple[pa.Array, np.ndarray]:
    if pa.types.is_floating(array.type):
        numbers = array.to_numpy()  # nulls become NaN, which is missing too
    else:
        numbers = pc.drop_null(array).to_numpy()
    numbers = np.sort(numbers)
    if len(numbers) and np.isnan(numbers[-1]):  # NaN sorts last
        numbers = numbers[: np.argmax(np.isnan(numbers))]
    if not len(numbers):
        return pa.array(numbers, type=array.type), np.zeros(0, dtype=np.int64)
    starts = np.flatnonzero(np.concatenate(([True], numbers[1:] != numbers[:-1])))
    counts = np.diff(np.append(starts, len(numbers)))
    # + 0.0 makes a -0.0 that sorted first 0.0, as the other ways of counting give it.
    distinct = numbers[starts] + 0 if numbers.dtype.kind == "f" else numbers[starts]
    return pa.array(distinct, type=array.type), counts


def _category_counts(encoded: pa.ChunkedArray) -> tuple[pa.Array, np.ndarray]:
    """The entries of a dictionary column (one dictionary for all chunks) that occur, and how
    often each does: a category left without rows by a filter is not a value of the column."""
    if encoded.num_chunks == 0:
        return pa.array([], type=encoded.type.value_type), np.zeros(0, dtype=np.int64)
    dictionary = encoded.chunks[0].dictionary
    indices = pa.chunked_array([c.indices for c in encoded.chunks])
    if indices.null_count:
        # Nulls get a bin of their own past the end, which is then dropped.
        indices = pc.fill_null(indices, len(dictionary))
    counts = np.bincount(indices.to_numpy(), minlength=len(dictionary) + 1)[: len(dictionary)]
    if counts.all():
        return dictionary, counts
    used = np.flatnonzero(counts)
    return dictionary.take(pa.array(used)), counts[used]


def dictionary_encoded(array: pa.ChunkedArray) -> pa.ChunkedArray | None:
    """A text column as a dictionary shared by its chunks: hashed once, it is both counted
    for the profile and handed to the Parquet writer, which then writes its indices instead
    of hashing every value again. None for other columns."""
    if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
        return None
    # A chunked dictionary_encode gives every chunk the final, unified dictionary.
    return pc.dictionary_encode(array)


def profile_column(
    name: str, array: pa.ChunkedArray, encoded: pa.ChunkedArray | None = None
) -> ColumnProfile:
    """Everything about one column, derived from its distinct values and their counts;
    ``encoded`` is the column as ``dictionary_encoded`` gave it, if it was."""
    rows = len(array)
    arrow_type = array.type
    values, counts = _distinct_counts(array) if encoded is None else _category_counts(encoded)
    count, distinct = int(counts.sum()), len(values)
    is_string = pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type)
    mean_length = 0.0
    if is_string and count and distinct > MAX_CATEGORIES:
        # Only needed to tell free text from many-valued categories.
        lengths = pc.utf8_length(values).to_numpy(zero_copy_only=False)
        mean_length = float((lengths * counts).sum() / count)
    kind = column_kind(arrow_type, distinct, count, mean_length)
    profile = ColumnProfile(name, str(arrow_type), kind, count, rows - count, distinct, rows)
    if not count:
        return profile
    if kind == "numeric":
        # Unsafe: integers past 2**53 (long ids) round to the nearest float instead of failing.
        numbers = pc.cast(values, pa.float64(), safe=False).to_numpy(zero_copy_only=False)
        finite = np.isfinite(numbers)
        low = float(numbers[finite].min()) if finite.any() else None
        high = float(numbers[finite].max()) if finite.any() else None
        # Range, mean and spread are of the finite numbers, with the infinities counted
        # apart: one infinity would otherwise leave the column without a mean.
        kept, weights = numbers[finite], counts[finite]
        present = int(weights.sum())
        mean = spread = None
        with np.errstate(invalid="ignore", over="ignore"):
            if present:
                mean = float((kept * weights).sum() / present)
            if present > 1:
                spread = (weights * (kept - mean) ** 2).sum() / (present - 1)
        q25, q50, q75 = _weighted_quantiles(numbers, counts, (0.25, 0.5, 0.75))
        profile.stats = {
            "min": _finite(low),
            "max": _finite(high),
            "mean": _finite(mean),
            "std": _finite(math.sqrt(spread)) if spread is not None and spread >= 0 else None,
            "q25": q25,
            "q50": q50,
            "q75": q75,
        }
        if present < count:  # how many are -inf and how many +inf
            below = int(counts[numbers == -np.inf].sum())
            profile.stats["infinite"] = [below, count - present - below]
        if low is not None:
            profile.histogram = _histogram(numbers[finite], counts[finite], low, high)
        if distinct <= TOP_CATEGORIES:
            profile.top = _top(values, counts)
    elif kind == "datetime":
        profile.stats = _time_range(values)
        if pa.types.is_timestamp(arrow_type) or pa.types.is_date(arrow_type):
            seconds = _seconds(values)
            profile.histogram = _histogram(seconds, counts, seconds.min(), seconds.max())
    elif kind in ("categorical", "boolean", "text"):
        profile.top = _top(values, counts)
        if kind == "text":
            profile.stats = {"mean_length": _finite(mean_length)}
    return profile


def _time_range(values: pa.Array) -> dict:
    """The earliest and latest value as text. Durations have no min_max kernel of their own,
    so their counts of units are compared instead."""
    if pa.types.is_duration(values.type):
        min_max = pc.min_max(values.cast(pa.int64()))
        low, high = (pa.scalar(min_max[k].as_py(), values.type) for k in ("min", "max"))
    else:
        min_max = pc.min_max(values)
        low, high = min_max["min"], min_max["max"]
    return {"min": _time_text(low), "max": _time_text(high)}


def _time_text(value: pa.Scalar) -> str:
    try:
        return str(value.as_py())
    except (OverflowError, ValueError):  # past what Python's datetime holds (year 9999)
        return value.cast(pa.string()).as_py()


_UNITS_PER_SECOND = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}


def _seconds(values: pa.Array) -> np.ndarray:
    """Dates and timestamps as seconds since 1970 (fractions kept), for a histogram."""
    if pa.types.is_date(values.type):
        values = values.cast(pa.timestamp("s"))
    counts = values.cast(pa.int64()).to_numpy().astype("float64")
    return counts / _UNITS_PER_SECOND[values.type.unit]


def correlation(table: pa.Table, columns: list[ColumnProfile], seed: int = 0) -> dict | None:
    """Pearson correlation of the numeric columns, on a uniform sample of rows."""
    numeric = [c.name for c in columns if c.kind == "numeric" and c.unique > 1]
    numeric = numeric[:CORRELATION_COLUMNS]
    if len(numeric) < 2:
        return None
    subset = table.select(numeric)
    if subset.num_rows > CORRELATION_ROWS:
        rng = np.random.default_rng(seed)
        rows = np.sort(rng.choice(subset.num_rows, CORRELATION_ROWS, replace=False))
        subset = subset.take(pa.array(rows))
    frame = subset.to_pandas().astype("float64")
    matrix = frame.corr(min_periods=2).to_numpy()
    return {
        "columns": numeric,
        "matrix": [[_finite(v) for v in row] for row in matrix],
        "rows_used": subset.num_rows,
    }


def profile_columns(
    table: pa.Table, state: TaskState | None = None, map_fn=map
) -> tuple[list[ColumnProfile], dict[str, pa.ChunkedArray]]:
    """Profile every column, and return its text columns dictionary-encoded too (by name);
    ``map_fn`` may be a thread pool's ``map`` (Arrow's kernels release the GIL, so columns
    profile in parallel)."""

    # Once: Arrow builds the list anew on every access, which made a file of thousands of
    # columns profile in time growing with their square.
    names = table.column_names

    def one(i: int) -> tuple[ColumnProfile, pa.ChunkedArray | None]:
        if state is not None:
            state.check_cancelled()
        array = table.column(i)
        encoded = dictionary_encoded(array)
        return profile_column(names[i], array, encoded), encoded

    profiled = list(map_fn(one, range(table.num_columns)))
    columns = [column for column, _ in profiled]
    encodings = {column.name: encoded for column, encoded in profiled if encoded is not None}
    return columns, encodings


def profile_table(table: pa.Table, state: TaskState | None = None, map_fn=map) -> TableProfile:
    """The columns' profiles and their correlation."""
    columns, _ = profile_columns(table, state, map_fn)
    return TableProfile(table.num_rows, columns, correlation(table, columns))
