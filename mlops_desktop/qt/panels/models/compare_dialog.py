"""Two or more versions side by side: metrics with deltas, what differs, curves overlaid,
and whether each difference in CV score is real."""

from __future__ import annotations

import json

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from mlops_desktop.domain import glossary
from mlops_desktop.domain.comparison import Comparison
from mlops_desktop.qt.context import ProjectContext
from mlops_desktop.qt.widgets import charts
from mlops_desktop.qt.widgets.tables import BAD, CHANGED, GOOD, fill_table, text_table
from mlops_desktop.services import plots


def compare_task(project_path: str, labels: list[str], state) -> tuple[Comparison, list]:
    """Task function (thread): the comparison and each version's plot data."""
    from mlops_desktop.services.project import Project

    with Project.open(project_path, read_only=True) as project:
        models = project.models
        result = models.compare(labels)
        return result, [(label, models.plots(models.get(label))) for label in labels]


def _cell(value, delta, first: bool) -> str:
    if value is None:
        return "–"
    if first or delta is None:
        return f"{value:.4g}"
    return f"{value:.4g} ({delta:+.3g})"


class CompareDialog(QDialog):
    def __init__(self, context: ProjectContext, labels: list[str], parent: QWidget | None = None):
        super().__init__(parent)
        self.context = context
        self.labels = labels
        self.series: list = []
        self.result: Comparison | None = None
        self.setWindowTitle(f"Compare {', '.join(labels)}")
        self.resize(900, 620)
        self.verdicts = QLabel(f"Comparing {len(labels)} versions…")
        self.verdicts.setWordWrap(True)
        self.verdicts.setObjectName("verdicts")
        self.metrics = text_table(("Metric", *labels), "compare-metrics")
        self.params = text_table(("Parameter", *labels), "compare-params")
        self.only_differences = QCheckBox("Only what differs")
        self.only_differences.setChecked(True)
        self.only_differences.toggled.connect(self._show_params)
        self.curve = QComboBox()
        self.curve.addItem("ROC curves", "roc")
        self.curve.addItem("Precision-recall curves", "precision_recall")
        self.curve.currentIndexChanged.connect(self._draw)
        self.canvas_holder = QVBoxLayout()
        self.canvas: charts.ChartCanvas | None = None

        params_tab = QWidget()
        params_layout = QVBoxLayout(params_tab)
        params_layout.addWidget(self.only_differences)
        params_layout.addWidget(self.params, 1)
        curves_tab = QWidget()
        curves_layout = QVBoxLayout(curves_tab)
        curves_layout.addWidget(self.curve)
        curves_layout.addLayout(self.canvas_holder, 1)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.metrics, "Metrics")
        self.tabs.addTab(params_tab, "Parameters")
        self.tabs.addTab(curves_tab, "Curves")
        hint = QLabel(
            "Deltas are against the first version. Whether a difference is real is judged on "
            "the CV folds with the corrected resampled t-test (p < 0.05), which needs both "
            "versions scored on the same folds."
        )
        hint.setObjectName("hint")
        hint.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.verdicts)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(hint)
        layout.addWidget(buttons)

        handle = context.runner.start(
            "Comparing versions", compare_task, str(context.project.path), labels, owner=self
        )
        handle.succeeded.connect(self.show_result)
        handle.failed.connect(self._failed)

    def _failed(self, message: str) -> None:
        self.verdicts.setText(message)

    def show_result(self, payload) -> None:
        self.result, self.series = payload
        result = self.result
        lines = []
        for test in result.tests:
            colour = "#198754" if test.significant else "#6c757d"
            lines.append(f"<span style='color:{colour}'>{test.verdict()}</span>")
        self.verdicts.setText("<br>".join(lines))
        rows, colours = [], []
        for row in result.metrics:
            deltas = row.deltas()
            best = row.best()
            rows.append(
                (
                    f"{row.source} {row.metric}",
                    *(
                        _cell(v, d, i == 0)
                        for i, (v, d) in enumerate(zip(row.values, deltas, strict=True))
                    ),
                )
            )
            colours.append([None] + [self._colour(row, d, i == best) for i, d in enumerate(deltas)])
        fill_table(self.metrics, rows, colours, explain=glossary.metric)
        self._show_params()
        self._draw()

    @staticmethod
    def _colour(row, delta, best: bool):
        """Green for the best version, red for one worse than the first."""
        if best:
            return GOOD
        if not delta:
            return None
        worse = delta < 0 if row.higher_is_better else delta > 0
        return BAD if worse else None

    def _show_params(self) -> None:
        if self.result is None:
            return
        only = self.only_differences.isChecked()
        shown = [p for p in self.result.params if p[2] or not only]
        rows = [(name, *(json.dumps(v) for v in values)) for name, values, _ in shown]
        colours = [
            [CHANGED if differs else None] * (len(values) + 1) for _, values, differs in shown
        ]
        fill_table(self.params, rows, colours)

    def _draw(self) -> None:
        if not self.series:
            return
        charts.when_ready(self, self._draw_now, also=plots.MODULES)

    def _draw_now(self) -> None:
        if self.canvas is None:
            self.canvas = charts.ChartCanvas(height=4)
            self.canvas_holder.addWidget(self.canvas)
        curve, series = self.curve.currentData(), self.series
        self.canvas.draw(lambda figure: plots.draw_overlay(figure, curve, series))
