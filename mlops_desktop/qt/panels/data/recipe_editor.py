"""The Recipe tab: build a cleaning recipe step by step, preview each step, save a version.

Every change to the list of steps is an undoable command on a QUndoStack. The preview runs
the recipe up to the selected step on a sample of the data (all of it when small) in the
background, and says how many rows and cells that step changes.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QKeySequence, QUndoCommand, QUndoStack
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QMenu,
    QPushButton,
    QSplitter,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from mlops_desktop.domain import recipe
from mlops_desktop.domain.dataset import DatasetVersion
from mlops_desktop.domain.errors import UserError
from mlops_desktop.qt.context import ProjectContext
from mlops_desktop.qt.models.arrow_table import ArrowTableModel
from mlops_desktop.qt.panels.data.step_form import StepDialog
from mlops_desktop.services import tabular
from mlops_desktop.services.datasets import clean_task

#: Previews run on all rows up to this many, else on a random sample of this size.
PREVIEW_SAMPLE_ROWS = 100_000


class _StepsCommand(QUndoCommand):
    """Replace the whole list of steps (simple, and exact to undo)."""

    def __init__(self, editor: RecipeEditor, text: str, steps: list, select: int):
        super().__init__(text)
        self._editor, self._before, self._after = editor, list(editor.steps), list(steps)
        self._select_before, self._select_after = editor.current_row(), select

    def redo(self) -> None:
        self._editor.set_steps(self._after, self._select_after)

    def undo(self) -> None:
        self._editor.set_steps(self._before, self._select_before)


class RecipeEditor(QWidget):
    version_saved = Signal(object)  # DatasetVersion

    def __init__(self, context: ProjectContext, parent: QWidget | None = None):
        super().__init__(parent)
        self.context = context
        self.version: DatasetVersion | None = None
        self.steps: list[recipe.Step] = []
        self.sample: pd.DataFrame | None = None
        self._preview_handle = None
        self.undo_stack = QUndoStack(self)

        self.title = QLabel("Select a dataset version to clean.")
        self.title.setObjectName("section-title")
        self.add_button = QToolButton()
        self.add_button.setText("Add step")
        self.add_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        add_menu = QMenu(self.add_button)
        for step_class in recipe.STEP_TYPES.values():
            add_menu.addAction(step_class.label, lambda c=step_class: self.add_step(c))
        self.add_button.setMenu(add_menu)
        self.edit_button = QPushButton("Edit…")
        self.edit_button.clicked.connect(self.edit_step)
        self.remove_button = QPushButton("Remove")
        self.remove_button.clicked.connect(self.remove_step)
        self.up_button = QPushButton("Move up")
        self.up_button.clicked.connect(lambda: self.move_step(-1))
        self.down_button = QPushButton("Move down")
        self.down_button.clicked.connect(lambda: self.move_step(1))
        self.undo_action = self._stack_action("Undo", self.undo_stack.undo, "Ctrl+Z")
        self.undo_stack.canUndoChanged.connect(self.undo_action.setEnabled)
        self.undo_stack.undoTextChanged.connect(
            lambda text: self.undo_action.setToolTip(f"Undo {text}" if text else "Undo")
        )
        self.redo_action = self._stack_action("Redo", self.undo_stack.redo, "Ctrl+Shift+Z")
        self.undo_stack.canRedoChanged.connect(self.redo_action.setEnabled)
        self.undo_stack.redoTextChanged.connect(
            lambda text: self.redo_action.setToolTip(f"Redo {text}" if text else "Redo")
        )
        undo = QToolButton()
        undo.setDefaultAction(self.undo_action)
        redo = QToolButton()
        redo.setDefaultAction(self.redo_action)
        self.copy_button = QToolButton()
        self.copy_button.setText("Copy recipe from")
        self.copy_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.copy_menu = QMenu(self.copy_button)
        self.copy_menu.aboutToShow.connect(self._fill_copy_menu)
        self.copy_button.setMenu(self.copy_menu)
        self.load_button = QPushButton("Open recipe…")
        self.load_button.clicked.connect(self.load_recipe)
        self.export_button = QPushButton("Save recipe…")
        self.export_button.clicked.connect(self.export_recipe)
        self.save_button = QPushButton("Save as new version")
        self.save_button.setObjectName("primary")
        self.save_button.clicked.connect(self.save_version)

        tools = QHBoxLayout()
        for widget in (
            self.add_button,
            self.edit_button,
            self.remove_button,
            self.up_button,
            self.down_button,
            undo,
            redo,
        ):
            tools.addWidget(widget)
        tools.addStretch(1)
        files = QHBoxLayout()
        files.addWidget(self.copy_button)
        files.addWidget(self.load_button)
        files.addWidget(self.export_button)
        files.addStretch(1)
        files.addWidget(self.save_button)

        self.step_list = QListWidget()
        self.step_list.setObjectName("recipe-steps")
        self.step_list.setWordWrap(True)
        self.step_list.currentRowChanged.connect(lambda _row: self.refresh_preview())
        self.step_list.itemDoubleClicked.connect(lambda _item: self.edit_step())
        self.preview_title = QLabel()
        self.preview_title.setObjectName("section-title")
        self.preview_title.setWordWrap(True)  # a step's description can be long
        self.preview_summary = QLabel()
        self.preview_summary.setObjectName("preview-summary")
        self.preview_summary.setWordWrap(True)
        self.preview_summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.preview_model = ArrowTableModel(self)
        self.preview_table = QTableView()
        self.preview_table.setModel(self.preview_model)
        self.preview_table.horizontalHeader().setDefaultSectionSize(110)
        preview = QWidget()
        preview_layout = QVBoxLayout(preview)
        preview_layout.setContentsMargins(0, 0, 0, 0)
        preview_layout.addWidget(self.preview_title)
        preview_layout.addWidget(self.preview_summary)
        preview_layout.addWidget(self.preview_table, 1)
        splitter = QSplitter()
        splitter.addWidget(self.step_list)
        splitter.addWidget(preview)
        splitter.setSizes([380, 650])

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addLayout(tools)
        layout.addWidget(splitter, 1)
        layout.addLayout(files)
        self.undo_stack.indexChanged.connect(lambda _i: self._update_buttons())
        self._update_buttons()

    # -- what the editor works on --------------------------------------------------------------

    def set_version(self, version: DatasetVersion | None, frame: pd.DataFrame | None) -> None:
        """Start a new recipe on ``version``, whose data (or a sample) is ``frame``."""
        self.version = version
        self.sample = (
            recipe.sample_for_preview(frame, PREVIEW_SAMPLE_ROWS) if frame is not None else None
        )
        self.undo_stack.clear()
        self.set_steps([], -1)
        if version is None:
            self.title.setText("Select a dataset version to clean.")
        else:
            self.title.setText(f"New recipe on {version.label}")
        self._update_buttons()

    def set_steps(self, steps: list, select: int) -> None:
        self.steps = list(steps)
        self.step_list.blockSignals(True)
        self.step_list.clear()
        for number, step in enumerate(self.steps, start=1):
            self.step_list.addItem(f"{number}. {step.describe()}")
        self.step_list.blockSignals(False)
        if self.steps:
            self.step_list.setCurrentRow(min(max(select, 0), len(self.steps) - 1))
        self._update_buttons()
        self.refresh_preview()

    def current_row(self) -> int:
        return self.step_list.currentRow()

    def columns_before(self, index: int) -> list[str]:
        """The columns the step at ``index`` will see (after the steps before it)."""
        if self.sample is None:
            return []
        columns = list(self.sample.columns)
        for step in self.steps[:index]:
            if isinstance(step, recipe.DropColumns):
                columns = [c for c in columns if c not in step.columns]
            elif isinstance(step, recipe.RenameColumns):
                columns = [step.mapping.get(c, c) for c in columns]
        return columns

    def _update_buttons(self) -> None:
        has_data = self.version is not None
        has_step = has_data and self.current_row() >= 0
        self.add_button.setEnabled(has_data)
        self.copy_button.setEnabled(has_data)
        self.load_button.setEnabled(has_data)
        for button in (self.edit_button, self.remove_button):
            button.setEnabled(has_step)
        self.up_button.setEnabled(has_step and self.current_row() > 0)
        self.down_button.setEnabled(has_step and self.current_row() < len(self.steps) - 1)
        self.export_button.setEnabled(bool(self.steps))
        self.save_button.setEnabled(
            has_data and bool(self.steps) and not self.context.project.read_only
        )

    # -- editing (every change is one undoable command) -----------------------------------------

    def _change(self, text: str, steps: list, select: int) -> None:
        self.undo_stack.push(_StepsCommand(self, text, steps, select))

    def add_step(self, step_class: type[recipe.Step]) -> None:
        at = self.current_row() + 1 if self.steps else 0
        dialog = StepDialog(step_class, self.columns_before(at), parent=self)
        if dialog.exec():
            steps = list(self.steps)
            steps.insert(at, dialog.step())
            self._change(f"Add “{dialog.step().describe()}”", steps, at)

    def edit_step(self) -> None:
        row = self.current_row()
        if row < 0:
            return
        old = self.steps[row]
        dialog = StepDialog(type(old), self.columns_before(row), old, parent=self)
        if dialog.exec() and dialog.step() != old:
            steps = list(self.steps)
            steps[row] = dialog.step()
            self._change(f"Edit “{old.describe()}”", steps, row)

    def remove_step(self) -> None:
        row = self.current_row()
        if row < 0:
            return
        steps = list(self.steps)
        removed = steps.pop(row)
        self._change(f"Remove “{removed.describe()}”", steps, min(row, len(steps) - 1))

    def move_step(self, offset: int) -> None:
        row, target = self.current_row(), self.current_row() + offset
        if row < 0 or not 0 <= target < len(self.steps):
            return
        steps = list(self.steps)
        steps[row], steps[target] = steps[target], steps[row]
        self._change(f"Move “{steps[target].describe()}”", steps, target)

    def replace_recipe(self, steps: list, source: str) -> None:
        self._change(f"Use the recipe of {source}", steps, 0)

    # -- recipes from elsewhere ----------------------------------------------------------------

    def _fill_copy_menu(self) -> None:
        self.copy_menu.clear()
        with_recipes = [v for v in self.context.project.datasets.list() if v.recipe]
        for version in with_recipes:
            self.copy_menu.addAction(
                f"{version.label} ({len(version.recipe)} steps)",
                lambda v=version: self.replace_recipe(recipe.recipe_from_json(v.recipe), v.label),
            )
        if not with_recipes:
            self.copy_menu.addAction("No cleaned versions yet").setEnabled(False)

    def load_recipe(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open recipe", "", "Recipes (*.json)")
        if path:
            self.load_recipe_file(Path(path))

    def load_recipe_file(self, path: Path) -> None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            steps = recipe.recipe_from_json(data)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            self.context.notifications.show_error(
                f"{path.name} could not be read as a recipe ({exc}): choose a recipe file "
                "saved by mlops_desktop."
            )
            return
        except UserError as exc:
            self.context.notifications.show_error(f"{path.name}: {exc.message}")
            return
        self.replace_recipe(steps, path.name)

    def export_recipe(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Save recipe", "recipe.json", "Recipes (*.json)"
        )
        if path:
            self.export_recipe_file(Path(path))

    def export_recipe_file(self, path: Path) -> None:
        try:
            path.write_text(
                json.dumps(recipe.recipe_to_json(self.steps), indent=2), encoding="utf-8"
            )
        except OSError as exc:
            self.context.notifications.show_error(
                f"Could not write {path} ({exc.strerror or exc}): choose another folder."
            )
            return
        self.context.notifications.show_info(
            f"Saved the recipe to {path}. Apply it to another version with "
            f"'mlops-desktop data clean PROJECT DATASET {path.name}'."
        )

    # -- preview and save ----------------------------------------------------------------------

    def refresh_preview(self) -> None:
        self._update_buttons()
        row = self.current_row()
        if self.sample is None or row < 0 or not self.steps:
            self.preview_title.setText("Preview")
            self.preview_summary.setText(
                "Add a step to see its effect here before anything is saved."
                if self.version is not None
                else ""
            )
            self.preview_model.set_table(None)
            return
        if self._preview_handle is not None and self._preview_handle.running:
            self._preview_handle.cancel()
        steps = self.steps[: row + 1]
        handle = self.context.runner.start(
            "Previewing", recipe.preview, self.sample, steps, owner=self
        )
        self._preview_handle = handle
        self.preview_title.setText(f"Step {row + 1}: {steps[-1].describe()}")
        self.preview_summary.setText("Computing…")
        handle.succeeded.connect(lambda result, h=handle: self._show_preview(h, result))
        handle.failed.connect(lambda message, h=handle: self._show_preview_error(h, message))

    def _scope(self) -> str:
        total, used = self.version.rows, len(self.sample)
        return (
            f"on all {total:,} rows"
            if used >= total
            else (f"on a sample of {used:,} of {total:,} rows")
        )

    def _show_preview(self, handle, result) -> None:
        if handle is not self._preview_handle:
            return
        reports, head = result
        report = reports[-1]
        lines = [f"{report.summary().capitalize()} {self._scope()}."]
        lines += report.notes
        if len(reports) > 1:
            lines.append(f"Rows after this step: {report.rows_after:,}.")
        self.preview_summary.setText("\n".join(lines))
        self.preview_model.set_table(tabular.frame_to_table(head))

    def _show_preview_error(self, handle, message: str) -> None:
        if handle is not self._preview_handle:
            return
        self.preview_summary.setText(f"This step cannot run: {message}")
        self.preview_model.set_table(None)

    def save_version(self) -> None:
        if self.version is None or not self.steps:
            return
        version = self.version
        handle = self.context.runner.start(
            f"Cleaning {version.label}",
            clean_task,
            str(self.context.project.path),
            version.uuid,
            [step.to_json() for step in self.steps],
            None,
            in_process=True,
            owner=self,
        )
        self.save_button.setEnabled(False)
        handle.succeeded.connect(self._saved)
        handle.failed.connect(self.context.notifications.show_error)
        handle.finished.connect(self._update_buttons)

    def _saved(self, version: DatasetVersion) -> None:
        self.context.notifications.show_info(
            f"Saved {version.label} ({version.rows:,} rows × {version.columns} columns), "
            f"cleaned from {version.parent_label} with {len(version.recipe)} steps."
        )
        self.context.mark_changed()
        self.version_saved.emit(version)

    def _stack_action(self, text: str, trigger, key: str) -> QAction:
        """Undo or Redo, always named so (a step's description, which QUndoStack's own
        actions put in their text, widened the window); the step shows as a tooltip. Every
        binding of the platform works, and the one the guide names too."""
        action = QAction(text, self)
        action.setEnabled(False)
        action.triggered.connect(trigger)
        standard = (
            QKeySequence.StandardKey.Undo if text == "Undo" else QKeySequence.StandardKey.Redo
        )
        keys = QKeySequence.keyBindings(standard)
        action.setShortcuts(
            [*keys, *([QKeySequence(key)] if QKeySequence(key) not in keys else [])]
        )
        action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.addAction(action)
        return action
