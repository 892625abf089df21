"""A table model over the project's history (a list of ``Event`` values)."""

from __future__ import annotations

from datetime import datetime

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

from mlops_desktop.domain.project import Event

_HEADERS = ("When", "Who", "What")


def local_time(iso: str) -> str:
    """An ISO-8601 UTC stamp as local time to the minute, for people."""
    return datetime.fromisoformat(iso).astimezone().strftime("%Y-%m-%d %H:%M")


class EventTableModel(QAbstractTableModel):
    def __init__(self, parent=None):
        super().__init__(parent)
        self._events: list[Event] = []

    def set_events(self, events: list[Event]) -> None:
        self.beginResetModel()
        self._events = list(events)
        self.endResetModel()

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._events)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(_HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0):
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return _HEADERS[section]
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = 0):
        if not index.isValid():
            return None
        event = self._events[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return (local_time(event.at), event.actor, event.summary)[index.column()]
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{event.at} · {event.action}"
        return None
