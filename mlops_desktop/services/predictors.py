"""Predictors: what the model server calls to turn parsed request columns into predictions.

The server parses each request straight into one NumPy array per input column, typed from
the model's signature (``served_columns``), and hands them to a ``Predictor``. Every engine
(scikit-learn here; ONNX Runtime in ``services/onnx.py``) implements the same protocol, and
``load_predictor`` is the one place that chooses which engine serves a version.

The arrays a predictor receives, one per *required* input column, all of length ``rows``:

============  ===================================================  =======================
family        Arrow types in the signature                         array
============  ===================================================  =======================
``number``    int*, uint*, float, double, decimal                  float64, NaN = missing
``boolean``   bool                                                 object: True/False/None
``string``    string, large_string                                 object: str/None
``datetime``  timestamp[...] (any unit, any time zone), date*       datetime64[ms] in UTC,
                                                                   NaT = missing
``time``      time32/time64                                        object: datetime.time/None
``duration``  duration[...]                                        timedelta64[ms], NaT
``other``     anything else                                        object: JSON values
============  ===================================================  =======================

A missing value only arrives where the pipeline fills it in (``ServedColumn.nullable``);
Infinity never does.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from mlops_desktop.domain.errors import UserError
from mlops_desktop.domain.signature import arrow_type

if TYPE_CHECKING:
    import numpy as np

    from mlops_desktop.domain.model import ModelVersion
    from mlops_desktop.services.project import Project

log = logging.getLogger(__name__)

PREDICT = "predict"
PREDICT_PROBA = "predict_proba"

#: What each kind of column is filled with when a spec does not say (``default_column``).
_DEFAULT_IMPUTE = {
    "numeric": "median",
    "boolean": "most_frequent",
    "datetime": "most_frequent",
    "text": "none",
    "categorical": "constant",
}
#: Kinds whose transformers take missing values as they are: the encoders treat a missing
#: category as one more (or unknown) category, and text turns missing into "".
_MISSING_AS_IS = frozenset({"categorical", "text"})
#: Estimators that take NaN in their input themselves.
_NAN_NATIVE = frozenset({"HistGradientBoostingClassifier", "HistGradientBoostingRegressor"})


class Predictor(Protocol):
    """Turns request columns into predictions; made by ``load_predictor``."""

    engine: str  # "scikit-learn", "onnxruntime"
    reason: str  # one sentence: why this engine serves the version
    version: ModelVersion

    def predict(self, columns: dict[str, np.ndarray], rows: int, method: str) -> list:
        """Predictions for ``rows`` rows, as plain JSON values: for ``predict``, class labels
        in the classes' own type (str, int, bool) or floats for regression; for
        ``predict_proba``, one list of floats per row, in ``signature.classes`` order."""
        ...


@dataclass(frozen=True)
class ServedColumn:
    """One input column as the server parses it."""

    name: str
    type: str  # the Arrow type it had in training
    kind: str  # numeric, categorical, datetime, text, boolean
    family: str  # number, boolean, string, datetime, time, duration, other
    nullable: bool  # whether the pipeline fills in a missing value
    whole: bool  # numbers that must be whole (an integer Arrow type)

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "type": self.type,
            "kind": self.kind,
            "nullable": self.nullable,
        }


def family_of(arrow_type: str) -> str:
    t = arrow_type.strip()
    if (
        t.startswith(("int", "uint"))
        or t in ("float", "double", "halffloat")
        or t.startswith("decimal")
    ):
        return "number"
    if t == "bool":
        return "boolean"
    if t in ("string", "large_string", "utf8", "large_utf8") or t.startswith(
        ("dictionary<values=string,", "dictionary<values=large_string,")
    ):
        return "string"
    if t.startswith(("timestamp", "date")):
        return "datetime"
    if t.startswith(("time32", "time64")):
        return "time"
    if t.startswith("duration"):
        return "duration"
    return "other"


def served_columns(version: ModelVersion) -> tuple[ServedColumn, ...]:
    """The columns a request must carry (the signature's required inputs), in order."""
    overrides = (version.spec.get("features") or {}).get("columns") or {}
    estimator = version.estimator
    columns = []
    for column in version.signature["inputs"]:
        if not column["required"]:
            continue
        kind = column["kind"]
        impute = (overrides.get(column["name"]) or {}).get("impute", _DEFAULT_IMPUTE.get(kind))
        nullable = (
            impute not in (None, "none") or kind in _MISSING_AS_IS or estimator in (_NAN_NATIVE)
        )
        family = family_of(column["type"])
        columns.append(
            ServedColumn(
                name=column["name"],
                type=column["type"],
                kind=kind,
                family=family,
                nullable=nullable,
                whole=family == "number" and column["type"].startswith(("int", "uint")),
            )
        )
    return tuple(columns)


def methods_of(version: ModelVersion) -> tuple[str, ...]:
    """The predict methods a version offers: ``predict_proba`` for classifiers only."""
    if version.task == "regression":
        return (PREDICT,)
    return (PREDICT, PREDICT_PROBA)


# -- scikit-learn ------------------------------------------------------------------------------


class SklearnPredictor:
    """A version served by scikit-learn itself, from its skops file.

    The columns are put back into a DataFrame with the very types training saw: an Arrow
    table of the signature's types, converted to pandas the way the training frame was.
    """

    engine = "scikit-learn"

    def __init__(self, version: ModelVersion, model, reason: str = "served by scikit-learn"):
        self.version = version
        self.reason = reason
        self.model = model
        self._columns = served_columns(version)
        self._types = {c.name: arrow_type(c.type) for c in self._columns}
        self._classifier = version.task != "regression"

    @classmethod
    def load(cls, project: Project, version: ModelVersion, **kwargs) -> SklearnPredictor:
        from mlops_desktop.services.modelfiles import load_version

        return cls(version, load_version(project.file.blobs, version), **kwargs)

    def frame(self, columns: dict[str, np.ndarray], rows: int):
        """The request's columns as the DataFrame the pipeline was trained on."""
        import pyarrow as pa

        arrays, names, odd = [], [], {}
        for column in self._columns:
            values = columns[column.name]
            target = self._types[column.name]
            if column.family == "datetime" and target is not None:
                array = pa.array(values, type=pa.timestamp("ms"))
                if getattr(target, "tz", None) is not None:
                    # The values are UTC: reinterpret them as instants in that zone.
                    array = array.cast(pa.int64()).cast(pa.timestamp("ms", tz="UTC"))
            else:
                try:
                    array = pa.array(values, from_pandas=True)
                except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
                    odd[column.name] = values  # e.g. nested values: given as they came
                    continue
            if target is not None and array.type != target:
                # Where a cast is impossible, the pipeline gets the values as parsed.
                with contextlib.suppress(pa.ArrowInvalid, pa.ArrowNotImplementedError):
                    array = array.cast(target)
            arrays.append(array)
            names.append(column.name)
        if arrays:
            frame = pa.Table.from_arrays(arrays, names=names).to_pandas()
        else:
            import pandas as pd

            frame = pd.DataFrame(index=range(rows))
        for name, values in odd.items():
            frame[name] = values
        return frame

    def predict(self, columns: dict[str, np.ndarray], rows: int, method: str = PREDICT) -> list:
        import numpy as np

        check_method(self.version, method, hasattr(self.model, "predict_proba"))
        frame = self.frame(columns, rows)
        if method == PREDICT_PROBA:
            return np.asarray(self.model.predict_proba(frame), dtype=np.float64).tolist()
        result = np.asarray(self.model.predict(frame))
        if not self._classifier:
            result = result.astype(np.float64)
        return result.tolist()


def check_method(version: ModelVersion, method: str, has_probabilities: bool) -> None:
    """Refuse a prediction method the version cannot answer, the same way for every engine."""
    if method not in (PREDICT, PREDICT_PROBA):
        raise UserError(f"{method!r} is not a prediction method: use predict or predict_proba.")
    if method == PREDICT_PROBA and not has_probabilities:
        raise UserError(
            f"{version.label} ({version.estimator}) does not give class probabilities: "
            "ask for predict."
        )


def load_predictor(project: Project, version: ModelVersion) -> Predictor:
    """The predictor that serves ``version``: the one place where the engine is chosen.

    Loads the model through ``modelfiles.load_model`` (only trusted types), so call it in the
    process that serves, never in the GUI's. ONNX when the version converts and agrees with
    scikit-learn on its hold-out rows; scikit-learn otherwise, with the reason why. Where
    scikit-learn predicted the hold-out rows clearly faster than ONNX (deep forests can), it
    answers the large requests (``SizeRouter``)."""
    from mlops_desktop.services.onnx import attempt_onnx

    sklearn = SklearnPredictor.load(project, version)
    try:
        attempt = attempt_onnx(project, version, sklearn.model)
    except Exception as exc:  # the fast path must never keep a version from being served
        log.exception("ONNX could not be used for %s", version.label)
        sklearn.reason = (
            f"ONNX could not be used ({type(exc).__name__}: {exc}): served by scikit-learn."
        )
        return sklearn
    if attempt.predictor is None:
        sklearn.reason = f"{attempt.clause}: served by scikit-learn."
        return sklearn
    return SizeRouter.measured(attempt.predictor, sklearn, attempt.holdout)


#: Requests of at least this many rows may go to the other engine; below, the compiled one
#: answers (a single row is where ONNX is tens of times faster).
LARGE_REQUEST_ROWS = 500
#: ONNX keeps the large requests unless scikit-learn took at most this share of its time.
_CLEARLY_FASTER = 0.85


class SizeRouter:
    """ONNX for small requests, scikit-learn for large ones, when it measured faster on the
    version's hold-out rows at load: a forest's deep trees can run faster in scikit-learn's
    tree code than in ONNX Runtime's once there are thousands of rows."""

    def __init__(self, small: Predictor, large: Predictor, reason: str):
        self.small, self.large = small, large
        self.engine = small.engine
        self.version = small.version
        self.reason = reason

    @classmethod
    def measured(cls, compiled: Predictor, sklearn: SklearnPredictor, holdout) -> Predictor:
        """``compiled`` alone, or routed with ``sklearn`` if that was clearly faster on the
        hold-out rows (too few rows to time fairly: ``compiled`` alone)."""
        import time

        from mlops_desktop.domain.signature import Signature
        from mlops_desktop.services.onnx import request_columns

        if holdout is None or len(holdout) < LARGE_REQUEST_ROWS:
            return compiled
        signature = Signature.from_json(compiled.version.signature)
        rows = len(holdout)
        columns = request_columns(holdout, signature)

        def timing(predictor) -> float:
            times = []
            for _ in range(3):
                started = time.perf_counter()
                predictor.predict(columns, rows, PREDICT)
                times.append(time.perf_counter() - started)
            return sorted(times)[1]

        try:
            ours, theirs = timing(compiled), timing(sklearn)
        except Exception:  # timing must never keep the checked engine from serving
            log.exception("could not time the engines of %s", compiled.version.label)
            return compiled
        log.info(
            "%s on %d hold-out rows: ONNX %.1f ms, scikit-learn %.1f ms",
            compiled.version.label,
            rows,
            ours * 1000,
            theirs * 1000,
        )
        if theirs > _CLEARLY_FASTER * ours:
            return compiled
        return cls(
            compiled,
            sklearn,
            f"{compiled.reason.rstrip('.')}. Requests of {LARGE_REQUEST_ROWS:,} rows or more "
            f"go to scikit-learn, which predicted the {rows:,} hold-out rows in "
            f"{theirs * 1000:.0f} ms against ONNX's {ours * 1000:.0f} ms.",
        )

    def predict(self, columns: dict[str, np.ndarray], rows: int, method: str = PREDICT) -> list:
        chosen = self.large if rows >= LARGE_REQUEST_ROWS else self.small
        return chosen.predict(columns, rows, method)
