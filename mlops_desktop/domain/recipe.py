"""Cleaning recipes: ordered, typed, JSON-serialisable steps applied to a DataFrame.

A recipe is data. Applying it to this month's file or next month's gives the same kind of
result: statistics a step needs (a median to fill with, quantiles to clip at) are computed on
the data it is applied to, like a scikit-learn transformer fitted anew, and each step reports
what it did.
"""

from __future__ import annotations

import abc
import dataclasses
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from mlops_desktop.domain.errors import UserError
from mlops_desktop.domain.tasks import TaskState

RECIPE_FORMAT = "mlops_desktop.recipe"
EXAMPLES = 5  # failing values quoted in a report

TYPES = ("number", "integer", "text", "boolean", "datetime", "category")
FILL_STRATEGIES = ("mean", "median", "most_frequent", "constant")
OPERATORS = (
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "contains",
    "starts with",
    "ends with",
    "in",
    "between",
    "is missing",
    "is not missing",
)
CASES = ("keep", "lower", "upper", "title")
_TRUE = {"true", "t", "yes", "y", "1", "on"}
_FALSE = {"false", "f", "no", "n", "0", "off"}


@dataclass
class StepReport:
    """What one step did to the data."""

    description: str
    rows_before: int
    rows_after: int
    columns_before: int
    columns_after: int
    cells_changed: int
    notes: list[str] = field(default_factory=list)

    @property
    def rows_removed(self) -> int:
        return self.rows_before - self.rows_after

    def summary(self) -> str:
        parts = []
        if self.rows_removed:
            parts.append(f"{self.rows_removed:,} rows removed")
        if self.columns_after != self.columns_before:
            delta = self.columns_after - self.columns_before
            parts.append(
                f"{abs(delta)} column{'s' if abs(delta) != 1 else ''} "
                f"{'added' if delta > 0 else 'removed'}"
            )
        parts.append(f"{self.cells_changed:,} cells changed")
        return ", ".join(parts)

    def to_json(self) -> dict:
        return {**dataclasses.asdict(self), "rows_removed": self.rows_removed}


def _missing_columns(frame: pd.DataFrame, columns: list[str]) -> list[str]:
    return [c for c in columns if c not in frame.columns]


def _require(frame: pd.DataFrame, columns: list[str], step: Step) -> None:
    missing = _missing_columns(frame, columns)
    if missing:
        names = ", ".join(repr(c) for c in missing)
        raise UserError(
            f"Step “{step.describe()}” needs column{'s' if len(missing) > 1 else ''} {names}, "
            "which the data does not have: edit or remove the step."
        )


