"""The Profile tab: per-column statistics and charts, redrawn from the stored profile."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QHeaderView,
    QLabel,
    QSplitter,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from mlops_desktop.domain.profile import TableProfile
from mlops_desktop.qt.models.profile import ProfileModel
from mlops_desktop.qt.widgets import charts


class ProfileView(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.profile: TableProfile | None = None
        self.model = ProfileModel(self)
        self.table = QTableView()
        self.table.setObjectName("profile-table")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QTableView.SelectionMode.SingleSelection)
        self.table.verticalHeader().setVisible(False)
        self.table.setAlternatingRowColors(True)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setDefaultSectionSize(90)
        header.resizeSection(0, 170)
        header.resizeSection(1, 130)  # "timestamp[ms]" and "category of string" in full
        header.setStretchLastSection(True)
        self.table.selectionModel().currentRowChanged.connect(self._column_selected)

        self.charts = QTabWidget()
        self.loading = QLabel("Loading charts…")
        self.loading.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.charts.addTab(self.loading, "Charts")
        self.column_chart = self.missing_chart = self.correlation_chart = None

        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.table)
        splitter.addWidget(self.charts)
        splitter.setSizes([300, 320])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)
        charts.when_ready(self, self._build_charts)

    def _build_charts(self) -> None:
        self.charts.clear()
        self.column_chart = charts.ChartCanvas()
        self.missing_chart = charts.ChartCanvas()
        self.correlation_chart = charts.ChartCanvas(height=4)
        self.charts.addTab(self.column_chart, "Selected column")
        self.charts.addTab(self.missing_chart, "Missing values")
        self.charts.addTab(self.correlation_chart, "Correlation")
        self._draw_all()

    def set_profile(self, profile: TableProfile | None) -> None:
        self.profile = profile
        self.model.set_profile(profile)
        if profile is not None and profile.columns:
            self.table.selectRow(0)
        self._draw_all()

    def _draw_all(self) -> None:
        if self.column_chart is None or self.profile is None:
            return
        profile = self.profile
        self.missing_chart.draw(lambda figure: charts.draw_missing(figure, profile))
        self.correlation_chart.draw(lambda figure: charts.draw_correlation(figure, profile))
        row = self.table.currentIndex().row()
        self._draw_column(max(row, 0))

    def _column_selected(self, current, _previous) -> None:
        if current.isValid():
            self._draw_column(current.row())

    def _draw_column(self, row: int) -> None:
        if self.column_chart is None or self.profile is None or not self.profile.columns:
            return
        column = self.model.column_at(row)
        self.column_chart.draw(lambda figure: charts.draw_column(figure, column))
