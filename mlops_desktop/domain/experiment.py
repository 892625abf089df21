"""Experiment specs: plain JSON, the same in the GUI, the CLI and the Python API.

A spec names a dataset version, a target, how each column is treated, an estimator and its
hyper-parameters, a search and how to validate. Column treatments are stored as overrides of
defaults worked out from the dataset's profile, so a spec stays short and readable.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from mlops_desktop.domain.dataset import check_name
from mlops_desktop.domain.errors import UserError
from mlops_desktop.domain.profile import ColumnProfile, TableProfile

TASKS = ("auto", "binary", "multiclass", "regression")
ROLES = ("feature", "ignore", "identifier")
COLUMN_TYPES = ("numeric", "categorical", "datetime", "text", "boolean")
IMPUTATIONS = ("mean", "median", "most_frequent", "constant", "none")
SCALINGS = ("standard", "minmax", "robust", "none")
ENCODINGS = ("onehot", "ordinal", "target")
STRATEGIES = ("none", "grid", "random", "halving")
SPLITS = ("auto", "kfold", "stratified", "timeseries")
DISTRIBUTIONS = ("uniform", "loguniform", "int", "choice")
DATETIME_PARTS = ("year", "month", "day", "weekday", "hour", "dayofyear")
#: A search larger than this must be confirmed before it is queued.
LARGE_SEARCH = 10_000
#: Integer targets with at most this many distinct values read as classes.
MAX_CLASSES = 20


def _problem(path: str, message: str) -> UserError:
    return UserError(f"{path}: {message}")


def _choice(path: str, value: Any, allowed: tuple) -> str:
    if value not in allowed:
        raise _problem(path, f"{value!r} is not one of {', '.join(map(str, allowed))}.")
    return value


def _from_dict(cls, data: Any, path: str):
    """Build dataclass ``cls`` from ``data``, naming any unknown key by its path."""
    if not isinstance(data, dict):
        raise _problem(
            path,
            f"expected an object with keys such as "
            f"{', '.join(f.name for f in dataclasses.fields(cls))}.",
        )
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise _problem(
            f"{path}.{unknown[0]}", f"unknown key; the keys are {', '.join(sorted(known))}."
        )
    return cls(**data)


@dataclass
class ColumnSpec:
    """How one column is used and prepared."""

    role: str = "feature"
    type: str = "numeric"
    impute: str = "median"
    impute_value: Any = None
    scale: str = "standard"
    encode: str = "onehot"
    max_categories: int = 20
    datetime_parts: list[str] = field(default_factory=lambda: ["year", "month", "weekday"])
    max_features: int = 1000

    def check(self, path: str) -> None:
        _choice(f"{path}.role", self.role, ROLES)
        _choice(f"{path}.type", self.type, COLUMN_TYPES)
        _choice(f"{path}.impute", self.impute, IMPUTATIONS)
        _choice(f"{path}.scale", self.scale, SCALINGS)
        _choice(f"{path}.encode", self.encode, ENCODINGS)
        if self.impute == "constant" and self.impute_value is None and self.role == "feature":
            raise _problem(f"{path}.impute_value", "filling with a constant needs a value.")
        if not isinstance(self.max_categories, int) or self.max_categories < 2:
            raise _problem(f"{path}.max_categories", "must be a whole number of at least 2.")
        if not isinstance(self.max_features, int) or self.max_features < 1:
            raise _problem(f"{path}.max_features", "must be a whole number of at least 1.")
        for part in self.datetime_parts:
            _choice(f"{path}.datetime_parts", part, DATETIME_PARTS)
        if self.type == "datetime" and not self.datetime_parts and self.role == "feature":
            raise _problem(f"{path}.datetime_parts", "choose at least one part of the date.")


def default_column(column: ColumnProfile) -> ColumnSpec:
    """A sensible treatment of a column, from its profile."""
    if column.kind == "numeric":
        spec = ColumnSpec(type="numeric", impute="median", scale="standard")
    elif column.kind == "boolean":
        spec = ColumnSpec(type="boolean", impute="most_frequent", scale="none")
    elif column.kind == "datetime":
        spec = ColumnSpec(type="datetime", impute="most_frequent", scale="none")
        if column.type.startswith(("time32", "time64", "duration")):
            spec.datetime_parts = ["hour"]  # a time of day has no year, month or weekday
    elif column.kind == "text":
        spec = ColumnSpec(type="text", impute="none", scale="none")
    else:
        spec = ColumnSpec(
            type="categorical", impute="constant", impute_value="missing", scale="none"
        )
    looks_like_id = column.name.lower() in ("id", "uuid", "key") or column.name.lower().endswith(
        ("_id", " id")
    )
    if (
        column.all_unique
        and column.count > 1
        and (looks_like_id or column.kind in ("text", "categorical"))
    ):
        spec.role = "identifier"  # a value per row teaches a model nothing that generalises
    if column.count == 0 or (column.unique == 1 and column.missing == 0):
        spec.role = "ignore"  # empty or constant
    return spec


@dataclass
class FeatureSpec:
    exclude: list[str] = field(default_factory=list)
    columns: dict[str, dict] = field(default_factory=dict)  # overrides of the defaults

    def to_json(self) -> dict:
        return {
            "exclude": list(self.exclude),
            "columns": {k: dict(v) for k, v in self.columns.items()},
        }


@dataclass
class SearchSpec:
    strategy: str = "none"
    space: dict[str, Any] = field(default_factory=dict)
    cv: int = 5
    scoring: str | list[str] | None = None
    n_iter: int = 20
    factor: int = 3
    confirm_large: bool = False


@dataclass
class ValidationSpec:
    holdout: float = 0.2
    stratify: bool = True
    seed: int = 42
    split: str = "auto"


@dataclass
class ExperimentSpec:
    name: str
    dataset: str
    target: str
    task: str = "auto"
    features: FeatureSpec = field(default_factory=FeatureSpec)
    estimator: str = "RandomForestClassifier"
    params: dict[str, Any] = field(default_factory=dict)
    search: SearchSpec = field(default_factory=SearchSpec)
    validation: ValidationSpec = field(default_factory=ValidationSpec)
    model_name: str | None = None

    @property
    def model(self) -> str:
        return self.model_name or self.name

    def to_json(self) -> dict:
        data = dataclasses.asdict(self)
        data["features"] = self.features.to_json()
        return data

    @classmethod
    def from_json(cls, data: Any) -> ExperimentSpec:
        """Parse and check the shape of a spec; every error names the field."""
        if not isinstance(data, dict):
            raise UserError("An experiment spec is a JSON object with name, dataset and target.")
        data = dict(data)
        for key in ("name", "dataset", "target"):
            if not isinstance(data.get(key), str) or not data[key].strip():
                raise _problem(key, "is required and must be text.")
        nested = {
            "features": FeatureSpec,
            "search": SearchSpec,
            "validation": ValidationSpec,
        }
        for key, nested_cls in nested.items():
            if key in data:
                data[key] = _from_dict(nested_cls, data[key], key)
        spec = _from_dict(cls, data, "spec")
        spec.check_shape()
        return spec

    def check_shape(self) -> None:
        """What can be checked without the data."""
        check_name(self.name, "experiment")
        if self.model_name is not None:
            check_name(self.model_name, "model")
        _choice("task", self.task, TASKS)
        if not isinstance(self.params, dict):
            raise _problem("params", "must be an object of parameter names and values.")
        for name in self.features.exclude:
            if not isinstance(name, str):
                raise _problem("features.exclude", "must be a list of column names.")
        for name, override in self.features.columns.items():
            path = f"features.columns.{name}"
            _from_dict(ColumnSpec, override, path).check(path)
        search = self.search
        _choice("search.strategy", search.strategy, STRATEGIES)
        if not isinstance(search.cv, int) or search.cv < 2:
            raise _problem("search.cv", "must be a whole number of folds, at least 2.")
        if not isinstance(search.n_iter, int) or search.n_iter < 1:
            raise _problem("search.n_iter", "must be a whole number of at least 1.")
        if not isinstance(search.factor, int) or search.factor < 2:
            raise _problem("search.factor", "must be a whole number of at least 2.")
        if not isinstance(search.space, dict):
            raise _problem("search.space", "must map parameter names to values.")
        for param, values in search.space.items():
            check_values(f"search.space.{param}", values, search.strategy)
        if search.strategy != "none" and not search.space:
            raise _problem(
                "search.space", f"a {search.strategy} search needs at least one parameter to vary."
            )
        validation = self.validation
        if not isinstance(validation.holdout, int | float) or not 0 < validation.holdout <= 0.9:
            raise _problem("validation.holdout", "must be a fraction between 0 and 0.9.")
        if not isinstance(validation.seed, int):
            raise _problem("validation.seed", "must be a whole number.")
        _choice("validation.split", validation.split, SPLITS)


def check_values(path: str, values: Any, strategy: str) -> None:
    """A search dimension: a list of values, or a distribution like {"loguniform": [a, b]}."""
    if isinstance(values, list):
        if not values:
            raise _problem(path, "needs at least one value.")
        return
    if isinstance(values, dict) and len(values) == 1:
        kind, bounds = next(iter(values.items()))
        _choice(path, kind, DISTRIBUTIONS)
        if strategy == "grid" and kind != "choice":
            raise _problem(
                path,
                f"a {kind} distribution needs a random search or successive halving (a grid "
                "needs a list of values).",
            )
        if kind == "choice":
            if not isinstance(bounds, list) or not bounds:
                raise _problem(path, "choice needs a list of values.")
            return
        if not (
            isinstance(bounds, list)
            and len(bounds) == 2
            and all(isinstance(b, int | float) for b in bounds)
            and bounds[0] < bounds[1]
        ):
            raise _problem(path, f"{kind} needs [low, high] with low < high.")
        if kind == "loguniform" and bounds[0] <= 0:
            raise _problem(path, "loguniform needs a low bound above 0.")
        if kind == "int" and not all(isinstance(b, int) for b in bounds):
            raise _problem(path, "int needs whole-number bounds.")
        return
    raise _problem(
        path,
        'must be a list of values or one of {"uniform": [a, b]}, '
        '{"loguniform": [a, b]}, {"int": [a, b]}, {"choice": [...]}.',
    )


def dimension_values(values: Any) -> list | None:
    """The finite list of values a dimension takes, or None for a continuous distribution."""
    if isinstance(values, list):
        return values
    kind, bounds = next(iter(values.items()))
    if kind == "choice":
        return bounds
    if kind == "int":
        return list(range(bounds[0], bounds[1] + 1))
    return None


# -- the task ---------------------------------------------------------------------------------


def infer_task(target: ColumnProfile) -> tuple[str, str]:
    """The task a target implies, and why ("42 distinct integer values -> regression")."""
    n = target.unique
    if target.count == 0:
        raise _problem("target", f"{target.name!r} has no values: choose another target.")
    if target.kind == "boolean" or n == 2:
        return "binary", f"{n} distinct values → binary classification"
    if target.kind in ("categorical", "text"):
        return "multiclass", f"{n} distinct text values → multiclass classification"
    if target.kind == "numeric":
        integer = target.type.startswith(("int", "uint"))
        if integer and n <= MAX_CLASSES:
            return "multiclass", f"{n} distinct integer values → multiclass classification"
        what = "integer" if integer else "continuous"
        return "regression", f"{n:,} distinct {what} values → regression"
    raise _problem(
        "target",
        f"{target.name!r} holds {target.kind} values, which cannot be "
        "predicted: choose a number or category column.",
    )


def resolve_task(spec: ExperimentSpec, target: ColumnProfile) -> tuple[str, str]:
    inferred, reason = infer_task(target)
    if spec.task == "auto":
        return inferred, reason
    if spec.task == "regression" and target.kind != "numeric":
        raise _problem(
            "task",
            f"{target.name!r} holds {target.kind} values, so it cannot be "
            "a regression target: choose classification.",
        )
    if spec.task == "binary" and target.unique != 2:
        raise _problem(
            "task",
            f"{target.name!r} has {target.unique} distinct values, so the task "
            "cannot be binary: choose multiclass.",
        )
    return spec.task, f"set by hand (the data suggest: {reason})"


def resolve_column(column: ColumnProfile, override: dict, path: str) -> ColumnSpec:
    """One column's treatment: its profile's defaults, then the spec's override."""
    treatment = default_column(column)
    if "type" in override and override["type"] != treatment.type:
        # A new type brings that type's defaults (types are named like profile kinds),
        # under the rest of the override.
        _choice(f"{path}.type", override["type"], COLUMN_TYPES)
        role = treatment.role
        treatment = default_column(dataclasses.replace(column, kind=override["type"]))
        treatment.role = role
    treatment = dataclasses.replace(treatment, **override)
    treatment.check(path)
    return treatment


