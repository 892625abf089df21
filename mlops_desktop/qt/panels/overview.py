"""The Overview panel: what the project holds and the team's history of changes."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from mlops_desktop.qt.context import ProjectContext
from mlops_desktop.qt.models.events import EventTableModel, local_time
from mlops_desktop.qt.panels.base import Panel

_COUNT_LABELS = {
    "datasets": "Datasets",
    "dataset_versions": "Dataset versions",
    "experiments": "Experiments",
    "jobs": "Training jobs",
    "model_versions": "Model versions",
}


def _human_size(n: int) -> str:
    size = float(n)
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:,.0f} {unit}" if unit == "bytes" else f"{size:,.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


class OverviewPanel(Panel):
    title = "Overview"

    def __init__(self, context: ProjectContext, parent: QWidget | None = None):
        super().__init__(context, parent)
        self.name_label = QLabel()
        self.name_label.setObjectName("overview-name")
        self.read_only_label = QLabel("read-only")
        self.read_only_label.setObjectName("badge")
        self.path_label = QLabel()
        self.path_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.facts_label = QLabel()
        self.facts_label.setObjectName("overview-facts")

        heading = QHBoxLayout()
        heading.addWidget(self.name_label)
        heading.addWidget(self.read_only_label)
        heading.addStretch(1)

        self.count_labels: dict[str, QLabel] = {}
        cards = QGridLayout()
        for column, (kind, text) in enumerate(_COUNT_LABELS.items()):
            card = QFrame()
            card.setObjectName("count-card")
            number = QLabel("0")
            number.setObjectName("count-number")
            caption = QLabel(text)
            inner = QVBoxLayout(card)
            inner.addWidget(number)
            inner.addWidget(caption)
            self.count_labels[kind] = number
            cards.addWidget(card, 0, column)

        history_title = QLabel("History")
        history_title.setObjectName("section-title")
        self.history_model = EventTableModel(self)
        self.history_view = QTableView()
        self.history_view.setModel(self.history_model)
        self.history_view.verticalHeader().setVisible(False)
        self.history_view.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.history_view.setAlternatingRowColors(True)
        header = self.history_view.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        header.resizeSection(0, 150)
        header.resizeSection(1, 140)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 16, 24, 16)
        layout.addLayout(heading)
        layout.addWidget(self.path_label)
        layout.addWidget(self.facts_label)
        layout.addSpacing(12)
        layout.addLayout(cards)
        layout.addSpacing(12)
        layout.addWidget(history_title)
        layout.addWidget(self.history_view, 1)

        context.changed.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        project = self.context.project
        info = project.info()
        self.name_label.setText(info.name)
        self.read_only_label.setVisible(info.read_only)
        self.path_label.setText(info.path)
        self.facts_label.setText(
            f"Created {local_time(info.created_at)} by {info.created_by} · "
            f"schema version {info.schema_version} · {_human_size(info.size_bytes)}"
        )
        for kind, label in self.count_labels.items():
            label.setText(f"{info.counts.get(kind, 0):,}")
        self.history_model.set_events(project.history())
