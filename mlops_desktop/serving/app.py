"""The FastAPI app: MLflow's scoring routes, ``/metadata``, and the OpenAPI page.

``create_app(holder, settings)`` builds it around a ``ModelHolder`` (what is served now). The
guard in front of every route checks the Host header (DNS rebinding), the bearer token and,
for ``/invocations``, counts the request for the stats line. ``/invocations`` checks the
content type, reads the body within the size and time limits, parses it against the
signature, and predicts through the version's batcher.

A prediction log plugs in as ``settings.prediction_log``: anything with an
``add(PredictionRecord)`` and an ``add_error(...)`` that return at once (it must batch its
writes off the request path). One of them is called once per ``/invocations`` request: with its
inputs, outputs, latency and id, or with its status and message if it got no prediction.
"""

from __future__ import annotations

import asyncio
import html
import json
import logging
import math
import secrets
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from mlops_desktop.domain.errors import UserError
from mlops_desktop.domain.model import ModelVersion
from mlops_desktop.serving import parsing
from mlops_desktop.serving.errors import ServingError, error_body, send_error
from mlops_desktop.serving.injection import Injector
from mlops_desktop.serving.state import ModelHolder, ServedModel
from mlops_desktop.serving.stats import Stats
from mlops_desktop.version import __version__

log = logging.getLogger("mlops_desktop.serving")

#: Routes anyone may call, token or not: a load balancer's health checks.
OPEN_ROUTES = frozenset({"/ping", "/health"})
#: Bodies larger than this are parsed on a worker thread, not on the event loop.
_THREAD_PARSE_BYTES = 256 << 10


@dataclass(frozen=True)
class PredictionRecord:
    """One answered ``/invocations`` request, for the prediction log."""

    request_id: str
    version: ModelVersion
    columns: dict[str, np.ndarray]  # the parsed inputs, one array per required column
    rows: int
    method: str
    predictions: list
    latency_ms: float  # from the request's arrival to its answer
    received_at: float  # time.time() when it arrived


class PredictionSink(Protocol):
    def add(self, record: PredictionRecord) -> None:
        """Take a record and return at once (write it later, in batches, elsewhere)."""
        ...

    def add_error(
        self, request_id: str, at: float, latency_ms: float, status: int, message: str
    ) -> None:
        """Take a request that got no prediction (refused or failed) and return at once."""
        ...


@dataclass
class Settings:
    host: str = "127.0.0.1"
    port: int = 5005
    token: str | None = None
    max_body_bytes: int = 32 << 20
    timeout: float = 60.0  # for the body to arrive, and for the prediction
    allowed_hosts: frozenset[str] = frozenset({"127.0.0.1", "localhost", "[::1]"})
    cors_origins: tuple[str, ...] = ()
    prediction_log: PredictionSink | None = None
    stats: Stats = field(default_factory=Stats)
    injector: Injector | None = None  # synthetic drift for a demonstration


