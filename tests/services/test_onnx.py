"""The compiled fast path: versions converted to ONNX, checked against scikit-learn, served
from parsed columns, and exported."""

import json
import subprocess
import sys
import threading
import time
import warnings

import numpy as np
import onnxruntime as ort
import pandas as pd
import pyarrow as pa
import pytest

from mlops_desktop.domain.errors import Cancelled, UserError
from mlops_desktop.domain.experiment import ExperimentSpec
from mlops_desktop.domain.model import ModelVersion
from mlops_desktop.domain.pipeline import split_holdout
from mlops_desktop.domain.signature import InputColumn, Signature
from mlops_desktop.domain.tasks import quiet_state
from mlops_desktop.services import modelfiles
from mlops_desktop.services import onnx as compiled
from mlops_desktop.services.exports import FORMATS, export_version
from tests.helpers import cancelling_after, leftovers
from tests.services.test_training import run_queue, save

ROWS = 300
CLASSIFIERS = ("forest", "logistic")
REGRESSORS = ("ridge", "trees", "boosting")
#: What a customer table has: numbers with gaps, a category with gaps, true/false with gaps.
FEATURES = ["age", "income", "city", "member"]
WORDS = ["good service", "bad delay", "Great price, good staff", "slow refund", "friendly café"]
OTHERS = ["when", "local", "note"]


def shop_table() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    age = rng.normal(40, 12, ROWS)
    age[rng.random(ROWS) < 0.1] = np.nan
    income = rng.lognormal(10, 0.5, ROWS)
    income[rng.random(ROWS) < 0.05] = np.nan
    cities = ["paris", "lyon", "nice", "lille", "metz"]
    city = rng.choice(cities, ROWS, p=[0.4, 0.3, 0.15, 0.1, 0.05]).astype(object)
    city[rng.random(ROWS) < 0.08] = None
    member = pd.array(rng.random(ROWS) < 0.5, dtype="boolean")
    member[rng.random(ROWS) < 0.07] = pd.NA
    paris = city == "paris"
    signal = (
        0.05 * (np.nan_to_num(age, nan=40) - 40)
        + 0.8 * paris
        + 0.7 * np.asarray(member.fillna(False), dtype=bool)
        + rng.normal(0, 0.5, ROWS)
    )
    spend = (
        3 * np.nan_to_num(age, nan=40)
        + 0.001 * np.nan_to_num(income, nan=20000)
        + 20 * paris
        + rng.normal(0, 5, ROWS)
    )
    return pd.DataFrame(
        {
            "age": age,
            "income": income,
            "city": city,
            "member": member,
            "when": pd.date_range("1999-12-25", periods=ROWS, freq="31h"),
            "local": pd.date_range("2024-03-20", periods=ROWS, freq="7h", tz="Europe/Paris"),
            "note": [f"{WORDS[i % len(WORDS)]} Ticket {i}" for i in range(ROWS)],
            "churn": np.where(signal > 0.6, "yes", "no"),
            "spend": spend,
        }
    )


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    """A project with two classifiers and three regressors on the shop table, and one
    classifier that also reads a date column."""
    from mlops_desktop.services.project import Project

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLOPS_DESKTOP_HOME", str(tmp_path_factory.mktemp("home")))
        patch.setenv("MLOPS_DESKTOP_USER", "tester")
        project = Project.create(tmp_path_factory.mktemp("project") / "onnx.mlops")
        table = pa.Table.from_pandas(shop_table(), preserve_index=False)
        project.datasets.save_table(table, "shop")
        churn = {"dataset": "shop", "target": "churn", "search": {"cv": 3}}
        churn["features"] = {"exclude": ["spend", *OTHERS]}
        spend = {"dataset": "shop", "target": "spend", "search": {"cv": 3}}
        spend["features"] = {"exclude": ["churn", *OTHERS]}
        save(project, name="forest", params={"n_estimators": 100}, **churn)
        save(project, name="logistic", estimator="LogisticRegression", params={}, **churn)
        save(project, name="ridge", estimator="Ridge", params={}, **spend)
        save(
            project,
            name="trees",
            estimator="RandomForestRegressor",
            params={"n_estimators": 30},
            **spend,
        )
        save(
            project,
            name="boosting",
            estimator="HistGradientBoostingRegressor",
            params={"max_iter": 50},
            **spend,
        )
        every_part = {"datetime_parts": ["year", "month", "day", "weekday", "hour", "dayofyear"]}
        dated = {"exclude": ["churn", "local", "note"], "columns": {"when": every_part}}
        save(project, name="dated", estimator="Ridge", params={}, **{**spend, "features": dated})
        zoned = {"exclude": ["spend", "when", "note"]}
        save(
            project,
            name="zoned",
            estimator="DecisionTreeClassifier",
            params={"max_depth": 3},
            **{**churn, "features": zoned},
        )
        run_queue(project)
    yield project
    project.close()


