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


@pytest.mark.parametrize("arrow_type", [pa.float64(), pa.int64()])
def test_hashing_and_sorting_count_numbers_alike(monkeypatch, arrow_type):
    # Enough rows for the sample to decide; nulls, NaN and repeats on both paths.
    rng = np.random.default_rng(3)
    values = rng.integers(-50, 50, 40_000).astype(float)
    values[::97] = np.nan
    mask = rng.random(40_000) < 0.05
    if arrow_type == pa.int64():
        values = np.nan_to_num(values).astype(np.int64)
    array = pa.chunked_array(
        [
            pa.array(values[:25_000], mask=mask[:25_000], type=arrow_type),
            pa.array(values[25_000:], mask=mask[25_000:], type=arrow_type),
        ]
    )
    monkeypatch.setattr(profiling, "HASH_MAX_DISTINCT", math.inf)
    hashed = profiling.profile_column("x", array)
    monkeypatch.setattr(profiling, "HASH_MAX_DISTINCT", -1)
    sorted_ = profiling.profile_column("x", array)
    assert hashed == sorted_
    assert hashed.unique == len(np.unique(values[~mask & ~np.isnan(values.astype(float))]))
