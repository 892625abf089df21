"""The project context tells the panels about changes other connections commit."""

import pytest

from mlops_desktop.qt.context import ProjectContext
from mlops_desktop.qt.widgets.notifications import NotificationArea
from mlops_desktop.qt.workers.tasks import TaskRunner
from mlops_desktop.services.project import Project


@pytest.fixture
def context(tmp_path, qtbot):
    path = tmp_path / "watched.mlops"
    Project.create(path).close()
    runner, notifications = TaskRunner(), NotificationArea()
    qtbot.addWidget(notifications)
    context = ProjectContext(Project.open(path), runner, notifications)
    yield context
    runner.cancel_all()
    context.close()


def emitted(context) -> list[int]:
    seen: list[int] = []
    context.changed.connect(lambda: seen.append(1))
    return seen


def test_a_change_committed_elsewhere_is_announced(context):
    seen = emitted(context)
    with Project.open(context.project.path) as other:
        other.datasets.import_file("sklearn:iris")
    context._poll()
    assert seen == [1]
    context._poll()  # nothing new since
    assert seen == [1]


def test_commits_that_leave_the_history_alone_are_not(context):
    """A server's prediction log commits every second; no panel shows it."""
    seen = emitted(context)
    with Project.open(context.project.path) as other, other.file.transaction():
        other.file.settings.set("some.setting", "1")
    before = context._data_version
    context._poll()
    assert context._data_version != before  # the commit was seen
    assert seen == []


def test_this_window_s_own_changes_are_not_announced_twice(context):
    seen = emitted(context)
    context.project.datasets.import_file("sklearn:iris")
    context.mark_changed()
    with Project.open(context.project.path) as other, other.file.transaction():
        other.file.settings.set("some.setting", "1")
    context._poll()
    assert seen == [1]
