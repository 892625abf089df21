"""skl2onnx converters for the pipelines ``services.onnx`` compiles.

skl2onnx has no converter for the project's own transformers (registered here once per
process), and some of its own fall short of what compiled pipelines need (their stand-ins
are passed to each conversion, so nothing else in the process that uses skl2onnx sees them):

- ``BooleanColumns`` and ``TextColumn``: the predictor already feeds true/false as 1.0, 0.0
  and NaN, and text with "" for missing, so both are the identity;
- ``SimpleImputer`` on numbers: ``Where(IsNaN(x), statistics, x)`` in the graph's own
  precision (onnxruntime's ai.onnx.ml ``Imputer`` has no double kernel); on strings,
  skl2onnx's converter, told that missing is "" (it converts only string markers);
- ``OneHotEncoder``: skl2onnx's fails on an unseen category unless ``handle_unknown="ignore"``
  and refuses infrequent categories; this one maps each category to its output column with
  a ``LabelEncoder`` (unseen to the infrequent column or to none, missing to its own column)
  and compares, so ``handle_unknown="infrequent_if_exist"`` with ``max_categories`` works;
- HistGradientBoosting: skl2onnx's converter, with the Python booleans it puts in an integer
  attribute written as 0 and 1 (onnx 1.17 and later refuse them);
- ``DatetimeParts``: fed milliseconds since 1970-01-01 as doubles (NaN for missing), it
  computes each part with whole-number arithmetic (Howard Hinnant's ``civil_from_days``),
  exactly, in double; time zones other than UTC are not converted (daylight saving needs a
  time zone database).
"""

from __future__ import annotations

import copy
import math
import threading

import numpy as np

_registered = False
_lock = threading.Lock()


class UnsupportedStepError(Exception):
    """A step that the graph cannot express; the message says which and why."""


def register() -> None:
    """Teach skl2onnx the project's own transformers (once per process)."""
    global _registered
    with _lock:
        if _registered:
            return
        from skl2onnx import update_registered_converter

        from mlops_desktop.domain.transformers import BooleanColumns, DatetimeParts, TextColumn

        update_registered_converter(
            BooleanColumns, "MlopsBooleanColumns", _same_shape, _convert_identity
        )
        update_registered_converter(TextColumn, "MlopsTextColumn", _same_shape, _convert_identity)
        update_registered_converter(
            DatetimeParts, "MlopsDatetimeParts", _datetime_parts_shape, convert_datetime_parts
        )
        _registered = True


def conversion_functions() -> dict:
    """``custom_conversion_functions`` for ``skl2onnx.convert_sklearn``."""
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import OneHotEncoder

    return {
        SimpleImputer: convert_imputer,
        OneHotEncoder: convert_one_hot,
        HistGradientBoostingClassifier: _int_flags("SklearnHistGradientBoostingClassifier"),
        HistGradientBoostingRegressor: _int_flags("SklearnHistGradientBoostingRegressor"),
    }


def shape_calculators() -> dict:
    """``custom_shape_calculators`` for ``skl2onnx.convert_sklearn``."""
    from sklearn.preprocessing import OneHotEncoder

    return {OneHotEncoder: one_hot_shape}


