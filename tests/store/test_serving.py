"""Serving sessions and the prediction log in the project file: rows in, values out."""

import sqlite3
from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa
import pytest

from mlops_desktop.domain.errors import BlobCorruptError
from mlops_desktop.domain.serving import LOST, RUNNING, STOPPED
from mlops_desktop.store import serving as log_store

#: A signature with one column of each family the server parses.
MIXED = {
    "inputs": [
        {"name": "age", "type": "int64", "kind": "numeric", "required": True},
        {"name": "income", "type": "double", "kind": "numeric", "required": True},
        {"name": "city", "type": "string", "kind": "categorical", "required": True},
        {"name": "member", "type": "bool", "kind": "boolean", "required": True},
        {"name": "joined", "type": "timestamp[ms]", "kind": "datetime", "required": True},
        {"name": "prediction", "type": "double", "kind": "numeric", "required": True},
        {"name": "ignored", "type": "string", "kind": "text", "required": False},
    ],
    "output": {"task": "binary", "target": "churn", "classes": ["no", "yes"]},
}
T0 = datetime(2026, 12, 2, 10, 14, tzinfo=UTC).timestamp()


def add_version(file, name="churn", signature=MIXED):
    """A model version row (no real model: the log only needs its signature)."""
    with file.transaction():
        sha = file.blobs.put(f"model of {name}".encode())
        return file.models.add(
            name,
            experiment_name=f"{name}-exp",
            spec={"target": "churn"},
            dataset_version_uuid=None,
            task="binary",
            estimator="LogisticRegression",
            params={},
            metrics={},
            signature=signature,
            environment={},
            seed=0,
            fit_seconds=0.1,
            predict_seconds=0.01,
            model_sha256=sha,
        )


def request(i, version_uuid, at=None, rows=1):
    """One answered request as the server hands it over: NumPy arrays per column."""
    return (
        f"req-{i}",
        version_uuid,
        T0 + i if at is None else at,
        1.0 + i % 5,
        {
            "age": np.array([30.0 + i] * rows),
            "income": np.array([1000.0 + i] * rows),
            "city": np.array(["Lyon" if i % 2 else "Paris"] * rows, dtype=object),
            "member": np.array([bool(i % 3)] * rows, dtype=object),
            "joined": np.array(["2024-05-01T08:30"] * rows, dtype="datetime64[ms]"),
            "prediction": np.array([0.5] * rows),
        },
        ["yes" if i % 2 else "no"] * rows,
    )


@pytest.fixture
def file(project):
    return project.file


@pytest.fixture
def version(file):
    return add_version(file)


@pytest.fixture
def session(file, version):
    with file.transaction():
        return file.serving.start(
            version.uuid, version.label, "churn@production", "127.0.0.1", 5005, "onnxruntime"
        )


def test_the_migration_makes_the_serving_tables(file):
    assert {"serving_sessions", "serving_versions", "prediction_batches", "serving_errors"} <= (
        file.table_names()
    )
    assert file.conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_a_session_round_trips_and_knows_how_it_ended(file, version, session):
    repo = file.serving
    assert repo.by_uuid(session.uuid) == session
    assert session.served_as == "churn@production"
    assert session.version_label == "churn:1"
    assert session.url == "http://127.0.0.1:5005"
    assert session.log_predictions is True
    assert session.started_by == "tester"
    assert [s.uuid for s in repo.all(version.uuid)] == [session.uuid]
    assert repo.all("no-such-version") == []
    with file.transaction():
        repo.count(session.uuid, 1234, 2, 0, session.started_at)
    counted = repo.by_uuid(session.uuid)
    assert (counted.requests, counted.errors) == (1234, 2)
    started_text = session.started_at[:16].replace("T", " ")
    assert counted.label == f"served {started_text} on 127.0.0.1:5005, 1,234 requests"
    started = datetime.fromisoformat(session.started_at)
    assert counted.state(started + timedelta(seconds=5)) == RUNNING
    assert counted.state(started + timedelta(minutes=5)) == LOST
    with file.transaction():
        assert repo.stop(session.uuid)
        assert not repo.stop(session.uuid)  # once
    assert repo.by_uuid(session.uuid).state(started + timedelta(days=1)) == STOPPED


def test_a_deleted_version_leaves_its_sessions_with_their_labels(file, version, session):
    with file.transaction():
        file.serving.add_batch(session.uuid, version.uuid, _table([request(0, version.uuid)]), 1)
        file.models.delete(version.uuid)
    kept = file.serving.by_uuid(session.uuid)
    assert kept.model_version_uuid is None
    assert kept.version_label == "churn:1"
    assert file.conn.execute("SELECT count(*) FROM prediction_batches").fetchone() == (0,)
    assert file.conn.execute("PRAGMA foreign_key_check").fetchall() == []


