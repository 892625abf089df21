"""Compare two dataset versions: rows and columns added or removed, statistics side by side."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from mlops_desktop.domain.dataset import DatasetVersion, type_label
from mlops_desktop.domain.diff import DatasetDiff
from mlops_desktop.qt.context import ProjectContext
from mlops_desktop.qt.models.arrow_table import format_value
from mlops_desktop.services.datasets import diff_task


def _change(a, b) -> str:
    if isinstance(a, int | float) and isinstance(b, int | float) and not isinstance(a, bool):
        delta = b - a
        return "" if delta == 0 else f"{delta:+.4g}"
    return "" if a == b else "changed"


class DiffDialog(QDialog):
    def __init__(
        self,
        context: ProjectContext,
        versions: list[DatasetVersion],
        a: DatasetVersion | None,
        b: DatasetVersion | None,
        parent: QWidget | None = None,
    ):
        super().__init__(parent)
        self.context = context
        self.versions = versions
        self.setWindowTitle("Compare dataset versions")
        self.resize(820, 600)
        self.a_box, self.b_box = QComboBox(), QComboBox()
        for box, chosen in ((self.a_box, a), (self.b_box, b)):
            for version in versions:
                box.addItem(version.label, version.uuid)
            if chosen is not None:
                box.setCurrentIndex(box.findData(chosen.uuid))
        self.compare_button = QPushButton("Compare")
        self.compare_button.clicked.connect(self.compare)
        choose = QHBoxLayout()
        choose.addWidget(QLabel("From"))
        choose.addWidget(self.a_box, 1)
        choose.addWidget(QLabel("to"))
        choose.addWidget(self.b_box, 1)
        choose.addWidget(self.compare_button)
        self.summary = QLabel("Choose two versions and press Compare.")
        self.summary.setWordWrap(True)
        self.summary.setObjectName("preview-summary")
        self.stats = QTableWidget(0, 5)
        self.stats.setObjectName("diff-stats")
        self.stats.setHorizontalHeaderLabels(["Column", "Statistic", "From", "To", "Change"])
        self.stats.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.stats.verticalHeader().setVisible(False)
        self.stats.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(choose)
        layout.addWidget(self.summary)
        layout.addWidget(self.stats, 1)
        layout.addWidget(buttons)
        self.result: DatasetDiff | None = None

    def compare(self) -> None:
        a, b = self.a_box.currentData(), self.b_box.currentData()
        self.compare_button.setEnabled(False)
        self.summary.setText("Comparing…")
        handle = self.context.runner.start(
            "Comparing versions",
            diff_task,
            str(self.context.project.path),
            a,
            b,
            in_process=True,
            owner=self,
        )
        handle.succeeded.connect(self.show_result)
        handle.failed.connect(self.summary.setText)
        handle.finished.connect(lambda: self.compare_button.setEnabled(True))

    def show_result(self, result: DatasetDiff) -> None:
        self.result = result
        lines = [
            f"{result.label_a} → {result.label_b}: {result.rows_a:,} → {result.rows_b:,} rows; "
            f"{result.rows_added:,} rows added and {result.rows_removed:,} removed "
            "(compared on the columns both have)."
        ]
        if result.columns_added:
            lines.append(f"Columns added: {', '.join(result.columns_added)}.")
        if result.columns_removed:
            lines.append(f"Columns removed: {', '.join(result.columns_removed)}.")
        lines += [
            f"{c} changed type: {type_label(ta)} → {type_label(tb)}."
            for c, ta, tb in result.type_changes
        ]
        if result.identical:
            lines.append("The two versions hold the same rows and columns.")
        self.summary.setText("\n".join(lines))
        self.stats.setRowCount(len(result.stats))
        for row, (column, name, a, b) in enumerate(result.stats):
            for col, text in enumerate(
                (column, name, format_value(a), format_value(b), _change(a, b))
            ):
                self.stats.setItem(row, col, QTableWidgetItem(text))
