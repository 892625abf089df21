"""Starting the server: options checked, the port bound, the model loaded, uvicorn run.

``mlops-desktop serve`` calls ``prepare(options)`` (every user error is raised here, before
anything is served) and then ``run(prepared)``. stdout carries only JSON lines for the
desktop panel (see ``stats``); everything else goes to the app's log file.
"""

from __future__ import annotations

import asyncio
import errno
import gc
import ipaddress
import logging
import math
import os
import secrets
import socket
import string
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from mlops_desktop.domain.errors import ProjectFileError, UserError
from mlops_desktop.services.servers import PARENT_VARIABLE

log = logging.getLogger("mlops_desktop.serving")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5005
DEFAULT_MAX_BODY_MIB = 32
DEFAULT_TIMEOUT = 60.0
GENERATE = "generate"
MIN_TOKEN_BITS = 128
#: Bytes a request's line and headers may take, and how long they may take to arrive.
MAX_HEADER_BYTES = 64 << 10
STATS_INTERVAL = 1.0
ALIAS_INTERVAL = 1.0


@dataclass
class ServeOptions:
    project: Path
    model: str  # MODEL@ALIAS or MODEL:N
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    token: str | None = None  # GENERATE for a new random one
    max_body_mib: float = DEFAULT_MAX_BODY_MIB
    timeout: float = DEFAULT_TIMEOUT
    cors_origins: tuple[str, ...] = ()
    allow_hosts: tuple[str, ...] = ()
    alias_interval: float = ALIAS_INTERVAL
    stats_interval: float = STATS_INTERVAL
    log_predictions: bool = True
    read_only: bool = False  # write nothing to the project: no session, no log (classroom)
    inject_drift: tuple[str, ...] = ()  # synthetic drift for a demonstration (injection.py)


@dataclass
class Prepared:
    options: ServeOptions
    sock: socket.socket
    predictor: object
    alias: str | None
    token: str | None
    generated_token: bool
    allowed_hosts: frozenset[str]
    log_file: Path | None = None
    #: Writes the session's prediction log (None: the project could not record a session).
    prediction_log: object | None = None
    injector: object | None = None
    extra: dict = field(default_factory=dict)

    @property
    def url(self) -> str:
        host = self.options.host
        shown = f"[{host}]" if ":" in host else host
        if host in ("0.0.0.0", "::"):
            shown = "127.0.0.1" if host == "0.0.0.0" else "[::1]"
        return f"http://{shown}:{self.sock.getsockname()[1]}"


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def token_bits(token: str) -> float:
    """A generous estimate of a token's randomness: its length times the bits per character
    of the character classes it draws on; repeated characters count once."""
    classes = [
        (string.ascii_lowercase, 26),
        (string.ascii_uppercase, 26),
        (string.digits, 10),
    ]
    alphabet = sum(size for chars, size in classes if any(c in chars for c in token))
    if any(not c.isalnum() for c in token):
        alphabet += 32
    distinct = len(set(token))
    if alphabet <= 1 or distinct <= 1:
        return 0.0
    return min(len(token), distinct * 4) * math.log2(alphabet)


