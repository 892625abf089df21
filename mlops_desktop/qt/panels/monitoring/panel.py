"""The Monitoring panel: is what a version sees, served or new data, like its training data?"""

from __future__ import annotations

import time
from functools import partial

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from mlops_desktop.domain import glossary
from mlops_desktop.domain.drift import AMBER, GREEN, RED, ColumnDrift
from mlops_desktop.qt.context import ProjectContext
from mlops_desktop.qt.panels.base import Panel
from mlops_desktop.qt.panels.monitoring import drawing
from mlops_desktop.qt.panels.monitoring.performance_dialog import PerformanceDialog
from mlops_desktop.qt.panels.monitoring.retrain_dialog import RetrainDialog
from mlops_desktop.qt.panels.monitoring.thresholds_dialog import ThresholdsDialog
from mlops_desktop.qt.widgets import charts
from mlops_desktop.qt.widgets.tables import BAD, CHANGED, GOOD, fill_table, text_table
from mlops_desktop.qt.widgets.task_area import follow
from mlops_desktop.services.monitoring import Look, look_task

#: The windows of served traffic offered: label -> seconds before now (None: all of it).
WINDOWS = (("last hour", 3600), ("last day", 86400), ("last week", 7 * 86400), ("all", None))
SERVED, DATASET = "served", "dataset"
STATUS_BRUSH = {GREEN: GOOD, AMBER: CHANGED, RED: BAD}
STATUS_HTML = {GREEN: "#198754", AMBER: "#b58100", RED: "#dc3545"}
ALERT_PREFIX, ALERT_SUFFIX = "Monitoring alert: ", " Look at it in the Monitoring panel."
#: Banners one look may raise, one per column newly crossing; the rest share one more.
MAX_ALERT_BANNERS = 3

#: The overview's columns and what each says, in the words of docs/monitoring.md.
#: The overview's columns, with what each means (the header's tooltip).
COLUMNS = tuple(glossary.DRIFT.items())
#: Which measure of ``ColumnDrift.crossed`` colours which cell of the overview.
MEASURE_CELLS = {"psi": 6, "wasserstein": 5, "cramers_v": 5, "missing": 7, "new_categories": 8}


def choices_task(project_path: str, state) -> dict:
    """Task function (thread): the versions to monitor (newest first), the dataset versions,
    and the versions that have been served."""
    from mlops_desktop.services.project import Project

    with Project.open(project_path, read_only=True) as project:
        versions = sorted(project.models.list(), key=lambda v: (v.name, -v.version))
        return {
            "versions": [
                (v.label, f"{v.label}  ({v.estimator}, {v.dataset_label or 'no dataset'})")
                for v in versions
            ],
            "datasets": [
                (d.label, f"{d.label}  ({d.rows:,} rows)")
                for d in sorted(project.datasets.list(), key=lambda d: (d.name, -d.version))
            ],
            "served": sorted({s.version_label for s in project.serving.sessions()}),
        }


def _number(value: float | None) -> str:
    return "–" if value is None else f"{value:.3g}"


def _percent(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.0%}" if value >= 0.01 or value == 0 else f"{value:.2%}"


def overview_rows(report) -> tuple[list[list[str]], list[list]]:
    """The overview's cells and colours: one row per column, the predictions, and the
    columns not compared."""
    rows, colours = [], []
    every = [*report.drift.columns, *([report.drift.prediction] if report.drift.prediction else [])]
    for c in every:
        rows.append(
            [
                c.name,
                c.status,
                c.test or "–",
                _number(c.statistic),
                _number(c.p_value),
                "–" if c.effect is None else f"{c.effect:.3g} ({c.effect_name})",
                _number(c.psi),
                f"{_percent(c.missing_reference)} → {_percent(c.missing_current)}",
                _percent(c.new_categories),
                c.note,
            ]
        )
        cells: list = [None] * len(COLUMNS)
        cells[1] = STATUS_BRUSH[c.status]
        for crossing in c.crossed:
            cell = MEASURE_CELLS.get(crossing.measure)
            if cell is not None:
                cells[cell] = STATUS_BRUSH[crossing.status]
        colours.append(cells)
    for name, why in report.drift.skipped.items():
        rows.append([name, "not compared", *["–"] * 7, why])
        colours.append([None] * len(COLUMNS))
    return rows, colours


