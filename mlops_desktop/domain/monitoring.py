"""A monitoring report: a version's drift, its service level and the thresholds it crossed."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mlops_desktop.domain.drift import GREEN, RED, DriftReport, Thresholds, worst
from mlops_desktop.domain.serving import TrafficBucket

#: Bucket lengths a window is cut into for charts: the first giving at most ``MAX_POINTS``.
BUCKET_CHOICES = (60, 300, 900, 3600, 6 * 3600, 86400, 7 * 86400)
MAX_POINTS = 100


def bucket_seconds_for(span_seconds: float) -> float:
    """A round bucket length that cuts a window of ``span_seconds`` into a readable chart."""
    for seconds in BUCKET_CHOICES:
        if span_seconds / seconds <= MAX_POINTS:
            return float(seconds)
    return float(BUCKET_CHOICES[-1])


@dataclass(frozen=True)
class Alert:
    """A threshold crossed: ``new`` when this look is the first to see it crossed."""

    subject: str  # a feature, "prediction", "latency" or "errors"
    measure: str
    value: float
    threshold: float
    status: str
    new: bool

    @property
    def key(self) -> tuple[str, str]:
        return self.subject, self.measure

    def sentence(self) -> str:
        shown = f"{self.measure} {self.value:.4g} over {self.threshold:.4g}"
        return f"{self.subject}: {shown} ({self.status})"

    def to_json(self) -> dict:
        return {
            "subject": self.subject,
            "measure": self.measure,
            "value": self.value,
            "threshold": self.threshold,
            "status": self.status,
            "new": self.new,
        }


def drift_alerts(report: DriftReport) -> list[Alert]:
    """Every threshold the report's columns and predictions crossed (not yet marked new)."""
    every = [*report.columns, *([report.prediction] if report.prediction else [])]
    return [
        Alert(column.name, c.measure, c.value, c.threshold, c.status, False)
        for column in every
        for c in column.crossed
    ]


@dataclass(frozen=True)
class Operations:
    """What a served version did in a window: volume, failures and latency against the SLA."""

    requests: int
    errors: int
    p50_ms: float | None
    p95_ms: float | None
    sla_p95_ms: float
    sla_error_rate: float
    buckets: tuple[TrafficBucket, ...] = field(default_factory=tuple)

    @classmethod
    def of(cls, latencies, errors: int, thresholds: Thresholds, buckets=()) -> Operations:
        """From the answered requests' latencies (ms) and the count of failed requests."""
        latencies = np.asarray(latencies, dtype=float)
        p50, p95 = (
            (float(np.quantile(latencies, 0.5)), float(np.quantile(latencies, 0.95)))
            if latencies.size
            else (None, None)
        )
        return cls(
            int(latencies.size),
            errors,
            p50,
            p95,
            thresholds.sla_p95_ms,
            thresholds.sla_error_rate,
            tuple(buckets),
        )

    @property
    def error_rate(self) -> float:
        total = self.requests + self.errors
        return self.errors / total if total else 0.0

    def alerts(self) -> list[Alert]:
        found = []
        if self.p95_ms is not None and self.p95_ms > self.sla_p95_ms:
            found.append(Alert("latency", "p95_ms", self.p95_ms, self.sla_p95_ms, RED, False))
        if self.error_rate > self.sla_error_rate:
            found.append(
                Alert("errors", "error_rate", self.error_rate, self.sla_error_rate, RED, False)
            )
        return found

    @property
    def status(self) -> str:
        return worst(a.status for a in self.alerts())

    def to_json(self) -> dict:
        return {
            "requests": self.requests,
            "errors": self.errors,
            "error_rate": self.error_rate,
            "p50_ms": self.p50_ms,
            "p95_ms": self.p95_ms,
            "sla": {"p95_ms": self.sla_p95_ms, "error_rate": self.sla_error_rate},
            "status": self.status,
            "buckets": [
                {
                    **b.to_json(),
                    "over_sla": (b.p95_ms is not None and b.p95_ms > self.sla_p95_ms)
                    or b.error_rate > self.sla_error_rate,
                }
                for b in self.buckets
            ],
        }


@dataclass(frozen=True)
class DriftPoint:
    """Drift in one time bucket of the prediction log: each column's PSI and status."""

    start: str  # ISO 8601, UTC
    rows: int
    psi: dict  # column (or "prediction") -> PSI, None when it could not be compared
    statuses: dict  # column -> green, amber or red
    status: str

    def to_json(self) -> dict:
        return {
            "start": self.start,
            "rows": self.rows,
            "psi": self.psi,
            "statuses": self.statuses,
            "status": self.status,
        }


@dataclass(frozen=True)
class MonitorReport:
    """One look at a version: served traffic in a window, or a dataset version."""

    version: str  # MODEL:N
    version_uuid: str
    scope: str  # "served" or "dataset"
    against: str  # what was compared with the reference, in words
    since: str | None
    until: str | None
    reference: str  # where the reference came from: training, or made on demand
    thresholds: Thresholds
    drift: DriftReport
    operations: Operations | None
    alerts: tuple[Alert, ...]

    @property
    def status(self) -> str:
        return worst([self.drift.status, self.operations.status if self.operations else GREEN])

    def to_json(self) -> dict:
        drift = self.drift.to_json()
        return {
            "model": self.version,
            "scope": self.scope,
            "against": self.against,
            "since": self.since,
            "until": self.until,
            "reference": self.reference,
            "status": self.status,
            "rows": drift["rows"],
            "features": drift["features"],
            "prediction": drift["prediction"],
            "skipped": drift["skipped"],
            "operations": self.operations.to_json() if self.operations else None,
            "alerts": [a.to_json() for a in self.alerts],
            "thresholds": self.thresholds.to_json(),
        }


@dataclass(frozen=True)
class LivePerformance:
    """How right a served version was, on the logged rows whose true value is known, next
    to what it scored on its hold-out rows in training."""

    version: str
    task: str
    labelled: int  # logged rows with a label
    unmatched: int  # labels whose request (and row) is not in the log window
    live: dict
    training: dict

    def to_json(self) -> dict:
        return {
            "version": self.version,
            "task": self.task,
            "labelled_rows": self.labelled,
            "unmatched_labels": self.unmatched,
            "metrics": {
                name: {"live": value, "training": self.training.get(name)}
                for name, value in self.live.items()
            },
        }
