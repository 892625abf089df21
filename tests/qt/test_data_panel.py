"""The Data panel: importing, the lazy table, profile, recipe editing with undo, diff."""

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import QApplication, QDialogButtonBox

from mlops_desktop import Project
from mlops_desktop.domain import recipe
from mlops_desktop.domain.profile import profile_table
from mlops_desktop.qt.models.arrow_table import BLOCK_ROWS, ArrowTableModel
from mlops_desktop.qt.models.profile import HEADERS, ProfileModel
from mlops_desktop.qt.panels.data import panel as data_panel
from mlops_desktop.qt.panels.data import recipe_editor
from mlops_desktop.qt.panels.data.diff_dialog import DiffDialog
from mlops_desktop.qt.panels.data.import_dialog import ImportDialog
from mlops_desktop.qt.panels.data.panel import DataPanel
from mlops_desktop.qt.panels.data.step_form import StepDialog

SALES = "store;litres;postcode\nOslo;1,5;0150\nBergen;;5003\nOslo;2,5;0150\nTromsø;4;9008\n"


@pytest.fixture
def project_file(tmp_path):
    path = tmp_path / "data.mlops"
    with Project.create(path) as project:
        csv = tmp_path / "sales.csv"
        csv.write_text(SALES, encoding="utf-8")
        project.datasets.import_file(csv)
    return path


@pytest.fixture
def panel(window, project_file, qtbot):
    window.open_project(project_file)
    qtbot.waitUntil(lambda: window.show_panel("data") is not None, timeout=30_000)
    return window.show_panel("data")


def select(panel, qtbot, label):
    version = next(v for v in panel.versions if v.label == label)
    panel.select_version(version.uuid)
    qtbot.waitUntil(
        lambda: panel.recipe.version is not None and panel.recipe.version.uuid == version.uuid,
        timeout=10_000,
    )
    return version


def filter_by(table, column: str, operator: str, value: str) -> None:
    """Fill in the filter bar and press Filter."""
    table.column_box.setCurrentText(column)
    table.operator_box.setCurrentText(operator)
    table.value_edit.setText(value)
    table.apply_filter()


def test_the_panel_lists_versions_and_loads_the_selected_one(panel, qtbot):
    assert [v.label for v in panel.versions] == ["sales:1"]
    select(panel, qtbot, "sales:1")
    model = panel.table.model
    assert (model.rowCount(), model.columnCount()) == (4, 3)
    assert model.data(model.index(0, 2)) == "0150"  # codes keep their leading zeros
    assert model.data(model.index(1, 1)) == "—"
    assert panel.profile.model.rowCount() == 3
    assert "imported from" in panel.details.browser.toPlainText()


def test_the_table_shows_every_digit_of_a_number_and_no_more():
    model = ArrowTableModel()
    model.set_table(
        pa.table(
            {
                "double": [1234567.89, 4.0, 1e20],
                "single": pa.array([0.1, 2.5, None], pa.float32()),
            }
        )
    )
    cells = [[model.data(model.index(r, c)) for c in range(2)] for r in range(3)]
    assert cells == [["1234567.89", "0.1"], ["4", "2.5"], ["1e+20", "—"]]


def test_the_profile_shows_a_category_as_one_and_its_arrow_type_on_hover():
    table = pa.table({"store": pa.array(["Oslo", "Bergen", "Oslo"]).dictionary_encode()})
    model = ProfileModel()
    model.set_profile(profile_table(table))
    type_cell = model.index(0, HEADERS.index("Type"))
    assert model.data(type_cell) == "category of string"
    assert model.data(type_cell, Qt.ItemDataRole.ToolTipRole) == str(table.schema.field(0).type)


def test_the_profile_shows_dates_as_the_table_does():
    days = pa.array([0, 86_400_000], pa.timestamp("ms"))
    model = ProfileModel()
    model.set_profile(profile_table(pa.table({"day": days})))
    row = [model.data(model.index(0, HEADERS.index(h))) for h in ("Min", "Max")]
    assert row == ["1970-01-01", "1970-01-02"]


def test_the_profile_marks_infinite_extremes_and_says_what_the_mean_is_of():
    model = ProfileModel()
    model.set_profile(profile_table(pa.table({"x": [1.0, 3.0, float("inf")]})))
    cells = [model.index(0, HEADERS.index(h)) for h in ("Mean", "Min", "Max")]
    assert [model.data(c) for c in cells] == ["2", "1", "∞"]
    assert "are ∞" in model.data(cells[0], Qt.ItemDataRole.ToolTipRole)


