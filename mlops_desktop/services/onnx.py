"""The compiled fast path: a model version as ONNX, run in onnxruntime.

A scikit-learn pipeline spends most of a single-row predict in per-call pandas and validation
overhead; the same pipeline converted with skl2onnx and run in onnxruntime answers in a small
fraction of that. The model server uses it only after ``check`` has found it agreeing with
scikit-learn on the version's hold-out rows, and serves with scikit-learn otherwise, saying
why; ``--format onnx`` exports the same graph.

The graph has one input per column the pipeline reads, shaped ``(rows, 1)``, so a request's
parsed columns are fed as they are, with no DataFrame:

- numbers, and true/false as 1.0/0.0, are ``double`` (``float`` where a step has no double
  form in skl2onnx or onnxruntime); missing is NaN;
- categories and text are ``string``; missing is the empty string "";
- dates, times of day and durations are ``double`` milliseconds since 1970-01-01 (a time of
  day on that day, a duration from it); missing is NaN. Time zones other than UTC are not
  converted: their daylight saving needs a time zone database.

Numbers are prepared (imputed, scaled) in double, as scikit-learn does. Tree ensembles then
take them as float, which is what scikit-learn's trees compare too; onnxruntime has no double
tree kernels. Classifiers output ``label`` and ``probabilities`` (a tensor, classes in
scikit-learn's order; no ZipMap), regressors ``variable``. The project's own transformers and
the steps skl2onnx gets wrong have converters in ``onnx_converters``. Nothing is cached in
the project file: a version is converted and checked each time it is served.
"""

from __future__ import annotations

import json
import logging
import math
import re
import time
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from mlops_desktop.domain.errors import UserError
from mlops_desktop.domain.model import ModelVersion
from mlops_desktop.domain.signature import InputColumn, Signature
from mlops_desktop.services import onnx_converters
from mlops_desktop.services.predictors import check_method

if TYPE_CHECKING:
    import pandas as pd

    from mlops_desktop.services.project import Project

log = logging.getLogger(__name__)

#: The ONNX opsets every graph is written for (onnxruntime 1.20 and later run them).
OPSET = 18
ML_OPSET = 3
#: Regression agrees when its largest relative error on the hold-out rows is below this.
REGRESSION_TOLERANCE = 1e-5
#: Class probabilities agree when no row's probability differs by more than this.
PROBABILITY_TOLERANCE = 1e-4
ENGINE = "onnxruntime"
#: Text for values a categorical column never had in training (the probe row).
UNSEEN = "mlops-desktop: a category never seen"

_STRING_TYPES = ("string", "large_string", "utf8", "large_utf8")
_TEMPORAL_TYPES = ("timestamp", "date32", "date64", "time32", "time64", "duration")
_TIME_ZONE = re.compile(r"tz=([^\]]+)")


class NotConvertibleError(Exception):
    """The version cannot run as ONNX; the message is one sentence that says why."""


# -- conversion --------------------------------------------------------------------------------


#: Metadata key of the graph's list of signature columns, one per input, in order.
COLUMNS_KEY = "mlops_desktop.columns"


@dataclass(frozen=True)
class OnnxInput:
    """One graph input: a column of the signature, and how it is fed."""

    name: str  # the signature's column
    kind: str  # "number", "boolean", "string" or "datetime" (milliseconds since 1970)
    onnx_type: str  # "double", "float" or "string"
    graph_name: str = ""  # the graph's name for it: skl2onnx makes names like "a (cm)" valid

    @property
    def fed_as(self) -> str:
        return self.graph_name or self.name

    @property
    def dtype(self):
        return {"double": np.float64, "float": np.float32, "string": object}[self.onnx_type]


