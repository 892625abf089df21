"""The one place where errors and notices reach the user: banners above the panels."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

MAX_VISIBLE = 4
INFO_TIMEOUT_MS = 10_000


class Notification(QFrame):
    dismissed = Signal()

    def __init__(self, kind: str, message: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.kind, self.message = kind, message
        self.setObjectName(f"notification-{kind}")
        self.setAccessibleName(f"{kind}: {message}")
        text = QLabel(message)
        text.setWordWrap(True)
        text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        close = QToolButton()
        close.setText("✕")
        close.setToolTip("Dismiss")
        close.setAutoRaise(True)
        close.clicked.connect(self.dismiss)
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(10, 6, 6, 6)
        self._layout.addWidget(text, 1)
        self._layout.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)
        self.action_buttons: list[QPushButton] = []

    def add_action(self, text: str, handler: Callable[[], object]) -> QPushButton:
        """A button beside the message that does what the message suggests, then dismisses it."""
        button = QPushButton(text)
        button.clicked.connect(lambda _checked=False: handler())  # not given ``checked``
        button.clicked.connect(self.dismiss)
        self._layout.insertWidget(
            len(self.action_buttons) + 1, button, 0, Qt.AlignmentFlag.AlignTop
        )
        self.action_buttons.append(button)
        return button

    def dismiss(self) -> None:
        self.dismissed.emit()
        self.deleteLater()


class NotificationArea(QWidget):
    """Stacked banners, newest at the top; errors and warnings stay until dismissed, notices
    time out."""

    error_shown = Signal(object)  # the Notification of an error, to add actions to

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(8, 4, 8, 0)
        self._layout.setSpacing(4)
        self._items: list[Notification] = []
        self.setVisible(False)

    def show_error(self, message: str) -> Notification:
        item = self._add("error", message)
        self.error_shown.emit(item)
        return item

    def show_warning(self, message: str) -> Notification:
        """A notice that stays until dismissed, such as a monitoring alert."""
        return self._add("warning", message)

    def show_info(self, message: str, timeout_ms: int = INFO_TIMEOUT_MS) -> Notification:
        item = self._add("info", message)
        QTimer.singleShot(timeout_ms, item, item.dismiss)
        return item

    def messages(self) -> list[tuple[str, str]]:
        return [(n.kind, n.message) for n in self._items]

    def _add(self, kind: str, message: str) -> Notification:
        item = Notification(kind, message, self)
        item.dismissed.connect(lambda: self._forget(item))
        self._items.insert(0, item)
        self._layout.insertWidget(0, item)
        while len(self._items) > MAX_VISIBLE:
            self._items[-1].dismiss()
        self.setVisible(True)
        return item

    def _forget(self, item: Notification) -> None:
        if item in self._items:
            self._items.remove(item)
            self._layout.removeWidget(item)
        self.setVisible(bool(self._items))
