"""Generated bodies and headers thrown at the app in-process: never a 5xx."""

import asyncio
import json

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlops_desktop.services.predictors import load_predictor
from mlops_desktop.services.project import Project
from mlops_desktop.serving import parsing
from mlops_desktop.serving.app import Settings, create_app
from mlops_desktop.serving.state import ModelHolder, serve

JSON = {"content-type": "application/json"}
COLUMNS = ["tenure", "monthly", "plan", "region", "autopay", "signup"]


def in_process_client(served_project, **options):
    """Yields a client of the app, run in this process."""
    with Project.open(served_project, read_only=True) as project:
        predictor = load_predictor(project, project.models.get("churn:1"))
    app = create_app(
        ModelHolder(serve(predictor)),
        Settings(
            allowed_hosts=frozenset({"testserver"}), max_body_bytes=1 << 16, timeout=5, **options
        ),
    )
    loop = asyncio.new_event_loop()
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    http = httpx.AsyncClient(transport=transport, base_url="http://testserver")

    class Client:
        def post(self, path, **kwargs):
            return loop.run_until_complete(http.post(path, **kwargs))

    yield Client()
    loop.run_until_complete(http.aclose())
    loop.close()


@pytest.fixture(scope="module")
def client(served_project):
    yield from in_process_client(served_project)


@pytest.mark.parametrize("cors", [(), ("http://localhost:8080",)], ids=["direct", "cors"])
def test_an_unexpected_failure_is_a_500_with_the_error_shape(served_project, monkeypatch, cors):
    # Without CORS the guard answers /invocations itself; with it, FastAPI does.
    def broken(*args):
        raise RuntimeError("a fault in the server")

    for client in in_process_client(served_project, cors_origins=cors):
        body = encode({"dataframe_records": [{"tenure": 3}]})
        with monkeypatch.context() as patched:
            patched.setattr(parsing, "parse_body", broken)
            response = client.post("/invocations", content=body, headers=JSON)
        assert response.status_code == 500
        assert response.json() == {
            "error_code": "INTERNAL_ERROR",
            "message": "The server failed to answer; the details are in its log file.",
        }
        # It keeps serving: the next request gets its ordinary answer.
        assert client.post("/invocations", content=body, headers=JSON).status_code == 400


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.sampled_from(["2023-01-01", "2023-13-45", "pro", "north", "NaN", "", "1e400"]),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)
names = st.sampled_from([*COLUMNS, "id", "extra", ""]) | st.text(max_size=6)
record = st.dictionaries(names, values, max_size=8)
shapes = st.one_of(
    st.builds(lambda rows: {"dataframe_records": rows}, st.lists(record, max_size=4) | values),
    st.builds(lambda rows: {"instances": rows}, st.lists(record, max_size=4) | values),
    st.builds(
        lambda cols, data, index: {"dataframe_split": {"columns": cols, "data": data, **index}},
        st.lists(names, max_size=8) | values,
        st.lists(st.lists(values, max_size=8), max_size=4) | values,
        st.sampled_from([{}, {"index": [0]}, {"index": "x"}]),
    ),
    st.builds(
        lambda cols: {"inputs": cols},
        st.dictionaries(names, st.lists(values, max_size=3) | values, max_size=8) | values,
    ),
    st.dictionaries(
        st.sampled_from(["dataframe_split", "inputs", "params", "x"]), values, max_size=3
    ),
    values,
)
params = st.one_of(
    st.just({}),
    st.builds(lambda p: {"params": p}, values | st.fixed_dictionaries({"predict_method": values})),
)


def encode(payload) -> bytes:
    return json.dumps(payload, allow_nan=True).encode()


content_types = st.one_of(
    st.sampled_from(
        [
            "application/json",
            "application/json; charset=utf-8",
            "application/json; charset=latin-1",
            "application/json; x=1",
            "text/csv",
            "application/vnd.apache.parquet",
            "text/plain",
            "multipart/form-data; boundary=x",
            "",
        ]
    ),
    st.text(max_size=30).filter(lambda t: "\n" not in t and "\r" not in t),
)
raw_bodies = st.one_of(
    st.binary(max_size=200),
    st.builds(
        lambda header, rows: (
            ",".join(header) + "\n" + "\n".join(",".join(r) for r in rows)
        ).encode(),
        st.lists(names, max_size=7),
        st.lists(st.lists(st.text(max_size=5), max_size=7), max_size=4),
    ),
)


def check(response):
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        error = response.json()
        assert set(error) == {"error_code", "message"}
        assert error["message"]


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    body=shapes,
    extra=params,
    content_type=st.sampled_from(["application/json", "application/json; charset=utf-8"]),
)
def test_generated_json_requests_are_never_5xx(client, body, extra, content_type):
    payload = {**body, **extra} if isinstance(body, dict) else body
    check(
        client.post("/invocations", content=encode(payload), headers={"content-type": content_type})
    )


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    body=raw_bodies,
    content_type=content_types,
    path=st.sampled_from(["/invocations", "/metadata", "/ping", "/x"]),
)
def test_generated_bytes_and_headers_are_never_5xx(client, body, content_type, path):
    headers = {"content-type": content_type} if content_type else {}
    try:
        response = client.post(path, content=body, headers=headers)
    except UnicodeEncodeError:  # the client itself cannot send such a header
        return
    check(response)