#: The measures' names as people say them, in banners.
_MEASURE_NAMES = {
    "psi": "PSI",
    "wasserstein": "the Wasserstein effect",
    "cramers_v": "Cramér's V",
    "missing": "the change in the missing share",
    "new_categories": "the new-category share",
    "p95_ms": "p95 (ms)",
    "error_rate": "the error rate",
}


def alert_sentences(report) -> list[tuple[str, str, str]]:
    """(status, subject, sentence) per subject with thresholds this look was the first to see
    crossed, worst first: the model, the column (or latency, errors) and what crossed."""
    subjects: dict[str, list] = {}
    for alert in report.alerts:
        if alert.new:
            subjects.setdefault(alert.subject, []).append(alert)
    # The dataset's label, without the recipe explanation the report adds in brackets.
    what = "its served traffic" if report.scope == SERVED else report.against.split(" (")[0]
    found = []
    for subject, alerts in subjects.items():
        status = RED if any(a.status == RED for a in alerts) else AMBER
        crossed = " and ".join(
            f"{_MEASURE_NAMES.get(a.measure, a.measure)} {a.value:.3g} over its {a.status} "
            f"threshold {a.threshold:g}"
            for a in alerts
        )
        found.append(
            (
                status,
                subject,
                f"{ALERT_PREFIX}{report.version} on {what}: {subject} crossed "
                f"{crossed}.{ALERT_SUFFIX}",
            )
        )
    return sorted(found, key=lambda found: found[0] != RED)


