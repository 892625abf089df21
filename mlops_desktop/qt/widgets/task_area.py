"""The status bar's background-task area: one row per running task, with progress and Cancel."""

from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

from mlops_desktop.qt.workers.tasks import TaskHandle, TaskRunner


def show_fraction(bar: QProgressBar, fraction: float | None) -> None:
    """Show a task's progress on ``bar``: a share done, or busy when it is not known."""
    if fraction is None:
        bar.setRange(0, 0)
    else:
        bar.setRange(0, 1000)
        bar.setValue(round(fraction * 1000))


def follow(handle: TaskHandle, bar: QProgressBar, cancel: QPushButton | None = None) -> None:
    """Show ``handle``'s progress on ``bar`` (and ``cancel`` beside it) while it runs; both
    hide when it ends."""
    shown = [w for w in (bar, cancel) if w is not None]
    bar.setRange(0, 0)
    for widget in shown:
        widget.setVisible(True)

    def hide() -> None:
        for widget in shown:
            widget.setVisible(False)

    handle.progress.connect(lambda fraction, _message: show_fraction(bar, fraction))
    handle.finished.connect(hide)


class TaskRow(QWidget):
    def __init__(self, handle: TaskHandle, parent: QWidget | None = None):
        super().__init__(parent)
        self.handle = handle
        self.label = QLabel(handle.title)
        self.bar = QProgressBar()
        self.bar.setFixedWidth(160)
        self.bar.setRange(0, 0)  # busy until the first report says how far
        self.bar.setTextVisible(False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip(f"Stop “{handle.title}”; nothing it started is kept")
        self.cancel_button.clicked.connect(self._cancel)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label)
        layout.addWidget(self.bar)
        layout.addWidget(self.cancel_button)
        handle.progress.connect(self._on_progress)

    def _on_progress(self, fraction: float | None, message: str) -> None:
        if not self.cancel_button.isEnabled():
            return  # it says it is stopping until it has
        text = f"{self.handle.title}: {message}" if message else self.handle.title
        self._set_label(text)
        show_fraction(self.bar, fraction)
        if fraction is not None:
            self.bar.setToolTip(f"{fraction:.0%}")

    def _cancel(self) -> None:
        self.cancel_button.setEnabled(False)
        # Said in the label, so the button keeps its width and the label its room.
        self._set_label(f"{self.handle.title}: cancelling…")
        self.handle.cancel()

    def _set_label(self, text: str) -> None:
        self.label.setText(text)
        self.label.setToolTip(text)  # the status bar may be too narrow for all of it


class TaskArea(QWidget):
    """Shows every task the runner starts until it finishes."""

    def __init__(self, runner: TaskRunner, parent: QWidget | None = None):
        super().__init__(parent)
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self.rows: list[TaskRow] = []
        runner.task_started.connect(self.add)

    def add(self, handle: TaskHandle) -> TaskRow:
        row = TaskRow(handle, self)
        self.rows.append(row)
        self._layout.addWidget(row)
        handle.finished.connect(lambda: self._remove(row))
        return row

    def _remove(self, row: TaskRow) -> None:
        if row in self.rows:
            self.rows.remove(row)
            self._layout.removeWidget(row)
            row.deleteLater()
