"""The hyper-parameter form, generated from the estimator's own parameter description.

Every field shows the default as a placeholder and the docstring as a tooltip; a value
outside scikit-learn's constraints is marked with scikit-learn's own reason.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QFormLayout, QLabel, QLineEdit, QWidget

from mlops_desktop.domain import estimators
from mlops_desktop.domain.errors import UserError

DEFAULT_ITEM = "(default)"


def _shown(value) -> str:
    return "None" if value is None else str(value)


class ParamsForm(QWidget):
    changed = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.estimator: str | None = None
        self.fields: dict[str, QWidget] = {}
        self.errors: dict[str, str] = {}
        self._layout = QFormLayout(self)

    def set_estimator(self, name: str, values: dict) -> None:
        """Build the form for ``name`` holding ``values`` (only those differing from defaults)."""
        while self._layout.rowCount():
            self._layout.removeRow(0)
        self.fields.clear()
        self.errors.clear()
        self.estimator = name
        for param in estimators.parameters(name):
            widget = self._field(param, values.get(param.name, DEFAULT_ITEM))
            tip = f"<b>{param.name}</b>: {param.declared}<br>{param.doc}"
            widget.setToolTip(tip)
            label = QLabel(param.name)
            label.setToolTip(tip)
            self._layout.addRow(label, widget)
            self.fields[param.name] = widget

    def _field(self, param: estimators.ParamInfo, value) -> QWidget:
        if param.kind in ("bool", "choice"):
            box = QComboBox()
            box.addItem(f"{DEFAULT_ITEM} {_shown(param.default)}", DEFAULT_ITEM)
            options = ["True", "False"] if param.kind == "bool" else list(param.choices)
            if param.allows_none:
                options.append("None")
            for option in options:
                box.addItem(option, option)
            if value is not DEFAULT_ITEM:
                index = box.findData(_shown(value))
                box.setCurrentIndex(max(index, 0))
            box.currentIndexChanged.connect(lambda _i, n=param.name: self._edited(n))
            return box
        edit = QLineEdit("" if value is DEFAULT_ITEM else _shown(value))
        edit.setPlaceholderText(_shown(param.default))
        edit.editingFinished.connect(lambda n=param.name: self._edited(n))
        return edit

    def _raw(self, name: str):
        widget = self.fields[name]
        if isinstance(widget, QComboBox):
            data = widget.currentData()
            return DEFAULT_ITEM if data == DEFAULT_ITEM else estimators.parse_value(data)
        text = widget.text()
        return DEFAULT_ITEM if not text.strip() else estimators.parse_value(text)

    def _edited(self, name: str) -> None:
        value = self._raw(name)
        widget = self.fields[name]
        self.errors.pop(name, None)
        widget.setProperty("invalid", False)
        if value is not DEFAULT_ITEM:
            try:
                estimators.check_params(self.estimator, {name: value})
            except UserError as exc:
                self.errors[name] = exc.message
                widget.setProperty("invalid", True)
        widget.style().unpolish(widget)
        widget.style().polish(widget)
        self.changed.emit()

    def values(self) -> dict:
        """The parameters set away from their defaults (those with errors excluded)."""
        result = {}
        for name in self.fields:
            value = self._raw(name)
            if value is not DEFAULT_ITEM and name not in self.errors:
                result[name] = value
        return result
