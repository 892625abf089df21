"""The Experiments panel: the project's experiments on the left, the editor on the right."""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QListWidget,
    QMessageBox,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from mlops_desktop.domain.errors import UserError
from mlops_desktop.domain.experiment import ExperimentSpec, spec_differences
from mlops_desktop.domain.filenames import file_stem
from mlops_desktop.qt.context import ProjectContext
from mlops_desktop.qt.panels.base import Panel
from mlops_desktop.qt.panels.experiments.editor import ExperimentEditor
from mlops_desktop.services.queue import enqueue_task


class CompareDialog(QDialog):
    """Two experiments' specs, field by field."""

    def __init__(self, context: ProjectContext, names: list[str], parent: QWidget | None = None):
        super().__init__(parent)
        self.context = context
        self.setWindowTitle("Compare experiments")
        self.resize(760, 480)
        self.a, self.b = QComboBox(), QComboBox()
        for box in (self.a, self.b):
            box.addItems(names)
            box.activated.connect(lambda _i: self.compare())
        if len(names) > 1:
            self.b.setCurrentIndex(1)
        self.table = QTableWidget(0, 3)
        self.table.setObjectName("spec-diff")
        self.table.setHorizontalHeaderLabels(["Field", "First", "Second"])
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setVisible(False)
        self.summary = QLabel()
        choose = QHBoxLayout()
        choose.addWidget(self.a, 1)
        choose.addWidget(QLabel("and"))
        choose.addWidget(self.b, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(choose)
        layout.addWidget(self.summary)
        layout.addWidget(self.table, 1)
        layout.addWidget(buttons)
        self.compare()

    def compare(self) -> None:
        repo = self.context.project.file.experiments
        a, b = repo.get(self.a.currentText()).spec, repo.get(self.b.currentText()).spec
        changes = spec_differences(a, b)
        self.summary.setText(
            f"{len(changes)} field{'s' if len(changes) != 1 else ''} differ."
            if changes
            else "The two specs are the same."
        )
        self.table.setRowCount(len(changes))
        for row, (path, left, right) in enumerate(changes):
            for column, value in enumerate((path, json.dumps(left), json.dumps(right))):
                self.table.setItem(row, column, QTableWidgetItem(value))


class ExperimentsPanel(Panel):
    title = "Experiments"

    def __init__(self, context: ProjectContext, parent: QWidget | None = None):
        super().__init__(context, parent)
        self.list = QListWidget()
        self.list.setObjectName("experiment-list")
        self.list.currentTextChanged.connect(self.open_experiment)
        self.empty = QLabel("No experiments yet.\nPress New to turn a dataset\ninto an experiment.")
        self.empty.setObjectName("hint")
        buttons = {}
        for key, text in (
            ("new", "New"),
            ("duplicate", "Duplicate"),
            ("delete", "Delete"),
            ("compare", "Compare…"),
            ("queue", "Queue for training"),
            ("import", "Open spec…"),
            ("export", "Save spec…"),
        ):
            buttons[key] = QPushButton(text)
        self.buttons = buttons
        buttons["new"].clicked.connect(self.new_experiment)
        buttons["duplicate"].clicked.connect(self.duplicate)
        buttons["delete"].clicked.connect(self.delete)
        buttons["compare"].clicked.connect(self.compare)
        buttons["queue"].clicked.connect(self.queue)
        buttons["import"].clicked.connect(self.import_spec)
        buttons["export"].clicked.connect(self.export_spec)
        top, middle, bottom = QHBoxLayout(), QHBoxLayout(), QHBoxLayout()
        top.addWidget(buttons["new"])
        top.addWidget(buttons["duplicate"])
        top.addWidget(buttons["delete"])
        bottom.addWidget(buttons["import"])
        bottom.addWidget(buttons["export"])
        middle.addWidget(buttons["compare"])
        middle.addWidget(buttons["queue"])
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addLayout(top)
        left_layout.addWidget(self.list, 1)
        left_layout.addWidget(self.empty, 1)
        left_layout.addLayout(middle)
        left_layout.addLayout(bottom)
        self.editor = ExperimentEditor(context)
        self.editor.saved.connect(self._saved)
        splitter = QSplitter()
        splitter.addWidget(left)
        splitter.addWidget(self.editor)
        splitter.setSizes([260, 940])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addWidget(splitter)
        context.changed.connect(self.refresh)
        self.refresh()

    def names(self) -> list[str]:
        return [e.name for e in self.context.project.experiments.list()]

    def refresh(self) -> None:
        current = self.list.currentItem().text() if self.list.currentItem() else None
        names = self.names()
        self.list.blockSignals(True)
        self.list.clear()
        self.list.addItems(names)
        self.list.blockSignals(False)
        self.list.setVisible(bool(names))
        self.empty.setVisible(not names)
        writable = not self.context.project.read_only
        has_data = bool(self.context.project.datasets.list())
        self.buttons["new"].setEnabled(writable and has_data)
        self.buttons["new"].setToolTip("" if has_data else "Import a dataset first")
        for key in ("duplicate", "delete", "queue"):
            self.buttons[key].setEnabled(writable and bool(names))
        self.buttons["import"].setEnabled(writable and has_data)
        self.buttons["compare"].setEnabled(len(names) >= 2)
        self.buttons["export"].setEnabled(bool(names))
        self.editor.save_button.setEnabled(writable)
        if current in names:
            # Signals blocked: the editor has it open already, perhaps with unsaved edits.
            self.list.blockSignals(True)
            self.select(current)
            self.list.blockSignals(False)

    def reveal(self, key: str) -> None:
        self.select(key)

    def selection(self) -> str | None:
        item = self.list.currentItem()
        return item.text() if item is not None else None

    def select(self, name: str) -> None:
        items = self.list.findItems(name, Qt.MatchFlag.MatchExactly)
        if items:
            self.list.setCurrentItem(items[0])

    def open_experiment(self, name: str) -> None:
        if name:
            self.editor.load(self.context.project.experiments.get(name), name)

    def _saved(self, name: str) -> None:
        self.refresh()
        self.select(name)

    def _unique_name(self, base: str) -> str:
        names = {n.lower() for n in self.names()}
        candidate, n = base, 2
        while candidate.lower() in names:
            candidate, n = f"{base}-{n}", n + 1
        return candidate

    def new_experiment(self) -> None:
        versions = self.context.project.datasets.list()
        if not versions:
            return
        dataset = versions[-1]
        spec = ExperimentSpec(
            name=self._unique_name(f"{dataset.name}-experiment"),
            dataset=dataset.name,
            target=dataset.column_names[-1],
        )
        self.list.clearSelection()
        self.editor.load(spec, None)

    def ask_name(self, title: str, suggestion: str) -> str | None:
        text, ok = QInputDialog.getText(self, title, "Name", text=suggestion)
        return text.strip() if ok and text.strip() else None

    def confirm(self, question: str) -> bool:
        answer = QMessageBox.question(self, "Experiments", question)
        return answer == QMessageBox.StandardButton.Yes

    def duplicate(self) -> None:
        item = self.list.currentItem()
        if item is None:
            return
        new_name = self.ask_name("Duplicate experiment", self._unique_name(f"{item.text()}-copy"))
        if new_name is None:
            return
        try:
            self.context.project.experiments.duplicate(item.text(), new_name)
        except UserError as exc:
            self.context.notifications.show_error(exc.message)
            return
        self.context.mark_changed()
        self.select(new_name)

    def delete(self) -> None:
        item = self.list.currentItem()
        if item is None or not self.confirm(
            f"Delete experiment {item.text()}? Models already trained from it keep their copy "
            "of the spec."
        ):
            return
        self.context.project.experiments.delete(item.text())
        self.context.mark_changed()

    def queue(self) -> None:
        """Hand the selected experiment's saved spec to the training queue."""
        item = self.list.currentItem()
        if item is None:
            return
        if self.editor.unsaved(item.text()):
            self.context.notifications.show_warning(
                f"{item.text()} has changes that are not saved, and the queue trains the saved "
                "spec: press Save first, then Queue for training."
            )
            return
        name = item.text()
        handle = self.context.runner.start(
            f"Queueing {name}", enqueue_task, str(self.context.project.path), name, owner=self
        )
        handle.succeeded.connect(lambda job: self._queued(job, name))
        handle.failed.connect(self.context.notifications.show_error)

    def _queued(self, job, name: str) -> None:
        self.context.notifications.show_info(
            f"Queued job #{job.number} for {name}: the Training queue panel (Ctrl+4) shows its "
            "progress."
        )
        self.context.mark_changed()

    def compare(self) -> None:
        names = self.names()
        if len(names) >= 2:
            CompareDialog(self.context, names, self).exec()

    def import_spec(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open experiment spec", "", "Specs (*.json)")
        if path:
            self.import_spec_file(Path(path))

    def import_spec_file(self, path: Path) -> None:
        try:
            spec = ExperimentSpec.from_json(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            self.context.notifications.show_error(
                f"{path.name} could not be read as an experiment spec ({exc}): choose a JSON "
                "spec saved by mlops_desktop or written by hand."
            )
            return
        except UserError as exc:
            self.context.notifications.show_error(f"{path.name}: {exc.message}")
            return
        self.list.clearSelection()
        self.editor.load(spec, None)

    def export_spec(self) -> None:
        item = self.list.currentItem()
        if item is None:
            return
        path, _ = QFileDialog.getSaveFileName(
            self, "Save experiment spec", f"{file_stem(item.text())}.json", "Specs (*.json)"
        )
        if path:
            self.export_spec_file(item.text(), Path(path))

    def export_spec_file(self, name: str, path: Path) -> None:
        spec = self.context.project.experiments.get(name)
        try:
            path.write_text(json.dumps(spec.to_json(), indent=2), encoding="utf-8")
        except OSError as exc:
            self.context.notifications.show_error(
                f"Could not write {path} ({exc.strerror or exc}): choose another folder."
            )
            return
        self.context.notifications.show_info(
            f"Saved the spec of {name} to {path}. "
            f"'mlops-desktop experiment create PROJECT {path.name}' reads it back."
        )
