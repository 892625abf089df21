"""What every panel gets: the open project, the task runner, notifications and change news."""

from __future__ import annotations

import logging
import sqlite3

from PySide6.QtCore import QObject, QTimer, Signal

from mlops_desktop.domain.errors import UserError
from mlops_desktop.qt.widgets.notifications import NotificationArea
from mlops_desktop.qt.workers.tasks import TaskRunner
from mlops_desktop.services.project import Project
from mlops_desktop.store.openers import REFRESH_SECONDS

log = logging.getLogger(__name__)

#: How often to ask SQLite whether another connection (a worker, a server, another window)
#: committed a change; cheap, and within the "appears in a few seconds" promise.
POLL_MS = 2000


class ProjectContext(QObject):
    changed = Signal()
    closing = Signal()  # the project is about to close: stop what runs on it
    reveal = Signal(str, str)  # kind, key: show that object in its panel (the window routes it)

    def __init__(
        self,
        project: Project,
        runner: TaskRunner,
        notifications: NotificationArea,
        parent: QObject | None = None,
    ):
        super().__init__(parent)
        self.project = project
        self.runner = runner
        self.notifications = notifications
        self._data_version = project.file.data_version()
        self._history_mark = project.file.history_mark()
        #: Who else has the project open, as it was opened (the window tells the user).
        self.others_at_open = []
        self._opener: str | None = None
        if not project.read_only:
            try:
                self.others_at_open = project.file.openers.others(None)
                self._opener = project.file.openers.join()
            except UserError:  # a file that cannot be written: nobody to tell, nothing to do
                log.warning("could not record this window as an opener of %s", project.path)
        self._polls = 0
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self._poll)
        self._timer.start()

    def mark_changed(self) -> None:
        """Call after this window wrote to the project (its own writes are not polled)."""
        try:
            self._history_mark = self.project.file.history_mark()
        except sqlite3.Error:
            log.exception("could not read the history of %s", self.project.path)
        self.changed.emit()

    def close(self) -> None:
        self._timer.stop()
        self.closing.emit()
        if self._opener is not None:
            try:
                self.project.file.openers.leave(self._opener)
            except (UserError, sqlite3.Error):  # it turns stale and is removed by the next one
                log.exception("could not remove this window's opener row")
        self.project.close()

    def _poll(self) -> None:
        self._polls += 1
        if self._opener is not None and self._polls % (REFRESH_SECONDS * 1000 // POLL_MS) == 0:
            try:
                self.project.file.openers.refresh(self._opener)
            except (UserError, sqlite3.Error):
                log.exception("could not refresh this window's opener row")
        try:
            version = self.project.file.data_version()
            if version == self._data_version:
                return
            self._data_version = version
            # Another connection committed; a running server commits its prediction log
            # every second, which no panel shows: only a change in the history counts.
            mark = self.project.file.history_mark()
        except sqlite3.Error:
            log.exception("could not poll %s for changes", self.project.path)
            return
        if mark != self._history_mark:
            self._history_mark = mark
            self.changed.emit()
