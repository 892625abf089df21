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
        return {"step": self.kind, **dataclasses.asdict(self)}


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
    if pd.api.types.is_bool_dtype(series):
        return series.astype("boolean")
    text = series.astype("str").str.strip().str.lower()
    result = pd.Series(pd.NA, index=series.index, dtype="boolean")
    result[text.isin(_TRUE)] = True
    result[text.isin(_FALSE)] = False
    return result


def convert(series: pd.Series, to: str, date_format: str | None = None, dayfirst=False):
    """``series`` as type ``to``; values that do not convert become missing."""
    if to == "number":
        if _is_numeric(series):
            return series.astype("float64")
        return pd.to_numeric(series.astype("str").str.strip(), errors="coerce").astype("float64")
    if to == "integer":
        numbers = convert(series, "number")
        whole = numbers.where(np.isclose(numbers, np.round(numbers)) | numbers.isna())
        return whole.round().astype("Int64")
    if to == "text":
        if pd.api.types.is_float_dtype(series) and (series.dropna() % 1 == 0).all():
            series = series.astype("Int64")  # 3.0 reads as "3", as people wrote it
        return series.astype("str")
    if to == "boolean":
        return _to_boolean(series)
    if to == "datetime":
        if pd.api.types.is_datetime64_any_dtype(series):
            return series
        return pd.to_datetime(
            series.astype("str"), errors="coerce", format=date_format or None, dayfirst=dayfirst
        )
    if to == "category":
        return series.astype("category")
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
        after = convert(before, self.to)
        frame = frame.assign(**{self.column: after})
        return frame, _conversion_notes(self.column, before, after, self.to)


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
        try:
            after = convert(before, "datetime", self.format, self.dayfirst)
        except ValueError as exc:
            raise UserError(f"The date format {self.format!r} is not valid ({exc}).") from None
        return frame.assign(**{self.column: after}), _conversion_notes(
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
                fill = self.value
            if fill is None or (isinstance(fill, float) and math.isnan(fill)):
                notes.append(f"{column!r} has no values to take a {self.strategy} from.")
                continue
            if isinstance(series.dtype, pd.CategoricalDtype) and fill not in series.cat.categories:
                series = series.cat.add_categories([fill])
            if _is_numeric(series) and self.strategy == "constant":
                try:
                    fill = float(fill)
                except (TypeError, ValueError):
                    raise UserError(
                        f"{column!r} is numeric, so it cannot be filled with {fill!r}: "
                        "type a number."
                    ) from None
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
    if value is None:
        return None
    if _is_numeric(series):
        try:
            return float(value)
        except (TypeError, ValueError):
            raise UserError(f"{value!r} is not a number, and the column is numeric.") from None
    if pd.api.types.is_datetime64_any_dtype(series):
        try:
            return pd.Timestamp(value)
        except (TypeError, ValueError):
            raise UserError(f"{value!r} is not a date, and the column holds dates.") from None
    if pd.api.types.is_bool_dtype(series):
        return str(value).strip().lower() in _TRUE
    return str(value)


def condition_mask(series: pd.Series, operator: str, value: Any) -> pd.Series:
    """Which rows of ``series`` meet ``operator value`` (missing values never do)."""
    if operator == "is missing":
        return series.isna()
    if operator == "is not missing":
        return series.notna()
    if operator in ("in", "between"):
        values = value if isinstance(value, list) else [value]
        typed = [_typed_value(series, v) for v in values]
        if operator == "in":
            return series.isin(typed)
        if len(typed) != 2:
            raise UserError("'between' needs two values: a lower and an upper bound.")
        return (series >= typed[0]) & (series <= typed[1])
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
        raise UserError(
            f"Values of this column cannot be compared with {value!r} using {operator}."
        ) from None
    return result.fillna(False).astype(bool) & series.notna()


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
        updates = {}
        for column in self.columns:
            series = frame[column]
            if isinstance(series.dtype, pd.CategoricalDtype):
                series = series.astype("object")
            for old, new in self.replacements:
                old_typed = _typed_value(series, old) if old is not None else None
                mask = series.isna() if old is None else (series == old_typed).fillna(False)
                if mask.any():
                    if new is not None and _is_numeric(series):
                        try:
                            new = float(new)
                        except (TypeError, ValueError):
                            series = series.astype("object")
                    series = series.mask(mask, new)
            updates[column] = series
        return frame.assign(**updates), []


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
            if _is_numeric(series) or pd.api.types.is_datetime64_any_dtype(series):
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
        notes, updates = [], {}
        for column in self.columns:
            series = frame[column]
            if not _is_numeric(series):
                raise UserError(f"{column!r} is not numeric, so it has no outliers to clip.")
            if self.method == "quantile":
                low, high = series.quantile(self.lower), series.quantile(self.upper)
            else:
                q1, q3 = series.quantile(0.25), series.quantile(0.75)
                low, high = q1 - self.factor * (q3 - q1), q3 + self.factor * (q3 - q1)
            if pd.isna(low) or pd.isna(high):
                continue
            updates[column] = series.clip(low, high)
            notes.append(f"{column!r} clipped to [{low:.6g}, {high:.6g}].")
        return frame.assign(**updates), notes


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


def step_from_json(data: dict) -> Step:
    if not isinstance(data, dict) or "step" not in data:
        raise UserError("Each recipe step must be an object with a 'step' key.")
    kind = data["step"]
    cls = STEP_TYPES.get(kind)
    if cls is None:
        raise UserError(f"Unknown recipe step {kind!r}: the steps are {', '.join(STEP_TYPES)}.")
    fields = {f.name for f in dataclasses.fields(cls)}
    arguments = {k: v for k, v in data.items() if k != "step"}
    unknown = sorted(set(arguments) - fields)
    if unknown:
        raise UserError(f"Step {kind!r} has no option {unknown[0]!r}.")
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


def cells_changed(before: pd.DataFrame, after: pd.DataFrame) -> int:
    """Cells of rows and columns present in both whose value changed (missing = missing)."""
    rows = after.index.intersection(before.index)
    changed = 0
    for column in after.columns.intersection(before.columns):
        old, new = before.loc[rows, column], after.loc[rows, column]
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
        cells_changed=cells_changed(frame, result),
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
