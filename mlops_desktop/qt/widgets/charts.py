"""matplotlib charts embedded in panels, drawn from stored numbers (never from raw data).

matplotlib is imported on first use (it costs about a second), and ``warm_up`` lets a
window pay that cost on a worker thread before anyone asks for a chart.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent
from PySide6.QtWidgets import QSizePolicy, QVBoxLayout, QWidget

from mlops_desktop.qt import theme
from mlops_desktop.qt.workers.modules import start_import, when_imported

if TYPE_CHECKING:
    from mlops_desktop.domain.profile import ColumnProfile, TableProfile

log = logging.getLogger(__name__)

MATPLOTLIB = ("matplotlib.figure", "matplotlib.backends.backend_qtagg")


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
    """One matplotlib figure in a widget; ``figure`` is cleared and redrawn by callers."""

    def __init__(self, parent: QWidget | None = None, height: float = 3.2):
        super().__init__(parent)
        from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
        from matplotlib.figure import Figure

        self.figure = Figure(figsize=(6, height), layout="constrained")
        self.canvas = FigureCanvasQTAgg(self.figure)
        self.canvas.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        # A canvas squeezed to nothing (a hidden tab) would make constrained layout give up.
        self.canvas.setMinimumSize(320, 220)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.canvas)

    def redraw(self) -> None:
        theme.style_figure(self.figure, self.palette())
        self.canvas.draw_idle()

    def changeEvent(self, event: QEvent) -> None:
        # The system switched between light and dark: recolour what is drawn.
        if event.type() == QEvent.Type.PaletteChange:
            self.redraw()
        super().changeEvent(event)


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
