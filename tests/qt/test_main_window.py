"""The shell: welcome page, File menu, recent projects, drag and drop, notifications."""

from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QTableWidget, QWidget

from mlops_desktop import Project
from mlops_desktop.qt.main_window import MainWindow
from tests.helpers import file_digest


def menu_action(window, menu_title: str, text: str):
    for menu_action_ in window.menuBar().actions():
        if menu_action_.text().replace("&", "") == menu_title:
            for action in menu_action_.menu().actions():
                if action.text().replace("&", "") == text:
                    return action
    raise LookupError(f"{menu_title} > {text}")


def test_the_window_opens_on_the_welcome_page(window):
    assert window.pages.currentWidget() is window.welcome
    assert window.windowTitle() == "mlops_desktop"
    assert window.path_label.text() == "No project open"
    assert not window.copy_action.isEnabled()
    assert window.welcome.empty_label.isVisible()


def test_new_project_from_the_menu_creates_and_opens_it(window, tmp_path):
    path = tmp_path / "churn.mlops"
    window.dialogs.new_project_path = lambda folder: path
    menu_action(window, "File", "New Project…").trigger()
    assert path.exists()
    assert window.context is not None
    assert window.context.project.path == path
    assert window.pages.currentIndex() == 1
    assert window.windowTitle().startswith("churn")
    assert window.path_label.text() == str(path)
    assert window.copy_action.isEnabled()
    overview = window.panels[0]
    assert overview.name_label.text() == "churn"
    assert overview.history_model.rowCount() == 1


def test_open_recent_lists_projects_newest_first_and_opens_them(window, tmp_path):
    first, second = tmp_path / "first.mlops", tmp_path / "second.mlops"
    Project.create(first).close()
    Project.create(second).close()
    window.open_project(first)
    window.open_project(second)
    window.recent_menu.aboutToShow.emit()
    entries = [a for a in window.recent_menu.actions() if a.toolTip().endswith(".mlops")]
    assert [a.toolTip() for a in entries] == [str(second), str(first)]
    entries[1].trigger()
    assert window.context.project.path == first
    window.close_project()
    texts = [
        window.welcome.recent_list.item(i).text() for i in range(window.welcome.recent_list.count())
    ]
    assert texts[0].startswith("first")


def test_a_missing_recent_project_is_explained_and_forgotten(window, tmp_path):
    gone = tmp_path / "gone.mlops"
    Project.create(gone).close()
    window.open_project(gone)
    window.close_project()
    gone.unlink()
    for suffix in ("-wal", "-shm"):
        Path(f"{gone}{suffix}").unlink(missing_ok=True)
    assert not window.open_project(gone)
    assert "no project file" in window.notifications.messages()[0][1]
    assert gone not in window.settings.recent_projects()


