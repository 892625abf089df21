"""Names from a crafted file (SQL meta-characters, path separators, '..', quotes, emoji) are
data: browsing, checking and exporting read them and never act on them."""

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
