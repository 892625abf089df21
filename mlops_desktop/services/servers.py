"""Model servers run as child processes: started, watched through their JSON lines, stopped."""

from __future__ import annotations

import collections
import contextlib
import json
import logging
import os
import pprint
import shlex
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from mlops_desktop.domain.model import ModelVersion
from mlops_desktop.services.commands import own_command

log = logging.getLogger(__name__)

STARTING, SERVING, STOPPING, STOPPED, CRASHED = (
    "starting",
    "serving",
    "stopping",
    "stopped",
    "crashed",
)
ENDED = (STOPPED, CRASHED)
#: The environment variable ``serve --token`` also reads: other users of the machine can see
#: a process's command line, but not its environment (the same name as the CLI's).
TOKEN_ENV = "MLOPS_DESKTOP_SERVE_TOKEN"
#: The app's process id, given to the servers it starts: such a server stops (cleanly) once
#: that process is gone, even killed, rather than serve on with nobody watching it.
PARENT_VARIABLE = "MLOPS_DESKTOP_SERVE_PARENT"
#: Stats lines kept for the latency chart: one a second, ten minutes of them.
HISTORY_SECONDS = 600
#: The end of stderr kept for showing a crash (a server logs to its log file, not stderr).
STDERR_CHARS = 64_000
#: Seconds a stopping server gets to finish its requests before it is killed.
STOP_TIMEOUT = 10.0


@dataclass(frozen=True)
class StatsPoint:
    """One stats line, with the time (``time.time()``) it arrived."""

    at: float
    requests: int
    errors: int
    rows: int
    p50_ms: float | None
    p95_ms: float | None