def test_sorting_and_filtering_run_in_the_background(panel, qtbot):
    select(panel, qtbot, "sales:1")
    table = panel.table
    table._sort_by(1)
    qtbot.waitUntil(lambda: table._sort is not None, timeout=5000)
    assert [table.model.data(table.model.index(r, 1)) for r in range(4)] == ["1.5", "2.5", "4", "—"]
    filter_by(table, "store", "==", "Oslo")
    qtbot.waitUntil(lambda: table.model.rowCount() == 2, timeout=5000)
    assert "Showing 2 of 4 rows" in table.status.text()
    table.clear_filter()
    qtbot.waitUntil(lambda: table.model.rowCount() == 4, timeout=5000)


def test_a_sort_clicked_while_a_filter_works_keeps_the_filter(panel, qtbot):
    select(panel, qtbot, "sales:1")
    table = panel.table
    filter_by(table, "store", "==", "Oslo")
    table._sort_by(1)  # before the filter's rows come back
    qtbot.waitUntil(lambda: table._sort is not None, timeout=5000)
    assert table.model.rowCount() == 2
    assert "Showing 2 of 4 rows, sorted by" in table.status.text()
    table.clear_filter()
    qtbot.waitUntil(lambda: table.model.rowCount() == 4, timeout=5000)
    assert table._sort is not None  # the sort outlives the filter


def test_a_refused_filter_leaves_the_rows_shown_and_says_why(panel, qtbot):
    select(panel, qtbot, "sales:1")
    table = panel.table
    filter_by(table, "store", ">", "5")
    qtbot.waitUntil(lambda: "holds text" in table.status.text(), timeout=5000)
    assert table.model.rowCount() == 4
    table._sort_by(1)  # the refused filter is not asked for again
    qtbot.waitUntil(lambda: table._sort is not None, timeout=5000)
    assert table.model.rowCount() == 4


def test_a_cancelled_filter_is_not_brought_back_by_the_next_sort(panel, qtbot, monkeypatch):
    from mlops_desktop.qt.widgets import data_table

    real = data_table.view_rows

    def slow_filter(table, condition, sort, state):
        while condition is not None:  # until the task bar's Cancel
            state.check_cancelled()
        return real(table, condition, sort, state)

    monkeypatch.setattr(data_table, "view_rows", slow_filter)
    select(panel, qtbot, "sales:1")
    table = panel.table
    filter_by(table, "store", "==", "Oslo")
    handle = table._pending
    handle.cancel()
    qtbot.waitUntil(lambda: not handle.running, timeout=5000)
    assert "Cancelled" in table.status.text()
    table._sort_by(1)
    qtbot.waitUntil(lambda: table._sort is not None, timeout=5000)
    assert table.model.rowCount() == 4
    assert table._condition is None


def sales_dialog(qtbot, window, tmp_path):
    """The import dialog on SALES, once its preview is shown; and its Import button."""
    csv = tmp_path / "sales.csv"
    csv.write_text(SALES, encoding="utf-8")
    dialog = ImportDialog(csv, window.runner)
    qtbot.addWidget(dialog)
    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    qtbot.waitUntil(ok.isEnabled, timeout=10_000)
    return dialog, ok


def test_the_import_dialog_shows_detected_settings_and_a_preview(qtbot, window, tmp_path):
    dialog, ok = sales_dialog(qtbot, window, tmp_path)
    settings = dialog.current_settings()
    assert (settings.delimiter, settings.decimal, settings.header) == (";", ",", True)
    assert settings.text_columns == [2]
    assert "semicolon" in dialog.delimiter_box.currentText()
    assert dialog.reason_labels["delimiter"].text().startswith("detected:")
    assert dialog.preview_model.rowCount() == 4
    # A wrong delimiter gives another preview; a wrong encoding name is explained at once.
    dialog.delimiter_box.setCurrentIndex(dialog.delimiter_box.findData("\t"))
    dialog.refresh()
    qtbot.waitUntil(lambda: dialog.preview_model.columnCount() == 1, timeout=10_000)
    dialog.delimiter_box.setCurrentIndex(dialog.delimiter_box.findData(","))
    dialog.refresh()
    assert "both ','" in dialog.message.text()
    dialog.encoding_box.setCurrentText("klingon")
    dialog.refresh()
    assert "Unknown encoding" in dialog.message.text()
    assert not ok.isEnabled()