def _table(entries):
    table, requests, dropped = log_store.build_table(entries)
    assert (requests, dropped) == (len(entries), 0)
    return table


def test_batches_round_trip_as_arrow_and_as_parquet(file, version, session):
    entries = [request(i, version.uuid) for i in range(10)]
    with file.transaction():
        file.serving.add_batch(session.uuid, version.uuid, _table(entries[:5]), 5)
        file.serving.add_batch(session.uuid, version.uuid, _table(entries[5:]), 5, level=1)
    formats = file.conn.execute("SELECT format, level, rows FROM prediction_batches ORDER BY id")
    assert formats.fetchall() == [("arrow", 0, 5), ("parquet", 1, 5)]
    table = file.serving.predictions(version.uuid)
    assert table.column("request_id").to_pylist() == [f"req-{i}" for i in range(10)]
    assert table.column("age").to_pylist() == [30 + i for i in range(10)]
    assert table.column("prediction").to_pylist() == ["yes" if i % 2 else "no" for i in range(10)]
    assert table.column_names == [
        "request_id",
        "row",
        "at",
        "latency_ms",
        "age",
        "income",
        "city",
        "member",
        "joined",
        "input.prediction",  # an input named like one of the log's own columns
        "prediction",
    ]


def test_the_table_has_the_signatures_types(file, version, session):
    with file.transaction():
        file.serving.add_batch(session.uuid, version.uuid, _table([request(1, version.uuid)]), 1)
    schema = file.serving.predictions(version.uuid).schema
    assert schema.field("request_id").type == pa.string()
    assert schema.field("row").type == pa.int32()
    assert schema.field("at").type == pa.timestamp("us", tz="UTC")
    assert schema.field("latency_ms").type == pa.float64()
    assert schema.field("age").type == pa.int64()  # the server sends numbers as doubles
    assert schema.field("income").type == pa.float64()
    assert schema.field("city").type == pa.string()
    assert schema.field("member").type == pa.bool_()
    assert schema.field("joined").type == pa.timestamp("ms")
    assert schema.field("prediction").type == pa.string()


def test_an_empty_log_has_the_columns_too(file, version):
    table = file.serving.predictions(version.uuid)
    assert table.num_rows == 0
    assert table.schema.field("age").type == pa.int64()
    assert table.schema.field("prediction").type == pa.string()  # the classes' type


def test_a_request_of_several_rows_numbers_them(file, version, session):
    entries = [request(0, version.uuid, rows=3), request(1, version.uuid)]
    with file.transaction():
        file.serving.add_batch(session.uuid, version.uuid, _table(entries), 2)
    table = file.serving.predictions(version.uuid)
    assert table.column("request_id").to_pylist() == ["req-0"] * 3 + ["req-1"]
    assert table.column("row").to_pylist() == [0, 1, 2, 0]
    assert table.column("latency_ms").to_pylist() == [1.0, 1.0, 1.0, 2.0]


def test_malformed_entries_are_dropped_and_counted_the_rest_kept(version):
    good = request(0, version.uuid)
    short = request(1, version.uuid)
    short[4]["age"] = np.array([1.0, 2.0])  # two values for one output
    no_time = (*request(2, version.uuid)[:2], "soon", *request(2, version.uuid)[3:])
    table, requests, dropped = log_store.build_table([good, short, no_time, "junk"])
    assert (requests, dropped) == (1, 3)
    assert table.column("request_id").to_pylist() == ["req-0"]


def test_missing_columns_lists_and_odd_values_are_all_kept(version):
    entries = [
        ("a", version.uuid, T0, 1.0, {"x": [1.0], "tags": [{"k": 1}]}, [0.2]),
        ("b", version.uuid, T0, 1.0, {"y": np.array(["v"], dtype=object)}, [[0.1, 0.9]]),
    ]
    table, requests, _ = log_store.build_table(entries)
    assert requests == 2
    assert table.column("x").to_pylist() == [1.0, None]
    assert table.column("y").to_pylist() == [None, "v"]
    assert table.column("tags").to_pylist() == [{"k": 1}, None]
    # predict_proba answers: their probabilities in a column of their own
    assert table.column("prediction").to_pylist() == [0.2, None]
    assert table.column("probabilities").to_pylist() == [None, [0.1, 0.9]]