class ServerProcess:
    """``python -m mlops_desktop serve PROJECT MODEL ...``, watched from a reader thread.

    Its state goes ``starting`` -> ``serving`` -> ``stopping`` -> ``stopped``, or ends as
    ``crashed`` when the process exits on its own with an error (a refused start included:
    ``error`` has its message). Everything read here is safe to read from any thread.
    ``on_line``, if given, is called on the reader thread with every JSON line, then with
    None when the output ends.
    """

    def __init__(
        self,
        project: str | os.PathLike,
        model: str,
        host: str = "127.0.0.1",
        port: int | None = 5005,
        token: str | None = None,
        log_predictions: bool = True,
        extra_args: Sequence[str] = (),
        env: dict[str, str] | None = None,
        on_line: Callable[[dict | None], None] | None = None,
    ):
        self.project = Path(project)
        self.model = model.strip()
        self.host = host
        self.port = port
        self.token = token
        self.log_predictions = log_predictions
        self.started: dict | None = None  # the "serving" line
        self.switches: list[dict] = []
        self.history: collections.deque[StatsPoint] = collections.deque(maxlen=HISTORY_SECONDS)
        self.total_requests = 0
        self.total_errors = 0
        self.returncode: int | None = None
        self._on_line = on_line
        self._lock = threading.Lock()
        self._state = STARTING
        self._stop_requested = False
        self._stderr: collections.deque[str] = collections.deque()
        self._stderr_chars = 0
        self._ended = threading.Event()
        self._serving = threading.Event()
        command = own_command("serve", str(self.project), self.model)
        command += ["--host", host]
        if port is not None:
            command += ["--port", str(port)]
        if not log_predictions:
            command.append("--no-log")
        command += [str(arg) for arg in extra_args]
        self.command = command
        child_env = {**os.environ, PARENT_VARIABLE: str(os.getpid()), **(env or {})}
        # Where a server that fails before its start line logged: the app's log file, unless
        # the child was given a home of its own.
        self._app_log = None if "MLOPS_DESKTOP_HOME" in (env or {}) else _app_log_file()
        if token:
            child_env[TOKEN_ENV] = token
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            errors="replace",
            env=child_env,
        )
        self.pid = self.process.pid
        log.info("started a server (pid %s) for %s of %s", self.pid, self.model, self.project)
        self._stderr_reader = threading.Thread(
            target=self._read_stderr, daemon=True, name=f"server {self.pid} stderr"
        )
        self._stderr_reader.start()
        threading.Thread(
            target=self._read_stdout, daemon=True, name=f"server {self.pid} stdout"
        ).start()

    # -- what it is doing ----------------------------------------------------------------------

    @property
    def state(self) -> str:
        return self._state

    @property
    def url(self) -> str | None:
        return self.started["url"] if self.started else None

    @property
    def docs(self) -> str | None:
        return self.started.get("docs") if self.started else None

    @property
    def log_file(self) -> str | None:
        """The log file the server writes to (the app's, unless its start line says other)."""
        if self.started and self.started.get("log"):
            return self.started["log"]
        return self._app_log

    @property
    def engine(self) -> str | None:
        return self.started.get("engine") if self.started else None

    @property
    def reason(self) -> str | None:
        return self.started.get("reason") if self.started else None

    @property
    def serving_label(self) -> str:
        """The version served now (it changes when a followed alias moves)."""
        if self.switches:
            return self.switches[-1].get("model") or self.model
        if self.started:
            return self.started.get("model") or self.model
        return self.model

    @property
    def stderr(self) -> str:
        with self._lock:
            return "".join(self._stderr)

    @property
    def error(self) -> str | None:
        """What went wrong, as a sentence, for a crashed server (None otherwise)."""
        if self._state != CRASHED:
            return None
        lines = [line.strip() for line in self.stderr.splitlines() if line.strip()]
        refusals = [line for line in lines if line.startswith("error:")]
        if refusals:
            return refusals[-1].removeprefix("error:").strip()
        what = "while starting" if self.started is None else "while serving"
        return (
            f"The server for {self.model} stopped {what} (exit code {self.returncode}): see "
            "its output below and the log file for why, then start it again."
        )

    def points(self, seconds: float = HISTORY_SECONDS) -> list[StatsPoint]:
        """The stats lines of the last ``seconds``, oldest first."""
        since = time.time() - seconds
        with self._lock:
            return [point for point in self.history if point.at >= since]

    def wait_serving(self, timeout: float) -> bool:
        """Wait until it serves or ends; True if it serves."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._serving.wait(0.05):
                return True
            if self._ended.is_set():
                return False
        return self._serving.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the process has ended and its output is read; True if it has."""
        return self._ended.wait(timeout)

    # -- stopping ------------------------------------------------------------------------------

    def terminate(self, kill_after: float = STOP_TIMEOUT) -> None:
        """Ask it to stop (SIGTERM) and return at once; it is killed if it is still running
        ``kill_after`` seconds later."""
        with self._lock:
            if self._state in ENDED:
                return
            self._stop_requested = True
            self._state = STOPPING
        with contextlib.suppress(ProcessLookupError):
            self.process.terminate()
        threading.Thread(
            target=self._kill_if_stuck, args=(kill_after,), daemon=True, name="server stop"
        ).start()

    def stop(self, timeout: float = STOP_TIMEOUT) -> int | None:
        """Stop it and wait until it has ended; its exit code."""
        self.terminate(kill_after=timeout)
        self._ended.wait(timeout + 5)
        return self.returncode

    def _kill_if_stuck(self, timeout: float) -> None:
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning("server %s did not stop within %s s: killing it", self.pid, timeout)
            self.process.kill()

    # -- the reader threads --------------------------------------------------------------------

    def _read_stdout(self) -> None:
        try:
            for text in self.process.stdout:
                try:
                    line = json.loads(text)
                except ValueError:
                    log.debug("server %s printed a line that is not JSON: %r", self.pid, text)
                    continue
                if isinstance(line, dict):
                    self._take(line)
                    if self._on_line is not None:
                        self._on_line(line)
        finally:
            self.returncode = self.process.wait()
            self._stderr_reader.join(5)
            self.process.stdout.close()
            self.process.stderr.close()
            with self._lock:
                # Exit 0 is a clean stop (SIGTERM's handler exits 0); a stop that had to
                # kill is still the user's stop.
                clean = self.returncode == 0 or self._stop_requested
                self._state = STOPPED if clean else CRASHED
            log.info("server %s ended (exit %s): %s", self.pid, self.returncode, self._state)
            self._ended.set()
            if self._on_line is not None:
                self._on_line(None)

    def _take(self, line: dict) -> None:
        event = line.get("event")
        with self._lock:
            if event == "serving":
                self.started = line
                if self._state == STARTING:
                    self._state = SERVING
                self._serving.set()
            elif event == "stats":
                self.history.append(
                    StatsPoint(
                        # The server's own clock when it says, else when the line arrived.
                        at=float(line.get("time") or time.time()),
                        requests=int(line.get("requests") or 0),
                        errors=int(line.get("errors") or 0),
                        rows=int(line.get("rows") or 0),
                        p50_ms=line.get("p50_ms"),
                        p95_ms=line.get("p95_ms"),
                    )
                )
                self.total_requests = int(line.get("total_requests") or self.total_requests)
                self.total_errors = int(line.get("total_errors") or self.total_errors)
            elif event == "switched":
                self.switches.append(line)

    def _read_stderr(self) -> None:
        for text in self.process.stderr:
            with self._lock:
                self._stderr.append(text)
                self._stderr_chars += len(text)
                while self._stderr_chars > STDERR_CHARS and len(self._stderr) > 1:
                    self._stderr_chars -= len(self._stderr.popleft())


