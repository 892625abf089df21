"""The main window: welcome page or an open project's panels, menus, status bar and tasks."""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, QSize, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDesktopServices,
    QDragEnterEvent,
    QDropEvent,
    QGuiApplication,
    QKeySequence,
)
from PySide6.QtWidgets import (
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMenu,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from mlops_desktop.domain.errors import UserError
from mlops_desktop.qt.context import ProjectContext
from mlops_desktop.qt.dialogs import AboutDialog, FileDialogs, MergeSummaryDialog, ShortcutsDialog
from mlops_desktop.qt.panels import PANELS, Panel
from mlops_desktop.qt.settings import AppSettings
from mlops_desktop.qt.tour import TourCard
from mlops_desktop.qt.widgets.notifications import NotificationArea
from mlops_desktop.qt.widgets.panel_slot import PanelSlot
from mlops_desktop.qt.widgets.task_area import TaskArea
from mlops_desktop.qt.widgets.welcome import WelcomePage
from mlops_desktop.qt.workers.modules import when_imported
from mlops_desktop.qt.workers.tasks import TaskRunner
from mlops_desktop.services import paths
from mlops_desktop.services.project import (
    Project,
    check_task,
    compact_task,
    merge_task,
    save_copy_task,
)

log = logging.getLogger(__name__)
DEMO_TITLE = "Building the demo project"

APP_TITLE = "mlops_desktop"


class _FirstPaintWatcher(QObject):
    """Emits ``painted`` once, right after the window's first paint (for the cold-start figure)."""

    painted = Signal()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint:
            watched.removeEventFilter(self)
            QTimer.singleShot(0, self.painted.emit)
        return False


#: Which panel shows each kind of object a lineage can point at.
_PANEL_OF = {
    "raw_file": "data",
    "dataset_version": "data",
    "experiment": "experiments",
    "job": "training-queue",
    "model_version": "models",
    "serving_session": "serving",
}


class MainWindow(QMainWindow):
    project_opened = Signal(Path)
    project_closed = Signal()
    default_size = QSize(1200, 800)

    def __init__(self, settings: AppSettings | None = None, log_file: Path | None = None):
        super().__init__()
        self.settings = settings or AppSettings()
        self.log_file = log_file
        self.dialogs = FileDialogs(self)
        self.runner = TaskRunner(self)
        self.context: ProjectContext | None = None
        self.tour: TourCard | None = None
        self.slots: list[PanelSlot] = []
        self.setWindowTitle(APP_TITLE)
        self.setAcceptDrops(True)
        self.resize(self.default_size)

        self.notifications = NotificationArea()
        self.notifications.error_shown.connect(self._offer_read_only)
        self._writes_refused = False  # a task just failed on a full disk or read-only file
        self.runner.writes_refused.connect(self._note_writes_refused)
        self.welcome = WelcomePage()
        self.welcome.new_requested.connect(self.new_project)
        self.welcome.open_requested.connect(self.open_project_dialog)
        self.welcome.recent_requested.connect(self.open_project)
        self.welcome.demo_requested.connect(self.open_demo)

        self.navigation = QListWidget()
        self.navigation.setObjectName("navigation")
        self.panel_stack = QStackedWidget()
        self.navigation.currentRowChanged.connect(self.panel_stack.setCurrentIndex)
        self.navigation.currentRowChanged.connect(self._remember_panel)
        workspace = QSplitter()
        workspace.addWidget(self.navigation)
        workspace.addWidget(self.panel_stack)
        workspace.setStretchFactor(1, 1)
        workspace.setChildrenCollapsible(False)
        workspace.setSizes([200, 1000])

        self.pages = QStackedWidget()
        self.pages.addWidget(self.welcome)
        self.pages.addWidget(workspace)
        central = QWidget()
        column = QVBoxLayout(central)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(self.notifications)
        column.addWidget(self.pages, 1)
        self.setCentralWidget(central)

        self.path_label = QLabel()
        self.path_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.task_area = TaskArea(self.runner)
        self.read_only_badge = QLabel("Read-only")
        self.read_only_badge.setObjectName("badge")
        self.read_only_badge.setToolTip(
            "Classroom mode: every panel shows the project, but nothing can be changed or saved "
            "to it. Open it with File > Open… to make changes."
        )
        self.statusBar().addWidget(self.read_only_badge)
        self.statusBar().addWidget(self.path_label, 1)
        self.statusBar().addPermanentWidget(self.task_area)

        self._build_menus()
        self._show_welcome()
        self._painted = False
        self._deferred: list = []
        self._first_paint = _FirstPaintWatcher(self)
        self.first_painted = self._first_paint.painted
        self.first_painted.connect(self._first_paint_done)
        self.installEventFilter(self._first_paint)
        if (geometry := self.settings.window_geometry()) is not None:
            self.restoreGeometry(geometry)
        if (state := self.settings.window_state()) is not None:
            self.restoreState(state)

    # -- menus -------------------------------------------------------------------------------

    def _action(self, text: str, slot, shortcut=None, tip: str = "") -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.setStatusTip(tip)
        action.triggered.connect(slot)
        return action

    def _build_menus(self) -> None:
        keys = QKeySequence.StandardKey
        self.new_action = self._action(
            "&New Project…", self.new_project, keys.New, "Create an empty project file"
        )
        self.open_action = self._action(
            "&Open…", self.open_project_dialog, keys.Open, "Open a project file"
        )
        self.open_read_only_action = self._action(
            "Open Read-&Only (Classroom)…",
            self.open_read_only_dialog,
            "Ctrl+Shift+O",
            "Open a project to explore without changing it: nothing can be saved to it",
        )
        self.recent_menu = QMenu("Open &Recent", self)
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        self.demo_action = self._action(
            "Open &Demo Project",
            self.open_demo,
            None,
            "Open the demo project (built the first time): every panel has something to show",
        )
        self.copy_action = self._action(
            "Save a &Copy As…",
            self.save_copy,
            keys.SaveAs,
            "Write a consistent copy of the project, safe to share",
        )
        self.share_action = self._action(
            "Share a Cop&y…",
            lambda: self.save_copy(sharing=True),
            None,
            "Write a consistent copy to send to someone, with its SHA-256 to check it by",
        )
        self.merge_action = self._action(
            "&Import from Another Project…",
            self.merge_project,
            None,
            "Bring in another project file's datasets, experiments and models (it is only read)",
        )
        self.check_action = self._action(
            "C&heck Project",
            self.check_project,
            None,
            "Run the integrity check and verify every stored blob",
        )
        self.compact_action = self._action(
            "Co&mpact Project",
            self.compact_project,
            None,
            "Remove stored data nothing refers to any more and give the space back",
        )
        self.close_action = self._action(
            "&Close Project", self.close_project, keys.Close, "Close the open project"
        )
        # StandardKey.Quit is empty on desktops without their own binding; Ctrl+Q is Cmd+Q on macOS.
        self.quit_action = self._action("&Quit", self.close, "Ctrl+Q", "Quit mlops_desktop")
        self.quit_action.setMenuRole(QAction.MenuRole.QuitRole)
        file_menu = self.menuBar().addMenu("&File")
        file_menu.addAction(self.new_action)
        file_menu.addAction(self.open_action)
        file_menu.addAction(self.open_read_only_action)
        file_menu.addMenu(self.recent_menu)
        file_menu.addAction(self.demo_action)
        file_menu.addSeparator()
        file_menu.addAction(self.copy_action)
        file_menu.addAction(self.share_action)
        file_menu.addAction(self.merge_action)
        file_menu.addAction(self.check_action)
        file_menu.addAction(self.compact_action)
        file_menu.addSeparator()
        file_menu.addAction(self.close_action)
        file_menu.addAction(self.quit_action)

        view_menu = self.menuBar().addMenu("&View")
        for number, spec in enumerate(PANELS, start=1):
            action = self._action(
                f"&{spec.title}",
                lambda _=False, key=spec.key: self.show_panel(key),
                f"Ctrl+{number}",
                f"Show the {spec.title} panel",
            )
            view_menu.addAction(action)
        self.view_menu = view_menu

        self.about_action = self._action("&About mlops_desktop", self.show_about)
        self.about_action.setMenuRole(QAction.MenuRole.AboutRole)
        help_menu = self.menuBar().addMenu("&Help")
        self.shortcuts_action = self._action(
            "&Keyboard Shortcuts",
            self.show_shortcuts,
            QKeySequence.StandardKey.HelpContents,
            "Every keyboard shortcut of the menus",
        )
        self.tour_action = self._action(
            "Guided &Tour",
            self.start_tour,
            None,
            "A short walk through the lifecycle, panel by panel (best on the demo project)",
        )
        help_menu.addAction(self.tour_action)
        help_menu.addAction(self.shortcuts_action)
        self.log_folder_action = self._action(
            "Open &Log Folder",
            self.open_log_folder,
            None,
            "Open the folder of the app's log files, for a bug report",
        )
        help_menu.addAction(self.log_folder_action)
        help_menu.addAction(self.about_action)

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        recent = self.settings.recent_projects()
        for index, path in enumerate(recent, start=1):
            action = self.recent_menu.addAction(f"&{index} {path.name}  ({path.parent})")
            action.setToolTip(str(path))
            action.setEnabled(path.exists())
            action.triggered.connect(lambda _=False, p=path: self.open_project(p))
        if not recent:
            self.recent_menu.addAction("No recent projects").setEnabled(False)
        else:
            self.recent_menu.addSeparator()
            self.recent_menu.addAction("Clear Recent", self._clear_recent)

    def _clear_recent(self) -> None:
        self.settings.clear_recent()
        self.welcome.set_recent([])

    # -- opening and closing projects ----------------------------------------------------------

    def _start_folder(self) -> Path:
        return self.settings.last_folder() or paths.default_project_folder()

    def new_project(self) -> None:
        path = self.dialogs.new_project_path(self._start_folder())
        if path is None:
            return
        try:
            Project.create(path).close()
        except UserError as exc:
            self.notifications.show_error(exc.message)
            return
        self.open_project(path)

    def open_project_dialog(self) -> None:
        path = self.dialogs.open_project_path(self._start_folder())
        if path is not None:
            self.open_project(path)

    def open_read_only_dialog(self) -> None:
        path = self.dialogs.open_project_path(self._start_folder(), "Open Read-Only")
        if path is not None:
            self.open_project(path, read_only=True)

    def open_demo(self) -> None:
        """Open the demo project, building it first (in the background) if it is missing."""
        from mlops_desktop.services.demo import build_task, default_demo_path

        path = default_demo_path()
        if path.exists():
            self.open_project(path)
            return
        # Both ways in are disabled until the build ends: it cannot start twice.
        self.demo_action.setEnabled(False)
        self.welcome.demo_button.setEnabled(False)
        handle = self.runner.start(DEMO_TITLE, build_task, str(path), in_process=True, owner=self)
        handle.succeeded.connect(lambda built: self.open_project(Path(built)))
        handle.failed.connect(self.notifications.show_error)
        handle.finished.connect(self._demo_finished)

    def _demo_finished(self) -> None:
        self.demo_action.setEnabled(True)
        self.welcome.demo_button.setEnabled(True)

    def open_project(self, path: Path, read_only: bool = False) -> bool:
        """Open ``path`` in this window (closing any open project); False if refused.

        ``read_only`` is classroom mode: every panel shows the project, nothing can change it.
        A file the user cannot write (a teacher's shared copy) opens that way by itself."""
        path = Path(path).absolute()
        forced = not read_only and path.exists() and not Project.writable_on_disk(path)
        try:
            project = Project.open(path, read_only=read_only or forced)
        except UserError as exc:
            self.notifications.show_error(exc.message)
            if not path.exists():
                self.settings.remove_recent(path)
                self.welcome.set_recent(self.settings.recent_projects())
            return False
        self.close_project()
        self.context = ProjectContext(project, self.runner, self.notifications, self)
        self.context.reveal.connect(self.reveal)
        for spec in PANELS:
            slot = PanelSlot(spec.title)
            self.slots.append(slot)
            self.panel_stack.addWidget(slot)
            self.navigation.addItem(QListWidgetItem(spec.icon(), spec.title))
            if spec.eager:
                self._fill(slot, spec)
            else:
                self._after_first_paint(
                    lambda slot=slot, spec=spec: when_imported(
                        slot, spec.module, lambda: self._fill(slot, spec), slot.fail
                    )
                )
        last = self.settings.last_panel()
        rows = [row for row, spec in enumerate(PANELS) if spec.key == last]
        self.navigation.setCurrentRow(rows[0] if rows else 0)
        self.pages.setCurrentIndex(1)
        self.settings.add_recent(path)
        self.settings.set_last_folder(path.parent)
        suffix = " (read-only)" if project.read_only else ""
        self.setWindowTitle(f"{project.name}{suffix} — {APP_TITLE}")
        self.setWindowFilePath(str(path))
        self.path_label.setText(str(path))
        self.read_only_badge.setVisible(project.read_only)
        self._set_project_actions(True)
        if self.context.others_at_open:
            who = "; ".join(o.describe() for o in self.context.others_at_open)
            self.notifications.show_info(
                f"{path.name} is also open elsewhere: {who}. You can both work on it: what "
                "either of you saves shows in the other's window within a few seconds.",
                timeout_ms=30_000,
            )
        if project.file.shared_location is not None and not project.read_only:
            self._warn_shared(project.file.shared_location)
        if self._is_demo(path) and not self.settings.tour_seen():
            self.start_tour()  # a first look at the demo: show what it holds, skippably
        if forced:
            self.notifications.show_info(
                f"{path.name} is read-only on disk, so it opened read-only: you can explore "
                "everything but change nothing. To work on it, save a copy (File > Save a Copy "
                "As…) and open the copy."
            )
        self.project_opened.emit(path)
        return True

    def _fill(self, slot: PanelSlot, spec) -> None:
        """Put the loaded panel in its place, on what was selected there last time."""
        panel = spec.load()(self.context)
        panel.install_shortcuts(spec.shortcuts)
        slot.fill(panel)
        kept = self.settings.selection(self.context.project.uuid, spec.key)
        if kept:
            panel.reveal(kept)

    def close_project(self) -> None:
        if self.context is None:
            return
        if self.tour is not None:
            self.tour.skip()
        project_uuid = self.context.project.uuid
        for spec, slot in zip(PANELS, self.slots, strict=True):
            if slot.panel is not None:
                self.settings.set_selection(project_uuid, spec.key, slot.panel.selection())
        self._deferred.clear()  # loads queued for this project's panels
        for slot in self.slots:
            self.runner.abandon_within(slot)
            self.panel_stack.removeWidget(slot)
            slot.deleteLater()
        self.slots.clear()
        self.navigation.clear()
        self.context.close()
        self.context.deleteLater()
        self.context = None
        self._show_welcome()
        self.project_closed.emit()

    def _after_first_paint(self, action) -> None:
        """Run ``action`` once the window has painted: background imports would slow it."""
        if self._painted:
            action()
        else:
            self._deferred.append(action)

    def _first_paint_done(self) -> None:
        self._painted = True
        deferred, self._deferred = self._deferred, []
        for action in deferred:
            action()

    @property
    def panels(self) -> list[Panel]:
        """The panels loaded so far, in navigation order."""
        return [slot.panel for slot in self.slots if slot.panel is not None]

    def reveal(self, kind: str, key: str) -> None:
        """Open the object ``kind`` (a lineage step's kind) named ``key`` in its panel."""
        panel_key = _PANEL_OF.get(kind)
        panel = self.show_panel(panel_key) if panel_key else None
        if panel is None:
            self.notifications.show_info("That panel is still loading: try again in a moment.")
            return
        panel.reveal(key)

    def show_panel(self, key: str) -> Panel | None:
        """Bring the panel ``key`` (e.g. "data") to the front; None if it is still loading."""
        for row, spec in enumerate(PANELS):
            if spec.key == key and row < len(self.slots):
                self.navigation.setCurrentRow(row)
                return self.slots[row].panel
        return None

    def _show_welcome(self) -> None:
        self.welcome.set_recent(self.settings.recent_projects())
        self.pages.setCurrentIndex(0)
        self.setWindowTitle(APP_TITLE)
        self.setWindowFilePath("")
        self.path_label.setText("No project open")
        self.read_only_badge.hide()
        self._set_project_actions(False)

    def start_tour(self) -> TourCard | None:
        """Walk through the panels on the open project (the demo's texts fit the demo)."""
        if self.context is None:
            return None
        if self.tour is None:
            self.tour = TourCard(self)
            self.tour.finished.connect(self._tour_finished)
        self.tour.start()
        return self.tour

    def _tour_finished(self, _completed: bool) -> None:
        self.tour = None
        self.settings.set_tour_seen()

    @staticmethod
    def _is_demo(path: Path) -> bool:
        from mlops_desktop.services.demo import default_demo_path

        return path == default_demo_path().absolute()

    def _set_project_actions(self, enabled: bool) -> None:
        for action in (
            self.copy_action,
            self.share_action,
            self.check_action,
            self.close_action,
            self.tour_action,
        ):
            action.setEnabled(enabled)
        writable = enabled and self.context is not None and not self.context.project.read_only
        self.compact_action.setEnabled(writable)
        self.merge_action.setEnabled(writable)
        self.view_menu.setEnabled(enabled)

    # -- whole-project tasks -------------------------------------------------------------------

    def save_copy(self, sharing: bool = False) -> None:
        """Save a consistent copy; ``sharing`` names it for sending and puts its SHA-256 on
        the clipboard, for the message that goes with it."""
        if self.context is None:
            return
        source = self.context.project.path
        name = (
            f"{source.stem} (shared {date.today():%Y-%m-%d})" if sharing else f"{source.stem} copy"
        )
        dest = self.dialogs.copy_path(source.with_name(f"{name}{source.suffix}"))
        if dest is None:
            return
        handle = self.runner.start(
            "Saving a copy", save_copy_task, str(source), str(dest), owner=self
        )
        handle.succeeded.connect(lambda report: self._report_copy(report, sharing))
        handle.failed.connect(self.notifications.show_error)

    def _warn_shared(self, where: str) -> None:
        """The project is on a network or synced folder: say why that is risky, and offer a
        local copy to work on (brought back later with Import from Another Project)."""
        name = self.context.project.path.name
        notice = self.notifications.show_warning(
            f"{name} is in {where}. A project file there is easily damaged when two computers "
            "write it at once, or when a sync client copies it mid-write, so it is opened "
            "without write-ahead logging; let one person at a time use it. Safer: work on a "
            "local copy, then bring your changes back into the shared file with File > Import "
            "from Another Project…."
        )
        notice.add_action("Work on a Local Copy", self.work_on_local_copy)

    def _note_writes_refused(self, _message: str) -> None:
        self._writes_refused = True

    def _offer_read_only(self, notification) -> None:
        """A change failed because the disk is full or the file became read-only: what is
        stored is intact, so offer to keep browsing it, read-only."""
        refused, self._writes_refused = self._writes_refused, False
        if self.context is None or self.context.project.read_only:
            return
        if not (refused or self.context.project.file.write_refused):
            return
        path = self.context.project.path
        notification.add_action("Browse Read-Only", lambda: self.open_project(path, read_only=True))

    def work_on_local_copy(self) -> None:
        """Copy the open (shared) project into the local projects folder and open the copy."""
        if self.context is None:
            return
        source = self.context.project.path
        dest = paths.default_project_folder() / f"{source.stem} (local copy){source.suffix}"
        if dest.exists():
            self.open_project(dest)
            return
        handle = self.runner.start(
            "Copying to this computer", save_copy_task, str(source), str(dest), owner=self
        )
        handle.succeeded.connect(lambda report: self.open_project(Path(report.path)))
        handle.failed.connect(self.notifications.show_error)

    def _report_copy(self, report, sharing: bool) -> None:
        if sharing:
            QGuiApplication.clipboard().setText(f"{Path(report.path).name} sha256 {report.sha256}")
        self.notifications.show_info(
            f"Saved a consistent copy at {report.path} ({report.size / 2**20:.1f} MiB, sha256 "
            f"{report.sha256[:16]}…"
            + ("; its full SHA-256 is on the clipboard" if sharing else "")
            + "). Share that file, not the open one."
        )

    def merge_project(self) -> None:
        if self.context is None or self.context.project.read_only:
            return
        other = self.dialogs.open_project_path(self._start_folder(), "Import from project")
        if other is None:
            return
        handle = self.runner.start(
            f"Merging {other.name}",
            merge_task,
            str(self.context.project.path),
            str(other),
            owner=self,
        )
        handle.succeeded.connect(self._report_merge)
        handle.failed.connect(self.notifications.show_error)

    def _report_merge(self, report) -> None:
        if self.context is not None:
            self.context.mark_changed()
        self.merge_summary = MergeSummaryDialog(report, self)
        self.merge_summary.show()

    def check_project(self) -> None:
        if self.context is None:
            return
        path = self.context.project.path
        handle = self.runner.start("Checking project", check_task, str(path), owner=self)
        handle.succeeded.connect(lambda report: self._report_check(path, report))
        handle.failed.connect(self.notifications.show_error)

    def compact_project(self) -> None:
        if self.context is None or self.context.project.read_only:
            return
        path = self.context.project.path
        handle = self.runner.start(
            "Compacting project", compact_task, str(path), in_process=True, owner=self
        )
        handle.succeeded.connect(self._report_compact)
        handle.failed.connect(self.notifications.show_error)

    def _report_compact(self, report) -> None:
        won = report.bytes_won / 1e6
        self.notifications.show_info(
            f"Compacted the project: removed {report.blobs_removed} unused stored objects and "
            f"gave {won:,.1f} MB back to the disk ({report.bytes_after / 1e6:,.1f} MB now)."
        )
        if self.context is not None:
            self.context.mark_changed()

    def _report_check(self, path: Path, report) -> None:
        if report.ok:
            self.notifications.show_info(
                f"{path.name} passed its check: the database is intact and all "
                f"{report.blobs_checked} stored blobs match their hashes."
            )
        else:
            problems = report.problems()
            self.notifications.show_error(
                f"{path.name} has {len(problems)} problem(s), first: {problems[0]}. "
                "Restore it from a shared copy or a backup."
            )

    def _remember_panel(self, row: int) -> None:
        # Closing a project empties the list, moving the current row on the way: not a choice.
        if self.context is not None and self.navigation.count() == len(PANELS) and row >= 0:
            self.settings.set_last_panel(PANELS[row].key)

    def open_log_folder(self) -> None:
        folder = paths.log_folder()
        if not QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder))):
            self.notifications.show_error(
                f"Could not open the log folder {folder}: open it in your file manager."
            )

    def show_about(self) -> None:
        AboutDialog(self.log_file, self).exec()

    def show_shortcuts(self) -> ShortcutsDialog:
        dialog = ShortcutsDialog(self.menuBar(), self)
        dialog.show()
        return dialog

    # -- Qt overrides ------------------------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        urls = event.mimeData().urls()
        if len(urls) == 1 and urls[0].isLocalFile():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        urls = event.mimeData().urls()
        if len(urls) == 1 and urls[0].isLocalFile():
            event.acceptProposedAction()
            # Open after the drop returns, so the drag source is not kept waiting.
            path = Path(urls[0].toLocalFile())
            QTimer.singleShot(0, lambda: self.open_project(path))

    def closeEvent(self, event: QCloseEvent) -> None:
        self.settings.save_window(self.saveGeometry(), self.saveState())
        self.runner.cancel_all()
        self.close_project()
        super().closeEvent(event)
