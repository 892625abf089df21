"""Projects in shared folders: detected, opened without WAL, and the user offered a copy."""

import pytest

from mlops_desktop.store import filesystems
from mlops_desktop.store.project_file import ProjectFile

MOUNTS = """\
/dev/sda1 / ext4 rw,relatime 0 0
server:/export/team /mnt/team nfs4 rw,relatime 0 0
//nas/share /media/Shared\\040Drive cifs rw 0 0
tmpfs /mnt/team/scratch tmpfs rw 0 0
"""


@pytest.fixture
def mounts(tmp_path):
    path = tmp_path / "mounts"
    path.write_text(MOUNTS)
    return path


@pytest.mark.parametrize(
    ("project", "where"),
    [
        ("/mnt/team/churn.mlops", "a network file system (nfs4)"),
        ("/media/Shared Drive/a/b.mlops", "a network file system (cifs)"),
        ("/mnt/team/scratch/local.mlops", None),  # a local mount inside a network one
        ("/home/ana/projects/churn.mlops", None),
        ("/home/ana/Dropbox/class/churn.mlops", "a synced folder (Dropbox)"),
        ("/home/ana/OneDrive - Contoso/churn.mlops", "a synced folder (OneDrive)"),
    ],
)
def test_network_and_synced_folders_are_recognised(mounts, project, where):
    assert filesystems.shared_location(project, mounts) == where


def test_a_project_in_a_shared_folder_does_not_use_wal(tmp_path, monkeypatch):
    shared = tmp_path / "Dropbox"
    shared.mkdir()
    with ProjectFile.create(shared / "team.mlops") as project:
        assert project.shared_location == "a synced folder (Dropbox)"
        assert project.conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        with project.transaction():
            project.events.record("test.write", "a write without WAL")
    assert not (shared / "team.mlops-wal").exists()
    # A project made on a local disk and moved there is switched when opened.
    local = tmp_path / "local.mlops"
    ProjectFile.create(local).close()
    moved = shared / "moved.mlops"
    local.rename(moved)
    with ProjectFile.open(moved) as project:
        assert project.conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
