"""The prediction log: the server's writer (``PredictionLog``) and ``project.serving``."""

import gc
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from mlops_desktop.domain.errors import UserError
from mlops_desktop.domain.serving import LOST, STOPPED
from mlops_desktop.services.predictionlog import PredictionLog
from mlops_desktop.services.project import Project
from tests.store.test_serving import T0, add_version, request


@pytest.fixture
def version(project):
    return add_version(project.file)


def start(project, version, **kwargs):
    return project.serving.start_session(version, host="127.0.0.1", port=5005, **kwargs)


def batches(project):
    rows = project.file.conn.execute(
        "SELECT format, level, rows FROM prediction_batches ORDER BY id"
    )
    return rows.fetchall()


def test_a_session_is_started_and_stopped_in_the_history(project, version):
    session = start(project, version, served_as="churn@production", engine="onnxruntime")
    assert session.served_as == "churn@production"
    log = PredictionLog(project.path, session.uuid)
    stopped = log.close()
    assert stopped.state() == STOPPED
    assert log.close() == stopped  # closing twice is closing once
    summaries = [e.summary for e in project.history(3)]
    assert summaries[:2] == [
        "Stopped serving churn@production (churn:1) at http://127.0.0.1:5005: 0 requests, 0 errors",
        "Served churn@production (churn:1) at http://127.0.0.1:5005",
    ]
    assert project.serving.stop_session(session.uuid) == project.serving.session(session.uuid)
    assert len(project.history(10)) == 3  # stopping again records nothing


def test_a_session_is_named_by_what_was_asked_for(project, version):
    assert start(project, "churn:1").served_as == "churn:1"
    assert start(project, version.uuid).served_as == "churn:1"
    with pytest.raises(UserError):
        start(project, "churn:7")


def test_a_log_needs_a_running_session(project, version):
    session = start(project, version)
    project.serving.stop_session(session.uuid)
    with pytest.raises(UserError, match="no running serving session"):
        PredictionLog(project.path, session.uuid)


