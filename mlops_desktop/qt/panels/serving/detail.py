"""One server in detail: where it is, a latency chart, examples to copy, and its output."""

from __future__ import annotations

import html
import math
import time

from PySide6.QtCore import Qt
from PySide6.QtGui import QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from mlops_desktop.qt.widgets import charts
from mlops_desktop.services.servers import (
    CRASHED,
    HISTORY_SECONDS,
    SERVING,
    ServerProcess,
    StatsPoint,
    curl_example,
    python_example,
)

LATENCY_TAB, EXAMPLES_TAB, OUTPUT_TAB = range(3)


class LatencyChart:
    """p50 and p95 latency per second over the last minutes, requests per second behind.

    The axes and lines are made once and only their data changes: rebuilding the figure
    every second cost hundreds of milliseconds of the window's time.
    """

    def __init__(self, figure):
        from matplotlib.ticker import FuncFormatter

        self.figure = figure
        figure.clear()
        self.axes = axes = figure.add_subplot()
        self.volume = volume = axes.twinx()
        self._bars = None
        volume.set_ylabel("requests / s", color="#6c7a89")
        volume.tick_params(axis="y", colors="#6c7a89")
        # The lines in front of the bars: a twin axes draws after the first unless told.
        axes.set_zorder(volume.get_zorder() + 1)
        axes.patch.set_visible(False)
        (self.p95,) = axes.plot([], [], color="#d62728", linewidth=1.4, label="p95")
        (self.p50,) = axes.plot([], [], color="#1f77b4", linewidth=1.4, label="p50")
        axes.set_xlabel("minutes ago")
        # Time runs left to right up to now; the ticks say how long ago, without a minus.
        axes.xaxis.set_major_formatter(
            FuncFormatter(lambda x, _pos: "now" if abs(x) < 1e-9 else f"{-x:g}")
        )
        axes.set_ylabel("latency (ms)")
        axes.grid(True, axis="y", alpha=0.3)
        axes.legend(loc="upper left", fontsize=8, frameon=False)
        self.empty = axes.text(
            0.5,
            0.5,
            "No requests yet: send one with an example from “Call it”.",
            ha="center",
            va="center",
            transform=axes.transAxes,
            color="#555555",
        )

    def update(self, points: list[StatsPoint], now: float) -> None:
        axes = self.axes
        minutes = [(p.at - now) / 60 for p in points]
        served = [p for p in points if p.requests]
        # The axis grows with the history, from one minute to all that is kept.
        span = min(HISTORY_SECONDS / 60, max(1.0, -minutes[0] if minutes else 0.0))
        axes.set_xlim(-span, 0)
        # No requests in a second is a gap in the lines, not a zero latency.
        self.p50.set_data(minutes, [math.nan if p.p50_ms is None else p.p50_ms for p in points])
        self.p95.set_data(minutes, [math.nan if p.p95_ms is None else p.p95_ms for p in points])
        if self._bars is not None:
            self._bars.remove()
        counts = [p.requests for p in points]
        self._bars = self.volume.fill_between(
            minutes, counts, step="mid", color="#dfe6ee", linewidth=0
        )
        self.volume.set_ylim(0, max(counts, default=0) * 1.15 or 1)
        highest = max((p.p95_ms or p.p50_ms or 0 for p in served), default=0)
        axes.set_ylim(0, highest * 1.15 or 1)
        self.empty.set_visible(not served)
        for artist in (self.p50, self.p95, self.volume):
            artist.set_visible(bool(served))
        axes.get_legend().set_visible(bool(served))
        if served:
            last = served[-1]
            title = (
                f"Latency per second (latest p50 {last.p50_ms:.1f} ms, p95 {last.p95_ms:.1f} ms)"
            )
        else:
            title = "Latency per second"
        axes.set_title(title, loc="left", fontsize=10)