def is_missing_marker(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _source(scope, operator, container) -> str:
    """The operator's inputs as one tensor."""
    from skl2onnx.operator_converters.common import concatenate_variables

    if len(operator.inputs) > 1:
        return concatenate_variables(scope, operator.inputs, container)
    return operator.inputs[0].full_name


def _same_shape(operator) -> None:
    """Output typed and shaped as the (merged) input."""
    inputs = operator.inputs
    columns = sum(i.get_second_dimension() or 1 for i in inputs)
    operator.outputs[0].type = inputs[0].type.__class__([inputs[0].get_first_dimension(), columns])


def _convert_identity(scope, operator, container) -> None:
    container.add_node(
        "Identity",
        [_source(scope, operator, container)],
        [operator.outputs[0].full_name],
        name=scope.get_unique_operator_name("Mlops" + type(operator.raw_operator).__name__),
    )


# -- SimpleImputer -----------------------------------------------------------------------------


def convert_imputer(scope, operator, container) -> None:
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType, StringTensorType
    from skl2onnx.operator_converters.imputer_op import convert_sklearn_imputer
    from skl2onnx.proto import onnx_proto

    op = operator.raw_operator
    kind = operator.inputs[0].type
    if getattr(op, "add_indicator", False):
        raise UnsupportedStepError("SimpleImputer(add_indicator=True) has no ONNX converter here")
    if isinstance(kind, StringTensorType) and is_missing_marker(op.missing_values):
        marked = copy.copy(op)
        marked.missing_values = ""  # how the predictor feeds missing strings
        operator.raw_operator = marked
        try:
            convert_sklearn_imputer(scope, operator, container)
        finally:
            operator.raw_operator = op
        return
    if not isinstance(kind, DoubleTensorType | FloatTensorType) or not is_missing_marker(
        op.missing_values
    ):
        convert_sklearn_imputer(scope, operator, container)
        return
    source = _source(scope, operator, container)
    double = isinstance(kind, DoubleTensorType)
    dtype = np.float64 if double else np.float32
    proto = onnx_proto.TensorProto.DOUBLE if double else onnx_proto.TensorProto.FLOAT
    statistics = np.asarray(op.statistics_, dtype=np.float64)
    kept = ~np.isnan(statistics)
    if not getattr(op, "keep_empty_features", False) and not kept.all():
        # scikit-learn drops the columns that had no value at all in training
        indices = scope.get_unique_variable_name("imputer_kept")
        container.add_initializer(
            indices, onnx_proto.TensorProto.INT64, [int(kept.sum())], np.flatnonzero(kept)
        )
        gathered = scope.get_unique_variable_name("imputer_gathered")
        container.add_node(
            "Gather",
            [source, indices],
            [gathered],
            axis=1,
            name=scope.get_unique_operator_name("Gather"),
        )
        source, statistics = gathered, statistics[kept]
    statistics = np.nan_to_num(statistics, nan=0.0).astype(dtype)
    fill = scope.get_unique_variable_name("imputer_fill")
    container.add_initializer(fill, proto, [1, len(statistics)], statistics.tolist())
    missing = scope.get_unique_variable_name("imputer_missing")
    container.add_node("IsNaN", [source], [missing], name=scope.get_unique_operator_name("IsNaN"))
    container.add_node(
        "Where",
        [missing, fill, source],
        [operator.outputs[0].full_name],
        name=scope.get_unique_operator_name("Where"),
    )


# -- OneHotEncoder -----------------------------------------------------------------------------


def _one_hot_columns(op, index: int) -> tuple[list, dict, int]:
    """For feature ``index``: its output columns' categories, each category's column (missing
    as ""), and the column of a value never seen (-1 for none)."""
    categories = list(op.categories_[index])
    infrequent = []
    if getattr(op, "_infrequent_enabled", False) and op.infrequent_categories_[index] is not None:
        infrequent = list(op.infrequent_categories_[index])
    frequent = [c for c in categories if not any(_same(c, i) for i in infrequent)]
    positions = {}
    for position, category in enumerate(frequent):
        positions[_key(category)] = position
    for category in infrequent:
        positions[_key(category)] = len(frequent)
    unknown = -1
    if infrequent and op.handle_unknown == "infrequent_if_exist":
        unknown = len(frequent)
    return frequent, positions, unknown


def _same(a, b) -> bool:
    return a == b or (is_missing_marker(a) and is_missing_marker(b))


def _key(category) -> str:
    if is_missing_marker(category):
        return ""  # the predictor feeds missing strings as ""
    if not isinstance(category, str):
        raise UnsupportedStepError(
            f"OneHotEncoder categories that are not text ({category!r}) are not converted"
        )
    return category


def _one_hot_widths(op) -> list[int]:
    if getattr(op, "drop_idx_", None) is not None:
        raise UnsupportedStepError("OneHotEncoder(drop=...) is not converted")
    widths = []
    for index in range(len(op.categories_)):
        _frequent, positions, _unknown = _one_hot_columns(op, index)
        widths.append(len(set(positions.values())))
    return widths


def one_hot_shape(operator) -> None:
    from skl2onnx.common.data_types import FloatTensorType

    width = sum(_one_hot_widths(operator.raw_operator))
    operator.outputs[0].type = FloatTensorType([operator.inputs[0].get_first_dimension(), width])


def convert_one_hot(scope, operator, container) -> None:
    from skl2onnx.common.data_types import StringTensorType
    from skl2onnx.proto import onnx_proto

    op = operator.raw_operator
    widths = _one_hot_widths(op)
    columns = []  # one (rows, 1) string tensor per feature
    for variable in operator.inputs:
        if not isinstance(variable.type, StringTensorType):
            raise UnsupportedStepError("OneHotEncoder on numbers is not converted")
        count = variable.get_second_dimension() or 1
        if count == 1:
            columns.append(variable.full_name)
            continue
        for j in range(count):
            index = scope.get_unique_variable_name("ohe_index")
            container.add_initializer(index, onnx_proto.TensorProto.INT64, [1], [j])
            column = scope.get_unique_variable_name("ohe_column")
            container.add_node(
                "Gather",
                [variable.full_name, index],
                [column],
                axis=1,
                name=scope.get_unique_operator_name("Gather"),
            )
            columns.append(column)
    if len(columns) != len(op.categories_):
        raise UnsupportedStepError("OneHotEncoder's inputs do not match its categories")
    parts = []
    for index, (column, width) in enumerate(zip(columns, widths, strict=True)):
        if width == 0:
            continue
        _frequent, positions, unknown = _one_hot_columns(op, index)
        codes = scope.get_unique_variable_name("ohe_codes")
        container.add_node(
            "LabelEncoder",
            [column],
            [codes],
            keys_strings=list(positions),
            values_int64s=list(positions.values()),
            default_int64=unknown,
            op_domain="ai.onnx.ml",
            op_version=2,
            name=scope.get_unique_operator_name("LabelEncoder"),
        )
        span = scope.get_unique_variable_name("ohe_span")
        container.add_initializer(
            span, onnx_proto.TensorProto.INT64, [1, width], list(range(width))
        )
        hot = scope.get_unique_variable_name("ohe_hot")
        container.add_node(
            "Equal", [codes, span], [hot], name=scope.get_unique_operator_name("Equal")
        )
        part = scope.get_unique_variable_name("ohe_part")
        container.add_node(
            "Cast",
            [hot],
            [part],
            to=onnx_proto.TensorProto.FLOAT,
            name=scope.get_unique_operator_name("Cast"),
        )
        parts.append(part)
    output = operator.outputs[0].full_name
    if len(parts) == 1:
        container.add_node(
            "Identity", parts, [output], name=scope.get_unique_operator_name("Identity")
        )
    else:
        container.add_node(
            "Concat", parts, [output], axis=1, name=scope.get_unique_operator_name("Concat")
        )


# -- DatetimeParts -----------------------------------------------------------------------------

MS_PER_DAY = 86_400_000
MS_PER_HOUR = 3_600_000


def _datetime_parts_shape(operator) -> None:
    from skl2onnx.common.data_types import DoubleTensorType

    columns = sum(i.get_second_dimension() or 1 for i in operator.inputs)
    width = columns * len(operator.raw_operator.parts)
    operator.outputs[0].type = DoubleTensorType([operator.inputs[0].get_first_dimension(), width])


class _Arithmetic:
    """Nodes of double arithmetic, each named once."""

    def __init__(self, scope, container):
        self.scope, self.container = scope, container
        self._constants: dict[float, str] = {}

    def constant(self, value: float) -> str:
        from skl2onnx.proto import onnx_proto

        if value not in self._constants:
            name = self.scope.get_unique_variable_name("dt_constant")
            self.container.add_initializer(name, onnx_proto.TensorProto.DOUBLE, [], [value])
            self._constants[value] = name
        return self._constants[value]

    def node(self, op: str, *inputs, **attributes) -> str:
        names = [self.constant(float(i)) if isinstance(i, int | float) else i for i in inputs]
        out = self.scope.get_unique_variable_name(f"dt_{op.lower()}")
        self.container.add_node(
            op, names, [out], name=self.scope.get_unique_operator_name(op), **attributes
        )
        return out

    def add(self, a, b):
        return self.node("Add", a, b)

    def sub(self, a, b):
        return self.node("Sub", a, b)

    def mul(self, a, b):
        return self.node("Mul", a, b)

    def floordiv(self, a, b):
        return self.node("Floor", self.node("Div", a, b))

    def where_less(self, a, bound, then, otherwise):
        return self.node("Where", self.node("Less", a, bound), then, otherwise)


def _civil(ops: _Arithmetic, days: str) -> dict[str, str]:
    """Year, month and day of the day numbers ``days`` (days since 1970-01-01), in whole
    numbers: http://howardhinnant.github.io/date_algorithms.html#civil_from_days"""
    z = ops.add(days, 719468)
    era = ops.floordiv(z, 146097)
    doe = ops.sub(z, ops.mul(era, 146097))  # day of the 400-year era, [0, 146096]
    yoe = ops.floordiv(
        ops.sub(
            ops.add(ops.sub(doe, ops.floordiv(doe, 1460)), ops.floordiv(doe, 36524)),
            ops.floordiv(doe, 146096),
        ),
        365,
    )  # year of the era, [0, 399]
    doy = ops.sub(
        doe,
        ops.sub(ops.add(ops.mul(yoe, 365), ops.floordiv(yoe, 4)), ops.floordiv(yoe, 100)),
    )  # day of the year starting in March, [0, 365]
    mp = ops.floordiv(ops.add(ops.mul(doy, 5), 2), 153)  # month starting in March, [0, 11]
    day = ops.add(ops.sub(doy, ops.floordiv(ops.add(ops.mul(mp, 153), 2), 5)), 1)
    month = ops.where_less(mp, 10, ops.add(mp, 3), ops.sub(mp, 9))
    year = ops.add(ops.add(yoe, ops.mul(era, 400)), ops.where_less(month, 3, 1.0, 0.0))
    return {"year": year, "month": month, "day": day}


def _first_of_january(ops: _Arithmetic, year: str) -> str:
    """The day number of 1 January of ``year`` (``days_from_civil``)."""
    y = ops.sub(year, 1)  # January counts in the year before, when years start in March
    era = ops.floordiv(y, 400)
    yoe = ops.sub(y, ops.mul(era, 400))
    doe = ops.add(
        ops.sub(ops.add(ops.mul(yoe, 365), ops.floordiv(yoe, 4)), ops.floordiv(yoe, 100)), 306
    )
    return ops.sub(ops.add(ops.mul(era, 146097), doe), 719468)


def _parts_of(ops: _Arithmetic, ms: str, parts) -> list[str]:
    days = ops.floordiv(ms, MS_PER_DAY)
    civil = _civil(ops, days) if set(parts) & {"year", "month", "day", "dayofyear"} else {}
    values = {}
    for part in parts:
        if part in ("year", "month", "day"):
            values[part] = civil[part]
        elif part == "weekday":  # Monday is 0; 1970-01-01 was a Thursday
            shifted = ops.add(days, 3)
            values[part] = ops.sub(shifted, ops.mul(ops.floordiv(shifted, 7), 7))
        elif part == "hour":
            values[part] = ops.floordiv(ops.sub(ms, ops.mul(days, MS_PER_DAY)), MS_PER_HOUR)
        elif part == "dayofyear":
            values[part] = ops.add(ops.sub(days, _first_of_january(ops, civil["year"])), 1)
        else:
            raise UnsupportedStepError(f"DatetimeParts part {part!r} has no ONNX form")
    return [values[part] for part in parts]


def convert_datetime_parts(scope, operator, container) -> None:
    from skl2onnx.common.data_types import DoubleTensorType
    from skl2onnx.proto import onnx_proto

    ops = _Arithmetic(scope, container)
    columns = []
    for variable in operator.inputs:
        if not isinstance(variable.type, DoubleTensorType):
            raise UnsupportedStepError("DatetimeParts takes milliseconds as doubles")
        count = variable.get_second_dimension() or 1
        for j in range(count):
            if count == 1:
                columns.append(variable.full_name)
                continue
            index = scope.get_unique_variable_name("dt_index")
            container.add_initializer(index, onnx_proto.TensorProto.INT64, [1], [j])
            columns.append(ops.node("Gather", variable.full_name, index, axis=1))
    parts = [p for column in columns for p in _parts_of(ops, column, operator.raw_operator.parts)]
    output = operator.outputs[0].full_name
    op = "Concat" if len(parts) > 1 else "Identity"
    attributes = {"axis": 1} if len(parts) > 1 else {}
    container.add_node(op, parts, [output], name=scope.get_unique_operator_name(op), **attributes)


# -- HistGradientBoosting ----------------------------------------------------------------------


def _int_flags(alias: str):
    """skl2onnx's converter for ``alias``, its boolean attribute lists written as ints."""

    def convert(scope, operator, container) -> None:
        from skl2onnx.common._registration import get_converter

        get_converter(alias)(scope, operator, _IntFlagsContainer(container))

    return convert


class _IntFlagsContainer:
    """A converter's container whose ``add_node`` writes booleans in attribute lists as ints."""

    def __init__(self, container):
        self._container = container

    def __getattr__(self, name):
        return getattr(self._container, name)

    def add_node(self, *args, **attributes):
        for key, value in attributes.items():
            if isinstance(value, list) and any(isinstance(v, bool | np.bool_) for v in value):
                attributes[key] = [int(v) for v in value]
        return self._container.add_node(*args, **attributes)
