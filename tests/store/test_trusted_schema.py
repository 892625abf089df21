import sqlite3

import pytest

from mlops_desktop.domain.errors import UntrustedProjectError
from mlops_desktop.store import ProjectFile, migrations
from tests.helpers import file_digest

SHIPPED = migrations.MIGRATIONS


def _older_project(path, monkeypatch):
    """A project file made by the last version whose schema needed trusted_schema on."""
    older = tuple(m for m in SHIPPED if m.version < migrations.TRUSTED_SCHEMA_OFF_SINCE)
    with monkeypatch.context() as patch:
        patch.setattr(migrations, "MIGRATIONS", older)
        patch.setattr(migrations, "LATEST_VERSION", older[-1].version)
        ProjectFile.create(path, name="Older").close()
    return older[-1].version


def _add_to_schema(path, sql):
    conn = sqlite3.connect(path)
    conn.execute(sql)
    conn.commit()
    conn.close()


def test_a_project_is_read_with_trusted_schema_off_and_its_schema_needs_nothing_more(
    project_path,
):
    project = ProjectFile.create(project_path)
    assert project.conn.execute("PRAGMA trusted_schema").fetchone()[0] == 0
    schema = " ".join(
        sql for (sql,) in project.conn.execute("SELECT sql FROM sqlite_master WHERE sql NOT NULL")
    )
    assert "json_valid" not in schema
    project.settings.set("still", {"writes": True})  # CHECKs left are innocuous built-ins
    assert project.settings.get("still") == {"writes": True}
    project.close()


def test_an_older_project_is_upgraded_and_then_read_with_trusted_schema_off(tmp_path, monkeypatch):
    path = tmp_path / "older.mlops"
    version = _older_project(path, monkeypatch)
    with ProjectFile.open(path) as opened:
        assert opened.schema_version == migrations.LATEST_VERSION > version
        assert opened.conn.execute("PRAGMA trusted_schema").fetchone()[0] == 0
        opened.settings.set("after", 1)
        assert opened.project_row()["name"] == "Older"
        assert opened.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


@pytest.mark.parametrize(
    ("sql", "named"),
    [
        (
            "CREATE TRIGGER spy AFTER INSERT ON settings BEGIN "
            "UPDATE project SET name = 'taken'; END",
            "trigger spy",
        ),
        ("CREATE VIEW peek AS SELECT * FROM project", "view peek"),
        ("CREATE TABLE payload (x)", "table payload"),
    ],
)
def test_an_older_file_with_schema_objects_of_its_own_is_refused_before_it_is_migrated(
    tmp_path, monkeypatch, sql, named
):
    path = tmp_path / "crafted.mlops"
    version = _older_project(path, monkeypatch)
    _add_to_schema(path, sql)
    before = file_digest(path)
    with pytest.raises(UntrustedProjectError, match=f"holds a {named} that mlops_desktop"):
        ProjectFile.open(path)
    assert file_digest(path) == before
    assert not path.with_name(f"{path.name}.schema-{version}.backup").exists()


def test_a_current_file_with_a_trigger_of_its_own_is_refused_unchanged(project_path):
    path = project_path
    ProjectFile.create(path).close()
    _add_to_schema(
        path, "CREATE TRIGGER spy BEFORE DELETE ON openers BEGIN SELECT RAISE(IGNORE); END"
    )
    before = file_digest(path)
    with pytest.raises(UntrustedProjectError, match="trigger spy"):
        ProjectFile.open(path)
    assert file_digest(path) == before


def test_sqlite_statistics_tables_are_not_mistaken_for_foreign_objects(project_path):
    path = project_path
    ProjectFile.create(path).close()
    conn = sqlite3.connect(path)
    conn.execute("ANALYZE")
    conn.close()
    ProjectFile.open(path).close()
