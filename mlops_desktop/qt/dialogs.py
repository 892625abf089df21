"""Small dialogs: choosing project files, About with the versions of every library, and the
keyboard shortcuts."""

from __future__ import annotations

import platform
import sqlite3
from importlib import metadata
from pathlib import Path

from PySide6 import __version__ as pyside_version
from PySide6.QtCore import qVersion
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from mlops_desktop.store import PROJECT_SUFFIX
from mlops_desktop.version import __version__

PROJECT_FILTER = f"mlops_desktop projects (*{PROJECT_SUFFIX});;All files (*)"

#: Distributions shown in About, in the order a bug report wants them.
LIBRARIES = (
    "PySide6-Essentials",
    "pandas",
    "numpy",
    "pyarrow",
    "scikit-learn",
    "scipy",
    "matplotlib",
    "sqlite-utils",
    "joblib",
    "skops",
    "platformdirs",
    "click",
)


def _with_suffix(path: str) -> Path | None:
    if not path:
        return None
    chosen = Path(path)
    return chosen if chosen.suffix else chosen.with_suffix(PROJECT_SUFFIX)


class FileDialogs:
    """The file choosers of the main window (tests replace these methods)."""

    def __init__(self, parent: QWidget):
        self._parent = parent

    def new_project_path(self, folder: Path) -> Path | None:
        path, _ = QFileDialog.getSaveFileName(
            self._parent,
            "New project",
            str(folder / f"Untitled{PROJECT_SUFFIX}"),
            PROJECT_FILTER,
            # Replacing an existing project is refused later with a sentence, never confirmed.
            options=QFileDialog.Option.DontConfirmOverwrite,
        )
        return _with_suffix(path)

    def open_project_path(self, folder: Path, title: str = "Open project") -> Path | None:
        path, _ = QFileDialog.getOpenFileName(self._parent, title, str(folder), PROJECT_FILTER)
        return Path(path) if path else None

    def copy_path(self, suggestion: Path) -> Path | None:
        path, _ = QFileDialog.getSaveFileName(
            self._parent, "Save a copy as", str(suggestion), PROJECT_FILTER
        )
        return _with_suffix(path)


def library_versions() -> list[tuple[str, str]]:
    rows = [
        ("mlops_desktop", __version__),
        ("Python", platform.python_version()),
        ("Qt", qVersion()),
        ("SQLite", sqlite3.sqlite_version),
    ]
    for name in LIBRARIES:
        try:
            version = metadata.version(name)
        except metadata.PackageNotFoundError:
            version = pyside_version if name.startswith("PySide6") else "not installed"
        rows.append((name, version))
    return rows


class AboutDialog(QDialog):
    def __init__(self, log_file: Path | None, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("About mlops_desktop")
        intro = QLabel(
            f"<h2>mlops_desktop {__version__}</h2>"
            "<p>The whole machine-learning lifecycle, offline, in one project file.</p>"
        )
        versions = library_versions()
        table = QTableWidget(len(versions), 2)
        table.setObjectName("about-versions")
        table.setHorizontalHeaderLabels(["Component", "Version"])
        table.verticalHeader().setVisible(False)
        table.verticalHeader().setDefaultSectionSize(24)
        table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        for row, (name, version) in enumerate(versions):
            table.setItem(row, 0, QTableWidgetItem(name))
            table.setItem(row, 1, QTableWidgetItem(version))
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(table)
        if log_file is not None:
            log_label = QLabel(f"Log file: {log_file}")
            log_label.setWordWrap(True)
            layout.addWidget(log_label)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.resize(460, 520)


def menu_shortcuts(menu_bar) -> list[tuple[str, str, str]]:
    """(menu, action, keys) for every action with a shortcut, in menu order."""
    found = []

    def visit(title: str, actions) -> None:
        for action in actions:
            submenu = action.menu()
            if submenu is not None:
                visit(f"{title} > {action.text().replace('&', '')}", submenu.actions())
            elif not action.shortcut().isEmpty():
                keys = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
                found.append((title, action.text().replace("&", ""), keys))

    for top in menu_bar.actions():
        if top.menu() is not None:
            visit(top.text().replace("&", ""), top.menu().actions())
    return found


def panel_shortcuts() -> list[tuple[str, str, str]]:
    """(panel, action, keys) for every panel's own shortcut, in navigation order."""
    from mlops_desktop.qt.panels import PANELS

    return [
        (
            f"{spec.title} panel",
            what,
            QKeySequence(keys).toString(QKeySequence.SequenceFormat.NativeText),
        )
        for spec in PANELS
        for keys, what, _target, _scope in spec.shortcuts
    ]


class ShortcutsDialog(QDialog):
    """Help > Keyboard Shortcuts: read from the menus and the panels' own lists, so it
    cannot go stale."""

    def __init__(self, menu_bar, parent: QWidget | None = None):
        from mlops_desktop.qt.widgets.tables import fill_table, text_table

        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        self.table = text_table(("Menu", "Action", "Keys"), "shortcuts")
        self.table.verticalHeader().setVisible(False)
        fill_table(self.table, menu_shortcuts(menu_bar) + panel_shortcuts())
        self.table.horizontalHeader().setStretchLastSection(True)
        hint = QLabel("A panel's own shortcuts work while that panel is shown.")
        hint.setObjectName("hint")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(hint)
        layout.addWidget(buttons)
        self.resize(520, 460)


class MergeSummaryDialog(QDialog):
    """What a merge brought in, the numbers and names it changed, and the alias conflicts
    left for the user."""

    def __init__(self, report, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle(f"Imported from {report.source}")
        self.summary = QLabel(report.summary())
        self.summary.setWordWrap(True)
        self.summary.setObjectName("section-title")
        # Lists can be long (every renumbered version): text boxes that scroll and copy.
        self.notes = QPlainTextEdit(
            "\n".join(f"• {note}" for note in report.notes)
            or "Every name was free: nothing was renamed."
        )
        self.conflicts = QPlainTextEdit(
            "\n".join(f"• {conflict}" for conflict in report.conflicts)
            or "No alias conflicts: the two projects agree on every alias they share."
        )
        for box in (self.notes, self.conflicts):
            box.setReadOnly(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(QLabel("Renamed or renumbered"))
        layout.addWidget(self.notes, 2)
        layout.addWidget(QLabel("To resolve"))
        layout.addWidget(self.conflicts, 1)
        layout.addWidget(buttons)
        self.resize(680, 460)
