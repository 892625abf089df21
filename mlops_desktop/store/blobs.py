"""Content-addressed blob store: payloads split in chunks, compressed, keyed by sha256."""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO

from mlops_desktop.domain.errors import BlobCorruptError
from mlops_desktop.domain.project import BlobProblem
from mlops_desktop.domain.tasks import TaskState
from mlops_desktop.store.clock import utc_now
from mlops_desktop.store.damage import reads

if TYPE_CHECKING:
    from mlops_desktop.store.project_file import ProjectFile

#: Uncompressed bytes per chunk: small enough to keep memory flat, large enough for few rows.
CHUNK_SIZE = 4 * 1024 * 1024
#: Bytes per chunk of a payload stored as it is (already compressed, and whole in memory
#: anyway): a Parquet part then fits one chunk and reads back without being joined, a copy
#: that cost 6 % of the time to reopen the import benchmark's version.
RAW_CHUNK_SIZE = 16 * 1024 * 1024
#: Compress a chunk only when a quick trial on its first bytes shrinks them below this ratio;
#: Parquet and skops payloads are compressed already and gain nothing.
WORTH_COMPRESSING = 0.9
_TRIAL_BYTES = 64 * 1024


def _encode(chunk: memoryview, compress: bool) -> tuple[str, memoryview | bytes]:
    if not compress:
        return "raw", chunk
    trial = chunk[:_TRIAL_BYTES]
    if trial and len(zlib.compress(trial, 1)) < WORTH_COMPRESSING * len(trial):
        packed = zlib.compress(chunk, 6)
        if len(packed) < len(chunk):
            return "zlib", packed
    return "raw", chunk


def _decode(codec: str, data: bytes) -> bytes:
    if codec == "zlib":
        # No chunk was written larger than CHUNK_SIZE: one that unpacks to more is a
        # crafted bomb meant to exhaust memory, refused before it does.
        unpacker = zlib.decompressobj()
        chunk = unpacker.decompress(data, CHUNK_SIZE)
        if unpacker.unconsumed_tail or not unpacker.eof:
            raise zlib.error("a part unpacks to more than any part mlops_desktop writes")
        return chunk
    if codec == "raw":
        return data
    raise BlobCorruptError(f"A stored chunk uses an unknown codec {codec!r}.")


def _chunks_of(stream: BinaryIO) -> Iterator[bytes]:
    while chunk := stream.read(CHUNK_SIZE):
        yield chunk


@dataclass(frozen=True)
class Payload:
    """Bytes to store and their sha256, hashed once, on whichever thread made them: hashlib
    releases the GIL, so worker threads can hash parts while the connection's thread writes
    others."""

    data: memoryview
    sha256: str

    @classmethod
    def of(cls, data) -> Payload:
        """``data``: bytes or any buffer (a ``pyarrow.Buffer``, say), shared, not copied.
        A writable buffer is copied first, so the hash stays true to what is stored."""
        view = memoryview(data)
        if not view.readonly:
            view = memoryview(bytes(view))
        view = view.cast("B")
        return cls(view, hashlib.sha256(view).hexdigest())


class FetchedBlob:
    """A blob's chunks as stored, read on the connection's thread. ``verified()`` decodes and
    checks them on any thread (zlib and hashlib release the GIL), so a reader can check one
    blob while the connection reads the next."""

    def __init__(self, sha: str, size: int, rows: list[tuple[str, bytes]]):
        self.sha256, self._size, self._rows = sha, size, rows

    def verified(self) -> bytes:
        """The whole blob; ``BlobCorruptError`` if it does not hash to its sha256."""
        digest = hashlib.sha256()
        chunks = []
        for seq, row in enumerate(self._rows):
            chunk = _decode_chunk(self.sha256, seq, len(self._rows), *row)
            digest.update(chunk)
            chunks.append(chunk)
        _check(self.sha256, self._size, sum(len(c) for c in chunks), digest)
        # One stored chunk is the blob as it is: no copy.
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _decode_chunk(sha: str, seq: int, chunk_count: int, codec: str, data: bytes) -> bytes:
    try:
        return _decode(codec, data)
    except zlib.error:
        raise BlobCorruptError(
            f"Stored data {sha[:12]} has a damaged part {seq + 1} of {chunk_count}: "
            "restore the project from a backup."
        ) from None


def _check(sha: str, size: int, seen: int, digest) -> None:
    if seen != size or digest.hexdigest() != sha:
        raise BlobCorruptError(
            f"Stored data {sha[:12]} does not match its hash: the project file was altered "
            "or damaged. Restore it from a backup."
        )


