"""Viewing and changing the thresholds monitoring judges drift and the service level by."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from mlops_desktop.domain.drift import Thresholds
from mlops_desktop.domain.errors import UserError
from mlops_desktop.qt.context import ProjectContext

#: What each threshold means, in the words of docs/monitoring.md.
MEANINGS = {
    "psi_amber": "PSI from which a proven change is amber",
    "psi_red": "PSI from which a proven change is red",
    "p_value": "a change counts only when the test's p-value is below this",
    "effect_amber": "effect size (Wasserstein in standard deviations, or Cramér's V) for amber",
    "effect_red": "effect size for red",
    "missing_amber": "change of the missing-value share for amber (0.05 = five points)",
    "missing_red": "change of the missing-value share for red",
    "new_category_amber": "share of values in categories training never saw, for amber",
    "new_category_red": "share of values in new categories, for red",
    "sla_p95_ms": "the service level: 95th-percentile latency, in milliseconds",
    "sla_error_rate": "the service level: share of failed requests (0.01 = one percent)",
}


class ThresholdsDialog(QDialog):
    """One field per threshold; OK checks and saves them all through the service."""

    def __init__(self, context: ProjectContext, parent: QWidget | None = None):
        super().__init__(parent)
        self.context = context
        self.setWindowTitle("Monitoring thresholds")
        current = context.project.monitoring.thresholds()
        defaults = Thresholds()
        self.fields: dict[str, QLineEdit] = {}
        form = QFormLayout()
        for name in Thresholds.names():
            field = QLineEdit(f"{getattr(current, name):.10g}")
            field.setObjectName(f"threshold-{name}")
            field.setToolTip(f"{MEANINGS[name]} (default {getattr(defaults, name):g})")
            field.setMaximumWidth(120)
            self.fields[name] = field
            form.addRow(name, field)
        self.message = QLabel()
        self.message.setObjectName("threshold-message")
        self.message.setWordWrap(True)
        self.message.setStyleSheet("color: #dc3545")
        defaults_button = QPushButton("Defaults")
        defaults_button.setToolTip("Fill in every default value (saved when you press OK)")
        defaults_button.clicked.connect(self.fill_defaults)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.addButton(defaults_button, QDialogButtonBox.ButtonRole.ResetRole)
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        intro = QLabel(
            "A column turns amber or red when a statistic reaches these values; the service "
            "level is red when latency or failures go over it. They are project settings: "
            "everyone who opens this file judges by them. Hover a field for its meaning."
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)
        if context.project.read_only:
            self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(False)
            self.message.setText("The project is open read-only, so the thresholds cannot change.")

    def fill_defaults(self) -> None:
        defaults = Thresholds()
        for name, field in self.fields.items():
            field.setText(f"{getattr(defaults, name):g}")

    def save(self) -> None:
        values = {name: field.text().strip() for name, field in self.fields.items()}
        try:
            self.context.project.monitoring.set_thresholds(values)
        except UserError as exc:
            self.message.setText(exc.message)
            return
        self.context.mark_changed()
        self.accept()
