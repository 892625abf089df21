"""Serving sessions and the prediction log: what a model server did, as plain values.

A *serving session* is one run of ``mlops-desktop serve``: which version it served and under
what name (``churn@production`` or ``churn:3``), where, on which engine, whether it logged
predictions, and how many requests it answered. The *prediction log* holds one row per
predicted row: the request's id, when it arrived, how long it took, the inputs and the
prediction (see ``mlops_desktop.store.serving`` for how it is stored).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

#: Columns of the prediction log besides the inputs, in the order a frame shows them.
#: ``row`` is a row's position in its request (0 for single-row requests): with
#: ``request_id`` it names one prediction, which is what ground truth is joined on.
META_COLUMNS = ("request_id", "row", "at", "latency_ms")
PREDICTION = "prediction"
#: Logged only for ``predict_proba`` requests: one list of class probabilities per row (their
#: ``prediction`` is missing), in the order of the signature's classes.
PROBABILITIES = "probabilities"
RESERVED = frozenset((*META_COLUMNS, PREDICTION, PROBABILITIES))
#: An input column whose name is one of ``RESERVED`` is logged (and shown) under this prefix.
RESERVED_PREFIX = "input."

#: How often a quiet server still marks its session alive, and after how long without a mark
#: a session that never said it stopped is taken for ended (killed, crashed, machine off).
HEARTBEAT_SECONDS = 10.0
LOST_AFTER_SECONDS = 3 * HEARTBEAT_SECONDS

RUNNING, STOPPED, LOST = "running", "stopped", "lost"


def logged_name(column: str) -> str:
    """The name an input column has in the log: itself, unless it clashes with ours."""
    return RESERVED_PREFIX + column if column in RESERVED else column


def parse_time(value: datetime | str | float | int) -> datetime:
    """An instant from a ``datetime`` (naive = UTC), ISO 8601 text or POSIX seconds."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    elif isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    else:
        raise TypeError(f"not a time: {value!r}")
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def iso_us(moment: datetime) -> str:
    """The text form batch bounds are stored in: UTC to the microsecond, so that text order
    is time order."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def epoch_us(moment: datetime) -> int:
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


@dataclass(frozen=True)
class ServingSession:
    """One run of the model server."""

    uuid: str
    model_version_uuid: str | None  # None once the version was deleted
    served_as: str  # what it was asked to serve: "churn@production" or "churn:3"
    version_label: str  # the version that answered: "churn:3"
    host: str
    port: int
    engine: str  # "onnxruntime", "scikit-learn"
    engine_reason: str
    log_predictions: bool
    started_at: str
    started_by: str
    stopped_at: str | None = None
    last_seen_at: str | None = None
    requests: int = 0
    errors: int = 0
    dropped: int = 0  # requests answered but not logged (the log could not keep up)

    @property
    def url(self) -> str:
        return f"http://{host_port(self.host, self.port)}"

    def state(self, now: datetime | None = None) -> str:
        """``running``; ``stopped`` (it said so); or ``lost``: it stopped marking itself
        alive without saying it stopped (killed, crashed, or the machine went off)."""
        if self.stopped_at is not None:
            return STOPPED
        seen = parse_time(self.last_seen_at or self.started_at)
        now = now or datetime.now(UTC)
        return RUNNING if (now - seen).total_seconds() <= LOST_AFTER_SECONDS else LOST

    @property
    def label(self) -> str:
        """``served 2026-12-02 10:14 on 127.0.0.1:5005, 1,234 requests`` (times in UTC)."""
        return self.label_for(self.requests)

    def label_for(self, requests: int) -> str:
        """The label with another count: the requests one of its versions answered."""
        started = self.started_at[:16].replace("T", " ")
        return (
            f"served {started} on {host_port(self.host, self.port)}, "
            f"{requests:,} request{'' if requests == 1 else 's'}"
        )

    def detail(self, now: datetime | None = None) -> str:
        """One line for lineage and lists: how, by whom, and how it ended."""
        parts = [f"{self.served_as} on {self.engine}"]
        if self.errors:
            parts.append(f"{self.errors:,} error{'' if self.errors == 1 else 's'}")
        if not self.log_predictions:
            parts.append("predictions not logged")
        elif self.dropped:
            parts.append(f"{self.dropped:,} requests not logged")
        state = self.state(now)
        if state == STOPPED:
            parts.append(f"stopped {self.stopped_at[:16].replace('T', ' ')}")
        elif state == LOST:
            seen = (self.last_seen_at or self.started_at)[:16].replace("T", " ")
            parts.append(f"ended without stopping, last seen {seen}")
        else:
            parts.append("running")
        return f"by {self.started_by}: " + ", ".join(parts)

    def to_json(self, now: datetime | None = None) -> dict:
        return {
            "uuid": self.uuid,
            "model_version_uuid": self.model_version_uuid,
            "served_as": self.served_as,
            "version": self.version_label,
            "url": self.url,
            "host": self.host,
            "port": self.port,
            "engine": self.engine,
            "engine_reason": self.engine_reason,
            "log_predictions": self.log_predictions,
            "started_at": self.started_at,
            "started_by": self.started_by,
            "stopped_at": self.stopped_at,
            "last_seen_at": self.last_seen_at,
            "state": self.state(now),
            "requests": self.requests,
            "errors": self.errors,
            "dropped": self.dropped,
        }


@dataclass(frozen=True)
class ServingError:
    """A request the server refused or failed (it has no prediction to log)."""

    session_uuid: str
    request_id: str
    at: str
    latency_ms: float
    status: int
    message: str


@dataclass(frozen=True)
class TrafficBucket:
    """Requests that arrived in one time bucket ``[start, start + seconds)``."""

    start: str  # ISO 8601, UTC
    seconds: float
    requests: int  # answered with predictions
    rows: int  # rows predicted
    errors: int  # refused or failed
    p50_ms: float | None  # latency of the answered requests; None when there were none
    p95_ms: float | None

    @property
    def error_rate(self) -> float:
        total = self.requests + self.errors
        return self.errors / total if total else 0.0

    def to_json(self) -> dict:
        return {
            "start": self.start,
            "seconds": self.seconds,
            "requests": self.requests,
            "rows": self.rows,
            "errors": self.errors,
            "error_rate": self.error_rate,
            "p50_ms": self.p50_ms,
            "p95_ms": self.p95_ms,
        }
