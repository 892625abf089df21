"""The experiment editor: data and target, features, model, search; checked as you type."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from mlops_desktop.domain import estimators, glossary
from mlops_desktop.domain import experiment as ex
from mlops_desktop.domain.errors import UserError
from mlops_desktop.domain.pipeline import OutlineStep
from mlops_desktop.qt.context import ProjectContext
from mlops_desktop.qt.panels.experiments.features import FeaturesEditor
from mlops_desktop.qt.panels.experiments.params import ParamsForm
from mlops_desktop.qt.panels.experiments.search import SearchForm
from mlops_desktop.services.experiments import dry_run_task, plan_task

#: Wait this long after the last edit before checking the spec again.
CHECK_DELAY_MS = 300
_DEFAULT_ESTIMATOR = {
    "classification": "RandomForestClassifier",
    "regression": "RandomForestRegressor",
}


def _load_profile(project_path: str, dataset: str, state):
    from mlops_desktop.services.project import Project

    with Project.open(project_path, read_only=True) as project:
        version = project.datasets.get(dataset)
        return version.label, project.datasets.profile(version)


class ExperimentEditor(QWidget):
    saved = Signal(str)  # the experiment's name

    def __init__(self, context: ProjectContext, parent: QWidget | None = None):
        super().__init__(parent)
        self.context = context
        self.original_name: str | None = None
        self.profile = None
        self.task: str | None = None
        self.candidates = 0
        self.spec_error: str | None = None
        self._check_handle = self._profile_handle = None
        self._loading = False

        self.name = QLineEdit()
        self.model_name = QLineEdit()
        self.model_name.setPlaceholderText("same as the experiment")
        self.dataset = QComboBox()
        self.dataset.setToolTip(
            "A name means its latest version when the job starts; NAME:N pins one version."
        )
        self.target = QComboBox()
        self.task_box = QComboBox()
        self.task_box.addItems(ex.TASKS)
        self.task_reason = QLabel()
        self.task_reason.setObjectName("hint")
        data_tab = QWidget()
        data_form = QFormLayout(data_tab)
        data_form.addRow("Dataset", self.dataset)
        data_form.addRow("Target", self.target)
        data_form.addRow("Task", self.task_box)
        data_form.addRow("", self.task_reason)

        self.features = FeaturesEditor()
        self.estimator = QComboBox()
        self.params = ParamsForm()
        params_scroll = QScrollArea()
        params_scroll.setWidgetResizable(True)
        params_scroll.setWidget(self.params)
        model_tab = QWidget()
        model_layout = QVBoxLayout(model_tab)
        model_row = QFormLayout()
        model_row.addRow("Estimator", self.estimator)
        model_layout.addLayout(model_row)
        model_layout.addWidget(
            QLabel(
                "Hyper-parameters (hover for their documentation; empty "
                "fields keep scikit-learn's default)"
            )
        )
        model_layout.addWidget(params_scroll, 1)
        self.search = SearchForm()
        self.pipeline = QPlainTextEdit()
        self.pipeline.setReadOnly(True)
        self.pipeline.setObjectName("pipeline-text")
        self.pipeline.setFont(QFont("DejaVu Sans Mono", 9))
        self.pipeline.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.pipeline_steps = PipelineOutline()
        pipeline_tab = QSplitter(Qt.Orientation.Vertical)
        pipeline_tab.addWidget(self.pipeline_steps)
        pipeline_tab.addWidget(self.pipeline)
        pipeline_tab.setStretchFactor(0, 3)
        pipeline_tab.setStretchFactor(1, 1)
        pipeline_tab.setChildrenCollapsible(False)

        self.tabs = QTabWidget()
        self.tabs.addTab(data_tab, "Data and target")
        self.tabs.addTab(self.features, "Features")
        self.tabs.addTab(model_tab, "Model")
        self.tabs.addTab(self.search, "Search and validation")
        self.tabs.addTab(pipeline_tab, "Pipeline")

        self.status = QLabel()
        self.status.setObjectName("preview-summary")
        self.status.setWordWrap(True)
        self.dry_run_button = QPushButton("Dry run")
        self.dry_run_button.setToolTip("Fit the pipeline on 200 rows to find problems early")
        self.dry_run_button.clicked.connect(self.dry_run)
        self.save_button = QPushButton("Save")
        self.save_button.setObjectName("primary")
        self.save_button.clicked.connect(self.save)
        names = QFormLayout()
        names.addRow("Experiment", self.name)
        names.addRow("Model name", self.model_name)
        bottom = QHBoxLayout()
        bottom.addWidget(self.status, 1)
        bottom.addWidget(self.dry_run_button)
        bottom.addWidget(self.save_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(names)
        layout.addWidget(self.tabs, 1)
        layout.addLayout(bottom)

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(CHECK_DELAY_MS)
        self._timer.timeout.connect(self.check)
        self.name.editingFinished.connect(self.edited)
        self.model_name.editingFinished.connect(self.edited)
        self.dataset.activated.connect(lambda _i: self._dataset_changed())
        self.target.activated.connect(lambda _i: self._target_changed())
        self.task_box.activated.connect(lambda _i: self._target_changed())
        self.estimator.activated.connect(lambda _i: self._estimator_changed())
        self.features.changed.connect(self.edited)
        self.params.changed.connect(self.edited)
        self.search.changed.connect(self.edited)
        self.setEnabled(False)

    # -- loading a spec --------------------------------------------------------------------------

    def load(self, spec: ex.ExperimentSpec, original_name: str | None) -> None:
        self._loading = True
        self.setEnabled(True)
        self.original_name = original_name
        self.spec = spec
        self.name.setText(spec.name)
        self.model_name.setText(spec.model_name or "")
        self.dataset.clear()
        labels = []
        for version in self.context.project.datasets.list():
            if version.name not in labels:
                labels.append(version.name)
            labels.append(version.label)
        self.dataset.addItems(labels)
        if spec.dataset not in labels:
            self.dataset.addItem(spec.dataset)  # a deleted version: shown, and refused
        self.dataset.setCurrentText(spec.dataset)
        self.task_box.setCurrentText(spec.task)
        self.search.load(spec.search, spec.validation)
        family = estimators.CATALOGUE.get(spec.estimator, ("", estimators.CLASSIFICATION))[1]
        self._set_estimators(family, spec.estimator)
        self.params.set_estimator(spec.estimator, spec.params)
        # The form shows an excluded column as one whose role is "ignore": the same thing.
        overrides = {name: dict(c) for name, c in spec.features.columns.items()}
        for name in spec.features.exclude:
            overrides.setdefault(name, {})["role"] = "ignore"
        self.features.set_data(None, spec.target, overrides)
        self.target.clear()
        self.target.addItem(spec.target)
        self._loading = False
        self._dataset_changed(keep_target=spec.target)

    def _set_estimators(self, family: str, chosen: str) -> None:
        self.estimator.blockSignals(True)
        self.estimator.clear()
        self.estimator.addItems(
            estimators.estimators_for(
                "regression" if family == estimators.REGRESSION else "multiclass"
            )
        )
        self.estimator.setCurrentText(chosen)
        self.estimator.blockSignals(False)

    def _dataset_changed(self, keep_target: str | None = None) -> None:
        dataset = self.dataset.currentText()
        handle = self.context.runner.start(
            f"Reading {dataset}", _load_profile, str(self.context.project.path), dataset, owner=self
        )
        self._profile_handle = handle
        handle.succeeded.connect(
            lambda result, h=handle: self._profile_loaded(h, result, keep_target)
        )
        handle.failed.connect(lambda message: self._show_problem(f"dataset: {message}"))

    def _profile_loaded(self, handle, result, keep_target: str | None) -> None:
        if handle is not self._profile_handle:
            return
        _label, profile = result
        self.profile = profile
        target = keep_target or self.target.currentText()
        names = [c.name for c in profile.columns]
        self.target.clear()
        self.target.addItems(names)
        self.target.setCurrentText(target if target in names else names[-1])
        self._target_changed(initial=keep_target is not None)

    def _target_changed(self, initial: bool = False) -> None:
        if self.profile is None:
            return
        target = self.target.currentText()
        overrides = (
            self.features.overrides
            if initial
            else {k: v for k, v in self.features.overrides.items() if k != target}
        )
        self.features.set_data(self.profile, target, overrides)
        try:
            column = self.profile.column(target)
            inferred, _reason = ex.infer_task(column)
        except (KeyError, UserError):
            inferred = "multiclass"
        task = self.task_box.currentText()
        family = estimators.family(inferred if task == "auto" else task)
        current = self.estimator.currentText()
        if estimators.CATALOGUE.get(current, ("", ""))[1] != family:
            current = _DEFAULT_ESTIMATOR[family]
            self._set_estimators(family, current)
            self.params.set_estimator(current, {})
        else:
            self._set_estimators(family, current)
        self.edited()

    def _estimator_changed(self) -> None:
        self.params.set_estimator(self.estimator.currentText(), {})
        self.edited()

    # -- the spec in the form --------------------------------------------------------------------

    def current_json(self, confirm_large: bool = False) -> dict:
        search, validation = self.search.read(confirm_large)
        return {
            "name": self.name.text().strip(),
            "dataset": self.dataset.currentText(),
            "target": self.target.currentText(),
            "task": self.task_box.currentText(),
            "features": {"exclude": [], "columns": self.features.overrides},
            "estimator": self.estimator.currentText(),
            "params": self.params.values(),
            "search": search,
            "validation": validation,
            "model_name": self.model_name.text().strip() or None,
        }

    def current_spec(self, confirm_large: bool = False) -> ex.ExperimentSpec:
        if self.params.errors:
            name, message = next(iter(self.params.errors.items()))
            raise UserError(f"params.{name}: {message}")
        return ex.ExperimentSpec.from_json(self.current_json(confirm_large))

    def unsaved(self, name: str) -> bool:
        """Whether the form shows experiment ``name`` with changes that are not saved."""
        if self.original_name != name:
            return False
        try:
            shown = self.current_spec()
        except UserError:
            return True  # a half-typed value is an unsaved change too
        saved = self.context.project.experiments.get(name)
        return shown.to_json() != ex.ExperimentSpec.from_json(saved.to_json()).to_json()

    def edited(self) -> None:
        if not self._loading:
            self._timer.start()

    def check(self) -> None:
        """Check the spec against its data in the background and show what it compiles to."""
        try:
            spec_json = self.current_spec(confirm_large=True).to_json()
        except UserError as exc:
            self._show_problem(exc.message)
            return
        handle = self.context.runner.start(
            "Checking the experiment",
            plan_task,
            str(self.context.project.path),
            spec_json,
            owner=self,
        )
        self._check_handle = handle
        handle.succeeded.connect(lambda result, h=handle: self._checked(h, result))
        handle.failed.connect(
            lambda message, h=handle: h is self._check_handle and self._show_problem(message)
        )

    def _checked(self, handle, result: dict) -> None:
        if handle is not self._check_handle:
            return
        self.spec_error = None
        self.task, self.candidates = result["task"], result["candidates"]
        self.task_reason.setText(result["reason"])
        self.search.size.setText(result["size"])
        self.pipeline.setPlainText(result["pipeline"])
        self.pipeline_steps.show_steps([OutlineStep.from_json(step) for step in result["outline"]])
        self.status.setProperty("error", False)
        self.status.setText(f"Ready: {result['task']} · {result['size']}.")
        self._restyle()

    def _show_problem(self, message: str) -> None:
        self.spec_error = message
        self.status.setProperty("error", True)
        self.status.setText(message)
        self._restyle()

    def _restyle(self) -> None:
        self.status.style().unpolish(self.status)
        self.status.style().polish(self.status)

    # -- actions ------------------------------------------------------------------------------

    def confirm_large_search(self, size: int) -> bool:
        answer = QMessageBox.question(
            self,
            "A large search",
            f"This search tries {size:,} candidates, more than {ex.LARGE_SEARCH:,}. "
            "It may run for a long time. Save it anyway?",
        )
        return answer == QMessageBox.StandardButton.Yes

    def save(self) -> None:
        confirm = False
        if self.candidates > ex.LARGE_SEARCH:
            confirm = self.confirm_large_search(self.candidates)
            if not confirm:
                return
        try:
            spec = self.current_spec(confirm_large=confirm)
        except UserError as exc:
            self._show_problem(exc.message)
            return
        handle = self.context.runner.start(
            f"Saving {spec.name}",
            _save_task,
            str(self.context.project.path),
            spec.to_json(),
            self.original_name,
            owner=self,
        )
        handle.succeeded.connect(lambda _row, name=spec.name: self._saved(name))
        handle.failed.connect(self._show_problem)

    def _saved(self, name: str) -> None:
        self.original_name = name
        self.status.setProperty("error", False)
        self.status.setText(f"Saved {name}.")
        self._restyle()
        self.context.mark_changed()
        self.saved.emit(name)

    def dry_run(self) -> None:
        try:
            spec = self.current_spec(confirm_large=True)
        except UserError as exc:
            self._show_problem(exc.message)
            return
        self.dry_run_button.setEnabled(False)
        handle = self.context.runner.start(
            f"Dry run of {spec.name}",
            dry_run_task,
            str(self.context.project.path),
            spec.to_json(),
            in_process=True,
            owner=self,
        )
        handle.succeeded.connect(lambda report: self.status.setText(report.summary()))
        handle.failed.connect(self._show_problem)
        handle.finished.connect(lambda: self.dry_run_button.setEnabled(True))


def _save_task(project_path: str, spec_json: dict, replacing: str | None, state):
    from mlops_desktop.services.project import Project

    with Project.open(project_path) as project:
        return project.experiments.save(ex.ExperimentSpec.from_json(spec_json), replacing)


class PipelineOutline(QTreeWidget):
    """The compiled pipeline step by step, each with what it does in plain words."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("pipeline-steps")
        self.setHeaderLabels(["Step", "What it does", "Columns"])
        self.setWordWrap(True)
        header = self.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.setUniformRowHeights(False)
        self.setRootIsDecorated(True)

    def show_steps(self, steps: list[OutlineStep]) -> None:
        self.clear()
        parents: list[QTreeWidgetItem] = []
        for step in steps:
            meaning = glossary.step(step.kind) or ""
            item = QTreeWidgetItem([step.text, meaning, ", ".join(step.columns)])
            item.setToolTip(0, f"{step.name}: {meaning}" if meaning else step.name)
            item.setToolTip(1, meaning)
            item.setToolTip(2, "\n".join(step.columns))
            del parents[step.depth :]
            if parents:
                parents[-1].addChild(item)
            else:
                self.addTopLevelItem(item)
            parents.append(item)
        self.expandAll()
        # The step's own text can be long (every changed parameter): a third of the width at
        # most, the rest (hover) in its tooltip, so the explanation stays in view.
        self.resizeColumnToContents(0)
        self.setColumnWidth(0, min(self.columnWidth(0), max(self.width() // 3, 260)))
        self.resizeColumnToContents(2)
        self.setColumnWidth(2, min(self.columnWidth(2), 220))