def resolve_columns(spec: ExperimentSpec, profile: TableProfile) -> dict[str, ColumnSpec]:
    """Each column but the target with its treatment: profile defaults, then the overrides."""
    names = {c.name for c in profile.columns}
    for name in [*spec.features.exclude, *spec.features.columns]:
        if name not in names:
            raise _problem(f"features.columns.{name}", f"the dataset has no column {name!r}.")
    resolved = {}
    for column in profile.columns:
        if column.name == spec.target:
            continue
        path = f"features.columns.{column.name}"
        treatment = resolve_column(column, spec.features.columns.get(column.name, {}), path)
        if column.name in spec.features.exclude:
            treatment.role = "ignore"
        resolved[column.name] = treatment
    if not any(t.role == "feature" for t in resolved.values()):
        raise _problem(
            "features", "no column is left as a feature: set a column's role to feature."
        )
    return resolved


def default_scoring(task: str) -> str:
    return "neg_root_mean_squared_error" if task == "regression" else "f1_macro"


def search_size(spec: ExperimentSpec) -> tuple[int, int, bool]:
    """(candidates, folds, exact): how many parameter settings the search tries."""
    search = spec.search
    if search.strategy == "none":
        return 1, search.cv, True
    sizes = [dimension_values(v) for v in search.space.values()]
    finite = all(s is not None for s in sizes)
    grid = math.prod(len(s) for s in sizes) if finite else None
    if search.strategy == "grid":
        return grid, search.cv, True
    if search.strategy == "random":
        return (min(search.n_iter, grid) if grid else search.n_iter), search.cv, True
    # Successive halving: every candidate starts; each round keeps 1 in `factor`.
    start = grid if grid else search.n_iter
    total, left = 0, start
    while left >= 1:
        total += left
        left = left // search.factor
    return total, search.cv, False