@pytest.fixture(scope="module")
def served(shop):
    """name -> (version, scikit-learn model, ONNX predictor or reason, hold-out rows)."""
    out = {}
    for name in (*CLASSIFIERS, *REGRESSORS, "dated", "zoned"):
        version = shop.models.get(f"{name}:1")
        model = modelfiles.load_model(shop.file.blobs.get(version.model_sha256))
        started = time.perf_counter()
        predictor = compiled.onnx_predictor_for(shop, version, model)
        print(f"{name}: converted and checked in {time.perf_counter() - started:.2f} s")
        frame = shop.datasets.load_frame("shop")
        holdout = split_holdout(frame, ExperimentSpec.from_json(version.spec), version.task)
        out[name] = (version, model, predictor, holdout.X_test)
    return out


def onnx_predict(predictor, frame, method="predict"):
    columns = compiled.request_columns(frame, predictor.signature)
    return predictor.predict(columns, len(frame), method)


def single_rows(holdout: pd.DataFrame) -> pd.DataFrame:
    """One-row requests a server meets: gaps in every column, and a city never seen."""
    first = holdout.iloc[[0]]
    rows = []
    for changes in (
        {"age": np.nan},
        {"income": np.nan, "member": None},
        {"city": None},
        {"city": "atlantis"},
        {"age": np.nan, "income": np.nan, "city": None, "member": None},
        {"city": "atlantis", "member": True},
    ):
        row = first.copy()
        for name, value in changes.items():
            row[name] = pd.Series([value], index=row.index, dtype=row[name].dtype)
        rows.append(row)
    return pd.concat(rows, ignore_index=True)


# -- every version converts and agrees ---------------------------------------------------------


@pytest.mark.parametrize("name", [*CLASSIFIERS, *REGRESSORS])
def test_a_realistic_pipeline_converts_and_passes_its_check(served, name):
    version, _model, predictor, holdout = served[name]
    assert isinstance(predictor, compiled.OnnxPredictor), predictor
    assert predictor.engine == "onnxruntime"
    assert predictor.version == version
    assert predictor.reason.startswith(
        f"ONNX agreed with scikit-learn on all {len(holdout)} hold-out rows and on a row of "
        "missing values and one of unseen categories"
    )
    # one input per column the pipeline reads, fed as (rows, 1)
    assert [i.name for i in predictor.session.get_inputs()] == FEATURES
    assert all(i.shape[1] == 1 for i in predictor.session.get_inputs())


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_labels_and_probabilities_equal_scikit_learns(served, name):
    _version, model, predictor, holdout = served[name]
    frame = pd.concat([holdout, single_rows(holdout)], ignore_index=True)
    labels = onnx_predict(predictor, frame)
    assert labels == list(model.predict(frame))
    assert all(type(label) is str for label in labels)
    probabilities = onnx_predict(predictor, frame, "predict_proba")
    assert isinstance(probabilities[0], list)
    assert isinstance(probabilities[0][0], float)
    np.testing.assert_allclose(probabilities, model.predict_proba(frame), rtol=0, atol=1e-5)
    for i in range(len(single_rows(holdout))):  # one row at a time, as a request comes
        row = single_rows(holdout).iloc[[i]]
        assert onnx_predict(predictor, row) == list(model.predict(row))
    json.dumps([labels, probabilities])


