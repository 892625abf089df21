"""The guided tour: offered once on the demo, a card per panel, skippable, and on demand."""

import shutil

import pytest
from PySide6.QtCore import Qt

from mlops_desktop.qt.panels import PANELS
from mlops_desktop.qt.tour import STEPS
from mlops_desktop.services.demo import default_demo_path


@pytest.fixture
def demo_here(demo_project):
    """The session's demo where the app looks for its own."""
    path = default_demo_path()
    shutil.copyfile(demo_project, path)
    return path


def current_key(window):
    return PANELS[window.navigation.currentRow()].key


def test_the_demo_opens_on_a_tour_that_walks_through_every_panel(window, qtbot, demo_here):
    window.open_project(demo_here)
    tour = window.tour
    assert tour is not None
    assert tour.isVisible()
    qtbot.waitUntil(lambda: len(window.panels) == len(PANELS), timeout=60_000)
    shown = []
    for index, step in enumerate(STEPS):
        assert tour.counter.text() == f"Guided tour · {index + 1} of {len(STEPS)}"
        assert current_key(window) == step.panel
        qtbot.waitUntil(lambda: tour.spotlight.target is not None, timeout=10_000)
        if step.target:
            assert tour.spotlight.target is getattr(window.show_panel(step.panel), step.target)
        shown.append(step.panel)
        if index < len(STEPS) - 1:
            tour.next_button.click()
    assert tour.next_button.text() == "Finish"
    assert {spec.key for spec in PANELS} <= set(shown)
    tour.next_button.click()
    assert window.tour is None
    assert window.settings.tour_seen()
    # Seen once: the demo opens without it from now on.
    window.close_project()
    window.open_project(demo_here)
    assert window.tour is None


def test_the_tour_can_be_skipped_and_taken_again_from_the_help_menu(window, qtbot, demo_here):
    window.open_project(demo_here)
    window.tour.next_button.click()
    window.tour.back_button.click()
    assert window.tour.index == 0
    assert not window.tour.back_button.isEnabled()
    window.tour.skip_button.click()
    assert window.tour is None
    assert window.settings.tour_seen()
    window.tour_action.trigger()
    assert window.tour.isVisible()
    qtbot.keyClick(window.tour, Qt.Key.Key_Escape)
    assert window.tour is None


def test_other_projects_open_without_the_tour(window, project_path):
    from mlops_desktop.services.project import Project

    Project.create(project_path).close()
    window.open_project(project_path)
    assert window.tour is None
    assert window.tour_action.isEnabled()


def test_closing_the_project_ends_the_tour(window, demo_here):
    window.open_project(demo_here)
    window.close_project()
    assert window.tour is None
    assert not window.tour_action.isEnabled()