def create_app(holder: ModelHolder, settings: Settings) -> Guard:
    """The ASGI app to run: the FastAPI routes behind the guard (``.fastapi`` is the
    FastAPI object itself)."""
    app = FastAPI(
        title="mlops_desktop model server",
        version=__version__,
        description=_DESCRIPTION,
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.holder = holder
    app.state.settings = settings

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        if exc.status_code == 404:
            message = f"There is no route {request.url.path[:100]}: see /docs for the routes."
        elif exc.status_code == 405:
            message = f"{request.url.path[:100]} does not take {request.method}: see /docs."
        else:
            message = str(exc.detail)
        return Response(
            error_body(exc.status_code, message), exc.status_code, media_type=parsing.JSON
        )

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        return Response(error_body(400, "The request is not valid."), 400, media_type=parsing.JSON)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception):
        return _unexpected(request)

    @app.get("/ping", summary="Health check", response_class=Response)
    async def ping():
        """200 with a newline while the model is loaded (MLflow's answer). No token needed."""
        return Response("\n", media_type=parsing.JSON)

    @app.get("/health", summary="Health check (same as /ping)", response_class=Response)
    async def health():
        """200 with a newline while the model is loaded. No token needed."""
        return Response("\n", media_type=parsing.JSON)

    @app.get("/version", summary="The server's version", response_class=Response)
    async def version():
        """The version of mlops_desktop serving the model, as plain text (as MLflow's)."""
        return Response(__version__, media_type=parsing.JSON)

    @app.get("/metadata", summary="The served model")
    async def metadata():
        """The model and version served (and the alias followed), its task and classes, its
        signature and the columns a request must carry, and the engine that runs it."""
        return JSONResponse(
            {
                **holder.current.metadata(),
                "server_version": __version__,
                "max_body_bytes": settings.max_body_bytes,
                "timeout_seconds": settings.timeout,
                "injected_drift": settings.injector.text if settings.injector else None,
            }
        )

    @app.post(
        "/invocations",
        summary="Predict",
        response_class=Response,
        openapi_extra={"x-body": True},
    )
    async def invocations(request: Request):
        """Predictions for the rows in the body, in MLflow's scoring protocol."""
        received_at, started = time.time(), time.perf_counter()
        request_id = uuid.uuid4().hex
        try:
            served = holder.current
            mime = parsing.media_type(request.headers.get("content-type"))
            body = await read_body(request, settings.max_body_bytes, settings.timeout)
            parsed = await _parse(body, mime, served, settings.max_body_bytes)
            if settings.injector is not None:
                parsed = parsing.Parsed(
                    settings.injector.apply(parsed.columns, parsed.rows), parsed.rows, parsed.method
                )
            predictions = await _predict(served, parsed, settings.timeout)
        except ServingError as exc:
            if settings.prediction_log is not None:
                latency_ms = (time.perf_counter() - started) * 1000
                try:
                    settings.prediction_log.add_error(
                        request_id, received_at, latency_ms, exc.status, exc.message
                    )
                except Exception:
                    log.exception("the prediction log refused error %s", request_id)
            return _error_response(exc, request_id)
        settings.stats.add_rows(parsed.rows)
        content = _dumps({"predictions": predictions})
        latency_ms = (time.perf_counter() - started) * 1000
        if settings.prediction_log is not None:
            # The prediction log's hook: everything about the request is known here.
            try:
                settings.prediction_log.add(
                    PredictionRecord(
                        request_id,
                        served.predictor.version,
                        parsed.columns,
                        parsed.rows,
                        parsed.method,
                        predictions,
                        latency_ms,
                        received_at,
                    )
                )
            except Exception:
                log.exception("the prediction log refused request %s", request_id)
        return Response(
            content,
            media_type=parsing.JSON,
            headers={
                "x-request-id": request_id,
                "x-model-version": served.label,
                **({"x-drift-injected": settings.injector.text} if settings.injector else {}),
            },
        )

    @app.get("/docs", include_in_schema=False)
    async def docs():
        return HTMLResponse(
            render_docs(app.openapi()),
            headers={"content-security-policy": "default-src 'none'; style-src 'unsafe-inline'"},
        )

    def openapi() -> dict:
        from fastapi.openapi.utils import get_openapi

        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
        )
        return describe(schema, holder.current, settings)

    app.openapi = openapi  # built for the version served now (an alias may move)

    inner = app
    if settings.cors_origins:
        from starlette.middleware.cors import CORSMiddleware

        inner = CORSMiddleware(
            inner,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
            expose_headers=["X-Request-Id", "X-Model-Version"],
        )
    # With CORS on, every answer goes through its middleware.
    guarded = Guard(inner, settings, None if settings.cors_origins else invocations)
    guarded.fastapi = app
    return guarded


def _unexpected(request: Request) -> Response:
    log.exception("unexpected error answering %s %s", request.method, request.url.path)
    return Response(
        error_body(500, "The server failed to answer; the details are in its log file."),
        500,
        media_type=parsing.JSON,
    )


def _error_response(exc: ServingError, request_id: str) -> Response:
    headers = {"x-request-id": request_id, **exc.headers}
    if exc.close:
        headers["connection"] = "close"
    return Response(exc.body(), exc.status, headers=headers, media_type=parsing.JSON)


async def read_body(request: Request, limit: int, timeout: float) -> bytes:
    """The whole body, or 413 past ``limit`` bytes (announced or counted), or 408 when it has
    not all arrived within ``timeout`` seconds. Both drop the connection afterwards."""
    length = request.headers.get("content-length")
    if length is not None:
        try:
            announced = int(length)
        except ValueError:
            raise ServingError(
                400, "The Content-Length header is not a number.", close=True
            ) from None
        if announced > limit:
            raise _too_large(limit)
    chunks, size = [], 0
    try:
        async with asyncio.timeout(timeout):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise _too_large(limit)
                chunks.append(chunk)
    except TimeoutError:
        raise ServingError(
            408,
            f"The request body did not arrive within {timeout:g} s, so the connection is closed.",
            close=True,
        ) from None
    except Exception as exc:  # the client went away
        if isinstance(exc, ServingError):
            raise
        raise ServingError(
            400, "The client closed the connection before the body ended.", close=True
        ) from None
    return b"".join(chunks)


