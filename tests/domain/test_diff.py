import pandas as pd
import pyarrow as pa

from mlops_desktop.domain.dataset import type_label
from mlops_desktop.domain.diff import diff
from mlops_desktop.domain.profile import profile_table


def _both(frame):
    return frame, profile_table(pa.Table.from_pandas(frame, preserve_index=False))


def test_rows_and_columns_added_removed_and_retyped():
    a, pa_ = _both(pd.DataFrame({"k": [1, 2, 3, 3], "v": ["x", "y", "z", "z"], "old": [0] * 4}))
    b, pb = _both(pd.DataFrame({"k": [1, 2, 3, 4], "v": ["x", "y", "z", "w"], "new": [1.0] * 4}))
    result = diff("t:1", a, pa_, "t:2", b, pb)
    assert (result.rows_added, result.rows_removed) == (1, 1)  # one duplicate 3/z gone, 4/w new
    assert result.columns_added == ["new"]
    assert result.columns_removed == ["old"]
    assert not result.identical
    assert ("k", "mean", 2.25, 2.5) in result.stats


def test_a_type_change_is_listed_and_equal_looking_rows_still_match():
    a, pa_ = _both(pd.DataFrame({"k": [1, 2]}))
    b, pb = _both(pd.DataFrame({"k": ["1", "2"]}))
    result = diff("t:1", a, pa_, "t:2", b, pb)
    [(column, old, new)] = result.type_changes
    assert (column, old) == ("k", "int64")
    assert "string" in new
    assert (result.rows_added, result.rows_removed) == (0, 0)


def test_identical_versions():
    a, pa_ = _both(pd.DataFrame({"k": [1, 2]}))
    assert diff("t:1", a, pa_, "t:1", a, pa_).identical


def test_type_labels_name_a_dictionary_a_category_and_leave_other_types_alone():
    assert type_label(str(pa.dictionary(pa.int8(), pa.string()))) == "category of string"
    ordered = pa.dictionary(pa.int32(), pa.large_string(), ordered=True)
    assert type_label(str(ordered)) == "ordered category of string"
    assert type_label(str(pa.dictionary(pa.int16(), pa.timestamp("ms")))) == (
        "category of timestamp[ms]"
    )
    for plain in (pa.int64(), pa.string(), pa.timestamp("ms", tz="UTC"), pa.list_(pa.string())):
        assert type_label(str(plain)) == str(plain)


def test_a_change_to_a_category_is_listed_with_its_arrow_type():
    a, pa_ = _both(pd.DataFrame({"k": ["x", "y"]}))
    b, pb = _both(pd.DataFrame({"k": pd.Categorical(["x", "y"])}))
    [(column, old, new)] = diff("t:1", a, pa_, "t:2", b, pb).type_changes
    assert column == "k"
    assert old in ("string", "large_string")  # pandas' own text type, by its version
    assert type_label(new) == "category of string"
    assert new.startswith("dictionary<")  # stored as Arrow names it; only shown as a category


def test_whole_floats_match_the_integers_they_were_before_a_type_change():
    a = _both(pd.DataFrame({"k": [1, 2, 0], "t": ["x", "y", "z"]}))
    b = _both(pd.DataFrame({"k": [1.0, 2.0, -0.0], "t": ["x", "y", "z"]}))
    c = _both(pd.DataFrame({"k": [1.5, 2.0, 0.0], "t": ["x", "y", "z"]}))
    same = diff("a", *a, "b", *b)
    assert (same.rows_added, same.rows_removed) == (0, 0)
    changed = diff("a", *a, "c", *c)
    assert (changed.rows_added, changed.rows_removed) == (1, 1)
