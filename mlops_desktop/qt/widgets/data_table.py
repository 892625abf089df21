"""A lazy data table with sorting by header and a filter bar, both computed off the loop."""

from __future__ import annotations

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
from mlops_desktop.domain.views import view_rows
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
        # What is shown (a filter's condition, a sort's column and direction) and what was
        # last asked for, which a running task is working towards.
        self._condition: tuple | None = None
        self._sort: tuple[int, bool] | None = None
        self._wanted: tuple[tuple | None, tuple[int, bool] | None] = (None, None)
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
        self._condition, self._sort, self._wanted = None, None, (None, None)
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
            if shown == table.num_rows and self._condition is None
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
        handle.failed.connect(
            lambda message, h=handle: h is self._pending and self._failed(message)
        )
        # Cancelled from the task bar: a later sort or filter must not bring it back.
        handle.cancelled.connect(lambda h=handle: h is self._pending and self._failed("Cancelled."))
        self._update_status("Working…")
        return handle

    def apply_filter(self) -> None:
        if self.model.table is None:
            return
        column, operator = self.column_box.currentText(), self.operator_box.currentText()
        value = parse_filter_value(operator, self.value_edit.text())
        self._request((column, operator, value), self._wanted[1])

    def clear_filter(self) -> None:
        self._request(None, self._wanted[1])

    def _sort_by(self, column: int, toggle: bool = True) -> None:
        if self.model.table is None:
            return
        sort, descending = self._wanted[1], False
        if sort is not None and sort[0] == column:
            descending = not sort[1] if toggle else sort[1]
        self._request(self._wanted[0], (column, descending))

    def _request(self, condition, sort: tuple[int, bool] | None) -> None:
        """Show the rows meeting ``condition`` in ``sort``'s order: both go to one task, so
        a sort clicked while a filter is still working keeps that filter (and vice versa)."""
        table = self.model.table
        self._wanted = (condition, sort)
        if condition is None and sort is None:
            self._cancel_pending()
            self._show(None, None, None)
            return
        by = None if sort is None else (table.column_names[sort[0]], sort[1])
        title = "Filtering" if sort is None else f"Sorting by {by[0]}"
        handle = self._start(title, view_rows, table, condition, by)
        handle.succeeded.connect(
            lambda rows, h=handle: h is self._pending and self._show(condition, sort, rows)
        )

    def _failed(self, message: str) -> None:
        self._wanted = (self._condition, self._sort)  # what is shown stays what is asked for
        self._update_status(message)

    def _show(self, condition, sort: tuple[int, bool] | None, rows) -> None:
        self._condition, self._sort = condition, sort
        header = self.view.horizontalHeader()
        header.setSortIndicatorShown(sort is not None)
        if sort is not None:
            order = Qt.SortOrder.DescendingOrder if sort[1] else Qt.SortOrder.AscendingOrder
            header.setSortIndicator(sort[0], order)
        self.model.set_view(rows)
        # Left scrolled past the end of fewer rows, the view repainted every row's header.
        self.view.scrollToTop()
        self._update_status()
