"""The training queue's rows: enqueue, claim atomically, heartbeat, finish, reap, reorder."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from mlops_desktop.domain.errors import UserError
from mlops_desktop.domain.job import CANCELLED, DONE, FAILED, QUEUED, RUNNING, Job
from mlops_desktop.store.clock import utc_now
from mlops_desktop.store.counters import next_number
from mlops_desktop.store.damage import decodes
from mlops_desktop.store.identity import current_actor

if TYPE_CHECKING:
    from collections.abc import Callable

    from mlops_desktop.store.project_file import ProjectFile

PAUSED_SETTING = "queue.paused"

_SELECT = """
    SELECT j.uuid, j.number, j.experiment_name, j.spec, j.status, j.priority, j.position,
           j.retries_left, j.cancel_requested, j.created_at, j.created_by, j.started_at,
           j.finished_at, j.worker_id, j.heartbeat_at, j.progress, j.progress_message,
           {log}, j.error, j.model_version_uuid, m.name || ':' || v.version
    FROM jobs j
    LEFT JOIN model_versions v ON v.uuid = j.model_version_uuid
    LEFT JOIN models m ON m.uuid = v.model_uuid
"""
_WITH_LOG = _SELECT.format(log="j.log")
#: Running first, then what runs next, then the most recently finished.
_ORDER = """
    ORDER BY CASE j.status WHEN 'running' THEN 0 WHEN 'queued' THEN 1 ELSE 2 END,
             CASE WHEN j.status = 'queued' THEN -j.priority END,
             CASE WHEN j.status = 'queued' THEN j.position END,
             j.finished_at DESC, j.number DESC