def _app_log_file() -> str | None:
    from mlops_desktop.services.logs import LOG_FILE_NAME
    from mlops_desktop.services.paths import log_folder

    try:
        return str(log_folder() / LOG_FILE_NAME)
    except OSError:  # no log folder to be had: the output shown is all there is
        return None


class ServerManager:
    """The servers one window started, several at once (each its own model and port)."""

    def __init__(self) -> None:
        self.servers: list[ServerProcess] = []

    def start(self, project: str | os.PathLike, model: str, **options) -> ServerProcess:
        server = ServerProcess(project, model, **options)
        self.servers.append(server)
        return server

    def running(self) -> list[ServerProcess]:
        return [server for server in self.servers if server.state not in ENDED]

    def on_port(self, host: str, port: int) -> ServerProcess | None:
        """A server of this window that is (or will be) listening on host:port."""
        for server in self.running():
            if server.port == port and server.host == host:
                return server
        return None

    def forget(self, server: ServerProcess) -> None:
        if server.state in ENDED and server in self.servers:
            self.servers.remove(server)

    def stop_all(self, timeout: float = STOP_TIMEOUT) -> None:
        """Stop every server at once (each gets ``timeout`` seconds) and wait for them."""
        running = self.running()
        for server in running:
            server.terminate(kill_after=timeout)
        deadline = time.monotonic() + timeout + 5
        for server in running:
            server.wait(max(0.0, deadline - time.monotonic()))


# -- examples to copy --------------------------------------------------------------------------

#: Values for a column of each kind when the training data has none to show.
_PLACEHOLDERS = {
    "double": 0.0,
    "long": 0,
    "boolean": False,
    "string": "text",
    "datetime": "2024-01-01T00:00:00",
}
EXAMPLE_ROWS = 2