class _CodeBox(QWidget):
    """A read-only block of code with a Copy button."""

    def __init__(self, title: str, name: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.text = QPlainTextEdit()
        self.text.setObjectName(name)
        self.text.setReadOnly(True)
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.copy_button = QPushButton("Copy")
        self.copy_button.setObjectName(f"{name}-copy")
        self.copy_button.setToolTip(f"Copy the {title} example to the clipboard")
        self.copy_button.clicked.connect(self.copy)
        heading = QHBoxLayout()
        heading.addWidget(QLabel(f"<b>{title}</b>"))
        heading.addStretch(1)
        heading.addWidget(self.copy_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(heading)
        layout.addWidget(self.text, 1)

    def set_text(self, text: str) -> None:
        if text != self.text.toPlainText():
            self.text.setPlainText(text)
        self.copy_button.setEnabled(bool(text))

    def copy(self) -> None:
        QGuiApplication.clipboard().setText(self.text.toPlainText())


class ServerDetailView(QWidget):
    """The selected server; ``show_server`` is called on every poll."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.server: ServerProcess | None = None
        self._drawn: tuple | None = None
        self._examples: tuple | None = None
        self._state: str | None = None
        self.canvas: charts.ChartCanvas | None = None
        self.chart: LatencyChart | None = None

        self.heading = QLabel()
        self.heading.setObjectName("server-heading")
        self.heading.setWordWrap(True)
        self.heading.setTextFormat(Qt.TextFormat.RichText)
        self.heading.setOpenExternalLinks(True)
        self.heading.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)

        self.chart_page = QWidget()
        self.chart_layout = QVBoxLayout(self.chart_page)
        self.chart_layout.setContentsMargins(0, 4, 0, 0)
        self.chart_wait = QLabel("Loading the chart…")
        self.chart_wait.setObjectName("hint")
        self.chart_wait.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.chart_layout.addWidget(self.chart_wait)

        self.curl = _CodeBox("curl", "curl-example")
        self.python = _CodeBox("Python", "python-example")
        self.examples_hint = QLabel()
        self.examples_hint.setObjectName("hint")
        self.examples_hint.setWordWrap(True)
        examples = QWidget()
        examples_layout = QVBoxLayout(examples)
        examples_layout.setContentsMargins(0, 4, 0, 0)
        examples_layout.addWidget(self.examples_hint)
        boxes = QHBoxLayout()
        boxes.addWidget(self.curl, 1)
        boxes.addWidget(self.python, 1)
        examples_layout.addLayout(boxes, 1)

        self.output = QPlainTextEdit()
        self.output.setObjectName("server-output")
        self.output.setReadOnly(True)
        self.output.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))

        self.tabs = QTabWidget()
        self.tabs.addTab(self.chart_page, "Latency")
        self.tabs.addTab(examples, "Call it")
        self.tabs.addTab(self.output, "Output")
        self.tabs.currentChanged.connect(lambda _index: self._draw())
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.heading)
        layout.addWidget(self.tabs, 1)
        charts.when_ready(self, self._chart_ready)
        self.show_server(None)

    def _chart_ready(self) -> None:
        self.canvas = charts.ChartCanvas(height=3)
        self.canvas.setObjectName("latency-chart")
        self.chart_layout.removeWidget(self.chart_wait)
        self.chart_wait.deleteLater()
        self.chart_layout.addWidget(self.canvas)
        self.chart = LatencyChart(self.canvas.figure)
        self._drawn = None
        self._draw()

    def show_server(self, server: ServerProcess | None, example: dict | str | None = None) -> None:
        """Show ``server`` (None: nothing selected) and, once known, its request example
        (or a sentence saying why there is none)."""
        if server is not self.server:
            self.server, self._drawn, self._examples, self._state = server, None, None, None
        state = server.state if server is not None else None
        if state != self._state:
            self._state = state
            if state == CRASHED:
                self.tabs.setCurrentIndex(OUTPUT_TAB)  # why it crashed is what matters now
        self.tabs.setEnabled(server is not None)
        if server is None:
            self.heading.setText(
                "Select a server to see its latency, how to call it and its output."
            )
            self.curl.set_text("")
            self.python.set_text("")
            self.output.setPlainText("")
            self._draw()
            return
        self.heading.setText(self._heading(server))
        self._show_examples(server, example)
        self._show_output(server)
        self._draw()

    @staticmethod
    def _heading(server: ServerProcess) -> str:
        model = html.escape(server.model)
        if server.serving_label != server.model:
            model += f" → {html.escape(server.serving_label)}"
        parts = [f"<b>{model}</b>"]
        if server.url:
            url, docs = html.escape(server.url), html.escape(server.docs or "")
            verb = "serving at" if server.state == SERVING else f"{server.state}, was at"
            parts.append(f'{verb} <a href="{url}">{url}</a> · <a href="{docs}">API docs</a>')
        else:
            parts.append(f"{server.state} on {html.escape(server.host)}:{server.port}")
        if server.engine:
            parts.append(
                f"engine {html.escape(server.engine)} ({html.escape(server.reason or '')})"
            )
        if not server.log_predictions:
            parts.append("prediction log off")
        if server.error:
            parts.append(f'<span style="color:#dc3545">{html.escape(server.error)}</span>')
        return " · ".join(parts)

    def _show_examples(self, server: ServerProcess, example: dict | None) -> None:
        url = server.url or f"http://{server.host}:{server.port}"
        key = (url, server.token, id(example), example if isinstance(example, str) else None)
        if key == self._examples:
            return
        self._examples = key
        if not isinstance(example, dict):
            # None while it is being prepared, else why it could not be.
            self.examples_hint.setText(
                example or "Preparing examples from the model's training data…"
            )
            self.curl.set_text("")
            self.python.set_text("")
            return
        token = "" if not server.token else " They carry this server's token: keep them private."
        self.examples_hint.setText(
            "Ask the server for predictions with the first rows of the model's training data "
            f"(curl for a POSIX shell; Python with only its standard library).{token}"
        )
        self.curl.set_text(curl_example(url, example, server.token))
        self.python.set_text(python_example(url, example, server.token))

    def _show_output(self, server: ServerProcess) -> None:
        parts = []
        stderr = server.stderr.rstrip()
        if server.error and server.error not in stderr:
            parts.append(server.error)
        if stderr:
            parts.append(f"Error output:\n{stderr}")
        if server.log_file:
            parts.append(f"The server's log is in {server.log_file}.")
        if server.returncode is not None:
            parts.append(f"Exit code {server.returncode}.")
        text = "\n\n".join(parts) or "Nothing yet: the server writes here only if it fails."
        if text != self.output.toPlainText():
            self.output.setPlainText(text)

    def _draw(self) -> None:
        """Redraw the chart if it is on screen and a new stats line came in."""
        if (
            self.canvas is None
            or self.tabs.currentIndex() != LATENCY_TAB
            or not self.isVisible()  # another panel is in front: drawing would be wasted
        ):
            return
        points = self.server.points() if self.server is not None else []
        # Redrawn at least every 5 s while serving, so the time axis keeps moving.
        moving = self.server is not None and self.server.state == SERVING
        key = (id(self.server), len(points), points[-1].at if points else 0)
        key += (int(time.time() / 5),) if moving else ()
        if key == self._drawn:
            return
        self._drawn = key
        chart, now = self.chart, time.time()
        self.canvas.draw(lambda _figure: chart.update(points, now))

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self._draw()
