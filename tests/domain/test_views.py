import numpy as np
import pyarrow as pa

from mlops_desktop.domain.views import filter_rows, sort_rows


def table():
    return pa.table({"n": [3, None, 1, 2], "s": ["c", "a", None, "b"]})


def test_sort_puts_missing_last_both_ways():
    assert sort_rows(table(), "n", False).tolist() == [2, 3, 0, 1]
    assert sort_rows(table(), "n", True).tolist() == [0, 3, 2, 1]
    assert sort_rows(table(), "s", False).tolist() == [1, 3, 0, 2]


def test_filter_then_sort_reads_through_the_view():
    rows = filter_rows(table(), "n", ">=", 2)
    assert rows.tolist() == [0, 3]
    assert sort_rows(table(), "n", False, rows).tolist() == [3, 0]


def test_text_filters_and_missing():
    assert filter_rows(table(), "s", "is missing", None).tolist() == [2]
    assert filter_rows(table(), "s", "in", ["a", "c"]).tolist() == [0, 1]
    assert isinstance(filter_rows(table(), "s", "contains", "z"), np.ndarray)