def parse_dimension(text: str) -> list | dict:
    """A search dimension as typed: ``3, 5, None`` (values), or ``loguniform(0.001, 10)``,
    ``uniform(0, 1)``, ``int(1, 50)``."""
    from mlops_desktop.domain.estimators import parse_value

    stripped = text.strip()
    for kind in ("loguniform", "uniform", "int"):
        if stripped.startswith(f"{kind}(") and stripped.endswith(")"):
            bounds = [parse_value(b) for b in stripped[len(kind) + 1 : -1].split(",")]
            return {kind: bounds}
    if not stripped:
        return []
    return [parse_value(part) for part in _split_top_level(stripped)]


def _split_top_level(text: str) -> list[str]:
    """Split on commas that are not inside brackets: ``(50,), (100, 50)`` has two values."""
    parts, depth, current = [], 0, ""
    for char in text:
        depth += char in "([{"
        depth -= char in ")]}"
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return [p for p in (part.strip() for part in parts) if p]


def format_dimension(values: list | dict) -> str:
    if isinstance(values, dict):
        kind, bounds = next(iter(values.items()))
        if kind == "choice":
            return format_dimension(bounds)
        return f"{kind}({', '.join(map(str, bounds))})"
    return ", ".join("None" if v is None else str(v) for v in values)


def spec_differences(a: dict, b: dict, path: str = "") -> list[tuple[str, Any, Any]]:
    """Every field where two specs differ, as (dotted path, value in a, value in b)."""
    changes = []
    for key in sorted(set(a) | set(b), key=str):
        where = f"{path}.{key}" if path else str(key)
        left, right = a.get(key), b.get(key)
        if isinstance(left, dict) and isinstance(right, dict):
            changes += spec_differences(left, right, where)
        elif left != right:
            changes.append((where, left, right))
    return changes
