"""``mlops-desktop monitor`` (drift and the service level of a version) and ``thresholds``."""

from __future__ import annotations

import re
import time
from pathlib import Path

import click

from mlops_desktop.cli.base import cli, emit, existing_project, json_option, progress_state
from mlops_desktop.cli.models import _number, recipe_option
from mlops_desktop.domain.errors import UserError

#: ``--since 24h``: that long before now (s, m, h, d, w).
_AGO = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def _moment(value: str | None, option: str):
    """An ISO 8601 time, or a duration before now such as 30m, 24h or 7d."""
    if value is None:
        return None
    ago = _AGO.match(value)
    if ago:
        return time.time() - float(ago.group(1)) * _UNITS[ago.group(2)]
    from mlops_desktop.domain.serving import parse_time

    try:
        return parse_time(value)
    except ValueError:
        raise UserError(
            f"{option} {value!r} is not a time: give ISO 8601 (2026-12-01 or "
            "2026-12-01T08:00) or a duration before now such as 30m, 24h or 7d."
        ) from None


def _percent(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.0%}" if value >= 0.01 or value == 0 else f"{value:.2%}"


def _row(column) -> str:
    missing = f"{_percent(column.missing_reference)}->{_percent(column.missing_current)}"
    return (
        f"{column.name[:24]:<24} {column.test or '-':<5} {_number(column.statistic):>9} "
        f"{_number(column.p_value):>9} {_number(column.effect):>8} {_number(column.psi):>8} "
        f"{missing:>11} {_percent(column.new_categories):>6}  {column.status.upper()}"
        + (f"  ({column.note})" if column.note else "")
    )


def _text(report) -> str:
    window = ""
    if report.since or report.until:
        window = f" from {report.since or 'the start'} until {report.until or 'now'}"
    lines = [
        f"{report.version} against {report.against}{window}: {report.status.upper()}",
        f"{report.drift.rows:,} rows; reference from {report.reference}",
        "",
        f"{'column':<24} {'test':<5} {'statistic':>9} {'p-value':>9} {'effect':>8} {'PSI':>8} "
        f"{'missing':>11} {'new':>6}  status",
    ]
    lines += [_row(c) for c in report.drift.columns]
    if report.drift.prediction is not None:
        lines.append(_row(report.drift.prediction))
    for name, why in report.drift.skipped.items():
        lines.append(f"{name[:24]:<24} not compared: {why}")
    ops = report.operations
    if ops is not None:
        latency = "no answered requests"
        if ops.p95_ms is not None:
            latency = f"latency p50 {ops.p50_ms:.1f} ms, p95 {ops.p95_ms:.1f} ms"
        lines += [
            "",
            f"{ops.requests:,} requests, {ops.errors:,} failed ({_percent(ops.error_rate)}); "
            f"{latency}; SLA p95 {ops.sla_p95_ms:g} ms, errors {_percent(ops.sla_error_rate)}: "
            f"{ops.status.upper()}",
        ]
    if report.alerts:
        lines += ["", "alerts:"]
        # A crossing is news once; later looks show it as still crossed.
        lines += [f"  {'NEW  ' if a.new else 'still'} {a.sentence()}" for a in report.alerts]
    return "\n".join(lines)


def _performance_text(live) -> str:
    lines = [
        f"{live.version}: {live.labelled:,} logged rows with a true value"
        + (f" ({live.unmatched:,} labels matched no logged request)" if live.unmatched else ""),
        "",
        f"{'metric':<24} {'live':>10} {'training':>10}",
    ]
    for name, value in live.live.items():
        lines.append(f"{name:<24} {_number(value):>10} {_number(live.training.get(name)):>10}")
    return "\n".join(lines)


@cli.command("monitor")
@click.argument("project", type=click.Path(path_type=Path))
@click.argument("model")
@click.option(
    "--against",
    metavar="DATASET[:N]",
    help="Compare this dataset version with the training data instead of the prediction log.",
)
@recipe_option
@click.option(
    "--labels",
    metavar="FILE.csv|DATASET[:N]",
    help="Instead of drift: how right the logged predictions were, against the true values "
    "in a CSV file or dataset version with a request_id column (each answer's X-Request-Id), "
    "optionally row, and the target under its training name or 'label'.",
)
@click.option(
    "--since", help="Start of the log window: ISO 8601, or a duration before now (24h, 7d)."
)
@click.option("--until", help="End of the log window (not included), in the same forms.")
@json_option
def monitor_command(
    project: Path,
    model: str,
    against: str | None,
    recipe: str,
    labels: str | None,
    since: str | None,
    until: str | None,
    as_json: bool,
) -> None:
    """Drift of MODEL[:N|@ALIAS]'s inputs and predictions against its training data, over
    its prediction log (with its requests, errors and latency against the SLA) or, with
    --against, in a dataset version; and the thresholds crossed (a new crossing is
    recorded in the history once)."""
    from mlops_desktop.services.project import Project

    if against and (since or until):
        raise UserError("--since and --until choose a window of the log: drop them with --against.")
    if against and labels:
        raise UserError("--labels checks the logged predictions: drop --against, or --labels.")
    window = _moment(since, "--since"), _moment(until, "--until")
    if labels:
        with Project.open(existing_project(project), read_only=True) as opened:
            live = opened.monitoring.performance(model, labels, *window)
        emit(as_json, live.to_json(), _performance_text(live))
        return
    progress, state = progress_state()
    with Project.open(existing_project(project)) as opened:
        if against:
            report = opened.monitoring.dataset_drift(model, against, recipe, state)
        else:
            report = opened.monitoring.served_drift(model, *window, state=state)
    progress.done()
    emit(as_json, report.to_json(), _text(report))


@cli.command("thresholds")
@click.argument("project", type=click.Path(path_type=Path))
@click.argument("changes", nargs=-1, metavar="[NAME=VALUE]...")
@click.option("--reset", multiple=True, metavar="NAME", help="Put NAME back to its default.")
@click.option("--reset-all", is_flag=True, help="Put every threshold back to its default.")
@json_option
def thresholds_command(
    project: Path, changes: tuple[str, ...], reset: tuple[str, ...], reset_all: bool, as_json: bool
) -> None:
    """Show or set the thresholds 'monitor' judges drift and the SLA by, e.g. psi_red=0.3
    sla_p95_ms=100 (see docs/monitoring.md for each)."""
    from mlops_desktop.domain.drift import Thresholds
    from mlops_desktop.services.project import Project

    values = {}
    for change in changes:
        name, equals, value = change.partition("=")
        if not equals:
            raise UserError(f"{change!r} is not NAME=VALUE: write it like psi_red=0.3.")
        values[name.strip()] = value.strip()
    names = Thresholds.names() if reset_all else list(reset)
    writing = bool(values or names)
    with Project.open(existing_project(project), read_only=not writing) as opened:
        monitoring = opened.monitoring
        result = monitoring.set_thresholds(values, names) if writing else monitoring.thresholds()
    defaults = Thresholds()
    lines = []
    for name in Thresholds.names():
        value, default = getattr(result, name), getattr(defaults, name)
        lines.append(
            f"{name:<20} {value:g}" + ("" if value == default else f"  (default {default:g})")
        )
    emit(as_json, result.to_json(), "\n".join(lines))