def test_the_import_dialog_reads_grouped_thousands_as_numbers_unless_told(qtbot, window, tmp_path):
    csv = tmp_path / "prices.csv"
    csv.write_text("item;price\nmilk;1.000,25\nbread;2,5\n", encoding="utf-8")
    dialog = ImportDialog(csv, window.runner)
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: dialog.preview_model.rowCount() == 2, timeout=10_000)
    assert dialog.current_settings().thousands == "."
    assert "1.000,25 in price" in dialog.reason_labels["thousands"].text()
    price = dialog.preview_model.index(0, 1)
    assert dialog.preview_model.data(price) == "1000.25"
    dialog.thousands_box.setCurrentIndex(dialog.thousands_box.findData(""))
    dialog.refresh()
    qtbot.waitUntil(
        lambda: dialog.preview_model.data(dialog.preview_model.index(0, 1)) == "1.000,25",
        timeout=10_000,
    )
    dialog.thousands_box.setCurrentIndex(dialog.thousands_box.findData(","))
    dialog.refresh()
    assert "both ','" in dialog.message.text()
    # The other decimal mark takes the other separator with it: 1.000,5 becomes 1,000.5.
    dialog.thousands_box.setCurrentIndex(dialog.thousands_box.findData("."))
    dialog.decimal_box.setCurrentIndex(dialog.decimal_box.findData("."))
    dialog.decimal_box.activated.emit(dialog.decimal_box.currentIndex())
    assert (dialog.current_settings().decimal, dialog.current_settings().thousands) == (".", ",")


def test_the_import_dialog_explains_a_file_it_cannot_read(qtbot, window, tmp_path):
    noise = tmp_path / "noise.csv"
    noise.write_bytes(bytes(range(256)) * 8)
    dialog = ImportDialog(noise, window.runner)
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: "binary" in dialog.message.text(), timeout=10_000)
    assert not dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).isEnabled()


@pytest.mark.parametrize(
    ("data", "encoding", "message"),
    [
        (b"caf\xe9,na\xefve\n1,2\n", "utf-8", "column names have bytes that are not valid"),
        (b"a,b\n", None, "column names but no rows"),
        (b'a,b\n1,"2\n3,4\n', None, "never closed"),
    ],
)
def test_the_preview_refuses_what_the_import_would(
    qtbot, window, tmp_path, data, encoding, message
):
    path = tmp_path / "odd.csv"
    path.write_bytes(data)
    dialog = ImportDialog(path, window.runner)
    qtbot.addWidget(dialog)
    if encoding is not None:
        qtbot.waitUntil(lambda: bool(dialog.preview_model.columnCount()), timeout=10_000)
        dialog.encoding_box.setCurrentText(encoding)
        dialog.refresh()
    qtbot.waitUntil(lambda: message in dialog.message.text(), timeout=10_000)
    assert not dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).isEnabled()


def test_a_bad_name_keeps_the_preview_and_a_wrong_format_is_a_sentence(qtbot, window, tmp_path):
    dialog, ok = sales_dialog(qtbot, window, tmp_path)
    dialog.name_edit.setText("   ")
    dialog._accept()
    assert dialog.result() == 0
    assert dialog.message.text().startswith("A dataset needs a name")
    assert dialog.preview_model.rowCount() == 4
    assert ok.isEnabled()
    dialog.format_box.setCurrentIndex(dialog.format_box.findData("xlsx"))
    dialog.format_box.activated.emit(dialog.format_box.currentIndex())
    assert not dialog.encoding_box.isEnabled()
    assert not dialog.delimiter_box.isEnabled()
    assert not dialog.thousands_box.isEnabled()
    qtbot.waitUntil(
        lambda: "not a readable Excel workbook" in dialog.message.text(), timeout=10_000
    )
    assert not ok.isEnabled()


def test_importing_a_sample_dataset_adds_and_selects_it(panel, qtbot):
    panel.import_source("sklearn:iris", "iris")
    qtbot.waitUntil(lambda: any(v.label == "iris:1" for v in panel.versions), timeout=60_000)
    qtbot.waitUntil(
        lambda: panel.current is not None and panel.current.label == "iris:1", timeout=10_000
    )
    kind, message = panel.context.notifications.messages()[0]
    assert (kind, message.startswith("Imported sklearn:iris as iris:1")) == ("info", True)


