import json

import numpy as np
import pandas as pd
import pytest

from mlops_desktop.domain.errors import UserError
from mlops_desktop.domain.recipe import (
    STEP_TYPES,
    ChangeType,
    CleanText,
    ClipOutliers,
    DropColumns,
    DropDuplicates,
    DropMissing,
    FillMissing,
    FilterRows,
    ParseDates,
    RenameColumns,
    ReplaceValues,
    apply_recipe,
    apply_step,
    recipe_from_json,
    recipe_to_json,
)


@pytest.fixture
def frame():
    return pd.DataFrame(
        {
            "price": [1.0, 2.0, None, 100.0, 2.0],
            "city": [" Oslo", "bergen ", None, "Oslo", "bergen "],
            "qty": ["1", "2", "x", "4", "2"],
            "day": ["2024-01-02", "bad", None, "2024-02-03", "bad"],
        }
    )


def test_every_step_round_trips_through_json():
    steps = [
        DropColumns(["a"]),
        RenameColumns({"a": "b"}),
        ChangeType("a", "number"),
        ParseDates("a", "%d/%m/%Y"),
        FillMissing(["a"], "constant", 0),
        DropMissing(["a"], "all"),
        DropDuplicates(["a"], "last"),
        FilterRows("a", "between", [1, 2], keep=False),
        ReplaceValues(["a"], [["x", "y"], [None, "z"]]),
        CleanText(["a"], True, "lower"),
        ClipOutliers(["a"], "quantile", 0.05, 0.95),
    ]
    assert {type(s).kind for s in steps} == set(STEP_TYPES)
    document = json.loads(json.dumps(recipe_to_json(steps)))
    assert recipe_from_json(document) == steps
    assert recipe_from_json(document["steps"]) == steps


def test_change_type_reports_values_that_fail(frame):
    result, report = apply_step(frame, ChangeType("qty", "integer"))
    assert result["qty"].tolist()[:2] == [1, 2]
    assert pd.isna(result["qty"][2])
    assert report.notes == [
        "1 value in 'qty' could not be read as integer and is now missing, for example 'x'."
    ]


@pytest.mark.parametrize(
    ("to", "values", "expected"),
    [
        ("number", ["1.5", " 2 ", "x"], [1.5, 2.0, None]),
        ("boolean", ["yes", "No", "maybe"], [True, False, None]),
        ("text", [1, 2, None], ["1", "2", None]),
    ],
)
def test_change_type_targets(to, values, expected):
    result, _ = apply_step(pd.DataFrame({"v": values}), ChangeType("v", to))
    got = [None if pd.isna(v) else v for v in result["v"]]
    assert got == expected


def test_parse_dates_with_a_format_and_a_report(frame):
    result, report = apply_step(frame, ParseDates("day"))
    assert result["day"][0] == pd.Timestamp("2024-01-02")
    assert "2 values in 'day' could not be read as a date" in report.notes[0]
    day_first = pd.DataFrame({"d": ["03/02/2024"]})
    parsed, _ = apply_step(day_first, ParseDates("d", "%d/%m/%Y"))
    assert parsed["d"][0] == pd.Timestamp("2024-02-03")
    with pytest.raises(UserError):
        apply_step(day_first, ParseDates("d", "%Q"))


@pytest.mark.parametrize(
    ("strategy", "value", "filled"),
    [
        ("mean", None, 26.25),
        ("median", None, 2.0),
        ("most_frequent", None, 2.0),
        ("constant", 0, 0.0),
    ],
)
def test_fill_missing_strategies(frame, strategy, value, filled):
    result, report = apply_step(frame, FillMissing(["price"], strategy, value))
    assert result["price"][2] == filled
    assert report.cells_changed == 1


def test_fill_missing_refuses_a_mean_of_text(frame):
    with pytest.raises(UserError, match="not numeric"):
        apply_step(frame, FillMissing(["city"], "mean"))


def test_drop_missing_and_duplicates_count_rows(frame):
    _, report = apply_step(frame, DropMissing(["price"]))
    assert report.rows_removed == 1
    result, report = apply_step(frame, DropDuplicates(["city", "qty"]))
    assert report.rows_removed == 1
    assert len(result) == 4


@pytest.mark.parametrize(
    ("operator", "value", "keep", "rows"),
    [
        (">", 1.5, True, 3),
        ("<=", "2", True, 3),
        ("between", [2, 100], True, 3),
        ("is missing", None, True, 1),
        ("is missing", None, False, 4),
        ("in", [1, 100], True, 2),
    ],
)
def test_filter_rows_on_numbers(frame, operator, value, keep, rows):
    result, _ = apply_step(frame, FilterRows("price", operator, value, keep))
    assert len(result) == rows


def test_filter_rows_on_text(frame):
    result, _ = apply_step(frame, FilterRows("city", "contains", "erg"))
    assert len(result) == 2
    result, _ = apply_step(frame, FilterRows("city", "starts with", " O"))
    assert len(result) == 1
    with pytest.raises(UserError, match="not a number"):
        apply_step(frame, FilterRows("price", ">", "cheap"))


def test_replace_and_clean_text(frame):
    result, report = apply_step(frame, CleanText(["city"], trim=True, case="title"))
    assert result["city"].tolist()[:2] == ["Oslo", "Bergen"]
    assert report.cells_changed == 3
    result, _ = apply_step(result, ReplaceValues(["city"], [["Bergen", "BGO"], [None, "?"]]))
    assert result["city"].tolist() == ["Oslo", "BGO", "?", "Oslo", "BGO"]


def test_clip_outliers_by_quantile_and_iqr(frame):
    result, report = apply_step(frame, ClipOutliers(["price"], "iqr", factor=1.5))
    assert result["price"].max() < 100
    assert report.cells_changed >= 1
    result, _ = apply_step(frame, ClipOutliers(["price"], "quantile", 0.0, 0.5))
    assert result["price"].max() == 2.0


def test_rename_refuses_clashes_and_drop_refuses_unknown_columns(frame):
    with pytest.raises(UserError, match="two columns the name 'qty'"):
        apply_step(frame, RenameColumns({"price": "qty"}))
    with pytest.raises(UserError, match="needs column 'nope'"):
        apply_step(frame, DropColumns(["nope"]))


def test_a_recipe_applies_in_order_and_reports_each_step(frame):
    steps = [FillMissing(["price"], "median"), FilterRows("price", "<", 50), DropColumns(["day"])]
    result, reports = apply_recipe(frame, steps)
    assert list(result.columns) == ["price", "city", "qty"]
    assert list(result.index) == [0, 1, 2, 3]
    assert [r.rows_removed for r in reports] == [0, 1, 0]
    assert reports[2].summary() == "1 column removed, 0 cells changed"
    assert frame["price"].isna().sum() == 1  # the input is never modified


@pytest.mark.parametrize(
    "bad",
    [
        {"steps": [{"step": "teleport"}]},
        {"steps": [{"step": "drop_columns", "columns": ["a"], "colour": "red"}]},
        {"steps": [{"step": "fill_missing"}]},
        {"nothing": 1},
        "drop everything",
        [42],
    ],
)
def test_malformed_recipes_are_user_errors(bad):
    with pytest.raises(UserError):
        recipe_from_json(bad)


def test_cells_changed_ignores_missing_staying_missing():
    before = pd.DataFrame({"a": [np.nan, 1.0, 2.0]})
    _, report = apply_step(before, FillMissing(["a"], "constant", 1))
    assert report.cells_changed == 1
