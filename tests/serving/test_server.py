"""A real ``mlops-desktop serve`` process on a free port: routes, protocol, limits, security."""

import io
import json
import socket
import threading
import time

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mlops_desktop.version import __version__
from tests.serving.conftest import CHURN_COLUMNS, ServerProcess

TIMEOUT = 2  # the servers' --timeout, seconds
ROWS = [
    {
        "tenure": 3,
        "monthly": 50.5,
        "plan": "basic",
        "region": "north",
        "autopay": False,
        "signup": "2023-04-01",
    },
    {
        "tenure": 60,
        "monthly": 20.0,
        "plan": "max",
        "region": "south",
        "autopay": True,
        "signup": "2023-11-15T08:30:00",
    },
    {
        "tenure": None,
        "monthly": None,
        "plan": None,
        "region": "east",
        "autopay": None,
        "signup": None,
    },
]


@pytest.fixture(scope="module")
def server(served_project, serving_home):
    process = ServerProcess(
        [served_project, "churn@production", "--timeout", TIMEOUT, "--max-body-mib", 1],
        serving_home,
    )
    yield process
    assert process.stop() == 0


@pytest.fixture(scope="module")
def client(server):
    with httpx.Client(base_url=server.url, timeout=10) as client:
        yield client


def invoke(client, payload, content_type="application/json", **kwargs):
    if isinstance(payload, dict | list):
        payload = json.dumps(payload)
    return client.post(
        "/invocations", content=payload, headers={"content-type": content_type}, **kwargs
    )


def predictions(response):
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    return response.json()["predictions"]


def test_the_start_line_says_what_is_served(server):
    started = server.started
    assert started["url"] == f"http://127.0.0.1:{server.port}"
    assert (started["model"], started["alias"]) == ("churn:1", "churn@production")
    assert started["engine"] == "onnxruntime"
    assert started["reason"].startswith("ONNX agreed with scikit-learn on all")
    assert "token" not in started


def test_health_and_version(client):
    for path in ("/ping", "/health"):
        response = client.get(path)
        assert (response.status_code, response.text) == (200, "\n")
    assert client.get("/version").text == __version__


def test_metadata(client):
    metadata = client.get("/metadata").json()
    assert metadata["label"] == "churn:1"
    assert (metadata["model"], metadata["version"]) == ("churn", 1)
    assert metadata["alias"] == "churn@production"
    assert metadata["task"] == "binary"
    assert metadata["classes"] == ["no", "yes"]
    assert [c["name"] for c in metadata["inputs"]] == list(CHURN_COLUMNS)
    assert metadata["signature"]["inputs"][0]["name"] == "id"
    assert metadata["engine"] == "onnxruntime"
    assert metadata["engine_reason"].startswith("ONNX agreed with scikit-learn on all")
    assert metadata["predict_methods"] == ["predict", "predict_proba"]


def test_openapi_documents_every_route_and_body(client):
    schema = client.get("/openapi.json").json()
    assert {"/ping", "/health", "/version", "/metadata", "/invocations"} <= set(schema["paths"])
    body = schema["paths"]["/invocations"]["post"]["requestBody"]["content"]
    assert set(body) == {"application/json", "text/csv", "application/vnd.apache.parquet"}
    shapes = [s["title"] for s in body["application/json"]["schema"]["oneOf"]]
    assert shapes == ["dataframe_split", "dataframe_records", "instances", "inputs"]
    for example in body["application/json"]["examples"].values():
        assert invoke(client, example["value"]).status_code == 200, example
    assert invoke(client, body["text/csv"]["example"], "text/csv").status_code == 200
    page = client.get("/docs")
    assert page.status_code == 200
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert "/invocations" in page.text
    assert "dataframe_split" in page.text


# -- MLflow's documented requests ---------------------------------------------------------------


def split(rows):
    return {"columns": list(rows[0]), "data": [list(r.values()) for r in rows]}


def columns_of(rows):
    return {k: [r[k] for r in rows] for k in rows[0]}


def csv_of(rows):
    lines = [",".join(rows[0])]
    for row in rows:
        lines.append(
            ",".join(
                "" if v is None else str(v).lower() if isinstance(v, bool) else str(v)
                for v in row.values()
            )
        )
    return "\n".join(lines) + "\n"


def parquet_of(rows):
    sink = io.BytesIO()
    table = pa.Table.from_pylist(rows)
    table = table.set_column(
        table.schema.get_field_index("signup"),
        "signup",
        pa.array(
            [None if r["signup"] is None else r["signup"].replace("T", " ") for r in rows]
        ).cast(pa.timestamp("ms")),
    )
    pq.write_table(table, sink)
    return sink.getvalue()


