"""Exporting a version: an MLflow model, a script and notebook that rebuild it, or a card."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from mlops_desktop.domain.filenames import file_stem
from mlops_desktop.qt.context import ProjectContext
from mlops_desktop.services.exports import FORMATS, export_task


class ExportDialog(QDialog):
    def __init__(self, context: ProjectContext, label: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.context = context
        self.label = label
        self._running = None
        self.setWindowTitle(f"Export {label}")
        self.resize(640, 320)
        self.group = QButtonGroup(self)
        choices = QVBoxLayout()
        for i, (key, (title, description, _suffix)) in enumerate(FORMATS.items()):
            button = QRadioButton(f"{title}: {description}")
            button.setObjectName(f"export-{key}")
            button.setProperty("format", key)
            self.group.addButton(button, i)
            choices.addWidget(button)
        self.group.button(0).setChecked(True)
        self.group.idToggled.connect(lambda _i, on: on and self._format_changed())
        self.serialization = QComboBox()
        self.serialization.addItem("skops (safe to load; MLflow 3.9 or later)", "skops")
        self.serialization.addItem(
            "cloudpickle (MLflow 2.10 or later; runs code when loaded)", "cloudpickle"
        )
        self.out = QLineEdit()
        self.out.setObjectName("export-path")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        where = QHBoxLayout()
        where.addWidget(self.out, 1)
        where.addWidget(browse)
        self.progress = QProgressBar()
        self.progress.setVisible(False)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.run_button = QPushButton("Export")
        self.run_button.setDefault(True)
        self.run_button.clicked.connect(self.run)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        buttons.addButton(self.run_button, QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.rejected.connect(self._cancel)
        self.serialization_row = QWidget()
        row = QHBoxLayout(self.serialization_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(QLabel("Model file"))
        row.addWidget(self.serialization, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(choices)
        layout.addWidget(self.serialization_row)
        layout.addWidget(QLabel("Write to"))
        layout.addLayout(where)
        layout.addWidget(self.progress)
        layout.addWidget(self.message)
        layout.addStretch(1)
        layout.addWidget(buttons)
        self._format_changed()

    def fmt(self) -> str:
        return self.group.checkedButton().property("format")

    def _suggestion(self) -> Path:
        _title, _description, suffix = FORMATS[self.fmt()]
        return Path.home() / f"{file_stem(self.label)}{suffix}"

    def _format_changed(self) -> None:
        self.serialization_row.setVisible(self.fmt() == "mlflow")
        current = Path(self.out.text()) if self.out.text() else None
        if current is None or current.parent == Path.home():
            self.out.setText(str(self._suggestion()))

    def _browse(self) -> None:
        suggestion = self.out.text() or str(self._suggestion())
        if FORMATS[self.fmt()][2]:
            path, _ = QFileDialog.getSaveFileName(self, "Export to", suggestion)
        else:
            path = QFileDialog.getExistingDirectory(self, "Export into an empty folder", suggestion)
        if path:
            self.out.setText(path)

    def run(self) -> None:
        out = self.out.text().strip()
        if not out:
            self.message.setText("Choose where to write the export.")
            return
        self.run_button.setEnabled(False)
        self.progress.setRange(0, 0)
        self.progress.setVisible(True)
        handle = self.context.runner.start(
            f"Exporting {self.label}",
            export_task,
            str(self.context.project.path),
            self.label,
            self.fmt(),
            out,
            self.serialization.currentData(),
            in_process=True,
            owner=self,
        )
        self._running = handle
        handle.progress.connect(lambda _f, message: self.message.setText(message))
        handle.succeeded.connect(self._done)
        handle.failed.connect(self._failed)
        handle.cancelled.connect(self.reject)

    def _failed(self, message: str) -> None:
        self.progress.setVisible(False)
        self.message.setText(message)
        self.run_button.setEnabled(True)

    def _done(self, paths) -> None:
        self.context.notifications.show_info(
            f"Exported {self.label} to {', '.join(str(p) for p in paths)}."
        )
        self.accept()

    def _cancel(self) -> None:
        if self._running is not None and self._running.running:
            self._running.cancel()
            return
        self.reject()
