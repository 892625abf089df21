"""The dialog that creates or edits one recipe step, built from the step's own fields."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from mlops_desktop.domain import recipe
from mlops_desktop.domain.errors import UserError
from mlops_desktop.qt.widgets.data_table import parse_filter_value

# How each field is edited: (label, kind, choices). Keyed by field name, or by (step, field)
# where two steps use one name differently.
_CHOICES = {
    "to": recipe.TYPES,
    "strategy": recipe.FILL_STRATEGIES,
    "how": ("any", "all"),
    ("drop_duplicates", "keep"): ("first", "last"),
    "operator": recipe.OPERATORS,
    "case": recipe.CASES,
    "method": ("iqr", "quantile"),
}
_LABELS = {
    "columns": "Columns",
    "column": "Column",
    "to": "New type",
    "format": "Date format",
    "dayfirst": "Day before month",
    "strategy": "Fill with",
    "value": "Value",
    "how": "Drop a row when",
    "keep": "Keep",
    "operator": "Condition",
    "mapping": "New names",
    "replacements": "Replace",
    "trim": "Trim spaces",
    "case": "Case",
    "method": "Method",
    "lower": "Lower quantile",
    "upper": "Upper quantile",
    "factor": "IQR factor",
}
_HINTS = {
    ("drop_missing", "columns"): "None ticked: any column.",
    ("drop_duplicates", "columns"): "None ticked: whole rows must match.",
    ("fill_missing", "value"): "Only for “constant”.",
    ("filter_rows", "value"): "For “in” and “between”, separate values with commas.",
    ("parse_dates", "format"): "For example %d/%m/%Y; leave empty to recognise the format.",
    ("replace_values", "replacements"): "An empty cell stands for a missing value.",
}


class _ColumnList(QListWidget):
    def __init__(self, columns: list[str], chosen: list[str]):
        super().__init__()
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        for name in columns:
            item = QListWidgetItem(name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if name in chosen else Qt.CheckState.Unchecked)
            self.addItem(item)
        self.setMaximumHeight(160)

    def chosen(self) -> list[str]:
        return [
            self.item(i).text()
            for i in range(self.count())
            if self.item(i).checkState() == Qt.CheckState.Checked
        ]


class _PairTable(QWidget):
    """An editable two-column table: renames (one row per column) or replacement pairs."""

    def __init__(self, headers: tuple[str, str], rows: list[tuple[str, str]], growable: bool):
        super().__init__()
        self.table = QTableWidget(0, 2)
        self.table.setHorizontalHeaderLabels(list(headers))
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.verticalHeader().setVisible(False)
        for old, new in rows:
            self._append(old, new, editable_old=growable)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table)
        if growable:
            add = QPushButton("Add a pair")
            add.clicked.connect(lambda: self._append("", "", editable_old=True))
            layout.addWidget(add)
        self.table.setMinimumHeight(140)

    def _append(self, old: str, new: str, editable_old: bool) -> None:
        row = self.table.rowCount()
        self.table.insertRow(row)
        first = QTableWidgetItem(old)
        if not editable_old:
            first.setFlags(first.flags() & ~Qt.ItemFlag.ItemIsEditable)
        self.table.setItem(row, 0, first)
        self.table.setItem(row, 1, QTableWidgetItem(new))

    def pairs(self) -> list[tuple[str, str]]:
        return [
            (self.table.item(r, 0).text(), self.table.item(r, 1).text())
            for r in range(self.table.rowCount())
        ]


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


class StepDialog(QDialog):
    """Edit the fields of one step; ``step()`` builds it (after ``exec`` accepted)."""

    def __init__(
        self,
        step_class: type[recipe.Step],
        columns: list[str],
        existing: recipe.Step | None = None,
        parent: QWidget | None = None,
    ):
        super().__init__(parent)
        self.step_class = step_class
        self.setWindowTitle(("Edit: " if existing else "Add: ") + step_class.label)
        self._getters: dict[str, Callable] = {}
        form = QFormLayout()
        values = dataclasses.asdict(existing) if existing is not None else {}
        for field in dataclasses.fields(step_class):
            widget, getter = self._editor(step_class.kind, field, values.get(field.name), columns)
            self._getters[field.name] = getter
            form.addRow(_LABELS.get(field.name, field.name), widget)
            hint = _HINTS.get((step_class.kind, field.name))
            if hint:
                note = QLabel(hint)
                note.setObjectName("hint")
                form.addRow("", note)
        self.error = QLabel()
        self.error.setObjectName("form-error")
        self.error.setWordWrap(True)
        self.error.hide()
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(buttons)
        self._built: recipe.Step | None = None

    def _editor(self, kind: str, field, value, columns: list[str]):
        name = field.name
        choices = _CHOICES.get((kind, name), _CHOICES.get(name))
        if name == "keep" and kind == "filter_rows":
            box = QComboBox()
            box.addItems(["keep the rows that match", "remove the rows that match"])
            box.setCurrentIndex(0 if value in (None, True) else 1)
            return box, lambda: box.currentIndex() == 0
        if choices is not None:
            box = QComboBox()
            box.addItems(list(choices))
            default = value if value is not None else _default(field)
            if default in choices:
                box.setCurrentText(default)
            return box, box.currentText
        if name == "columns":
            chooser = _ColumnList(columns, value or [])
            return chooser, chooser.chosen
        if name == "column":
            box = QComboBox()
            box.addItems(columns)
            if value in columns:
                box.setCurrentText(value)
            return box, box.currentText
        if name == "mapping":
            table = _PairTable(
                ("Column", "New name"),
                [(c, (value or {}).get(c, "")) for c in columns],
                growable=False,
            )
            return table, lambda: {old: new.strip() for old, new in table.pairs() if new.strip()}
        if name == "replacements":
            pairs = [(_text(old), _text(new)) for old, new in (value or [])] or [("", "")]
            table = _PairTable(("Old value", "New value"), pairs, growable=True)
            return table, lambda: [
                [old or None, new or None] for old, new in table.pairs() if old or new
            ]
        if field.type in ("bool", bool):
            box = QCheckBox()
            box.setChecked(bool(value if value is not None else _default(field)))
            return box, box.isChecked
        if field.type in ("float", float):
            spin = QDoubleSpinBox()
            spin.setDecimals(3)
            spin.setRange(0.0, 1.0 if name in ("lower", "upper") else 100.0)
            spin.setSingleStep(0.01 if name in ("lower", "upper") else 0.5)
            spin.setValue(float(value if value is not None else _default(field)))
            return spin, spin.value
        edit = QLineEdit(_text(value))
        if name == "value" and kind == "filter_rows":
            return edit, lambda: edit.text()
        return edit, lambda: edit.text().strip() or None

    def _accept(self) -> None:
        arguments = {name: get() for name, get in self._getters.items()}
        if self.step_class is recipe.FilterRows:
            arguments["value"] = parse_filter_value(arguments["operator"], arguments["value"])
        try:
            self._built = self.step_class(**arguments)
            _check(self._built)
        except UserError as exc:
            self.error.setText(exc.message)
            self.error.show()
            return
        self.accept()

    def step(self) -> recipe.Step:
        assert self._built is not None, "step() is only meaningful after the dialog accepted"
        return self._built


def _default(field):
    if field.default is not dataclasses.MISSING:
        return field.default
    return None


def _check(step: recipe.Step) -> None:
    """What can be said before the data is seen."""
    columns = getattr(step, "columns", None)
    if (
        columns is not None
        and not columns
        and not isinstance(step, recipe.DropMissing | recipe.DropDuplicates)
    ):
        raise UserError("Tick at least one column.")
    if isinstance(step, recipe.RenameColumns) and not step.mapping:
        raise UserError("Type a new name for at least one column.")
    if isinstance(step, recipe.ReplaceValues) and not step.replacements:
        raise UserError("Add at least one pair of values.")
    if isinstance(step, recipe.FillMissing) and step.strategy == "constant" and not step.value:
        raise UserError("Type the value to fill with.")
    if isinstance(step, recipe.ClipOutliers) and step.lower >= step.upper:
        raise UserError("The lower quantile must be below the upper one.")
