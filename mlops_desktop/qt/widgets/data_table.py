"""A lazy data table with sorting by header and a filter bar, both computed off the loop."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from mlops_desktop.domain.recipe import OPERATORS
from mlops_desktop.domain.views import filter_rows, sort_rows
from mlops_desktop.qt.models.arrow_table import ArrowTableModel
from mlops_desktop.qt.workers.tasks import TaskHandle, TaskRunner

_NO_VALUE = ("is missing", "is not missing")


def parse_filter_value(operator: str, text: str):
    """The filter bar's text as the condition's value: lists for 'in' and 'between'."""
    if operator in _NO_VALUE:
        return None
    if operator in ("in", "between"):
        return [part.strip() for part in text.split(",") if part.strip()]
    return text


class DataTable(QWidget):
    def __init__(self, runner: TaskRunner, parent: QWidget | None = None):
        super().__init__(parent)
        self._runner = runner
        self._pending: TaskHandle | None = None
        self._filtered: np.ndarray | None = None
        self._sort: tuple[int, bool] | None = None
        self.model = ArrowTableModel(self)

        self.view = QTableView()
        self.view.setModel(self.model)
        self.view.setObjectName("data-table")
        self.view.setAlternatingRowColors(True)
        self.view.setWordWrap(False)
        header = self.view.horizontalHeader()
        # Fixed sizes: sizing to contents would read every row of a million-row table.
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setDefaultSectionSize(120)
        header.setSectionsClickable(True)
        header.setSortIndicatorShown(False)
        header.sectionClicked.connect(self._sort_by)
        rows = self.view.verticalHeader()
        rows.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        rows.setDefaultSectionSize(22)

        self.column_box = QComboBox()
        self.column_box.setMinimumContentsLength(12)
        self.operator_box = QComboBox()
        self.operator_box.addItems(OPERATORS)
        self.operator_box.currentTextChanged.connect(self._operator_changed)
        self.value_edit = QLineEdit()
        self.value_edit.setPlaceholderText("value (for 'in' or 'between': a, b)")
        self.value_edit.returnPressed.connect(self.apply_filter)
        self.filter_button = QPushButton("Filter")
        self.filter_button.clicked.connect(self.apply_filter)
        self.clear_button = QPushButton("Show all")
        self.clear_button.clicked.connect(self.clear_filter)
        self.status = QLabel()
        self.status.setObjectName("table-status")

        bar = QHBoxLayout()
        bar.addWidget(QLabel("Rows where"))
        bar.addWidget(self.column_box)
        bar.addWidget(self.operator_box)
        bar.addWidget(self.value_edit, 1)
        bar.addWidget(self.filter_button)
        bar.addWidget(self.clear_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.status)
        self._set_enabled(False)

    def set_table(self, table: pa.Table | None) -> None:
        self._cancel_pending()
        self._filtered, self._sort = None, None
        self.view.horizontalHeader().setSortIndicatorShown(False)
        self.model.set_table(table)
        self.column_box.clear()
        if table is not None:
            self.column_box.addItems(table.column_names)
        self._set_enabled(table is not None)
        self._update_status()

    def _set_enabled(self, enabled: bool) -> None:
        for widget in (
            self.column_box,
            self.operator_box,
            self.value_edit,
            self.filter_button,
            self.clear_button,
        ):
            widget.setEnabled(enabled)

    def _operator_changed(self, operator: str) -> None:
        self.value_edit.setEnabled(operator not in _NO_VALUE)

    def _update_status(self, message: str = "") -> None:
        table = self.model.table
        if table is None:
            self.status.setText(message or "No data loaded.")
            return
        shown = self.model.view_rows()
        text = (
            f"{table.num_rows:,} rows × {table.num_columns} columns"
            if shown == table.num_rows and self._filtered is None
            else f"Showing {shown:,} of {table.num_rows:,} rows"
        )
        if self._sort is not None:
            column, descending = self._sort
            text += f", sorted by {table.column_names[column]} "
            text += "(descending)" if descending else "(ascending)"
        self.status.setText(f"{text}. {message}".strip())

    # -- sorting and filtering -----------------------------------------------------------------

    def _cancel_pending(self) -> None:
        if self._pending is not None and self._pending.running:
            self._pending.cancel()
        self._pending = None

    def _start(self, title: str, fn, *args) -> None:
        self._cancel_pending()
        handle = self._runner.start(title, fn, *args)
        self._pending = handle
        handle.failed.connect(lambda message: self._update_status(message))
        self._update_status("Working…")
        return handle

    def apply_filter(self) -> None:
        table = self.model.table
        if table is None:
            return
        column, operator = self.column_box.currentText(), self.operator_box.currentText()
        value = parse_filter_value(operator, self.value_edit.text())
        handle = self._start("Filtering", filter_rows, table, column, operator, value)
        handle.succeeded.connect(lambda rows, h=handle: self._filtered_by(h, rows))

    def _filtered_by(self, handle: TaskHandle, rows: np.ndarray) -> None:
        if handle is not self._pending:
            return  # a newer request replaced this one
        self._filtered = rows
        if self._sort is not None:
            self._sort_by(self._sort[0], toggle=False)
        else:
            self.model.set_view(rows)
            self._update_status()

    def clear_filter(self) -> None:
        self._filtered = None
        if self._sort is not None:
            self._sort_by(self._sort[0], toggle=False)
        else:
            self._cancel_pending()
            self.model.set_view(None)
            self._update_status()

    def _sort_by(self, column: int, toggle: bool = True) -> None:
        table = self.model.table
        if table is None:
            return
        descending = False
        if self._sort is not None and self._sort[0] == column:
            descending = not self._sort[1] if toggle else self._sort[1]
        name = table.column_names[column]
        handle = self._start(
            f"Sorting by {name}", sort_rows, table, name, descending, self._filtered
        )
        handle.succeeded.connect(
            lambda rows, h=handle: self._sorted_by(h, column, descending, rows)
        )

    def _sorted_by(self, handle: TaskHandle, column: int, descending: bool, rows) -> None:
        if handle is not self._pending:
            return
        self._sort = (column, descending)
        header = self.view.horizontalHeader()
        header.setSortIndicatorShown(True)
        header.setSortIndicator(
            column, Qt.SortOrder.DescendingOrder if descending else Qt.SortOrder.AscendingOrder
        )
        self.model.set_view(rows)
        self._update_status()