"""


@decodes("job")
def _job(row) -> Job:
    return Job(
        uuid=row[0],
        number=row[1],
        experiment_name=row[2],
        spec=json.loads(row[3]),
        status=row[4],
        priority=row[5],
        position=row[6],
        retries_left=row[7],
        cancel_requested=bool(row[8]),
        created_at=row[9],
        created_by=row[10],
        started_at=row[11],
        finished_at=row[12],
        worker_id=row[13],
        heartbeat_at=row[14],
        progress=row[15],
        progress_message=row[16],
        log=row[17],
        error=row[18],
        model_version_uuid=row[19],
        model_label=row[20],
    )


#: A job a worker may still write: running, on that worker.
_OWNED = "status = 'running' AND worker_id = ?"


class JobLostError(UserError):
    """The job a worker ran was taken from it: its result must not be saved."""


class JobRepository:
    def __init__(self, project: ProjectFile):
        self._project = project

    @property
    def _conn(self):
        return self._project.conn

    def get(self, job_uuid: str) -> Job:
        row = self._conn.execute(f"{_WITH_LOG} WHERE j.uuid = ?", (job_uuid,)).fetchone()
        if row is None:
            raise UserError(f"There is no job {job_uuid}.")
        return _job(row)

    def find(self, job_uuid: str) -> Job | None:
        row = self._conn.execute(f"{_WITH_LOG} WHERE j.uuid = ?", (job_uuid,)).fetchone()
        return _job(row) if row else None

    def by_number(self, number: int) -> Job:
        row = self._conn.execute(f"{_WITH_LOG} WHERE j.number = ?", (number,)).fetchone()
        if row is None:
            raise UserError(f"There is no job #{number}: 'mlops-desktop queue list' shows them.")
        return _job(row)

    def all(self, limit: int = 500, with_log: bool = False) -> list[Job]:
        """The queue in display order; logs (which grow long) only when asked for."""
        select = _WITH_LOG if with_log else _SELECT.format(log="''")
        rows = self._conn.execute(f"{select} {_ORDER} LIMIT ?", (limit,))
        return [_job(r) for r in rows]

    def counts(self) -> dict[str, int]:
        rows = self._conn.execute("SELECT status, count(*) FROM jobs GROUP BY status")
        return dict(rows.fetchall())

    def enqueue(
        self,
        experiment_uuid: str | None,
        name: str,
        spec: dict,
        priority: int = 0,
        retries: int = 0,
    ) -> Job:
        """Add a job at the end of its priority; call inside a transaction."""
        last, position = self._conn.execute(
            "SELECT coalesce(max(number), 0), coalesce(max(position), 0) + 1 FROM jobs"
        ).fetchone()
        number = next_number(last, "job number")
        job_uuid = str(uuid.uuid4())
        self._conn.execute(
            "INSERT INTO jobs (uuid, number, experiment_uuid, experiment_name, spec, status, "
            "priority, position, retries_left, created_at, created_by) "
            "VALUES (?, ?, ?, ?, ?, 'queued', ?, ?, ?, ?, ?)",
            (
                job_uuid,
                number,
                experiment_uuid,
                name,
                json.dumps(spec),
                priority,
                position,
                retries,
                utc_now(),
                current_actor(),
            ),
        )
        return self.get(job_uuid)

    def claim(self, worker_id: str) -> Job | None:
        """Take the next queued job for ``worker_id`` in one atomic statement, or None."""
        now = utc_now()
        row = self._conn.execute(
            "UPDATE jobs SET status = 'running', worker_id = ?, started_at = ?, "
            "heartbeat_at = ?, progress = 0, progress_message = 'Starting', error = NULL "
            "WHERE uuid = (SELECT uuid FROM jobs WHERE status = 'queued' "
            "ORDER BY priority DESC, position LIMIT 1) AND status = 'queued' RETURNING uuid",
            (worker_id, now, now),
        ).fetchone()
        return self.get(row[0]) if row else None

    def heartbeat(
        self, job_uuid: str, progress: float | None, message: str, worker_id: str
    ) -> bool:
        """Record that the job lives; True if it should stop: its cancellation was asked
        for, or it is no longer this worker's (ended, or reaped and given to another)."""
        row = self._conn.execute(
            "UPDATE jobs SET heartbeat_at = ?, progress = ?, progress_message = ? "
            f"WHERE uuid = ? AND {_OWNED} RETURNING cancel_requested",
            (utc_now(), progress, message, job_uuid, worker_id),
        ).fetchone()
        return row is None or bool(row[0])

    def append_log(self, job_uuid: str, text: str) -> None:
        self._conn.execute("UPDATE jobs SET log = log || ? WHERE uuid = ?", (text, job_uuid))

    def _end(
        self,
        job_uuid: str,
        status: str,
        error: str | None = None,
        model_version_uuid: str | None = None,
        worker_id: str | None = None,
    ) -> bool:
        """End the job; with ``worker_id``, only while it still runs on that worker (a
        worker must never end a job that was reaped and handed to another). True if ended."""
        owned = f" AND {_OWNED}" if worker_id is not None else ""
        cursor = self._conn.execute(
            "UPDATE jobs SET status = ?, error = ?, model_version_uuid = ?, finished_at = ?, "
            f"cancel_requested = 0 WHERE uuid = ?{owned}",
            (status, error, model_version_uuid, utc_now(), job_uuid)
            + ((worker_id,) if worker_id is not None else ()),
        )
        return cursor.rowcount == 1

    def finish(self, job_uuid: str, model_version_uuid: str, worker_id: str) -> None:
        """Mark the job done with its model version, in the transaction that adds the version;
        raises ``JobLostError`` (so that transaction rolls back) if the job is no longer this
        worker's, so one job never makes two versions."""
        self._conn.execute(
            "UPDATE jobs SET progress = 1, progress_message = 'Done' WHERE uuid = ?", (job_uuid,)
        )
        if not self._end(job_uuid, DONE, None, model_version_uuid, worker_id):
            raise JobLostError(
                "The job was taken from this worker (it stopped answering and was reaped), "
                "so its result was not saved: another worker runs it, or it was ended."
            )

    def fail(self, job_uuid: str, error: str, worker_id: str | None = None) -> bool:
        return self._end(job_uuid, FAILED, error, worker_id=worker_id)

    def mark_cancelled(self, job_uuid: str, worker_id: str | None = None) -> bool:
        return self._end(job_uuid, CANCELLED, "Cancelled.", worker_id=worker_id)

    def request_cancel(self, job_uuid: str) -> Job:
        """A queued job is cancelled at once; a running one is asked to stop."""
        job = self.get(job_uuid)
        if job.status == QUEUED:
            self.mark_cancelled(job_uuid)
        elif job.status == RUNNING:
            self._conn.execute("UPDATE jobs SET cancel_requested = 1 WHERE uuid = ?", (job_uuid,))
        else:
            raise UserError(f"Job #{job.number} has already ended ({job.status}).")
        return self.get(job_uuid)

    def requeue(self, job_uuid: str, reason: str, use_retry: bool = True) -> None:
        """Put a running job back in the queue: its worker died (using one of its retries)
        or the app that ran it closed (``use_retry=False``)."""
        self._conn.execute(
            "UPDATE jobs SET status = 'queued', worker_id = NULL, started_at = NULL, "
            "heartbeat_at = NULL, progress = NULL, progress_message = '', "
            "retries_left = max(retries_left - ?, 0), log = log || ? WHERE uuid = ?",
            (int(use_retry), f"\n{reason} Queued again.\n", job_uuid),
        )

    def reap(self, stale_after: float, is_gone: Callable[[str], bool]) -> list[tuple[Job, str]]:
        """End running jobs whose worker is gone or silent: re-queued if it has retries left,
        failed otherwise. Returns each job with the reason."""
        limit = (datetime.now(UTC) - timedelta(seconds=stale_after)).isoformat(
            timespec="milliseconds"
        )
        ended = []
        for job in [j for j in self.all() if j.status == RUNNING]:
            if job.worker_id and is_gone(job.worker_id):
                reason = f"The worker running it ({job.worker_id}) stopped unexpectedly."
            elif job.heartbeat_at is not None and job.heartbeat_at < limit:
                reason = (
                    f"The worker running it ({job.worker_id}) stopped responding (no "
                    f"heartbeat for {stale_after:.0f} s)."
                )
            else:
                continue
            if job.retries_left > 0:
                self.requeue(job.uuid, reason)
            else:
                self.fail(
                    job.uuid,
                    f"{reason} It may have been killed or run out of memory; run the job again.",
                )
            ended.append((job, reason))
        return ended

    def move(self, job_uuid: str, offset: int) -> None:
        """Move a queued job ``offset`` places among the queued jobs; call in a transaction."""
        queued = [j for j in self.all() if j.status == QUEUED]
        index = next((i for i, j in enumerate(queued) if j.uuid == job_uuid), None)
        if index is None:
            raise UserError("Only a queued job can be moved.")
        target = min(max(index + offset, 0), len(queued) - 1)
        if target == index:
            return
        order = queued[:index] + queued[index + 1 :]
        order.insert(target, queued[index])
        # The queue runs by priority, then position: the moved job takes its new neighbour's
        # priority (the one above it, or below it at the top) so it runs where it was put.
        neighbour = order[target - 1] if target > 0 else order[target + 1]
        for position, job in enumerate(order, start=1):
            priority = neighbour.priority if job.uuid == job_uuid else job.priority
            self._conn.execute(
                "UPDATE jobs SET position = ?, priority = ? WHERE uuid = ?",
                (float(position), priority, job.uuid),
            )

    def set_priority(self, job_uuid: str, priority: int) -> None:
        self._conn.execute("UPDATE jobs SET priority = ? WHERE uuid = ?", (priority, job_uuid))

    def paused(self) -> bool:
        return bool(self._project.settings.get(PAUSED_SETTING, False))

    def set_paused(self, paused: bool) -> None:
        self._project.settings.set(PAUSED_SETTING, paused)