def test_everything_added_from_four_threads_is_stored_in_order(project, version):
    session = start(project, version)
    log = PredictionLog(
        project.path, session.uuid, flush_seconds=0.02, merge_after=3, fanout=2, segment_rows=1500
    )

    def serve(thread):
        for i in range(2500):
            _, _, _, latency, columns, outputs = request(i, version.uuid)
            log.add(f"{thread}-{i}", version.uuid, T0 + i / 1000, latency, columns, outputs)
            if i % 100 == 0:
                time.sleep(0.005)  # let flushes and merges happen in between

    threads = [threading.Thread(target=serve, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stopped = log.close()
    assert stopped.requests == 10_000
    assert (stopped.errors, stopped.dropped) == (0, 0)
    frame = project.serving.predictions_frame(version.uuid)
    assert len(frame) == 10_000
    for thread in range(4):
        ids = frame.loc[frame["request_id"].str.startswith(f"{thread}-"), "request_id"]
        assert ids.tolist() == [f"{thread}-{i}" for i in range(2500)]
    stored = batches(project)
    assert {f for f, _, _ in stored} == {"parquet"}  # all merged, the last ones on close
    assert sum(r for _, _, r in stored) == 10_000
    assert project.file.conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_the_server_s_prediction_records_are_taken_whole(project, version):
    @dataclass(frozen=True)
    class PredictionRecord:  # as mlops_desktop.serving.app makes them
        request_id: str
        version: object
        columns: dict
        rows: int
        method: str
        predictions: list
        latency_ms: float
        received_at: float

    session = start(project, version)
    with PredictionLog(project.path, session.uuid) as log:
        for i in range(3):
            rid, _, at, latency, columns, outputs = request(i, version.uuid)
            log.add(PredictionRecord(rid, version, columns, 1, "predict", outputs, latency, at))
        log.add(PredictionRecord("p", version, columns, 1, "predict_proba", [[0.3, 0.7]], 1, at))
    frame = project.serving.predictions_frame(version.uuid)
    assert frame["request_id"].tolist() == ["req-0", "req-1", "req-2", "p"]
    assert frame["prediction"].tolist()[:3] == ["no", "yes", "no"]
    assert frame["probabilities"].iloc[3].tolist() == [0.3, 0.7]


def test_the_frame_has_one_typed_column_per_input(project, version):
    session = start(project, version)
    with PredictionLog(project.path, session.uuid) as log:
        for i in range(4):
            log.add(*request(i, version.uuid, rows=2 if i == 3 else 1))
    frame = project.serving.predictions_frame(version.uuid)
    assert list(frame.columns) == [
        "request_id",
        "row",
        "at",
        "latency_ms",
        "age",
        "income",
        "city",
        "member",
        "joined",
        "input.prediction",
        "prediction",
    ]
    assert frame["at"].dtype == "datetime64[us, UTC]"
    assert frame["latency_ms"].dtype == "float64"
    assert frame["age"].dtype == "int64"
    assert frame["income"].dtype == "float64"
    assert pd.api.types.is_string_dtype(frame["city"])
    assert frame["member"].dtype == "bool"
    assert frame["joined"].dtype == "datetime64[ms]"
    assert pd.api.types.is_string_dtype(frame["prediction"])
    assert frame["row"].tolist() == [0, 0, 0, 0, 1]
    assert frame["at"].iloc[0] == pd.Timestamp(T0, unit="s", tz="UTC")
    assert frame["joined"].iloc[0] == pd.Timestamp("2024-05-01 08:30")


def test_the_time_window_takes_datetimes_text_and_seconds(project, version):
    session = start(project, version)
    with PredictionLog(project.path, session.uuid) as log:
        for i in range(10):
            log.add(*request(i, version.uuid, at=T0 + 60 * i))
    serving = project.serving
    since = datetime.fromtimestamp(T0 + 120, UTC)
    assert len(serving.predictions_frame(version.uuid, since=since)) == 8
    assert len(serving.predictions_frame(version.uuid, until=T0 + 120)) == 2
    naive_until = since.replace(tzinfo=None) + timedelta(minutes=3)  # naive is UTC
    window = serving.predictions_frame(version.uuid, since=since.isoformat(), until=naive_until)
    assert window["request_id"].tolist() == ["req-2", "req-3", "req-4"]


def test_traffic_counts_requests_errors_and_latency_per_bucket(project, version):
    session = start(project, version)
    with PredictionLog(project.path, session.uuid) as log:
        for i in range(10):  # minute 0: latencies 1..10 ms
            rid, v, _, _, columns, outputs = request(i, version.uuid)
            log.add(rid, v, T0 + i, float(i + 1), columns, outputs)
        log.add(*request(20, version.uuid, at=T0 + 125, rows=5))  # minute 2: one request
        log.add_error("bad", T0 + 130, 0.2, 400, "column 'age' is missing")
    buckets = project.serving.traffic(version.uuid, bucket_seconds=60)
    assert [(b.requests, b.rows, b.errors) for b in buckets] == [(10, 10, 0), (0, 0, 0), (1, 5, 1)]
    first = buckets[0]
    assert first.start == "2026-12-02T10:14:00.000000+00:00"
    assert first.p50_ms == pytest.approx(np.quantile(np.arange(1, 11), 0.5))
    assert first.p95_ms == pytest.approx(np.quantile(np.arange(1, 11), 0.95))
    assert buckets[1].p50_ms is None
    assert buckets[2].error_rate == 0.5
    assert project.serving.session(session.uuid).errors == 1
    (error,) = project.serving.errors(version.uuid)
    assert error.message == "column 'age' is missing"
    with pytest.raises(UserError, match="buckets"):
        project.serving.traffic(version.uuid, bucket_seconds=0.0001)
    # Counted from a frame read already, the same buckets.
    frame = project.serving.predictions_frame(version.uuid)
    assert project.serving.traffic(version.uuid, bucket_seconds=60, logged=frame) == buckets


def test_one_request_can_be_looked_up_by_its_id(project, version):
    session = start(project, version)
    with PredictionLog(project.path, session.uuid, merge_after=2) as log:
        for i in range(100):
            log.add(*request(i, version.uuid))
    found = project.serving.find_request("req-42")
    assert found["age"].tolist() == [72]
    assert project.serving.find_request("nobody") is None


def test_with_the_log_off_requests_are_only_counted(project, version):
    session = start(project, version, log_predictions=False)
    with PredictionLog(project.path, session.uuid) as log:
        for i in range(50):
            log.add(*request(i, version.uuid))
    assert batches(project) == []
    stopped = project.serving.session(session.uuid)
    assert (stopped.requests, stopped.dropped, stopped.log_predictions) == (50, 0, False)
    assert "predictions not logged" in stopped.detail()


def test_a_locked_project_delays_the_log_but_loses_nothing(project, version):
    session = start(project, version)
    log = PredictionLog(project.path, session.uuid, flush_seconds=0.05)
    blocker = sqlite3.connect(project.path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # holds the write lock
    try:
        for i in range(200):
            log.add(*request(i, version.uuid))  # never blocks, never raises
        time.sleep(2.5)  # longer than the writer waits for the lock: it backs off and retries
        assert log.failed_writes >= 1
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    stopped = log.close()
    assert stopped.requests == 200
    assert len(project.serving.predictions_frame(version.uuid)) == 200


def test_a_version_deleted_while_served_takes_its_log_along(project, version):
    other = add_version(project.file, "other")
    session = start(project, version)
    log = PredictionLog(project.path, session.uuid, flush_seconds=3600)
    log.add(*request(0, version.uuid))
    log.add(*request(1, other.uuid))
    project.models.delete("other:1")
    stopped = log.close()
    assert (stopped.requests, stopped.dropped) == (2, 1)
    assert len(project.serving.predictions_frame(version.uuid)) == 1


def test_adding_after_closing_is_harmless(project, version):
    session = start(project, version)
    log = PredictionLog(project.path, session.uuid)
    log.close()
    log.add(*request(0, version.uuid))
    log.add_error("late", time.time(), 1.0)
    log.add("junk")
    assert batches(project) == []


def test_add_costs_a_small_multiple_of_appending_a_tuple(project, version):
    """On the request thread ``add`` may only append: against appending the same tuple to a
    list inline, and against the least a method can do (a call that appends)."""
    session = start(project, version)
    log = PredictionLog(project.path, session.uuid, flush_seconds=3600)
    rid, v, at, latency, columns, outputs = request(0, version.uuid)
    sink: list = []

    class Sink:
        def add(self, request_id, version_uuid, at, latency_ms, columns, outputs):
            sink.append((request_id, version_uuid, at, latency_ms, columns, outputs))

    def timed(add):
        sink.clear()
        started = time.perf_counter()
        for _ in range(n):
            add(rid, v, at, latency, columns, outputs)
        return (time.perf_counter() - started) / n

    def inline():
        sink.clear()
        started = time.perf_counter()
        for _ in range(n):
            sink.append((rid, v, at, latency, columns, outputs))
        return (time.perf_counter() - started) / n

    n, bare, least, ours = 20_000, [], [], []
    gc.disable()  # the collector's sweeps of the growing lists would be most of every timing
    try:
        for _ in range(7):  # interleaved, so that a busy moment of the machine hits all three
            bare.append(inline())
            least.append(timed(Sink().add))
            ours.append(timed(log.add))
    finally:
        gc.enable()
        sink.clear()
    bare, least, ours = min(bare), min(least), min(ours)
    print(
        f"add() {ours * 1e6:.2f} µs; list.append of the tuple {bare * 1e6:.2f} µs "
        f"({ours / bare:.1f}×); a method that appends {least * 1e6:.2f} µs ({ours / least:.1f}×)"
    )
    # Any real work (building arrays, I/O) would cost tens of times more than either.
    assert ours < 10 * least
    assert ours < 25 * bare
    log.close()


def test_reading_the_log_is_about_as_fast_as_reading_parquet(project, tmp_path):
    """200,000 logged rows of 20 inputs into pandas, against the same rows in a Parquet
    file: the store must not be the slow part of monitoring."""

    def column(name, arrow_type, kind):
        return {"name": name, "type": arrow_type, "kind": kind, "required": True}

    inputs = [column(f"x{i}", "double", "numeric") for i in range(16)]
    inputs += [column(f"n{i}", "int64", "numeric") for i in range(2)]
    inputs += [column(f"c{i}", "string", "categorical") for i in range(2)]
    signature = {"inputs": inputs, "output": {"task": "regression", "target": "y", "classes": []}}
    version = add_version(project.file, "wide", signature)
    session = start(project, version)
    rng = np.random.default_rng(0)
    words = np.array(["red", "green", "blue", "yellow"], dtype=object)
    log = PredictionLog(project.path, session.uuid, flush_seconds=0.005)
    per_flush = 2000
    for k in range(100):
        x = rng.normal(size=(per_flush, 16)).round(3)
        n = rng.integers(0, 100, size=(per_flush, 2)).astype(float)
        c = words[rng.integers(0, 4, size=(per_flush, 2))]
        before = log.flushes
        for i in range(per_flush):
            columns = {f"x{j}": x[i, j : j + 1] for j in range(16)}
            columns |= {f"n{j}": n[i, j : j + 1] for j in range(2)}
            columns |= {f"c{j}": c[i, j : j + 1] for j in range(2)}
            log.add(f"{k}-{i}", version.uuid, T0 + k + i / per_flush, 2.0, columns, [x[i, 0]])
        while log.flushes == before:
            time.sleep(0.001)
    log.close()
    serving = project.serving
    assert len(serving.predictions_frame(version.uuid)) == 200_000  # and warm the cache
    parquet = tmp_path / "same.parquet"
    pq.write_table(serving.predictions_table(version.uuid), parquet)

    def best(read):
        times = []
        for _ in range(3):
            started = time.perf_counter()
            read()
            times.append(time.perf_counter() - started)
        return min(times)

    ours = best(lambda: serving.predictions_frame(version.uuid))
    theirs = best(lambda: pq.read_table(parquet).to_pandas())
    print(f"200,000 rows: log {ours:.3f} s, Parquet file {theirs:.3f} s: {ours / theirs:.2f}×")
    print("batches:", batches(project)[:5], "...")
    assert ours < 4 * theirs + 0.05


def test_lineage_ends_with_the_serving_sessions(project, version):
    with project.file.transaction():
        project.file.aliases.set(version.model_uuid, "production", version.uuid)
    first = start(project, version, served_as="churn@production")
    with PredictionLog(project.path, first.uuid) as log:
        for i in range(3):
            log.add(*request(i, version.uuid))
    second = start(project, version, engine="onnxruntime")
    steps = project.models.lineage("churn:1")
    assert [s.kind for s in steps][-3:] == ["alias", "serving_session", "serving_session"]
    oldest, newest = steps[-2:]
    assert oldest.key == first.uuid
    assert oldest.label.startswith("served ")
    assert oldest.label.endswith(" on 127.0.0.1:5005, 3 requests")
    assert "churn@production on scikit-learn" in oldest.detail
    assert "stopped" in oldest.detail
    assert newest.key == second.uuid
    assert "running" in newest.detail


def test_a_session_that_followed_its_alias_shows_under_both_versions(project, version):
    newer = add_version(project.file, "churn")
    session = start(project, version, served_as="churn@production")
    with PredictionLog(project.path, session.uuid) as log:
        log.add(*request(0, version.uuid))
        for i in range(1, 4):  # the alias moved to churn:2
            log.add(*request(i, newer.uuid))
    assert [s.uuid for s in project.serving.sessions("churn:2")] == [session.uuid]
    assert len(project.serving.predictions_frame(newer.uuid)) == 3
    assert project.models.lineage("churn:1")[-1].label.endswith(", 1 request")
    assert project.models.lineage("churn:2")[-1].label.endswith(", 3 requests")


_CHILD = textwrap.dedent(
    """
    import sys, time
    import numpy as np
    from mlops_desktop.services.predictionlog import PredictionLog

    path, session, version = sys.argv[1:4]
    log = PredictionLog(path, session, flush_seconds=1.0, merge_after=2, fanout=2)
    print("ready", flush=True)
    i = 0
    while True:
        columns = {"age": np.array([float(i)]), "city": np.array(["Paris"], dtype=object)}
        log.add(str(i), version, time.time(), 0.5, columns, ["yes"])
        i += 1
        time.sleep(0.0005)
    """
)


@pytest.mark.slow
def test_a_killed_server_loses_at_most_the_last_second(project, version):
    session = start(project, version)
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(project.path), session.uuid, version.uuid],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout.readline().strip() == "ready"
        time.sleep(4.3)  # a few flushes and merges
        killed_at = time.time()
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
    finally:
        if child.poll() is None:
            child.kill()
        child.stdout.close()
    with Project.open(project.path) as after:
        assert after.file.conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert after.file.conn.execute("PRAGMA foreign_key_check").fetchall() == []
        frame = after.serving.predictions_frame(version.uuid)
        numbers = frame["request_id"].astype(int).tolist()
        assert numbers == list(range(len(numbers)))  # nothing missing but the end
        missing = killed_at - frame["at"].max().timestamp()
        print(f"{len(numbers):,} logged; the last {missing:.2f} s lost")
        assert 0 < missing < 1.0 + 0.5  # the flush interval, and the commit in flight
        killed = after.serving.session(session.uuid)
        assert killed.stopped_at is None
        assert killed.requests == len(numbers)
        assert killed.state(datetime.now(UTC) + timedelta(minutes=1)) == LOST
        # A new server on the same project logs as if nothing had happened.
        again = start(after, version)
        with PredictionLog(after.path, again.uuid) as log:
            log.add(*request(0, version.uuid))
        assert len(after.serving.predictions_frame(version.uuid, session_uuid=again.uuid)) == 1
