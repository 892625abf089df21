from mlops_desktop import Project
from mlops_desktop.domain.tasks import TaskControl
from mlops_desktop.services.project import check_task, save_copy_task


def test_the_public_api_is_importable_from_the_package(project_path):
    with Project.create(project_path, name="Penguins") as project:
        info = project.info()
    assert info.name == "Penguins"
    assert info.schema_version >= 1
    assert info.counts["model_versions"] == 0
    assert info.to_json()["path"] == str(project_path)


def test_history_lists_newest_first(project):
    with project.file.transaction():
        project.file.events.record("a", "first")
    with project.file.transaction():
        project.file.events.record("b", "second")
    assert [e.summary for e in project.history()][:2] == ["second", "first"]
    assert len(project.history(limit=1)) == 1


def test_task_functions_open_their_own_connection(project, tmp_path):
    report = check_task(str(project.path), TaskControl())
    assert report.ok
    dest = save_copy_task(str(project.path), str(tmp_path / "c.mlops"), TaskControl()).path
    with Project.open(dest, read_only=True) as copy:
        assert copy.uuid == project.uuid
