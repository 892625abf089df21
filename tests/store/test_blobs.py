import io
import sqlite3
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlops_desktop.domain.errors import BlobCorruptError, Cancelled
from mlops_desktop.domain.tasks import TaskControl
from mlops_desktop.store import blobs


@pytest.fixture
def store(project):
    return project.file.blobs


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(blobs, "CHUNK_SIZE", 1000)


def rows(project, table):
    return project.file.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def test_identical_payloads_are_stored_once(project, store, small_chunks):
    data = b"penguins " * 5000
    first = store.put(data)
    second = store.put(data)
    third = store.put_stream(io.BytesIO(data))
    assert first == second == third
    assert rows(project, "blobs") == 1
    assert rows(project, "blob_chunks") == 45
    assert store.get(first) == data


def test_compressible_chunks_are_compressed_and_random_ones_are_not(project, store):
    text = b"a,b,c\n1,2,3\n" * 100_000
    noise = bytes(range(256)) * 7 + __import__("os").urandom(200_000)
    store.put(text)
    store.put(noise)
    codecs = dict(project.file.conn.execute("SELECT codec, length(data) FROM blob_chunks"))
    assert codecs["zlib"] < len(text) / 10
    assert codecs["raw"] == len(noise)


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=5000))
def test_any_bytes_round_trip(store, small_chunks, data):
    sha = store.put(data)
    assert store.get(sha) == data
    assert b"".join(store.iter_chunks(sha)) == data
    assert store.verify(sha) is None


def test_a_changed_chunk_is_detected(project, store, small_chunks):
    sha = store.put(b"x" * 3500)
    project.file.conn.execute(
        "UPDATE blob_chunks SET codec = 'raw', data = ? WHERE seq = 1", (b"y" * 1000,)
    )
    with pytest.raises(BlobCorruptError, match="does not match its hash"):
        store.get(sha)
    assert "does not match" in store.verify(sha)


def test_a_damaged_compressed_chunk_and_a_missing_chunk_are_detected(project, store, small_chunks):
    damaged = store.put(b"abc" * 2000)
    gap = store.put(b"xyz" * 2000)
    conn = project.file.conn
    blob_id = "(SELECT id FROM blobs WHERE sha256 = ?)"
    conn.execute(
        f"UPDATE blob_chunks SET data = X'00ff00' WHERE seq = 0 AND blob_id = {blob_id}", (damaged,)
    )
    conn.execute(f"DELETE FROM blob_chunks WHERE seq = 2 AND blob_id = {blob_id}", (gap,))
    with pytest.raises(BlobCorruptError, match="damaged part 1"):
        store.get(damaged)
    assert "missing part 3" in store.verify(gap)


def test_an_unknown_hash_is_a_clear_error(store):
    with pytest.raises(BlobCorruptError, match="no stored data"):
        store.get("0" * 64)


def test_verify_all_lists_only_the_bad_blobs(project, store, small_chunks):
    good = store.put(b"good" * 1000)
    bad = store.put(b"bad!" * 1000)
    project.file.conn.execute(
        "UPDATE blob_chunks SET codec = 'raw', data = ? WHERE blob_id = "
        "(SELECT id FROM blobs WHERE sha256 = ?) AND seq = 0",
        (b"z" * 1000, bad),
    )
    checked, problems = store.verify_all()
    assert checked == 2
    assert [p.sha256 for p in problems] == [bad]
    assert store.verify(good) is None


def test_a_cancelled_stream_leaves_no_trace(project, store, small_chunks):
    control = TaskControl()

    class CancelAfterTwoReads(io.BytesIO):
        reads = 0

        def read(self, n=-1):
            self.reads += 1
            if self.reads == 3:
                control.cancel()
            return super().read(n)

    with pytest.raises(Cancelled):
        store.put_stream(CancelAfterTwoReads(b"q" * 10_000), state=control, total=10_000)
    assert rows(project, "blobs") == 0
    assert rows(project, "blob_chunks") == 0


