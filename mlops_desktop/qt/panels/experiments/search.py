"""The search and validation form: strategy, search space, folds, metrics, hold-out, seed."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from mlops_desktop.domain import experiment as ex
from mlops_desktop.domain.errors import UserError

_STRATEGY_NAMES = {
    "none": "Single fit (no search)",
    "grid": "Grid search: every combination",
    "random": "Random search: sample the space",
    "halving": "Successive halving: keep the best third each round",
}


class SearchForm(QWidget):
    changed = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.strategy = QComboBox()
        for key, text in _STRATEGY_NAMES.items():
            self.strategy.addItem(text, key)
        self.space = QTableWidget(0, 2)
        self.space.setObjectName("search-space")
        self.space.setHorizontalHeaderLabels(["Parameter", "Values"])
        self.space.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.space.verticalHeader().setVisible(False)
        self.space.setToolTip(
            "Values: a list such as 3, 5, None; or a distribution for random search: "
            "uniform(0, 1), loguniform(0.0001, 10), int(1, 100)."
        )
        self.space.itemChanged.connect(lambda _item: self.changed.emit())
        self.add_row = QPushButton("Add parameter")
        self.add_row.clicked.connect(lambda: self.add_dimension("", ""))
        self.remove_row = QPushButton("Remove")
        self.remove_row.clicked.connect(self._remove_dimension)
        self.n_iter = QSpinBox()
        self.n_iter.setRange(1, 100_000)
        self.factor = QSpinBox()
        self.factor.setRange(2, 10)
        self.cv = QSpinBox()
        self.cv.setRange(2, 100)
        self.split = QComboBox()
        self.split.addItems(ex.SPLITS)
        self.split.setToolTip("auto: stratified folds for classification, k-fold for regression.")
        self.scoring = QLineEdit()
        self.scoring.setPlaceholderText("default for the task; several: f1_macro, roc_auc_ovr")
        self.holdout = QDoubleSpinBox()
        self.holdout.setRange(0.05, 0.9)
        self.holdout.setSingleStep(0.05)
        self.stratify = QCheckBox("Keep class proportions in the hold-out")
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.size = QLabel()
        self.size.setObjectName("section-title")

        for widget in (self.strategy, self.split):
            widget.activated.connect(lambda _i: self.changed.emit())
        for widget in (self.n_iter, self.factor, self.cv, self.seed):
            widget.editingFinished.connect(self.changed.emit)
        self.holdout.editingFinished.connect(self.changed.emit)
        self.scoring.editingFinished.connect(self.changed.emit)
        self.stratify.toggled.connect(lambda _on: self.changed.emit())

        rows = QHBoxLayout()
        rows.addWidget(self.add_row)
        rows.addWidget(self.remove_row)
        rows.addStretch(1)
        search_box = QGroupBox("Search")
        search_form = QFormLayout(search_box)
        search_form.addRow("Strategy", self.strategy)
        search_form.addRow("Space", self.space)
        search_form.addRow("", rows)
        search_form.addRow("Random candidates", self.n_iter)
        search_form.addRow("Halving factor", self.factor)
        search_form.addRow("Metric(s)", self.scoring)
        validation_box = QGroupBox("Validation")
        validation_form = QFormLayout(validation_box)
        validation_form.addRow("Folds", self.cv)
        validation_form.addRow("Split", self.split)
        validation_form.addRow("Hold-out fraction", self.holdout)
        validation_form.addRow("", self.stratify)
        validation_form.addRow("Random seed", self.seed)
        layout = QVBoxLayout(self)
        layout.addWidget(self.size)
        layout.addWidget(search_box)
        layout.addWidget(validation_box)
        layout.addStretch(1)

    def add_dimension(self, name: str, values: str) -> None:
        row = self.space.rowCount()
        self.space.blockSignals(True)
        self.space.insertRow(row)
        self.space.setItem(row, 0, QTableWidgetItem(name))
        self.space.setItem(row, 1, QTableWidgetItem(values))
        self.space.blockSignals(False)

    def _remove_dimension(self) -> None:
        row = self.space.currentRow()
        if row >= 0:
            self.space.removeRow(row)
            self.changed.emit()

    def load(self, search: ex.SearchSpec, validation: ex.ValidationSpec) -> None:
        widgets = (
            self.strategy,
            self.n_iter,
            self.factor,
            self.cv,
            self.split,
            self.scoring,
            self.holdout,
            self.stratify,
            self.seed,
        )
        for widget in widgets:
            widget.blockSignals(True)
        self.strategy.setCurrentIndex(self.strategy.findData(search.strategy))
        self.space.setRowCount(0)
        for name, values in search.space.items():
            self.add_dimension(name, ex.format_dimension(values))
        self.n_iter.setValue(search.n_iter)
        self.factor.setValue(search.factor)
        self.cv.setValue(search.cv)
        scoring = search.scoring
        self.scoring.setText(", ".join(scoring) if isinstance(scoring, list) else scoring or "")
        self.split.setCurrentText(validation.split)
        self.holdout.setValue(validation.holdout)
        self.stratify.setChecked(validation.stratify)
        self.seed.setValue(validation.seed)
        for widget in widgets:
            widget.blockSignals(False)

    def read(self, confirm_large: bool) -> tuple[dict, dict]:
        """(search, validation) as spec JSON; a space row that cannot be read raises."""
        space = {}
        for row in range(self.space.rowCount()):
            name = (self.space.item(row, 0).text() if self.space.item(row, 0) else "").strip()
            text = self.space.item(row, 1).text() if self.space.item(row, 1) else ""
            if not name:
                continue
            values = ex.parse_dimension(text)
            if values == []:
                raise UserError(f"search.space.{name}: type the values to try.")
            space[name] = values
        metrics = [m.strip() for m in self.scoring.text().split(",") if m.strip()]
        search = {
            "strategy": self.strategy.currentData(),
            "space": space,
            "cv": self.cv.value(),
            "scoring": metrics[0] if len(metrics) == 1 else (metrics or None),
            "n_iter": self.n_iter.value(),
            "factor": self.factor.value(),
            "confirm_large": confirm_large,
        }
        validation = {
            "holdout": round(self.holdout.value(), 4),
            "stratify": self.stratify.isChecked(),
            "seed": self.seed.value(),
            "split": self.split.currentText(),
        }
        return search, validation
