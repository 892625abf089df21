"""Names from a crafted file (SQL meta-characters, path separators, '..', quotes, emoji) are
data: browsing, checking and exporting read them and never act on them."""

import json
import shutil
import sqlite3

from mlops_desktop.domain.tasks import quiet_state
from mlops_desktop.services.exports import export_version
from mlops_desktop.services.project import Project

HOSTILE = [
    "x'); DROP TABLE models; --",
    '../../outside "quoted" %_ 🚀',
    "..\\..\\windows\\evil",
    "'; ATTACH DATABASE '/tmp/evil.db' AS e; --",
]


def _rename_everything(path):
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("UPDATE project SET name = ?", (HOSTILE[0],))
        for table in ("datasets", "experiments", "models"):
            ids = [r[0] for r in conn.execute(f"SELECT uuid FROM {table} ORDER BY uuid")]
            for n, uuid in enumerate(ids):
                conn.execute(
                    f"UPDATE {table} SET name = ? WHERE uuid = ?", (f"{HOSTILE[n % 4]} {n}", uuid)
                )
    conn.close()


def test_hostile_names_are_browsed_checked_and_exported_as_plain_data(demo_project, tmp_path):
    path = tmp_path / "named.mlops"
    shutil.copy(demo_project, path)
    with Project.open(path, read_only=True) as project:
        before = project.info().counts
    _rename_everything(path)
    out = tmp_path / "exports"
    out.mkdir()
    with Project.open(path, read_only=True) as project:
        assert project.name == HOSTILE[0]
        assert project.info().counts == before
        assert project.check().ok
        for version in project.datasets.list():
            assert project.datasets.get(version.label).uuid == version.uuid
        experiment_names = [row.name for row in project.experiments.list()]
        assert any("DROP TABLE" in name for name in experiment_names)
        for name in experiment_names:
            project.experiments.get(name)
        models = project.models.list()
        assert any("../../outside" in v.label for v in models)
        for n, version in enumerate(models[:4]):
            assert project.models.get(version.label).uuid == version.uuid
            export_version(project, version.label, "card", out / f"card{n}.md", quiet_state())
    written = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert all(
        p.parts[0] in ("exports", path.name) or p.name.startswith(path.name) for p in written
    )
    assert not (tmp_path.parent / "outside").exists()
    assert not (tmp_path / "evil.db").exists()


#: Free-text fields a crafted file can fill (names and labels, notes, messages, authors).
TEXT_FIELDS = {
    "aliases": ["name", "set_by"],
    "model_versions": ["notes", "experiment_name", "created_by"],
    "jobs": ["experiment_name", "progress_message", "error", "created_by", "worker_id"],
    "events": ["summary", "actor"],
    "serving_sessions": ["served_as", "version_label", "engine_reason", "started_by"],
    "dataset_versions": ["created_by"],
}


def test_hostile_text_in_every_other_field_is_shown_as_data(demo_project, tmp_path):
    from click.testing import CliRunner

    from mlops_desktop.cli import cli
    from tests.services.crafting import with_triggers_lifted

    path = tmp_path / "texts.mlops"
    shutil.copy(demo_project, path)
    statements = [
        (f"UPDATE {table} SET {column} = ?", (f"{HOSTILE[n % 4]} {table}.{column}",))
        for table, columns in TEXT_FIELDS.items()
        for n, column in enumerate(columns)
    ]
    statements.append(("UPDATE model_versions SET tags = ?", (json.dumps(HOSTILE),)))
    with_triggers_lifted(path, statements)
    with Project.open(path, read_only=True) as project:
        assert project.check().ok
        aliases = project.models.aliases()
        assert aliases
        assert all(a.name.startswith(HOSTILE[0]) for a in aliases)
        assert all(v.tags == HOSTILE for v in project.models.list())
        assert any("DROP TABLE" in job.experiment_name for job in project.queue.jobs())
        assert all("events.summary" in event.summary for event in project.history())
        label = project.models.list()[0].label
    runner, shown = CliRunner(), ""
    for args in (
        ["info", path],
        ["data", "list", path],
        ["models", "list", path],
        ["models", "show", path, label],
        ["queue", "list", path],
        ["project", "check", path],
    ):
        result = runner.invoke(cli, [str(a) for a in args])
        assert result.exit_code == 0, (args, result.output)
        shown += result.output
    assert "DROP TABLE" in shown
    assert "../../outside" in shown
    assert not (tmp_path.parent / "outside").exists()
    assert not (tmp_path / "evil.db").exists()
