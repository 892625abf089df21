"""The estimator catalogue and what each estimator's parameters accept.

Nothing here is written per estimator: the parameters, their defaults and what values they
accept come from scikit-learn itself (``get_params()`` and ``_parameter_constraints``, the
same rules scikit-learn enforces at fit time), and each parameter's help from its docstring.
"""

from __future__ import annotations

import ast
import importlib
import numbers
import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from mlops_desktop.domain.errors import UserError

CLASSIFICATION = "classification"
REGRESSION = "regression"

#: name -> (module, task family); the class is imported only when it is needed.
CATALOGUE: dict[str, tuple[str, str]] = {
    "LogisticRegression": ("sklearn.linear_model", CLASSIFICATION),
    "RidgeClassifier": ("sklearn.linear_model", CLASSIFICATION),
    "KNeighborsClassifier": ("sklearn.neighbors", CLASSIFICATION),
    "SVC": ("sklearn.svm", CLASSIFICATION),
    "DecisionTreeClassifier": ("sklearn.tree", CLASSIFICATION),
    "RandomForestClassifier": ("sklearn.ensemble", CLASSIFICATION),
    "ExtraTreesClassifier": ("sklearn.ensemble", CLASSIFICATION),
    "GradientBoostingClassifier": ("sklearn.ensemble", CLASSIFICATION),
    "HistGradientBoostingClassifier": ("sklearn.ensemble", CLASSIFICATION),
    "MLPClassifier": ("sklearn.neural_network", CLASSIFICATION),
    "DummyClassifier": ("sklearn.dummy", CLASSIFICATION),
    "LinearRegression": ("sklearn.linear_model", REGRESSION),
    "Ridge": ("sklearn.linear_model", REGRESSION),
    "Lasso": ("sklearn.linear_model", REGRESSION),
    "ElasticNet": ("sklearn.linear_model", REGRESSION),
    "KNeighborsRegressor": ("sklearn.neighbors", REGRESSION),
    "SVR": ("sklearn.svm", REGRESSION),
    "DecisionTreeRegressor": ("sklearn.tree", REGRESSION),
    "RandomForestRegressor": ("sklearn.ensemble", REGRESSION),
    "ExtraTreesRegressor": ("sklearn.ensemble", REGRESSION),
    "GradientBoostingRegressor": ("sklearn.ensemble", REGRESSION),
    "HistGradientBoostingRegressor": ("sklearn.ensemble", REGRESSION),
    "MLPRegressor": ("sklearn.neural_network", REGRESSION),
    "DummyRegressor": ("sklearn.dummy", REGRESSION),
}

#: Parameters the training worker sets itself, so the form does not offer them.
MANAGED = {"n_jobs", "verbose", "warm_start", "copy_X"}


def family(task: str) -> str:
    return REGRESSION if task == "regression" else CLASSIFICATION


def estimators_for(task: str) -> list[str]:
    wanted = family(task)
    return [name for name, (_, fam) in CATALOGUE.items() if fam == wanted]


def estimator_class(name: str) -> type:
    if name not in CATALOGUE:
        raise UserError(f"Unknown estimator {name!r}: choose one of {', '.join(CATALOGUE)}.")
    module, _ = CATALOGUE[name]
    return getattr(importlib.import_module(module), name)


@dataclass(frozen=True)
class ParamInfo:
    """One hyper-parameter, as a form needs it."""

    name: str
    default: Any
    kind: str  # bool, int, float, choice, random_state or value (typed as text)
    choices: tuple[str, ...] = ()
    allows_none: bool = False
    low: float | None = None
    high: float | None = None
    declared: str = ""  # the docstring's type line, e.g. "int, default=100"
    doc: str = ""


def _docstring_parameters(doc: str) -> dict[str, tuple[str, str]]:
    """name -> (type line, first paragraph) from a numpydoc "Parameters" section."""
    match = re.search(r"\n\s*Parameters\n\s*-+\n(.*?)(\n\s*[A-Z][A-Za-z ]+\n\s*-+\n|\Z)", doc, re.S)
    if not match:
        return {}
    entries: dict[str, tuple[str, str]] = {}
    lines = match.group(1).splitlines()
    indent = min((len(line) - len(line.lstrip()) for line in lines if line.strip()), default=0)
    current, type_line, body = None, "", []
    for line in [*lines, " " * indent + "end : -"]:  # a sentinel entry flushes the last one
        stripped = line[indent:]
        if stripped and not stripped.startswith(" ") and " : " in stripped:
            if current is not None:
                paragraph = " ".join(body).split("  ")[0].strip()
                entries[current] = (type_line, paragraph)
            current, type_line = [s.strip() for s in stripped.split(" : ", 1)]
            body = []
        elif current is not None:
            if not line.strip() and body:
                body.append("  ")  # paragraph break: only the first paragraph is kept
            elif line.strip():
                body.append(line.strip())
    return {name: (t, " ".join(p.split())) for name, (t, p) in entries.items()}