#: Estimators that scikit-learn itself runs on float32 features (its trees cast ``X``) and
#: whose onnxruntime kernels take float: numbers are prepared in double and cast just before
#: the estimator, as scikit-learn does. (HistGradientBoosting compares in double in
#: scikit-learn; float is the nearest onnxruntime runs, and the check decides.)
_FLOAT_ESTIMATORS = (
    "DecisionTree",
    "RandomForest",
    "ExtraTrees",
    "GradientBoosting",
    "HistGradientBoosting",
)
#: How the numbers are computed, in the order tried: (precision of the numeric inputs and
#: their preparation, cast to float just before the estimator).
_PLANS = (("double", False), ("double", True), ("float", False))
#: The locale of TF-IDF's lower-casing (onnxruntime's default, en_US, is often not
#: installed; C.UTF-8 is on nearly every Linux). Where it is missing, the graph does not load
#: and the version is served by scikit-learn.
TEXT_LOCALE = "C.UTF-8"
#: scikit-learn's words (``\w`` in Python is Unicode letters, numbers and "_"), in the RE2
#: syntax of onnxruntime's Tokenizer, whose ``\w`` and ``\b`` are ASCII only (skl2onnx's own
#: stand-in, ``[a-zA-Z0-9_]+``, cuts "café" to "caf"). Single letters make tokens that no
#: vocabulary holds, as scikit-learn drops them.
TEXT_WORDS = r"[\p{L}\p{N}_]+"
_SKLEARN_WORDS = r"(?u)\b\w\w+\b"


def convert(model, signature: Signature) -> bytes:
    """``model`` (a fitted ``Pipeline([("features", ColumnTransformer), ("model", ...)])``) as
    a serialised ONNX model with one input per column it reads (see the module's docstring),
    probabilities as a tensor and fixed opsets (``OPSET``, ``ML_OPSET``).

    Numbers are computed in double where skl2onnx and onnxruntime can, else in float.
    Raises ``NotConvertibleError`` with the reason.
    """
    return _convert(model, signature)[0]


def _convert(model, signature: Signature) -> tuple[bytes, str]:
    """The graph, and how its numbers are computed (a few words, for the log)."""
    _, estimator = _parts(model)
    plans = _PLANS
    if type(estimator).__name__.startswith(_FLOAT_ESTIMATORS):
        plans = _PLANS[1:]
    failure = None
    for precision, cast in plans:
        try:
            data = _graph(model, signature, precision, cast)
            _session(data)  # onnxruntime must have a kernel for every node
        except NotConvertibleError:
            raise
        except onnx_converters.UnsupportedStepError as exc:
            raise NotConvertibleError(str(exc)) from None
        except Exception as exc:  # skl2onnx and onnxruntime raise anything at all
            log.debug("ONNX conversion (%s, cast %s) failed", precision, cast, exc_info=True)
            failure = failure or exc
            continue
        return data, f"{precision}, then float for the estimator" if cast else precision
    raise NotConvertibleError(_failure_reason(failure)) from None


def _graph(model, signature: Signature, precision: str, cast: bool) -> bytes:
    from skl2onnx import convert_sklearn
    from skl2onnx.sklapi import CastTransformer
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import Pipeline

    onnx_converters.register()
    inputs = graph_inputs(model, signature, precision)
    if cast:  # a new pipeline of the same fitted steps; the model itself is left alone
        model = Pipeline([*model.steps[:-1], ("to_float", CastTransformer()), model.steps[-1]])
    estimator = model.steps[-1][1]
    options = {id(estimator): {"zipmap": False}} if hasattr(estimator, "classes_") else {}
    for step in _steps(model):
        if isinstance(step, TfidfVectorizer):
            options[id(step)] = {"locale": TEXT_LOCALE}
            if step.token_pattern == _SKLEARN_WORDS:
                options[id(step)]["tokenexp"] = TEXT_WORDS
    with warnings.catch_warnings():
        # skl2onnx reads attributes scikit-learn has deprecated: nothing a user can act on
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        onx = convert_sklearn(
            model,
            initial_types=[(i.name, _tensor_type(i.onnx_type)) for i in inputs],
            target_opset={"": OPSET, "ai.onnx.ml": ML_OPSET},
            options=options or None,
            custom_conversion_functions=onnx_converters.conversion_functions(),
            custom_shape_calculators=onnx_converters.shape_calculators(),
            naming="mlops_",
        )
    onx.doc_string = "A model version of mlops_desktop, converted with skl2onnx."
    # The graph's inputs in order, by column: skl2onnx renames columns that are not valid names.
    onx.metadata_props.add(key=COLUMNS_KEY, value=json.dumps([i.name for i in inputs]))
    return onx.SerializeToString()


