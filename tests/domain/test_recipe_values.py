"""Recipe steps on values of every kind, as ``load_frame`` gives them: booleans with gaps are
objects, integers with gaps are floats, long ids pass 2**53, dates carry time zones."""

import json
import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from mlops_desktop.domain.errors import UserError
from mlops_desktop.domain.recipe import (
    ChangeType,
    CleanText,
    ClipOutliers,
    FillMissing,
    FilterRows,
    ParseDates,
    RenameColumns,
    ReplaceValues,
    apply_step,
    recipe_from_json,
    recipe_to_json,
)

BIG = 2**53  # the first integer after it has no float of its own


def loaded(**columns) -> pd.DataFrame:
    """A frame as a stored version reads back: through Arrow."""
    return pa.table(columns).to_pandas()


def applied(frame, step):
    return apply_step(frame, step)[0]


def test_booleans_with_gaps_are_filtered_and_replaced_as_booleans():
    frame = loaded(flag=[True, None, False, True])
    assert frame["flag"].dtype == object
    assert len(applied(frame, FilterRows("flag", "==", True))) == 2
    assert len(applied(frame, FilterRows("flag", "==", "no"))) == 1
    replaced = applied(frame, ReplaceValues(["flag"], [[True, False]]))
    assert replaced["flag"].tolist() == [False, None, False, False]
    with pytest.raises(UserError, match=r"neither true nor false.*'flag'"):
        apply_step(frame, FilterRows("flag", "==", "perhaps"))


def test_integer_ids_past_2_53_are_compared_and_replaced_exactly():
    frame = loaded(id=[BIG, BIG + 1, 5])
    assert applied(frame, FilterRows("id", "==", BIG + 1))["id"].tolist() == [BIG + 1]
    assert applied(frame, FilterRows("id", ">", str(BIG)))["id"].tolist() == [BIG + 1]
    replaced = applied(frame, ReplaceValues(["id"], [[BIG + 1, 0]]))
    assert replaced["id"].tolist() == [BIG, 0, 5]
    assert replaced["id"].dtype == "int64"


def test_change_to_integer_is_exact_for_integers_and_integer_text():
    assert applied(loaded(id=[BIG + 1]), ChangeType("id", "integer"))["id"].tolist() == [BIG + 1]
    text = loaded(id=[str(BIG + 1), " 7 ", None, "x"])
    result, report = apply_step(text, ChangeType("id", "integer"))
    assert result["id"].tolist()[:2] == [BIG + 1, 7]
    assert result["id"].isna().tolist() == [False, False, True, True]
    assert "1 value in 'id' could not be read as integer" in report.notes[0]
    limit = loaded(id=[2**63 - 1])
    assert applied(limit, ChangeType("id", "integer"))["id"].tolist() == [2**63 - 1]


@pytest.mark.parametrize("value", [100000.4, 1.000001, math.inf, -math.inf, 1e30])
def test_change_to_integer_makes_non_whole_numbers_missing_and_says_so(value):
    result, report = apply_step(loaded(x=[value, 2.0]), ChangeType("x", "integer"))
    assert result["x"].isna().tolist() == [True, False]
    assert result["x"].iloc[1] == 2
    assert "could not be read as integer" in report.notes[0]


def test_change_to_text_writes_whole_floats_as_integers_only_where_exact():
    assert applied(loaded(x=[3.0, None]), ChangeType("x", "text"))["x"].tolist()[0] == "3"
    assert applied(loaded(x=[1e20]), ChangeType("x", "text"))["x"].tolist() == ["1e+20"]


def test_booleans_and_numbers_convert_both_ways():
    numbers = applied(loaded(b=[True, False, None]), ChangeType("b", "number"))["b"]
    assert numbers.tolist()[:2] == [1.0, 0.0]
    assert math.isnan(numbers.iloc[2])
    flags = applied(loaded(n=[1, 0, None, 2]), ChangeType("n", "boolean"))["n"]
    assert flags.tolist() == [True, False, pd.NA, pd.NA]


def test_every_replacement_pair_looks_at_the_values_as_they_were():
    labels = applied(loaded(x=[1.0, 2.0, 3.0]), ReplaceValues(["x"], [[1, "one"], [2, "two"]]))
    assert labels["x"].tolist() == ["one", "two", 3.0]
    # Not chained: 1 becomes 2, and the old 2s (only those) become 3.
    shifted = applied(loaded(x=[1, 2]), ReplaceValues(["x"], [[1, 2], [2, 3]]))
    assert shifted["x"].tolist() == [2, 3]
    codes = pd.DataFrame({"c": pd.Categorical([1, 2, 1])})
    assert applied(codes, ReplaceValues(["c"], [[1, "low"]]))["c"].tolist() == ["low", 2, "low"]


