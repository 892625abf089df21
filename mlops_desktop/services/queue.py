"""The training queue as use cases: queue an experiment, cancel, re-run, reorder, pause."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlops_desktop.domain.errors import UserError
from mlops_desktop.domain.job import FINISHED, Job

if TYPE_CHECKING:
    from mlops_desktop.services.project import Project


class Queue:
    """``project.queue``."""

    def __init__(self, project: Project):
        self._project = project
        self._jobs = project.file.jobs

    def jobs(self) -> list[Job]:
        return self._jobs.all()

    def job(self, number: int) -> Job:
        return self._jobs.by_number(number)

    def enqueue(self, experiment: str, priority: int = 0, retries: int = 0) -> Job:
        """Queue a copy of experiment ``experiment``'s spec (checked against its data first)."""
        row = self._project.file.experiments.get(experiment)
        spec = self._project.experiments.get(experiment)
        self._project.experiments.plan(spec)
        file = self._project.file
        with file.transaction():
            job = self._jobs.enqueue(row.uuid, row.name, spec.to_json(), priority, retries)
            file.events.record(
                "job.queue", f"Queued job #{job.number} for {row.name}", "job", job.uuid
            )
        return job

    def cancel(self, number: int) -> Job:
        file = self._project.file
        with file.transaction():
            job = self._jobs.request_cancel(self._jobs.by_number(number).uuid)
            file.events.record("job.cancel", f"Cancelled job #{number}", "job", job.uuid)
        return job

    def rerun(self, number: int) -> Job:
        """Queue a finished job's spec again, as a new job."""
        old = self._jobs.by_number(number)
        if old.status not in FINISHED:
            raise UserError(f"Job #{number} has not finished yet ({old.status}).")
        file = self._project.file
        with file.transaction():
            job = self._jobs.enqueue(None, old.experiment_name, old.spec, old.priority)
            file.events.record(
                "job.queue", f"Queued job #{job.number} to re-run #{number}", "job", job.uuid
            )
        return job

    def move(self, number: int, offset: int) -> None:
        with self._project.file.transaction():
            self._jobs.move(self._jobs.by_number(number).uuid, offset)

    def set_priority(self, number: int, priority: int) -> None:
        with self._project.file.transaction():
            self._jobs.set_priority(self._jobs.by_number(number).uuid, priority)

    def paused(self) -> bool:
        return self._jobs.paused()

    def set_paused(self, paused: bool) -> None:
        file = self._project.file
        with file.transaction():
            self._jobs.set_paused(paused)
            file.events.record(
                "queue.pause" if paused else "queue.resume",
                "Paused the training queue" if paused else "Resumed the training queue",
            )


def enqueue_task(project_path: str, experiment: str, state) -> Job:
    """Task function (thread): queue ``experiment``. Checking it against its data imports
    scikit-learn the first time, which would stall a window for a second."""
    from mlops_desktop.services.project import Project

    with Project.open(project_path) as project:
        return project.queue.enqueue(experiment)
