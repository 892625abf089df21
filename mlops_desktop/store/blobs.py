"""Content-addressed blob store: payloads split in chunks, compressed, keyed by sha256."""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, BinaryIO

from mlops_desktop.domain.errors import BlobCorruptError, UserError
from mlops_desktop.domain.project import BlobProblem
from mlops_desktop.domain.tasks import TaskState
from mlops_desktop.store.clock import utc_now

if TYPE_CHECKING:
    from mlops_desktop.store.project_file import ProjectFile

#: Uncompressed bytes per chunk: small enough to keep memory flat, large enough for few rows.
CHUNK_SIZE = 4 * 1024 * 1024
#: Compress a chunk only when a quick trial on its first bytes shrinks them below this ratio;
#: Parquet and skops payloads are compressed already and gain nothing.
WORTH_COMPRESSING = 0.9
_TRIAL_BYTES = 64 * 1024


def _encode(chunk: bytes, compress: bool) -> tuple[str, bytes]:
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
        return zlib.decompress(data)
    if codec == "raw":
        return data
    raise BlobCorruptError(f"A stored chunk uses an unknown codec {codec!r}.")


def _chunks_of(stream: BinaryIO) -> Iterator[bytes]:
    while chunk := stream.read(CHUNK_SIZE):
        yield chunk


class BlobStore:
    """Blobs of one project file. Identical payloads are stored once."""

    def __init__(self, project: ProjectFile):
        self._project = project

    @property
    def _conn(self):
        return self._project.conn

    def put(self, data: bytes, compress: bool = True) -> str:
        """Store ``data`` (if new) and return its sha256. Pass ``compress=False`` for payloads
        that are compressed already (Parquet, zip), which would only cost time."""
        sha = hashlib.sha256(data).hexdigest()
        if self.has(sha):
            return sha
        view = memoryview(data)
        chunks = (bytes(view[i : i + CHUNK_SIZE]) for i in range(0, len(data), CHUNK_SIZE))
        return self._store(chunks, known_sha=sha, compress=compress)

    def put_stream(self, stream: BinaryIO, state: TaskState | None = None, total: int = 0) -> str:
        """Store a file-like object chunk by chunk, without holding it in memory."""
        return self._store(_chunks_of(stream), state=state, total=total)

    def _store(
        self,
        chunks: Iterable[bytes],
        known_sha: str | None = None,
        state: TaskState | None = None,
        total: int = 0,
        compress: bool = True,
    ) -> str:
        digest = hashlib.sha256()
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
            sha = digest.hexdigest()
            if known_sha is not None and sha != known_sha:
                raise UserError("The data changed while it was being stored: try again.")
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

    def iter_chunks(self, sha: str) -> Iterator[bytes]:
        """Yield the blob's bytes chunk by chunk; raise ``BlobCorruptError`` at the end if the
        bytes do not hash to ``sha`` (so a consumer must not trust data before exhausting it)."""
        blob_id, size, chunk_count = self._row(sha)
        digest = hashlib.sha256()
        seen = 0
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
            try:
                chunk = _decode(*row)
            except zlib.error:
                raise BlobCorruptError(
                    f"Stored data {sha[:12]} has a damaged part {seq + 1} of {chunk_count}: "
                    "restore the project from a backup."
                ) from None
            digest.update(chunk)
            seen += len(chunk)
            yield chunk
        if seen != size or digest.hexdigest() != sha:
            raise BlobCorruptError(
                f"Stored data {sha[:12]} does not match its hash: the project file was altered "
                "or damaged. Restore it from a backup."
            )

    def get(self, sha: str) -> bytes:
        """The whole blob, verified."""
        return b"".join(self.iter_chunks(sha))

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