def _is_numeric(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def _is_boolean(series: pd.Series) -> bool:
    """True/false values, also as pandas holds them when some are missing: objects."""
    if pd.api.types.is_bool_dtype(series):
        return True
    return series.dtype == object and pd.api.types.infer_dtype(series, skipna=True) == "boolean"


def _is_text(series: pd.Series) -> bool:
    return not (
        _is_numeric(series)
        or _is_boolean(series)
        or pd.api.types.is_datetime64_any_dtype(series)
        or isinstance(series.dtype, pd.CategoricalDtype)
    )


#: Integers past 2**53 have no exact float: past this, whole floats are not written out as
#: integers, and integer columns are compared as integers.
EXACT_FLOAT_INTEGERS = 2**53
_INTEGER_TEXT = re.compile(r"\s*[+-]?\d+\s*")
_INT64 = np.iinfo("int64")


def _examples(values: pd.Series) -> str:
    shown = [repr(v) for v in values.drop_duplicates().head(EXAMPLES)]
    return ", ".join(shown)


class Step(abc.ABC):
    """Base of every step: ``kind`` names it in JSON, ``label`` in menus."""

    kind: ClassVar[str]
    label: ClassVar[str]

    @abc.abstractmethod
    def describe(self) -> str:
        """One line for people: what the step does."""

    @abc.abstractmethod
    def apply(self, frame: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
        """The transformed copy of ``frame`` and notes on what happened."""

    def to_json(self) -> dict:
        options = {k: _json_option(v) for k, v in dataclasses.asdict(self).items()}
        return {"step": self.kind, **options}


def _json_option(value: Any) -> Any:
    """A step's option as JSON holds it: numpy numbers and dates typed in code become plain
    numbers and text."""
    if isinstance(value, list):
        return [_json_option(v) for v in value]
    if isinstance(value, dict):
        return {k: _json_option(v) for k, v in value.items()}
    return _json_scalar(value)


@dataclass
class DropColumns(Step):
    columns: list[str]
    kind: ClassVar[str] = "drop_columns"
    label: ClassVar[str] = "Drop columns"

    def describe(self) -> str:
        return f"Drop {', '.join(self.columns)}"

    def apply(self, frame):
        _require(frame, self.columns, self)
        return frame.drop(columns=self.columns), []


@dataclass
class RenameColumns(Step):
    mapping: dict[str, str]
    kind: ClassVar[str] = "rename_columns"
    label: ClassVar[str] = "Rename columns"

    def describe(self) -> str:
        return "Rename " + ", ".join(f"{a} → {b}" for a, b in self.mapping.items())

    def apply(self, frame):
        _require(frame, list(self.mapping), self)
        if any(not str(new).strip() for new in self.mapping.values()):
            raise UserError("A column cannot be renamed to an empty name: type a name.")
        renamed = [self.mapping.get(c, c) for c in frame.columns]
        duplicates = sorted({c for c in renamed if renamed.count(c) > 1})
        if duplicates:
            raise UserError(
                f"Renaming would give two columns the name {duplicates[0]!r}: choose another."
            )
        return frame.rename(columns=self.mapping), []


def _to_boolean(series: pd.Series) -> pd.Series:
    if _is_boolean(series):
        return series.astype("boolean")
    result = pd.Series(pd.NA, index=series.index, dtype="boolean")
    if _is_numeric(series):  # 1 and 0, as the words "1" and "0" read; other numbers: missing
        result[(series == 1).fillna(False).astype(bool)] = True
        result[(series == 0).fillna(False).astype(bool)] = False
        return result
    text = series.astype("str").str.strip().str.lower()
    result[text.isin(_TRUE)] = True
    result[text.isin(_FALSE)] = False
    return result


def _to_integer(series: pd.Series) -> pd.Series:
    """Whole numbers, exactly: integers stay as they are, text written as an integer is read
    as one (not through a float, which rounds past 2**53), and anything else that is not a
    whole number inside int64's range (fractions, infinities) becomes missing."""
    if pd.api.types.is_integer_dtype(series):
        if series.dtype.kind == "u":  # uint64 past int64's range has no Int64 value
            # Nullable first: numpy's where would make floats, rounding the rest.
            series = series.astype("UInt64")
            series = series.where(series <= _INT64.max)
        return series.astype("Int64")
    if _is_boolean(series):
        return series.astype("boolean").astype("Int64")
    result = pd.Series(pd.NA, index=series.index, dtype="Int64")
    rest = series
    if not _is_numeric(series):
        text = series.astype("str")
        written = text.str.fullmatch(_INTEGER_TEXT.pattern).fillna(False).astype(bool)
        written &= series.notna()
        if written.any():
            result[written] = _integer_text(text[written])
            rest = series[~written]
    numbers = convert(rest, "number")
    with np.errstate(invalid="ignore"):
        whole = (numbers == np.floor(numbers)) & (numbers.abs() < 2.0**63)
    result[whole[whole].index] = numbers[whole].astype("Int64")
    return result


def _integer_text(text: pd.Series) -> pd.Series:
    """Text written as integers, read exactly; those past int64's range become missing."""
    integers = pd.to_numeric(text.str.strip(), errors="coerce")
    if pd.api.types.is_signed_integer_dtype(integers):
        return integers.astype("Int64")
    # One value past int64 makes pandas read them all as uint64 or as floats, which round
    # the others past 2**53: Python's integers are exact at any size.
    exact = text.map(int)
    fits = exact.map(lambda n: _INT64.min <= n <= _INT64.max).astype(bool)
    return exact.where(fits).astype("Int64")


#: Dates written year first (2024-01-05), which are never read day first.
_YEAR_FIRST = r"\s*\d{4}[-/.]\d{1,2}[-/.]\d{1,2}"
#: A value can be a date written its own way only if it holds a year or a day, month and year:
#: read on its own, "3" or "12:30" would be a day of this month.
_DATE_LIKE = r"\d{4}|\d{1,2}\D+\d{1,2}\D+\d{2}"
#: Past this many distinct values that the guessed format misses, a column is text that is
#: mostly not dates, not dates written several ways: they stay missing.
ONE_BY_ONE_MAX = 10_000


def _dates_in_utc_if_need_be(text: pd.Series, **options) -> tuple[pd.Series, bool]:
    """``pd.to_datetime`` (missing where it fails), in UTC when the offsets from UTC differ,
    as in summer and winter time, which pandas refuses to guess on its own; and whether so.
    Raises pandas' ValueError for anything else (a bad format)."""
    try:
        return pd.to_datetime(text, errors="coerce", **options), False
    except ValueError as exc:
        if "utc=True" not in str(exc):
            raise
    return pd.to_datetime(text, errors="coerce", utc=True, **options), True


def dates_from_text(text: pd.Series, dayfirst: bool) -> tuple[pd.Series, bool, int]:
    """Text as dates, with no format given: the dates, whether they were put into UTC (their
    offsets from UTC differed) and how many were read one by one.

    pandas guesses a format from the first date and misses the dates written otherwise
    (2024-01-05 and 05.01.2024): those are then read one by one. Dates written year first
    are read year, month, day whatever ``dayfirst`` says: pandas and dateutil would read
    2024-01-05 as the 1st of May, and miss 2024-01-13."""
    if not dayfirst:
        return _guessed_dates(text, False)
    year_first = text.str.match(_YEAR_FIRST).fillna(False).astype(bool)
    if not year_first.any():
        return _guessed_dates(text, True)
    if year_first[text.notna()].all():
        return _guessed_dates(text, False)
    first, first_utc, first_alone = _guessed_dates(text.where(year_first), False)
    rest, rest_utc, rest_alone = _guessed_dates(text.where(~year_first), True)
    aware = isinstance(first.dtype, pd.DatetimeTZDtype), isinstance(rest.dtype, pd.DatetimeTZDtype)
    utc = first_utc or rest_utc or aware[0] != aware[1]
    if utc:
        first, rest = (
            dates.dt.tz_convert("UTC") if tz else dates.dt.tz_localize("UTC")
            for dates, tz in zip((first, rest), aware, strict=True)
        )
    return first.where(year_first, rest), utc, first_alone + rest_alone


def _guessed_dates(text: pd.Series, dayfirst: bool) -> tuple[pd.Series, bool, int]:
    """``dates_from_text`` for text written one way (year first, or not)."""
    dates, utc = _dates_in_utc_if_need_be(text, dayfirst=dayfirst)
    missed = text.notna() & dates.isna()
    # Only the few values missed are looked at, not the whole column.
    missed[missed] = text[missed].str.contains(_DATE_LIKE).fillna(False).astype(bool)
    distinct = pd.unique(text[missed])
    if not 0 < len(distinct) <= ONE_BY_ONE_MAX:
        return dates, utc, 0
    try:
        found = pd.to_datetime(
            pd.Series(distinct), format="mixed", errors="coerce", dayfirst=dayfirst, utc=utc
        )
    except ValueError:  # offsets from UTC among the dates the guess missed, none among it
        return dates, utc, 0
    if isinstance(found.dtype, pd.DatetimeTZDtype) != isinstance(dates.dtype, pd.DatetimeTZDtype):
        return dates, utc, 0
    values = text[missed].map(dict(zip(distinct, found, strict=True)))
    return dates.mask(missed, values), utc, int(values.notna().sum())


def _to_datetime(series, date_format: str | None, dayfirst: bool) -> tuple[pd.Series, list[str]]:
    """Dates (and times) read from text. Text whose offsets from UTC differ (summer and
    winter time) is converted to UTC, which pandas refuses to guess on its own."""
    if pd.api.types.is_datetime64_any_dtype(series):
        return series, []
    text = series.astype("str").where(series.notna())
    if date_format:
        alone = 0
        try:
            dates, utc = _dates_in_utc_if_need_be(text, format=date_format, dayfirst=dayfirst)
        except ValueError as exc:
            raise UserError(
                f"The date format {date_format!r} is not valid ({exc}): see Python's "
                "strftime codes, for example %d/%m/%Y."
            ) from None
    else:
        dates, utc, alone = dates_from_text(text, dayfirst)
    notes = []
    if utc:
        notes.append(
            f"{series.name!r} has dates with different offsets from UTC: they are now in UTC."
        )
    if alone:
        counted = f"{alone:,} dates are" if alone > 1 else "1 date is"
        each = "were each" if alone > 1 else "was"
        notes.append(
            f"In {series.name!r}, {counted} written otherwise than the first and {each} read "
            "on its own: give a format to read the column one way only."
        )
    return dates, notes


def convert(series: pd.Series, to: str, date_format: str | None = None, dayfirst=False):
    """``series`` as type ``to``; values that do not convert become missing."""
    return converted(series, to, date_format, dayfirst)[0]


def converted(
    series: pd.Series, to: str, date_format: str | None = None, dayfirst=False
) -> tuple[pd.Series, list[str]]:
    """``series`` as type ``to`` and notes on how; values that do not convert become missing."""
    if to == "number":
        if _is_numeric(series):
            return series.astype("float64"), []
        if _is_boolean(series):
            return series.astype("boolean").astype("float64"), []
        text = series.astype("str").str.strip()
        return pd.to_numeric(text, errors="coerce").astype("float64"), []
    if to == "integer":
        return _to_integer(series), []
    if to == "text":
        if pd.api.types.is_float_dtype(series):
            present = series.dropna()
            if (present % 1 == 0).all() and (present.abs() < EXACT_FLOAT_INTEGERS).all():
                series = series.astype("Int64")  # 3.0 reads as "3", as people wrote it
        return series.astype("str"), []
    if to == "boolean":
        return _to_boolean(series), []
    if to == "datetime":
        return _to_datetime(series, date_format, dayfirst)
    if to == "category":
        return series.astype("category"), []
    raise UserError(f"Unknown type {to!r}: choose one of {', '.join(TYPES)}.")


def _conversion_notes(column: str, before: pd.Series, after: pd.Series, to: str) -> list[str]:
    failed = before[before.notna() & after.isna()]
    if failed.empty:
        return []
    one = len(failed) == 1
    return [
        f"{len(failed):,} value{'' if one else 's'} in {column!r} could not be read as {to} "
        f"and {'is' if one else 'are'} now missing, for example {_examples(failed)}."
    ]


def _same_values(before: pd.Series, after: pd.Series) -> bool:
    try:
        equal = (before.astype("object") == after.astype("object")).fillna(False)
    except (TypeError, ValueError):
        return False
    return bool((equal | (before.isna() & after.isna())).all())


@dataclass
class ChangeType(Step):
    column: str
    to: str
    kind: ClassVar[str] = "change_type"
    label: ClassVar[str] = "Change type"

    def describe(self) -> str:
        return f"Change {self.column} to {self.to}"

    def apply(self, frame):
        _require(frame, [self.column], self)
        before = frame[self.column]
        after, notes = converted(before, self.to)
        frame = frame.assign(**{self.column: after})
        if after.dtype != before.dtype and _same_values(before, after):
            # 1.0 made 1 changes no cell, so the report would say nothing happened.
            notes = [*notes, f"{self.column!r} now holds {self.to} values; none of them changed."]
        return frame, notes + _conversion_notes(self.column, before, after, self.to)


@dataclass
class ParseDates(Step):
    column: str
    format: str | None = None
    dayfirst: bool = False
    kind: ClassVar[str] = "parse_dates"
    label: ClassVar[str] = "Parse dates"

    def describe(self) -> str:
        how = f" as {self.format}" if self.format else (" day first" if self.dayfirst else "")
        return f"Parse dates in {self.column}{how}"

    def apply(self, frame):
        _require(frame, [self.column], self)
        before = frame[self.column]
        after, notes = converted(before, "datetime", self.format, self.dayfirst)
        return frame.assign(**{self.column: after}), notes + _conversion_notes(
            self.column, before, after, "a date"
        )


def _json_scalar(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value


@dataclass
class FillMissing(Step):
    columns: list[str]
    strategy: str
    value: Any = None
    kind: ClassVar[str] = "fill_missing"
    label: ClassVar[str] = "Fill missing values"

    def describe(self) -> str:
        how = f"with {self.value!r}" if self.strategy == "constant" else f"with the {self.strategy}"
        return f"Fill missing {', '.join(self.columns)} {how.replace('_', ' ')}"

    def apply(self, frame):
        _require(frame, self.columns, self)
        if self.strategy not in FILL_STRATEGIES:
            raise UserError(f"Unknown fill strategy {self.strategy!r}.")
        if self.strategy == "constant" and self.value is None:
            raise UserError("Filling with a constant needs a value: type one.")
        notes, updates = [], {}
        for column in self.columns:
            series = frame[column]
            if self.strategy in ("mean", "median") and not _is_numeric(series):
                raise UserError(
                    f"{column!r} is not numeric, so it has no {self.strategy}: fill it with "
                    "the most frequent value or a constant."
                )
            if self.strategy == "mean":
                fill = series.mean()
            elif self.strategy == "median":
                fill = series.median()
            elif self.strategy == "most_frequent":
                modes = series.mode(dropna=True)
                fill = modes.iloc[0] if len(modes) else None
            else:
                fill = _typed_value(series, self.value)
            if fill is None or (isinstance(fill, float) and math.isnan(fill)):
                notes.append(f"{column!r} has no values to take a {self.strategy} from.")
                continue
            if isinstance(series.dtype, pd.CategoricalDtype) and fill not in series.cat.categories:
                series = series.cat.add_categories([fill])
            if pd.api.types.is_integer_dtype(series) and float(fill) % 1:
                if self.strategy == "constant":
                    raise UserError(
                        f"{column!r} holds whole numbers, so it cannot be filled with "
                        f"{self.value!r}: type a whole number, or change its type to number."
                    )
                series = series.astype("float64")  # a mean of whole numbers need not be one
            updates[column] = series.fillna(fill)
            if self.strategy != "constant":
                notes.append(f"{column!r} filled with {self.strategy} {_json_scalar(fill)!r}.")
        return frame.assign(**updates), notes


@dataclass
class DropMissing(Step):
    columns: list[str] = field(default_factory=list)  # empty: every column
    how: str = "any"
    kind: ClassVar[str] = "drop_missing"
    label: ClassVar[str] = "Drop rows with missing values"

    def describe(self) -> str:
        where = ", ".join(self.columns) if self.columns else "any column"
        if self.how == "all":
            return f"Drop rows missing every value of {where}"
        return f"Drop rows with a value missing in {where}"

    def apply(self, frame):
        _require(frame, self.columns, self)
        if self.how not in ("any", "all"):
            raise UserError(f"'how' must be 'any' or 'all', not {self.how!r}.")
        return frame.dropna(subset=self.columns or None, how=self.how), []


@dataclass
class DropDuplicates(Step):
    columns: list[str] = field(default_factory=list)  # empty: whole rows
    keep: str = "first"
    kind: ClassVar[str] = "drop_duplicates"
    label: ClassVar[str] = "Drop duplicate rows"

    def describe(self) -> str:
        by = f" by {', '.join(self.columns)}" if self.columns else ""
        return f"Drop duplicate rows{by}, keeping the {self.keep}"

    def apply(self, frame):
        _require(frame, self.columns, self)
        if self.keep not in ("first", "last"):
            raise UserError(f"'keep' must be 'first' or 'last', not {self.keep!r}.")
        return frame.drop_duplicates(subset=self.columns or None, keep=self.keep), []


def _typed_value(series: pd.Series, value: Any) -> Any:
    """``value`` (as typed in a step, or read from JSON) as a value of ``series``' kind."""
    if value is None:
        return None
    if isinstance(series.dtype, pd.CategoricalDtype):
        return _typed_value(pd.Series(series.cat.categories, name=series.name), value)
    if _is_boolean(series):
        word = str(value).strip().lower()
        if word in _TRUE or word in _FALSE:
            return word in _TRUE
        raise UserError(
            f"{value!r} is neither true nor false, and {series.name!r} holds true/false "
            "values: type true or false."
        )
    if _is_numeric(series):
        return _typed_number(series, value)
    if pd.api.types.is_datetime64_any_dtype(series):
        return _typed_moment(series, value)
    return str(value)


def _typed_number(series: pd.Series, value: Any) -> int | float:
    # An integer column is compared with integers: through floats, ids past 2**53 collide.
    if pd.api.types.is_integer_dtype(series) and not isinstance(value, bool):
        if isinstance(value, (int, np.integer)):
            return int(value)
        if isinstance(value, str) and _INTEGER_TEXT.fullmatch(value):
            return int(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        raise UserError(
            f"{value!r} is not a number, and {series.name!r} holds numbers: type a number."
        ) from None


def _typed_moment(series: pd.Series, value: Any) -> pd.Timestamp:
    """A date as the column holds them: in its time zone, or without one (taken as UTC)."""
    try:
        moment = pd.Timestamp(value)
    except (TypeError, ValueError):
        moment = None
    if moment is None or moment is pd.NaT:
        raise UserError(
            f"{value!r} is not a date, and {series.name!r} holds dates: type one such as "
            "2024-01-31."
        )
    zone = series.dt.tz
    if zone is not None:
        return moment.tz_localize(zone) if moment.tzinfo is None else moment.tz_convert(zone)
    return moment if moment.tzinfo is None else moment.tz_convert("UTC").tz_localize(None)


def _looks_numeric(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def condition_mask(series: pd.Series, operator: str, value: Any) -> pd.Series:
    """Which rows of ``series`` meet ``operator value`` (missing values never do)."""
    if operator == "is missing":
        return series.isna()
    if operator == "is not missing":
        return series.notna()
    values = value if isinstance(value, list) and operator in ("in", "between") else [value]
    ordering = operator in ("<", "<=", ">", ">=", "between")
    if ordering and _is_text(series) and all(_looks_numeric(v) for v in values):
        raise UserError(
            f"{series.name!r} holds text, so “{operator} {value!r}” would compare it "
            'alphabetically ("10" before "5"): change its type to number first.'
        )
    if operator in ("in", "between"):
        typed = [_typed_value(series, v) for v in values]
        if operator == "in":
            return series.isin(typed)
        if len(typed) != 2:
            raise UserError("'between' needs two values: a lower and an upper bound.")
        try:
            result = (series >= typed[0]) & (series <= typed[1])
        except TypeError:
            raise _not_comparable(series, value, operator) from None
        return result.fillna(False).astype(bool)
    if operator in ("contains", "starts with", "ends with"):
        text = series.astype("str")
        needle = str(value)
        method = {"contains": "contains", "starts with": "startswith", "ends with": "endswith"}
        if operator == "contains":
            result = text.str.contains(needle, regex=False)
        else:
            result = getattr(text.str, method[operator])(needle)
        return result.fillna(False).astype(bool) & series.notna()
    typed = _typed_value(series, value)
    compare: dict[str, Callable] = {
        "==": lambda s: s == typed,
        "!=": lambda s: s != typed,
        "<": lambda s: s < typed,
        "<=": lambda s: s <= typed,
        ">": lambda s: s > typed,
        ">=": lambda s: s >= typed,
    }
    if operator not in compare:
        raise UserError(f"Unknown condition {operator!r}: choose one of {', '.join(OPERATORS)}.")
    try:
        result = compare[operator](series)
    except TypeError:
        raise _not_comparable(series, value, operator) from None
    return result.fillna(False).astype(bool) & series.notna()


def _not_comparable(series: pd.Series, value, operator: str) -> UserError:
    return UserError(
        f"Values of {series.name!r} cannot be compared with {value!r} using {operator}: they "
        "are of different kinds. Change the column's type first, or filter with == or in."
    )


@dataclass
class FilterRows(Step):
    column: str
    operator: str
    value: Any = None
    keep: bool = True
    kind: ClassVar[str] = "filter_rows"
    label: ClassVar[str] = "Filter rows"

    def describe(self) -> str:
        verb = "Keep" if self.keep else "Remove"
        shown = "" if self.operator in ("is missing", "is not missing") else f" {self.value!r}"
        return f"{verb} rows where {self.column} {self.operator}{shown}"

    def apply(self, frame):
        _require(frame, [self.column], self)
        mask = condition_mask(frame[self.column], self.operator, self.value)
        return frame[mask if self.keep else ~mask], []


@dataclass
class ReplaceValues(Step):
    columns: list[str]
    replacements: list[list[Any]]  # [[old, new], ...]: pairs survive JSON whatever the types
    kind: ClassVar[str] = "replace_values"
    label: ClassVar[str] = "Replace values"

    def describe(self) -> str:
        pairs = ", ".join(f"{old!r} → {new!r}" for old, new in self.replacements)
        return f"Replace {pairs} in {', '.join(self.columns)}"

    def apply(self, frame):
        _require(frame, self.columns, self)
        _check_pairs(self.replacements)
        updates = {}
        for column in self.columns:
            original = frame[column]
            series = original
            if isinstance(series.dtype, pd.CategoricalDtype):
                series = series.astype("object")
            # Every pair is matched against the values as they were, so 1 -> "one" does not
            # turn the column into text before 2 -> "two" is looked for; a value matched by
            # an earlier pair is not replaced again.
            for mask, new in replacement_masks(original, self.replacements):
                if not mask.any():
                    continue
                new = replacement_value(series, new)
                if not isinstance(new, (int, float)) and _is_numeric(series) and new is not None:
                    series = series.astype("object")  # text among numbers: mixed now
                elif isinstance(new, float) and pd.api.types.is_integer_dtype(series) and new % 1:
                    series = series.astype("float64")
                series = series.mask(mask, new)
            updates[column] = series
        return frame.assign(**updates), []


def _check_pairs(replacements: Any) -> None:
    if not isinstance(replacements, list) or not all(
        isinstance(pair, list) and len(pair) == 2 for pair in replacements
    ):
        raise UserError("Replacements are pairs of values, [old, new]: give each pair two.")


def replacement_masks(series: pd.Series, replacements: list) -> list[tuple[pd.Series, Any]]:
    """For each [old, new] pair, the rows it replaces (those not taken by an earlier pair)."""
    taken = pd.Series(False, index=series.index)
    masks = []
    for old, new in replacements:
        if old is None:
            mask = series.isna()
        else:
            mask = (series == _typed_value(series, old)).fillna(False).astype(bool)
        mask &= ~taken
        taken |= mask
        masks.append((mask, new))
    return masks


def replacement_value(series: pd.Series, new: Any) -> Any:
    """The value put in: a number in a numeric column (an integer in an integer one), true
    or false in a boolean one, when it reads as one; otherwise the value as given."""
    if new is None:
        return None
    try:
        typed = _typed_value(series, new)
    except UserError:
        return new
    return new if isinstance(typed, str) else typed


@dataclass
class CleanText(Step):
    columns: list[str]
    trim: bool = True
    case: str = "keep"
    kind: ClassVar[str] = "clean_text"
    label: ClassVar[str] = "Trim and normalise text"

    def describe(self) -> str:
        what = []
        if self.trim:
            what.append("trim spaces")
        if self.case != "keep":
            what.append(f"make {self.case} case")
        return f"{' and '.join(what).capitalize() or 'Leave'} in {', '.join(self.columns)}"

    def apply(self, frame):
        _require(frame, self.columns, self)
        if self.case not in CASES:
            raise UserError(f"Unknown case {self.case!r}: choose one of {', '.join(CASES)}.")
        updates = {}
        for column in self.columns:
            series = frame[column]
            if not (_is_text(series) or isinstance(series.dtype, pd.CategoricalDtype)):
                raise UserError(f"{column!r} does not hold text, so it cannot be trimmed.")
            text = series.astype("str").where(series.notna())
            if self.trim:
                text = text.str.strip()
            if self.case != "keep":
                text = getattr(text.str, self.case)()
            updates[column] = text
        return frame.assign(**updates), []


@dataclass
class ClipOutliers(Step):
    columns: list[str]
    method: str = "iqr"  # or "quantile"
    lower: float = 0.01
    upper: float = 0.99
    factor: float = 1.5
    kind: ClassVar[str] = "clip_outliers"
    label: ClassVar[str] = "Clip outliers"

    def describe(self) -> str:
        if self.method == "quantile":
            how = f"to the {self.lower:g}–{self.upper:g} quantiles"
        else:
            how = f"to {self.factor:g} × IQR beyond the quartiles"
        return f"Clip {', '.join(self.columns)} {how}"

    def apply(self, frame):
        _require(frame, self.columns, self)
        if self.method not in ("iqr", "quantile"):
            raise UserError(f"Unknown clipping method {self.method!r}: use 'iqr' or 'quantile'.")
        if not 0 <= self.lower < self.upper <= 1:
            raise UserError("Quantiles must satisfy 0 ≤ lower < upper ≤ 1.")
        if not self.factor >= 0:
            raise UserError("The IQR factor must be zero or more (1.5 is usual).")
        notes, updates = [], {}
        for column in self.columns:
            series = frame[column]
            if not _is_numeric(series):
                raise UserError(f"{column!r} is not numeric, so it has no outliers to clip.")
            low, high = clip_bounds(series, self.method, self.lower, self.upper, self.factor)
            if pd.isna(low) or pd.isna(high):
                notes.append(f"{column!r} has no finite values, so nothing was clipped.")
                continue
            if pd.api.types.is_integer_dtype(series) and (low % 1 or high % 1):
                series = series.astype("float64")  # bounds between whole numbers
            updates[column] = series.clip(low, high)
            notes.append(f"{column!r} clipped to [{low:.6g}, {high:.6g}].")
        return frame.assign(**updates), notes


def clip_bounds(series: pd.Series, method: str, lower: float, upper: float, factor: float):
    """The bounds to clip at, from the finite values: infinities are the outliers here, and
    a quantile that lands on one would be no bound at all."""
    finite = series[np.isfinite(series.astype("float64"))]
    if method == "quantile":
        return finite.quantile(lower), finite.quantile(upper)
    q1, q3 = finite.quantile(0.25), finite.quantile(0.75)
    return q1 - factor * (q3 - q1), q3 + factor * (q3 - q1)


STEP_TYPES: dict[str, type[Step]] = {
    cls.kind: cls
    for cls in (
        DropColumns,
        RenameColumns,
        ChangeType,
        ParseDates,
        FillMissing,
        DropMissing,
        DropDuplicates,
        FilterRows,
        ReplaceValues,
        CleanText,
        ClipOutliers,
    )
}


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


#: What each option's annotation admits from JSON, and how to say it.
_OPTION_TYPES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "str": (lambda v: isinstance(v, str), "text"),
    "str | None": (lambda v: v is None or isinstance(v, str), "text or null"),
    "bool": (lambda v: isinstance(v, bool), "true or false"),
    "float": (_is_number, "a number"),
    "list[str]": (
        lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
        "a list of column names",
    ),
    "dict[str, str]": (
        lambda v: isinstance(v, dict) and all(isinstance(x, str) for x in v.values()),
        "an object of old names to new names",
    ),
    "list[list[Any]]": (
        lambda v: isinstance(v, list) and all(isinstance(p, list) and len(p) == 2 for p in v),
        "a list of [old, new] pairs",
    ),
}


def step_from_json(data: dict) -> Step:
    if not isinstance(data, dict) or "step" not in data:
        raise UserError("Each recipe step must be an object with a 'step' key.")
    kind = data["step"]
    cls = STEP_TYPES.get(kind)
    if cls is None:
        raise UserError(f"Unknown recipe step {kind!r}: the steps are {', '.join(STEP_TYPES)}.")
    fields = {f.name: f.type for f in dataclasses.fields(cls)}
    arguments = {k: v for k, v in data.items() if k != "step"}
    unknown = sorted(set(arguments) - set(fields))
    if unknown:
        raise UserError(f"Step {kind!r} has no option {unknown[0]!r}.")
    for name, value in arguments.items():
        valid, what = _OPTION_TYPES.get(fields[name], (lambda _: True, ""))
        if not valid(value):
            raise UserError(f"Option {name!r} of step {kind!r} must be {what}, not {value!r}.")
    try:
        return cls(**arguments)
    except TypeError as exc:
        raise UserError(f"Step {kind!r} is incomplete ({exc}).") from None


def recipe_from_json(data: Any) -> list[Step]:
    """Steps from a recipe document (``{"steps": [...]}``) or a bare list of steps."""
    if isinstance(data, dict):
        if data.get("format", RECIPE_FORMAT) != RECIPE_FORMAT or "steps" not in data:
            raise UserError("This is not a recipe: it needs a list of 'steps'.")
        data = data["steps"]
    if not isinstance(data, list):
        raise UserError("A recipe is a list of steps.")
    return [step_from_json(item) for item in data]


def recipe_to_json(steps: list[Step]) -> dict:
    return {"format": RECIPE_FORMAT, "version": 1, "steps": [s.to_json() for s in steps]}


def cells_changed(
    before: pd.DataFrame, after: pd.DataFrame, renamed: dict[str, str] | None = None
) -> int:
    """Cells of rows and columns present in both whose value changed (missing = missing);
    a column ``renamed`` (old name to new) is compared with itself under its old name."""
    rows = after.index.intersection(before.index)
    source = {new: old for old, new in (renamed or {}).items()}
    changed = 0
    for column in after.columns:
        was = source.get(column, column)
        if was not in before.columns:
            continue
        old, new = before.loc[rows, was], after.loc[rows, column]
        both_missing = old.isna().to_numpy() & new.isna().to_numpy()
        try:
            equal = (old.astype("object") == new.astype("object")).fillna(False).to_numpy()
        except (TypeError, ValueError):
            equal = np.zeros(len(rows), dtype=bool)
        changed += int((~(equal | both_missing)).sum())
    return changed


def apply_step(frame: pd.DataFrame, step: Step) -> tuple[pd.DataFrame, StepReport]:
    result, notes = step.apply(frame)
    report = StepReport(
        description=step.describe(),
        rows_before=len(frame),
        rows_after=len(result),
        columns_before=frame.shape[1],
        columns_after=result.shape[1],
        cells_changed=cells_changed(
            frame, result, step.mapping if isinstance(step, RenameColumns) else None
        ),
        notes=notes,
    )
    return result, report


def apply_recipe(
    frame: pd.DataFrame, steps: list[Step], state: TaskState | None = None
) -> tuple[pd.DataFrame, list[StepReport]]:
    reports = []
    for i, step in enumerate(steps):
        if state is not None:
            state.check_cancelled()
            state.set_progress(i / max(len(steps), 1), step.describe())
        frame, report = apply_step(frame, step)
        reports.append(report)
    return frame.reset_index(drop=True), reports


def preview(
    frame: pd.DataFrame, steps: list[Step], rows: int = 200, state: TaskState | None = None
) -> tuple[list[StepReport], pd.DataFrame]:
    """Apply ``steps`` to ``frame`` (usually a sample) and return every step's report and the
    first ``rows`` rows of the result, for showing a step's effect before it is saved."""
    result, reports = apply_recipe(frame, steps, state)
    return reports, result.head(rows)


def sample_for_preview(frame: pd.DataFrame, limit: int, seed: int = 0) -> pd.DataFrame:
    """``frame`` itself when small; otherwise ``limit`` random rows kept in their order."""
    if len(frame) <= limit:
        return frame
    return frame.sample(n=limit, random_state=seed).sort_index()
