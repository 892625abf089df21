"""matplotlib charts embedded in panels, drawn from stored numbers (never from raw data).

matplotlib is imported on first use (it costs about a second), and ``warm_up`` lets a
window pay that cost on a worker thread before anyone asks for a chart.
"""

from __future__ import annotations

import itertools
import logging
import weakref
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import shiboken6
from PySide6.QtCore import QEvent, QObject, QTimer, Signal, Slot
from PySide6.QtGui import QImage, QPainter, QPalette
from PySide6.QtWidgets import QSizePolicy, QWidget

from mlops_desktop.qt import theme
from mlops_desktop.qt.workers.modules import start_import, when_imported

if TYPE_CHECKING:
    from mlops_desktop.domain.profile import ColumnProfile, TableProfile

log = logging.getLogger(__name__)

MATPLOTLIB = ("matplotlib.figure", "matplotlib.backends.backend_agg")


def warm_up(*also: str) -> None:
    """Import matplotlib's Qt backend, and the modules ``also`` names, in the background."""
    for name in (*MATPLOTLIB, *also):
        start_import(name)


def when_ready(receiver: QWidget, callback, also: Sequence[str] = ()) -> None:
    """Call ``callback`` on the GUI thread once matplotlib and ``also`` are imported (at once
    if they are)."""
    when_imported(
        receiver,
        [*MATPLOTLIB, *also],
        callback,
        lambda exc: log.error("cannot draw charts: %s", exc),
    )


class ChartCanvas(QWidget):
    """One matplotlib figure in a widget, drawn and rendered off the event loop.

    ``draw(fn)`` runs ``fn(figure)`` on the chart thread, then lays the figure out and
    renders it there; the widget paints the image when it arrives (and the last one, scaled,
    meanwhile). Laying out and rendering a histogram takes 80 to 130 ms here and a
    correlation map 400 ms: on the event loop that froze every click. Only the chart thread
    touches a figure once it is shown, so ``fn`` holds everything that changes it."""

    def __init__(self, parent: QWidget | None = None, height: float = 3.2):
        super().__init__(parent)
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        self.figure = Figure(figsize=(6, height), layout="constrained")
        FigureCanvasAgg(self.figure)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        # A canvas squeezed to nothing (a hidden tab) would make constrained layout give up.
        self.setMinimumSize(320, 220)
        self._image: QImage | None = None
        self._asked = self._shown = 0  # numbers of the last render asked for and shown
        self._delivery = _delivery()
        self._resized = QTimer(self, singleShot=True, interval=80)
        self._resized.timeout.connect(self.redraw)

    def draw(self, fn=None) -> None:
        """Change the figure with ``fn(figure)`` (if given) and show it, off the event loop."""
        self._asked += 1
        size = (max(self.width(), 320), max(self.height(), 220), self.devicePixelRatioF())
        _chart_thread().submit(self._render, fn, QPalette(self.palette()), size, self._asked)

    def redraw(self) -> None:
        self.draw(None)

    @property
    def idle(self) -> bool:
        """Whether what is shown is the last thing asked for."""
        return self._shown == self._asked

    def _render(self, fn, palette: QPalette, size: tuple, number: int) -> None:
        try:
            if fn is not None:
                fn(self.figure)
            if number != self._asked:
                return  # a newer drawing is queued: render that one instead
            width, height, ratio = size
            dpi = self.figure.get_dpi()
            self.figure.set_size_inches(width * ratio / dpi, height * ratio / dpi)
            theme.style_figure(self.figure, palette)
            self.figure.canvas.draw()
            buffer = self.figure.canvas.buffer_rgba()
            image = QImage(
                bytes(buffer), buffer.shape[1], buffer.shape[0], QImage.Format.Format_RGBA8888
            )
            image.setDevicePixelRatio(ratio)
        except Exception:  # a chart that fails to draw must not take the thread with it
            log.exception("cannot draw a chart")
            image = QImage()
        self._delivery.rendered.emit(weakref.ref(self), number, image)

    def _show(self, number: int, image: QImage) -> None:
        self._shown = max(self._shown, number)
        if number < self._asked and not image.isNull() and self._image is not None:
            return
        self._image = None if image.isNull() else image
        self.update()

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), self.palette().color(QPalette.ColorRole.Window))
        if self._image is not None:
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            painter.drawImage(self.rect(), self._image)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._resized.start()

    def changeEvent(self, event: QEvent) -> None:
        # The system switched between light and dark: recolour what is drawn.
        if event.type() == QEvent.Type.PaletteChange:
            self.redraw()
        super().changeEvent(event)


_CHARTS: ThreadPoolExecutor | None = None


class _Delivery(QObject):
    """Carries rendered images from the chart thread to their canvases. It lives as long as
    the application: emitting on the canvas itself raced with the GUI thread deleting it (a
    closed panel), which crashed the process rather than raising."""

    rendered = Signal(object, int, QImage)

    def __init__(self):
        super().__init__()
        self.rendered.connect(self._deliver)

    @Slot(object, int, QImage)
    def _deliver(self, canvas: weakref.ref, number: int, image: QImage) -> None:
        shown = canvas()
        if shown is not None and shiboken6.isValid(shown):
            shown._show(number, image)


_DELIVERY: _Delivery | None = None