@pytest.mark.parametrize("name", REGRESSORS)
def test_regression_agrees_within_the_tolerance(served, name):
    _version, model, predictor, holdout = served[name]
    frame = pd.concat([holdout, single_rows(holdout)], ignore_index=True)
    predicted = onnx_predict(predictor, frame)
    assert all(type(v) is float for v in predicted)
    expected = model.predict(frame)
    assert compiled.relative_error(np.array(predicted), expected) < compiled.REGRESSION_TOLERANCE
    np.testing.assert_allclose(predicted, expected, rtol=1e-5)
    with pytest.raises(UserError, match="does not give class probabilities"):
        onnx_predict(predictor, frame, "predict_proba")


def test_every_part_of_a_date_agrees(served):
    _version, model, predictor, holdout = served["dated"]
    assert isinstance(predictor, compiled.OnnxPredictor), predictor
    assert [i.name for i in predictor.session.get_inputs()] == [*FEATURES, "when"]
    rows = holdout.iloc[[0, 0, 0]].copy()
    rows["when"] = pd.Series(
        pd.to_datetime(["1600-02-29 23:59:59", "2400-12-31 00:30:00", None]).as_unit("us"),
        index=rows.index,
    )
    frame = pd.concat([holdout, rows], ignore_index=True)
    predicted = onnx_predict(predictor, frame)
    np.testing.assert_allclose(predicted, model.predict(frame), rtol=1e-12)


def test_date_parts_are_exact_for_every_kind_of_moment():
    """Timestamps over eight centuries, dates, times of day and durations, with gaps."""
    import datetime as dt

    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import DoubleTensorType

    from mlops_desktop.domain.experiment import DATETIME_PARTS
    from mlops_desktop.domain.transformers import DatetimeParts
    from mlops_desktop.services import onnx_converters

    rng = np.random.default_rng(5)
    ms = rng.integers(-11_676_096_000_000, 13_569_465_600_000, 5000)  # 1600 to 2400
    moments = pd.Series(ms.astype("datetime64[ms]")).astype("datetime64[us]")
    moments[::97] = pd.NaT
    columns = {
        "moment": moments,
        "day": pd.Series([None if i % 7 == 0 else dt.date(2024, 1, 1) + dt.timedelta(i)
                          for i in range(5000)], dtype=object),
        "time": pd.Series([dt.time(i % 24, i % 60, i % 59, 1000 * (i % 999)) for i in range(5000)]),
        "lasted": pd.Series(pd.to_timedelta(rng.integers(0, 10**9, 5000), unit="s")),
    }  # fmt: skip
    onnx_converters.register()
    parts = DatetimeParts(parts=DATETIME_PARTS)
    for name, values in columns.items():
        frame = pd.DataFrame({name: values})
        expected = parts.fit(frame).transform(frame)
        graph = convert_sklearn(
            parts, initial_types=[(name, DoubleTensorType([None, 1]))], target_opset=18
        )
        session = ort.InferenceSession(graph.SerializeToString())
        fed = compiled._milliseconds(np.asarray(values.to_numpy())).reshape(-1, 1)
        (got,) = session.run(None, {name: fed})
        np.testing.assert_array_equal(got, expected, err_msg=name)


def test_a_request_may_leave_out_a_column_or_send_raw_values(served):
    _version, model, predictor, holdout = served["logistic"]
    row = holdout.iloc[[0]].copy()
    row["city"] = pd.Series([None], index=row.index, dtype=row["city"].dtype)
    expected = list(model.predict(row))
    columns = compiled.request_columns(row, predictor.signature)
    del columns["city"]
    assert predictor.predict(columns, 1, "predict") == expected
    raw = {
        "age": np.array([str(row["age"].iloc[0])], dtype=object),
        "income": np.array([row["income"].iloc[0]]),
        "member": np.array([{True: "true", False: "false"}.get(row["member"].iloc[0])]),
    }
    assert predictor.predict(raw, 1, "predict") == expected
    assert predictor.predict({}, 0, "predict") == []


