"""Small read-only tables of text: metrics, parameters, gate results, history."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

GOOD = QColor(25, 135, 84, 60)
BAD = QColor(220, 53, 69, 60)
CHANGED = QColor(255, 193, 7, 70)


def text_table(headers: Sequence[str], name: str = "") -> QTableWidget:
    table = QTableWidget(0, len(headers))
    table.setHorizontalHeaderLabels(list(headers))
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.verticalHeader().setVisible(False)
    table.setWordWrap(False)
    header = table.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    header.setStretchLastSection(True)
    if name:
        table.setObjectName(name)
    return table


def fill_table(
    table: QTableWidget,
    rows: Sequence[Sequence[object]],
    colours: Sequence[Sequence[QColor | None]] | None = None,
    bold_rows: Sequence[bool] | None = None,
    explain: Callable[[str], str | None] | None = None,
) -> None:
    """Replace the rows; ``colours`` gives each cell's background (or None), ``bold_rows``
    marks whole rows to stand out, and ``explain`` gives the first column's tooltips (what
    a metric means, for instance)."""
    table.setRowCount(len(rows))
    bold = QFont()
    bold.setBold(True)
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            item = QTableWidgetItem("" if value is None else str(value))
            colour = colours[r][c] if colours and c < len(colours[r]) else None
            if colour is not None:
                item.setBackground(QBrush(colour))
            if bold_rows and bold_rows[r]:
                item.setFont(bold)
            if c == 0 and explain is not None and (tip := explain(item.text())):
                item.setToolTip(tip)
            table.setItem(r, c, item)
    table.resizeColumnsToContents()
