"""The feature table: one row per column with its role, type and preparation."""

from __future__ import annotations

import dataclasses

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from mlops_desktop.domain import experiment as ex
from mlops_desktop.domain.errors import UserError
from mlops_desktop.domain.experiment import DATETIME_PARTS
from mlops_desktop.domain.profile import TableProfile

_HEADERS = ("Column", "Profile", "Role", "Type", "Preparation")


def describe(treatment: ex.ColumnSpec) -> str:
    if treatment.role != "feature":
        return ""
    parts = []
    if treatment.impute != "none":
        fill = f" {treatment.impute_value!r}" if treatment.impute == "constant" else ""
        parts.append(f"impute {treatment.impute.replace('_', ' ')}{fill}")
    if treatment.type == "categorical":
        limit = f" (≤ {treatment.max_categories})" if treatment.encode == "onehot" else ""
        parts.append(f"{treatment.encode}{limit}")
    elif treatment.type == "datetime":
        parts.append("parts: " + ", ".join(treatment.datetime_parts))
    elif treatment.type == "text":
        parts.append(f"TF-IDF (≤ {treatment.max_features} words)")
    elif treatment.scale != "none":
        parts.append(f"{treatment.scale} scaling")
    return ", ".join(parts)


class FeaturesEditor(QWidget):
    changed = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.profile: TableProfile | None = None
        self.target: str | None = None
        self.overrides: dict[str, dict] = {}
        self.table = QTableWidget(0, len(_HEADERS))
        self.table.setObjectName("feature-table")
        self.table.setHorizontalHeaderLabels(list(_HEADERS))
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QTableWidget.SelectionMode.SingleSelection)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.resizeSection(0, 170)
        header.resizeSection(1, 130)
        header.setStretchLastSection(True)
        self.table.currentCellChanged.connect(lambda row, *_: self._show_row(row))

        self.role = QComboBox()
        self.role.addItems(ex.ROLES)
        self.type = QComboBox()
        self.type.addItems(ex.COLUMN_TYPES)
        self.impute = QComboBox()
        self.impute.addItems(ex.IMPUTATIONS)
        self.impute_value = QLineEdit()
        self.impute_value.setPlaceholderText("value for “constant”")
        self.scale = QComboBox()
        self.scale.addItems(ex.SCALINGS)
        self.encode = QComboBox()
        self.encode.addItems(ex.ENCODINGS)
        self.max_categories = QSpinBox()
        self.max_categories.setRange(2, 10_000)
        self.max_categories.setToolTip(
            "One-hot keeps the most frequent categories and groups the rest as “infrequent”."
        )
        self.parts = {part: QCheckBox(part) for part in DATETIME_PARTS}
        parts_row = QWidget()
        parts_layout = QHBoxLayout(parts_row)
        parts_layout.setContentsMargins(0, 0, 0, 0)
        for box in self.parts.values():
            parts_layout.addWidget(box)
        self.max_features = QSpinBox()
        self.max_features.setRange(1, 1_000_000)
        self.max_features.setToolTip("TF-IDF keeps this many of the most frequent words.")
        form = QFormLayout()
        form.addRow("Role", self.role)
        form.addRow("Type", self.type)
        form.addRow("Impute", self.impute)
        form.addRow("Fill value", self.impute_value)
        form.addRow("Scaling", self.scale)
        form.addRow("Encoding", self.encode)
        form.addRow("Most categories", self.max_categories)
        form.addRow("Date parts", parts_row)
        form.addRow("TF-IDF words", self.max_features)
        self.editor = QGroupBox("Selected column")
        self.editor.setLayout(form)
        for widget in (self.role, self.type, self.impute, self.scale, self.encode):
            widget.activated.connect(lambda _i: self._apply())
        self.impute_value.editingFinished.connect(self._apply)
        self.max_categories.editingFinished.connect(self._apply)
        self.max_features.editingFinished.connect(self._apply)
        for box in self.parts.values():
            box.toggled.connect(lambda _on: self._apply())

        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.table)
        splitter.addWidget(self.editor)
        splitter.setSizes([320, 260])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)
        self.editor.setEnabled(False)

    def set_data(self, profile: TableProfile | None, target: str | None, overrides: dict) -> None:
        self.profile, self.target = profile, target
        self.overrides = {k: dict(v) for k, v in overrides.items()}
        self.refresh()

    def columns(self) -> list[str]:
        if self.profile is None:
            return []
        return [c.name for c in self.profile.columns if c.name != self.target]

    def treatment(self, name: str) -> ex.ColumnSpec:
        column = self.profile.column(name)
        try:
            return ex.resolve_column(column, self.overrides.get(name, {}), name)
        except UserError:  # an override the user is still fixing: show the defaults
            return ex.default_column(column)

    def refresh(self) -> None:
        names = self.columns()
        row = self.table.currentRow()
        self.table.setRowCount(len(names))
        for i, name in enumerate(names):
            column = self.profile.column(name)
            treatment = self.treatment(name)
            cells = (
                name,
                f"{column.kind} · {column.unique:,}",
                treatment.role,
                treatment.type,
                describe(treatment),
            )
            for j, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if name in self.overrides and j >= 2:
                    font = item.font()
                    font.setBold(True)  # set by hand, not by default
                    item.setFont(font)
                self.table.setItem(i, j, item)
        if names:
            self.table.setCurrentCell(max(0, min(row, len(names) - 1)), 0)
        self.editor.setEnabled(bool(names))

    def _show_row(self, row: int) -> None:
        names = self.columns()
        if not 0 <= row < len(names):
            return
        treatment = self.treatment(names[row])
        widgets = [
            self.role,
            self.type,
            self.impute,
            self.scale,
            self.encode,
            self.impute_value,
            self.max_categories,
            self.max_features,
            *self.parts.values(),
        ]
        for widget in widgets:
            widget.blockSignals(True)
        self.editor.setTitle(f"Column {names[row]}")
        self.role.setCurrentText(treatment.role)
        self.type.setCurrentText(treatment.type)
        self.impute.setCurrentText(treatment.impute)
        fill = treatment.impute_value
        self.impute_value.setText("" if fill is None else str(fill))
        self.scale.setCurrentText(treatment.scale)
        self.encode.setCurrentText(treatment.encode)
        self.max_categories.setValue(treatment.max_categories)
        self.max_features.setValue(treatment.max_features)
        for part, box in self.parts.items():
            box.setChecked(part in treatment.datetime_parts)
        for widget in widgets:
            widget.blockSignals(False)
        self._enable_for(treatment.type)

    def _enable_for(self, kind: str) -> None:
        self.scale.setEnabled(kind == "numeric")
        self.encode.setEnabled(kind == "categorical")
        self.max_categories.setEnabled(kind == "categorical")
        for box in self.parts.values():
            box.setEnabled(kind == "datetime")
        self.max_features.setEnabled(kind == "text")

    def _apply(self) -> None:
        names = self.columns()
        row = self.table.currentRow()
        if not 0 <= row < len(names):
            return
        name = names[row]
        chosen = {
            "role": self.role.currentText(),
            "type": self.type.currentText(),
            "impute": self.impute.currentText(),
            "impute_value": self.impute_value.text().strip() or None,
            "scale": self.scale.currentText(),
            "encode": self.encode.currentText(),
            "max_categories": self.max_categories.value(),
            "datetime_parts": [p for p, box in self.parts.items() if box.isChecked()],
            "max_features": self.max_features.value(),
        }
        current = self.treatment(name)
        if chosen["type"] != current.type:
            # A new type starts from that type's defaults.
            self.overrides[name] = {"type": chosen["type"], "role": chosen["role"]}
        else:
            defaults = ex.default_column(self.profile.column(name))
            merged = {**dataclasses.asdict(current), **chosen}
            self.overrides[name] = {
                key: value for key, value in merged.items() if value != getattr(defaults, key)
            }
            if not self.overrides[name]:
                del self.overrides[name]
        self.refresh()
        self.changed.emit()