class MonitoringPanel(Panel):
    title = "Monitoring"

    def __init__(self, context: ProjectContext, parent: QWidget | None = None):
        super().__init__(context, parent)
        self.look: Look | None = None
        self._failure = ""  # why the last look could not be made, until the form changes
        self._choices: dict | None = None
        self._choosing = None
        self.running = None
        self.drift_canvas: charts.ChartCanvas | None = None
        self.ops_canvas: charts.ChartCanvas | None = None
        charts.warm_up()

        self.version_choice = QComboBox()
        self.version_choice.setObjectName("monitor-version")
        self.version_choice.setMinimumContentsLength(24)
        self.scope_choice = QComboBox()
        self.scope_choice.setObjectName("monitor-scope")
        self.scope_choice.addItem("Served traffic", SERVED)
        self.scope_choice.addItem("A dataset version", DATASET)
        self.scope_choice.setToolTip(
            "Served traffic: the rows the model server was asked to predict (its prediction "
            "log). A dataset version: new data, through the recipe that prepared the training "
            "data, and the version's predictions for it"
        )
        self.window_choice = QComboBox()
        self.window_choice.setObjectName("monitor-window")
        for text, seconds in WINDOWS:
            self.window_choice.addItem(text, seconds)
        self.window_choice.setCurrentIndex(1)
        self.dataset_choice = QComboBox()
        self.dataset_choice.setObjectName("monitor-dataset")
        self.dataset_choice.setMinimumContentsLength(18)
        self.check_button = QPushButton("Check drift")
        self.check_button.setObjectName("monitor-check")
        self.check_button.setDefault(True)
        self.check_button.setToolTip("Compare with the version's training data, in the background")
        self.check_button.clicked.connect(self.check)
        self.thresholds_button = QPushButton("Thresholds…")
        self.thresholds_button.setObjectName("monitor-thresholds")
        self.thresholds_button.setToolTip("See or change when a column turns amber or red")
        self.thresholds_button.clicked.connect(self.edit_thresholds)
        self.performance_button = QPushButton("Live performance…")
        self.performance_button.setObjectName("monitor-performance")
        self.performance_button.setToolTip(
            "Score the served predictions against true values that arrived later, next to "
            "the training metrics"
        )
        self.performance_button.clicked.connect(self.show_performance)
        self.retrain_button = QPushButton("Retrain…")
        self.retrain_button.setObjectName("monitor-retrain")
        self.retrain_button.setToolTip(
            "Train the version again on new data with its own recipe and experiment, then "
            "judge it against the alias holder"
        )
        self.retrain_button.clicked.connect(self.show_retrain)
        self.progress = QProgressBar()
        self.progress.setVisible(False)
        self.progress.setMaximumWidth(220)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setVisible(False)
        self.cancel_button.clicked.connect(self.cancel)

        top = QHBoxLayout()
        top.addWidget(QLabel("Model"))
        top.addWidget(self.version_choice, 2)
        top.addWidget(QLabel("compared with"))
        top.addWidget(self.scope_choice)
        top.addWidget(self.window_choice)
        top.addWidget(self.dataset_choice, 1)
        top.addWidget(self.check_button)
        top.addWidget(self.progress)
        top.addWidget(self.cancel_button)
        top.addStretch(0)
        # The actions share the heading's line: one row for everything would set the
        # window's minimum width and squeeze the navigation.
        actions = QHBoxLayout()
        actions.addStretch(1)
        actions.addWidget(self.performance_button)
        actions.addWidget(self.retrain_button)
        actions.addWidget(self.thresholds_button)

        self.heading = QLabel()
        self.heading.setObjectName("monitor-heading")
        self.heading.setWordWrap(True)
        self.heading.setTextFormat(Qt.TextFormat.RichText)
        self.empty = QLabel()
        self.empty.setObjectName("hint")
        self.empty.setWordWrap(True)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)

        self.table = text_table([name for name, _ in COLUMNS], "monitor-table")
        self.table.setSelectionMode(self.table.SelectionMode.SingleSelection)
        for index, (_name, meaning) in enumerate(COLUMNS):
            self.table.horizontalHeaderItem(index).setToolTip(meaning)
        self.table.itemSelectionChanged.connect(self.draw_selected)
        self.drift_chart_page = QWidget()
        self.drift_chart_layout = QVBoxLayout(self.drift_chart_page)
        self.drift_chart_layout.setContentsMargins(0, 0, 0, 0)
        self.drift_hint = QLabel("Select a row to see its distribution in training and now.")
        self.drift_hint.setObjectName("hint")
        self.drift_hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.drift_chart_layout.addWidget(self.drift_hint)
        drift = QSplitter(Qt.Orientation.Vertical)
        drift.addWidget(self.table)
        drift.addWidget(self.drift_chart_page)
        drift.setSizes([220, 420])
        drift.setChildrenCollapsible(False)

        self.ops_page = QWidget()
        self.ops_layout = QVBoxLayout(self.ops_page)
        self.ops_layout.setContentsMargins(0, 0, 0, 0)
        self.ops_summary = QLabel()
        self.ops_summary.setObjectName("monitor-ops-summary")
        self.ops_summary.setWordWrap(True)
        self.ops_summary.setTextFormat(Qt.TextFormat.RichText)
        self.ops_layout.addWidget(self.ops_summary)

        self.tabs = QTabWidget()
        self.tabs.addTab(drift, "Drift")
        self.tabs.addTab(self.ops_page, "Service level")
        self.tabs.currentChanged.connect(lambda _index: self.draw_operations())

        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addLayout(top)
        heading = QHBoxLayout()
        heading.addWidget(self.heading, 1)
        heading.addLayout(actions)
        layout.addLayout(heading)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.empty, 1)

        for combo in (
            self.version_choice,
            self.scope_choice,
            self.window_choice,
            self.dataset_choice,
        ):
            combo.currentIndexChanged.connect(lambda _index: self._form_changed())
        context.changed.connect(self.refresh_choices)
        charts.when_ready(self, self._charts_ready)
        self._show_look(None)
        self._update_form()
        QTimer.singleShot(0, self.refresh_choices)

    # -- what to compare ------------------------------------------------------------------------

    def refresh_choices(self) -> None:
        if self._choosing is not None and self._choosing.running:
            return
        handle = self.context.runner.start(
            "Reading models to monitor", choices_task, str(self.context.project.path), owner=self
        )
        self._choosing = handle
        handle.succeeded.connect(self._show_choices)
        handle.failed.connect(self.context.notifications.show_error)

    def _show_choices(self, choices: dict) -> None:
        if choices == self._choices:
            return
        self._choices = choices
        for combo, items in (
            (self.version_choice, choices["versions"]),
            (self.dataset_choice, choices["datasets"]),
        ):
            current = combo.currentData()
            combo.blockSignals(True)
            combo.clear()
            for ref, text in items:
                combo.addItem(text, ref)
            combo.setCurrentIndex(max(combo.findData(current), 0))
            combo.blockSignals(False)
        self._update_form()

    def choose(self, ref: str) -> bool:
        """Select version ``ref`` (MODEL:N); False if it is not listed."""
        index = self.version_choice.findData(ref)
        if index >= 0:
            self.version_choice.setCurrentIndex(index)
        return index >= 0

    def _scope(self) -> str:
        return self.scope_choice.currentData()

    def _update_form(self) -> None:
        served = self._scope() == SERVED
        self.window_choice.setVisible(served)
        self.dataset_choice.setVisible(not served)
        idle = self.running is None or not self.running.running
        ref = self.version_choice.currentData()
        if served:
            ready = ref in (self._choices or {}).get("served", ())
        else:
            ready = ref is not None and self.dataset_choice.currentData() is not None
        self.check_button.setEnabled(idle and ready)
        self.performance_button.setEnabled(served and ready)
        self.retrain_button.setEnabled(ref is not None and not self.context.project.read_only)
        if self.look is None and idle:
            self._show_empty(self._failure or self._why_not_ready())

    def _form_changed(self) -> None:
        self._failure = ""
        self._update_form()

    def _why_not_ready(self) -> str:
        """What to do before a look can be made; empty when one can."""
        if self._choices is None:
            return "Reading the model versions…"
        ref = self.version_choice.currentData()
        if ref is None:
            return (
                "No model versions yet. Train one from the Experiments panel and the Training "
                "queue: every version remembers its training data, so it can be monitored "
                "with no setup."
            )
        if self._scope() == SERVED and ref not in self._choices["served"]:
            return (
                f"{ref} has no served traffic yet: serve it from the Serving panel with "
                "“Log predictions” on and send it requests, or compare a dataset version "
                "instead."
            )
        if self._scope() == DATASET and self.dataset_choice.currentData() is None:
            return "The project has no dataset version to compare: import one in the Data panel."
        return f"Press {self.check_button.text()} to compare {ref} with its training data."

    # -- a look ---------------------------------------------------------------------------------

    def check(self) -> None:
        """Compute the report in a child process (the statistics and predictions are heavy)."""
        ref = self.version_choice.currentData()
        if ref is None or (self.running is not None and self.running.running):
            return
        if self._scope() == SERVED:
            if ref not in (self._choices or {}).get("served", ()):
                self._show_look(None)
                self._show_empty(self._why_not_ready())
                return
            since, dataset = self._since(), None
            title = f"Checking {ref}'s traffic ({self.window_choice.currentText()})"
        else:
            since, dataset = None, self.dataset_choice.currentData()
            title = f"Checking {dataset} against {ref}"
        handle = self.context.runner.start(
            title,
            look_task,
            str(self.context.project.path),
            ref,
            dataset,
            since,
            self.context.project.read_only,
            in_process=True,
            owner=self,
        )
        self.running = handle
        follow(handle, self.progress, self.cancel_button)
        handle.progress.connect(self._progress)
        handle.succeeded.connect(self._done)
        handle.failed.connect(self._failed)
        handle.finished.connect(self._finished)
        self._update_form()

    def _since(self) -> float | None:
        seconds = self.window_choice.currentData()
        return None if seconds is None else time.time() - seconds

    def cancel(self) -> None:
        if self.running is not None and self.running.running:
            self.running.cancel()

    def show_performance(self) -> PerformanceDialog:
        """Open the live-performance dialog for the chosen version's served window."""
        dialog = PerformanceDialog(
            self.context,
            self.version_choice.currentData(),
            self._since(),
            self.window_choice.currentText(),
            (self._choices or {}).get("datasets", []),
            self,
        )
        dialog.setModal(True)
        dialog.show()
        return dialog

    def retrain_from_alert(self, ref: str, reason: str) -> RetrainDialog | None:
        """Retrain version ``ref`` because of an alert (its banner's action)."""
        window = self.window()
        if hasattr(window, "show_panel"):
            window.show_panel("monitoring")
        if not self.choose(ref):
            self.context.notifications.show_error(
                f"{ref} is no longer in the project, so it cannot be retrained."
            )
            return None
        return self.show_retrain(reason)

    def show_retrain(self, reason: str | None = None) -> RetrainDialog:
        """Open the retraining dialog for the chosen version; unless ``reason`` is given, a
        look that found drift in it gives the reason."""
        ref = self.version_choice.currentData()
        reason = self._drift_reason(ref) if reason is None else reason
        # One indexed query: quick enough for the event loop.
        pending = next(
            (r for r in reversed(self.context.project.retraining.of_version(ref)) if not r.review),
            None,
        )
        datasets = (self._choices or {}).get("datasets", [])
        dialog = RetrainDialog(self.context, ref, datasets, reason, pending, self)
        dialog.setModal(True)
        dialog.show()
        return dialog

    def _drift_reason(self, ref: str) -> str:
        """``red drift on iris:2 in petal length (cm)`` when the shown look found drift in
        ``ref``; else nothing."""
        look = self.look
        if look is None or look.report.version != ref or look.report.status == GREEN:
            return ""
        drifted = [c.name for c in look.report.drift.columns if c.status != GREEN]
        what = "served traffic" if look.report.scope == SERVED else look.report.against
        reason = f"{look.report.status} drift on {what.split(' (')[0]}"
        return reason + (f" in {', '.join(drifted[:3])}" if drifted else "")

    def _progress(self, _fraction, message: str) -> None:
        self.progress.setToolTip(message)

    def _finished(self) -> None:
        self._update_form()

    def _failed(self, message: str) -> None:
        self._failure = message
        self._show_look(None)
        self._show_empty(message)

    def _done(self, look: Look) -> None:
        self._failure = ""
        self._show_look(look)
        self._announce(look.report)
        if any(a.new for a in look.report.alerts):
            self.context.mark_changed()  # the alerts went into the history

    def _announce(self, report) -> None:
        """A banner per column with a threshold this look was the first to see crossed (the
        service recorded each in the history once): later looks that still find it crossed
        stay quiet."""
        found = alert_sentences(report)
        notifications = self.context.notifications
        for status, _subject, sentence in found[:MAX_ALERT_BANNERS]:
            show = notifications.show_error if status == RED else notifications.show_warning
            banner = show(sentence)
            if not self.context.project.read_only:
                reason = sentence.removeprefix(ALERT_PREFIX).removesuffix(ALERT_SUFFIX)
                action = banner.add_action(
                    "Retrain…", partial(self.retrain_from_alert, report.version, reason)
                )
                # The banner can outlive this panel (the project closes): then it only informs.
                self.destroyed.connect(action.deleteLater)
        rest = [subject for _status, subject, _sentence in found[MAX_ALERT_BANNERS:]]
        if rest:
            notifications.show_warning(
                f"Monitoring alert: {report.version}: {len(rest)} more "
                f"{'column' if len(rest) == 1 else 'columns'} crossed thresholds "
                f"({', '.join(rest)}). Look at {'it' if len(rest) == 1 else 'them'} in the "
                "Monitoring panel."
            )

    def _show_empty(self, message: str) -> None:
        self.empty.setText(message)

    def _show_look(self, look: Look | None) -> None:
        self.look = look
        self.tabs.setVisible(look is not None)
        self.heading.setVisible(look is not None)
        self.empty.setVisible(look is None)
        if look is None:
            return
        report = look.report
        colour = STATUS_HTML[report.status]
        window = ""
        if report.scope == SERVED:
            window = f" since {report.since[:16].replace('T', ' ')}" if report.since else ""
        self.heading.setText(
            f'<b style="color:{colour}">{report.status.upper()}</b>  ·  <b>{report.version}</b>'
            f" against {report.against}{window}  ·  {report.drift.rows:,} rows  ·  reference "
            f"from {report.reference}"
        )
        rows, colours = overview_rows(report)
        fill_table(self.table, rows, colours)
        # Sizing the columns to their contents leaves the last one narrow until a resize.
        header = self.table.horizontalHeader()
        header.setStretchLastSection(False)
        header.setStretchLastSection(True)
        for r in range(self.table.rowCount()):
            note = self.table.item(r, len(COLUMNS) - 1)
            note.setToolTip(note.text())
        self.tabs.setTabEnabled(1, report.operations is not None)
        if report.operations is None and self.tabs.currentIndex() == 1:
            self.tabs.setCurrentIndex(0)
        worst = next((r for r, row in enumerate(rows) if row[1] == report.drift.status), 0)
        self.table.selectRow(worst)
        self.draw_selected()
        self.draw_operations()

    # -- charts ---------------------------------------------------------------------------------

    def _charts_ready(self) -> None:
        self.drift_canvas = charts.ChartCanvas(height=4.4)
        self.drift_canvas.setObjectName("monitor-drift-chart")
        self.drift_chart_layout.addWidget(self.drift_canvas)
        self.ops_canvas = charts.ChartCanvas(height=5)
        self.ops_canvas.setObjectName("monitor-ops-chart")
        self.ops_layout.addWidget(self.ops_canvas, 1)
        self.draw_selected()
        self.draw_operations()

    def selected_column(self) -> ColumnDrift | None:
        rows = self.table.selectionModel().selectedRows()
        if self.look is None or not rows:
            return None
        drift = self.look.report.drift
        every = [*drift.columns, *([drift.prediction] if drift.prediction else [])]
        row = rows[0].row()
        return every[row] if row < len(every) else None

    def draw_selected(self) -> None:
        column = self.selected_column()
        self.drift_hint.setVisible(column is None or self.drift_canvas is None)
        if self.drift_canvas is None:
            return
        self.drift_canvas.setVisible(column is not None)
        if column is None:
            self.drift_hint.setText(
                "Select a compared row to see its distribution in training and now."
            )
            return
        look = self.look

        def draw(figure) -> None:
            figure.clear()
            if look.report.scope == SERVED:
                shares, over_time = figure.subplots(2, 1)
                drawing.draw_shares(shares, column)
                drawing.draw_drift_over_time(
                    over_time,
                    list(look.points),
                    column.name,
                    look.report.thresholds,
                    look.points_note,
                )
            else:
                drawing.draw_shares(figure.add_subplot(), column)

        self.drift_canvas.draw(draw)

    def draw_operations(self) -> None:
        if self.ops_canvas is None or self.look is None or self.look.report.operations is None:
            return
        ops = self.look.report.operations
        latency = "no answered requests"
        if ops.p95_ms is not None:
            latency = f"latency p50 {ops.p50_ms:.1f} ms, p95 {ops.p95_ms:.1f} ms"
        colour = STATUS_HTML[ops.status]
        self.ops_summary.setText(
            f'<b style="color:{colour}">{ops.status.upper()}</b>  ·  {ops.requests:,} requests, '
            f"{ops.errors:,} failed ({_percent(ops.error_rate)})  ·  {latency}  ·  SLA: p95 under "
            f"{ops.sla_p95_ms:g} ms, at most {_percent(ops.sla_error_rate)} failed"
        )
        if self.tabs.currentIndex() != 1:
            return  # drawn when the tab is shown
        self.ops_canvas.draw(lambda figure: drawing.draw_operations(figure, ops))

    # -- thresholds -----------------------------------------------------------------------------

    def edit_thresholds(self) -> None:
        dialog = ThresholdsDialog(self.context, self)
        if dialog.exec() and self.look is not None:
            self.context.notifications.show_info(
                "The thresholds changed: press Check drift to judge by the new ones."
            )
