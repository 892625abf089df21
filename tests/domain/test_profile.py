import dataclasses
import math

import numpy as np
import pyarrow as pa
import pytest

from mlops_desktop.domain import profile as profiling
from mlops_desktop.domain.profile import TableProfile, profile_column, profile_table


def test_numeric_column_statistics_skip_missing_and_nan():
    column = profile_column("x", pa.chunked_array([[1.0, None, float("nan"), 3.0, 5.0]]))
    assert (column.kind, column.count, column.missing, column.unique) == ("numeric", 3, 2, 3)
    assert column.stats["mean"] == 3.0
    assert column.stats["q50"] == 3.0
    assert sum(column.histogram["counts"]) == 3
    assert column.missing_share == pytest.approx(0.4)


def test_kinds_are_inferred():
    table = pa.table(
        {
            "n": [1, 2, 3, 4],
            "c": ["a", "b", "a", "a"],
            "t": [f"a long sentence of free text number {i}" for i in range(4)],
            "b": [True, False, True, None],
            "d": pa.array(
                np.array(["2024-01-01", "2024-02-01", "2024-03-01", None], dtype="datetime64[s]")
            ),
        }
    )
    profile = profile_table(table)
    kinds = {c.name: c.kind for c in profile.columns}
    assert kinds == {
        "n": "numeric",
        "c": "categorical",
        "t": "text",
        "b": "boolean",
        "d": "datetime",
    }
    assert profile.column("c").top == [["a", 3], ["b", 1]]
    assert profile.column("d").stats["min"].startswith("2024-01-01")


def test_text_profiles_alike_plain_encoded_or_as_a_dictionary_per_chunk():
    chunks = [["b", None, "a", "b"], [], ["c", "b", None]]
    plain = pa.chunked_array(chunks, type=pa.string())
    encoded = profiling.dictionary_encoded(plain)
    # Read back from Parquet, each chunk may bring a dictionary of its own.
    own = pa.chunked_array([pa.array(c, type=pa.string()).dictionary_encode() for c in chunks])
    expected = profile_column("s", plain)
    assert expected.top == [["b", 3], ["a", 1], ["c", 1]]
    assert expected.missing == 2
    assert profile_column("s", plain, encoded) == expected
    from_dictionary = profile_column("s", own)
    assert from_dictionary.type.startswith("dictionary")
    assert dataclasses.replace(from_dictionary, type="string") == expected
    assert profiling.dictionary_encoded(pa.chunked_array([[1, 2]])) is None


def test_correlation_covers_numeric_columns_only():
    rng = np.random.default_rng(0)
    x = rng.normal(size=500)
    table = pa.table({"x": x, "y": 2 * x + 0.01 * rng.normal(size=500), "c": ["k"] * 500})
    profile = profile_table(table)
    assert profile.correlation["columns"] == ["x", "y"]
    assert profile.correlation["matrix"][0][1] > 0.99


def test_a_profile_survives_json_and_empty_columns_are_fine():
    table = pa.table({"e": pa.array([None, None], type=pa.float64()), "s": ["x", None]})
    profile = profile_table(table)
    again = TableProfile.from_json(profile.to_json())
    assert again == profile
    assert again.column("e").count == 0


def test_statistics_from_distinct_values_match_numpy_exactly():
    rng = np.random.default_rng(3)
    values = rng.integers(0, 50, 10_001).astype(float) / 4
    values[::97] = np.nan
    column = profile_column("v", pa.chunked_array([values[:5000], values[5000:]]))
    finite = values[~np.isnan(values)]
    assert column.count == finite.size
    assert column.stats["mean"] == pytest.approx(finite.mean())
    assert column.stats["std"] == pytest.approx(finite.std(ddof=1))
    expected = np.quantile(finite, [0.25, 0.5, 0.75])
    assert [column.stats[q] for q in ("q25", "q50", "q75")] == pytest.approx(expected)
    assert sum(column.histogram["counts"]) == finite.size


def test_whole_numbers_are_counted_exactly_and_missing_ones_apart():
    big = 2**62
    column = profile_column("i", pa.chunked_array([[big + 1, None, big + 1], [big, 7]]))
    assert (column.count, column.missing, column.unique) == (4, 1, 3)
    assert column.top == [[big + 1, 2], [big, 1], [7, 1]]  # ties in the order of their text
    empty = profile_column("e", pa.chunked_array([], type=pa.int64()))
    assert (empty.count, empty.unique) == (0, 0)


def _counted_three_ways(monkeypatch, array):
    """The profile by grid, by hashing and by sorting (each forced in turn)."""
    monkeypatch.setattr(profiling, "HASH_MAX_DISTINCT", math.inf)
    gridded = profiling.profile_column("x", array)
    monkeypatch.setattr(profiling, "GRID_MAX_DECIMALS", -1)
    monkeypatch.setattr(profiling, "GRID_BINS_PER_ROW", 0)
    monkeypatch.setattr(profiling, "GRID_MIN_BINS", 0)
    hashed = profiling.profile_column("x", array)
    monkeypatch.setattr(profiling, "HASH_MAX_DISTINCT", -1)
    sorted_ = profiling.profile_column("x", array)
    return gridded, hashed, sorted_


