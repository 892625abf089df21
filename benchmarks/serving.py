"""The model server against ``mlflow models serve`` and against predicting in-process.

Trains two versions on generated customer data (imputation, one-hot and scaling in front of
a 100-tree random forest, and of a logistic regression), then for each prints requests/s,
p50 and p99 of:
- single-row requests from one sequential client; target at least 10x MLflow's throughput
  and a p50 within 1 ms of the in-process predict the server uses (its engine, on the
  parsed row);
- single-row requests from 16 concurrent clients; target at least 20x MLflow's throughput;
- one 10,000-row request (as JSON, CSV and Parquet); target within 1.3x of the model's own
  in-process predict on the same rows (the scikit-learn pipeline on a DataFrame, what the
  user would call), timed again after each round's requests;
- single-row requests with the prediction log on; target within 10 % of the throughput
  with it off, and every request in the log.

MLflow's figures need MLflow installed in another environment: pass its Python with
``--mlflow-python`` (or ``$MLOPS_DESKTOP_MLFLOW_PYTHON``); without it they are left out.

    python benchmarks/serving.py [--mlflow-python PATH] [--seconds 4] [--model logreg]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _data import customers_csv
from _net import free_port
from _timing import median_time

MODELS = {
    "forest": {"estimator": "RandomForestClassifier", "params": {"n_estimators": 100}},
    "logreg": {"estimator": "LogisticRegression", "params": {"max_iter": 2000}},
}
BIG_ROWS = 10_000
#: Requests of the 10,000 rows (and in-process predicts of them) whose median is compared.
BIG_REPEATS = 20
BIG_BODIES = ("application/json", "text/csv", "application/vnd.apache.parquet")
CONCURRENT = 16


@dataclass
class Run:
    requests: int
    seconds: float
    latencies: list[float]
    failures: int

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    def line(self) -> str:
        failed = f", {self.failures} failed" if self.failures else ""
        return (
            f"{self.rate:8.0f} req/s  p50 {self.percentile(0.5):7.2f} ms  "
            f"p99 {self.percentile(0.99):7.2f} ms{failed}"
        )


# -- a keep-alive HTTP/1.1 client, light enough not to be what is measured ----------------------


async def _client(port: int, request: bytes, deadline: float, run: Run, limit: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < deadline and run.requests < limit:
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
            run.latencies.append(time.perf_counter() - started)
            run.requests += 1
            if not head.startswith(b"HTTP/1.1 200"):
                run.failures += 1
    finally:
        writer.close()


def load(
    port: int,
    body: bytes,
    clients: int,
    seconds: float,
    limit: int = 10**9,
    content_type: str = "application/json",
) -> Run:
    """``clients`` connections posting ``body`` back to back for ``seconds``."""
    request = (
        f"POST /invocations HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    run = Run(0, 0.0, [], 0)

    async def main():
        started = time.perf_counter()
        deadline = started + seconds
        await asyncio.gather(
            *(_client(port, request, deadline, run, limit) for _ in range(clients))
        )
        run.seconds = time.perf_counter() - started

    asyncio.run(main())
    return run


# -- the project and the servers -----------------------------------------------------------------


def make_project(folder: Path) -> Path:
    from mlops_desktop.domain.experiment import ExperimentSpec
    from mlops_desktop.services.project import Project
    from mlops_desktop.services.worker import Worker

    path = folder / "serving.mlops"
    with Project.create(path) as project:
        project.datasets.import_file(str(customers_csv()), name="customers")
        for name, estimator in MODELS.items():
            spec = {"dataset": "customers", "target": "churned", "name": name, **estimator}
            project.experiments.save(ExperimentSpec.from_json(spec))
            project.queue.enqueue(name)
    Worker(str(path)).run()
    return path


def rows():
    """The first 10,000 rows of the data without the target, as a user would read them."""
    import pyarrow.csv as pacsv

    return pacsv.read_csv(customers_csv()).to_pandas().drop(columns="churned").head(BIG_ROWS)


def bodies(frame) -> dict[str, bytes]:
    """The rows as each content type of the protocol."""
    import io

    csv, parquet = io.BytesIO(), io.BytesIO()
    frame.to_csv(csv, index=False)
    frame.to_parquet(parquet, index=False)
    return {
        "application/json": split_json(frame),
        "text/csv": csv.getvalue(),
        "application/vnd.apache.parquet": parquet.getvalue(),
    }


def split_json(frame) -> bytes:
    """Rows as MLflow's ``dataframe_split`` JSON."""
    values = json.loads(frame.to_json(orient="split", index=False))
    return json.dumps({"dataframe_split": values}).encode()


