"""What a panel is: a widget with a title and icon that works on one ``ProjectContext``."""

from __future__ import annotations

from typing import ClassVar

from PySide6.QtWidgets import QWidget

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
