"""``mlops-desktop serve``: the model server, in this process, until Ctrl+C."""

from __future__ import annotations

import contextlib
from pathlib import Path

import click

from mlops_desktop.cli.base import cli, existing_project

TOKEN_ENV = "MLOPS_DESKTOP_SERVE_TOKEN"


@cli.command("serve")
@click.argument("project", type=click.Path(path_type=Path))
@click.argument("model")
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on. Any address other than loopback (127.0.0.1, ::1, localhost) "
    "opens the model to the network and needs --token.",
)
@click.option("--port", default=5005, show_default=True, type=int, help="Port to listen on.")
@click.option(
    "--token",
    envvar=TOKEN_ENV,
    help="Require 'Authorization: Bearer TOKEN' on every route but /ping and /health. "
    "'generate' makes a random one and prints it in the start line. At least 128 random bits. "
    f"Also read from ${TOKEN_ENV} (other users can see command lines, not environments).",
)
@click.option(
    "--max-body-mib",
    default=32.0,
    show_default=True,
    type=float,
    help="Largest request body, in MiB; larger ones are answered 413.",
)
@click.option(
    "--timeout",
    default=60.0,
    show_default=True,
    type=float,
    help="Seconds a request's headers and body may take to arrive (408, and the connection "
    "is closed) and a prediction may take (504).",
)
@click.option(
    "--cors-origin",
    "cors_origins",
    multiple=True,
    metavar="ORIGIN",
    help="Let web pages from ORIGIN (e.g. http://localhost:3000) call the server; repeat for "
    "more. Without it no CORS headers are sent, so browsers keep other sites out.",
)
@click.option(
    "--allow-host",
    "allow_hosts",
    multiple=True,
    metavar="NAME",
    help="Also answer requests whose Host header is NAME (a DNS name of this machine); "
    "others are refused, against DNS rebinding.",
)
@click.option(
    "--no-log",
    "no_log",
    is_flag=True,
    help="Do not write the prediction log (each request's inputs, outputs and latency) to "
    "the project; the session and its request counts are still recorded.",
)
@click.option(
    "--read-only",
    "read_only",
    is_flag=True,
    help="Write nothing to the project: no serving session and no prediction log (for a "
    "project opened in classroom mode, or one on a read-only disk).",
)
@click.option(
    "--inject-drift",
    "inject_drift",
    multiple=True,
    metavar="SPEC",
    help="For a demonstration: change the inputs before predicting and logging them, so "
    "monitoring has drift to find. COLUMN+X, COLUMN-X or COLUMN*X for numbers, "
    "COLUMN=VALUE@SHARE for text or true/false (e.g. tenure*1.5, plan=basic@0.3); repeat "
    "for more. Answers then carry an X-Drift-Injected header.",
)
def serve_command(
    project: Path,
    model: str,
    host: str,
    port: int,
    token: str | None,
    max_body_mib: float,
    timeout: float,
    cors_origins: tuple[str, ...],
    allow_hosts: tuple[str, ...],
    no_log: bool,
    read_only: bool,
    inject_drift: tuple[str, ...],
) -> None:
    """Serve MODEL (MODEL:N, or MODEL@ALIAS to follow the alias) over HTTP, as MLflow does.

    \b
    Routes (MLflow's scoring protocol, plus /metadata):
      GET  /ping, /health    200 while the model is loaded (no token needed)
      GET  /version          the mlops_desktop version
      GET  /metadata         model, version, alias, task, classes, signature, engine
      POST /invocations      application/json with exactly one of dataframe_split,
                             dataframe_records, instances or inputs (and optional
                             params, e.g. {"predict_method": "predict_proba"}),
                             text/csv with a header line, or
                             application/vnd.apache.parquet
      GET  /docs, /openapi.json   every route and body shape

    \b
    Answers {"predictions": [...]}; errors {"error_code": ..., "message": ...} with
    400 (bad input, naming the column), 401, 404, 408, 413, 415 or 504.
    With MODEL@ALIAS the server checks the project every second and switches to the
    version the alias points at, without dropping requests.

    Every request (inputs, outputs, latency, version, request id) goes to the project's
    prediction log, written in batches off the request path, for monitoring; --no-log
    turns that off.

    \b
    stdout has JSON lines only: one when serving starts (url, model, engine, reason,
    session, logging), then one a second with the last second's requests, errors and
    p50/p95 latency, and one when it stops.

    Logs go to the app's log file. Stop with Ctrl+C.
    """
    from mlops_desktop.serving.server import ServeOptions, prepare, run

    options = ServeOptions(
        project=existing_project(project),
        model=model,
        host=host,
        port=port,
        token=token or None,
        max_body_mib=max_body_mib,
        timeout=timeout,
        cors_origins=cors_origins,
        allow_hosts=allow_hosts,
        log_predictions=not (no_log or read_only),
        read_only=read_only,
        inject_drift=inject_drift,
    )
    prepared = prepare(options)
    with contextlib.suppress(KeyboardInterrupt):
        run(prepared)