def test_one_predictor_serves_many_threads(served):
    _version, model, predictor, holdout = served["forest"]
    expected = list(model.predict(holdout))
    columns = compiled.request_columns(holdout, predictor.signature)
    results = []

    def work():
        for _ in range(20):
            results.append(predictor.predict(columns, len(holdout), "predict") == expected)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [True] * 80


def test_a_single_row_is_much_faster_than_scikit_learn(served):
    """Printed for the log; asserted only as a ratio measured here and now."""
    for name in ("forest", "logistic"):
        _version, model, predictor, holdout = served[name]
        row = holdout.iloc[[0]]
        columns = compiled.request_columns(row, predictor.signature)
        sklearn_times, onnx_times = [], []
        for _ in range(15):
            started = time.perf_counter()
            model.predict(row)
            sklearn_times.append(time.perf_counter() - started)
            for _ in range(10):
                started = time.perf_counter()
                predictor.predict(columns, 1, "predict")
                onnx_times.append(time.perf_counter() - started)
        sk, ox = np.median(sklearn_times), np.median(onnx_times)
        print(
            f"{name} ({type(model.steps[-1][1]).__name__}): single-row predict "
            f"scikit-learn {sk * 1000:.2f} ms, ONNX {ox * 1000:.3f} ms ({sk / ox:.0f}x)"
        )
        assert sk / ox > 5


# -- what does not convert, and checks that fail ----------------------------------------------


def test_dates_in_a_time_zone_give_their_reason(served):
    version, model, predictor, _holdout = served["zoned"]
    assert predictor == (
        "Column 'local' has the time zone Europe/Paris, whose daylight saving ONNX cannot "
        "apply: served by scikit-learn."
    )
    with pytest.raises(compiled.NotConvertibleError, match="Europe/Paris"):
        compiled.convert(model, compiled.Signature.from_json(version.signature))


class Shifted:
    """scikit-learn's model, with the labels of its first ``wrong`` rows (or its last row)
    changed, or its predictions scaled by ``factor``."""

    def __init__(self, model, wrong=0, last=False, factor=1.0):
        self.model, self.wrong, self.last, self.factor = model, wrong, last, factor

    def predict(self, frame):
        predicted = self.model.predict(frame)
        if self.factor != 1.0:
            return predicted * self.factor
        classes = self.model.classes_
        predicted = predicted.copy()
        changed = [len(predicted) - 1] if self.last and len(predicted) > 1 else []
        for i in [*range(self.wrong), *changed]:
            predicted[i] = classes[1] if predicted[i] == classes[0] else classes[0]
        return predicted

    def predict_proba(self, frame):
        return self.model.predict_proba(frame)


def test_a_check_that_fails_says_how(served):
    _version, model, predictor, holdout = served["logistic"]
    signature = predictor.signature
    assert compiled.check(predictor, model, holdout, signature, "binary") == (
        True,
        f"ONNX agreed with scikit-learn on all {len(holdout)} hold-out rows and on a row of "
        "missing values and one of unseen categories.",
    )
    assert compiled.check(predictor, Shifted(model, wrong=3), holdout, signature, "binary") == (
        False,
        f"ONNX gave 3 of {len(holdout)} hold-out labels differently: served by scikit-learn.",
    )
    assert compiled.check(predictor, Shifted(model, last=True), holdout, signature, "binary") == (
        False,
        "ONNX gave a different label for the row of unseen categories: served by scikit-learn.",
    )
    _version, ridge, regressor, rows = served["ridge"]
    ok, reason = compiled.check(
        regressor, Shifted(ridge, factor=1 + 1e-4), rows, regressor.signature, "regression"
    )
    assert not ok
    assert reason.startswith("ONNX differed from scikit-learn by a relative 0.0001 (over 1e-05)")
    assert reason.endswith(": served by scikit-learn.")


def test_relative_error_is_judged_on_the_predictions_scale_near_zero():
    want = np.array([100.0, -100.0, 0.0])
    assert compiled.relative_error(want, want) == 0.0
    assert compiled.relative_error(want + np.array([1e-4, 0, 0]), want) == pytest.approx(1e-6)
    # 1e-4 off a prediction of 0 is 1e-4 / (mean |y| = 66.7), not infinite
    assert compiled.relative_error(want + np.array([0, 0, 1e-4]), want) == pytest.approx(1.5e-6)
    assert compiled.relative_error(want + np.array([0, 0, np.nan]), want) == np.inf
    assert compiled.relative_error(np.zeros(2), np.zeros(2)) == 0.0


