"""The Training queue panel: the jobs, live, and the worker processes that run them."""

from __future__ import annotations

import logging
from concurrent.futures import Future, ThreadPoolExecutor

import shiboken6
from PySide6.QtCore import QRect, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionProgressBar,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from mlops_desktop.domain.errors import UserError
from mlops_desktop.domain.job import FINISHED, QUEUED, RUNNING, Job
from mlops_desktop.qt.context import ProjectContext
from mlops_desktop.qt.models.jobs import PROGRESS_COLUMN, JobTableModel
from mlops_desktop.qt.panels.base import Panel
from mlops_desktop.qt.settings import AppSettings
from mlops_desktop.services.queue import enqueue_task
from mlops_desktop.services.supervisor import WorkerPool, default_size

log = logging.getLogger(__name__)

#: How often the queue is read and the workers looked after.
POLL_MS = 1000


class _ProgressDelegate(QStyledItemDelegate):
    """Draws a running job's progress as a bar with its message."""

    def paint(self, painter, option, index) -> None:
        fraction = index.data(Qt.ItemDataRole.UserRole)
        if fraction is None:
            super().paint(painter, option, index)
            return
        bar = QStyleOptionProgressBar()
        bar.rect = QRect(option.rect.adjusted(2, 3, -2, -3))
        bar.minimum, bar.maximum = 0, 1000
        bar.progress = round(fraction * 1000)
        bar.text = index.data(Qt.ItemDataRole.DisplayRole) or f"{fraction:.0%}"
        bar.textVisible = True
        QApplication.style().drawControl(QStyle.ControlElement.CE_ProgressBar, bar, painter)


class LogDialog(QDialog):
    """A job's log, refreshed while it runs."""

    def __init__(self, context: ProjectContext, number: int, parent: QWidget | None = None):
        super().__init__(parent)
        self.context, self.number = context, number
        self.setWindowTitle(f"Job #{number}")
        self.resize(780, 520)
        self.text = QPlainTextEdit()
        self.text.setReadOnly(True)
        self.text.setObjectName("job-log")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text)
        layout.addWidget(buttons)
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self.refresh)
        self._timer.start()
        self.refresh()

    def refresh(self) -> None:
        job = self.context.project.queue.job(self.number)
        text = job.log + (f"\nError: {job.error}\n" if job.error and job.status == "failed" else "")
        if text != self.text.toPlainText():
            self.text.setPlainText(text)
            self.text.verticalScrollBar().setValue(self.text.verticalScrollBar().maximum())
        if job.status in FINISHED:
            self._timer.stop()


