"""Request bodies -> typed columns, with no server: every format, every refusal."""

import gc
import io
import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mlops_desktop.services.predictors import ServedColumn, family_of
from mlops_desktop.serving import parsing
from mlops_desktop.serving.errors import ServingError


def column(name, arrow_type, nullable=True, kind=None):
    family = family_of(arrow_type)
    kind = kind or {"number": "numeric", "string": "categorical"}.get(family, family)
    whole = family == "number" and arrow_type.startswith("int")
    return ServedColumn(name, arrow_type, kind, family, nullable, whole)


COLUMNS = (
    column("tenure", "int64"),
    column("monthly", "double", nullable=False),
    column("plan", "string"),
    column("autopay", "bool"),
    column("signup", "timestamp[ms]"),
)
ROWS = [
    {"tenure": 3, "monthly": 50.5, "plan": "pro", "autopay": True, "signup": "2023-04-01"},
    {"tenure": None, "monthly": 20, "plan": None, "autopay": False, "signup": None},
]
METHODS = ("predict", "predict_proba")


def parse(payload, mime=parsing.JSON, columns=COLUMNS, methods=METHODS):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return parsing.parse_body(body, mime, columns, methods)


def refused(payload, fragment, status=400, mime=parsing.JSON, columns=COLUMNS):
    with pytest.raises(ServingError) as caught:
        parse(payload, mime, columns)
    assert caught.value.status == status, caught.value.message
    assert fragment in caught.value.message
    return caught.value.message


def as_split(rows):
    names = list(rows[0])
    return {"columns": names, "data": [[row[n] for n in names] for row in rows]}


def as_columns(rows):
    return {name: [row[name] for row in rows] for name in rows[0]}


def check_rows(parsed):
    assert parsed.rows == 2
    columns = parsed.columns
    assert columns["tenure"].dtype == np.float64
    assert columns["tenure"][0] == 3
    assert np.isnan(columns["tenure"][1])
    assert columns["monthly"].tolist() == [50.5, 20.0]
    assert columns["plan"].tolist() == ["pro", None]
    assert columns["autopay"].tolist() == [True, False]
    assert columns["signup"].dtype == np.dtype("datetime64[ms]")
    assert columns["signup"][0] == np.datetime64("2023-04-01T00:00:00", "ms")
    assert np.isnat(columns["signup"][1])


@pytest.mark.parametrize(
    "payload",
    [
        {"dataframe_split": as_split(ROWS)},
        {"dataframe_split": {**as_split(ROWS), "index": [10, 11]}},
        {"dataframe_records": ROWS},
        {"instances": ROWS},
        {"instances": as_columns(ROWS)},
        {"inputs": as_columns(ROWS)},
        {"inputs": ROWS},
    ],
    ids=[
        "split",
        "split-index",
        "records",
        "instances",
        "instances-columns",
        "inputs",
        "inputs-rows",
    ],
)
def test_every_json_format_gives_the_same_columns(payload):
    check_rows(parse(payload))


def test_csv_and_parquet_give_the_same_columns():
    csv = "tenure,monthly,plan,autopay,signup,extra\n3,50.5,pro,true,2023-04-01,x\n,20,,false,,y\n"
    check_rows(parse(csv.encode(), parsing.CSV))
    table = pa.table(
        {
            "tenure": pa.array([3, None], pa.int64()),
            "monthly": [50.5, 20.0],
            "plan": ["pro", None],
            "autopay": [True, False],
            "signup": pa.array(
                [np.datetime64("2023-04-01T00:00:00", "ms"), None], pa.timestamp("ms")
            ),
            "extra": ["x", "y"],
        }
    )
    sink = io.BytesIO()
    pq.write_table(table, sink)
    check_rows(parse(sink.getvalue(), parsing.PARQUET))


def test_one_row_of_single_values_and_params():
    parsed = parse({"inputs": ROWS[0], "params": {"predict_method": "predict_proba"}})
    assert parsed.rows == 1
    assert parsed.method == "predict_proba"