def _delivery() -> _Delivery:
    """Made on the GUI thread (by the first canvas), so that images arrive there."""
    global _DELIVERY
    if _DELIVERY is None:
        _DELIVERY = _Delivery()
    return _DELIVERY


def _chart_thread() -> ThreadPoolExecutor:
    """One thread for every chart: matplotlib is not made for several at once."""
    global _CHARTS
    if _CHARTS is None:
        _CHARTS = ThreadPoolExecutor(max_workers=1, thread_name_prefix="charts")
    return _CHARTS


def draw_column(figure, column: ColumnProfile) -> None:
    """A histogram for numbers and dates, a bar chart of the top values otherwise."""
    figure.clear()
    axes = figure.add_subplot()
    if column.histogram:
        edges, counts = column.histogram["edges"], column.histogram["counts"]
        widths = [b - a for a, b in itertools.pairwise(edges)]
        if column.kind == "datetime":
            # Stored as seconds since 1970; matplotlib's dates are days since its epoch (1970).
            edges, widths = [e / 86400 for e in edges], [w / 86400 for w in widths]
            axes.xaxis_date()
        axes.bar(
            edges[:-1],
            counts,
            width=widths,
            align="edge",
            color="#1f77b4",
            edgecolor="white",
            linewidth=0.5,
        )
        axes.set_ylabel("rows")
        axes.set_title(f"{column.name}: distribution", loc="left", fontsize=10)
    elif column.top:
        labels = [str(v)[:30] for v, _ in column.top][::-1]
        counts = [c for _, c in column.top][::-1]
        axes.barh(labels, counts, color="#1f77b4")
        axes.set_xlabel("rows")
        shown = "" if column.unique <= len(column.top) else f" (top {len(column.top)})"
        axes.set_title(f"{column.name}: most frequent values{shown}", loc="left", fontsize=10)
    else:
        axes.text(0.5, 0.5, "No values to chart", ha="center", va="center")
        axes.set_axis_off()


def draw_missing(figure, profile: TableProfile) -> None:
    """Share of missing values per column, worst first (at most 40 columns)."""
    figure.clear()
    axes = figure.add_subplot()
    columns = sorted(profile.columns, key=lambda c: c.missing_share, reverse=True)[:40]
    if not any(c.missing for c in columns):
        axes.text(0.5, 0.5, "No missing values", ha="center", va="center", fontsize=12)
        axes.set_axis_off()
        return
    names = [c.name[:30] for c in columns][::-1]
    shares = [100 * c.missing_share for c in columns][::-1]
    axes.barh(names, shares, color="#d62728")
    axes.set_xlabel("% missing")
    axes.set_xlim(0, 100)
    shown = (
        f": the {len(columns)} of {len(profile.columns):,} with most"
        if len(profile.columns) > len(columns)
        else ""
    )
    axes.set_title(f"Missing values by column{shown}", loc="left", fontsize=10)


def _short_labels(names: list[str], width: int) -> list[str]:
    """Names cut to ``width``, keeping the part that tells them apart: columns named
    ``reading_001_celsius`` ... ``reading_030_celsius`` show as ``…001…`` ... ``…030…``."""
    head = _shared_start(names)
    tail = _shared_start([n[::-1] for n in names])
    if min(len(n) for n in names) - head - tail < 1:
        head = tail = 0
    labels = []
    for name in names:
        core = name[head : len(name) - tail]
        label = ("…" if head else "") + core + ("…" if tail else "")
        labels.append(label if len(label) <= width else label[: width - 1] + "…")
    return labels


def _shared_start(texts: list[str]) -> int:
    """How many characters every text starts with alike."""
    for i, chars in enumerate(zip(*texts, strict=False)):
        if len(set(chars)) > 1:
            return i
    return min(len(t) for t in texts)


def draw_correlation(figure, profile: TableProfile) -> None:
    figure.clear()
    axes = figure.add_subplot()
    correlation = profile.correlation
    if not correlation:
        axes.text(0.5, 0.5, "Fewer than two numeric columns", ha="center", va="center")
        axes.set_axis_off()
        return
    import numpy as np

    names = correlation["columns"]
    matrix = np.array([[np.nan if v is None else v for v in row] for row in correlation["matrix"]])
    image = axes.imshow(matrix, cmap="RdBu_r", vmin=-1, vmax=1)
    # Past 16 columns, smaller and shorter names keep every label apart.
    crowded = len(names) > 16
    labels = _short_labels(names, 11) if crowded else [n[:16] for n in names]
    size = 6 if crowded else 8
    axes.set_xticks(range(len(names)), labels, rotation=60, ha="right", fontsize=size)
    axes.set_yticks(range(len(names)), labels, fontsize=size)
    if len(names) <= 12:
        for i in range(len(names)):
            for j in range(len(names)):
                if not np.isnan(matrix[i, j]):
                    axes.text(j, i, f"{matrix[i, j]:.2f}", ha="center", va="center", fontsize=7)
    figure.colorbar(image, ax=axes, shrink=0.8, label="Pearson r")
    numeric = sum(c.kind == "numeric" and c.unique > 1 for c in profile.columns)
    which = f"the first {len(names)} of {numeric:,}" if numeric > len(names) else "the"
    # On the figure, not the square map: there a long title ran off the right edge.
    figure.suptitle(
        f"Correlation of {which} numeric columns ({correlation['rows_used']:,} rows)",
        x=0.01,
        ha="left",
        fontsize=10,
    )
