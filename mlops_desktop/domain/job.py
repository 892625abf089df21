"""Training jobs as values: status, progress, and how long they have left."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
STATUSES = (QUEUED, RUNNING, DONE, FAILED, CANCELLED)
FINISHED = (DONE, FAILED, CANCELLED)


def _seconds_between(start: str | None, end: str | datetime | None) -> float | None:
    if start is None or end is None:
        return None
    end_time = end if isinstance(end, datetime) else datetime.fromisoformat(end)
    return max((end_time - datetime.fromisoformat(start)).total_seconds(), 0.0)


@dataclass(frozen=True)
class Job:
    uuid: str
    number: int
    experiment_name: str
    spec: dict
    status: str
    priority: int
    position: float
    retries_left: int
    cancel_requested: bool
    created_at: str
    created_by: str
    started_at: str | None = None
    finished_at: str | None = None
    worker_id: str | None = None
    heartbeat_at: str | None = None
    progress: float | None = None
    progress_message: str = ""
    log: str = ""
    error: str | None = None
    model_version_uuid: str | None = None
    model_label: str | None = None

    def elapsed(self, now: datetime) -> float | None:
        """Seconds of work: until it finished, or until ``now`` while it runs."""
        return _seconds_between(self.started_at, self.finished_at or now)

    def remaining(self, now: datetime) -> float | None:
        """Seconds left, extrapolated from progress so far (None until there is some)."""
        elapsed = self.elapsed(now)
        if self.status != RUNNING or not self.progress or elapsed is None or elapsed < 1:
            return None
        return elapsed * (1 - self.progress) / self.progress

    def to_json(self) -> dict:
        return {
            "number": self.number,
            "uuid": self.uuid,
            "experiment": self.experiment_name,
            "status": self.status,
            "priority": self.priority,
            "created_at": self.created_at,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "worker": self.worker_id,
            "progress": self.progress,
            "message": self.progress_message,
            "error": self.error,
            "model_version": self.model_label,
        }


def duration_text(seconds: float | None) -> str:
    if seconds is None:
        return ""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"
