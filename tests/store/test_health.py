import pytest

from mlops_desktop.domain.errors import Cancelled
from mlops_desktop.domain.tasks import TaskControl
from mlops_desktop.store import health


def test_a_fresh_project_passes(project):
    report = health.check(project.file)
    assert report.ok
    assert report.integrity == ["ok"]


def test_a_tampered_blob_fails_the_check(project):
    with project.file.transaction():
        sha = project.file.blobs.put(b"data" * 100)
    project.file.conn.execute("UPDATE blob_chunks SET codec='raw', data = x'00'")
    report = health.check(project.file)
    assert not report.ok
    assert report.blob_problems[0].sha256 == sha


def test_a_broken_reference_fails_the_check(project):
    conn = project.file.conn
    conn.execute("PRAGMA foreign_keys = OFF")
    conn.execute("INSERT INTO blob_chunks (blob_id, seq, codec, data) VALUES (42, 0, 'raw', x'')")
    conn.execute("PRAGMA foreign_keys = ON")
    report = health.check(project.file)
    assert report.foreign_key_problems == ["blob_chunks row 1 points at a missing blobs"]


def test_cancel_interrupts_the_check(project):
    control = TaskControl()
    control.cancel()
    with pytest.raises(Cancelled):
        health.check(project.file, control)