def test_dates_with_a_time_zone_are_compared_in_it():
    moments = pa.array([0, 86_400_000 * 400], pa.timestamp("ms", tz="Europe/Oslo"))
    frame = loaded(d=moments)
    assert len(applied(frame, FilterRows("d", ">", "1970-06-01"))) == 1
    assert len(applied(frame, FilterRows("d", "between", ["1960-01-01", "2000-01-01"]))) == 2
    assert len(applied(frame, FilterRows("d", "in", ["1970-01-01 01:00"]))) == 1
    replaced = applied(frame, ReplaceValues(["d"], [["1970-01-01T00:00Z", "1999-12-31"]]))
    assert str(replaced["d"].iloc[0]) == "1999-12-31 00:00:00+01:00"


def test_ordering_text_by_a_number_is_refused_with_the_column_named():
    frame = loaded(price=["10", "5", "7"], name=["b", "a", "c"])
    with pytest.raises(UserError, match=r"'price' holds text.*alphabetically.*number first"):
        apply_step(frame, FilterRows("price", ">", 5))
    with pytest.raises(UserError, match="'price' holds text"):
        apply_step(frame, FilterRows("price", "between", ["1", "6"]))
    assert applied(frame, FilterRows("name", ">=", "b"))["name"].tolist() == ["b", "c"]
    assert applied(frame, FilterRows("price", "==", 5))["price"].tolist() == ["5"]


def test_between_on_values_that_have_no_order_is_a_sentence():
    frame = pd.DataFrame({"c": pd.Categorical(["a", "b"])})
    with pytest.raises(UserError, match=r"cannot be compared.*Change the column's type first"):
        apply_step(frame, FilterRows("c", "between", ["a", "b"]))


@pytest.mark.parametrize("step", [ParseDates("d"), ChangeType("d", "datetime")])
def test_dates_in_summer_and_winter_time_are_read_into_utc(step):
    frame = loaded(d=["2024-01-01T00:00+01:00", "2024-06-01T00:00+02:00", None])
    result, report = apply_step(frame, step)
    assert [str(v) for v in result["d"][:2]] == [
        "2023-12-31 23:00:00+00:00",
        "2024-05-31 22:00:00+00:00",
    ]
    assert "different offsets from UTC" in report.notes[0]


def test_a_bad_date_format_is_a_sentence():
    with pytest.raises(UserError, match="date format '%Y-%m-%d %Q' is not valid"):
        apply_step(loaded(d=["2024-01-01"]), ParseDates("d", format="%Y-%m-%d %Q"))


def test_clipping_takes_its_bounds_from_the_finite_values():
    frame = loaded(x=[1.0, 2.0, 3.0, 1000.0, math.inf, -math.inf])
    result, report = apply_step(frame, ClipOutliers(["x"], "quantile", 0.0, 0.75))
    high = pd.Series([1.0, 2.0, 3.0, 1000.0]).quantile(0.75)
    assert result["x"].tolist() == [1.0, 2.0, 3.0, high, high, 1.0]
    assert "clipped to" in report.notes[0]
    _, report = apply_step(loaded(x=[math.inf, None]), ClipOutliers(["x"]))
    assert report.notes == ["'x' has no finite values, so nothing was clipped."]
    with pytest.raises(UserError, match="IQR factor must be zero or more"):
        apply_step(frame, ClipOutliers(["x"], factor=-1))


def test_filling_with_a_constant_takes_it_as_the_column_s_kind():
    flags = applied(loaded(b=[True, None]), FillMissing(["b"], "constant", "false"))
    assert flags["b"].tolist() == [True, False]
    with pytest.raises(UserError, match="neither true nor false"):
        apply_step(loaded(b=[True, None]), FillMissing(["b"], "constant", "maybe"))
    days = loaded(d=pa.array([0, None], pa.timestamp("ms")))
    filled = applied(days, FillMissing(["d"], "constant", "2024-01-31"))
    assert str(filled["d"].iloc[1]) == "2024-01-31 00:00:00"
    with pytest.raises(UserError, match="'oops' is not a date, and 'd' holds dates"):
        apply_step(days, FillMissing(["d"], "constant", "oops"))
    with pytest.raises(UserError, match="'x' holds numbers"):
        apply_step(loaded(x=[1.0, None]), FillMissing(["x"], "constant", "none"))


def test_whole_numbers_are_filled_with_whole_numbers_or_become_numbers_for_a_mean():
    counts = applied(loaded(n=[1.0, None, 2.0]), ChangeType("n", "integer"))
    with pytest.raises(UserError, match=r"'n' holds whole numbers.*1\.5"):
        apply_step(counts, FillMissing(["n"], "constant", 1.5))
    assert applied(counts, FillMissing(["n"], "constant", 7))["n"].tolist() == [1, 7, 2]
    mean = applied(counts, FillMissing(["n"], "mean"))
    assert mean["n"].tolist() == [1.0, 1.5, 2.0]


