"""One model version in full: metrics, parameters, notes and tags, plots, lineage,
evaluations, aliases with their history, and the spec it was trained from."""

from __future__ import annotations

import html
import json
import logging
from dataclasses import dataclass

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from mlops_desktop.domain import estimators, glossary
from mlops_desktop.domain.lineage import LineageStep
from mlops_desktop.domain.model import Alias, Evaluation, ModelVersion, Promotion
from mlops_desktop.qt.widgets import charts
from mlops_desktop.qt.widgets.tables import BAD, GOOD, fill_table, text_table
from mlops_desktop.qt.workers.modules import when_imported
from mlops_desktop.services import plots as drawing
from mlops_desktop.services.registry import primary_score

log = logging.getLogger(__name__)

_ARROW = "&nbsp;&nbsp;→&nbsp;&nbsp;"
_KIND_NAMES = {
    "raw_file": "raw file",
    "dataset_version": "dataset version",
    "experiment": "experiment",
    "job": "training job",
    "model_version": "model version",
    "alias": "alias",
    "serving_session": "serving session",
}


@dataclass
class VersionDetail:
    """Everything the detail view shows, read in one go off the GUI thread."""

    version: ModelVersion
    plots: dict
    aliases: list[Alias]  # every alias of the version's model
    gates: dict[str, list[str]]
    promotions: list[Promotion]
    lineage: list[LineageStep]
    evaluations: list[Evaluation]
    evaluation_plots: dict[str, dict]


def load_detail(project_path: str, version_uuid: str, state) -> VersionDetail:
    """Task function (thread): read one version and all that hangs off it."""
    from mlops_desktop.services.project import Project

    with Project.open(project_path, read_only=True) as project:
        models = project.models
        version = models.by_uuid(version_uuid)
        evaluations = models.evaluations(version)
        return VersionDetail(
            version=version,
            plots=models.plots(version),
            aliases=models.aliases(version.name),
            gates=models.all_gates(version.name),
            promotions=models.promotions(version.name),
            lineage=models.lineage(version.label),
            evaluations=evaluations,
            evaluation_plots={e.uuid: models.evaluation_plots(e) for e in evaluations},
        )


def _number(value) -> str:
    return "" if value is None else f"{value:.4g}"


def lineage_html(steps: list[LineageStep]) -> str:
    """The chain as one line of boxes joined by arrows; each box a link that opens it."""
    cells = []
    for step in steps:
        name = html.escape(step.label)
        if step.key is not None and not step.missing:
            name = f'<a href="{step.kind}|{html.escape(step.key)}">{name}</a>'
        cells.append(
            f"<td style='padding:6px 10px; border:1px solid #9a9a9a;'>"
            f"<small>{_KIND_NAMES.get(step.kind, step.kind)}</small><br><b>{name}</b><br>"
            f"<small>{html.escape(step.detail)}</small></td>"
        )
    return "<table cellspacing='0'><tr>" + f"<td>{_ARROW}</td>".join(cells) + "</tr></table>"


