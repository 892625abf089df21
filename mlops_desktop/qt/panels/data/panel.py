"""The Data panel: datasets and their versions on the left, the selected one on the right."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPushButton,
    QSplitter,
    QTabWidget,
    QToolButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from mlops_desktop.domain.dataset import DatasetVersion
from mlops_desktop.domain.filenames import file_stem
from mlops_desktop.qt.context import ProjectContext
from mlops_desktop.qt.panels.base import Panel
from mlops_desktop.qt.panels.data.details_view import DetailsView
from mlops_desktop.qt.panels.data.diff_dialog import DiffDialog
from mlops_desktop.qt.panels.data.import_dialog import ImportDialog
from mlops_desktop.qt.panels.data.profile_view import ProfileView
from mlops_desktop.qt.panels.data.recipe_editor import PREVIEW_SAMPLE_ROWS, RecipeEditor
from mlops_desktop.qt.widgets import charts
from mlops_desktop.qt.widgets.data_table import DataTable
from mlops_desktop.services import tabular
from mlops_desktop.services.datasets import import_task
from mlops_desktop.services.importing import SKLEARN_DATASETS, SKLEARN_PREFIX
from mlops_desktop.store import PROJECT_SUFFIX

_VERSION = Qt.ItemDataRole.UserRole


def load_for_panel(project_path: str, version_uuid: str, state) -> tuple:
    """Task function: a version's table (one chunk per column), profile, lineage and a
    DataFrame sample for recipe previews."""
    from mlops_desktop.services.project import Project

    with Project.open(project_path, read_only=True) as project:
        chain = project.datasets.chain(project.datasets.by_uuid(version_uuid))
        version = chain[-1]
        state.set_progress(None, f"Loading {version.label}")
        table = project.datasets.load_table(version).combine_chunks()
        profile = project.datasets.profile(version)
    state.check_cancelled()
    sample = table
    if table.num_rows > PREVIEW_SAMPLE_ROWS:
        rng = np.random.default_rng(0)
        rows = np.sort(rng.choice(table.num_rows, PREVIEW_SAMPLE_ROWS, replace=False))
        sample = table.take(rows)
    # The preview sees the values as Save applies the recipe to them.
    return version, chain, table, profile, tabular.exact_frame(sample)


def _version_text(version: DatasetVersion) -> str:
    origin = (
        f"cleaned from {version.parent_label}"
        if version.parent_label
        else f"from {version.source.name}"
        if version.source
        else ""
    )
    return f"{version.label}   {version.rows:,} × {version.columns}   {origin}"


class DataPanel(Panel):
    title = "Data"

    def __init__(self, context: ProjectContext, parent: QWidget | None = None):
        super().__init__(context, parent)
        self.setAcceptDrops(True)
        self.versions: list[DatasetVersion] = []
        self.current: DatasetVersion | None = None
        self._loading = None
        charts.warm_up()

        self.import_button = QPushButton("Import file…")
        self.import_button.setToolTip(
            "Import a CSV/TSV, Parquet, JSON Lines or Excel file "
            "(Ctrl+I), or drop one on this panel"
        )
        self.import_button.clicked.connect(self.import_dialog)
        self.sample_button = QToolButton()
        self.sample_button.setText("Sample data")
        self.sample_button.setToolTip("scikit-learn's bundled datasets, for teaching")
        self.sample_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        samples = QMenu(self.sample_button)
        for name in SKLEARN_DATASETS:
            samples.addAction(name, lambda n=name: self.import_source(SKLEARN_PREFIX + n, n))
        self.sample_button.setMenu(samples)
        self.tree = QTreeWidget()
        self.tree.setObjectName("dataset-tree")
        self.tree.setHeaderHidden(True)
        self.tree.currentItemChanged.connect(self._selected)
        self.empty = QLabel("No datasets yet.\nImport a file, drop one here,\nor try Sample data.")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setObjectName("hint")
        self.compare_button = QPushButton("Compare…")
        self.compare_button.clicked.connect(self.compare)
        self.export_button = QPushButton("Export…")
        self.export_button.clicked.connect(self.export)
        top = QHBoxLayout()
        top.addWidget(self.import_button)
        top.addWidget(self.sample_button)
        bottom = QHBoxLayout()
        bottom.addWidget(self.compare_button)
        bottom.addWidget(self.export_button)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addLayout(top)
        left_layout.addWidget(self.tree, 1)
        left_layout.addWidget(self.empty, 1)
        left_layout.addLayout(bottom)

        self.table = DataTable(context.runner)
        self.profile = ProfileView()
        self.recipe = RecipeEditor(context)
        self.recipe.version_saved.connect(self._after_save)
        self.details = DetailsView()
        self.details.version_clicked.connect(self.select_version)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.table, "Table")
        self.tabs.addTab(self.profile, "Profile")
        self.tabs.addTab(self.recipe, "Clean")
        self.tabs.addTab(self.details, "Details")
        splitter = QSplitter()
        splitter.addWidget(left)
        splitter.addWidget(self.tabs)
        splitter.setSizes([300, 900])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addWidget(splitter)

        context.changed.connect(self.refresh)
        self.refresh()

    # -- the list of versions --------------------------------------------------------------------

    def refresh(self) -> None:
        """Show the project's versions. Versions never change, so the one on screen (and a
        recipe being edited on it) stays as it is when other versions come or go."""
        keep = self.current.uuid if self.current else None
        versions = self.context.project.datasets.list()
        if versions == self.versions and self.tree.topLevelItemCount():
            return
        self.versions = versions
        self.tree.blockSignals(True)
        self.tree.clear()
        groups: dict[str, QTreeWidgetItem] = {}
        for version in self.versions:
            group = groups.get(version.name)
            if group is None:
                group = QTreeWidgetItem([version.name])
                group.setFlags(group.flags() & ~Qt.ItemFlag.ItemIsSelectable)
                groups[version.name] = group
                self.tree.addTopLevelItem(group)
            item = QTreeWidgetItem([_version_text(version)])
            item.setData(0, _VERSION, version.uuid)
            item.setToolTip(0, version.label)
            group.addChild(item)
        self.tree.expandAll()
        kept = self._item_for(keep) if keep else None
        if kept is not None:
            self.tree.setCurrentItem(kept)  # signals blocked: it is loaded already
        self.tree.blockSignals(False)
        has = bool(self.versions)
        self.tree.setVisible(has)
        self.empty.setVisible(not has)
        self.compare_button.setEnabled(len(self.versions) >= 2)
        self.export_button.setEnabled(self.current is not None)
        read_only = self.context.project.read_only
        self.import_button.setEnabled(not read_only)
        self.sample_button.setEnabled(not read_only)

    def _item_for(self, version_uuid: str) -> QTreeWidgetItem | None:
        for i in range(self.tree.topLevelItemCount()):
            group = self.tree.topLevelItem(i)
            for j in range(group.childCount()):
                if group.child(j).data(0, _VERSION) == version_uuid:
                    return group.child(j)
        return None

    def reveal(self, key: str) -> None:
        self.select_version(key)

    def selection(self) -> str | None:
        item = self.tree.currentItem()
        return item.data(0, _VERSION) if item is not None else None

    def select_version(self, version_uuid: str) -> None:
        item = self._item_for(version_uuid)
        if item is not None and self.tree.currentItem() is not item:
            self.tree.setCurrentItem(item)

    def _selected(self, item: QTreeWidgetItem | None, _previous) -> None:
        version_uuid = item.data(0, _VERSION) if item is not None else None
        if version_uuid is None:
            return
        if self._loading is not None and self._loading.running:
            self._loading.cancel()
        self.current = next(v for v in self.versions if v.uuid == version_uuid)
        self.export_button.setEnabled(True)
        self.table.set_table(None)
        self.table.status.setText(f"Loading {self.current.label}…")
        handle = self.context.runner.start(
            f"Loading {self.current.label}",
            load_for_panel,
            str(self.context.project.path),
            version_uuid,
            owner=self,
        )
        self._loading = handle
        handle.succeeded.connect(lambda result, h=handle: self._loaded(h, result))
        handle.failed.connect(self.context.notifications.show_error)

    def _loaded(self, handle, result) -> None:
        if handle is not self._loading:
            return
        version, chain, table, profile, sample = result
        self.table.set_table(table)
        self.profile.set_profile(profile)
        self.recipe.set_version(version, sample)
        self.details.show_chain(chain)

    # -- actions -------------------------------------------------------------------------------

    def import_dialog(self) -> None:
        if self.context.project.read_only:
            return
        path, _ = QFileDialog.getOpenFileName(
            self,
            "Import data",
            "",
            "Data files (*.csv *.tsv *.txt *.parquet *.jsonl *.ndjson *.json *.xlsx);;"
            "All files (*)",
        )
        if path:
            self.import_path(Path(path))

    def import_path(self, path: Path) -> None:
        """Show how ``path`` will be read and import it if the user agrees."""
        dialog = ImportDialog(path, self.context.runner, self)
        if dialog.exec():
            self.import_source(str(path), dialog.name(), dialog.settings().to_json())

    def import_source(self, source: str, name: str, settings: dict | None = None) -> None:
        label = Path(source).name if not source.startswith(SKLEARN_PREFIX) else source
        handle = self.context.runner.start(
            f"Importing {label}",
            import_task,
            str(self.context.project.path),
            source,
            name,
            settings,
            in_process=True,
            owner=self,
        )
        handle.succeeded.connect(self._imported)
        handle.failed.connect(self.context.notifications.show_error)

    def _imported(self, version: DatasetVersion) -> None:
        notes = "".join(f" {n}" for n in version.notes)
        self.context.notifications.show_info(
            f"Imported {version.source.name} as {version.label} ({version.rows:,} rows × "
            f"{version.columns} columns).{notes}"
        )
        self._after_save(version)

    def _after_save(self, version: DatasetVersion) -> None:
        self.context.mark_changed()
        self.select_version(version.uuid)

    def compare(self) -> None:
        if len(self.versions) < 2:
            return
        b = self.current or self.versions[-1]
        # From its parent, else the version of the same dataset before it (last month's
        # import), else any other.
        parent = next((v for v in self.versions if v.uuid == b.parent_uuid), None)
        earlier = [v for v in self.versions if v.name == b.name and v.version < b.version]
        previous = max(earlier, key=lambda v: v.version) if earlier else None
        a = parent or previous or next((v for v in self.versions if v.uuid != b.uuid), None)
        DiffDialog(self.context, self.versions, a, b, self).exec()

    def export(self) -> None:
        if self.current is None:
            return
        suggestion = f"{file_stem(self.current.label)}.csv"
        path, _ = QFileDialog.getSaveFileName(
            self, f"Export {self.current.label}", suggestion, "CSV (*.csv);;Parquet (*.parquet)"
        )
        if path:
            self.export_to(Path(path))

    def export_to(self, path: Path) -> None:
        version = self.current
        handle = self.context.runner.start(
            f"Exporting {version.label}",
            _export_task,
            str(self.context.project.path),
            version.uuid,
            str(path),
            owner=self,
        )
        handle.succeeded.connect(
            lambda written: self.context.notifications.show_info(
                f"Exported {version.label} to {written}."
            )
        )
        handle.failed.connect(self.context.notifications.show_error)

    # -- drag and drop ---------------------------------------------------------------------------

    def _dropped_file(self, event) -> Path | None:
        urls = event.mimeData().urls()
        if len(urls) != 1 or not urls[0].isLocalFile():
            return None
        path = Path(urls[0].toLocalFile())
        # A project file dropped here is for the window to open, not data to import.
        return None if path.suffix == PROJECT_SUFFIX else path

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if not self.context.project.read_only and self._dropped_file(event) is not None:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        path = self._dropped_file(event)
        if path is None:
            event.ignore()
            return
        event.acceptProposedAction()
        # Show the dialog after the drop returns, so the drag source is not kept waiting.
        QTimer.singleShot(0, lambda: self.import_path(path))


def _export_task(project_path: str, version_uuid: str, out: str, state) -> Path:
    from mlops_desktop.services.project import Project

    with Project.open(project_path, read_only=True) as project:
        version = project.file.datasets.by_uuid(version_uuid)
        return project.datasets.export(version, out)