def _drop(window, path: Path):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    enter = QDragEnterEvent(
        QPoint(10, 10),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted()
    drop = QDropEvent(
        QPointF(10, 10),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(window, drop)


def test_dropping_a_project_file_opens_it(window, qtbot, tmp_path):
    path = tmp_path / "dropped.mlops"
    Project.create(path).close()
    _drop(window, path)
    qtbot.waitUntil(lambda: window.context is not None)
    assert window.context.project.path == path


def test_dropping_something_else_shows_one_sentence_and_changes_nothing(window, qtbot, tmp_path):
    notes = tmp_path / "notes.csv"
    notes.write_text("a,b\n1,2\n")
    before = file_digest(notes)
    _drop(window, notes)
    qtbot.waitUntil(lambda: bool(window.notifications.messages()))
    kind, message = window.notifications.messages()[0]
    assert kind == "error"
    assert "not a project file" in message
    assert "Traceback" not in message
    assert window.context is None
    assert file_digest(notes) == before


def test_creating_over_an_existing_file_is_refused_with_a_sentence(window, tmp_path):
    existing = tmp_path / "existing.mlops"
    existing.write_text("keep me")
    window.dialogs.new_project_path = lambda folder: existing
    window.new_project()
    assert "already exists" in window.notifications.messages()[0][1]
    assert existing.read_text() == "keep me"


def test_save_a_copy_runs_in_the_background_and_reports(window, qtbot, tmp_path):
    path = tmp_path / "source.mlops"
    Project.create(path).close()
    window.open_project(path)
    dest = tmp_path / "shared.mlops"
    window.dialogs.copy_path = lambda suggestion: dest
    window.copy_action.trigger()
    qtbot.waitUntil(lambda: bool(window.notifications.messages()), timeout=10_000)
    kind, message = window.notifications.messages()[0]
    assert kind == "info"
    assert str(dest) in message
    with Project.open(dest, read_only=True) as copy:
        assert copy.uuid == window.context.project.uuid


def test_share_a_copy_names_it_and_puts_its_sha256_on_the_clipboard(window, qtbot, tmp_path):
    import hashlib

    from PySide6.QtGui import QGuiApplication

    path = tmp_path / "source.mlops"
    Project.create(path).close()
    window.open_project(path)
    suggested = []
    window.dialogs.copy_path = lambda suggestion: (
        suggested.append(suggestion) or (tmp_path / "for-alice.mlops")
    )
    window.share_action.trigger()
    qtbot.waitUntil(lambda: bool(window.notifications.messages()), timeout=10_000)
    assert "(shared " in suggested[0].name
    digest = hashlib.sha256((tmp_path / "for-alice.mlops").read_bytes()).hexdigest()
    assert QGuiApplication.clipboard().text() == f"for-alice.mlops sha256 {digest}"
    assert digest[:16] in window.notifications.messages()[0][1]


def test_check_project_reports_the_result(window, qtbot, tmp_path):
    path = tmp_path / "checked.mlops"
    Project.create(path).close()
    window.open_project(path)
    window.check_action.trigger()
    qtbot.waitUntil(lambda: bool(window.notifications.messages()), timeout=10_000)
    assert "passed its check" in window.notifications.messages()[0][1]


def test_close_returns_to_the_welcome_page(window, tmp_path):
    path = tmp_path / "p.mlops"
    Project.create(path).close()
    window.open_project(path)
    menu_action(window, "File", "Close Project").trigger()
    assert window.context is None
    assert window.pages.currentWidget() is window.welcome
    assert window.navigation.count() == 0


def test_heavy_panels_load_after_the_window_and_ctrl_number_shows_them(window, qtbot, tmp_path):
    path = tmp_path / "p.mlops"
    Project.create(path).close()
    window.open_project(path)
    from mlops_desktop.qt.panels import PANELS

    titles = [window.navigation.item(i).text() for i in range(window.navigation.count())]
    assert titles == [spec.title for spec in PANELS]
    assert titles[:3] == ["Overview", "Data", "Experiments"]
    qtbot.waitUntil(lambda: len(window.panels) == len(PANELS), timeout=60_000)
    menu_action(window, "View", "Data").trigger()
    assert window.navigation.currentRow() == 1
    assert window.panel_stack.currentWidget().panel is window.panels[1]


def test_changes_by_another_connection_reach_the_overview(window, qtbot, tmp_path):
    path = tmp_path / "shared.mlops"
    Project.create(path).close()
    window.open_project(path)
    overview = window.panels[0]
    with Project.open(path) as other, other.file.transaction():
        other.file.events.record("test.note", "A teammate's change")
    qtbot.waitUntil(lambda: overview.history_model.rowCount() == 2, timeout=6000)


def test_geometry_is_restored_between_runs(qtbot):
    first = MainWindow()
    qtbot.addWidget(first)
    first.show()
    qtbot.waitExposed(first)
    first.setGeometry(20, 30, 760, 520)  # the offscreen screen is 800 x 600
    size = first.size()
    first.close()
    second = MainWindow()
    qtbot.addWidget(second)
    assert second.size() == size
    assert second.size() != MainWindow.default_size


def test_about_lists_library_versions(window):
    from mlops_desktop.qt.dialogs import AboutDialog

    dialog = AboutDialog(None, window)
    table = dialog.findChild(QTableWidget, "about-versions")
    names = [table.item(r, 0).text() for r in range(table.rowCount())]
    for expected in ("Python", "Qt", "SQLite", "pandas", "scikit-learn", "skops"):
        assert expected in names
    versions = {table.item(r, 0).text(): table.item(r, 1).text() for r in range(table.rowCount())}
    assert versions["pandas"][0].isdigit()


@pytest.mark.parametrize("shortcut_action", ["new_action", "open_action", "quit_action"])
def test_main_actions_have_standard_shortcuts(window, shortcut_action):
    assert not getattr(window, shortcut_action).shortcut().isEmpty()


def test_a_panel_that_cannot_load_says_so_in_its_place(qtbot):
    from mlops_desktop.qt.widgets.panel_slot import PanelSlot
    from mlops_desktop.qt.workers.modules import when_imported

    slot = PanelSlot("Broken")
    qtbot.addWidget(slot)
    filled = []
    when_imported(slot, "mlops_desktop.no_such_module", lambda: filled.append(1), slot.fail)
    qtbot.waitUntil(lambda: "could not be loaded" in slot.label.text(), timeout=5000)
    assert not filled
    assert "ModuleNotFoundError" in slot.label.text()


def test_a_background_import_callback_may_wait_for_another(qtbot):
    from mlops_desktop.qt.workers.modules import when_imported

    holder = QWidget()
    qtbot.addWidget(holder)
    heard = []

    def first_failed(error):
        heard.append(type(error).__name__)
        when_imported(holder, "mlops_desktop.no_module_b", heard.append, heard.append)

    when_imported(holder, "mlops_desktop.no_module_a", heard.append, first_failed)
    when_imported(holder, "mlops_desktop.no_module_a", heard.append, lambda e: heard.append(2))
    qtbot.waitUntil(lambda: len(heard) == 3, timeout=5000)
    assert heard[:2] == ["ModuleNotFoundError", 2]
    assert isinstance(heard[2], ModuleNotFoundError)


def test_open_demo_builds_it_in_the_background_once_then_opens_it(window, qtbot):
    from mlops_desktop.services.demo import default_demo_path

    path = default_demo_path()
    assert not path.exists()
    window.welcome.demo_button.click()
    assert not window.welcome.demo_button.isEnabled()  # building: a second click waits
    assert [h.title for h in window.runner.active()] == ["Building the demo project"]
    qtbot.waitUntil(lambda: window.context is not None, timeout=120_000)
    assert window.context.project.path == path
    assert window.windowTitle().startswith("Demo")
    window.close_project()
    assert window.welcome.demo_button.isEnabled()

    # Built already: opened at once, with nothing to build.
    menu_action(window, "File", "Open Demo Project").trigger()
    assert window.context.project.path == path
    assert "Building the demo project" not in [h.title for h in window.runner.active()]


def test_the_shortcuts_dialog_lists_every_shortcut_of_the_menus(window, qtbot):
    dialog = window.show_shortcuts()
    qtbot.addWidget(dialog)
    rows = {
        (dialog.table.item(r, 1).text(), dialog.table.item(r, 2).text())
        for r in range(dialog.table.rowCount())
    }
    assert ("Open…", "Ctrl+O") in rows
    assert ("New Project…", "Ctrl+N") in rows
    assert ("Keyboard Shortcuts", "F1") in rows
    # One per panel in the View menu, Ctrl+1 onwards.
    assert {keys for _name, keys in rows} >= {f"Ctrl+{n}" for n in range(1, 8)}
    # And each panel's own, for its main actions.
    assert ("Import a file", "Ctrl+I") in rows
    assert ("Check drift", "F5") in rows
    assert ("Queue the experiment for training", "Ctrl+Return") in rows


def test_panel_shortcuts_press_their_button_only_while_it_can_be_pressed(window, qtbot, tmp_path):
    from PySide6.QtCore import Qt

    path = tmp_path / "keys.mlops"
    with Project.create(path) as project:
        project.datasets.import_file("sklearn:iris")
    window.open_project(path)
    qtbot.waitUntil(lambda: window.show_panel("models") is not None, timeout=60_000)
    models = window.show_panel("models")
    qtbot.waitUntil(models.isVisible)
    window.activateWindow()  # shortcuts work in the active window
    qtbot.waitUntil(window.isActiveWindow)
    qtbot.keyClick(window.navigation, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert models.search.hasFocus()
    compared = []
    models.buttons["compare"].clicked.connect(lambda: compared.append(True))
    assert not models.buttons["compare"].isEnabled()  # no versions to compare
    qtbot.keyClick(window.navigation, Qt.Key.Key_D, Qt.KeyboardModifier.ControlModifier)
    assert compared == []
    experiments = window.show_panel("experiments")
    qtbot.waitUntil(experiments.isVisible)
    qtbot.waitUntil(lambda: experiments.buttons["new"].isEnabled(), timeout=30_000)
    experiments.new_experiment()
    qtbot.waitUntil(lambda: experiments.editor.status.text().startswith("Ready"), timeout=30_000)
    qtbot.keyClick(window.navigation, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: bool(window.context.project.experiments.list()), timeout=30_000)


def test_the_last_panel_shown_is_shown_again_on_the_next_open(window, tmp_path):
    path = tmp_path / "again.mlops"
    Project.create(path).close()
    window.open_project(path)
    assert window.navigation.currentRow() == 0
    window.navigation.setCurrentRow(4)  # Models
    window.close_project()
    window.open_project(path)
    assert window.navigation.currentRow() == 4
    assert window.settings.last_panel() == "models"


def test_help_opens_the_log_folder_or_says_where_it_is(window, monkeypatch):
    from PySide6.QtGui import QDesktopServices

    from mlops_desktop.services import paths

    opened = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url) or True)
    menu_action(window, "Help", "Open Log Folder").trigger()
    assert [u.toLocalFile() for u in opened] == [str(paths.log_folder())]
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: False)
    menu_action(window, "Help", "Open Log Folder").trigger()
    assert window.notifications.messages()[0] == (
        "error",
        f"Could not open the log folder {paths.log_folder()}: open it in your file manager.",
    )