def test_trimming_refuses_true_false_values():
    with pytest.raises(UserError, match="'b' does not hold text"):
        apply_step(loaded(b=[True, None]), CleanText(["b"]))


@pytest.mark.parametrize(
    ("step", "message"),
    [
        ({"step": "replace_values", "columns": ["x"], "replacements": [[1]]}, "pairs"),
        ({"step": "clip_outliers", "columns": ["x"], "lower": "0.1"}, "'lower'.*a number"),
        ({"step": "rename_columns", "mapping": [["a", "b"]]}, "old names to new names"),
        ({"step": "change_type", "column": ["x"], "to": "text"}, "'column'.*text"),
        ({"step": "drop_columns", "columns": "abc"}, "a list of column names"),
        ({"step": "filter_rows", "column": "x", "operator": "==", "keep": "no"}, "true or false"),
    ],
)
def test_options_of_the_wrong_kind_are_refused_when_read(step, message):
    with pytest.raises(UserError, match=message):
        recipe_from_json([step])


def test_values_typed_in_code_are_written_as_plain_json():
    steps = [
        FilterRows("x", ">", np.float64(2.5)),
        FilterRows("d", ">", pd.Timestamp("2024-01-31")),
        FillMissing(["x"], "constant", math.nan),
    ]
    document = json.loads(json.dumps(recipe_to_json(steps), allow_nan=False))
    assert [s.get("value") for s in document["steps"]] == [2.5, "2024-01-31T00:00:00", None]


def test_a_change_of_type_that_changes_no_value_says_what_it_did():
    _, report = apply_step(loaded(q=[1.0, 2.0, None]), ChangeType("q", "integer"))
    assert report.cells_changed == 0
    assert report.notes == ["'q' now holds integer values; none of them changed."]


def test_renaming_changes_no_cell_even_when_names_swap():
    frame = loaded(a=[1, 2], b=[3, 4])
    swapped, report = apply_step(frame, RenameColumns({"a": "b", "b": "a"}))
    assert swapped["a"].tolist() == [3, 4]
    assert report.cells_changed == 0


def test_integer_text_stays_exact_when_one_value_is_past_int64():
    text = loaded(id=[str(BIG + 1), str(2**64), "-" + str(2**63 + 1), " 7 "])
    result, report = apply_step(text, ChangeType("id", "integer"))
    assert result["id"].tolist()[::3] == [BIG + 1, 7]
    assert result["id"].isna().tolist() == [False, True, True, False]
    assert "2 values in 'id' could not be read as integer" in report.notes[0]


def test_dates_written_otherwise_than_the_first_are_read_one_by_one():
    frame = loaded(d=["2024-01-05", "13.01.2024", "Jan 9 2024", "3", "12:30", "soon", None])
    result, report = apply_step(frame, ParseDates("d"))
    assert result["d"][:3].tolist() == [pd.Timestamp(f"2024-01-{day}") for day in ("05", 13, "09")]
    assert result["d"][3:].isna().all()  # a lone number or time is no date of its own
    assert "In 'd', 2 dates are written otherwise than the first" in report.notes[0]
    assert "3 values in 'd' could not be read" in report.notes[1]
    # A format given is the only way dates are read.
    strict, _ = apply_step(frame, ParseDates("d", format="%Y-%m-%d"))
    assert strict["d"].notna().sum() == 1


def test_dates_and_times_with_offsets_are_read_one_by_one_into_utc():
    frame = loaded(d=["2024-01-01T00:00+01:00", "2024-06-01T00:00+02:00", "Jun 2 2024 10:00 +0200"])
    result, report = apply_step(frame, ParseDates("d"))
    assert str(result["d"][2]) == "2024-06-02 08:00:00+00:00"
    assert "different offsets from UTC" in report.notes[0]
    assert "In 'd', 1 date is written otherwise" in report.notes[1]


def test_dates_written_year_first_are_never_read_day_first():
    frame = loaded(d=["2024-01-05", "2024-01-13", "07/01/2024", None])
    result, _ = apply_step(frame, ParseDates("d", dayfirst=True))
    days = [pd.Timestamp(day) for day in ("2024-01-05", "2024-01-13", "2024-01-07")]
    assert result["d"][:3].tolist() == days
    iso, _ = apply_step(loaded(d=["2024-01-05", "2024-01-13"]), ParseDates("d", dayfirst=True))
    assert iso["d"].tolist() == days[:2]