def _too_large(limit: int) -> ServingError:
    return ServingError(
        413,
        f"The request body is over the limit of {limit / 2**20:g} MiB: send fewer rows per "
        "request, or start the server with a larger --max-body-mib.",
        close=True,
    )


async def _parse(body: bytes, mime: str, served: ServedModel, max_bytes: int) -> parsing.Parsed:
    args = (body, mime, served.columns, served.methods, max_bytes)
    if len(body) < _THREAD_PARSE_BYTES:
        return parsing.parse_body(*args)
    return await asyncio.to_thread(parsing.parse_body, *args)


async def _predict(served: ServedModel, parsed: parsing.Parsed, timeout: float) -> list:
    try:
        async with asyncio.timeout(timeout):
            return await served.batcher.submit(parsed.columns, parsed.rows, parsed.method)
    except TimeoutError:
        raise ServingError(
            504, f"The prediction took over {timeout:g} s and was abandoned."
        ) from None
    except UserError as exc:
        raise ServingError(400, exc.message) from None
    except (ValueError, TypeError, KeyError) as exc:
        log.info("predicting failed", exc_info=True)
        text = " ".join(str(exc).split())[:300]
        raise ServingError(
            400, f"The model could not predict these rows ({text}): check their values."
        ) from None


def _dumps(payload) -> bytes:
    try:
        # NaN and Infinity come out as null, which is what JSON has for them.
        return orjson.dumps(payload)
    except TypeError:  # a value orjson does not know (the predictions are plain values)
        return json.dumps(_finite(payload), separators=(",", ":")).encode()


def _finite(value):
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, list):
        return [_finite(v) for v in value]
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    return value


# -- the guard in front of every route ---------------------------------------------------------


