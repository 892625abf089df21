"""A place in the window for one panel, which says so while the panel is still loading."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget


class PanelSlot(QWidget):
    def __init__(self, title: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.title = title
        self.panel: QWidget | None = None
        self.label = QLabel(f"Loading the {title} panel…")
        self.label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.label.setObjectName("hint")
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.addWidget(self.label)

    def fill(self, panel: QWidget) -> None:
        self.label.hide()
        self.panel = panel
        self._layout.addWidget(panel)

    def fail(self, error: BaseException) -> None:
        self.label.setText(
            f"The {self.title} panel could not be loaded ({type(error).__name__}: {error}). "
            "The details are in the log file; please include them in a bug report."
        )
        self.label.setWordWrap(True)
