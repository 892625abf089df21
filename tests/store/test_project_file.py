import sqlite3
import struct
import threading
import time

import pytest

from mlops_desktop.domain.errors import (
    CorruptProjectError,
    NewerSchemaError,
    NotAProjectError,
    ProjectFileError,
    ReadOnlyProjectError,
)
from mlops_desktop.store import APPLICATION_ID, ProjectFile, migrations
from mlops_desktop.store.migrations import Migration
from tests.helpers import file_digest


def pragma(path, name):
    conn = sqlite3.connect(path)
    try:
        return conn.execute(f"PRAGMA {name}").fetchone()[0]
    finally:
        conn.close()


def test_create_then_open_round_trip(project_path):
    with ProjectFile.create(project_path, name="Churn") as created:
        created_row = created.project_row()
    assert pragma(project_path, "application_id") == APPLICATION_ID
    assert pragma(project_path, "user_version") == migrations.LATEST_VERSION
    assert pragma(project_path, "journal_mode") == "wal"
    with ProjectFile.open(project_path) as opened:
        assert opened.project_row() == created_row
        assert opened.project_row()["name"] == "Churn"
        assert opened.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert opened.conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert opened.conn.execute("PRAGMA busy_timeout").fetchone()[0] > 0
        applied = opened.conn.execute("SELECT version FROM migrations").fetchall()
        assert [v for (v,) in applied] == [m.version for m in migrations.MIGRATIONS]
        events = opened.events.recent()
    assert [e.action for e in events] == ["project.create"]
    assert events[0].actor == "tester"


def test_create_leaves_no_partial_files_behind(project_path):
    ProjectFile.create(project_path).close()
    assert sorted(p.name for p in project_path.parent.iterdir()) == [project_path.name]


def test_a_new_project_ignores_the_journal_of_a_deleted_one(project_path):
    # A deleted project's -wal, left beside it, would be replayed into a new file of the
    # same name and make it malformed.
    old = ProjectFile.create(project_path, name="Old")
    old.settings.set("colour", "blue")
    stale = project_path.with_name(project_path.name + "-wal")
    leftover = stale.read_bytes()
    old.close()
    project_path.unlink()
    stale.write_bytes(leftover)
    with ProjectFile.create(project_path, name="New") as new:
        assert new.project_row()["name"] == "New"
        assert new.settings.get("colour") is None
        assert new.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_create_refuses_an_existing_file_and_leaves_it_unchanged(project_path):
    project_path.write_text("my notes")
    with pytest.raises(ProjectFileError, match="already exists"):
        ProjectFile.create(project_path)
    assert project_path.read_text() == "my notes"


def test_create_in_a_missing_folder_says_so(tmp_path):
    with pytest.raises(ProjectFileError, match="does not exist"):
        ProjectFile.create(tmp_path / "nope" / "p.mlops")


def test_a_failed_create_leaves_nothing(project_path, monkeypatch):
    def broken(*args, **kwargs):
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(migrations, "apply", broken)
    with pytest.raises(sqlite3.OperationalError):
        ProjectFile.create(project_path)
    assert list(project_path.parent.iterdir()) == []


def _refused(path, error, match):
    before = file_digest(path)
    with pytest.raises(error, match=match):
        ProjectFile.open(path)
    assert file_digest(path) == before
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]


def test_a_text_file_is_refused_unchanged(tmp_path):
    path = tmp_path / "notes.mlops"
    path.write_text("id,species\n1,Adelie\n")
    _refused(path, NotAProjectError, "not an SQLite database")


def test_an_empty_file_is_refused_unchanged(tmp_path):
    path = tmp_path / "empty.mlops"
    path.touch()
    _refused(path, NotAProjectError, "empty")


def test_another_programs_database_is_refused_unchanged(tmp_path):
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    _refused(path, NotAProjectError, "not an mlops_desktop project")


def test_a_truncated_project_is_refused_unchanged(project):
    path = project.path
    with project.file.transaction():
        project.file.blobs.put(bytes(range(256)) * 4000)
    project.close()
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    _refused(path, CorruptProjectError, "damaged")