def test_import_from_another_project_merges_in_the_background_and_sums_up(window, qtbot, tmp_path):
    ours, theirs = tmp_path / "ours.mlops", tmp_path / "theirs.mlops"
    Project.create(ours).close()
    with Project.create(theirs) as other:
        other.datasets.import_file("sklearn:iris")
    window.open_project(ours)
    window.dialogs.open_project_path = lambda folder, title="": theirs
    window.merge_action.trigger()
    qtbot.waitUntil(lambda: getattr(window, "merge_summary", None) is not None, timeout=30_000)
    assert "1 dataset version," in window.merge_summary.summary.text()
    assert "No alias conflicts" in window.merge_summary.conflicts.toPlainText()
    assert [v.label for v in window.context.project.datasets.list()] == ["iris:1"]
    window.merge_summary.close()


def test_a_project_in_a_shared_folder_warns_and_offers_a_local_copy(
    window, qtbot, tmp_path, monkeypatch
):
    from mlops_desktop.services import paths
    from mlops_desktop.store import filesystems

    shared = tmp_path / "team.mlops"
    Project.create(shared).close()
    monkeypatch.setattr(
        filesystems,
        "shared_location",
        lambda path, mounts=None: "a network file system (nfs4)" if path == shared else None,
    )
    window.open_project(shared)
    [notice] = [n for n in window.notifications._items if n.kind == "warning"]
    assert "network file system (nfs4)" in notice.message
    assert "without write-ahead logging" in notice.message
    [button] = notice.action_buttons
    assert button.text() == "Work on a Local Copy"
    button.click()
    local = paths.default_project_folder() / "team (local copy).mlops"
    qtbot.waitUntil(lambda: window.context.project.path == local, timeout=30_000)
    assert window.context.project.file.shared_location is None