def check_token(token: str | None) -> tuple[str | None, bool]:
    """(token, generated): the token to require, made up if asked for; a weak one refused."""
    if token is None:
        return None, False
    if token == GENERATE:
        return secrets.token_urlsafe(MIN_TOKEN_BITS // 8), True
    token = token.strip()
    if any(c.isspace() or not c.isprintable() for c in token) or not token:
        raise UserError("The token must be printable characters without spaces.")
    if token_bits(token) < MIN_TOKEN_BITS:
        raise UserError(
            f"The token is too easy to guess (it needs at least {MIN_TOKEN_BITS} random bits, "
            "such as 22 random letters, digits, - and _): use --token generate to have one made."
        )
    return token, False


def allowed_hosts(host: str, extra: tuple[str, ...] = ()) -> frozenset[str]:
    """The names a request's Host header may carry: those of the bound address."""
    names = {n.lower() for n in extra}
    if host in ("0.0.0.0", "::", ""):
        names |= {"127.0.0.1", "localhost", "[::1]", socket.gethostname().lower()}
        try:
            names.add(socket.getfqdn().lower())
            for info in socket.getaddrinfo(socket.gethostname(), None):
                address = info[4][0]
                names.add(f"[{address}]" if ":" in address else address)
        except OSError:
            pass
    elif is_loopback(host):
        names |= {"127.0.0.1", "localhost", "[::1]"}
    else:
        names.add(f"[{host}]" if ":" in host else host.lower())
    return frozenset(names)


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port, or a user error naming the next free port."""
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        infos = socket.getaddrinfo(host, port, family, socket.SOCK_STREAM)
    except socket.gaierror:
        raise UserError(f"--host {host}: no such address on this machine.") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            free = next_free_port(host, port + 1)
            hint = f": try --port {free}" if free else ": choose another with --port"
            raise UserError(f"Port {port} on {host} is already in use{hint}.") from None
        if exc.errno in (errno.EACCES, errno.EPERM):
            raise UserError(
                f"Port {port} on {host} needs privileges: use a port above 1023."
            ) from None
        if exc.errno == errno.EADDRNOTAVAIL:
            raise UserError(f"--host {host} is not an address of this machine.") from None
        raise UserError(f"Could not listen on {host}:{port} ({exc.strerror}).") from None
    sock.listen(2048)
    sock.setblocking(False)
    return sock


def next_free_port(host: str, start: int, tries: int = 50) -> int | None:
    for port in range(start, min(start + tries, 65536)):
        probe = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        try:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
            return port
        except OSError:
            continue
        finally:
            probe.close()
    return None


def prepare(options: ServeOptions) -> Prepared:
    """Check everything a user can get wrong, bind the port and load the model."""
    from mlops_desktop.services.logs import configure_logging

    log_file = configure_logging()
    if "@" not in options.model and ":" not in options.model:
        raise UserError(
            f"{options.model!r}: name a version as MODEL:N, or an alias to follow as MODEL@ALIAS."
        )
    if not 1 <= options.port <= 65535:
        raise UserError(f"--port {options.port}: a port is a number from 1 to 65535.")
    if options.max_body_mib <= 0 or options.max_body_mib > 4096:
        raise UserError("--max-body-mib: give a size in MiB from 0.001 to 4096.")
    if options.timeout <= 0 or options.timeout > 3600:
        raise UserError("--timeout: give a number of seconds from 0.1 to 3600.")
    token, generated = check_token(options.token)
    if token is None and not is_loopback(options.host):
        raise UserError(
            f"Serving on {options.host} opens the model to the network, so it needs a token: add "
            "--token generate (or --token YOUR_TOKEN), or serve on 127.0.0.1."
        )
    for origin in options.cors_origins:
        if origin == "*" or "://" not in origin:
            raise UserError(
                f"--cors-origin {origin}: give one web page origin such as http://localhost:3000 "
                "(not *)."
            )
    sock = bind(options.host, options.port)
    try:
        predictor, alias = _load(options)
        injector = None
        if options.inject_drift:
            from mlops_desktop.services.predictors import served_columns
            from mlops_desktop.serving.injection import Injector, parse_injections

            columns = served_columns(predictor.version)
            injector = Injector(parse_injections(options.inject_drift, columns))
        prediction_log = _open_log(options, predictor, sock.getsockname()[1])
    except BaseException:
        sock.close()
        raise
    return Prepared(
        options=options,
        sock=sock,
        predictor=predictor,
        alias=alias,
        token=token,
        generated_token=generated,
        allowed_hosts=allowed_hosts(options.host, options.allow_hosts),
        log_file=log_file,
        prediction_log=prediction_log,
        injector=injector,
    )


def _load(options: ServeOptions):
    from mlops_desktop.services.predictors import load_predictor
    from mlops_desktop.services.project import Project

    path = options.project
    if not path.exists():
        raise UserError(f"There is no project file at {path}: check the path.")
    started = time.perf_counter()
    with Project.open(path, read_only=True) as project:
        version = project.models.get(options.model)
        predictor = load_predictor(project, version)
    log.info(
        "loaded %s for serving in %.1f s (%s: %s)",
        version.label,
        time.perf_counter() - started,
        predictor.engine,
        predictor.reason,
    )
    alias = options.model.strip() if "@" in options.model else None
    return predictor, alias


def _open_log(options: ServeOptions, predictor, port: int):
    """Record the serving session in the project and open its prediction log (which only
    counts requests when logging is off). A project that cannot be written serves without a
    session if the user turned the log off, and is refused otherwise."""
    from mlops_desktop.services.predictionlog import PredictionLog
    from mlops_desktop.services.project import Project

    if options.read_only:
        return None
    try:
        with Project.open(options.project) as project:
            session = project.serving.start_session(
                predictor.version.uuid,
                served_as=options.model.strip(),
                host=options.host,
                port=port,
                engine=predictor.engine,
                engine_reason=predictor.reason,
                log_predictions=options.log_predictions,
            )
    except ProjectFileError as exc:
        if not options.log_predictions:
            log.warning("serving without a session: %s", exc.message)
            return None
        raise UserError(
            f"The prediction log cannot be written to this project ({exc.message}): serve "
            "with --no-log, or from a copy you can write to."
        ) from None
    return PredictionLog(options.project, session.uuid)


# -- running -----------------------------------------------------------------------------------


_TOO_LARGE_HEADERS_BODY = (
    b'{"error_code": "REQUEST_TOO_LARGE", "message": "The request line and headers are over '
    + str(MAX_HEADER_BYTES // 1024).encode()
    + b' KiB."}'
)
_TOO_LARGE_HEADERS = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: application/json\r\n"
    b"connection: close\r\ncontent-length: "
    + str(len(_TOO_LARGE_HEADERS_BODY)).encode()
    + b"\r\n\r\n"
    + _TOO_LARGE_HEADERS_BODY
)


def _protocol_class(timeout: float):
    """uvicorn's httptools protocol, with a limit on how long and how large the request line
    and headers may be (uvicorn has none): a client that trickles them is dropped."""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:  # no httptools: uvicorn's h11, with its own size limit
        return "h11"

    class GuardedHttpToolsProtocol(HttpToolsProtocol):
        def connection_made(self, transport):
            super().connection_made(transport)
            self._refused = False
            self._header_bytes = 0
            self._header_timer = self.loop.call_later(timeout, self._headers_too_slow)

        def data_received(self, data: bytes) -> None:
            if self._refused:
                return
            waiting = self._header_timer is not None
            super().data_received(data)
            if waiting and self._header_timer is not None and not self._refused:
                # Still inside a request's line and headers.
                self._header_bytes += len(data)
                if self._header_bytes > MAX_HEADER_BYTES:
                    self._refuse()

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._header_bytes = 0
            if self._header_timer is None:
                self._header_timer = self.loop.call_later(timeout, self._headers_too_slow)

        def on_url(self, url: bytes) -> None:
            self._header_bytes += len(url)
            super().on_url(url)

        def on_header(self, name: bytes, value: bytes) -> None:
            self._header_bytes += len(name) + len(value) + 4
            super().on_header(name, value)

        def on_headers_complete(self) -> None:
            self._stop_header_timer()
            if self._header_bytes > MAX_HEADER_BYTES:
                self._refuse()
                return
            super().on_headers_complete()

        def on_body(self, body: bytes) -> None:
            if not self._refused:
                super().on_body(body)

        def on_message_complete(self) -> None:
            if not self._refused:
                super().on_message_complete()

        def connection_lost(self, exc):
            self._stop_header_timer()
            super().connection_lost(exc)

        def _refuse(self) -> None:
            self._refused = True
            self._stop_header_timer()
            if not self.transport.is_closing():
                self.transport.write(_TOO_LARGE_HEADERS)
                self.transport.close()

        def _stop_header_timer(self) -> None:
            timer = getattr(self, "_header_timer", None)
            if timer is not None:
                timer.cancel()
                self._header_timer = None

        def _headers_too_slow(self) -> None:
            self._header_timer = None
            if not self.transport.is_closing():
                self.transport.close()

    return GuardedHttpToolsProtocol


def run(prepared: Prepared, prediction_log=None, lines=None) -> None:
    """Serve until SIGINT or SIGTERM (then return: uvicorn raises the signal again once it
    has stopped, and SIGTERM's handler here turns that into a normal exit)."""
    import signal

    import uvicorn

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _stop_quietly)

    from mlops_desktop.serving.app import Settings, create_app
    from mlops_desktop.serving.state import AliasFollower, ModelHolder, serve
    from mlops_desktop.serving.stats import LineWriter, Stats

    options = prepared.options
    lines = lines or LineWriter()
    stats = Stats()
    executor = ThreadPoolExecutor(1, thread_name_prefix="predict")
    holder = ModelHolder(serve(prepared.predictor, executor, prepared.alias))
    settings = Settings(
        host=options.host,
        port=prepared.sock.getsockname()[1],
        token=prepared.token,
        max_body_bytes=int(options.max_body_mib * 2**20),
        timeout=options.timeout,
        allowed_hosts=prepared.allowed_hosts,
        cors_origins=tuple(options.cors_origins),
        prediction_log=prediction_log or prepared.prediction_log,
        stats=stats,
        injector=prepared.injector,
    )
    session = prepared.prediction_log
    app = create_app(holder, settings)
    # What is loaded now (the libraries, the model, the app) lives as long as the server:
    # kept out of the cyclic collector's sight, every collection walks only what requests
    # make (a 10,000-row JSON body makes 10,000 lists).
    gc.freeze()
    try:
        import uvloop

        loop = "uvloop"
    except ImportError:
        loop = "asyncio"
    config = uvicorn.Config(
        app,
        loop=loop,
        http=_protocol_class(options.timeout),
        ws="none",
        lifespan="off",
        log_config=None,
        access_log=False,
        server_header=False,
        proxy_headers=False,
        timeout_keep_alive=5,
        timeout_graceful_shutdown=5,
    )
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers = logging.getLogger("mlops_desktop").handlers
        logger.propagate = False
        logger.setLevel(logging.INFO)
    server = uvicorn.Server(config)

    async def main() -> None:
        tasks = [asyncio.create_task(server.serve(sockets=[prepared.sock]))]
        while not server.started:
            if tasks[0].done():
                tasks[0].result()
                return
            await asyncio.sleep(0.01)
        served = holder.current
        started = {
            "event": "serving",
            "url": prepared.url,
            "model": served.label,
            "alias": served.alias,
            "engine": served.predictor.engine,
            "reason": served.predictor.reason,
            "pid": _pid(),
            "docs": prepared.url + "/docs",
            "log": str(prepared.log_file) if prepared.log_file else None,
            "session": session.session_uuid if session is not None else None,
            "logging": session is not None and options.log_predictions,
            "injected_drift": prepared.injector.text if prepared.injector else None,
        }
        if prepared.generated_token:
            started["token"] = prepared.token
        lines.write(started)
        log.info("serving %s at %s", served.label, prepared.url)
        tasks.append(
            asyncio.create_task(_stats_lines(stats, holder, lines, options.stats_interval))
        )
        parent = os.environ.get(PARENT_VARIABLE, "")
        if parent.isdigit():
            tasks.append(asyncio.create_task(_stop_without_parent(int(parent), server)))
        if prepared.alias:
            follower = AliasFollower(
                str(options.project),
                prepared.alias,
                holder,
                executor,
                lines.write,
                interval=options.alias_interval,
            )
            tasks.append(asyncio.create_task(follower.run()))
        try:
            await tasks[0]
        finally:
            for task in tasks[1:]:
                task.cancel()
            await asyncio.gather(*tasks[1:], return_exceptions=True)

    try:
        if loop == "uvloop":
            import uvloop

            uvloop.run(main())
        else:
            asyncio.run(main())
    finally:
        executor.shutdown(wait=False, cancel_futures=True)
        prepared.sock.close()
        if session is not None:
            # After the last answer: every request answered is written before "stopped".
            session.close()
        lines.write({"event": "stopped", "model": holder.current.label})
        lines.close()


async def _stats_lines(stats, holder, lines, interval: float) -> None:
    next_at = time.monotonic() + interval
    batcher, calls = holder.current.batcher, 0
    while True:
        await asyncio.sleep(max(0.0, next_at - time.monotonic()))
        next_at += interval
        served = holder.current
        if served.batcher is not batcher:
            batcher, calls = served.batcher, 0
        made, calls = batcher.calls - calls, batcher.calls
        lines.write(
            {
                "event": "stats",
                "model": served.label,
                **stats.take(),
                "predict_calls": made,
                "total_requests": stats.total_requests,
                "total_errors": stats.total_errors,
            }
        )


async def _stop_without_parent(parent: int, server, interval: float = 1.0) -> None:
    # An orphan is adopted by another process, so its parent's id changes.
    while os.getppid() == parent:
        await asyncio.sleep(interval)
    log.warning("the app that started this server (pid %d) is gone: stopping", parent)
    server.should_exit = True


def _stop_quietly(signum, frame) -> None:
    raise SystemExit(0)


def _pid() -> int:
    return os.getpid()