@pytest.mark.parametrize("arrow_type", [pa.float64(), pa.int64()])
@pytest.mark.parametrize("decimals", [0, 2])
@pytest.mark.parametrize("grid_slice", [1 << 16, 999], ids=["slice-per-chunk", "many-slices"])
def test_grid_hashing_and_sorting_count_numbers_alike(
    monkeypatch, arrow_type, decimals, grid_slice
):
    # Enough rows for the sample to decide; nulls, NaN and repeats on every path, and the
    # grid's slices either whole chunks or many uneven ones.
    monkeypatch.setattr(profiling, "GRID_SLICE", grid_slice)
    rng = np.random.default_rng(3)
    values = rng.integers(-50, 50, 40_000).astype(float)
    values[::97] = np.nan
    mask = rng.random(40_000) < 0.05
    if arrow_type == pa.int64():
        values = np.nan_to_num(values).astype(np.int64)
    else:
        values = values / 10**decimals
    array = pa.chunked_array(
        [
            pa.array(values[:25_000], mask=mask[:25_000], type=arrow_type),
            pa.array(values[25_000:], mask=mask[25_000:], type=arrow_type),
        ]
    )
    assert profiling._grid_counts(array) is not None
    gridded, hashed, sorted_ = _counted_three_ways(monkeypatch, array)
    assert gridded == hashed == sorted_
    assert hashed.unique == len(np.unique(values[~mask & ~np.isnan(values.astype(float))]))


SIGNED_ZEROS = [-0.0, 0.0, 1.25, -1.25] * 100


@pytest.mark.parametrize(
    "values",
    [
        # The sample is on a grid of hundredths; one value past it is not.
        [round(i * 0.01, 2) for i in range(20_000)] + [0.123456789],
        [1.5, float("inf"), 2.5, float("-inf")] * 5_000,
        [2.0**60 + 2048 * i for i in range(1000)],  # integral floats past 2**53
        [0.0, 1e9] * 1000,  # far too wide a grid for the rows
        SIGNED_ZEROS,  # on a grid, and one number twice: a hash tells them apart
    ],
    ids=["off-grid", "infinities", "huge", "wide", "signed-zero"],
)
def test_numbers_off_any_narrow_grid_are_counted_the_other_ways(monkeypatch, values):
    # Small slices put the one number off the grid (or the infinities) past the first.
    monkeypatch.setattr(profiling, "GRID_SLICE", 1000)
    array = pa.chunked_array([pa.array(values, type=pa.float64())])
    assert (profiling._grid_counts(array) is not None) == (values is SIGNED_ZEROS)
    gridded, hashed, sorted_ = _counted_three_ways(monkeypatch, array)
    assert gridded == hashed == sorted_
    assert gridded.unique == len(set(values))


@pytest.mark.parametrize(
    "array",
    [
        pa.array([-128, 127, 0, -128, None], type=pa.int8()),
        pa.array([0, 2**64 - 1, 5], type=pa.uint64()),
        pa.array([2**62, -(2**62), 3], type=pa.int64()),
        pa.array([7, 250, 7], type=pa.uint8()),
    ],
    ids=["int8-extremes", "uint64-top", "int64-wide", "uint8"],
)
def test_integers_of_every_width_are_counted_exactly(monkeypatch, array):
    gridded, hashed, sorted_ = _counted_three_ways(monkeypatch, pa.chunked_array([array]))
    assert gridded == hashed == sorted_
    assert gridded.unique == len({v for v in array.to_pylist() if v is not None})


@pytest.mark.parametrize(
    "array",
    [
        pa.array([0, 1500, None], pa.timestamp("ms")),
        pa.array([0, 1_500_000, None], pa.timestamp("us", tz="Europe/Paris")),
    ],
)
def test_timestamps_with_fractions_of_a_second_profile_with_a_histogram(array):
    profile = profile_column("t", pa.chunked_array([array]))
    assert profile.kind == "datetime"
    assert profile.count == 2
    assert profile.unique == 2
    assert ":01.500000" in profile.stats["max"]
    assert sum(profile.histogram["counts"]) == 2
    assert profile.histogram["edges"][-1] - profile.histogram["edges"][0] == pytest.approx(1.5)


def test_durations_and_dates_past_python_s_range_profile_without_failing():
    durations = profile_column("d", pa.chunked_array([pa.array([1, 2, None], pa.duration("s"))]))
    assert durations.stats == {"min": "0:00:01", "max": "0:00:02"}
    far = profile_column("t", pa.chunked_array([pa.array([0, 2**62], pa.timestamp("ms"))]))
    assert far.stats["min"] == "1970-01-01 00:00:00"
    assert far.stats["max"]


def test_categories_without_rows_are_not_values_of_the_column():
    categories = pa.DictionaryArray.from_arrays(pa.array([0, 0, None]), pa.array(["a", "b", "c"]))
    profile = profile_column("c", pa.chunked_array([categories]))
    assert profile.unique == 1
    assert profile.top == [["a", 2]]
    assert profile.missing == 1


def test_infinities_are_counted_apart_from_the_mean_and_spread():
    values = [1.0, 2.0, 3.0, math.inf, -math.inf, math.inf, None]
    profile = profile_column("x", pa.chunked_array([pa.array(values)]))
    assert profile.stats["infinite"] == [1, 2]
    assert profile.stats["mean"] == 2.0
    assert profile.stats["std"] == 1.0
    assert (profile.stats["min"], profile.stats["max"]) == (1.0, 3.0)
    assert profile.count == 6