def bare_version(**fields) -> ModelVersion:
    defaults = dict.fromkeys(
        ("uuid", "model_uuid", "experiment_name", "dataset_version_uuid", "dataset_label"), ""
    )
    return ModelVersion(
        **defaults,
        name="bare",
        version=1,
        spec={},
        task=fields.get("task", "multiclass"),
        estimator="LogisticRegression",
        params={},
        metrics={},
        signature={},
        environment={},
        seed=0,
        fit_seconds=0.0,
        predict_seconds=0.0,
        model_sha256="",
        plots_sha256=None,
        search_sha256=None,
        created_at="",
        created_by="",
    )


def test_integer_classes_rare_and_unseen_categories():
    """Labels come back in the classes' own type; categories made infrequent by
    max_categories, and unseen ones, go where scikit-learn puts them."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    rng = np.random.default_rng(3)
    kinds = np.array(["a", "b", "c", "d", "e"], dtype=object)[rng.integers(0, 5, 200)]
    frame = pd.DataFrame({"x": rng.normal(size=200), "kind": kinds})
    y = (frame["x"] > 0).astype(int) + (frame["kind"] == "a").astype(int)
    categories = make_pipeline(
        SimpleImputer(strategy="constant", fill_value="missing"),
        OneHotEncoder(handle_unknown="infrequent_if_exist", max_categories=3),
    )
    features = ColumnTransformer(
        [("n", SimpleImputer(), ["x"]), ("c", categories, ["kind"])], sparse_threshold=0
    )
    model = Pipeline([("features", features), ("model", LogisticRegression())]).fit(frame, y)
    signature = Signature(
        (
            InputColumn("x", "double", "numeric", True),
            InputColumn("kind", "string", "categorical", True),
        ),
        "multiclass",
        "y",
        (0, 1, 2),
    )
    predictor = compiled.OnnxPredictor(
        compiled.convert(model, signature),
        bare_version(),
        signature,
        classes=model.steps[-1][1].classes_,
        has_probabilities=True,
    )
    probe = pd.DataFrame(
        {"x": [0.5, -0.5, np.nan, 1.0], "kind": pd.Series(["e", "zzz", None, "a"], dtype=object)}
    )
    test = pd.concat([frame.iloc[:50], probe], ignore_index=True)
    labels = onnx_predict(predictor, test)
    assert labels == list(model.predict(test))
    assert {type(label) for label in labels} == {int}
    np.testing.assert_allclose(
        onnx_predict(predictor, test, "predict_proba"), model.predict_proba(test), atol=1e-9
    )


# -- the catalogue -----------------------------------------------------------------------------


def fitted(project, estimator: str, columns: dict | None = None):
    """A pipeline compiled from a spec as training compiles it, fitted on its training rows
    (no cross-validation: quicker than a job), with its signature and hold-out rows."""
    from sklearn.exceptions import ConvergenceWarning

    from mlops_desktop.domain.estimators import CATALOGUE
    from mlops_desktop.domain.signature import signature_of

    regression = CATALOGUE[estimator][1] == "regression"
    target, other = ("spend", "churn") if regression else ("churn", "spend")
    features = {"exclude": [other, *(c for c in OTHERS if c not in (columns or {}))]}
    spec = ExperimentSpec.from_json(
        {
            "name": "direct",
            "dataset": "shop",
            "target": target,
            "estimator": estimator,
            "features": {**features, "columns": columns or {}},
        }
    )
    plan = project.experiments.plan(spec)
    split = split_holdout(project.datasets.load_frame("shop"), spec, plan.task)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = plan.pipeline.fit(split.X_train, split.y_train)
    classes = () if regression else model.classes_
    profile = project.datasets.profile("shop")
    signature = signature_of(profile, plan.columns, plan.task, target, classes)
    return model, signature, split.X_test, plan.task


def served_directly(project, estimator: str, columns: dict | None = None) -> str:
    """What converting and checking says: the check's sentence, or why it did not convert."""
    model, signature, holdout, task = fitted(project, estimator, columns)
    try:
        data = compiled.convert(model, signature)
    except compiled.NotConvertibleError as exc:
        return f"not converted: {exc}"
    predictor = compiled.OnnxPredictor(
        data,
        bare_version(task=task),
        signature,
        classes=None if task == "regression" else model.classes_,
        has_probabilities=hasattr(model, "predict_proba"),
    )
    return compiled.check(predictor, model, holdout, signature, task)[1]


