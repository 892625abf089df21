"""A short guided tour of the lifecycle on the demo project: one card per panel, the part
it talks about outlined, Back / Next / Skip."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QEvent, QObject, QRect, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)


@dataclass(frozen=True)
class TourStep:
    panel: str  # the panel's key ("data", "models", ...)
    title: str
    text: str
    target: str = ""  # the panel's attribute to outline; the whole panel if empty


STEPS: tuple[TourStep, ...] = (
    TourStep(
        "overview",
        "One file holds everything",
        "This demo project is a single file: the raw data, its cleaned versions, the "
        "experiments, the trained models, what was served and how it drifted. Copy it, email "
        "it, open it anywhere. The history below says who did what, and when.",
        "history_view",
    ),
    TourStep(
        "data",
        "1 · Look at the data, clean it, keep every version",
        "Two years of milk sales were imported as milk:1 and cleaned by a recipe (stray spaces, "
        "missing temperatures, duplicate rows) into milk:2. Pick a version to see its rows, "
        "its profile with charts, and the recipe that made it. Nothing is ever overwritten.",
        "tree",
    ),
    TourStep(
        "experiments",
        "2 · Choose features and hyper-parameters",
        "An experiment says what to predict (litres sold), how each column is prepared and "
        "which model to fit. milk-forecast searches a grid of settings. The Pipeline tab "
        "shows the scikit-learn pipeline it compiles to, each step explained.",
        "list",
    ),
    TourStep(
        "training-queue",
        "3 · Train in the background",
        "Queued experiments train in worker processes, so the window never freezes. Each "
        "job shows its progress and log; a crash or a cancel leaves the project intact.",
        "table",
    ),
    TourStep(
        "models",
        "4 · Compare versions, promote one",
        "Every trained version with its metrics: hover a metric's name to read what it "
        "means. Select two and Compare to see whether a difference is real. 'production' "
        "marks the version in use; gates decide whether another may take its place.",
        "table",
    ),
    TourStep(
        "serving",
        "5 · Serve it with one button",
        "Start serving gives the model an HTTP endpoint on this computer that speaks "
        "MLflow's protocol, with copyable curl and Python examples. Every request is logged "
        "in the project for monitoring.",
        "toggle_button",
    ),
    TourStep(
        "monitoring",
        "6 · Watch it drift, retrain",
        "January's heat wave, double promotions and new stores show as red columns: the "
        "served traffic no longer looks like the training data. Click a column for its "
        "charts; Live performance measures the real error; Retrain… closes the loop.",
        "table",
    ),
    TourStep(
        "overview",
        "That is the whole lifecycle",
        "Explore freely: this demo can be rebuilt at any time (mlops-desktop demo --rebuild). "
        "Help > Guided Tour shows this tour again, and F1 lists the keyboard shortcuts.",
    ),
)


class Spotlight(QWidget):
    """An outline drawn over the window around the widget the tour talks about; clicks
    pass through it."""

    def __init__(self, parent: QWidget):
        super().__init__(parent)
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.setAttribute(Qt.WidgetAttribute.WA_NoSystemBackground)
        self.target: QWidget | None = None
        parent.installEventFilter(self)
        self.hide()

    def point_at(self, target: QWidget | None) -> None:
        self.target = target
        self.setVisible(target is not None)
        self._follow()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Resize:
            self._follow()
        return False

    def _follow(self) -> None:
        self.setGeometry(self.parentWidget().rect())
        self.raise_()
        self.update()

    def target_rect(self) -> QRect | None:
        if self.target is None or not self.target.isVisible():
            return None
        top_left = self.target.mapTo(self.parentWidget(), self.target.rect().topLeft())
        return QRect(top_left, self.target.size()).adjusted(-3, -3, 3, 3)

    def paintEvent(self, _event) -> None:
        rect = self.target_rect()
        if rect is None:
            return
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(QColor(255, 159, 28), 3))
        painter.drawRoundedRect(rect, 6, 6)


class TourCard(QFrame):
    """The tour's card, floating in the window's lower right corner."""

    finished = Signal(bool)  # True when the last step was reached, False when skipped

    def __init__(self, window, steps: tuple[TourStep, ...] = STEPS):
        super().__init__(window.centralWidget())
        self.window_ = window
        self.steps = steps
        self.index = 0
        self.setObjectName("tour-card")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAutoFillBackground(True)
        self.spotlight = Spotlight(window.centralWidget())
        self.counter = QLabel()
        self.counter.setObjectName("hint")
        self.title = QLabel()
        self.title.setObjectName("section-title")
        self.title.setWordWrap(True)
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.skip_button = QPushButton("Skip tour")
        self.skip_button.clicked.connect(self.skip)
        self.back_button = QPushButton("Back")
        self.back_button.clicked.connect(self.back)
        self.next_button = QPushButton("Next")
        self.next_button.setObjectName("primary")
        self.next_button.setDefault(True)
        self.next_button.clicked.connect(self.next)
        buttons = QHBoxLayout()
        buttons.addWidget(self.skip_button)
        buttons.addStretch(1)
        buttons.addWidget(self.back_button)
        buttons.addWidget(self.next_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.counter)
        layout.addWidget(self.title)
        layout.addWidget(self.text, 1)
        layout.addLayout(buttons)
        self.setFixedWidth(380)
        window.centralWidget().installEventFilter(self)
        # A panel still loading in the background: outline it once it is there.
        self._retry = QTimer(self)
        self._retry.setInterval(250)
        self._retry.timeout.connect(self._show_target)

    def start(self) -> None:
        self.index = 0
        self._show_step()
        self.show()
        self.raise_()
        self.next_button.setFocus()

    @property
    def step(self) -> TourStep:
        return self.steps[self.index]

    def next(self) -> None:
        if self.index == len(self.steps) - 1:
            self._end(completed=True)
            return
        self.index += 1
        self._show_step()

    def back(self) -> None:
        if self.index > 0:
            self.index -= 1
            self._show_step()

    def skip(self) -> None:
        self._end(completed=False)

    def keyPressEvent(self, event) -> None:
        if event.key() == Qt.Key.Key_Escape:
            self.skip()
            return
        super().keyPressEvent(event)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Resize:
            self._place()
        return False

    def _show_step(self) -> None:
        step = self.step
        last = self.index == len(self.steps) - 1
        self.counter.setText(f"Guided tour · {self.index + 1} of {len(self.steps)}")
        self.title.setText(step.title)
        self.text.setText(step.text)
        self.back_button.setEnabled(self.index > 0)
        self.next_button.setText("Finish" if last else "Next")
        self.skip_button.setVisible(not last)
        self.window_.show_panel(step.panel)
        self._show_target()
        # Wrapped text is as tall as the card's width makes it.
        layout = self.layout()
        height = layout.heightForWidth(self.width()) if layout.hasHeightForWidth() else -1
        self.resize(self.width(), max(height, layout.sizeHint().height()))
        self._place()

    def _show_target(self) -> None:
        panel = self.window_.show_panel(self.step.panel)
        if panel is None:
            self.spotlight.point_at(None)
            self._retry.start()
            return
        self._retry.stop()
        target = getattr(panel, self.step.target, None) if self.step.target else None
        self.spotlight.point_at(target if isinstance(target, QWidget) else panel)
        self.raise_()

    def _place(self) -> None:
        area = self.parentWidget().rect()
        self.move(area.right() - self.width() - 16, area.bottom() - self.height() - 36)

    def _end(self, completed: bool) -> None:
        self._retry.stop()
        self.spotlight.point_at(None)
        self.spotlight.deleteLater()
        self.hide()
        self.deleteLater()
        self.finished.emit(completed)
