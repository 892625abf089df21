"""Evaluating a version on another dataset version, through its own recipe if need be."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from mlops_desktop.domain.errors import UserError
from mlops_desktop.qt.context import ProjectContext
from mlops_desktop.qt.widgets.task_area import show_fraction
from mlops_desktop.services.evaluation import evaluate_task, recipe_for

_RECIPES = (
    ("auto", "Automatic: imported data goes through the training data's recipe"),
    ("own", "Always apply the training data's recipe"),
    ("none", "Use the data as it is"),
)


class EvaluateDialog(QDialog):
    def __init__(self, context: ProjectContext, label: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.context = context
        project = context.project
        self.version = project.models.get(label)
        self._running = None
        self.setWindowTitle(f"Evaluate {label}")
        self.resize(620, 260)
        self.dataset = QComboBox()
        self.dataset.setObjectName("evaluate-dataset")
        others = [d for d in project.datasets.list() if d.uuid != self.version.dataset_version_uuid]
        # Next month's data is most often a newer version of the training data's dataset.
        own = (self.version.dataset_label or "").rpartition(":")[0]
        self.datasets = sorted(others, key=lambda d: (d.name != own, d.name, -d.version))
        for data in self.datasets:
            self.dataset.addItem(f"{data.label}  ({data.rows:,} rows)", data.label)
        self.dataset.currentIndexChanged.connect(self._explain)
        self.recipe = QComboBox()
        for key, text in _RECIPES:
            self.recipe.addItem(text, key)
        self.recipe.currentIndexChanged.connect(self._explain)
        self.explanation = QLabel()
        self.explanation.setWordWrap(True)
        self.explanation.setObjectName("hint")
        self.progress = QProgressBar()
        self.progress.setVisible(False)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.run_button = QPushButton("Evaluate")
        self.run_button.setObjectName("run-evaluation")
        self.run_button.setDefault(True)
        self.run_button.clicked.connect(self.run)
        form = QFormLayout()
        form.addRow("Data", self.dataset)
        form.addRow("Recipe", self.recipe)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.buttons.addButton(self.run_button, QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.rejected.connect(self._cancel)
        layout = QVBoxLayout(self)
        layout.addWidget(
            QLabel(f"Measure {label} ({self.version.estimator}) on another dataset version.")
        )
        layout.addLayout(form)
        layout.addWidget(self.explanation)
        layout.addWidget(self.progress)
        layout.addWidget(self.message)
        layout.addStretch(1)
        layout.addWidget(self.buttons)
        if not self.datasets:
            self.explanation.setText(
                "The project has no other dataset version: import next month's data first."
            )
            self.run_button.setEnabled(False)
        else:
            self._explain()

    def _explain(self, *_args) -> None:
        data = self.datasets[self.dataset.currentIndex()]
        try:
            _steps, why = recipe_for(
                self.context.project, self.version, data, self.recipe.currentData()
            )
        except UserError as exc:
            self.explanation.setText(exc.message)
            self.run_button.setEnabled(False)
            return
        self.run_button.setEnabled(True)
        self.explanation.setText(f"Recipe: {why}.")

    def run(self) -> None:
        data = self.datasets[self.dataset.currentIndex()]
        self.run_button.setEnabled(False)
        self.message.clear()
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.progress.setVisible(True)
        handle = self.context.runner.start(
            f"Evaluating {self.version.label} on {data.label}",
            evaluate_task,
            str(self.context.project.path),
            self.version.label,
            data.label,
            self.recipe.currentData(),
            in_process=True,
            owner=self,
        )
        self._running = handle
        handle.progress.connect(self._progress)
        handle.succeeded.connect(self._done)
        handle.failed.connect(self._failed)
        handle.cancelled.connect(self.reject)

    def _progress(self, fraction, message: str) -> None:
        show_fraction(self.progress, fraction)
        self.message.setText(message)

    def _failed(self, message: str) -> None:
        self.progress.setVisible(False)
        self.message.setText(message)
        self.run_button.setEnabled(True)

    def _done(self, evaluation) -> None:
        shown = ", ".join(f"{k} {v:.4g}" for k, v in evaluation.metrics.items() if v is not None)
        self.context.notifications.show_info(
            f"Evaluated {self.version.label} on {evaluation.dataset_label} "
            f"({evaluation.rows:,} rows): {shown}."
        )
        self.context.mark_changed()
        self.accept()

    def _cancel(self) -> None:
        if self._running is not None and self._running.running:
            self._running.cancel()  # the dialog closes once the task has stopped
            return
        self.reject()