@pytest.fixture(scope="module")
def expected(client):
    return predictions(invoke(client, {"dataframe_records": ROWS}))


@pytest.mark.parametrize(
    ("payload", "content_type"),
    [
        ({"dataframe_split": split(ROWS)}, "application/json"),
        ({"dataframe_split": {**split(ROWS), "index": [0, 1, 2]}}, "application/json"),
        ({"dataframe_records": ROWS}, "application/json"),
        ({"instances": ROWS}, "application/json"),
        ({"inputs": columns_of(ROWS)}, "application/json"),
        ({"inputs": ROWS}, "application/json"),
        ({"dataframe_records": ROWS, "params": {"predict_method": "predict"}}, "application/json"),
        (csv_of(ROWS), "text/csv"),
        (csv_of(ROWS), "text/csv; charset=utf-8"),
        (parquet_of(ROWS), "application/vnd.apache.parquet"),
    ],
    ids=[
        "split",
        "split-index",
        "records",
        "instances",
        "inputs",
        "inputs-rows",
        "params",
        "csv",
        "csv-utf8",
        "parquet",
    ],
)
def test_mlflow_request_formats_give_the_same_predictions(client, expected, payload, content_type):
    assert predictions(invoke(client, payload, content_type)) == expected
    assert set(expected) <= {"yes", "no"}


def test_one_row_as_single_values(client, expected):
    assert predictions(invoke(client, {"inputs": ROWS[0]})) == expected[:1]


def test_class_probabilities(client):
    got = predictions(
        invoke(
            client, {"dataframe_split": split(ROWS), "params": {"predict_method": "predict_proba"}}
        )
    )
    assert len(got) == 3
    for row in got:
        assert len(row) == 2
        assert all(isinstance(p, float) for p in row)
        assert sum(row) == pytest.approx(1)


def test_answers_carry_a_request_id_and_the_version(client):
    response = invoke(client, {"inputs": ROWS[0]})
    assert len(response.headers["x-request-id"]) == 32
    assert response.headers["x-model-version"] == "churn:1"


# -- bad input: the right 4xx, a sentence, and the server goes on ------------------------------


BAD = [
    ("application/json", "{not json", 400, "not valid JSON"),
    ("application/json", "[1, 2, 3]", 400, "it is a list"),
    ("application/json", "42", 400, "JSON number"),
    ("application/json", "", 400, "body is empty"),
    (
        "application/json",
        json.dumps({"dataframe_split": split(ROWS), "instances": ROWS}),
        400,
        "exactly one",
    ),
    (
        "application/json",
        json.dumps({"inputs": ROWS, "columns": ["a"]}),
        400,
        "unknown key 'columns'",
    ),
    (
        "application/json",
        json.dumps({"dataframe_records": [{**ROWS[0], "monthly": "lots"}]}),
        400,
        "'monthly' takes numbers",
    ),
    (
        "application/json",
        json.dumps({"dataframe_records": [{**ROWS[0], "tenure": "x"}]}),
        400,
        "'tenure'",
    ),
    (
        "application/json",
        json.dumps({"dataframe_records": [{k: v for k, v in ROWS[0].items() if k != "region"}]}),
        400,
        "no column 'region'",
    ),
    ("application/json", '{"dataframe_records": [{"tenure": Infinity}]}', 400, "Infinity"),
    (
        "application/json",
        json.dumps({"inputs": ROWS, "params": {"predict_method": "explain"}}),
        400,
        "'explain'",
    ),
    ("application/json", "[" * 200_000 + "]" * 200_000, 400, "nested too deeply"),
    (
        "application/json",
        json.dumps(
            {
                "dataframe_split": {
                    "columns": [f"c{i}" for i in range(1_000_000)][:60_000],
                    "data": [[0] * 60_000],
                }
            }
        ),
        413,
        "columns",
    ),
    ("application/json; charset=utf-16", "{}", 415, "charset"),
    ("text/plain", json.dumps({"inputs": ROWS}), 415, "text/plain"),
    ("application/x-www-form-urlencoded", "a=1", 415, "not supported"),
    ("multipart/form-data; boundary=b", "--b--", 415, "not supported"),
    (None, json.dumps({"inputs": ROWS}), 415, "no Content-Type"),
    ("text/csv", "3,50.5,basic,north,false,2023-04-01\n", 400, "header"),
]


