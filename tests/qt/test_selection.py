"""A project opens on what was selected in each panel when it was closed."""

import shutil

from mlops_desktop.qt.panels import PANELS


def loaded(window, qtbot):
    qtbot.waitUntil(lambda: len(window.panels) == len(PANELS), timeout=60_000)
    return {spec.key: window.show_panel(spec.key) for spec in PANELS}


def test_each_panel_opens_on_its_last_selection(window, qtbot, demo_project, tmp_path):
    path = tmp_path / "Kept.mlops"
    shutil.copyfile(demo_project, path)
    window.open_project(path)
    panels = loaded(window, qtbot)
    project = window.context.project
    milk_1 = project.datasets.get("milk:1").uuid
    version = project.models.get("milk:1").uuid
    panels["data"].reveal(milk_1)
    panels["experiments"].reveal("milk-baseline")
    panels["training-queue"].reveal("2")
    panels["models"].reveal(version)
    qtbot.waitUntil(lambda: panels["models"].selection() == version, timeout=30_000)
    window.close_project()

    window.open_project(path)
    panels = loaded(window, qtbot)
    assert panels["data"].selection() == milk_1
    assert panels["experiments"].selection() == "milk-baseline"
    qtbot.waitUntil(lambda: panels["training-queue"].selection() == "2", timeout=30_000)
    qtbot.waitUntil(lambda: panels["models"].selection() == version, timeout=30_000)


def test_a_selection_that_is_gone_is_ignored(window, qtbot, demo_project, tmp_path):
    path = tmp_path / "Gone.mlops"
    shutil.copyfile(demo_project, path)
    window.open_project(path)
    loaded(window, qtbot)["experiments"].reveal("milk-baseline")
    window.close_project()
    from mlops_desktop.services.project import Project

    with Project.open(path) as project:
        project.experiments.delete("milk-baseline")
    window.open_project(path)
    experiments = loaded(window, qtbot)["experiments"]
    assert experiments.selection() != "milk-baseline"
    assert not [m for kind, m in window.notifications.messages() if kind == "error"]