def _interval(constraint):
    from sklearn.utils._param_validation import Interval

    return constraint if isinstance(constraint, Interval) else None


def _describe(name: str, default: Any, constraints: list, declared: str, doc: str) -> ParamInfo:
    from sklearn.utils._param_validation import Hidden, StrOptions

    visible = [c for c in constraints if not isinstance(c, Hidden)]
    allows_none = any(c is None for c in visible)
    choices = tuple(
        sorted(
            o
            for c in visible
            if isinstance(c, StrOptions)
            for o in c.options
            if o not in getattr(c, "deprecated", set())
        )
    )
    intervals = [i for c in visible if (i := _interval(c)) is not None]
    integral = [i for i in intervals if i.type is numbers.Integral]
    others = [
        c
        for c in visible
        if c is not None and not isinstance(c, StrOptions) and _interval(c) is None
    ]
    if "boolean" in visible and len(visible) == 1:
        return ParamInfo(name, default, "bool", declared=declared, doc=doc)
    if "random_state" in visible:
        return ParamInfo(
            name, default, "random_state", allows_none=True, declared=declared, doc=doc
        )
    if choices and not intervals and not others:
        return ParamInfo(name, default, "choice", choices, allows_none, declared=declared, doc=doc)
    if len(intervals) == 1 and not choices and not others:
        interval = intervals[0]
        return ParamInfo(
            name,
            default,
            "int" if integral else "float",
            allows_none=allows_none,
            low=interval.left,
            high=interval.right,
            declared=declared,
            doc=doc,
        )
    return ParamInfo(name, default, "value", choices, allows_none, declared=declared, doc=doc)


@cache
def parameters(name: str) -> tuple[ParamInfo, ...]:
    """Every tunable parameter of estimator ``name``, from scikit-learn's own description."""
    cls = estimator_class(name)
    defaults = cls().get_params(deep=False)
    constraints = getattr(cls, "_parameter_constraints", {})
    docs = _docstring_parameters(cls.__doc__ or "")
    return tuple(
        _describe(param, default, list(constraints.get(param, [])), *docs.get(param, ("", "")))
        for param, default in defaults.items()
        if param not in MANAGED
    )


def seeded_params(name: str, params: dict, seed: int) -> dict:
    """``params`` with the seed as ``random_state`` where the estimator takes one and
    ``params`` leaves it unset: training is reproducible unless the spec says otherwise."""
    if "random_state" in params or "random_state" not in estimator_class(name)().get_params():
        return dict(params)
    return {**params, "random_state": seed}


def check_params(name: str, params: dict) -> None:
    """Refuse unknown parameters and values outside scikit-learn's own constraints."""
    from sklearn.utils._param_validation import (
        InvalidParameterError,
        validate_parameter_constraints,
    )

    cls = estimator_class(name)
    known = cls().get_params(deep=False)
    unknown = sorted(set(params) - set(known))
    if unknown:
        raise UserError(
            f"{name} has no parameter {unknown[0]!r}: its parameters are "
            f"{', '.join(sorted(known))}."
        )
    constraints = getattr(cls, "_parameter_constraints", {})
    try:
        validate_parameter_constraints(
            {k: v for k, v in constraints.items() if k in params}, params, caller_name=name
        )
    except InvalidParameterError as exc:
        raise UserError(f"{exc} Change it in the estimator's parameters.") from None


def parse_value(text: str) -> Any:
    """A value typed in a form: a number, None, true/false, a list such as (100, 50), or
    else the text itself. Tuples become lists, which JSON can hold."""
    stripped = text.strip()
    lowered = stripped.lower()
    if lowered in ("none", "null", ""):
        return None
    if lowered in ("true", "false"):
        return lowered == "true"
    try:
        value = ast.literal_eval(stripped)
    except (ValueError, SyntaxError):
        return stripped
    return list(value) if isinstance(value, tuple) else value
