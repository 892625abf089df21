import sqlite3
import threading
from pathlib import Path

import pytest

from mlops_desktop.domain.errors import Cancelled, ProjectFileError
from mlops_desktop.domain.tasks import TaskControl
from mlops_desktop.store import ProjectFile, copies


def project_files(folder: Path) -> list[str]:
    """Files in ``folder`` but the open project's -wal and -shm companions."""
    return sorted(p.name for p in folder.iterdir() if not p.name.endswith(("-wal", "-shm")))


def test_a_copy_opens_and_holds_the_same_content(project, tmp_path):
    with project.file.transaction():
        sha = project.file.blobs.put(b"model bytes" * 1000)
        project.file.events.record("test.event", "Something happened")
    seen = []
    dest = project.save_copy(
        tmp_path / "shared.mlops", TaskControl(on_progress=lambda f, m: seen.append(f))
    )
    assert seen[-1] == 1.0
    with ProjectFile.open(dest, read_only=True) as copy:
        assert copy.blobs.get(sha) == b"model bytes" * 1000
        assert copy.project_row() == project.file.project_row()
        assert [e.action for e in copy.events.recent()] == ["test.event", "project.create"]
    conn = sqlite3.connect(dest)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    conn.close()
    assert project_files(tmp_path) == ["shared.mlops", "test.mlops"]


def test_a_shared_copy_reports_its_size_and_sha256(project, tmp_path):
    import hashlib

    report = project.share_copy(tmp_path / "for-bob.mlops")
    data = (tmp_path / "for-bob.mlops").read_bytes()
    assert report.sha256 == hashlib.sha256(data).hexdigest()
    assert report.size == len(data)
    assert not (tmp_path / "for-bob.mlops-wal").exists()


def test_a_copy_cannot_replace_its_source(project):
    with pytest.raises(ProjectFileError, match="cannot replace"):
        project.save_copy(project.path)


def test_a_cancelled_copy_leaves_no_file(project, tmp_path, monkeypatch):
    monkeypatch.setattr(copies, "PAGES_PER_STEP", 1)
    with project.file.transaction():
        project.file.blobs.put(bytes(range(256)) * 2000)
    control = TaskControl(on_progress=lambda f, m: control.cancel(), min_interval=0)
    with pytest.raises(Cancelled):
        project.save_copy(tmp_path / "copy.mlops", control)
    assert project_files(tmp_path) == ["test.mlops"]


def test_a_copy_taken_while_another_connection_writes_is_consistent(project, tmp_path):
    stop = threading.Event()

    def writer():
        with ProjectFile.open(project.path) as other:
            i = 0
            while not stop.is_set():
                with other.transaction():
                    other.blobs.put(f"payload {i}".encode() * 500)
                    other.events.record("test.write", f"write {i}")
                i += 1

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        for n in range(5):
            dest = project.save_copy(tmp_path / f"copy{n}.mlops")
            with ProjectFile.open(dest, read_only=True) as copy:
                from mlops_desktop.store import health

                assert health.check(copy).ok
    finally:
        stop.set()
        thread.join()


def test_an_unwritable_destination_is_explained(project, tmp_path):
    with pytest.raises(ProjectFileError, match="does not exist"):
        project.save_copy(tmp_path / "missing" / "copy.mlops")