def test_extra_columns_are_ignored_and_nan_is_missing():
    rows = [{**ROWS[0], "tenure": float("nan"), "unused": [1, {"deep": True}]}]
    body = json.dumps({"dataframe_records": rows}).encode()  # NaN, as Python writes it
    parsed = parsing.parse_body(body, parsing.JSON, COLUMNS, METHODS)
    assert np.isnan(parsed.columns["tenure"][0])
    assert set(parsed.columns) == {c.name for c in COLUMNS}


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        (b"{bad", "not valid JSON"),
        (b"[1, 2]", "it is a list"),
        (b"3", "it is a JSON number"),
        (b'"text"', "it is a JSON string"),
        (b"   ", "body is empty"),
        (b"\xff\xfe{}", "not valid UTF-8"),
        ({"dataframe_split": as_split(ROWS), "inputs": {}}, "it has dataframe_split and inputs"),
        ({"params": {}}, "it has none of them"),
        ({"inputs": ROWS, "extra": 1}, "unknown key 'extra'"),
        ({"inputs": ROWS, "params": [1]}, "params must be an object"),
        ({"inputs": ROWS, "params": {"temperature": 1}}, "unknown parameter 'temperature'"),
        ({"inputs": ROWS, "params": {"predict_method": "fit"}}, "'fit' is not known"),
        ({"dataframe_split": [1]}, "dataframe_split must be an object"),
        ({"dataframe_split": {"data": [[1]]}}, "needs columns"),
        ({"dataframe_split": {"columns": ["a"], "data": [[1]], "x": 1}}, "unknown key 'x'"),
        (
            {"dataframe_split": {"columns": ["tenure", "monthly"], "data": [[1]]}},
            "row 1 has 1 values",
        ),
        ({"dataframe_split": {**as_split(ROWS), "index": [1]}}, "one label per row"),
        ({"dataframe_records": {"a": 1}}, "must be a list of objects"),
        ({"dataframe_records": [ROWS[0], 5]}, "row 2 is a number"),
        ({"dataframe_records": []}, "is empty"),
        ({"dataframe_split": {"columns": list(ROWS[0]), "data": []}}, "no rows"),
        ({"instances": [1, 2]}, "must name the columns"),
        ({"inputs": "x"}, "it is a string"),
        ({"inputs": {**as_columns(ROWS), "tenure": 3}}, "has a single value"),
        ({"inputs": {**as_columns(ROWS), "monthly": [1.0]}}, "has 1 values but 'tenure' has 2"),
        (
            {"dataframe_records": [{k: v for k, v in ROWS[0].items() if k != "plan"}]},
            "no column 'plan'",
        ),
        ({"dataframe_records": [{**ROWS[0], "monthly": "50"}]}, "'monthly' takes numbers"),
        ({"dataframe_records": [{**ROWS[0], "monthly": True}]}, "'monthly' takes numbers"),
        ({"dataframe_records": [{**ROWS[0], "monthly": [1]}]}, "'monthly' takes numbers"),
        ({"dataframe_records": [{**ROWS[0], "monthly": None}]}, "'monthly' has no value in row 1"),
        (
            {"dataframe_records": [{**ROWS[0], "tenure": 2.5}]},
            "takes whole numbers (int64), but row 1 has 2.5",
        ),
        ({"dataframe_records": [{**ROWS[0], "plan": 7}]}, "'plan' takes text"),
        ({"dataframe_records": [{**ROWS[0], "autopay": "yes"}]}, "'autopay' takes true or false"),
        ({"dataframe_records": [{**ROWS[0], "signup": "soon"}]}, "'signup' takes dates"),
        ({"dataframe_records": [{**ROWS[0], "tenure": 10**400}]}, "too large"),
    ],
)
def test_bad_json_is_refused_with_a_sentence_naming_the_fault(payload, fragment):
    refused(payload, fragment)


def test_the_collector_runs_again_after_a_parse_good_or_bad():
    parsing.parse_body(json.dumps({"dataframe_records": ROWS}).encode(), parsing.JSON, COLUMNS)
    assert gc.isenabled()
    refused(b'{"dataframe_records": [', "not valid JSON")
    assert gc.isenabled()
    gc.disable()  # paused by someone else: left paused
    try:
        parsing.parse_body(json.dumps({"inputs": ROWS}).encode(), parsing.JSON, COLUMNS)
        assert not gc.isenabled()
    finally:
        gc.enable()