class PlotsTab(QWidget):
    """A list of the plots a version (or evaluation) has, and the chosen one drawn."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.plots: dict = {}
        self.title = ""
        self.list = QListWidget()
        self.list.setMaximumWidth(220)
        self.list.currentRowChanged.connect(self._draw)
        self.holder = QVBoxLayout()
        self.canvas: charts.ChartCanvas | None = None
        self.empty = QLabel("No plots were recorded.")
        self.empty.setObjectName("hint")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.holder.addWidget(self.empty)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.list)
        layout.addLayout(self.holder, 1)
        self._keys: list[str] = []
        self._drawn: tuple | None = None  # (key, title, plots) on the canvas now

    def show_plots(self, plots: dict, title: str) -> None:
        self.plots, self.title = plots, title
        available = drawing.available(plots)
        self._keys = [key for key, _ in available]
        current = self.list.currentRow()
        self.list.blockSignals(True)
        self.list.clear()
        self.list.addItems([name for _, name in available])
        self.list.blockSignals(False)
        self.empty.setVisible(not available)
        if available:
            self.list.setCurrentRow(min(max(current, 0), len(available) - 1))
            self._draw(self.list.currentRow())
        elif self.canvas is not None:
            self.canvas.hide()

    def _draw(self, row: int) -> None:
        if row < 0 or row >= len(self._keys):
            return
        charts.when_ready(self, lambda: self._draw_now(self._keys[row]), also=drawing.MODULES)

    def _draw_now(self, key: str) -> None:
        if self.canvas is None:
            self.canvas = charts.ChartCanvas(height=4)
            self.holder.addWidget(self.canvas, 1)
        self.canvas.show()
        # A refresh shows the same version again: drawing costs a tenth of a second or more.
        drawn = (key, self.title, self.plots)
        if drawn == self._drawn:
            return
        plots, title = self.plots, self.title
        self.canvas.draw(lambda figure: drawing.draw(figure, key, plots, title))
        self._drawn = drawn


class VersionDetailView(QTabWidget):
    """Shows a ``VersionDetail``; emits what the user asks of it."""

    reveal = Signal(str, str)  # kind, key: open that object in its panel
    save_annotations = Signal(str, str, list)  # version uuid, notes, tags

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("version-detail")
        self.detail: VersionDetail | None = None
        self.addTab(self._summary_tab(), "Summary")
        self.plots = PlotsTab()
        self.addTab(self.plots, "Plots")
        self.addTab(self._lineage_tab(), "Lineage")
        self.addTab(self._evaluations_tab(), "Evaluations")
        self.addTab(self._aliases_tab(), "Aliases")
        self.spec = QPlainTextEdit()
        self.spec.setReadOnly(True)
        self.spec.setObjectName("monospace")
        self.addTab(self.spec, "Spec and environment")

    # -- building the tabs ----------------------------------------------------------------------

    def _summary_tab(self) -> QWidget:
        self.heading = QLabel()
        self.heading.setObjectName("section-title")
        self.heading.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.facts = QLabel()
        self.facts.setWordWrap(True)
        self.facts.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.metrics = text_table(("Metric", "CV (mean ± std)", "Hold-out"), "version-metrics")
        self.params = text_table(("Parameter", "Value"), "version-params")
        self.notes = QPlainTextEdit()
        self.notes.setPlaceholderText("Notes for your team: why this version, what to watch…")
        self.notes.textChanged.connect(self._annotations_edited)
        self.tags = QLineEdit()
        self.tags.setPlaceholderText("Tags, separated by commas")
        self.tags.textEdited.connect(self._annotations_edited)
        self.save_button = QPushButton("Save notes and tags")
        self.save_button.setEnabled(False)
        self.save_button.clicked.connect(self._save_annotations)
        tables = QSplitter(Qt.Orientation.Vertical)
        tables.addWidget(self.metrics)
        tables.addWidget(self.params)
        right = QWidget()
        form = QVBoxLayout(right)
        form.setContentsMargins(0, 0, 0, 0)
        form.addWidget(self.facts)
        form.addWidget(QLabel("Notes"))
        form.addWidget(self.notes, 1)
        tags = QFormLayout()
        tags.addRow("Tags", self.tags)
        form.addLayout(tags)
        form.addWidget(self.save_button, 0, Qt.AlignmentFlag.AlignRight)
        body = QSplitter()
        body.addWidget(tables)
        body.addWidget(right)
        body.setSizes([520, 380])
        tab = QWidget()
        layout = QVBoxLayout(tab)
        layout.addWidget(self.heading)
        layout.addWidget(body, 1)
        return tab

    def _lineage_tab(self) -> QWidget:
        self.lineage = QLabel()
        self.lineage.setObjectName("lineage")
        self.lineage.setTextFormat(Qt.TextFormat.RichText)
        self.lineage.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.lineage.linkActivated.connect(self._link)
        hint = QLabel(
            "Every arrow is a stored reference: click a box to open it in its panel. "
            "Serving sessions join the chain once the version is served."
        )
        hint.setObjectName("hint")
        hint.setWordWrap(True)
        # A long chain (retrains, many sessions) scrolls sideways instead of widening the
        # window beyond the screen.
        chain = QScrollArea()
        chain.setWidget(self.lineage)
        chain.setWidgetResizable(True)
        chain.setFrameShape(QScrollArea.Shape.NoFrame)
        tab = QWidget()
        layout = QVBoxLayout(tab)
        layout.addWidget(chain, 1)
        layout.addWidget(hint)
        return tab

    def _evaluations_tab(self) -> QWidget:
        self.evaluations = text_table(("Dataset", "Rows", "Recipe", "Metrics", "When", "By"))
        self.evaluations.setObjectName("evaluations")
        self.evaluations.itemSelectionChanged.connect(self._evaluation_selected)
        self.no_evaluations = QLabel(
            "Not evaluated on other data yet: press Evaluate… to measure this version on "
            "another dataset version, through its own recipe and pipeline."
        )
        self.no_evaluations.setObjectName("hint")
        self.no_evaluations.setWordWrap(True)
        self.evaluation_plots = PlotsTab()
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.evaluations)
        split.addWidget(self.evaluation_plots)
        split.setSizes([160, 400])
        tab = QWidget()
        layout = QVBoxLayout(tab)
        layout.addWidget(self.no_evaluations)
        layout.addWidget(split, 1)
        return tab

    def _aliases_tab(self) -> QWidget:
        self.alias_table = text_table(("Alias", "Points at", "Gates", "Set by", "When"))
        self.alias_table.setObjectName("aliases")
        self.history = text_table(
            ("When", "Alias", "Version", "Outcome", "Gates", "Reason", "By"), "promotions"
        )
        tab = QWidget()
        layout = QVBoxLayout(tab)
        layout.addWidget(QLabel("Aliases of this model"))
        layout.addWidget(self.alias_table, 1)
        layout.addWidget(QLabel("Every promotion, with what its gates said"))
        layout.addWidget(self.history, 2)
        return tab

    # -- showing a version ----------------------------------------------------------------------

    def show_detail(self, detail: VersionDetail | None) -> None:
        # Notes or tags being typed stay when the same version is shown again (a refresh).
        typing = (
            self.detail is not None
            and detail is not None
            and self.detail.version.uuid == detail.version.uuid
            and self.save_button.isEnabled()
        )
        self.detail = detail
        self.setEnabled(detail is not None)
        if detail is None:
            return
        version = detail.version
        self.heading.setText(f"{version.label}  ·  {version.estimator}")
        self._show_summary(version, keep_annotations=typing)
        self.plots.show_plots(detail.plots, version.label)
        self.lineage.setText(lineage_html(detail.lineage))
        self._show_evaluations(detail)
        self._show_aliases(detail)
        self.spec.setPlainText(
            "Spec\n"
            + json.dumps(version.spec, indent=2)
            + "\n\nSignature\n"
            + json.dumps(version.signature, indent=2)
            + "\n\nEnvironment\n"
            + json.dumps(version.environment, indent=2)
        )

    def _show_summary(self, version: ModelVersion, keep_annotations: bool = False) -> None:
        mine = [a.name for a in self.detail.aliases if a.version_uuid == version.uuid]
        self.facts.setText(
            f"Trained on <b>{html.escape(version.dataset_label or '?')}</b> by experiment "
            f"<b>{html.escape(version.experiment_name)}</b> ({version.task}); "
            f"{primary_score(version)}.<br>"
            f"Created {version.created_at[:16].replace('T', ' ')} UTC by "
            f"{html.escape(version.created_by)}; fitted in {version.fit_seconds:.1f} s; "
            f"hold-out predicted in {1000 * version.predict_seconds:.0f} ms "
            f"({version.metrics.get('rows', {}).get('holdout', '?')} rows).<br>"
            f"Aliases: {', '.join(mine) or 'none'}; seed {version.seed}."
        )
        cv = version.metrics.get("cv", {})
        holdout = version.metrics.get("holdout", {})
        names = list(cv) + [n for n in holdout if n not in cv]
        rows = []
        for name in names:
            score = cv.get(name) or {}
            cv_text = (
                f"{score['mean']:.4g} ± {score.get('std') or 0:.2g}"
                if score.get("mean") is not None
                else ""
            )
            rows.append((name, cv_text, _number(holdout.get(name))))
        fill_table(self.metrics, rows, explain=glossary.metric)
        self._show_params(version)
        if keep_annotations:
            return
        self.notes.blockSignals(True)
        self.notes.setPlainText(version.notes)
        self.notes.blockSignals(False)
        self.tags.setText(", ".join(version.tags))
        self.save_button.setEnabled(False)

    def _show_params(self, version: ModelVersion) -> None:
        """The parameters set or found by the search in bold; scikit-learn's defaults for the
        rest once the estimator's module is imported (off the GUI thread: it can take seconds)."""
        chosen = sorted(version.params.items())
        fill_table(
            self.params, [(k, json.dumps(v)) for k, v in chosen], bold_rows=[True] * len(chosen)
        )
        module = estimators.CATALOGUE.get(version.estimator, (None,))[0]
        if module is None:
            return
        when_imported(
            self,
            module,
            lambda: self._show_defaults(version),
            lambda exc: log.warning("no defaults for %s: %s", version.estimator, exc),
        )

    def _show_defaults(self, version: ModelVersion) -> None:
        if self.detail is None or self.detail.version.uuid != version.uuid:
            return  # another version is shown by now
        final = estimators.seeded_params(version.estimator, version.params, version.seed)
        defaults = {
            p.name: p.default
            for p in estimators.parameters(version.estimator)
            if p.name not in final
        }
        rows = [(k, json.dumps(v, default=repr)) for k, v in sorted(final.items())]
        rows += [(k, json.dumps(v, default=repr)) for k, v in sorted(defaults.items())]
        fill_table(self.params, rows, bold_rows=[i < len(final) for i in range(len(rows))])
        self.params.setToolTip(
            "In bold: set in the spec, found by the search, or the seed; the rest are "
            f"{version.estimator}'s defaults."
        )

    def _show_evaluations(self, detail: VersionDetail) -> None:
        rows = []
        for evaluation in detail.evaluations:
            shown = ", ".join(
                f"{k} {_number(v)}" for k, v in evaluation.metrics.items() if v is not None
            )
            rows.append(
                (
                    evaluation.dataset_label,
                    f"{evaluation.rows:,}",
                    f"{len(evaluation.recipe)} steps" if evaluation.recipe else "as it is",
                    shown,
                    evaluation.created_at[:16].replace("T", " "),
                    evaluation.created_by,
                )
            )
        fill_table(self.evaluations, rows)
        has = bool(rows)
        self.no_evaluations.setVisible(not has)
        self.evaluations.setVisible(has)
        self.evaluation_plots.setVisible(has)
        if has:
            self.evaluations.selectRow(0)

    def _evaluation_selected(self) -> None:
        rows = {i.row() for i in self.evaluations.selectedIndexes()}
        if not rows or self.detail is None:
            return
        evaluation = self.detail.evaluations[min(rows)]
        self.evaluation_plots.show_plots(
            self.detail.evaluation_plots.get(evaluation.uuid, {}),
            f"{self.detail.version.label} on {evaluation.dataset_label}",
        )

    def _show_aliases(self, detail: VersionDetail) -> None:
        fill_table(
            self.alias_table,
            [
                (
                    a.label,
                    f"{a.model}:{a.version}",
                    "; ".join(detail.gates.get(a.name, [])) or "none",
                    a.set_by,
                    a.set_at[:16].replace("T", " "),
                )
                for a in detail.aliases
            ],
            bold_rows=[a.version_uuid == detail.version.uuid for a in detail.aliases],
        )
        colours = {"promoted": GOOD, "overridden": BAD, "blocked": BAD}
        rows, cells = [], []
        for p in detail.promotions:
            gates = "; ".join(
                f"{'✓' if g['passed'] else '✗'} {g['gate']} ({g['message']})" for g in p.gates
            )
            rows.append(
                (
                    p.created_at[:16].replace("T", " "),
                    p.alias,
                    p.version_label + (f" (was {p.previous_label})" if p.previous_label else ""),
                    p.outcome,
                    gates or "no gates",
                    p.reason or "",
                    p.created_by,
                )
            )
            cells.append([None, None, None, colours.get(p.outcome)])
        fill_table(self.history, rows, cells)

    # -- edits and links ------------------------------------------------------------------------

    def tag_list(self) -> list[str]:
        return [t.strip() for t in self.tags.text().split(",") if t.strip()]

    def set_read_only(self, read_only: bool) -> None:
        """Classroom mode: notes and tags can be read and copied, not changed."""
        self.notes.setReadOnly(read_only)
        self.tags.setReadOnly(read_only)
        self.save_button.setVisible(not read_only)

    def _annotations_edited(self, *_args) -> None:
        if self.detail is None:
            return
        version = self.detail.version
        changed = (
            self.notes.toPlainText().strip() != version.notes or self.tag_list() != version.tags
        )
        self.save_button.setEnabled(changed)

    def _save_annotations(self) -> None:
        if self.detail is not None:
            self.save_annotations.emit(
                self.detail.version.uuid, self.notes.toPlainText(), self.tag_list()
            )

    def _link(self, target: str) -> None:
        kind, _, key = target.partition("|")
        self.reveal.emit(kind, key)