def test_a_file_cut_inside_its_header_is_refused(project):
    path = project.path
    project.close()
    path.write_bytes(path.read_bytes()[:50])
    _refused(path, CorruptProjectError, "header")


def test_a_newer_schema_is_refused_unchanged(project):
    path = project.path
    project.close()
    data = bytearray(path.read_bytes())
    data[60:64] = struct.pack(">i", migrations.LATEST_VERSION + 5)
    path.write_bytes(bytes(data))
    _refused(path, NewerSchemaError, "newer version")


def test_a_folder_and_a_missing_path_are_explained(tmp_path):
    with pytest.raises(ProjectFileError, match="folder"):
        ProjectFile.open(tmp_path)
    with pytest.raises(ProjectFileError, match="no project file"):
        ProjectFile.open(tmp_path / "missing.mlops")


def test_damage_inside_the_file_is_reported_as_corruption(project):
    path = project.path
    project.close()
    data = bytearray(path.read_bytes())
    # Keep page 1 (header and schema) and fill every other page with noise.
    page_size = struct.unpack(">H", data[16:18])[0] or 1
    page_size = 65536 if page_size == 1 else page_size
    assert len(data) > page_size
    data[page_size:] = b"\xff" * (len(data) - page_size)
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptProjectError, match="damaged"):
        ProjectFile.open(path)


def test_read_only_open_refuses_writes(project):
    path = project.path
    project.close()
    before = file_digest(path)
    with ProjectFile.open(path, read_only=True) as opened:
        assert opened.read_only
        with pytest.raises(ReadOnlyProjectError, match="read-only"), opened.transaction():
            pass
        with pytest.raises(sqlite3.OperationalError):
            opened.conn.execute("DELETE FROM events")
    assert file_digest(path) == before


def test_a_project_in_a_folder_nobody_may_write_opens_read_only(project, monkeypatch):
    from mlops_desktop.store import project_file

    path = project.path
    project.close()
    before = file_digest(path)
    # A read-only share: its folder cannot take the -shm file WAL readers need.
    real = project_file.os.access
    monkeypatch.setattr(
        project_file.os, "access", lambda p, mode: p != path.parent and real(p, mode)
    )
    uris = []
    connect = project_file.sqlite3.connect
    monkeypatch.setattr(
        project_file.sqlite3,
        "connect",
        lambda target, **kw: uris.append(target) or connect(target, **kw),
    )
    with ProjectFile.open(path, read_only=True) as opened:
        assert opened.conn.execute("SELECT count(*) FROM events").fetchone()[0] > 0
    assert uris[0].endswith("?mode=ro&immutable=1")
    assert file_digest(path) == before
    path.with_name(path.name + "-wal").write_bytes(b"\0" * 32)  # changes not merged in
    with pytest.raises(ProjectFileError, match="changes not yet merged into it"):
        ProjectFile.open(path, read_only=True)


def test_transaction_rolls_back_everything_on_error(project):
    file = project.file

    def change_then_fail():
        with file.transaction():
            file.events.record("test", "first")
            file.settings.set("a", 1)
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        change_then_fail()
    assert file.settings.get("a") is None
    assert [e.action for e in file.events.recent()] == ["project.create"]


def test_nested_transactions_become_savepoints(project):
    file = project.file

    def inner_fails():
        with file.transaction():
            file.settings.set("inner", 2)
            raise RuntimeError("inner fails")

    with file.transaction():
        file.settings.set("outer", 1)
        with pytest.raises(RuntimeError):
            inner_fails()
    assert file.settings.all() == {"outer": 1}


SHIPPED = migrations.MIGRATIONS


def _add_migration(
    monkeypatch, sql="CREATE TABLE extra_things (uuid TEXT PRIMARY KEY, name TEXT);"
):
    """Pretend this version ships one more migration than the file was made with."""
    extra = Migration(SHIPPED[-1].version + 1, "test: extra things", sql)
    monkeypatch.setattr(migrations, "MIGRATIONS", (*SHIPPED, extra))
    monkeypatch.setattr(migrations, "LATEST_VERSION", extra.version)
    return extra


