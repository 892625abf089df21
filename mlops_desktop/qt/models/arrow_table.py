"""A lazy table model over an Arrow table: only the cells on screen are ever converted.

Rows are read in blocks per column and cached, so scrolling a million rows costs a few
small conversions; sorting and filtering produce an index array (computed off the event
loop) that the model reads through.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import OrderedDict

import numpy as np
import pyarrow as pa
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor

BLOCK_ROWS = 256
MAX_CACHED_BLOCKS = 512
MISSING_TEXT = "—"


def format_value(value, exact: bool = False, single: bool = False) -> str:
    """A value as a cell shows it; floats to six digits, as statistics are, unless ``exact``
    (data: 1234567.89 is not 1.23457e+06), then in as few digits as give the float back, at
    single precision if it is ``single`` (a float32 0.1 is not 0.10000000149011612)."""
    if value is None:
        return MISSING_TEXT
    if isinstance(value, float):
        if math.isnan(value):
            return MISSING_TEXT
        if not exact:
            return f"{value:.6g}"
        return (str(np.float32(value)) if single else repr(value)).removesuffix(".0")
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ", timespec="seconds").removesuffix(" 00:00:00")
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


class ArrowTableModel(QAbstractTableModel):
    def __init__(self, parent=None):
        super().__init__(parent)
        self._table: pa.Table | None = None
        self._rows: np.ndarray | None = None  # the view: indices into the table, or None
        self._blocks: OrderedDict[tuple[int, int], list] = OrderedDict()
        self._numeric: list[bool] = []
        self._single: list[bool] = []  # float32 columns, shown at their own precision
        # Arrow builds column_names anew on every access: with thousands of columns that
        # made each header paint a list of them all.
        self._names: list[str] = []
        self._tips: list[str] = []

    @property
    def table(self) -> pa.Table | None:
        return self._table

    def set_table(self, table: pa.Table | None) -> None:
        self.beginResetModel()
        self._table = table
        self._rows = None
        self._blocks.clear()
        types = table.schema.types if table is not None else []
        self._numeric = [
            pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)
            for t in types
        ]
        self._single = [pa.types.is_float32(t) or pa.types.is_float16(t) for t in types]
        self._names = table.column_names if table is not None else []
        self._tips = [f"{name} ({t})" for name, t in zip(self._names, types, strict=True)]
        self.endResetModel()

    def set_view(self, rows: np.ndarray | None) -> None:
        """Show only ``rows`` (table row numbers, in this order); None shows every row."""
        self.beginResetModel()
        self._rows = rows
        self._blocks.clear()
        self.endResetModel()

    def view_rows(self) -> int:
        if self._table is None:
            return 0
        return len(self._rows) if self._rows is not None else self._table.num_rows

    def source_row(self, row: int) -> int:
        return int(self._rows[row]) if self._rows is not None else row

    # -- Qt model interface ------------------------------------------------------------------

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else self.view_rows()

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        if parent.isValid() or self._table is None:
            return 0
        return self._table.num_columns

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0):
        if self._table is None:
            return None
        if orientation == Qt.Orientation.Horizontal:
            if role == Qt.ItemDataRole.DisplayRole:
                return self._names[section]
            if role == Qt.ItemDataRole.ToolTipRole:
                return self._tips[section]
        elif role == Qt.ItemDataRole.DisplayRole:
            return f"{self.source_row(section) + 1:,}"
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = 0):
        if not index.isValid() or self._table is None:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            value = self.value(index.row(), index.column())
            return format_value(value, exact=True, single=self._single[index.column()])
        if role == Qt.ItemDataRole.TextAlignmentRole and self._numeric[index.column()]:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        missing = role == Qt.ItemDataRole.ForegroundRole and (
            format_value(self.value(index.row(), index.column())) == MISSING_TEXT
        )
        if missing:
            return QBrush(QColor(140, 140, 140))
        return None

    def value(self, row: int, column: int):
        block, offset = divmod(row, BLOCK_ROWS)
        key = (column, block)
        values = self._blocks.get(key)
        if values is None:
            values = self._read_block(column, block)
            self._blocks[key] = values
            if len(self._blocks) > MAX_CACHED_BLOCKS:
                self._blocks.popitem(last=False)
        else:
            self._blocks.move_to_end(key)
        return values[offset]

    def _read_block(self, column: int, block: int) -> list:
        start = block * BLOCK_ROWS
        array = self._table.column(column)
        if self._rows is None:
            return array.slice(start, BLOCK_ROWS).to_pylist()
        rows = self._rows[start : start + BLOCK_ROWS]
        return array.take(pa.array(rows)).to_pylist()