def test_values_that_fit_no_arrow_type_are_logged_as_text(version):
    entries = [("a", version.uuid, T0, 1.0, {"x": [1, "two", None]}, [1, 2, 3])]
    table, _, _ = log_store.build_table(entries)
    assert table.column("x").to_pylist() == ["1", "two", None]


def test_batches_whose_types_clash_are_read_as_text(file, version, session):
    first = ("a", version.uuid, T0, 1.0, {"extra": [1.5]}, ["no"])
    second = ("b", version.uuid, T0 + 1, 1.0, {"extra": ["text"]}, ["yes"])
    with file.transaction():
        file.serving.add_batch(session.uuid, version.uuid, _table([first]), 1)
        file.serving.add_batch(session.uuid, version.uuid, _table([second]), 1)
    table = file.serving.predictions(version.uuid)
    assert table.column("extra").to_pylist() == ["1.5", "text"]


def test_the_time_window_is_half_open_and_cuts_inside_batches(file, version, session):
    entries = [request(i, version.uuid, at=T0 + i) for i in range(10)]
    with file.transaction():
        file.serving.add_batch(session.uuid, version.uuid, _table(entries[:5]), 5)
        file.serving.add_batch(session.uuid, version.uuid, _table(entries[5:]), 5, level=1)
    since = datetime.fromtimestamp(T0 + 3, UTC)
    until = (datetime.fromtimestamp(T0 + 7, UTC)).isoformat()
    table = file.serving.predictions(version.uuid, since=since, until=until)
    assert table.column("request_id").to_pylist() == [f"req-{i}" for i in range(3, 7)]
    assert file.serving.predictions(version.uuid, since=T0 + 100).num_rows == 0


def test_one_request_is_found_by_its_id(file, version, session):
    with file.transaction():
        for k in range(3):
            entries = [request(10 * k + i, version.uuid) for i in range(10)]
            file.serving.add_batch(session.uuid, version.uuid, _table(entries), 10, level=k % 2)
    found = file.serving.find_request("req-14")
    assert found.column("request_id").to_pylist() == ["req-14"]
    assert found.column("age").to_pylist() == [44]
    assert file.serving.find_request("req-99") is None


def test_a_damaged_batch_is_refused_not_read(file, version, session):
    with file.transaction():
        file.serving.add_batch(session.uuid, version.uuid, _table([request(0, version.uuid)]), 1)
    data = bytearray(file.conn.execute("SELECT data FROM prediction_batches").fetchone()[0])
    data[len(data) // 2] ^= 0xFF
    file.conn.execute("UPDATE prediction_batches SET data = ?", (bytes(data),))
    with pytest.raises(BlobCorruptError, match="checksum"):
        file.serving.predictions(version.uuid)


def test_replacing_batches_is_all_or_nothing(file, version, session):
    entries = [request(i, version.uuid) for i in range(4)]
    with file.transaction():
        ids = [file.serving.add_batch(session.uuid, version.uuid, _table([e]), 1) for e in entries]
    read_ids, table, requests = file.serving.read_unfull(session.uuid, version.uuid, 100, 0)
    assert (read_ids, requests) == (ids, 4)
    data = log_store.encode(table, log_store.PARQUET)
    with pytest.raises(RuntimeError), file.transaction():
        file.serving.replace([*ids, 999], session.uuid, version.uuid, table, 4, 1, data)
    assert file.conn.execute("SELECT count(*) FROM prediction_batches").fetchone() == (4,)
    with file.transaction():
        file.serving.replace(ids, session.uuid, version.uuid, table, 4, 1, data)
    assert file.conn.execute("SELECT format, rows FROM prediction_batches").fetchall() == [
        ("parquet", 4)
    ]
    assert file.serving.predictions(version.uuid).column("request_id").to_pylist() == [
        e[0] for e in entries
    ]


def test_errors_round_trip(file, session):
    with file.transaction():
        file.serving.add_errors(session.uuid, [("r1", T0, 0.5, 400, "x" * 1000)])
    (error,) = file.serving.errors([session.uuid])
    assert (error.request_id, error.status, len(error.message)) == ("r1", 400, 500)
    assert error.at.startswith("2026-12-02T10:14:00")


def test_a_failed_insert_leaves_nothing_half_made(file, version, session):
    def write_two():
        with file.transaction():
            repo = file.serving
            repo.add_batch(session.uuid, version.uuid, _table([request(0, version.uuid)]), 1)
            repo.add_batch(session.uuid, "no-such-version", _table([request(1, "x")]), 1)

    with pytest.raises(sqlite3.IntegrityError):
        write_two()
    assert file.conn.execute("SELECT count(*) FROM prediction_batches").fetchone() == (0,)