def test_an_older_project_is_migrated_on_open_and_the_migration_recorded(project, monkeypatch):
    path = project.path
    project.close()
    extra = _add_migration(monkeypatch)
    with ProjectFile.open(path) as opened:
        assert opened.schema_version == extra.version
        assert "extra_things" in opened.table_names()
        names = [r[0] for r in opened.conn.execute("SELECT name FROM migrations")]
        assert names[-1] == "test: extra things"
        project_uuid = opened.project_row()["uuid"]
    # The file as it was is kept beside it: the same project, at its old schema.
    backup = path.with_name(f"{path.name}.schema-{extra.version - 1}.backup")
    assert pragma(backup, "user_version") == extra.version - 1
    conn = sqlite3.connect(backup)
    assert conn.execute("SELECT uuid FROM project").fetchone()[0] == project_uuid
    assert (
        conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'extra_things'").fetchone()[0]
        == 0
    )
    conn.close()


def test_a_failing_migration_leaves_the_file_at_its_old_version(project, monkeypatch):
    path = project.path
    project.close()
    _add_migration(monkeypatch, sql="CREATE TABLE ok (x); CREATE TABLE broken (")
    with pytest.raises(ValueError, match="incomplete SQL"):
        ProjectFile.open(path)
    _add_migration(monkeypatch, sql="CREATE TABLE ok (x); SELECT * FROM no_such_table;")
    with pytest.raises(sqlite3.OperationalError):
        ProjectFile.open(path)
    assert pragma(path, "user_version") == SHIPPED[-1].version
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'ok'").fetchone()[0] == 0
    conn.close()


def test_an_older_project_opened_read_only_is_refused_unchanged(project, monkeypatch):
    path = project.path
    project.close()
    _add_migration(monkeypatch)
    before = file_digest(path)
    with pytest.raises(ProjectFileError, match="older version"):
        ProjectFile.open(path, read_only=True)
    assert file_digest(path) == before


def test_counts_report_zero_for_kinds_not_stored_yet(project):
    assert project.file.counts() == {
        "datasets": 0,
        "dataset_versions": 0,
        "experiments": 0,
        "jobs": 0,
        "model_versions": 0,
    }


def test_data_version_moves_when_another_connection_commits(project):
    before = project.file.data_version()
    with ProjectFile.open(project.path) as other, other.transaction():
        other.settings.set("x", 1)
    assert project.file.data_version() != before


def test_a_file_this_process_has_open_is_not_read_by_hand_again(project, monkeypatch):
    # Reading the header opens and closes a file handle, which drops every POSIX lock the
    # process holds on the file (SQLite's connections included): so only the first open reads.
    from mlops_desktop.store import project_file

    def must_not_run(*args):
        raise AssertionError("the header was read while a connection had the file open")

    monkeypatch.setattr(project_file, "check_header", must_not_run)
    with ProjectFile.open(project.path, read_only=True) as second:
        assert second.project_row()["name"] == "test"
    project.close()
    with pytest.raises(AssertionError, match="header was read"):
        ProjectFile.open(project.path)


def test_a_writer_waits_for_another_and_a_lock_held_too_long_is_a_sentence(project):
    file = project.file
    other = sqlite3.connect(file.path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")  # another process in the middle of a write
    release = threading.Timer(0.8, lambda: other.execute("COMMIT"))
    release.start()
    started = time.monotonic()
    with file.transaction():  # waits its turn rather than failing
        file.settings.set("waited", True)
    assert time.monotonic() - started >= 0.7
    assert file.settings.all()["waited"] is True
    release.join()

    file.conn.execute("PRAGMA busy_timeout = 200")
    other.execute("BEGIN IMMEDIATE")
    try:
        with (
            pytest.raises(ProjectFileError, match="is busy: another program kept it locked"),
            file.transaction(),
        ):
            file.settings.set("never", True)
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert "never" not in file.settings.all()
