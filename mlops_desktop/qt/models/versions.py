"""A table model over every model version: sorted and filtered as arrays, not item by item.

The rows come from ``Models.browse()`` as columns of plain values. Sorting is one
``numpy`` argsort of the sort column and filtering one pass over precomputed lowercase text,
so 10,000 versions re-sort and filter in milliseconds on the GUI thread.
"""

from __future__ import annotations

import json
from datetime import datetime

import numpy as np
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QFont

#: (title, browse column) of each visible column.
COLUMNS = (
    ("Model", "model"),
    ("Version", "version"),
    ("Estimator", "estimator"),
    ("Dataset", "dataset"),
    ("Metric", "metric"),
    ("CV", "cv"),
    ("Hold-out", "holdout"),
    ("Alias", "aliases"),
    ("Author", "author"),
    ("Created", "created"),
    ("Tags", "tags"),
)
_NUMERIC = {"version", "cv", "holdout"}
_SEARCHED = ("model", "estimator", "dataset", "metric", "aliases", "author", "tags", "notes")


def _created(text: str) -> str:
    """ISO time in UTC to the reader's local time, to the minute."""
    try:
        return datetime.fromisoformat(text).astimezone().strftime("%Y-%m-%d %H:%M")
    except (TypeError, ValueError):
        return text or ""


class VersionTableModel(QAbstractTableModel):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.rows: dict[str, list] = {}
        self._shown: np.ndarray = np.empty(0, dtype=np.int64)  # underlying row of each row
        self._text: list[list[str]] = []  # display text per column, per underlying row
        self._haystack: np.ndarray = np.empty(0, dtype=object)
        self._sort: tuple[int, Qt.SortOrder] = (-1, Qt.SortOrder.AscendingOrder)
        self._filter = ""
        self._bold = QFont()
        self._bold.setBold(True)

    # -- data in ---------------------------------------------------------------------------------

    def set_rows(self, rows: dict[str, list]) -> None:
        """Replace every row; the current sort and filter stay."""
        self.beginResetModel()
        self.rows = rows
        count = len(rows.get("uuid", []))
        tags = [", ".join(json.loads(t)) if t and t != "[]" else "" for t in rows.get("tags", [])]
        self.rows["tags"] = tags
        self._text = [self._column_text(key, count) for _, key in COLUMNS]
        self._haystack = np.array(
            [
                " ".join(str(rows[key][i] or "") for key in _SEARCHED).lower()
                + f" {rows['model'][i]}:{rows['version'][i]}".lower()
                for i in range(count)
            ],
            dtype=object,
        )
        self._shown = self._select()
        self.endResetModel()

    def _column_text(self, key: str, count: int) -> list[str]:
        values = self.rows.get(key, [])
        if key == "cv":
            spread = self.rows["cv_std"]
            return [
                "" if v is None else f"{v:.4g} ± {spread[i]:.2g}" if spread[i] else f"{v:.4g}"
                for i, v in enumerate(values)
            ]
        if key == "holdout":
            return ["" if v is None else f"{v:.4g}" for v in values]
        if key == "created":
            return [_created(v) for v in values]
        return ["" if v is None else str(v) for v in values[:count]]

    # -- sort and filter -------------------------------------------------------------------------

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        self.layoutAboutToBeChanged.emit()
        self._sort = (column, order)
        self._shown = self._select()
        self.layoutChanged.emit()

    def set_filter(self, text: str) -> None:
        text = text.strip().lower()
        if text == self._filter:
            return
        self.beginResetModel()
        self._filter = text
        self._shown = self._select()
        self.endResetModel()

    def _select(self) -> np.ndarray:
        count = len(self._haystack)
        if self._filter:
            words = self._filter.split()
            keep = np.fromiter(
                (all(w in h for w in words) for h in self._haystack), dtype=bool, count=count
            )
            rows = np.flatnonzero(keep)
        else:
            rows = np.arange(count)
        column, order = self._sort
        if column < 0 or not len(rows):
            return rows
        key = COLUMNS[column][1]
        values = self.rows[key]
        if key in _NUMERIC:
            # Missing numbers sort last either way: NaN would land wherever argsort puts it.
            numbers = np.array([np.nan if v is None else v for v in values], dtype=float)[rows]
            ranks = np.argsort(numbers, kind="stable")
            if order == Qt.SortOrder.DescendingOrder:
                ranks = ranks[::-1]
            missing = np.isnan(numbers[ranks])
            ranks = np.concatenate([ranks[~missing], ranks[missing]])
        else:
            texts = np.array([self._sort_text(key, i) for i in rows], dtype=object)
            ranks = np.argsort(texts, kind="stable")
            if order == Qt.SortOrder.DescendingOrder:
                ranks = ranks[::-1]
        return rows[ranks]

    def _sort_text(self, key: str, row: int) -> str:
        value = self.rows[key][row]
        if key == "created":
            return value or ""
        return str(value or "").lower()

    # -- what the view asks ---------------------------------------------------------------------

    def uuid_at(self, row: int) -> str:
        return self.rows["uuid"][self._shown[row]]

    def label_at(self, row: int) -> str:
        index = self._shown[row]
        return f"{self.rows['model'][index]}:{self.rows['version'][index]}"

    def row_of(self, version_uuid: str) -> int | None:
        try:
            underlying = self.rows["uuid"].index(version_uuid)
        except (KeyError, ValueError):
            return None
        found = np.flatnonzero(self._shown == underlying)
        return int(found[0]) if len(found) else None

    @property
    def total(self) -> int:
        return len(self._haystack)

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._shown)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0):
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section][0]
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = 0):
        if not index.isValid():
            return None
        row, column = int(self._shown[index.row()]), index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text[column][row]
        if role == Qt.ItemDataRole.TextAlignmentRole and COLUMNS[column][1] in _NUMERIC:
            return Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        if role == Qt.ItemDataRole.FontRole and COLUMNS[column][1] == "aliases":
            return self._bold if self.rows["aliases"][row] else None
        if role == Qt.ItemDataRole.ToolTipRole and self.rows["notes"][row]:
            return self.rows["notes"][row]
        return None