def _parts(model):
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    if (
        not isinstance(model, Pipeline)
        or len(model.steps) != 2
        or not isinstance(model.steps[0][1], ColumnTransformer)
    ):
        raise NotConvertibleError(
            "only pipelines built by mlops_desktop (features, then the model) are converted"
        )
    return model.steps[0][1], model.steps[1][1]


def graph_inputs(model, signature: Signature, precision: str = "double") -> list[OnnxInput]:
    """The graph's inputs for ``model``: the columns its ColumnTransformer reads, in the
    signature's order, with the type each is fed as."""
    features, _ = _parts(model)
    used: set[str] = set()
    for name, block, columns in features.transformers_:
        if (isinstance(block, str) and block == "drop") or name == "remainder":
            continue
        names = [columns] if isinstance(columns, str) else list(columns)
        if not all(isinstance(c, str) for c in names):
            raise NotConvertibleError("the pipeline picks its columns by position, not by name")
        used.update(names)
    inputs = []
    for column in signature.inputs:
        if column.name in used:
            used.discard(column.name)
            inputs.append(_input_for(column, precision))
    if used:
        raise NotConvertibleError(
            f"the pipeline reads {', '.join(sorted(used))}, which its signature lacks"
        )
    return inputs


def _input_for(column: InputColumn, precision: str) -> OnnxInput:
    arrow = column.type
    if arrow.startswith(_TEMPORAL_TYPES):
        zone = _TIME_ZONE.search(arrow)
        if zone and zone.group(1).strip() not in ("UTC", "+00:00", "Etc/UTC"):
            raise NotConvertibleError(
                f"column {column.name!r} has the time zone {zone.group(1).strip()}, whose "
                "daylight saving ONNX cannot apply"
            )
        return OnnxInput(column.name, "datetime", "double")
    if column.kind == "datetime":
        raise NotConvertibleError(
            f"column {column.name!r} holds dates as {arrow}, which only scikit-learn parses"
        )
    if column.kind == "boolean" or arrow == "bool":
        return OnnxInput(column.name, "boolean", precision)
    if arrow in _STRING_TYPES or arrow.startswith("dictionary"):
        return OnnxInput(column.name, "string", "string")
    if column.kind in ("text", "categorical"):
        raise NotConvertibleError(
            f"column {column.name!r} is treated as {column.kind} but holds {arrow} values, "
            "and only text categories are converted"
        )
    return OnnxInput(column.name, "number", precision)


def _tensor_type(onnx_type: str):
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType, StringTensorType

    kind = {"double": DoubleTensorType, "float": FloatTensorType, "string": StringTensorType}
    return kind[onnx_type]([None, 1])