class InProcess:
    """What the served engine takes for one parsed row, what the model's own pipeline
    takes for the 10,000 rows as a DataFrame, and the engine on those rows."""

    def __init__(self, path: Path, ref: str, frame, one: bytes, big: bytes):
        from mlops_desktop.services.predictors import (
            SklearnPredictor,
            load_predictor,
            methods_of,
            served_columns,
        )
        from mlops_desktop.services.project import Project
        from mlops_desktop.serving import parsing

        with Project.open(path, read_only=True) as project:
            version = project.models.get(ref)
            self.engine = load_predictor(project, version)
            self.model = SklearnPredictor.load(project, version).model
        columns = served_columns(version)
        self.frame = frame
        self.parsed_one = parsing.parse_body(one, parsing.JSON, columns, methods_of(version))
        self.parsed_big = parsing.parse_body(big, parsing.JSON, columns, methods_of(version))
        self.figures = {
            "engine": f"{self.engine.engine}",
            "one": median_time(
                lambda: self.engine.predict(self.parsed_one.columns, 1, "predict"), 500
            ),
            "one_sklearn": median_time(lambda: self.model.predict(frame.head(1)), 50),
            **self.big(),
        }

    def big(self) -> dict:
        """The 10,000-row predicts, timed again next to each round of requests."""
        return {
            "big_model": median_time(lambda: self.model.predict(self.frame), BIG_REPEATS),
            "big_engine": median_time(
                lambda: self.engine.predict(self.parsed_big.columns, BIG_ROWS, "predict"),
                BIG_REPEATS,
            ),
        }


def ours(path: Path, ref: str, log: bool):
    from mlops_desktop.services.servers import ServerProcess

    server = ServerProcess(path, ref, port=free_port(), log_predictions=log)
    if not server.wait_serving(120):
        raise SystemExit(f"our server did not start: {server.error or server.stderr}")
    return server


def mlflow_export(path: Path, ref: str, out: Path) -> Path:
    subprocess.run(
        [
            *(sys.executable, "-m", "mlops_desktop", "models", "export"),
            *(str(path), ref, str(out), "--format", "mlflow"),
        ],
        check=True,
        capture_output=True,
    )
    return out