def catalogue():
    from mlops_desktop.domain.estimators import CATALOGUE

    return list(CATALOGUE)


@pytest.mark.parametrize("estimator", catalogue())
def test_the_catalogue_converts_but_for_its_dummies(shop, estimator):
    said = served_directly(shop, estimator)
    print(f"{estimator}: {said}")
    if estimator.startswith("Dummy"):
        assert said == f"not converted: {estimator} has no ONNX converter"
    else:
        assert said.startswith("ONNX agreed with scikit-learn on all 60 hold-out rows"), said


@pytest.mark.parametrize(
    "columns",
    [
        {"city": {"encode": "ordinal"}},
        {"city": {"encode": "target"}},
        {"city": {"max_categories": 3}},
        {"city": {"impute": "most_frequent"}},
        {"city": {"impute": "none"}},
        {"age": {"scale": "minmax"}, "income": {"scale": "robust"}},
        {"age": {"impute": "mean"}, "income": {"impute": "constant", "impute_value": 0}},
        {"member": {"impute": "constant", "impute_value": 1}},
        {"note": {"type": "text", "role": "feature", "max_features": 20}},
    ],
    ids=lambda columns: ",".join(
        f"{k}:{'/'.join(map(str, v.values()))}" for k, v in columns.items()
    ),
)
@pytest.mark.parametrize("estimator", ["LogisticRegression", "Ridge"])
def test_every_column_treatment_converts(shop, columns, estimator):
    said = served_directly(shop, estimator, columns)
    print(f"{estimator} with {columns}: {said}")
    assert said.startswith("ONNX agreed with scikit-learn on all 60 hold-out rows"), said


# -- export ------------------------------------------------------------------------------------


def test_onnx_is_an_export_format():
    assert FORMATS["onnx"][2] == ".onnx"


@pytest.fixture(scope="module")
def exported(shop, tmp_path_factory):
    out = tmp_path_factory.mktemp("export") / "churn model.onnx"
    paths = export_version(shop, "forest:1", "onnx", out, quiet_state())
    return paths


