"""Retrain a version on new data, follow its job, review it against the alias holder, promote."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from mlops_desktop.domain import glossary
from mlops_desktop.domain.retraining import Retrain, Review
from mlops_desktop.qt.context import ProjectContext
from mlops_desktop.qt.widgets.tables import BAD, GOOD, fill_table, text_table
from mlops_desktop.qt.widgets.task_area import follow
from mlops_desktop.services.retraining import (
    DEFAULT_ALIAS,
    promote_task,
    review_task,
    start_task,
)

#: How often the job is looked at while it trains.
FOLLOW_MS = 1000
RECIPES = (
    ("auto", "Clean an import with the version's recipe; use cleaned data as it is"),
    ("own", "Always apply the version's recipe"),
    ("none", "Use the data as it is"),
)
INTRO = (
    "The version's cleaning recipe and experiment run again on the new data, as a job in the "
    "Training queue. When it is done the new version and the alias holder are measured on the "
    "new version's hold-out rows, and the alias's gates say whether to promote it."
)


def retrain_status_task(project_path: str, number: int, state) -> tuple[Retrain, str, str]:
    """Task function (thread): the retrain, its job's status and progress message."""
    from mlops_desktop.services.project import Project

    with Project.open(project_path, read_only=True) as project:
        retrain = project.retraining.get(number)
        job = project.queue.job(retrain.job_number)
        return retrain, job.status, job.error or job.progress_message or ""


def review_rows(review: Review) -> tuple[list[list[str]], list[list]]:
    """One row per hold-out metric: new version, holder, and which is better, coloured."""
    rows, colours = [], []
    for name, value in review.candidate_metrics.items():
        old = (review.holder_metrics or {}).get(name)
        better = review.better(name)
        verdict = {True: "new is better", False: "holder is better", None: "–"}[better]
        colour = {True: GOOD, False: BAD, None: None}[better]
        rows.append([name, f"{value:.4g}", "–" if old is None else f"{old:.4g}", verdict])
        colours.append([None, colour, None, colour])
    return rows, colours


