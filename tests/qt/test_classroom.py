"""Classroom mode: a project opened read-only can be explored in every panel, never changed."""

import shutil

import pytest

from mlops_desktop.qt.panels import PANELS
from mlops_desktop.services.project import Project
from tests.helpers import file_digest as digest


@pytest.fixture
def demo_copy(demo_project, tmp_path):
    target = tmp_path / "Classroom.mlops"
    shutil.copyfile(demo_project, target)
    return target


def open_every_panel(window, qtbot):
    qtbot.waitUntil(lambda: len(window.panels) == len(PANELS), timeout=60_000)
    for row in range(len(PANELS)):
        window.navigation.setCurrentRow(row)
        qtbot.wait(50)


def test_open_read_only_shows_every_panel_and_changes_nothing(window, qtbot, demo_copy):
    before = digest(demo_copy)
    window.dialogs.open_project_path = lambda folder, title="": demo_copy
    window.open_read_only_action.trigger()
    assert window.context.project.read_only
    assert window.read_only_badge.isVisible()
    assert "(read-only)" in window.windowTitle()
    assert not window.compact_action.isEnabled()
    open_every_panel(window, qtbot)

    data = window.show_panel("data")
    assert not data.import_button.isEnabled()
    experiments = window.show_panel("experiments")
    assert not experiments.buttons["new"].isEnabled()
    assert not experiments.buttons["queue"].isEnabled()
    queue = window.show_panel("training-queue")
    assert not queue.queue_button.isEnabled()
    models = window.show_panel("models")
    models.select(window.context.project.models.get("milk").uuid)
    qtbot.waitUntil(lambda: models.detail.detail is not None, timeout=30_000)
    assert not models.buttons["promote"].isEnabled()
    assert not models.buttons["delete"].isEnabled()
    assert models.buttons["export"].isEnabled()  # reading is allowed: exports go elsewhere
    assert models.detail.notes.isReadOnly()
    assert not models.detail.save_button.isVisible()
    serving = window.show_panel("serving")
    assert not serving.log_predictions.isEnabled()
    monitoring = window.show_panel("monitoring")
    assert not monitoring.retrain_button.isEnabled()

    window.close_project()
    assert digest(demo_copy) == before
    assert not window.read_only_badge.isVisible()


def test_a_file_that_cannot_be_written_opens_read_only_and_says_so(window, demo_copy, monkeypatch):
    # A permission that a test run as root cannot set: ask the same question the window asks.
    monkeypatch.setattr(Project, "writable_on_disk", staticmethod(lambda path: False))
    assert window.open_project(demo_copy)
    assert window.context.project.read_only
    assert any("opened read-only" in text for _kind, text in window.notifications.messages())


def read_only_offer(window):
    """The "Browse Read-Only" button of the newest error banner, if it has one."""
    for item in window.notifications._items:
        if item.kind == "error":
            return next((b for b in item.action_buttons if b.text() == "Browse Read-Only"), None)
    return None


def test_a_full_disk_offers_read_only_browsing(window, qtbot, demo_copy):
    assert window.open_project(demo_copy)
    conn = window.context.project.file.conn
    conn.execute("VACUUM")  # no free pages left to reuse
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages}")
    qtbot.waitUntil(lambda: window.show_panel("models") is not None, timeout=60_000)
    models = window.show_panel("models")
    version = window.context.project.models.get("milk")
    models._save_annotations(version.uuid, "a long note " * 50_000, [])
    kind, message = window.notifications.messages()[0]
    assert kind == "error"
    assert "is full, so nothing was saved" in message
    offer = read_only_offer(window)
    assert offer is not None
    offer.click()
    qtbot.waitUntil(lambda: window.context.project.read_only, timeout=10_000)
    assert "(read-only)" in window.windowTitle()
    assert window.context.project.models.get("milk").notes == version.notes


def test_a_task_refused_by_a_full_disk_offers_read_only_browsing(window, qtbot, demo_copy):
    from tests.qt.tasks_for_tests import fails_disk_full

    assert window.open_project(demo_copy)
    # In a process of its own, as imports run: the refusal keeps its kind on the way back.
    handle = window.runner.start("Importing", fails_disk_full, in_process=True)
    handle.failed.connect(window.notifications.show_error)
    qtbot.waitUntil(lambda: bool(window.notifications.messages()), timeout=10_000)
    assert read_only_offer(window) is not None
    # Another error afterwards, of another kind, offers nothing.
    window.notifications.show_error("The column 'x' is missing: choose another.")
    assert read_only_offer(window) is None
