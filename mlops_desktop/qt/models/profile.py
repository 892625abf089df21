"""A table model over a dataset profile: one row per column."""

from __future__ import annotations

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

from mlops_desktop.domain.dataset import type_label
from mlops_desktop.domain.profile import ColumnProfile, TableProfile
from mlops_desktop.qt.models.arrow_table import format_value

HEADERS = (
    "Column",
    "Type",
    "Kind",
    "Missing",
    "Missing %",
    "Unique",
    "Mean",
    "Std",
    "Min",
    "Max",
    "Most frequent",
)
_NUMERIC = {3, 4, 5, 6, 7}
_OF_FINITE = {"Mean", "Std", "Min", "Max"}


def _stat(column: ColumnProfile, key: str) -> str:
    if key not in column.stats:
        return ""
    value = column.stats[key]
    if column.kind == "datetime" and isinstance(value, str):
        return value.removesuffix(" 00:00:00")  # dates, as the table shows them
    return format_value(value)


def _cells(column: ColumnProfile) -> tuple:
    below, above = column.stats.get("infinite", (0, 0))
    top = f"{column.top[0][0]} ({column.top[0][1]:,})" if column.top else ""
    return (
        column.name,
        type_label(column.type),
        column.kind,
        f"{column.missing:,}",
        f"{100 * column.missing_share:.1f}",
        f"{column.unique:,}",
        _stat(column, "mean"),
        _stat(column, "std"),
        "-∞" if below else _stat(column, "min"),
        "∞" if above else _stat(column, "max"),
        top,
    )


class ProfileModel(QAbstractTableModel):
    def __init__(self, parent=None):
        super().__init__(parent)
        self._columns: list[ColumnProfile] = []
        self._cells: list[tuple] = []

    def set_profile(self, profile: TableProfile | None) -> None:
        self.beginResetModel()
        self._columns = list(profile.columns) if profile else []
        self._cells = [_cells(c) for c in self._columns]
        self.endResetModel()

    def column_at(self, row: int) -> ColumnProfile:
        return self._columns[row]

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._columns)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0):
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return HEADERS[section]
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = 0):
        if not index.isValid():
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return self._cells[index.row()][index.column()]
        if role == Qt.ItemDataRole.TextAlignmentRole and index.column() in _NUMERIC:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole and index.column() == 1:
            return self._columns[index.row()].type  # Arrow's full name
        if role == Qt.ItemDataRole.ToolTipRole and index.column() == 2:
            return _KIND_TIPS.get(self._columns[index.row()].kind)
        if role == Qt.ItemDataRole.ToolTipRole and HEADERS[index.column()] in _OF_FINITE:
            below, above = self._columns[index.row()].stats.get("infinite", (0, 0))
            if below or above:
                return (
                    f"{below:,} values are -∞ and {above:,} are ∞; the mean, spread and "
                    "finite range are of the other values."
                )
        return None


_KIND_TIPS = {
    "numeric": "Numbers: summarised by mean, spread and a histogram.",
    "categorical": "A limited set of repeating values (at most 1,000 distinct).",
    "text": "Free text or many distinct labels (such as names or identifiers).",
    "datetime": "Dates and times.",
    "boolean": "True or false.",
    "other": "A type that is stored but not summarised.",
}
