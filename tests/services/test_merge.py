"""Merging another project file: matched by UUID, idempotent, never changing the other file."""

import shutil
import sqlite3

import pytest

from mlops_desktop.domain.errors import ProjectFileError
from mlops_desktop.services.demo import build_demo
from mlops_desktop.services.modelfiles import load_model
from mlops_desktop.services.project import Project
from mlops_desktop.store import migrations
from tests.helpers import file_digest


@pytest.fixture
def copies(demo_project, tmp_path):
    """Two copies of the same demo: everything in them has the same UUIDs."""
    ours, theirs = tmp_path / "ours.mlops", tmp_path / "theirs.mlops"
    shutil.copyfile(demo_project, ours)
    shutil.copyfile(demo_project, theirs)
    return ours, theirs


def labels(project, kind):
    if kind == "datasets":
        return sorted(v.label for v in project.datasets.list())
    return sorted(v.label for v in project.models.list())


def test_what_only_the_other_file_has_comes_in_once(copies):
    ours, theirs = copies
    with Project.open(theirs) as other:
        other.datasets.import_file("sklearn:iris")
        other.experiments.duplicate("milk-forecast", "milk-forecast-wide")
    before = file_digest(theirs)
    with Project.open(ours) as project:
        report = project.merge(theirs)
        assert report.added["datasets"] == 1
        assert report.added["dataset versions"] == 1
        assert report.added["experiments"] == 1
        assert report.added["stored payloads"] >= 1
        assert report.notes == []
        assert report.conflicts == []
        assert "iris:1" in labels(project, "datasets")
        assert "milk-forecast-wide" in [e.name for e in project.experiments.list()]
        assert project.datasets.load_frame("iris:1").shape == (150, 5)
        assert project.history()[0].action == "project.merge"
        again = project.merge(theirs)
        assert again.nothing_new
        assert project.check().ok
    assert file_digest(theirs) == before  # the other file is only read


def test_a_project_made_separately_joins_under_new_numbers_and_names(
    demo_project, tmp_path, monkeypatch
):
    ours = tmp_path / "ours.mlops"
    shutil.copyfile(demo_project, ours)
    monkeypatch.setenv("MLOPS_DESKTOP_USER", "alice")
    theirs = build_demo(tmp_path / "alice.mlops")  # the same names, other UUIDs
    with Project.open(ours) as project:
        milk_before = labels(project, "models")
        report = project.merge(theirs)
        models = labels(project, "models")
        # Her two milk versions and her tumour classifier follow ours.
        assert [m for m in models if m not in milk_before] == ["milk:3", "milk:4", "tumours:2"]
        assert "milk:5" in labels(project, "datasets")
        assert any("Both projects have a dataset called milk" in n for n in report.notes)
        assert any("milk:2 from alice.mlops is milk:4 here" in n for n in report.notes)
        assert "milk-forecast-2" in [e.name for e in project.experiments.list()]
        # Both have milk@production, on different versions: ours stays, the clash is listed.
        assert any(c.startswith("milk@production points at milk:2 here") for c in report.conflicts)
        alias = {a.name: a for a in project.models.aliases("milk")}["production"]
        assert alias.version == 2
        # Her versions work here: metrics, lineage to her data, and the model itself.
        version = project.models.get("milk:4")
        assert version.dataset_label.startswith("milk:")
        assert version.created_by == "alice"
        model = load_model(project.file.blobs.get(version.model_sha256))
        assert hasattr(model, "predict")
        assert project.check().ok
        assert project.merge(theirs).nothing_new


def test_an_older_project_is_upgraded_in_a_copy_never_in_place(tmp_path, monkeypatch):
    old = tmp_path / "old.mlops"
    with Project.create(old) as project:
        project.datasets.import_file("sklearn:iris")
    before = file_digest(old)
    extra = migrations.Migration(
        migrations.LATEST_VERSION + 1, "test: a later schema", "CREATE TABLE later (x);"
    )
    monkeypatch.setattr(migrations, "MIGRATIONS", (*migrations.MIGRATIONS, extra))
    monkeypatch.setattr(migrations, "LATEST_VERSION", extra.version)
    with Project.create(tmp_path / "new.mlops") as project:
        report = project.merge(old)
        assert report.added["dataset versions"] == 1
    assert file_digest(old) == before
    conn = sqlite3.connect(old)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == extra.version - 1
    conn.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.mlops", "old.mlops"]


def test_refusals_leave_the_project_unchanged(copies, tmp_path):
    ours, theirs = copies
    text = tmp_path / "notes.txt"
    text.write_text("not a project")
    with Project.open(theirs) as other:
        other.datasets.import_file("sklearn:wine")
    # One of their payloads no longer matches its hash: nothing of theirs may come in.
    conn = sqlite3.connect(theirs)
    conn.execute(
        "UPDATE blob_chunks SET codec = 'raw', data = x'00' WHERE blob_id = (SELECT max(id) "
        "FROM blobs)"
    )
    conn.commit()
    conn.close()
    with Project.open(ours) as project:
        before = project.file.history_mark()
        with pytest.raises(ProjectFileError, match="is not a project file"):
            project.merge(text)
        with pytest.raises(ProjectFileError, match="merged into itself"):
            project.merge(ours)
        with pytest.raises(ProjectFileError, match="damaged data"):
            project.merge(theirs)
        assert "wine:1" not in labels(project, "datasets")
        assert project.file.history_mark() == before
    with (
        Project.open(ours, read_only=True) as project,
        pytest.raises(ProjectFileError, match="read-only"),
    ):
        project.merge(theirs)
    leftovers = [p.name for p in tmp_path.iterdir() if ".merge-" in p.name]
    assert leftovers == []