class Guard:
    """Pure ASGI: Host header, bearer token, and the stats of ``/invocations``.
    ``invocations``, if given, answers ``POST /invocations`` directly: FastAPI's routing and
    middleware would add a fifth to a single-row request."""

    def __init__(self, app, settings: Settings, invocations=None):
        self.app = app
        self.settings = settings
        self._invocations = invocations
        self._token = settings.token.encode() if settings.token else None
        self._hosts = {h.lower() for h in settings.allowed_hosts}
        self._port = str(settings.port)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            if scope["type"] == "lifespan":
                await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        path = scope.get("path", "")
        counted = path == "/invocations"
        status = 500

        async def send_counting(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            problem = self._check(scope)
            if problem is not None:
                await send_error(send_counting, problem)
                return
            if counted and self._invocations is not None and scope["method"] == "POST":
                await self._answer(scope, receive, send_counting)
            else:
                await self.app(scope, receive, send_counting)
        finally:
            if counted:
                self.settings.stats.record(status, time.perf_counter() - started)

    async def _answer(self, scope, receive, send) -> None:
        request = Request(scope, receive)
        try:
            response = await self._invocations(request)
        except Exception:
            response = _unexpected(request)
        await response(scope, receive, send)

    def _check(self, scope) -> ServingError | None:
        headers = _headers(scope["headers"])
        host = headers.get(b"host")
        if host is None or not self._host_ok(host.decode("latin-1")):
            shown = host.decode("latin-1")[:80] if host else "none"
            return ServingError(
                400,
                f"The Host header ({shown}) is not a name this server answers to: call it as "
                f"http://{sorted(self._hosts)[0]}:{self._port}/ (or start it with --allow-host).",
                close=True,
            )
        if self._token is None or scope["path"] in OPEN_ROUTES:
            return None
        if scope["method"] == "OPTIONS" and self.settings.cors_origins:
            return None  # a CORS preflight carries no credentials
        given = headers.get(b"authorization", b"")
        scheme, _, token = given.partition(b" ")
        if scheme.lower() != b"bearer" or not secrets.compare_digest(token.strip(), self._token):
            return ServingError(
                401,
                "This server needs its token: send the header 'Authorization: Bearer <token>'."
                if not given
                else "The bearer token is wrong.",
                headers={"www-authenticate": "Bearer"},
            )
        return None

    def _host_ok(self, host: str) -> bool:
        host = host.strip().lower()
        if host.startswith("["):
            name, _, rest = host.partition("]")
            name += "]"
            port = rest.removeprefix(":") if rest else None
        else:
            name, _, port = host.partition(":")
            port = port or None
        return name in self._hosts and (port is None or port == self._port)


def _headers(raw: Iterable[tuple[bytes, bytes]]) -> dict[bytes, bytes]:
    result = {}
    for name, value in raw:
        result.setdefault(name.lower(), value)
    return result


# -- OpenAPI and the docs page -----------------------------------------------------------------

_DESCRIPTION = (
    "Serves one version of a model from an mlops_desktop project, wire-compatible with "
    'MLflow\'s scoring server. Every error is `{"error_code": ..., "message": ...}`. When '
    "the server was started with a token, every route but /ping and /health needs the "
    "header `Authorization: Bearer <token>`."
)


def _example_value(column) -> object:
    return {
        "number": 1 if column.whole else 1.5,
        "boolean": True,
        "string": "text",
        "datetime": "2024-01-31T12:00:00",
        "time": "12:30:00",
        "duration": 1000,
    }.get(column.family)


def _column_schema(column) -> dict:
    schema = {
        "number": {"type": "integer" if column.whole else "number"},
        "boolean": {"type": "boolean"},
        "string": {"type": "string"},
        "datetime": {"type": "string", "format": "date-time"},
        "time": {"type": "string", "format": "time"},
        "duration": {"type": "number"},
    }.get(column.family, {})
    schema = dict(schema)
    if column.nullable and schema:
        schema["nullable"] = True
    schema["description"] = f"{column.kind} column ({column.type})" + (
        "; may be null" if column.nullable else ""
    )
    return schema


def describe(schema: dict, served: ServedModel, settings: Settings) -> dict:
    """Fill in ``/invocations``: the body shapes for the version served now, with examples."""
    columns = served.columns
    names = [c.name for c in columns]
    row = {c.name: _example_value(c) for c in columns}
    row_schema = {
        "type": "object",
        "properties": {c.name: _column_schema(c) for c in columns},
        "required": names,
        "additionalProperties": True,
        "description": "One row; columns the model does not use are ignored.",
    }
    params = {
        "type": "object",
        "properties": {
            "predict_method": {
                "type": "string",
                "enum": list(served.methods),
                "default": "predict",
                "description": "predict_proba gives each class's probability (classifiers).",
            }
        },
        "additionalProperties": False,
    }
    formats = {
        "dataframe_split": {
            "type": "object",
            "required": ["columns", "data"],
            "properties": {
                "columns": {"type": "array", "items": {"type": "string"}},
                "data": {"type": "array", "items": {"type": "array"}},
                "index": {"type": "array"},
            },
        },
        "dataframe_records": {"type": "array", "items": row_schema},
        "instances": {"type": "array", "items": row_schema},
        "inputs": {
            "type": "object",
            "description": "One list of values per column (or one value each, for one row).",
            "properties": {c.name: {"type": "array"} for c in columns},
        },
    }
    body_schema = {
        "oneOf": [
            {
                "type": "object",
                "title": key,
                "required": [key],
                "properties": {key: shape, "params": params},
                "additionalProperties": False,
            }
            for key, shape in formats.items()
        ]
    }
    examples = {
        "dataframe_split": {
            "summary": "dataframe_split: column names, then rows",
            "value": {"dataframe_split": {"columns": names, "data": [list(row.values())]}},
        },
        "dataframe_records": {
            "summary": "dataframe_records: one object per row",
            "value": {"dataframe_records": [row]},
        },
        "instances": {"summary": "instances: rows, as TF Serving", "value": {"instances": [row]}},
        "inputs": {
            "summary": "inputs: one list per column",
            "value": {"inputs": {k: [v] for k, v in row.items()}},
        },
    }
    if "predict_proba" in served.methods:
        examples["probabilities"] = {
            "summary": "class probabilities",
            "value": {"dataframe_records": [row], "params": {"predict_method": "predict_proba"}},
        }
    csv_example = (
        ",".join(names)
        + "\n"
        + ",".join(
            "" if v is None else str(v).lower() if isinstance(v, bool) else str(v)
            for v in row.values()
        )
    )
    error = {
        "type": "object",
        "required": ["error_code", "message"],
        "properties": {"error_code": {"type": "string"}, "message": {"type": "string"}},
    }
    error_content = {"application/json": {"schema": error}}
    output = served.predictor.version.signature["output"]
    predictions = {
        "type": "object",
        "required": ["predictions"],
        "properties": {
            "predictions": {
                "type": "array",
                "description": (
                    "One per row: the predicted value (classes: "
                    + (", ".join(map(str, output.get("classes", []))) or "none, a regressor")
                    + "), or with predict_proba one list of probabilities in that order."
                ),
            }
        },
    }
    operation = schema["paths"]["/invocations"]["post"]
    operation.pop("x-body", None)
    operation["description"] = (
        f"Predictions of {served.label}"
        + (f" (followed through {served.alias})" if served.alias else "")
        + f". Required columns: {', '.join(names)}. Bodies up to "
        f"{settings.max_body_bytes / 2**20:g} MiB."
    )
    operation["requestBody"] = {
        "required": True,
        "content": {
            "application/json": {"schema": body_schema, "examples": examples},
            "text/csv": {
                "schema": {
                    "type": "string",
                    "description": "A header line, then one line per row.",
                },
                "example": csv_example,
            },
            "application/vnd.apache.parquet": {
                "schema": {"type": "string", "format": "binary"},
            },
        },
    }
    operation["responses"] = {
        "200": {
            "description": "The predictions",
            "content": {"application/json": {"schema": predictions}},
        },
        "400": {
            "description": "The body is malformed or does not fit the signature",
            "content": error_content,
        },
        "401": {"description": "The bearer token is missing or wrong", "content": error_content},
        "408": {"description": "The body did not arrive in time", "content": error_content},
        "413": {"description": "The body is too large", "content": error_content},
        "415": {"description": "Not a supported content type", "content": error_content},
        "504": {"description": "The prediction took too long", "content": error_content},
    }
    for path, item in schema["paths"].items():
        for operation in item.values():
            if path not in OPEN_ROUTES and settings.token:
                operation["security"] = [{"bearer": []}]
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)
    if settings.token:
        schema.setdefault("components", {})["securitySchemes"] = {
            "bearer": {"type": "http", "scheme": "bearer"}
        }
    schema.get("components", {}).get("schemas", {}).pop("HTTPValidationError", None)
    schema.get("components", {}).get("schemas", {}).pop("ValidationError", None)
    if not schema.get("components", {}).get("schemas", True):
        schema["components"].pop("schemas")
    return schema