def test_a_failed_import_is_one_sentence_and_changes_nothing(panel, qtbot, tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("a,b\n")
    panel.import_source(str(empty), "empty")
    qtbot.waitUntil(lambda: bool(panel.context.notifications.messages()), timeout=60_000)
    assert panel.context.notifications.messages()[0] == (
        "error",
        "empty.csv has column names but no rows: there is nothing to import.",
    )
    assert panel.context.project.info().counts["dataset_versions"] == 1


def test_dropping_a_data_file_on_the_panel_offers_to_import_it(panel, qtbot, tmp_path, monkeypatch):
    offered = []
    monkeypatch.setattr(panel, "import_path", offered.append)
    csv = tmp_path / "dropped.csv"
    csv.write_text("a\n1\n")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(csv))])
    buttons, modifiers = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    enter = QDragEnterEvent(QPoint(5, 5), Qt.DropAction.CopyAction, mime, buttons, modifiers)
    QApplication.sendEvent(panel, enter)
    assert enter.isAccepted()
    drop = QDropEvent(QPointF(5, 5), Qt.DropAction.CopyAction, mime, buttons, modifiers)
    QApplication.sendEvent(panel, drop)
    qtbot.waitUntil(lambda: offered == [csv])


class _FakeStepDialog:
    """Stands in for the step dialog: 'accepts' with a prepared step."""

    next_step: recipe.Step | None = None

    def __init__(self, *args, **kwargs):
        pass

    def exec(self):
        return True

    def step(self):
        return type(self).next_step


def test_recipe_steps_preview_undo_redo_and_save(panel, qtbot, monkeypatch):
    select(panel, qtbot, "sales:1")
    editor = panel.recipe
    monkeypatch.setattr(recipe_editor, "StepDialog", _FakeStepDialog)
    _FakeStepDialog.next_step = recipe.FillMissing(["litres"], "constant", 0)
    editor.add_step(recipe.FillMissing)
    _FakeStepDialog.next_step = recipe.FilterRows("store", "==", "Oslo")
    editor.add_step(recipe.FilterRows)
    assert [s.kind for s in editor.steps] == ["fill_missing", "filter_rows"]
    qtbot.waitUntil(lambda: "2 rows removed" in editor.preview_summary.text(), timeout=10_000)
    assert "on all 4 rows" in editor.preview_summary.text()
    editor.step_list.setCurrentRow(0)
    qtbot.waitUntil(lambda: "1 cells changed" in editor.preview_summary.text(), timeout=10_000)

    assert editor.undo_action.text() == "Undo"  # the step is named in the tooltip only
    assert editor.undo_action.toolTip().startswith("Undo Add")
    assert QKeySequence("Ctrl+Shift+Z") in editor.redo_action.shortcuts()
    editor.undo_action.trigger()
    assert len(editor.steps) == 1
    assert editor.redo_action.isEnabled()
    assert editor.redo_action.text() == "Redo"
    editor.redo_action.trigger()
    assert len(editor.steps) == 2
    assert not editor.redo_action.isEnabled()
    editor.step_list.setCurrentRow(1)
    editor.move_step(-1)
    assert editor.steps[0].kind == "filter_rows"
    editor.undo_stack.undo()
    assert editor.steps[0].kind == "fill_missing"

    editor.save_version()
    qtbot.waitUntil(lambda: any(v.label == "sales:2" for v in panel.versions), timeout=60_000)
    saved = panel.context.project.datasets.get("sales:2")
    assert (saved.rows, saved.parent_label, len(saved.recipe)) == (2, "sales:1", 2)


def test_a_step_that_cannot_run_says_why_in_the_preview(panel, qtbot, monkeypatch):
    select(panel, qtbot, "sales:1")
    editor = panel.recipe
    monkeypatch.setattr(recipe_editor, "StepDialog", _FakeStepDialog)
    _FakeStepDialog.next_step = recipe.FillMissing(["store"], "mean")
    editor.add_step(recipe.FillMissing)
    qtbot.waitUntil(lambda: "cannot run" in editor.preview_summary.text(), timeout=10_000)
    assert "not numeric" in editor.preview_summary.text()


def test_recipes_save_to_and_load_from_files(panel, qtbot, tmp_path, monkeypatch):
    select(panel, qtbot, "sales:1")
    editor = panel.recipe
    monkeypatch.setattr(recipe_editor, "StepDialog", _FakeStepDialog)
    _FakeStepDialog.next_step = recipe.DropColumns(["postcode"])
    editor.add_step(recipe.DropColumns)
    path = tmp_path / "r.json"
    editor.export_recipe_file(path)
    editor.remove_step()
    assert editor.steps == []
    editor.load_recipe_file(path)
    assert editor.steps == [recipe.DropColumns(["postcode"])]
    bad = tmp_path / "bad.json"
    bad.write_text('{"steps": [{"step": "nonsense"}]}')
    editor.load_recipe_file(bad)
    assert "Unknown recipe step" in panel.context.notifications.messages()[0][1]