def _steps(obj):
    """Every estimator inside ``obj``, ``obj`` included."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    yield obj
    if isinstance(obj, Pipeline):
        for _, step in obj.steps:
            yield from _steps(step)
    elif isinstance(obj, ColumnTransformer):
        for _, block, _ in obj.transformers_:
            if not isinstance(block, str):
                yield from _steps(block)


def _failure_reason(exc: Exception | None) -> str:
    """skl2onnx's or onnxruntime's complaint as a clause."""
    text = " ".join(str(exc).split()) if exc is not None else "unknown error"
    unknown = re.search(
        r"(?:shape calculator|converter) for (?:type|alias) '(?:<class ')?([\w.]+)", text
    )
    if unknown:
        return f"{unknown.group(1).rsplit('.', 1)[-1]} has no ONNX converter"
    if len(text) > 160:
        text = text[:157] + "…"
    return f"the pipeline could not be converted to ONNX ({type(exc).__name__}: {text})"


# -- running -----------------------------------------------------------------------------------


def _session(data: bytes, threads: int = 1):
    import onnxruntime as ort

    options = ort.SessionOptions()
    # One thread answers a single row fastest, and leaves the other core to the server.
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only: its warnings go to stderr, read by nobody
    return ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])


class OnnxPredictor:
    """A version's ONNX graph in one onnxruntime session, for the model server (its
    ``Predictor`` protocol). ``InferenceSession.run`` is thread-safe, so one predictor serves
    every request thread; nothing here changes after ``__init__``."""

    engine = ENGINE

    def __init__(
        self,
        data: bytes,
        version: ModelVersion,
        signature: Signature,
        classes=None,
        has_probabilities: bool = False,
        reason: str = "",
        precision: str = "",
        threads: int = 1,
    ):
        self.data = data
        self.version = version
        self.signature = signature
        self.reason = reason
        self.precision = precision
        self.session = _session(data, threads)
        types = {"tensor(double)": "double", "tensor(float)": "float", "tensor(string)": "string"}
        by_name = {c.name: c for c in signature.inputs}
        nodes = self.session.get_inputs()
        stored = self.session.get_modelmeta().custom_metadata_map.get(COLUMNS_KEY)
        names = json.loads(stored) if stored else [node.name for node in nodes]
        if len(names) != len(nodes):
            raise NotConvertibleError("the graph's inputs do not match its list of columns")
        self.inputs: list[OnnxInput] = []
        for node, name in zip(nodes, names, strict=True):
            column = by_name.get(name)
            if column is None or node.type not in types:
                raise NotConvertibleError(
                    f"the graph's input {node.name!r} ({node.type}) is not a signature column"
                )
            kind = _input_for(column, "double").kind
            self.inputs.append(OnnxInput(name, kind, types[node.type], node.name))
        self.outputs = [o.name for o in self.session.get_outputs()]
        self.classes = None if classes is None else [_plain(c) for c in classes]
        self.has_probabilities = has_probabilities and self.classes is not None
        # skl2onnx labels classes by their text, or by integer for whole-number classes
        self._labels: dict = {}
        for c in self.classes or []:
            self._labels[str(c)] = c
            if isinstance(c, bool | int) or (isinstance(c, float) and c.is_integer()):
                self._labels[int(c)] = c
        # Text and integer classes come back as themselves (bool and float ones do not): a
        # whole batch of such labels is then one tolist() and a set check.
        self._plain_classes = (
            set(self.classes)
            if self.classes and all(type(c) in (str, int) for c in self.classes)
            else None
        )

    def feeds(self, columns: dict[str, np.ndarray], rows: int) -> dict[str, np.ndarray]:
        """The graph's inputs from parsed request columns: ``(rows, 1)`` arrays in the types
        it wants; a column the request lacks is all missing."""
        feeds = {}
        for spec in self.inputs:
            values = columns.get(spec.name)
            if values is None:
                values = np.full(rows, None, dtype=object)
            feeds[spec.fed_as] = _column(values, spec).reshape(rows, 1)
        return feeds

    def predict(self, columns: dict[str, np.ndarray], rows: int, method: str = "predict") -> list:
        """Labels (in the classes' own type), probability rows (lists of floats, classes in
        scikit-learn's order) or regression floats, as plain JSON-able values."""
        check_method(self.version, method, self.has_probabilities)
        if rows == 0:
            return []
        wanted = self.outputs[1:2] if method == "predict_proba" else self.outputs[:1]
        (output,) = self.session.run(wanted, self.feeds(columns, rows))
        if self.classes is None:
            return np.asarray(output, dtype=np.float64).reshape(rows).tolist()
        if method == "predict_proba":
            return np.asarray(output, dtype=np.float64).reshape(rows, -1).tolist()
        labels = np.asarray(output).reshape(rows)
        if self._plain_classes is not None:
            found = labels.tolist()
            if set(found) <= self._plain_classes:
                return found
        try:
            return [self._labels[_plain(label)] for label in labels]
        except KeyError as exc:
            raise RuntimeError(f"the ONNX graph gave a label {exc} that is no class") from None


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value


def _column(values, spec: OnnxInput) -> np.ndarray:
    """One request column (1-D) as the graph's input wants it."""
    values = np.asarray(values)
    if spec.kind == "string":
        if values.dtype.kind == "U":
            return values.astype(object)
        # What the server parses (text, or None for missing), without a call per value.
        present = set(map(type, values.tolist())) if values.dtype == object else set()
        if present and present <= {str, type(None)}:
            if type(None) not in present:
                return values
            text = values.copy()
            text[np.equal(values, None)] = ""
            return text
        return np.array([_text(v) for v in values.tolist()], dtype=object)
    if spec.kind == "datetime":
        return _milliseconds(values)
    if values.dtype.kind in "fiub":
        return values.astype(spec.dtype, copy=False)
    if spec.kind == "boolean" and values.dtype == object:
        present = set(map(type, values.tolist()))
        if present and present <= {bool, type(None)}:  # as the server parses true/false
            missing = np.equal(values, None)
            numbers = np.full(len(values), math.nan, dtype=spec.dtype)
            numbers[~missing] = values[~missing].astype(bool)
            return numbers
    convert = _truth if spec.kind == "boolean" else float
    numbers = [math.nan if _missing(v) else convert(v) for v in values.tolist()]
    return np.array(numbers, dtype=spec.dtype)


def _milliseconds(values: np.ndarray) -> np.ndarray:
    """Dates, times of day and durations as milliseconds since 1970-01-01 (a time of day
    falls on that day, as ``DatetimeParts`` has it), NaN for missing."""
    if values.dtype.kind in "Mm":
        unit = "datetime64[ms]" if values.dtype.kind == "M" else "timedelta64[ms]"
        ms = values.astype(unit)
        out = ms.astype(np.int64).astype(np.float64)
        out[np.isnat(ms)] = np.nan
        return out
    if values.dtype.kind in "fiu":
        return values.astype(np.float64)
    return np.array([_millisecond(v) for v in values.tolist()], dtype=np.float64)


def _millisecond(value) -> float:
    import datetime as dt

    if _missing(value):
        return math.nan
    if isinstance(value, dt.time):
        seconds = value.hour * 3600 + value.minute * 60 + value.second
        return seconds * 1000.0 + value.microsecond // 1000
    if isinstance(value, dt.timedelta):
        return float(value // dt.timedelta(milliseconds=1))
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    elif isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        value = dt.datetime.combine(value, dt.time())
    return float(np.datetime64(value, "ms").astype(np.int64))


def _text(value) -> str:
    if _missing(value):
        return ""  # how the graph's imputers and encoders know missing text
    return value if isinstance(value, str) else str(value)


def _missing(value) -> bool:
    if value is None:
        return True
    try:
        return bool(value != value)  # NaN, NaT; pd.NA cannot be a truth value
    except (TypeError, ValueError):
        return True


def _truth(value) -> float:
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("true", "1", "yes"):
            return 1.0
        if lowered in ("false", "0", "no"):
            return 0.0
        raise ValueError(f"{value!r} is not true or false")
    return 1.0 if value else 0.0


# -- checking against scikit-learn -------------------------------------------------------------


def request_columns(frame: pd.DataFrame, signature: Signature) -> dict[str, np.ndarray]:
    """A frame's columns as the model server hands them to a predictor: numbers as float64
    with NaN, categories and text as objects (str or None), true/false as objects (bool or
    None), dates as datetime64[ms] in UTC, durations as timedelta64[ms], times of day as
    objects."""
    import pandas as pd

    columns = {}
    for column in signature.inputs:
        if column.name not in frame.columns:
            continue
        series = frame[column.name]
        if column.kind == "numeric":
            columns[column.name] = pd.to_numeric(series, errors="coerce").to_numpy(
                dtype=np.float64, na_value=np.nan
            )
        elif column.type.startswith(("timestamp", "date")):  # as the server has them
            moments = pd.to_datetime(series, errors="coerce")
            if getattr(moments.dt, "tz", None) is not None:
                moments = moments.dt.tz_convert("UTC").dt.tz_localize(None)
            columns[column.name] = moments.to_numpy(dtype="datetime64[ms]")
        elif column.type.startswith("duration"):
            columns[column.name] = series.to_numpy(dtype="timedelta64[ms]")
        else:
            columns[column.name] = np.array(
                [None if _missing(v) else v for v in series.tolist()], dtype=object
            )
    return columns


def check(
    onnx_predictor: OnnxPredictor,
    sklearn_model,
    X_holdout_frame: pd.DataFrame,
    signature: Signature,
    task: str,
) -> tuple[bool, str]:
    """Whether ONNX agrees with scikit-learn on the hold-out rows, and a sentence saying so
    (for the panel: how the version is served, and why).

    Classification: every label equal, and every class probability within
    ``PROBABILITY_TOLERANCE``; regression: ``relative_error`` under ``REGRESSION_TOLERANCE``.
    Two probe rows join the hold-out rows where scikit-learn takes them: every value missing,
    and categories never seen, as the server will meet them.
    """
    ok, clause = _compare(onnx_predictor, sklearn_model, X_holdout_frame, signature, task)
    return ok, f"{clause}." if ok else f"{clause}: served by scikit-learn."


def _compare(predictor, model, holdout, signature, task) -> tuple[bool, str]:
    held = len(holdout)
    if held == 0:
        return False, "There are no hold-out rows to check ONNX against"
    frame, probes = _with_probes(holdout, signature, model)
    rows = len(frame)
    where = f"{held} hold-out row{'s' * (held != 1)}"
    also = ""
    if probes:
        also = f" and on a row of {' and one of '.join(probes)}"
    columns = request_columns(frame, signature)
    try:
        got = predictor.predict(columns, rows, "predict")
    except Exception as exc:  # a graph that cannot run on real rows does not serve
        log.debug("ONNX predict failed during the check", exc_info=True)
        return False, f"ONNX failed on the hold-out rows ({_short(exc)})"
    want = model.predict(frame)
    if task == "regression":
        error = relative_error(np.asarray(got, dtype=np.float64), np.asarray(want, np.float64))
        if not error < REGRESSION_TOLERANCE:
            return False, (
                f"ONNX differed from scikit-learn by a relative {error:.2g} (over "
                f"{REGRESSION_TOLERANCE:g}) on the {where}{also}"
            )
        return True, (
            f"ONNX agreed with scikit-learn on all {where}{also} (largest relative "
            f"error {error:.1g})"
        )
    different = [_plain(a) != _plain(b) for a, b in zip(got, want, strict=True)]
    wrong = sum(different[:held])
    parts = [f"{wrong} of {held} hold-out labels differently"] if wrong else []
    parts += [
        f"a different label for the row of {probe}"
        for probe, bad in zip(probes, different[held:], strict=True)
        if bad
    ]
    if parts:
        return False, f"ONNX gave {' and '.join(parts)}"
    if predictor.has_probabilities:
        got = np.asarray(predictor.predict(columns, rows, "predict_proba"))
        want = np.asarray(model.predict_proba(frame), dtype=np.float64)
        gap = float(np.max(np.abs(got - want))) if got.shape == want.shape else math.inf
        if not gap <= PROBABILITY_TOLERANCE:
            return False, (
                f"ONNX's class probabilities differed from scikit-learn's by up to {gap:.2g} "
                f"on the {where}{also}"
            )
    return True, f"ONNX agreed with scikit-learn on all {where}{also}"


def relative_error(got: np.ndarray, want: np.ndarray) -> float:
    """The largest ``|got - want| / max(|want|, mean |want|)``: relative where a prediction
    is large, and against the predictions' typical size near zero (where a relative error
    means nothing)."""
    if len(want) == 0:
        return 0.0
    if got.shape != want.shape or not np.isfinite(got).all():
        return math.inf
    scale = max(float(np.mean(np.abs(want))), np.finfo(np.float64).tiny)
    return float(np.max(np.abs(got - want) / np.maximum(np.abs(want), scale)))


def _with_probes(
    frame: pd.DataFrame, signature: Signature, model
) -> tuple[pd.DataFrame, list[str]]:
    """The hold-out rows followed by the probe rows scikit-learn itself can predict, and what
    each probe holds."""
    import pandas as pd

    texts = {c.name for c in signature.inputs if c.kind in ("categorical", "text")}
    first = frame.iloc[0]
    candidates = {"missing values": {name: [None] for name in frame.columns}}
    if texts & set(frame.columns):
        candidates["unseen categories"] = {
            name: [UNSEEN if name in texts else first[name]] for name in frame.columns
        }
    probes, names = [], []
    for name, values in candidates.items():
        probe = pd.DataFrame({c: _typed(v, frame[c].dtype) for c, v in values.items()})
        try:
            model.predict(probe)
        except Exception:  # scikit-learn itself refuses such a row: nothing to compare
            continue
        probes.append(probe)
        names.append(name)
    if not probes:
        return frame, []
    return pd.concat([frame, *probes], ignore_index=True), names


def _typed(values: list, dtype):
    """A one-row column in ``dtype`` where it can hold the value (objects where it cannot)."""
    import pandas as pd

    try:
        return pd.Series(values, dtype=dtype)
    except (TypeError, ValueError):
        return pd.Series(values, dtype=object)


def _short(exc: Exception) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 120 else text[:117] + "…"


# -- for the model server and exports ----------------------------------------------------------


def onnx_predictor_for(project: Project, version: ModelVersion, sklearn_model):
    """An ``OnnxPredictor`` for ``version`` once it has been checked against
    ``sklearn_model`` on the version's own hold-out rows (read again exactly as training split
    them), or the sentence saying why it is served by scikit-learn instead."""
    attempt = attempt_onnx(project, version, sklearn_model)
    if attempt.predictor is None:
        return f"{attempt.clause}: served by scikit-learn."
    return attempt.predictor


@dataclass
class Attempt:
    """What converting and checking a version gave."""

    predictor: OnnxPredictor | None  # None when it cannot run as ONNX
    clause: str  # what the check said, or why there is no predictor; starts a sentence
    holdout: pd.DataFrame | None = None  # the hold-out rows it was checked on


def attempt_onnx(project: Project, version: ModelVersion, sklearn_model) -> Attempt:
    """Convert ``version`` and check it against ``sklearn_model`` on its hold-out rows."""
    from mlops_desktop.domain.experiment import ExperimentSpec
    from mlops_desktop.domain.pipeline import split_holdout

    started = time.perf_counter()
    signature = Signature.from_json(version.signature)
    try:
        data, precision = _convert(sklearn_model, signature)
    except NotConvertibleError as exc:
        return Attempt(None, _capital(str(exc)))
    _, estimator = _parts(sklearn_model)
    predictor = OnnxPredictor(
        data,
        version,
        signature,
        classes=getattr(estimator, "classes_", None) if version.task != "regression" else None,
        has_probabilities=hasattr(sklearn_model, "predict_proba"),
        precision=precision,
    )
    converted = time.perf_counter()
    if version.dataset_version_uuid is None:
        return Attempt(None, "The data it was trained on is gone, so ONNX cannot be checked")
    try:
        datasets = project.datasets
        frame = datasets.load_frame(datasets.by_uuid(version.dataset_version_uuid))
        holdout = split_holdout(frame, ExperimentSpec.from_json(version.spec), version.task).X_test
    except UserError as exc:
        return Attempt(None, f"Its hold-out rows could not be read to check ONNX ({exc.message})")
    ok, clause = _compare(predictor, sklearn_model, holdout, signature, version.task)
    log.info(
        "%s: converted to ONNX (%s) in %.2f s, checked in %.2f s: %s",
        version.label,
        precision,
        converted - started,
        time.perf_counter() - converted,
        clause,
    )
    if not ok:
        return Attempt(None, clause, holdout)
    predictor.reason = f"{clause}."
    return Attempt(predictor, clause, holdout)


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]
