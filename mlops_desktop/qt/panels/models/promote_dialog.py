"""Pointing an alias at a version: its gates checked first, every result shown, and a failed
gate overridden only with a reason that is recorded."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from mlops_desktop.domain.errors import UserError
from mlops_desktop.domain.gates import EXAMPLES
from mlops_desktop.qt.context import ProjectContext
from mlops_desktop.qt.widgets.tables import BAD, GOOD, fill_table, text_table
from mlops_desktop.services.registry import STANDARD_ALIASES, PromotionCheck, check_promotion_task


class PromoteDialog(QDialog):
    def __init__(self, context: ProjectContext, label: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.context = context
        self.models = context.project.models
        self.version = self.models.get(label)
        self.check: PromotionCheck | None = None
        self._checking = None
        self.setWindowTitle(f"Set an alias of {self.version.name} to {label}")
        self.resize(720, 560)

        self.alias = QComboBox()
        self.alias.setEditable(True)
        self.alias.setObjectName("alias-name")
        existing = [a.name for a in self.models.aliases(self.version.name)]
        self.alias.addItems(list(dict.fromkeys([*STANDARD_ALIASES, *existing])))
        self.alias.currentTextChanged.connect(self._alias_changed)
        self.holder = QLabel()
        self.holder.setWordWrap(True)
        self.gates = QPlainTextEdit()
        self.gates.setObjectName("gates")
        self.gates.setPlaceholderText("One gate per line, e.g.\n" + EXAMPLES.replace(", ", "\n"))
        self.gates.setMaximumHeight(110)
        self.gates.textChanged.connect(self._gates_edited)
        metrics = ", ".join(self.version.metrics.get("holdout", {}))
        gate_hint = QLabel(
            f"Hold-out metrics: {metrics}. 'current' is the version the alias points at now, "
            "measured on this version's hold-out rows."
        )
        gate_hint.setObjectName("hint")
        gate_hint.setWordWrap(True)
        self.save_gates = QPushButton("Save gates")
        self.save_gates.setEnabled(False)
        self.save_gates.clicked.connect(self._save_gates)
        self.check_button = QPushButton("Check gates")
        self.check_button.clicked.connect(self.run_check)
        self.progress = QProgressBar()
        self.progress.setVisible(False)
        self.results = text_table(("Gate", "This version", "Required", "Result"), "gate-results")
        self.basis = QLabel()
        self.basis.setObjectName("hint")
        self.basis.setWordWrap(True)
        self.reason = QLineEdit()
        self.reason.setObjectName("override-reason")
        self.reason.setPlaceholderText("Why promote although a gate failed (recorded)")
        self.reason.textChanged.connect(self._update_promote)
        self.promote_button = QPushButton("Promote")
        self.promote_button.setObjectName("promote")
        self.promote_button.setDefault(True)
        self.promote_button.clicked.connect(self.promote)

        form = QFormLayout()
        form.addRow("Alias", self.alias)
        form.addRow("Now", self.holder)
        gate_buttons = QHBoxLayout()
        gate_buttons.addWidget(self.save_gates)
        gate_buttons.addStretch(1)
        gate_buttons.addWidget(self.check_button)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        buttons.addButton(self.promote_button, QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(QLabel("Gates a version must pass to take this alias"))
        layout.addWidget(self.gates)
        layout.addWidget(gate_hint)
        layout.addLayout(gate_buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.results, 1)
        layout.addWidget(self.basis)
        layout.addWidget(self.reason)
        layout.addWidget(buttons)
        self._alias_changed(self.alias.currentText())

    # -- the alias and its gates ----------------------------------------------------------------

    def _alias_changed(self, alias: str) -> None:
        self.check = None
        alias = alias.strip()
        holder = next((a for a in self.models.aliases(self.version.name) if a.name == alias), None)
        if holder is None:
            self.holder.setText(f"{self.version.name}@{alias or '…'} is not set yet.")
        else:
            self.holder.setText(
                f"{holder.label} points at {holder.model}:{holder.version} "
                f"(set by {holder.set_by}, {holder.set_at[:10]})."
            )
        try:
            gates = self.models.gates(self.version.name, alias) if alias else []
        except UserError:
            gates = []
        self.gates.blockSignals(True)
        self.gates.setPlainText("\n".join(gates))
        self.gates.blockSignals(False)
        self._saved_gates = gates
        self.save_gates.setEnabled(False)
        fill_table(self.results, [])
        self.basis.setText("Check the gates before promoting.")
        self._update_promote()

    def _gate_lines(self) -> list[str]:
        return [line.strip() for line in self.gates.toPlainText().splitlines() if line.strip()]

    def _gates_edited(self) -> None:
        self.check = None
        self.save_gates.setEnabled(self._gate_lines() != self._saved_gates)
        self._update_promote()

    def _save_gates(self) -> bool:
        alias = self.alias.currentText().strip()
        try:
            saved = self.models.set_gates(self.version.name, alias, self._gate_lines())
        except UserError as exc:
            self.basis.setText(exc.message)
            return False
        self._saved_gates = saved
        self.gates.blockSignals(True)
        self.gates.setPlainText("\n".join(saved))
        self.gates.blockSignals(False)
        self.save_gates.setEnabled(False)
        self.context.mark_changed()
        return True

    # -- checking and promoting -----------------------------------------------------------------

    def run_check(self) -> None:
        if self.save_gates.isEnabled() and not self._save_gates():
            return
        alias = self.alias.currentText().strip()
        self.check_button.setEnabled(False)
        self.progress.setRange(0, 0)
        self.progress.setVisible(True)
        # In a worker process: a gate against the holder may have to load its model.
        handle = self.context.runner.start(
            f"Checking the gates of {self.version.name}@{alias}",
            check_promotion_task,
            str(self.context.project.path),
            self.version.label,
            alias,
            in_process=True,
            owner=self,
        )
        self._checking = handle
        handle.succeeded.connect(self.show_check)
        handle.failed.connect(self._check_failed)
        handle.finished.connect(self._check_finished)

    def _check_finished(self) -> None:
        self.progress.setVisible(False)
        self.check_button.setEnabled(True)

    def _check_failed(self, message: str) -> None:
        self.basis.setText(message)

    def show_check(self, check: PromotionCheck) -> None:
        self.check = check
        rows = [
            (
                r.gate,
                "" if r.value is None else f"{r.value:.4g}",
                "" if r.required is None else f"{r.required:.4g}",
                ("pass: " if r.passed else "FAIL: ") + r.message,
            )
            for r in check.results
        ]
        colours = [[None, None, None, GOOD if r.passed else BAD] for r in check.results]
        fill_table(self.results, rows, colours)
        warnings = "".join(f" Note: {w}" for w in check.warnings)
        self.basis.setText(f"{check.summary()} Compared with {check.basis}.{warnings}")
        self._update_promote()

    def _update_promote(self) -> None:
        failed = self.check is not None and not self.check.passed
        self.reason.setVisible(failed)
        self.promote_button.setText("Override and promote" if failed else "Promote")
        ready = self.check is not None and (not failed or bool(self.reason.text().strip()))
        self.promote_button.setEnabled(ready and not self.context.project.read_only)

    def promote(self) -> None:
        if self.check is None:
            return
        reason = self.reason.text().strip() or None
        try:
            promotion = self.models.promote(
                self.version.label, self.check.alias, reason, check=self.check
            )
        except UserError as exc:
            self.basis.setText(exc.message)
            self.check = None
            self._update_promote()
            return
        how = " (gates overridden)" if promotion.outcome == "overridden" else ""
        self.context.notifications.show_info(
            f"{promotion.model}@{promotion.alias} now points at {promotion.version_label}{how}."
        )
        self.context.mark_changed()
        self.accept()