class RetrainDialog(QDialog):
    def __init__(
        self,
        context: ProjectContext,
        ref: str,
        datasets: list[tuple[str, str]],
        reason: str = "",
        pending: Retrain | None = None,
        parent: QWidget | None = None,
    ):
        """``pending``: a retraining of ``ref`` started earlier and not judged yet, to follow
        (and review) instead of starting another."""
        super().__init__(parent)
        self.context = context
        self.ref = ref
        self.retrain: Retrain | None = None
        self.review: Review | None = None
        self.running = None
        self._following = None
        self.setWindowTitle(f"Retrain {ref}")
        self.resize(680, 560)

        intro = QLabel(f"<b>Retrain {ref} on new data.</b> {INTRO}")
        intro.setWordWrap(True)
        intro.setTextFormat(Qt.TextFormat.RichText)
        self.file_choice = QRadioButton("A raw file")
        self.file_choice.setChecked(True)
        self.dataset_choice = QRadioButton("A dataset version")
        group = QButtonGroup(self)
        group.addButton(self.file_choice)
        group.addButton(self.dataset_choice)
        self.file_path = QLineEdit()
        self.file_path.setObjectName("retrain-file")
        self.file_path.setPlaceholderText("CSV, Parquet, JSON Lines or Excel file")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self.browse)
        self.datasets = QComboBox()
        self.datasets.setObjectName("retrain-dataset")
        for label, text in datasets:
            self.datasets.addItem(text, label)
        self.recipe = QComboBox()
        for choice, meaning in RECIPES:
            self.recipe.addItem(meaning, choice)
        self.alias = QLineEdit(DEFAULT_ALIAS)
        self.alias.setObjectName("retrain-alias")
        self.alias.setToolTip("The new version is judged against this alias's current holder")
        self.reason = QLineEdit(reason)
        self.reason.setObjectName("retrain-reason")
        self.reason.setPlaceholderText("Why, for the lineage (optional)")
        self.start_button = QPushButton("Start retraining")
        self.start_button.setObjectName("retrain-start")
        self.start_button.setDefault(True)
        self.start_button.clicked.connect(self.start)

        file_row = QHBoxLayout()
        file_row.addWidget(self.file_path, 1)
        file_row.addWidget(browse)
        form = QFormLayout()
        form.addRow(self.file_choice, file_row)
        form.addRow(self.dataset_choice, self.datasets)
        form.addRow("Cleaning", self.recipe)
        form.addRow("Judge against", self.alias)
        form.addRow("Reason", self.reason)
        self.form = QWidget()
        self.form.setLayout(form)
        for widget in (self.file_choice, self.dataset_choice):
            widget.toggled.connect(lambda _on: self._update())
        self.file_path.textChanged.connect(lambda _text: self._update())

        self.progress = QProgressBar()
        self.progress.setVisible(False)
        self.status = QLabel()
        self.status.setObjectName("retrain-status")
        self.status.setWordWrap(True)
        self.table = text_table(("metric", "new version", "alias holder", ""), "retrain-review")
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setVisible(False)
        self.gates = QLabel()
        self.gates.setObjectName("retrain-gates")
        self.gates.setWordWrap(True)
        self.promote_button = QPushButton()
        self.promote_button.setObjectName("retrain-promote")
        self.promote_button.setVisible(False)
        self.promote_button.clicked.connect(self.promote)
        close = QPushButton("Close")
        close.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addWidget(self.start_button)
        buttons.addStretch(1)
        buttons.addWidget(self.promote_button)
        buttons.addWidget(close)

        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.form)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.gates)
        layout.addLayout(buttons)

        self._follow_timer = QTimer(self)
        self._follow_timer.setInterval(FOLLOW_MS)
        self._follow_timer.timeout.connect(self._follow)
        self._update()
        if pending is not None:
            self._resume(pending)

    # -- the form -------------------------------------------------------------------------------

    def browse(self) -> None:
        path, _filter = QFileDialog.getOpenFileName(self, "New data", "", "Data files (*)")
        if path:
            self.file_path.setText(path)

    def _update(self) -> None:
        from_file = self.file_choice.isChecked()
        self.file_path.setEnabled(from_file)
        self.datasets.setEnabled(not from_file)
        ready = bool(self.file_path.text().strip()) if from_file else self.datasets.count() > 0
        idle = self.running is None or not self.running.running
        self.start_button.setEnabled(ready and idle and self.retrain is None)
        if self.retrain is None and idle and not self.status.text():
            self.status.setText("Choose the new data, then press Start retraining.")

    def _busy(self, handle, message: str) -> None:
        self.running = handle
        self.status.setText(message)
        follow(handle, self.progress)
        handle.failed.connect(self.status.setText)
        handle.finished.connect(self._update)
        self._update()

    def start(self) -> None:
        from_file = self.file_choice.isChecked()
        data = None if from_file else self.datasets.currentData()
        path = self.file_path.text().strip() if from_file else None
        handle = self.context.runner.start(
            f"Retraining {self.ref}",
            start_task,
            str(self.context.project.path),
            self.ref,
            data,
            path,
            self.alias.text(),
            self.reason.text(),
            self.recipe.currentData(),
            in_process=True,
            owner=self,
        )
        self._busy(handle, "Preparing the new data…")
        handle.succeeded.connect(self._started)

    def _started(self, retrain: Retrain) -> None:
        self.retrain = retrain
        self.form.setEnabled(False)
        self.context.mark_changed()
        self.status.setText(
            f"Retraining #{retrain.number}: job #{retrain.job_number} trains {retrain.model} on "
            f"{retrain.trained_on_label} in the Training queue. This window reviews the new "
            f"version when it is done; if you close it, Retrain… on {self.ref} picks it up "
            "again."
        )
        self._follow_timer.start()
        self._update()

    def _resume(self, retrain: Retrain) -> None:
        self.reason.setText(retrain.reason)
        self.alias.setText(retrain.alias)
        self._started(retrain)
        self._follow()

    # -- following the job ------------------------------------------------------------------------

    def _follow(self) -> None:
        if self._following is not None and self._following.running:
            return
        handle = self.context.runner.start(
            "Following the retraining",
            retrain_status_task,
            str(self.context.project.path),
            self.retrain.number,
            owner=self,
        )
        self._following = handle
        handle.succeeded.connect(self._followed)

    def _followed(self, found: tuple[Retrain, str, str]) -> None:
        retrain, status, message = found
        self.retrain = retrain
        if retrain.version_label is not None:
            self._follow_timer.stop()
            self.review_now()
        elif status in ("failed", "cancelled"):
            self._follow_timer.stop()
            self._reopen_form()
            self.status.setText(
                f"Job #{retrain.job_number} {status}"
                + (f": {message}" if message else ".")
                + " Fix the cause and retrain again."
            )
        else:
            self.status.setText(
                f"Job #{retrain.job_number} is {status}" + (f": {message}" if message else ".")
            )

    def review_now(self) -> None:
        handle = self.context.runner.start(
            f"Reviewing {self.retrain.version_label}",
            review_task,
            str(self.context.project.path),
            self.retrain.number,
            in_process=True,
            owner=self,
        )
        self._busy(
            handle,
            f"Measuring {self.retrain.version_label} and the holder of "
            f"{self.retrain.model}@{self.retrain.alias} on the same hold-out rows…",
        )
        handle.succeeded.connect(self.show_review)
        handle.failed.connect(lambda _message: self._reopen_form())

    def _reopen_form(self) -> None:
        """This retraining cannot go on: let the user start another."""
        self.retrain = None
        self.form.setEnabled(True)
        self._update()

    def show_review(self, review: Review) -> None:
        self.review = review
        self.context.mark_changed()
        self.status.setText(f"{review.summary} ({review.basis}.)")
        rows, colours = review_rows(review)
        self.table.setHorizontalHeaderLabels(
            ["metric", review.candidate, review.holder or "no holder", ""]
        )
        fill_table(self.table, rows, colours, explain=glossary.metric)
        self.table.setVisible(True)
        self.gates.setText("\n".join(f"Gate {gate}" for gate in review.gates))
        alias = f"{self.retrain.model}@{self.retrain.alias}"
        self.promote_button.setText(
            f"Promote to {alias}" if review.passed else f"Promote to {alias} anyway…"
        )
        self.promote_button.setVisible(True)

    # -- promotion ------------------------------------------------------------------------------

    def promote(self) -> None:
        reason = None
        if not self.review.passed:
            reason, accepted = QInputDialog.getText(
                self,
                "Override the gates",
                "The gates failed. Why promote anyway? (recorded with the move)",
            )
            if not accepted or not reason.strip():
                return
        self.promote_with(reason)

    def promote_with(self, reason: str | None) -> None:
        alias = f"{self.retrain.model}@{self.retrain.alias}"
        handle = self.context.runner.start(
            f"Promoting {self.retrain.version_label} to {alias}",
            promote_task,
            str(self.context.project.path),
            self.retrain.number,
            reason,
            in_process=True,
            owner=self,
        )
        self.promote_button.setEnabled(False)
        self._busy(handle, f"Checking the gates of {alias}…")
        handle.succeeded.connect(self._promoted)
        handle.failed.connect(lambda _message: self.promote_button.setEnabled(True))

    def _promoted(self, promotion) -> None:
        self.context.mark_changed()
        self.status.setText(
            f"{promotion.version_label} is now {promotion.model}@{promotion.alias}."
        )
        self.context.notifications.show_info(self.status.text())
