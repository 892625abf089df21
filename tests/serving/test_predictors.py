"""The predictors: scikit-learn's and the ONNX one chosen for serving give the pipeline's own
answers on its hold-out rows."""

import json
import time

import numpy as np
import pandas as pd
import pytest

from mlops_desktop.domain.errors import UserError
from mlops_desktop.domain.experiment import ExperimentSpec
from mlops_desktop.domain.pipeline import split_holdout
from mlops_desktop.services import modelfiles
from mlops_desktop.services.predictors import (
    LARGE_REQUEST_ROWS,
    SizeRouter,
    SklearnPredictor,
    load_predictor,
    methods_of,
    served_columns,
)
from mlops_desktop.services.project import Project
from mlops_desktop.serving import parsing


def holdout(project, version):
    spec = ExperimentSpec.from_json(version.spec)
    frame = project.datasets.load_frame(project.datasets.by_uuid(version.dataset_version_uuid))
    return split_holdout(frame, spec, version.task).X_test


def request_body(frame) -> bytes:
    """The rows as a client would send them: pandas' own JSON, dates as ISO text."""
    return json.dumps(
        {"dataframe_split": json.loads(frame.to_json(orient="split", date_format="iso"))}
    ).encode()


@pytest.mark.parametrize("chosen", [False, True], ids=["scikit-learn", "chosen"])
@pytest.mark.parametrize("ref", ["churn:1", "churn:2", "spend:1", "flowers:1"])
def test_predictions_match_the_pipeline_on_the_holdout_rows(served_project, ref, chosen):
    with Project.open(served_project, read_only=True) as project:
        version = project.models.get(ref)
        sklearn = SklearnPredictor.load(project, version)
        predictor = load_predictor(project, version) if chosen else sklearn
        rows = holdout(project, version)
    if chosen:  # these pipelines all compile, and agree on their hold-out rows
        assert predictor.engine == "onnxruntime"
        assert predictor.reason.startswith("ONNX agreed with scikit-learn on all")
    else:
        assert (predictor.engine, predictor.reason) == ("scikit-learn", "served by scikit-learn")
    model = sklearn.model
    columns = served_columns(version)
    parsed = parsing.parse_body(request_body(rows), parsing.JSON, columns, methods_of(version))
    got = predictor.predict(parsed.columns, parsed.rows, "predict")
    expected = model.predict(rows)
    if version.task == "regression":
        assert all(isinstance(v, float) for v in got)
        np.testing.assert_allclose(got, expected, rtol=1e-5 if chosen else 1e-9)
        with pytest.raises(UserError, match="does not give class probabilities"):
            predictor.predict(parsed.columns, parsed.rows, "predict_proba")
        return
    assert got == expected.tolist()
    assert all(type(v) is type(version.signature["output"]["classes"][0]) for v in got)
    proba = predictor.predict(parsed.columns, parsed.rows, "predict_proba")
    np.testing.assert_allclose(proba, model.predict_proba(rows), atol=1e-5 if chosen else 1e-12)
    assert all(isinstance(p, float) for p in proba[0])


def test_the_frame_has_the_training_types(served_project):
    with Project.open(served_project, read_only=True) as project:
        version = project.models.get("churn:1")
        predictor = SklearnPredictor.load(project, version)
        rows = holdout(project, version)
    parsed = parsing.parse_body(
        request_body(rows), parsing.JSON, served_columns(version), methods_of(version)
    )
    frame = predictor.frame(parsed.columns, parsed.rows)
    for name in frame.columns:
        assert frame[name].dtype == rows[name].dtype, name


def test_missing_values_where_the_pipeline_fills_them_in(served_project):
    with Project.open(served_project, read_only=True) as project:
        version = project.models.get("churn:1")
        predictor = load_predictor(project, version)
    columns = {c.name: c for c in served_columns(version)}
    assert all(c.nullable for c in columns.values())  # imputed, or a category of its own
    row = {name: [None] for name in columns}
    parsed = parsing.parse_body(
        json.dumps({"inputs": row}).encode(), parsing.JSON, tuple(columns.values())
    )
    assert predictor.predict(parsed.columns, 1, "predict")[0] in ("yes", "no")


def test_a_column_without_imputation_takes_no_missing_values(served_project):
    with Project.open(served_project, read_only=True) as project:
        version = project.models.get("churn:1")
    spec = dict(version.spec)
    spec["features"] = {"columns": {"monthly": {"impute": "none"}}, "exclude": []}
    from dataclasses import replace

    columns = {c.name: c for c in served_columns(replace(version, spec=spec))}
    assert not columns["monthly"].nullable
    assert columns["tenure"].nullable


def test_a_model_file_with_an_untrusted_type_is_refused(served_project):
    import warnings

    import skops.io as sio

    hostile = sio.dumps(warnings.WarningMessage("x", UserWarning, "f", 1))
    with Project.open(served_project, read_only=True) as project:
        version = project.models.get("flowers:1")
    with pytest.raises(UserError, match="not trusted"):
        SklearnPredictor(version, modelfiles.load_model(hostile))


class Timed:
    """A predictor that takes ``seconds`` a call and says which it is."""

    engine = "timed"
    reason = "Checked on the hold-out rows."

    def __init__(self, version, name: str, seconds: float):
        self.version, self.name, self.seconds = version, name, seconds
        self.calls: list[int] = []

    def predict(self, columns, rows, method="predict"):
        time.sleep(self.seconds)
        self.calls.append(rows)
        return [self.name] * rows


@pytest.fixture
def many_rows(served_project):
    with Project.open(served_project, read_only=True) as project:
        version = project.models.get("churn:1")
        rows = holdout(project, version)
    return version, pd.concat([rows] * (1 + LARGE_REQUEST_ROWS // len(rows)), ignore_index=True)


def test_large_requests_go_to_the_engine_that_was_clearly_faster(many_rows):
    version, rows = many_rows
    compiled, sklearn = Timed(version, "onnx", 0.03), Timed(version, "sklearn", 0.001)
    routed = SizeRouter.measured(compiled, sklearn, rows)
    assert isinstance(routed, SizeRouter)
    assert routed.engine == "timed"
    assert f"{len(rows):,} hold-out rows" in routed.reason
    assert routed.predict({}, 1) == ["onnx"]
    assert routed.predict({}, LARGE_REQUEST_ROWS - 1)[0] == "onnx"
    assert routed.predict({}, LARGE_REQUEST_ROWS)[0] == "sklearn"


def test_the_compiled_engine_keeps_everything_when_not_slower(many_rows):
    version, rows = many_rows
    compiled, sklearn = Timed(version, "onnx", 0.001), Timed(version, "sklearn", 0.03)
    assert SizeRouter.measured(compiled, sklearn, rows) is compiled
    # Too few rows to time fairly: not even measured.
    fresh = Timed(version, "onnx", 0.03)
    assert SizeRouter.measured(fresh, sklearn, rows.head(10)) is fresh
    assert fresh.calls == []