def render_docs(schema: dict) -> str:
    """The OpenAPI description as one self-contained page (no scripts, nothing fetched)."""
    e = html.escape
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{e(schema['info']['title'])}</title>",
        "<style>body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;"
        "padding:0 1rem;color:#222}code,pre{background:#f4f4f4;border-radius:4px}"
        "pre{padding:.6rem;overflow:auto}h2{border-top:1px solid #ddd;padding-top:1rem}"
        ".m{font-weight:bold;color:#fff;background:#2a6;padding:0 .4rem;border-radius:3px}"
        ".post{background:#27c}</style></head><body>",
        f"<h1>{e(schema['info']['title'])} {e(schema['info']['version'])}</h1>",
        f"<p>{e(schema['info'].get('description', ''))}</p>",
        "<p>The machine-readable description is at <a href='/openapi.json'>/openapi.json</a>.</p>",
    ]
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            parts.append(
                f"<h2><span class='m {e(method)}'>{e(method.upper())}</span> <code>{e(path)}</code>"
                f" — {e(operation.get('summary', ''))}</h2>"
            )
            if operation.get("description"):
                parts.append(f"<p>{e(operation['description'])}</p>")
            body = operation.get("requestBody", {}).get("content", {})
            for media, content in body.items():
                parts.append(f"<h3>Body: <code>{e(media)}</code></h3>")
                for example in content.get("examples", {}).values():
                    parts.append(f"<p>{e(example['summary'])}</p>")
                    parts.append(f"<pre>{e(json.dumps(example['value'], indent=2))}</pre>")
                if "example" in content:
                    parts.append(f"<pre>{e(str(content['example']))}</pre>")
            responses = operation.get("responses", {})
            if responses:
                parts.append("<ul>")
                for status, response in responses.items():
                    parts.append(
                        f"<li><b>{e(status)}</b> {e(response.get('description', ''))}</li>"
                    )
                parts.append("</ul>")
    parts.append("</body></html>")
    return "".join(parts)