@pytest.mark.parametrize("literal", ["Infinity", "-Infinity"])
def test_infinity_is_refused(literal):
    row = json.dumps(ROWS[0]).replace("50.5", literal)
    message = refused(f'{{"dataframe_records": [{row}]}}'.encode(), "Infinity in row 1")
    assert "'monthly'" in message


def test_nan_where_the_model_cannot_fill_it_in():
    row = json.dumps(ROWS[0]).replace("50.5", "NaN")
    refused(f'{{"dataframe_records": [{row}]}}'.encode(), "'monthly' has no value")


def test_a_regressor_has_no_probabilities():
    with pytest.raises(ServingError, match="needs a classifier"):
        parsing.parse_body(
            json.dumps({"inputs": ROWS, "params": {"predict_method": "predict_proba"}}).encode(),
            parsing.JSON,
            COLUMNS,
            ("predict",),
        )


def test_nesting_and_width_are_bounded():
    refused(b"[" * 100_000 + b"]" * 100_000, "nested too deeply")
    refused(b'{"inputs": ' + b"[" * 50_000 + b"]" * 50_000 + b"}", "nested too deeply")
    wide = {"dataframe_split": {"columns": [f"c{i}" for i in range(20_000)], "data": []}}
    refused(wide, "20,000 columns", status=413)
    refused({"inputs": {f"c{i}": [1] for i in range(20_000)}}, "20,000 columns", status=413)
    refused(b'{"inputs": [' + b"{}," * 2_000_001 + b"{}]}", "objects and arrays", status=413)


@pytest.mark.parametrize(
    ("csv", "fragment"),
    [
        ("3,50.5,pro,true,2023-04-01\n", "must be a header"),
        ("tenure,monthly,plan,autopay\n1,2,a,true\n", "no column 'signup'"),
        (
            "tenure,monthly,plan,autopay,signup\n1,abc,a,true,2023-01-01\n",
            "'monthly' takes numbers",
        ),
        ("tenure,monthly,plan,autopay,signup\n1,inf,a,true,2023-01-01\n", "Infinity"),
        ("tenure,monthly,plan,autopay,signup\n1,,a,true,2023-01-01\n", "'monthly' has no value"),
        ("tenure,monthly,plan,autopay,signup\n1,2,a,maybe,2023-01-01\n", "true or false"),
        ("tenure,monthly,plan,autopay,signup\n1,2,a,true\n", "CSV cannot be read"),
        ("tenure,monthly,plan,autopay,signup\n", "no rows"),
        ("tenure,tenure,monthly,plan,autopay,signup\n1,1,2,a,true,2023-01-01\n", "twice"),
    ],
)
def test_bad_csv_is_refused(csv, fragment):
    refused(csv.encode(), fragment, mime=parsing.CSV)


def test_bad_parquet_is_refused():
    refused(b"PAR1 not really", "not a Parquet file", mime=parsing.PARQUET)
    sink = io.BytesIO()
    pq.write_table(pa.table({"tenure": [1], "monthly": ["text"]}), sink)
    columns = COLUMNS[:2]
    refused(sink.getvalue(), "'monthly' takes numbers", mime=parsing.PARQUET, columns=columns)


@pytest.mark.parametrize(
    ("header", "status", "fragment"),
    [
        (None, 415, "no Content-Type"),
        ("", 415, "no Content-Type"),
        ("text/plain", 415, "'text/plain' is not supported"),
        ("application/x-www-form-urlencoded", 415, "not supported"),
        ("multipart/form-data; boundary=x", 415, "not supported"),
        ("application/json; charset=latin-1", 415, "charset 'latin-1'"),
        ("application/json; format=pandas-split", 415, "parameter 'format'"),
    ],
)
def test_content_types_other_than_the_protocols_are_refused(header, status, fragment):
    with pytest.raises(ServingError) as caught:
        parsing.media_type(header)
    assert caught.value.status == status
    assert fragment in caught.value.message


def test_accepted_content_types():
    assert parsing.media_type("application/json") == parsing.JSON
    assert parsing.media_type("Application/JSON; charset=UTF-8") == parsing.JSON
    assert parsing.media_type("text/csv") == parsing.CSV
    assert parsing.media_type("application/vnd.apache.parquet") == parsing.PARQUET