def test_the_export_runs_in_onnxruntime_and_predicts_the_same(exported, served):
    onnx_file, description_file, readme_file = exported
    assert [p.name for p in exported] == ["churn model.onnx", "churn model.json", "churn model.md"]
    _version, model, predictor, holdout = served["forest"]
    description = json.loads(description_file.read_text())
    assert [i["name"] for i in description["inputs"]] == FEATURES
    assert {i["name"]: i["onnx_type"] for i in description["inputs"]} == {
        "age": "tensor(double)",
        "income": "tensor(double)",
        "city": "tensor(string)",
        "member": "tensor(double)",
    }
    assert [o["name"] for o in description["outputs"]] == ["label", "probabilities"]
    assert description["classes"] == ["no", "yes"]
    assert description["check"] == predictor.reason
    session = ort.InferenceSession(str(onnx_file), providers=["CPUExecutionProvider"])
    feeds = predictor.feeds(compiled.request_columns(holdout, predictor.signature), len(holdout))
    labels, probabilities = session.run(None, feeds)
    assert list(labels) == list(model.predict(holdout))
    np.testing.assert_allclose(probabilities, model.predict_proba(holdout), atol=1e-5)
    # the README's code runs as it is, from the file's folder
    text = readme_file.read_text()
    code = text.split("```python\n", 1)[1].split("```", 1)[0]
    ran = subprocess.run(
        [sys.executable, "-c", code],
        cwd=onnx_file.parent,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.startswith(f"['{model.predict(holdout.iloc[[0]])[0]}']")


def test_a_version_that_cannot_be_converted_is_refused_and_leaves_nothing(shop, tmp_path):
    with pytest.raises(UserError) as refused:
        export_version(shop, "zoned:1", "onnx", tmp_path / "zoned.onnx", quiet_state())
    assert refused.value.message == (
        "zoned:1 cannot be exported as ONNX: column 'local' has the time zone Europe/Paris, "
        "whose daylight saving ONNX cannot apply."
    )
    assert leftovers(tmp_path) == []


def test_a_version_that_fails_its_check_is_refused(shop, tmp_path, monkeypatch):
    real = compiled._compare
    monkeypatch.setattr(
        compiled,
        "_compare",
        lambda predictor, model, *args: real(predictor, Shifted(model, wrong=2), *args),
    )
    with pytest.raises(UserError, match="cannot be exported as ONNX: ONNX gave 2 of 60"):
        export_version(shop, "logistic:1", "onnx", tmp_path / "model.onnx", quiet_state())
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize(
    ("name", "fragment"),
    [("model.pkl", "must end in .onnx"), ("missing/model.onnx", "does not exist")],
)
def test_bad_destinations_are_refused(shop, tmp_path, name, fragment):
    with pytest.raises(UserError, match=fragment):
        export_version(shop, "ridge:1", "onnx", tmp_path / name, quiet_state())
    assert leftovers(tmp_path) == []


def test_an_existing_file_is_never_overwritten(shop, tmp_path):
    (tmp_path / "model.md").write_text("mine")
    with pytest.raises(UserError, match="already exists"):
        export_version(shop, "ridge:1", "onnx", tmp_path / "model.onnx", quiet_state())
    assert leftovers(tmp_path) == ["model.md"]
    assert (tmp_path / "model.md").read_text() == "mine"


@pytest.mark.parametrize("reports", [1, 2])
def test_a_cancelled_export_leaves_nothing(shop, tmp_path, reports):
    with pytest.raises(Cancelled):
        export_version(shop, "ridge:1", "onnx", tmp_path / "m.onnx", cancelling_after(reports))
    assert leftovers(tmp_path) == []


def test_a_failed_write_leaves_nothing(shop, tmp_path, monkeypatch):
    from pathlib import Path

    real = Path.write_text

    def full_disk(self, *args, **kwargs):
        if self.name.startswith(".m.md"):
            raise OSError(28, "No space left on device", str(self))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", full_disk)
    with pytest.raises(UserError, match="No space left"):
        export_version(shop, "ridge:1", "onnx", tmp_path / "m.onnx", quiet_state())
    assert leftovers(tmp_path) == []


def test_the_command_line_exports_onnx(shop, tmp_path):
    from tests.test_cli import run

    result = run(
        "models", "export", shop.path, "ridge:1", tmp_path / "sugar.onnx", "--format", "onnx",
        "--json", check_exit=0,
    )  # fmt: skip
    assert json.loads(result.stdout)["paths"] == [
        str(tmp_path / name) for name in ("sugar.onnx", "sugar.json", "sugar.md")
    ]


def test_columns_whose_names_are_not_identifiers_are_fed_by_their_graph_names(tmp_path):
    # scikit-learn's iris columns ("sepal length (cm)") are renamed by skl2onnx in the graph.
    from mlops_desktop.services.project import Project
    from tests.services.test_training import train_flowers

    with Project.open(train_flowers(tmp_path / "iris.mlops"), read_only=True) as project:
        version = project.models.get("flowers:1")
        model = modelfiles.load_model(project.file.blobs.get(version.model_sha256))
        predictor = compiled.onnx_predictor_for(project, version, model)
        frame = project.datasets.load_frame("iris")
    assert isinstance(predictor, compiled.OnnxPredictor), predictor
    assert {i.name for i in predictor.inputs} == {
        "sepal length (cm)",
        "sepal width (cm)",
        "petal length (cm)",
        "petal width (cm)",
    }
    assert all(i.fed_as.isidentifier() for i in predictor.inputs)
    rows = frame.drop(columns="target")
    assert onnx_predict(predictor, rows) == model.predict(rows).tolist()
