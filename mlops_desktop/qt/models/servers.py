"""A table model over the model servers a window started, repainted as their lines arrive."""

from __future__ import annotations

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor

from mlops_desktop.services.servers import CRASHED, SERVING, STARTING, STOPPING, ServerProcess

HEADERS = ("Model", "State", "URL", "Engine", "Requests", "Errors", "Prediction log")
_COLOURS = {
    SERVING: QColor(25, 135, 84),
    CRASHED: QColor(220, 53, 69),
    STARTING: QColor(13, 110, 253),
    STOPPING: QColor(120, 120, 120),
}
_SHOWN_STATE = {STARTING: "starting…", STOPPING: "stopping…"}


def _model_text(server: ServerProcess) -> str:
    served = server.serving_label
    return server.model if served == server.model else f"{server.model} → {served}"


class ServerTableModel(QAbstractTableModel):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.servers: list[ServerProcess] = []
        self._shown: list[tuple] = []

    def set_servers(self, servers: list[ServerProcess]) -> None:
        """Show ``servers``; rows whose figures did not change are not repainted."""
        rows = [self._row(server) for server in servers]
        if [id(s) for s in servers] != [id(s) for s in self.servers]:
            self.beginResetModel()
            self.servers, self._shown = list(servers), rows
            self.endResetModel()
            return
        for number, (old, new) in enumerate(zip(self._shown, rows, strict=True)):
            if old != new:
                self._shown[number] = new
                self.dataChanged.emit(self.index(number, 0), self.index(number, len(HEADERS) - 1))

    @staticmethod
    def _row(server: ServerProcess) -> tuple:
        return (
            _model_text(server),
            _SHOWN_STATE.get(server.state, server.state),
            server.url or f"{server.host}:{server.port} (not serving)",
            server.engine or "",
            f"{server.total_requests:,}",
            f"{server.total_errors:,}",
            "on" if server.log_predictions else "off",
        )

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.servers)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(HEADERS)

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        server = self.servers[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._shown[index.row()][column]
        if role == Qt.ItemDataRole.ForegroundRole and column == 1:
            return _COLOURS.get(server.state)
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (4, 5):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole:
            if column == 3 and server.reason:
                return server.reason
            if column == 1 and server.error:
                return server.error
        return None

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return HEADERS[section]
        return None