class BlobStore:
    """Blobs of one project file. Identical payloads are stored once."""

    def __init__(self, project: ProjectFile):
        self._project = project

    @property
    def _conn(self):
        return self._project.conn

    def put(self, data: bytes | Payload, compress: bool = True) -> str:
        """Store ``data`` (if new) and return its sha256. Pass ``compress=False`` for payloads
        that are compressed already (Parquet, zip), which would only cost time, and a
        ``Payload`` to reuse a hash computed elsewhere."""
        payload = data if isinstance(data, Payload) else Payload.of(data)
        if self.has(payload.sha256):
            return payload.sha256
        view, size = payload.data, CHUNK_SIZE if compress else RAW_CHUNK_SIZE
        # Slices of the payload, not copies: sqlite3 and zlib read any buffer.
        chunks = (view[i : i + size] for i in range(0, len(view), size))
        return self._store(chunks, known_sha=payload.sha256, compress=compress)

    def put_stream(self, stream: BinaryIO, state: TaskState | None = None, total: int = 0) -> str:
        """Store a file-like object chunk by chunk, without holding it in memory."""
        return self._store(_chunks_of(stream), state=state, total=total)

    def _store(
        self,
        chunks: Iterable[bytes | memoryview],
        known_sha: str | None = None,
        state: TaskState | None = None,
        total: int = 0,
        compress: bool = True,
    ) -> str:
        """Write the chunks as one blob. With ``known_sha`` (hashed from the same read-only
        bytes) the chunks are not hashed a second time."""
        digest = None if known_sha is not None else hashlib.sha256()
        size = seq = 0
        with self._project.transaction() as conn:
            # The row has no sha until the last chunk is in: nothing half-made can be found.
            blob_id = conn.execute(
                "INSERT INTO blobs (sha256, size, chunk_count, created_at) VALUES (NULL, 0, 0, ?)",
                (utc_now(),),
            ).lastrowid
            for chunk in chunks:
                if state is not None:
                    state.check_cancelled()
                if digest is not None:
                    digest.update(chunk)
                codec, data = _encode(chunk, compress)
                conn.execute(
                    "INSERT INTO blob_chunks (blob_id, seq, codec, data) VALUES (?, ?, ?, ?)",
                    (blob_id, seq, codec, data),
                )
                seq += 1
                size += len(chunk)
                if state is not None and total:
                    state.set_progress(size / total, "Storing")
            sha = known_sha if digest is None else digest.hexdigest()
            if self.has(sha):
                conn.execute("DELETE FROM blobs WHERE id = ?", (blob_id,))
            else:
                conn.execute(
                    "UPDATE blobs SET sha256 = ?, size = ?, chunk_count = ? WHERE id = ?",
                    (sha, size, seq, blob_id),
                )
        return sha

    def has(self, sha: str) -> bool:
        row = self._conn.execute("SELECT 1 FROM blobs WHERE sha256 = ?", (sha,)).fetchone()
        return row is not None

    def _row(self, sha: str) -> tuple[int, int, int]:
        row = self._conn.execute(
            "SELECT id, size, chunk_count FROM blobs WHERE sha256 = ?", (sha,)
        ).fetchone()
        if row is None:
            raise BlobCorruptError(
                f"The project has no stored data with hash {sha[:12]}: it may come from a file "
                "that was only partly merged. Run 'mlops-desktop project check'."
            )
        return row

    def _chunk_rows(self, sha: str, blob_id: int, chunk_count: int) -> Iterator[tuple[str, bytes]]:
        """(codec, data) of each chunk, in order, as stored."""
        for seq in range(chunk_count):
            # One query per chunk keeps memory flat; a cursor over all chunks would pin them.
            row = self._conn.execute(
                "SELECT codec, data FROM blob_chunks WHERE blob_id = ? AND seq = ?",
                (blob_id, seq),
            ).fetchone()
            if row is None:
                raise BlobCorruptError(
                    f"Stored data {sha[:12]} is missing part {seq + 1} of {chunk_count}: "
                    "restore the project from a backup."
                )
            yield row

    def iter_chunks(self, sha: str) -> Iterator[bytes]:
        """Yield the blob's bytes chunk by chunk; raise ``BlobCorruptError`` at the end if the
        bytes do not hash to ``sha`` (so a consumer must not trust data before exhausting it)."""
        blob_id, size, chunk_count = self._row(sha)
        digest = hashlib.sha256()
        seen = 0
        for seq, row in enumerate(self._chunk_rows(sha, blob_id, chunk_count)):
            chunk = _decode_chunk(sha, seq, chunk_count, *row)
            digest.update(chunk)
            seen += len(chunk)
            yield chunk
        _check(sha, size, seen, digest)

    @reads("stored data")
    def fetch(self, sha: str) -> FetchedBlob:
        """The blob's chunks as stored, to be checked by ``verified()`` on any thread."""
        blob_id, size, chunk_count = self._row(sha)
        return FetchedBlob(sha, size, list(self._chunk_rows(sha, blob_id, chunk_count)))

    def get(self, sha: str) -> bytes:
        """The whole blob, verified."""
        return self.fetch(sha).verified()

    def verify(self, sha: str) -> str | None:
        """None if the blob is intact, else why not."""
        try:
            for _ in self.iter_chunks(sha):
                pass
        except BlobCorruptError as exc:
            return exc.message
        return None

    def verify_all(self, state: TaskState | None = None) -> tuple[int, list[BlobProblem]]:
        """Check every blob's hash; returns how many were checked and the problems found."""
        shas = [r[0] for r in self._conn.execute("SELECT sha256 FROM blobs ORDER BY id")]
        problems = []
        for i, sha in enumerate(shas):
            if state is not None:
                state.check_cancelled()
                state.set_progress(i / len(shas), f"Checking stored data {i + 1} of {len(shas)}")
            if sha is None:
                problems.append(BlobProblem("(none)", "an unfinished blob was left behind"))
                continue
            if (reason := self.verify(sha)) is not None:
                problems.append(BlobProblem(sha, reason))
        return len(shas), problems
