"""A table model over every model version: sorted and filtered as arrays, not item by item.

The rows come from ``Models.browse()`` as columns of plain values. Sorting is one
``numpy`` argsort of the sort column and filtering one pass over lowercase text that
``prepare`` made off the GUI thread; a cell's text is made when the view first shows it. So
10,000 versions load, re-sort and filter in milliseconds on the GUI thread
(``benchmarks/browser.py``).
"""

from __future__ import annotations

import json
from datetime import datetime

import numpy as np
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QFont

from mlops_desktop.domain import glossary

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
#: The key ``prepare`` adds: each row's searched text.
SEARCH = "search"
_SEARCHED = ("model", "estimator", "dataset", "metric", "aliases", "author", "tags", "notes")


def _created(text: str) -> str:
    """ISO time in UTC to the reader's local time, to the minute."""
    try:
        return datetime.fromisoformat(text).astimezone().strftime("%Y-%m-%d %H:%M")
    except (TypeError, ValueError):
        return text or ""


def _tags(text: str | None) -> str:
    return ", ".join(json.loads(text)) if text else ""


def prepare(rows: dict[str, list]) -> dict[str, list]:
    """``Models.browse()``'s rows made ready for the table, on the thread that read them:
    tags as text, and each row's searched columns and label in one lowercase string."""
    shown_tags = {"": "", "[]": ""}  # tag lists repeat: parse each distinct one once
    rows["tags"] = [
        shown_tags[t] if t in shown_tags else shown_tags.setdefault(t, _tags(t))
        for t in rows.get("tags", [])
    ]
    search: list[str] = []
    if rows.get("uuid"):
        parts = [[str(v or "") for v in rows[key]] for key in _SEARCHED]
        labels = zip(rows["model"], rows["version"], strict=True)
        parts.append([f"{model}:{version}" for model, version in labels])
        search = list(map(str.lower, map(" ".join, zip(*parts, strict=True))))
    rows[SEARCH] = search
    return rows


class VersionTableModel(QAbstractTableModel):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.rows: dict[str, list] = {}
        self._shown: np.ndarray = np.empty(0, dtype=np.int64)  # underlying row of each row
        self._text: list[list[str | None]] = []  # display text per column, per row, once shown
        self._count = 0
        self._haystack: np.ndarray = np.empty(0, dtype=object)  # searched text per row
        self._sort: tuple[int, Qt.SortOrder] = (-1, Qt.SortOrder.AscendingOrder)
        self._filter = ""
        self._bold = QFont()
        self._bold.setBold(True)

    # -- data in ---------------------------------------------------------------------------------

    def set_rows(self, rows: dict[str, list]) -> None:
        """Replace every row (as ``prepare`` leaves them); the current sort and filter stay."""
        if SEARCH not in rows:
            rows = prepare(rows)
        self.beginResetModel()
        self.rows = rows
        count = len(rows.get("uuid", []))
        # Display text is made when the view first asks for a cell: a screen shows a few
        # hundred of the 100,000 cells, and making them all (the local times above all) took
        # longer than reading the rows.
        self._count = count
        self._text = [[None] * count for _ in COLUMNS]
        self._haystack = np.array(rows[SEARCH], dtype=object)
        self._shown = self._select()
        self.endResetModel()

    def _display(self, key: str, row: int) -> str:
        value = self.rows[key][row]
        if key == "cv":
            spread = self.rows["cv_std"][row]
            if value is None:
                return ""
            return f"{value:.4g} ± {spread:.2g}" if spread else f"{value:.4g}"
        if key == "holdout":
            return "" if value is None else f"{value:.4g}"
        if key == "created":
            return _created(value)
        return "" if value is None else str(value)

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
        count = self._count
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
        return self._count

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
            text = self._text[column][row]
            if text is None:
                text = self._text[column][row] = self._display(COLUMNS[column][1], row)
            return text
        if role == Qt.ItemDataRole.TextAlignmentRole and COLUMNS[column][1] in _NUMERIC:
            return Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        if role == Qt.ItemDataRole.FontRole and COLUMNS[column][1] == "aliases":
            return self._bold if self.rows["aliases"][row] else None
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(COLUMNS[column][1], row)
        return None

    def _tooltip(self, key: str, row: int) -> str | None:
        """What the metric or estimator means, for a student; a version's notes elsewhere."""
        if key == "metric":
            return glossary.metric(str(self.rows["metric"][row] or ""))
        if key == "estimator":
            return glossary.step(str(self.rows["estimator"][row] or ""))
        return self.rows["notes"][row] or None