def test_the_step_dialog_builds_steps_and_refuses_incomplete_ones(qtbot):
    dialog = StepDialog(recipe.FillMissing, ["a", "b"])
    qtbot.addWidget(dialog)
    dialog._accept()
    assert dialog.error.text() == "Tick at least one column."
    columns = dialog._getters["columns"].__self__
    columns.item(1).setCheckState(Qt.CheckState.Checked)
    dialog._accept()
    assert dialog.step() == recipe.FillMissing(["b"], "mean", None)
    edit = StepDialog(recipe.FilterRows, ["a"], recipe.FilterRows("a", "between", ["1", "5"]))
    qtbot.addWidget(edit)
    edit._accept()
    assert edit.step() == recipe.FilterRows("a", "between", ["1", "5"], True)


def test_comparing_two_versions(panel, qtbot):
    project = panel.context.project
    project.datasets.clean("sales:1", [recipe.DropColumns(["postcode"])])
    panel.refresh()
    versions = project.datasets.list()
    dialog = DiffDialog(panel.context, versions, versions[0], versions[1])
    qtbot.addWidget(dialog)
    dialog.compare()
    qtbot.waitUntil(lambda: dialog.result is not None, timeout=60_000)
    assert "Columns removed: postcode." in dialog.summary.text()
    assert dialog.stats.rowCount() > 0


def test_compare_starts_from_the_version_before_of_the_same_dataset(
    panel, qtbot, tmp_path, monkeypatch
):
    project = panel.context.project
    other = tmp_path / "other.csv"
    other.write_text("a\n1\n2\n")
    project.datasets.import_file(other)
    next_month = tmp_path / "sales.csv"
    next_month.write_text(SALES + "Bodø;3;8001\n", encoding="utf-8")
    project.datasets.import_file(next_month)  # sales:2, with no parent
    panel.refresh()
    select(panel, qtbot, "sales:2")
    chosen = []
    monkeypatch.setattr(
        data_panel, "DiffDialog", lambda _c, _v, a, b, _p: chosen.append((a, b)) or _Shown()
    )
    panel.compare()
    assert [(a.label, b.label) for a, b in chosen] == [("sales:1", "sales:2")]


class _Shown:
    def exec(self) -> int:
        return 0


def test_a_million_rows_are_read_lazily():
    rows = 1_000_000
    table = pa.table({"i": np.arange(rows), "x": np.random.default_rng(0).normal(size=rows)})
    model = ArrowTableModel()
    model.set_table(table)
    assert model.rowCount() == rows
    assert model.data(model.index(rows - 1, 0)) == str(rows - 1)
    assert model.data(model.index(0, 0)) == "0"
    # Two cells touched, two blocks of one column converted: nothing else was materialised.
    assert len(model._blocks) == 2
    assert all(len(block) <= BLOCK_ROWS for block in model._blocks.values())
    model.set_view(np.array([rows - 1, 0]))
    assert model.data(model.index(0, 0)) == str(rows - 1)
    assert model.headerData(0, Qt.Orientation.Vertical, Qt.ItemDataRole.DisplayRole) == (
        f"{rows:,}"
    )


def test_read_only_projects_cannot_import(window, project_file, qtbot):
    window.close_project()
    project = Project.open(project_file, read_only=True)
    from mlops_desktop.qt.context import ProjectContext

    context = ProjectContext(project, window.runner, window.notifications)
    data = DataPanel(context)
    qtbot.addWidget(data)
    assert not data.import_button.isEnabled()
    context.close()
    assert Path(project_file).exists()


def test_a_change_elsewhere_keeps_the_recipe_being_edited(panel, qtbot, monkeypatch):
    # A training job finishing, or a teammate's window, changes the project: the recipe on
    # screen, not yet saved, must survive it, and a version added elsewhere must appear.
    select(panel, qtbot, "sales:1")
    editor = panel.recipe
    monkeypatch.setattr(recipe_editor, "StepDialog", _FakeStepDialog)
    _FakeStepDialog.next_step = recipe.FillMissing(["litres"], "constant", 0)
    editor.add_step(recipe.FillMissing)
    panel.context.project.datasets.import_file("sklearn:iris")
    panel.context.mark_changed()
    assert any(v.label == "iris:1" for v in panel.versions)
    # Had the change reloaded the version, the recipe would be reset once the load ended.
    qtbot.waitUntil(lambda: not panel._loading.running, timeout=30_000)
    assert [s.kind for s in editor.steps] == ["fill_missing"]
    assert editor.version.label == "sales:1"
    assert panel.tree.currentItem().data(0, Qt.ItemDataRole.UserRole) == editor.version.uuid
    assert editor.undo_stack.canUndo()