def request_example(project, version: ModelVersion, rows: int = EXAMPLE_ROWS) -> dict:
    """A ``/invocations`` body for ``version``: ``dataframe_split`` with the columns it needs
    and the first complete rows of its training data (placeholders if those are gone)."""
    from mlops_desktop.domain.errors import UserError
    from mlops_desktop.domain.signature import Signature
    from mlops_desktop.services.exports.mlflow import column_specs, mlflow_column_type

    signature = Signature.from_json(version.signature)
    try:
        specs = [s for s in column_specs(signature) if s["required"]]
    except UserError:
        specs = [
            {"name": c.name, "type": mlflow_column_type(c.type) or "string"}
            for c in signature.inputs
            if c.required
        ]
    try:
        split = _rows_of_training_data(project, version, specs, rows)
    except Exception:  # a deleted dataset or an unreadable blob: the shape still helps
        log.debug("no training rows for the example of %s", version.label, exc_info=True)
        split = None
    if split is None:
        split = {
            "columns": [s["name"] for s in specs],
            "data": [[_PLACEHOLDERS[s["type"]] for s in specs]],
        }
    return {"dataframe_split": split}


def _rows_of_training_data(project, version: ModelVersion, specs: list[dict], rows: int):
    from mlops_desktop.services import tabular
    from mlops_desktop.services.exports.mlflow import example_split

    if version.dataset_version_uuid is None:
        return None
    dataset = project.datasets.by_uuid(version.dataset_version_uuid)
    # The first part holds the first rows: no need to read the whole dataset.
    table = tabular.decode_parts([project.file.blobs.get(dataset.parts[0])])
    frame = table.slice(0, 200).select([s["name"] for s in specs]).to_pandas()
    if frame.empty:
        return None
    complete = frame.dropna()
    frame = (complete if len(complete) >= rows else frame).head(rows)
    return example_split(frame, specs)


def example_task(project_path: str, ref: str, state) -> dict:
    """Task function (thread): the request example for the version ``ref`` names."""
    from mlops_desktop.services.project import Project

    with Project.open(project_path, read_only=True) as project:
        return request_example(project, project.models.get(ref))


def _split_lines(body: dict, dumps, indent: str) -> list[str] | None:
    """A ``dataframe_split`` body laid out a row a line (None for any other body)."""
    if set(body) != {"dataframe_split"} or set(body["dataframe_split"]) != {"columns", "data"}:
        return None
    split = body["dataframe_split"]
    one, two, three = indent, indent * 2, indent * 3
    return [
        "{",
        f"{one}{dumps('dataframe_split')}: {{",
        f"{two}{dumps('columns')}: {dumps(split['columns'])},",
        f"{two}{dumps('data')}: [",
        *[f"{three}{dumps(row)}," for row in split["data"]],
        f"{two}],",
        f"{one}}}",
        "}",
    ]


def _json_text(body: dict) -> str:
    lines = _split_lines(body, json.dumps, "  ")
    if lines is None:
        return json.dumps(body, indent=2)
    # JSON has no trailing commas: the last row's and the data list's go.
    lines[-4] = lines[-4].removesuffix(",")
    lines[-3] = lines[-3].removesuffix(",")
    return "\n".join(lines)


def curl_example(url: str, body: dict, token: str | None = None) -> str:
    """A curl command line (for a POSIX shell) that asks ``url`` for predictions."""
    lines = [
        f"curl -sS -X POST {shlex.quote(url.rstrip('/') + '/invocations')}",
        "  -H 'Content-Type: application/json'",
    ]
    if token:
        lines.append(f"  -H {shlex.quote('Authorization: Bearer ' + token)}")
    lines.append(f"  -d {shlex.quote(_json_text(body))}")
    return " \\\n".join(lines)


def python_example(url: str, body: dict, token: str | None = None) -> str:
    """A Python script, standard library only, that asks ``url`` for predictions."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    literal = _split_lines(body, repr, "    ") or pprint.pformat(body, width=88).splitlines()
    return "\n".join(
        [
            "import json",
            "import urllib.request",
            "",
            f"body = {literal[0]}",
            *literal[1:],
            "request = urllib.request.Request(",
            f"    {url.rstrip('/') + '/invocations'!r},",
            "    data=json.dumps(body).encode(),",
            f"    headers={headers!r},",
            ")",
            "with urllib.request.urlopen(request) as response:",
            "    print(json.load(response)['predictions'])",
            "",
        ]
    )
