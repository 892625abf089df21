"""The Models panel: every model version in a table, one in detail, and what to do with them."""

from __future__ import annotations

import logging

from PySide6.QtCore import QItemSelectionModel, Qt, QTimer
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from mlops_desktop.domain.errors import UserError
from mlops_desktop.qt.context import ProjectContext
from mlops_desktop.qt.models.versions import VersionTableModel, prepare
from mlops_desktop.qt.panels.base import Panel
from mlops_desktop.qt.panels.models.compare_dialog import CompareDialog
from mlops_desktop.qt.panels.models.detail import VersionDetailView, load_detail
from mlops_desktop.qt.panels.models.evaluate_dialog import EvaluateDialog
from mlops_desktop.qt.panels.models.export_dialog import ExportDialog
from mlops_desktop.qt.panels.models.promote_dialog import PromoteDialog
from mlops_desktop.qt.widgets import charts
from mlops_desktop.services import plots

log = logging.getLogger(__name__)


def browse_task(project_path: str, state) -> dict[str, list]:
    """Task function (thread): every version's row for the table."""
    from mlops_desktop.services.project import Project

    with Project.open(project_path, read_only=True) as project:
        return prepare(project.models.browse())


class ModelsPanel(Panel):
    title = "Models"

    def __init__(self, context: ProjectContext, parent: QWidget | None = None):
        super().__init__(context, parent)
        self._browsing = None
        self._loading = None
        self._wanted: str | None = None  # a version to select once the rows arrive
        charts.warm_up(*plots.MODULES)

        self.search = QLineEdit()
        self.search.setObjectName("model-search")
        self.search.setClearButtonEnabled(True)
        self.search.setPlaceholderText(
            "Filter by model, estimator, dataset, metric, alias, author, tag or note (Ctrl+F)"
        )
        self.search.textChanged.connect(self._filter)
        self.count = QLabel()
        self.count.setObjectName("hint")
        self.buttons = {}
        for key, text, tip in (
            ("compare", "Compare", "Compare the selected versions side by side (select 2 or more)"),
            ("promote", "Set alias…", "Point an alias such as production at this version"),
            ("evaluate", "Evaluate…", "Measure this version on another dataset version"),
            ("export", "Export…", "Write an MLflow model, a script and notebook, or a model card"),
            ("delete", "Delete", "Delete the selected versions"),
        ):
            button = QPushButton(text)
            button.setToolTip(tip)
            button.setObjectName(f"models-{key}")
            self.buttons[key] = button
        self.buttons["compare"].clicked.connect(self.compare)
        self.buttons["promote"].clicked.connect(self.promote)
        self.buttons["evaluate"].clicked.connect(self.evaluate)
        self.buttons["export"].clicked.connect(self.export)
        self.buttons["delete"].clicked.connect(self.delete)

        self.model = VersionTableModel(self)
        self.table = QTableView()
        self.table.setObjectName("version-table")
        self.table.setModel(self.model)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(-1, Qt.SortOrder.AscendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.verticalHeader().setVisible(False)
        # Fixed row heights and column widths: measuring 10,000 rows' contents would stall.
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.table.verticalHeader().setDefaultSectionSize(22)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        for column, width in enumerate((130, 60, 190, 90, 110, 110, 80, 100, 90, 130)):
            header.resizeSection(column, width)
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        self.table.doubleClicked.connect(lambda _index: self.detail.setCurrentIndex(0))

        self.empty = QLabel(
            "No model versions yet.\nQueue an experiment for training: each finished job "
            "adds a version here."
        )
        self.empty.setObjectName("hint")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.detail = VersionDetailView()
        self.detail.set_read_only(context.project.read_only)
        self.detail.reveal.connect(self._reveal)
        self.detail.save_annotations.connect(self._save_annotations)
        self.detail.setEnabled(False)

        top = QHBoxLayout()
        top.addWidget(self.search, 1)
        top.addWidget(self.count)
        for button in self.buttons.values():
            top.addWidget(button)
        upper = QWidget()
        upper_layout = QVBoxLayout(upper)
        upper_layout.setContentsMargins(0, 0, 0, 0)
        upper_layout.addLayout(top)
        upper_layout.addWidget(self.table, 1)
        upper_layout.addWidget(self.empty, 1)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(upper)
        splitter.addWidget(self.detail)
        splitter.setSizes([300, 460])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addWidget(splitter)

        context.changed.connect(self.refresh)
        self._update_buttons()
        QTimer.singleShot(0, self.refresh)

    # -- the table -----------------------------------------------------------------------------

    def refresh(self) -> None:
        if self._browsing is not None and self._browsing.running:
            self._browsing.cancel()
        handle = self.context.runner.start(
            "Reading model versions", browse_task, str(self.context.project.path), owner=self
        )
        self._browsing = handle
        handle.succeeded.connect(lambda rows, h=handle: self._browsed(h, rows))
        handle.failed.connect(self.context.notifications.show_error)

    def _browsed(self, handle, rows: dict[str, list]) -> None:
        if handle is not self._browsing:
            return
        keep = self._wanted or (self.selected_uuids() or [None])[0]
        self.model.set_rows(rows)
        has = self.model.total > 0
        self.table.setVisible(has)
        self.empty.setVisible(not has)
        self._show_count()
        if keep:
            self.select(keep)
        elif has and not self.selected_uuids():
            self.table.selectRow(self.model.rowCount() - 1)
        self._update_buttons()

    def _filter(self, text: str) -> None:
        self.model.set_filter(text)
        self._show_count()

    def _show_count(self) -> None:
        shown, total = self.model.rowCount(), self.model.total
        self.count.setText(f"{shown:,} of {total:,}" if shown != total else f"{total:,} versions")

    def selected_rows(self) -> list[int]:
        return sorted({i.row() for i in self.table.selectionModel().selectedRows()})

    def selected_uuids(self) -> list[str]:
        return [self.model.uuid_at(r) for r in self.selected_rows()]

    def selected_labels(self) -> list[str]:
        return [self.model.label_at(r) for r in self.selected_rows()]

    def select(self, version_uuid: str) -> None:
        """Select a version (once the table has it: a version trained a moment ago may not
        be read yet)."""
        row = self.model.row_of(version_uuid)
        if row is None and self.search.text():
            self.search.clear()
            row = self.model.row_of(version_uuid)
        if row is None:
            self._wanted = version_uuid
            return
        self._wanted = None
        self.table.selectionModel().select(
            self.model.index(row, 0),
            QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows,
        )
        self.table.scrollTo(self.model.index(row, 0))

    def reveal(self, key: str) -> None:
        self.select(key)

    def selection(self) -> str | None:
        uuids = self.selected_uuids()
        return uuids[0] if len(uuids) == 1 else None

    def _update_buttons(self) -> None:
        count = len(self.selected_rows())
        writable = not self.context.project.read_only
        self.buttons["compare"].setEnabled(count >= 2)
        self.buttons["promote"].setEnabled(count == 1 and writable)
        self.buttons["evaluate"].setEnabled(count == 1 and writable)
        self.buttons["export"].setEnabled(count == 1)
        self.buttons["delete"].setEnabled(count >= 1 and writable)

    def _selection_changed(self, *_args) -> None:
        self._update_buttons()
        uuids = self.selected_uuids()
        if len(uuids) != 1:
            return
        if self._loading is not None and self._loading.running:
            self._loading.cancel()
        handle = self.context.runner.start(
            "Reading the version", load_detail, str(self.context.project.path), uuids[0], owner=self
        )
        self._loading = handle
        handle.succeeded.connect(lambda detail, h=handle: self._detail_loaded(h, detail))
        handle.failed.connect(self.context.notifications.show_error)

    def _detail_loaded(self, handle, detail) -> None:
        if handle is self._loading:
            self.detail.show_detail(detail)

    # -- actions -------------------------------------------------------------------------------

    def _save_annotations(self, version_uuid: str, notes: str, tags: list[str]) -> None:
        models = self.context.project.models
        try:
            label = models.by_uuid(version_uuid).label
            models.set_notes(label, notes)
            models.set_tags(label, tags)
        except UserError as exc:
            self.context.notifications.show_error(exc.message)
            return
        self.context.notifications.show_info(f"Saved the notes and tags of {label}.")
        self.context.mark_changed()
        self._selection_changed()

    def _reveal(self, kind: str, key: str) -> None:
        if kind == "model_version":
            self.select(key)
        elif kind == "alias":
            self.detail.setCurrentIndex(4)
        else:
            self.context.reveal.emit(kind, key)

    def compare(self) -> None:
        labels = self.selected_labels()
        if len(labels) >= 2:
            CompareDialog(self.context, labels, self).exec()

    def promote(self) -> None:
        labels = self.selected_labels()
        if len(labels) == 1:
            PromoteDialog(self.context, labels[0], self).exec()

    def evaluate(self) -> None:
        labels = self.selected_labels()
        if len(labels) == 1:
            EvaluateDialog(self.context, labels[0], self).exec()

    def export(self) -> None:
        labels = self.selected_labels()
        if len(labels) == 1:
            ExportDialog(self.context, labels[0], self).exec()

    def delete(self) -> None:
        labels = self.selected_labels()
        if not labels or self.context.project.read_only:
            return
        shown = ", ".join(labels[:5]) + (f" and {len(labels) - 5} more" if len(labels) > 5 else "")
        answer = QMessageBox.question(
            self,
            "Delete model versions",
            f"Delete {shown}? Their metrics, plots and evaluations go with them; this cannot "
            "be undone. (Compact the project afterwards to give the space back.)",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        if answer == QMessageBox.StandardButton.Yes:
            self.delete_versions(labels)

    def delete_versions(self, labels: list[str]) -> None:
        deleted, problems = [], []
        for label in labels:
            try:
                deleted.append(self.context.project.models.delete(label))
            except UserError as exc:
                problems.append(exc.message)
        if deleted:
            self.context.notifications.show_info(f"Deleted {', '.join(deleted)}.")
            self.context.mark_changed()
        for problem in problems:
            self.context.notifications.show_error(problem)