def test_a_second_opener_is_told_who_else_has_the_project_open(window, tmp_path):
    from mlops_desktop.store.project_file import ProjectFile

    path = tmp_path / "team.mlops"
    Project.create(path).close()
    with ProjectFile.open(path) as elsewhere:  # another window, with its row recorded
        key = elsewhere.openers.join()
        window.open_project(path)
        [told] = [m for kind, m in window.notifications.messages() if "also open" in m]
        assert "tester on" in told
        elsewhere.openers.leave(key)
    rows = window.context.project.file.conn.execute("SELECT count(*) FROM openers")
    assert rows.fetchone()[0] == 1  # this window
    window.close_project()
    with ProjectFile.open(path, read_only=True) as after:
        assert after.conn.execute("SELECT count(*) FROM openers").fetchone()[0] == 0


def test_every_panel_has_a_vector_icon_that_draws_at_any_scale(window, tmp_path):
    from mlops_desktop.qt.panels import PANELS

    path = tmp_path / "icons.mlops"
    Project.create(path).close()
    window.open_project(path)
    for row, spec in enumerate(PANELS):
        icon = window.navigation.item(row).icon()
        for size in (16, 32, 64):  # 1x, 2x and 4x of a 16 px icon
            image = icon.pixmap(size, size).toImage()
            assert image.width() == size
            assert any(image.pixelColor(x, size // 2).alpha() > 0 for x in range(size)), spec.key