def test_streaming_reports_progress(store, small_chunks):
    seen = []
    control = TaskControl(on_progress=lambda f, m: seen.append(f), min_interval=0)
    store.put_stream(io.BytesIO(b"r" * 5000), state=control, total=5000)
    assert seen == [0.2, 0.4, 0.6, 0.8, 1.0]


def test_blobs_cannot_be_written_read_only(project, store):
    sha = store.put(b"kept")
    project.close()
    from mlops_desktop.store import ProjectFile

    with ProjectFile.open(project.path, read_only=True) as ro:
        assert ro.blobs.get(sha) == b"kept"
        with pytest.raises(Exception, match="read-only"):
            ro.blobs.put(b"new")


def test_unfinished_rows_cannot_exist_outside_a_transaction(project):
    # The provisional NULL-sha row only lives inside put's transaction; the schema's UNIQUE
    # index still allows it, so make sure a crash mid-way (simulated by rollback) removes it.
    conn = project.file.conn
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("INSERT INTO blobs (sha256, size, chunk_count, created_at) VALUES (NULL,0,0,'')")
    conn.execute("ROLLBACK")
    assert rows(project, "blobs") == 0
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute(
            "INSERT INTO blob_chunks (blob_id, seq, codec, data) VALUES (99, 0, 'raw', x'')"
        )


def test_buffers_are_stored_as_given_and_writable_ones_are_copied_first(store, small_chunks):
    import pyarrow as pa

    frozen = pa.py_buffer(b"parquet bytes " * 300)
    assert store.get(store.put(frozen, compress=False)) == frozen.to_pybytes()
    writable = bytearray(b"w" * 2500)
    payload = blobs.Payload.of(writable)
    writable[:] = b"x" * 2500  # changing the caller's buffer afterwards changes nothing
    assert store.get(store.put(payload)) == b"w" * 2500


def test_payloads_stored_as_they_are_are_split_less_finely(project, store, monkeypatch):
    monkeypatch.setattr(blobs, "CHUNK_SIZE", 1000)
    monkeypatch.setattr(blobs, "RAW_CHUNK_SIZE", 4000)
    data = bytes(range(256)) * 40  # 10,240 bytes, the same either way
    raw = store.put(data, compress=False)
    store.put(data + b"!")
    counts = dict(project.file.conn.execute("SELECT sha256, chunk_count FROM blobs"))
    assert counts[raw] == 3
    assert sorted(counts.values()) == [3, 11]
    assert store.fetch(raw).verified() == data == store.get(raw)


def test_fetched_chunks_are_verified_on_any_thread(project, store, small_chunks):
    from concurrent.futures import ThreadPoolExecutor

    good, bad = store.put(b"g" * 2500), store.put(b"b" * 2500)
    project.file.conn.execute(
        "UPDATE blob_chunks SET codec = 'raw', data = ? WHERE blob_id = "
        "(SELECT id FROM blobs WHERE sha256 = ?) AND seq = 2",
        (b"c" * 500, bad),
    )
    fetched = [store.fetch(good), store.fetch(bad)]
    with ThreadPoolExecutor(2) as pool:
        results = [pool.submit(f.verified) for f in fetched]
        assert results[0].result() == b"g" * 2500
        with pytest.raises(BlobCorruptError, match="does not match its hash"):
            results[1].result()


def test_a_part_that_unpacks_to_far_more_than_any_part_written_is_refused(project, store):
    sha = store.put(b"q" * 5000)
    conn = project.file.conn
    bomb = zlib.compress(bytes(blobs.CHUNK_SIZE * 8), 9)  # 32 MiB of zeros in 32 KiB
    conn.execute(
        "UPDATE blob_chunks SET codec = 'zlib', data = ? WHERE seq = 0 AND blob_id = "
        "(SELECT id FROM blobs WHERE sha256 = ?)",
        (bomb, sha),
    )
    with pytest.raises(BlobCorruptError, match="damaged part 1"):
        store.get(sha)
    assert "damaged part 1" in store.verify(sha)
