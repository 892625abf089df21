"""The Monitoring panel's charts: training vs now per column, drift over time, service level."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlops_desktop.domain.drift import ColumnDrift, Thresholds
    from mlops_desktop.domain.monitoring import DriftPoint, Operations

REFERENCE_COLOUR, CURRENT_COLOUR = "#1f77b4", "#ff7f0e"
AMBER_COLOUR, RED_COLOUR = "#e0a800", "#d62728"
STATUS_COLOURS = {"green": "#198754", "amber": AMBER_COLOUR, "red": RED_COLOUR}
#: Categories beyond this many (by their larger share) would be unreadable as bars.
MAX_BARS = 25


def _times(starts) -> list[datetime]:
    return [datetime.fromisoformat(s) for s in starts]


def _date_axis(axes) -> None:
    """Short date ticks that need no rotation (autofmt_xdate would hide other charts' ticks)."""
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

    locator = AutoDateLocator(maxticks=8)
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(ConciseDateFormatter(locator))


def _empty(axes, text: str) -> None:
    axes.text(0.5, 0.5, text, ha="center", va="center", wrap=True, color="#555555")
    axes.set_axis_off()


def _threshold_line(axes, value: float, colour: str, label: str) -> None:
    axes.axhline(value, color=colour, linestyle="--", linewidth=1, label=label)


def draw_shares(axes, column: ColumnDrift) -> None:
    """Bars of the share of rows per bin (numbers) or category, in training and now."""
    if not column.bins:
        _empty(axes, f"{column.name}: no distribution to compare\n({column.note or 'no values'})")
        return
    bins = list(column.bins)
    reference = [100 * s for s in column.reference_shares]
    current = [100 * s for s in column.current_shares]
    if column.kind != "numeric" and len(bins) > MAX_BARS:
        # Numeric bins keep their order; categories are shown by importance.
        order = sorted(range(len(bins)), key=lambda i: -max(reference[i], current[i]))[:MAX_BARS]
        bins, reference, current = ([seq[i] for i in order] for seq in (bins, reference, current))
    x = range(len(bins))
    axes.bar([i - 0.2 for i in x], reference, 0.4, color=REFERENCE_COLOUR, label="training")
    axes.bar([i + 0.2 for i in x], current, 0.4, color=CURRENT_COLOUR, label="now")
    slanted = len(bins) > 4 or max(len(b) for b in bins) > 12
    axes.set_xticks(
        list(x),
        [b[:20] for b in bins],
        rotation=35 if slanted else 0,
        ha="right" if slanted else "center",
        fontsize=8,
    )
    axes.set_ylabel("% of rows")
    axes.grid(True, axis="y", alpha=0.3)
    axes.legend(fontsize=8, frameon=False)
    psi = "" if column.psi is None else f", PSI {column.psi:.3g}"
    what = "bins of the training deciles" if column.kind == "numeric" else "categories"
    axes.set_title(f"{column.name}: training vs now, by {what}{psi}", loc="left", fontsize=10)


def draw_drift_over_time(
    axes, points: list[DriftPoint], name: str, thresholds: Thresholds, note: str = ""
) -> None:
    """The column's PSI per time bucket, each point coloured by its status, with the PSI
    thresholds behind."""
    shown = [p for p in points if p.psi.get(name) is not None]
    if not shown:
        _empty(axes, note or f"No time bucket had values of {name} to compare.")
        return
    times = _times(p.start for p in shown)
    values = [p.psi[name] for p in shown]
    axes.plot(times, values, color="#6c7a89", linewidth=1, zorder=1)
    axes.scatter(
        times,
        values,
        c=[STATUS_COLOURS[p.statuses.get(name, "green")] for p in shown],
        s=22,
        zorder=2,
    )
    _threshold_line(axes, thresholds.psi_amber, AMBER_COLOUR, f"amber {thresholds.psi_amber:g}")
    _threshold_line(axes, thresholds.psi_red, RED_COLOUR, f"red {thresholds.psi_red:g}")
    axes.set_ylim(0, max([*values, thresholds.psi_red]) * 1.15)
    axes.set_ylabel("PSI")
    axes.grid(True, axis="y", alpha=0.3)
    axes.legend(fontsize=8, frameon=False, loc="upper left")
    axes.set_title(
        f"{name}: PSI per time bucket, coloured by its status (a change must be proven)",
        loc="left",
        fontsize=10,
    )
    _date_axis(axes)


def draw_operations(figure, operations: Operations) -> None:
    """Requests, error rate and p50/p95 latency per time bucket, the SLA drawn against them."""
    figure.clear()
    buckets = operations.buckets
    if not buckets:
        _empty(figure.add_subplot(), "No requests in this window.")
        return
    volume, errors, latency = figure.subplots(3, 1, sharex=True)
    times = _times(b.start for b in buckets)
    width = buckets[0].seconds / 86400  # matplotlib's dates are in days
    volume.bar(times, [b.requests for b in buckets], width=width, align="edge", color="#9fb8d3")
    volume.set_ylabel("requests")
    volume.set_title(
        f"{operations.requests:,} requests, {operations.errors:,} failed, per "
        f"{_duration(buckets[0].seconds)}",
        loc="left",
        fontsize=10,
    )
    errors.plot(times, [100 * b.error_rate for b in buckets], color=RED_COLOUR, linewidth=1.2)
    _threshold_line(
        errors, 100 * operations.sla_error_rate, "#555555", f"SLA {operations.sla_error_rate:.0%}"
    )
    errors.set_ylabel("% failed")
    errors.set_ylim(
        0, max(100 * max(b.error_rate for b in buckets), 100 * operations.sla_error_rate) * 1.3
    )
    # Only buckets with answers have a latency; markers show lone ones between empty buckets.
    answered = [(t, b) for t, b in zip(times, buckets, strict=True) if b.p95_ms is not None]
    at = [t for t, _ in answered]
    p95 = [b.p95_ms for _, b in answered]
    style = {"linewidth": 1.2, "marker": "o", "markersize": 3}
    latency.plot(at, p95, color=RED_COLOUR, label="p95", **style)
    latency.plot(at, [b.p50_ms for _, b in answered], color=REFERENCE_COLOUR, label="p50", **style)
    _threshold_line(
        latency, operations.sla_p95_ms, "#555555", f"SLA p95 {operations.sla_p95_ms:g} ms"
    )
    latency.set_ylabel("latency (ms)")
    highest = max([*p95, operations.sla_p95_ms])
    latency.set_ylim(0, highest * 1.15)
    for axes in (volume, errors, latency):
        axes.grid(True, axis="y", alpha=0.3)
    for axes in (errors, latency):
        axes.legend(fontsize=8, frameon=False, loc="upper left")
    _date_axis(latency)


def _duration(seconds: float) -> str:
    for unit, length in (("week", 7 * 86400), ("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= length and seconds % length == 0:
            count = int(seconds // length)
            return unit if count == 1 else f"{count} {unit}s"
    return f"{seconds:g} s"
