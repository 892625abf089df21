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
