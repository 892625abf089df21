"""Live performance: a served version's logged predictions scored against true values."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from mlops_desktop.domain import glossary
from mlops_desktop.domain.metric_names import higher_is_better
from mlops_desktop.domain.monitoring import LivePerformance
from mlops_desktop.qt.context import ProjectContext
from mlops_desktop.qt.widgets.tables import BAD, GOOD, fill_table, text_table
from mlops_desktop.qt.widgets.task_area import follow
from mlops_desktop.services.monitoring import performance_task

#: A live metric this much worse than in training (relative to it) is coloured as a drop.
DROP = 0.05
HEADERS = ("metric", "live", "training", "change")
EXPLAINED = (
    "True values usually arrive later than the predictions: a CSV file or a dataset version "
    "with a <b>request_id</b> column (the X-Request-Id header of each answer), optionally "
    "<b>row</b> (the row's place in its request, 0 if absent), and the target under its "
    "training name or as <b>label</b>."
)


def metric_rows(performance: LivePerformance) -> tuple[list[list[str]], list[list]]:
    """One row per live metric: live, training, the change, coloured where live is clearly
    worse (or better) than training."""
    rows, colours = [], []
    for name, live in performance.live.items():
        trained = performance.training.get(name)
        cells: list = [None] * len(HEADERS)
        change = "–"
        if trained is not None:
            change = f"{live - trained:+.3g}"
            gain = (live - trained) if higher_is_better(name) else (trained - live)
            if abs(gain) > DROP * max(abs(trained), 1e-12):
                cells[1] = cells[3] = GOOD if gain > 0 else BAD
        rows.append([name, f"{live:.4g}", "–" if trained is None else f"{trained:.4g}", change])
        colours.append(cells)
    return rows, colours


class PerformanceDialog(QDialog):
    """Choose where the true values are, measure in the background, show live vs training."""

    def __init__(
        self,
        context: ProjectContext,
        ref: str,
        since: float | None,
        window: str,
        datasets: list[tuple[str, str]],
        parent: QWidget | None = None,
    ):
        super().__init__(parent)
        self.context = context
        self.ref = ref
        self.since = since
        self.performance: LivePerformance | None = None
        self.running = None
        self.setWindowTitle(f"Live performance of {ref}")
        self.resize(640, 460)

        intro = QLabel(f"<b>{ref}</b>, served traffic ({window}). {EXPLAINED}")
        intro.setWordWrap(True)
        intro.setTextFormat(Qt.TextFormat.RichText)
        self.labels_choice = QComboBox()
        self.labels_choice.setObjectName("performance-labels")
        self.labels_choice.setMinimumContentsLength(24)
        self.labels_choice.addItem("Choose the true values…", None)
        for label, text in datasets:
            self.labels_choice.addItem(f"dataset {text}", label)
        self.labels_choice.currentIndexChanged.connect(lambda _index: self._update())
        self.file_button = QPushButton("CSV file…")
        self.file_button.setToolTip("Read the true values from a CSV file")
        self.file_button.clicked.connect(self.choose_file)
        self.measure_button = QPushButton("Measure")
        self.measure_button.setObjectName("performance-measure")
        self.measure_button.setDefault(True)
        self.measure_button.clicked.connect(self.measure)
        self.progress = QProgressBar()
        self.progress.setVisible(False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setVisible(False)
        self.cancel_button.clicked.connect(self.cancel)
        choose = QHBoxLayout()
        choose.addWidget(QLabel("True values from"))
        choose.addWidget(self.labels_choice, 1)
        choose.addWidget(self.file_button)
        choose.addWidget(self.measure_button)

        self.summary = QLabel()
        self.summary.setObjectName("performance-summary")
        self.summary.setWordWrap(True)
        self.table = text_table(HEADERS, "performance-table")
        self.table.horizontalHeaderItem(3).setToolTip(
            f"Live minus training; coloured when live is more than {DROP:.0%} worse (red) or "
            "better (green) than on the training hold-out rows"
        )
        self.table.horizontalHeader().setStretchLastSection(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(choose)
        progress = QHBoxLayout()
        progress.addWidget(self.progress, 1)
        progress.addWidget(self.cancel_button)
        layout.addLayout(progress)
        layout.addWidget(self.summary)
        layout.addWidget(self.table, 1)
        layout.addWidget(buttons)
        self._update()

    def choose_file(self) -> None:
        path, _filter = QFileDialog.getOpenFileName(
            self, "True values", "", "CSV files (*.csv *.txt);;All files (*)"
        )
        if path:
            self.use_file(path)

    def use_file(self, path: str) -> None:
        index = self.labels_choice.findData(path)
        if index < 0:
            self.labels_choice.insertItem(1, f"file {Path(path).name}", path)
            index = 1
        self.labels_choice.setCurrentIndex(index)

    def _update(self) -> None:
        idle = self.running is None or not self.running.running
        self.measure_button.setEnabled(idle and self.labels_choice.currentData() is not None)
        if self.performance is None and idle and not self.summary.text():
            self.summary.setText("Choose where the true values are, then press Measure.")

    def measure(self) -> None:
        labels = self.labels_choice.currentData()
        if labels is None or (self.running is not None and self.running.running):
            return
        handle = self.context.runner.start(
            f"Scoring {self.ref}'s predictions",
            performance_task,
            str(self.context.project.path),
            self.ref,
            labels,
            self.since,
            in_process=True,
            owner=self,
        )
        self.running = handle
        follow(handle, self.progress, self.cancel_button)
        self.summary.setText("Measuring…")
        handle.succeeded.connect(self.show_performance)
        handle.failed.connect(self._failed)
        handle.cancelled.connect(lambda: self.summary.setText("Cancelled."))
        handle.finished.connect(self._finished)
        self._update()

    def cancel(self) -> None:
        if self.running is not None and self.running.running:
            self.running.cancel()

    def _finished(self) -> None:
        self._update()

    def _failed(self, message: str) -> None:
        self.performance = None
        self.table.setRowCount(0)
        self.summary.setText(message)

    def show_performance(self, performance: LivePerformance) -> None:
        self.performance = performance
        unmatched = ""
        if performance.unmatched:
            count = performance.unmatched
            unmatched = (
                f"; {count:,} {'label' if count == 1 else 'labels'} matched no logged "
                "prediction in the window and were left out"
            )
        rows = performance.labelled
        have = "row has" if rows == 1 else "rows have"
        self.summary.setText(
            f"{rows:,} logged {have} a true value{unmatched}. Training figures are from the "
            "version's hold-out rows."
        )
        rows, colours = metric_rows(performance)
        fill_table(self.table, rows, colours, explain=glossary.metric)
