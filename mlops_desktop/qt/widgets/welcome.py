"""The page shown when no project is open: start a project, open one, or pick a recent one."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)


class WelcomePage(QWidget):
    new_requested = Signal()
    open_requested = Signal()
    recent_requested = Signal(Path)
    demo_requested = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("welcome")
        title = QLabel("mlops_desktop")
        title.setObjectName("welcome-title")
        subtitle = QLabel(
            "Import and clean data, configure experiments, train, compare, serve and monitor "
            "models, offline, in one project file."
        )
        subtitle.setWordWrap(True)
        subtitle.setObjectName("welcome-subtitle")

        self.new_button = QPushButton("New project…")
        self.new_button.setObjectName("welcome-primary")
        self.new_button.clicked.connect(self.new_requested)
        self.open_button = QPushButton("Open project…")
        self.open_button.clicked.connect(self.open_requested)
        self.demo_button = QPushButton("Open demo project")
        self.demo_button.setObjectName("welcome-demo")
        self.demo_button.setToolTip(
            "A milk-sales forecast and a tumour classifier, imported, cleaned, trained, served "
            "and monitored: every panel has something to show"
        )
        self.demo_button.clicked.connect(self.demo_requested)
        buttons = QHBoxLayout()
        buttons.addWidget(self.new_button)
        buttons.addWidget(self.open_button)
        buttons.addWidget(self.demo_button)
        buttons.addStretch(1)

        recent_title = QLabel("Recent projects")
        recent_title.setObjectName("welcome-section")
        self.recent_list = QListWidget()
        self.recent_list.setObjectName("welcome-recent")
        self.recent_list.itemActivated.connect(self._activate)
        self.empty_label = QLabel("No recent projects yet: create one or open a project file.")
        self.empty_label.setObjectName("welcome-empty")

        column = QVBoxLayout()
        column.addWidget(title)
        column.addWidget(subtitle)
        column.addSpacing(20)
        column.addLayout(buttons)
        column.addSpacing(28)
        column.addWidget(recent_title)
        column.addWidget(self.recent_list)
        column.addWidget(self.empty_label)
        column.addStretch(1)
        inner = QWidget()
        inner.setLayout(column)
        inner.setFixedWidth(640)
        outer = QHBoxLayout(self)
        outer.setContentsMargins(48, 56, 48, 32)
        outer.addWidget(inner, 0, Qt.AlignmentFlag.AlignHCenter)

    def set_recent(self, paths: list[Path]) -> None:
        self.recent_list.clear()
        for path in paths:
            item = QListWidgetItem(f"{path.stem}\n{path}")
            item.setData(Qt.ItemDataRole.UserRole, str(path))
            item.setToolTip(str(path) if path.exists() else f"{path} (missing)")
            if not path.exists():
                item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEnabled)
            self.recent_list.addItem(item)
        self.recent_list.setVisible(bool(paths))
        self.empty_label.setVisible(not paths)

    def _activate(self, item: QListWidgetItem) -> None:
        self.recent_requested.emit(Path(item.data(Qt.ItemDataRole.UserRole)))
