import os

import pytest

from mlops_desktop.store import ProjectFile, flushing
from mlops_desktop.store.project_file import CACHE_KIB


def _synced_files(monkeypatch) -> list[int]:
    """Inode of every file the flusher syncs, in order."""
    synced = []
    real = os.fdatasync

    def recording(fd):
        synced.append(os.fstat(fd).st_ino)
        real(fd)

    monkeypatch.setattr(flushing.os, "fdatasync", recording)
    return synced


def _cache_kib(project: ProjectFile) -> int:
    return -project.conn.execute("PRAGMA cache_size").fetchone()[0]


def _write_in_bulk(project: ProjectFile, parts: int = 3) -> list[str]:
    shas = []
    with project.transaction(), project.flushing_early() as before_write:
        assert _cache_kib(project) == flushing.BULK_CACHE_KIB
        for i in range(parts):
            data = os.urandom(3 << 20) + bytes([i])
            before_write(len(data))
            shas.append(project.blobs.put(data, compress=False))
    return shas


@pytest.mark.parametrize("folder", ["local", "Dropbox"])
def test_pages_written_in_bulk_are_synced_early_in_either_journal_mode(
    tmp_path, monkeypatch, folder
):
    (tmp_path / folder).mkdir()
    path = tmp_path / folder / "p.mlops"
    synced = _synced_files(monkeypatch)
    with ProjectFile.create(path) as project:
        wal = project.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        shas = _write_in_bulk(project)
        # The file that took the pages: the log in WAL mode, the project file itself otherwise.
        target = path.with_name(path.name + "-wal") if wal else path
        assert synced
        assert set(synced) == {target.stat().st_ino}
        assert _cache_kib(project) == CACHE_KIB
    assert wal == (folder == "local")
    with ProjectFile.open(path) as project:
        assert all(project.blobs.has(sha) for sha in shas)


def test_a_failed_early_flush_changes_nothing_and_a_rollback_keeps_nothing(
    project_path, monkeypatch
):
    def failing(fd):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(flushing.os, "fdatasync", failing)
    with ProjectFile.create(project_path) as project:
        shas = _write_in_bulk(project, parts=2)
        assert all(project.blobs.has(sha) for sha in shas)
        written = []

        def failing_import():
            with project.transaction(), project.flushing_early() as before_write:
                before_write(3 << 20)
                written.append(project.blobs.put(os.urandom(3 << 20), compress=False))
                raise RuntimeError("the import failed after its parts were written")

        with pytest.raises(RuntimeError):
            failing_import()
        # Spilled and flushed or not, an uncommitted write is gone.
        assert written
        assert not project.blobs.has(written[0])
        assert _cache_kib(project) == CACHE_KIB


def test_the_cache_has_room_for_each_write_up_to_the_usual_cache(project_path):
    # Room for the write's own pages keeps the table pages every write changes in the cache,
    # so that the log holds each of them once.
    with ProjectFile.create(project_path) as project:
        with project.transaction(), project.flushing_early() as before_write:
            before_write(6 << 20)
            assert _cache_kib(project) == flushing.BULK_CACHE_KIB + (6 << 10)
            before_write(1 << 30)  # a huge write gets the usual cache, not a gibibyte
            assert _cache_kib(project) == CACHE_KIB
        assert _cache_kib(project) == CACHE_KIB