class QueuePanel(Panel):
    title = "Training queue"
    #: From the poll thread: the refresh count it read the queue for, and (jobs, paused).
    _polled = Signal(int, object)

    def __init__(self, context: ProjectContext, parent: QWidget | None = None):
        super().__init__(context, parent)
        self._settings = AppSettings()
        size = self._settings.worker_count(default_size())
        self.pool = WorkerPool(str(context.project.path), size=size)
        self._ticker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="queue")
        self._closed = False
        self._wanted: int | None = None  # a job to select once the queue is read
        self._tick: Future | None = None
        self._refreshes = 0  # a poll read before the latest refresh is out of date
        self._polled.connect(self._show_polled, Qt.ConnectionType.QueuedConnection)

        self.queue_button = QToolButton()
        self.queue_button.setText("Queue experiment")
        self.queue_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.queue_menu = QMenu(self.queue_button)
        self.queue_menu.aboutToShow.connect(self._fill_queue_menu)
        self.queue_button.setMenu(self.queue_menu)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        self.rerun_button = QPushButton("Run again")
        self.rerun_button.clicked.connect(self.rerun)
        self.up_button = QPushButton("Move up")
        self.up_button.clicked.connect(lambda: self.move(-1))
        self.down_button = QPushButton("Move down")
        self.down_button.clicked.connect(lambda: self.move(1))
        self.priority = QSpinBox()
        self.priority.setRange(-100, 100)
        self.priority.setToolTip("Higher priority runs sooner")
        self.priority.valueChanged.connect(self._priority_changed)
        self.log_button = QPushButton("Show log")
        self.log_button.clicked.connect(self.show_log)
        self.pause_button = QPushButton()
        self.pause_button.setCheckable(True)
        self.pause_button.toggled.connect(self._pause_toggled)
        self.workers = QSpinBox()
        self.workers.setRange(1, 64)
        self.workers.setValue(size)
        self.workers.setToolTip("How many jobs run at once, each in its own process")
        self.workers.valueChanged.connect(self._workers_changed)
        self.summary = QLabel()
        self.summary.setObjectName("hint")

        self.model = JobTableModel(self)
        self.model.moved.connect(self._dropped)
        self.table = QTableView()
        self.table.setObjectName("job-table")
        self.table.setModel(self.model)
        self.table.setItemDelegateForColumn(PROGRESS_COLUMN, _ProgressDelegate(self.table))
        self.table.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QTableView.SelectionMode.SingleSelection)
        self.table.setDragDropMode(QAbstractItemView.DragDropMode.DragDrop)
        self.table.setDragEnabled(True)
        self.table.setAcceptDrops(True)
        self.table.setDropIndicatorShown(True)
        self.table.setDefaultDropAction(Qt.DropAction.MoveAction)
        self.table.verticalHeader().setVisible(False)
        self.table.doubleClicked.connect(lambda _index: self.show_log())
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        for column, width in enumerate((50, 170, 110, 240, 90, 90, 70)):
            header.resizeSection(column, width)
        header.setStretchLastSection(True)
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._update_buttons())

        tools = QHBoxLayout()
        for widget in (
            self.queue_button,
            self.cancel_button,
            self.rerun_button,
            self.up_button,
            self.down_button,
            QLabel("Priority"),
            self.priority,
            self.log_button,
        ):
            tools.addWidget(widget)
        tools.addStretch(1)
        tools.addWidget(QLabel("Workers"))
        tools.addWidget(self.workers)
        tools.addWidget(self.pause_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addLayout(tools)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.summary)

        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self.poll)
        self._timer.start()
        context.closing.connect(self.shut_down)
        QTimer.singleShot(0, self.poll)  # after the panel is on screen, not while it is built

    # -- the live view ---------------------------------------------------------------------------

    def poll(self) -> None:
        """Look after the workers and read the queue on a thread of its own (starting a
        worker, waiting for a worker's commit or reading a long history must not hold up the
        window); the queue shows when it has been read."""
        if self._closed:  # a poll queued before the project closed
            return
        if self._tick is not None and self._tick.done():
            error = self._tick.exception()
            self._tick = None
            if error is not None:
                self.context.notifications.show_error(
                    error.message
                    if isinstance(error, UserError)
                    else "Looking after the training workers failed "
                    f"({type(error).__name__}: {error})."
                )
        while self.pool.messages:
            self.context.notifications.show_error(self.pool.messages.pop(0))
        if self._tick is None:
            self._tick = self._ticker.submit(
                self._look_after, not self.context.project.read_only, self._refreshes
            )

    def _look_after(self, writable: bool, refreshes: int) -> None:
        """On the poll thread: tick the pool, then read the queue with a connection of its
        own and hand it to the GUI thread (which reads it itself if that fails)."""
        from mlops_desktop.services.project import Project

        failure = None
        if writable:
            try:
                self.pool.tick()
            except Exception as exc:  # shown by the next poll; the queue is still read
                failure = exc
        try:
            with Project.open(self.pool.project_path, read_only=True) as project:
                snapshot = (project.queue.jobs(), project.queue.paused())
        except Exception:
            log.debug("could not read the queue of %s here", self.pool.project_path, exc_info=True)
            snapshot = None
        if shiboken6.isValid(self):
            self._polled.emit(refreshes, snapshot)
        if failure is not None:
            raise failure

    def _show_polled(self, refreshes: int, snapshot) -> None:
        if refreshes != self._refreshes:
            return  # an action has shown a newer queue since
        if snapshot is None:
            self.refresh()
        else:
            self._show(*snapshot)

    def refresh(self) -> None:
        """Read the queue and show it now (after this window changed it)."""
        self._refreshes += 1
        queue = self.context.project.queue
        self._show(queue.jobs(), queue.paused())

    def _show(self, jobs: list[Job], paused: bool) -> None:
        selected = self.selected()
        self.model.set_jobs(jobs)
        if self._wanted is not None:
            self.select(self._wanted)
        elif selected is not None:
            self.select(selected.number)
        self.pause_button.blockSignals(True)
        self.pause_button.setChecked(paused)
        self.pause_button.setText("Resume queue" if paused else "Pause queue")
        self.pause_button.blockSignals(False)
        counts = {
            status: sum(1 for j in jobs if j.status == status)
            for status in ("queued", "running", "done", "failed", "cancelled")
        }
        parts = [f"{n} {status}" for status, n in counts.items() if n]
        state = "paused" if paused else f"{len(self.pool.workers)} worker(s) running"
        self.summary.setText(f"{', '.join(parts) or 'No jobs yet'} · queue {state}.")
        self._update_buttons()

    def selected(self) -> Job | None:
        rows = self.table.selectionModel().selectedRows()
        return self.model.jobs[rows[0].row()] if rows else None

    def reveal(self, key: str) -> None:
        self.select(int(key))

    def selection(self) -> str | None:
        job = self.selected()
        return str(job.number) if job is not None else None

    def select(self, number: int) -> None:
        """Select job ``number`` (once the queue has been read: at first it has not)."""
        for row, job in enumerate(self.model.jobs):
            if job.number == number:
                self._wanted = None
                self.table.selectRow(row)
                return
        self._wanted = number

    def _update_buttons(self) -> None:
        job = self.selected()
        writable = not self.context.project.read_only
        self.queue_button.setEnabled(writable)
        self.cancel_button.setEnabled(
            writable and job is not None and job.status in (QUEUED, RUNNING)
        )
        self.rerun_button.setEnabled(writable and job is not None and job.status in FINISHED)
        for button in (self.up_button, self.down_button):
            button.setEnabled(writable and job is not None and job.status == QUEUED)
        self.priority.blockSignals(True)
        self.priority.setEnabled(writable and job is not None and job.status == QUEUED)
        self.priority.setValue(job.priority if job else 0)
        self.priority.blockSignals(False)
        self.log_button.setEnabled(job is not None)
        self.pause_button.setEnabled(writable)

    # -- actions --------------------------------------------------------------------------------

    def _act(self, action) -> None:
        try:
            action()
        except UserError as exc:
            self.context.notifications.show_error(exc.message)
        self.context.mark_changed()
        self.refresh()

    def _fill_queue_menu(self) -> None:
        self.queue_menu.clear()
        names = [e.name for e in self.context.project.experiments.list()]
        for name in names:
            self.queue_menu.addAction(name, lambda n=name: self.enqueue(n))
        if not names:
            self.queue_menu.addAction("No experiments yet").setEnabled(False)

    def enqueue(self, name: str) -> None:
        handle = self.context.runner.start(
            f"Queueing {name}", enqueue_task, str(self.context.project.path), name, owner=self
        )
        handle.succeeded.connect(lambda job: self._queued(job, name))
        handle.failed.connect(self.context.notifications.show_error)

    def _queued(self, job: Job, name: str) -> None:
        self.context.mark_changed()
        self.refresh()
        self.select(job.number)
        self.context.notifications.show_info(f"Queued job #{job.number} for {name}.")

    def cancel(self) -> None:
        job = self.selected()
        if job is not None:
            self._act(lambda: self.context.project.queue.cancel(job.number))

    def rerun(self) -> None:
        job = self.selected()
        if job is not None:
            self._act(lambda: self.context.project.queue.rerun(job.number))

    def move(self, offset: int) -> None:
        job = self.selected()
        if job is not None:
            self._act(lambda: self.context.project.queue.move(job.number, offset))
            self.select(job.number)

    def _dropped(self, number: int, row: int) -> None:
        queued = [j.number for j in self.model.jobs if j.status == QUEUED]
        if number not in queued:
            return
        before = sum(1 for j in self.model.jobs[:row] if j.status == QUEUED)
        offset = before - queued.index(number) - (1 if before > queued.index(number) else 0)
        self._act(lambda: self.context.project.queue.move(number, offset))

    def _priority_changed(self, value: int) -> None:
        job = self.selected()
        if job is not None and job.status == QUEUED:
            self._act(lambda: self.context.project.queue.set_priority(job.number, value))

    def _pause_toggled(self, paused: bool) -> None:
        self._act(lambda: self.context.project.queue.set_paused(paused))

    def _workers_changed(self, size: int) -> None:
        self.pool.size = size
        self._settings.set_worker_count(size)

    def show_log(self) -> None:
        job = self.selected()
        if job is not None:
            LogDialog(self.context, job.number, self).exec()

    def shut_down(self) -> None:
        """Stop the workers; jobs they were running wait in the queue for the next open."""
        self._closed = True
        self._timer.stop()
        self._ticker.shutdown(wait=True)
        self.pool.stop()