def mlflow_server(python: str, model: Path, port: int) -> subprocess.Popen:
    process = subprocess.Popen(
        [
            *(python, "-m", "mlflow", "models", "serve", "-m", str(model), "-p", str(port)),
            *("--env-manager", "local", "-h", "127.0.0.1"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        # It starts "uvicorn" from PATH: the one beside its own Python.
        env={**os.environ, "PATH": f"{Path(python).parent}:{os.environ.get('PATH', '')}"},
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2):
                return process
        except OSError:
            if process.poll() is not None:
                raise SystemExit("mlflow models serve ended before it answered") from None
            time.sleep(0.5)
    process.kill()
    raise SystemExit("mlflow models serve did not answer within two minutes")


def logged(path: Path, session_uuid: str) -> tuple[int, int]:
    """The session's request count and the distinct requests in its log."""
    from mlops_desktop.services.project import Project

    with Project.open(path, read_only=True) as project:
        session = project.serving.session(session_uuid)
        frame = project.serving.predictions_frame(
            session.model_version_uuid, session_uuid=session_uuid
        )
    return session.requests, int(frame["request_id"].nunique())


def measure_ours(
    path: Path, ref: str, one: bytes, big: dict, seconds: float, rounds: int, local: InProcess
) -> dict:
    figures: dict = {"off": [], "on": []}
    # Alternated, and compared round by round: this machine's speed drifts by tens of per
    # cent over a minute, so only runs next to each other compare fairly.
    for _ in range(rounds):
        for mode in ("off", "on"):
            server = ours(path, ref, log=mode == "on")
            port = int(server.url.rsplit(":", 1)[1])
            load(port, one, 1, 0.5)  # warm up
            result = {
                "sequential": load(port, one, 1, seconds),
                "concurrent": load(port, one, CONCURRENT, seconds),
                **{
                    f"big {kind}": load(port, body, 1, 60, limit=BIG_REPEATS, content_type=kind)
                    for kind, body in big.items()
                },
                "in-process": local.big(),
                "session": server.started.get("session"),
            }
            result["sent"] = sum(r.requests for r in result.values() if isinstance(r, Run))
            server.stop()
            if mode == "on":
                counted, in_log = logged(path, result["session"])
                warm = counted - result["sent"]  # the warm-up requests
                result["logged"] = (in_log - warm, result["sent"], counted - warm)
            figures[mode].append(result)
    return figures


def best(runs: list[dict], key: str) -> Run:
    return max((r[key] for r in runs), key=lambda run: run.rate)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--mlflow-python",
        default=os.environ.get("MLOPS_DESKTOP_MLFLOW_PYTHON"),
        help="a Python with MLflow installed, to measure `mlflow models serve` too",
    )
    parser.add_argument("--seconds", type=float, default=4.0, help="length of each load run")
    parser.add_argument("--model", choices=sorted(MODELS), help="measure only this one")
    parser.add_argument(
        "--rounds", type=int, default=5, help="alternated rounds of log off and log on"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        os.environ["MLOPS_DESKTOP_HOME"] = str(folder / "home")
        path = make_project(folder)
        frame = rows()
        one, big = split_json(frame.head(1)), bodies(frame)
        for name in [args.model] if args.model else MODELS:
            ref = f"{name}:1"
            local = InProcess(path, ref, frame, one, big["application/json"])
            figures = measure_ours(path, ref, one, big, args.seconds, args.rounds, local)
            theirs = None
            if args.mlflow_python:
                model = mlflow_export(path, ref, folder / f"mlflow-{name}")
                port = free_port()
                process = mlflow_server(args.mlflow_python, model, port)
                try:
                    load(port, one, 1, 0.5)
                    theirs = {
                        "sequential": load(port, one, 1, args.seconds),
                        "concurrent": load(port, one, CONCURRENT, args.seconds),
                    }
                finally:
                    process.terminate()
                    process.wait(30)
            report(name, local.figures, figures, theirs)


def report(name: str, local: dict, figures: dict, theirs: dict | None) -> None:
    print(f"\n{name}: imputation + one-hot + scaling + {MODELS[name]['estimator']}")
    print(
        f"  in-process: served engine ({local['engine']}) one parsed row "
        f"{local['one'] * 1000:.3f} ms; the scikit-learn pipeline on a one-row DataFrame "
        f"{local['one_sklearn'] * 1000:.2f} ms; on {BIG_ROWS:,} rows "
        f"{local['big_model'] * 1000:.1f} ms (engine {local['big_engine'] * 1000:.1f} ms)"
    )
    off, on = figures["off"], figures["on"]
    sequential, concurrent = best(off, "sequential"), best(off, "concurrent")
    print(f"  ours, 1 client:        {sequential.line()}")
    print(f"  ours, {CONCURRENT} clients:      {concurrent.line()}")
    if theirs:
        for key, label, target, run in (
            ("sequential", "1 client:   ", 10, sequential),
            ("concurrent", f"{CONCURRENT} clients:  ", 20, concurrent),
        ):
            print(
                f"  MLflow, {label}  {theirs[key].line()}   ours/MLflow "
                f"{run.rate / theirs[key].rate:.1f}x (target >= {target}x)"
            )
    else:
        print("  MLflow: not measured (give --mlflow-python)")
    gap = sequential.percentile(0.5) - local["one"] * 1000
    print(
        f"  p50 of one sequential request minus the in-process predict: {gap:.2f} ms "
        "(target <= 1 ms)"
    )
    for kind in BIG_BODIES:
        # Each round's requests against the predicts timed right after them.
        big = [statistics.median(r[f"big {kind}"].latencies) for r in off]
        model = [r["in-process"]["big_model"] for r in off]
        engine = [r["in-process"]["big_engine"] for r in off]
        ratios = [b / m for b, m in zip(big, model, strict=True)]
        print(
            f"  one {BIG_ROWS:,}-row request as {kind}: {statistics.median(big) * 1000:.1f} ms; "
            f"against the model's own predict in the same round "
            f"{', '.join(f'{r:.2f}x' for r in ratios)}: median {statistics.median(ratios):.2f}x "
            f"(target <= 1.3x); {statistics.median(big) / statistics.median(engine):.2f}x the "
            "engine's"
        )
    for key in ("sequential", "concurrent"):
        ratios = [a[key].rate / b[key].rate for a, b in zip(on, off, strict=True)]
        print(
            f"  prediction log on, {key:10}: {best(on, key).rate:.0f} req/s at best; against "
            f"log off in the same round {', '.join(f'{r:.2f}x' for r in ratios)}: median "
            f"{statistics.median(ratios):.2f}x (target >= 0.90)"
        )
    for run in on:
        in_log, sent, counted = run["logged"]
        print(
            f"  logged {in_log:,} of {sent:,} requests sent (session counted {counted:,})"
            + ("" if in_log == sent else "  MISSING")
        )


if __name__ == "__main__":
    main()
