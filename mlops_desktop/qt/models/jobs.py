"""A table model over the training queue's jobs, with drag-and-drop to reorder queued ones."""

from __future__ import annotations

from datetime import UTC, datetime

from PySide6.QtCore import (
    QAbstractTableModel,
    QMimeData,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QBrush, QColor

from mlops_desktop.domain.job import QUEUED, RUNNING, Job, duration_text

HEADERS = ("#", "Experiment", "Status", "Progress", "Elapsed", "Left", "Priority", "Result")
PROGRESS_COLUMN = 3
MIME = "application/x-mlops-desktop-job"
_COLOURS = {
    "running": QColor(13, 110, 253),
    "done": QColor(25, 135, 84),
    "failed": QColor(220, 53, 69),
    "cancelled": QColor(120, 120, 120),
}


def _runs(rows: list[int]) -> list[tuple[int, int]]:
    """Sorted row numbers as (first, last) runs of consecutive rows."""
    runs: list[tuple[int, int]] = []
    for row in rows:
        if runs and runs[-1][1] == row - 1:
            runs[-1] = (runs[-1][0], row)
        else:
            runs.append((row, row))
    return runs


class JobTableModel(QAbstractTableModel):
    moved = Signal(int, int)  # job number, the row it was dropped on

    def __init__(self, parent=None):
        super().__init__(parent)
        self.jobs: list[Job] = []
        self.now = datetime.now(UTC)

    def set_jobs(self, jobs: list[Job]) -> None:
        self.now = datetime.now(UTC)
        if [j.uuid for j in jobs] == [j.uuid for j in self.jobs]:
            # Same rows: repaint in place, keeping the selection, and only the rows that
            # changed (a running job's times change with the clock). A long history of
            # finished jobs then costs nothing to show again every second.
            changed = [
                row
                for row, (old, new) in enumerate(zip(self.jobs, jobs, strict=True))
                if new.status == RUNNING or new != old
            ]
            self.jobs = jobs
            for first, last in _runs(changed):
                self.dataChanged.emit(self.index(first, 0), self.index(last, len(HEADERS) - 1))
            return
        self.beginResetModel()
        self.jobs = jobs
        self.endResetModel()

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.jobs)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0):
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return HEADERS[section]
        return None

    def text(self, job: Job, column: int) -> str:
        if column == 0:
            return str(job.number)
        if column == 1:
            return job.experiment_name
        if column == 2:
            return job.status + (" (cancelling)" if job.cancel_requested else "")
        if column == 3:
            return job.progress_message if job.status == "running" else ""
        if column == 4:
            return duration_text(job.elapsed(self.now))
        if column == 5:
            return duration_text(job.remaining(self.now))
        if column == 6:
            return str(job.priority)
        return job.model_label or job.error or ""

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = 0):
        if not index.isValid():
            return None
        job = self.jobs[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return self.text(job, index.column())
        if role == Qt.ItemDataRole.UserRole:  # the progress bar's fraction
            return job.progress if job.status == "running" else None
        if role == Qt.ItemDataRole.ForegroundRole and index.column() == 2:
            colour = _COLOURS.get(job.status)
            return QBrush(colour) if colour else None
        if role == Qt.ItemDataRole.ToolTipRole and index.column() == 7 and job.error:
            return job.error
        return None

    # -- drag and drop: queued jobs only ------------------------------------------------------

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        flags = super().flags(index) | Qt.ItemFlag.ItemIsDropEnabled
        if index.isValid() and self.jobs[index.row()].status == QUEUED:
            flags |= Qt.ItemFlag.ItemIsDragEnabled
        return flags

    def supportedDropActions(self) -> Qt.DropAction:
        return Qt.DropAction.MoveAction

    def mimeTypes(self) -> list[str]:
        return [MIME]

    def mimeData(self, indexes) -> QMimeData:
        mime = QMimeData()
        if indexes:
            mime.setData(MIME, str(self.jobs[indexes[0].row()].number).encode())
        return mime

    def dropMimeData(self, data: QMimeData, action, row: int, column: int, parent) -> bool:
        if not data.hasFormat(MIME):
            return False
        target = row if row >= 0 else (parent.row() if parent.isValid() else len(self.jobs))
        self.moved.emit(int(bytes(data.data(MIME)).decode()), target)
        return False  # the queue reorders in the project; the next poll shows it
