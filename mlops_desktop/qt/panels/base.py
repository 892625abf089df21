"""What a panel is: a widget with a title and icon that works on one ``ProjectContext``."""

from __future__ import annotations

from typing import ClassVar

from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QAbstractButton, QLineEdit, QWidget

from mlops_desktop.qt.context import ProjectContext


class Panel(QWidget):
    title: ClassVar[str]

    def __init__(self, context: ProjectContext, parent: QWidget | None = None):
        super().__init__(parent)
        self.context = context
        self.setObjectName(f"panel-{self.title.lower().replace(' ', '-')}")

    def selection(self) -> str | None:
        """What is selected, as the key ``reveal`` takes: the window keeps it, so the panel
        opens on it again next time. None when nothing (or nothing worth keeping) is.

        A panel that keeps a selection also has ``reveal(key)``, which selects it."""
        return None

    def install_shortcuts(self, shortcuts) -> None:
        """Keys that press one of the panel's buttons or focus one of its fields (the
        ``PanelSpec``'s list): active while the panel is shown, or only within ``scope``."""
        for keys, _what, target, scope in shortcuts:
            parent = self._part(scope) if scope else self
            QShortcut(QKeySequence(keys), parent, lambda target=target: self._press(target))

    def _part(self, path: str):
        part = self
        for name in path.split("."):
            part = part[name] if isinstance(part, dict) else getattr(part, name)
        return part

    def _press(self, target: str) -> None:
        widget = self._part(target)
        if isinstance(widget, QAbstractButton):
            if widget.isEnabled() and widget.isVisible():
                widget.click()  # as a click would: nothing when it cannot be done now
        elif isinstance(widget, QLineEdit):
            widget.setFocus()
            widget.selectAll()