@pytest.mark.parametrize(("content_type", "body", "status", "fragment"), BAD)
def test_bad_requests_are_4xx_with_one_sentence(client, content_type, body, status, fragment):
    headers = {"content-type": content_type} if content_type else {}
    response = client.post("/invocations", content=body.encode(), headers=headers)
    assert response.status_code == status, response.text
    error = response.json()
    assert (
        error["error_code"]
        == {400: "BAD_REQUEST", 413: "REQUEST_TOO_LARGE", 415: "UNSUPPORTED_MEDIA_TYPE"}[status]
    )
    assert fragment in error["message"]
    assert client.get("/ping").status_code == 200


def test_a_million_columns_is_refused_quickly(client):
    names = [f"c{i}" for i in range(1_000_000)]
    body = json.dumps({"dataframe_split": {"columns": names, "data": []}})
    started = time.monotonic()
    response = client.post(
        "/invocations", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413  # over the 1 MiB limit of this server
    assert time.monotonic() - started < 5


def test_unknown_routes_and_methods_have_the_error_shape(client):
    response = client.get("/nowhere")
    assert response.status_code == 404
    assert response.json()["error_code"] == "ENDPOINT_NOT_FOUND"
    response = client.get("/invocations")
    assert response.status_code == 405
    assert response.json()["error_code"] == "METHOD_NOT_ALLOWED"
    for path in ("/models/upload", "/invocations/../../etc/passwd", "/load?path=/tmp/x"):
        assert client.post(path, content=b"x").status_code in (404, 405)


def test_a_body_over_the_limit_is_413_announced_or_streamed(client):
    big = b'{"inputs": "' + b"x" * (1 << 20) + b'"}'
    response = client.post(
        "/invocations", content=big, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["error_code"] == "REQUEST_TOO_LARGE"

    def chunks():
        for _ in range(40):
            yield b"x" * 32_768

    response = client.post(
        "/invocations", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    just_under = json.dumps({"dataframe_records": ROWS * 10}).encode()
    assert invoke(client, just_under).status_code == 200


def raw_request(port, data: bytes, read_timeout=10.0) -> tuple[bytes, float]:
    """Send bytes, then read until the server closes; (what came back, seconds it took)."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.settimeout(read_timeout)
        started = time.monotonic()
        sock.sendall(data)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
        return received, time.monotonic() - started


def test_a_slow_body_gets_408_and_others_are_served_meanwhile(server, client):
    head = (
        f"POST /invocations HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
        'Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"inputs":'
    ).encode()
    result = {}
    slow = threading.Thread(target=lambda: result.update(answer=raw_request(server.port, head)))
    slow.start()
    time.sleep(0.3)
    for _ in range(5):  # not blocked by the slow one
        started = time.monotonic()
        assert invoke(client, {"inputs": ROWS[0]}).status_code == 200
        assert time.monotonic() - started < 1.5
    slow.join(TIMEOUT + 8)
    answer, seconds = result["answer"]
    assert answer.startswith(b"HTTP/1.1 408")
    assert b"REQUEST_TIMEOUT" in answer
    assert TIMEOUT - 0.5 < seconds < TIMEOUT + 3  # and the connection was closed


def test_slow_or_huge_headers_are_dropped(server):
    answer, seconds = raw_request(server.port, b"GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
    assert answer == b""
    assert seconds < TIMEOUT + 3
    huge = b"GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"X-Pad: " + b"y" * 100_000 + b"\r\n\r\n"
    answer, _ = raw_request(server.port, huge)
    assert answer.startswith(b"HTTP/1.1 431")


@pytest.mark.parametrize(
    ("host", "status"),
    [
        ("127.0.0.1:{port}", 200),
        ("localhost:{port}", 200),
        ("localhost", 200),
        ("evil.example:{port}", 400),
        ("evil.example", 400),
        ("127.0.0.1:1", 400),
        ("127.0.0.1.evil.example:{port}", 400),
    ],
)
def test_the_host_header_must_name_this_server(server, client, host, status):
    response = client.get("/metadata", headers={"host": host.format(port=server.port)})
    assert response.status_code == status
    if status == 400:
        assert "Host header" in response.json()["message"]


def test_no_cors_headers_without_cors_origin(client):
    response = client.get("/metadata", headers={"origin": "http://evil.example"})
    assert "access-control-allow-origin" not in response.headers
    preflight = client.options(
        "/invocations",
        headers={"origin": "http://evil.example", "access-control-request-method": "POST"},
    )
    assert "access-control-allow-origin" not in preflight.headers
    assert preflight.status_code in (404, 405)


# -- batching and the stats lines ---------------------------------------------------------------


def drain(server):
    while not server.lines.empty():
        server.lines.get_nowait()


def stats_until_quiet(server, timeout=10.0):
    """Stats lines until one reports no traffic (the traffic of interest is in the others)."""
    lines = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = server.next_event("stats", timeout)
        lines.append(line)
        if line["requests"] == 0 and len(lines) > 1:
            return lines
    raise AssertionError("the server never went quiet")


def test_concurrent_single_row_requests_share_predict_calls(server, client):
    rows = [{**ROWS[i % 2], "tenure": i % 70 + 1} for i in range(60)]
    with httpx.Client(base_url=server.url, timeout=10) as one:
        sequential = [predictions(invoke(one, {"inputs": row}))[0] for row in rows]
    time.sleep(1.2)
    drain(server)
    answers = [None] * len(rows)

    def worker(offset):
        with httpx.Client(base_url=server.url, timeout=10) as own:
            for i in range(offset, len(rows), 6):
                answers[i] = predictions(invoke(own, {"dataframe_records": [rows[i]]}))[0]

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == sequential
    lines = stats_until_quiet(server)
    requests = sum(line["requests"] for line in lines)
    calls = sum(line["predict_calls"] for line in lines)
    assert requests == len(rows)
    assert calls < requests
    assert sum(line["errors"] for line in lines) == 0
    busy = [line for line in lines if line["requests"]]
    assert all(line["p50_ms"] > 0 and line["p95_ms"] >= line["p50_ms"] for line in busy)


def test_ten_thousand_rows_are_one_predict_call(server, client):
    rows = [{**ROWS[i % 3], "tenure": i % 70} for i in range(10_000)]
    body = json.dumps({"dataframe_split": split(rows)})
    time.sleep(1.2)
    drain(server)
    assert len(predictions(invoke(client, body))) == 10_000
    lines = stats_until_quiet(server)
    assert sum(line["predict_calls"] for line in lines) == 1
    assert sum(line["rows"] for line in lines) == 10_000


def test_stats_lines_count_errors(server, client):
    time.sleep(1.2)
    drain(server)
    invoke(client, "{broken")
    invoke(client, {"inputs": ROWS[0]})
    lines = stats_until_quiet(server)
    assert sum(line["requests"] for line in lines) == 2
    assert sum(line["errors"] for line in lines) == 1
    assert all(line["model"] == "churn:1" for line in lines)


# -- a token ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def secured(served_project, serving_home):
    process = ServerProcess(
        [
            served_project,
            "flowers:1",
            "--token",
            "generate",
            "--cors-origin",
            "http://localhost:3000",
        ],
        serving_home,
    )
    yield process
    assert process.stop() == 0


IRIS = {
    "sepal length (cm)": 5.1,
    "sepal width (cm)": 3.5,
    "petal length (cm)": 1.4,
    "petal width (cm)": 0.2,
}


def test_a_token_guards_every_route_but_health(secured):
    token = secured.started["token"]
    assert len(token) >= 22
    with httpx.Client(base_url=secured.url, timeout=10) as client:
        for path in ("/ping", "/health"):
            assert client.get(path).status_code == 200
        for method, path in [
            ("GET", "/version"),
            ("GET", "/metadata"),
            ("GET", "/docs"),
            ("GET", "/openapi.json"),
            ("POST", "/invocations"),
            ("GET", "/nowhere"),
        ]:
            response = client.request(method, path)
            assert response.status_code == 401, path
            assert response.json()["error_code"] == "UNAUTHENTICATED"
            assert response.headers["www-authenticate"] == "Bearer"
            wrong = client.request(
                method, path, headers={"authorization": "Bearer " + "x" * len(token)}
            )
            assert wrong.status_code == 401
        good = {"authorization": f"Bearer {token}"}
        assert client.get("/metadata", headers=good).json()["label"] == "flowers:1"
        response = client.post("/invocations", json={"inputs": IRIS}, headers=good)
        assert response.json() == {"predictions": ["setosa"]}
        assert client.get("/openapi.json", headers=good).json()["components"]["securitySchemes"]


def test_cors_only_for_the_named_origin(secured):
    with httpx.Client(base_url=secured.url, timeout=10) as client:
        preflight = client.options(
            "/invocations",
            headers={
                "origin": "http://localhost:3000",
                "access-control-request-method": "POST",
                "access-control-request-headers": "authorization, content-type",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "http://localhost:3000"
        other = client.options(
            "/invocations",
            headers={"origin": "http://evil.example", "access-control-request-method": "POST"},
        )
        assert other.headers.get("access-control-allow-origin") != "http://evil.example"
        token = secured.started["token"]
        response = client.get(
            "/metadata",
            headers={"origin": "http://localhost:3000", "authorization": f"Bearer {token}"},
        )
        assert response.headers["access-control-allow-origin"] == "http://localhost:3000"
