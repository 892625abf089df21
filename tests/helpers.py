"""Small helpers shared by tests."""

import hashlib
from pathlib import Path

from mlops_desktop.domain.tasks import TaskControl


def file_digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def leftovers(folder: Path) -> list[str]:
    """What a folder holds, by name: after a failed or cancelled export, what it left."""
    return sorted(p.name for p in Path(folder).iterdir())


def cancelling_after(reports: int) -> TaskControl:
    """A state that asks to cancel once it has been given ``reports`` progress reports."""
    seen = []

    def count(fraction, message):
        seen.append(message)
        if len(seen) == reports:
            state.cancel()

    state = TaskControl(on_progress=count, min_interval=0)
    return state


def copy_project(source: Path, target: Path) -> Path:
    """A copy made with SQLite's backup API, as "Save a Copy As" makes it: servers of other
    tests may be writing to the shared project meanwhile."""
    from mlops_desktop.services.project import Project

    with Project.open(source, read_only=True) as project:
        return project.save_copy(target)
