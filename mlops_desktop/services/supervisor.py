"""Starting and watching worker processes: the GUI's queue and ``queue run`` share this.

``tick()`` is called periodically: it collects workers that ended (a killed worker's job is
failed with the signal that killed it), reaps jobs whose heartbeat stopped, and starts
workers while queued jobs wait and the queue is not paused, up to the pool's size.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from mlops_desktop.domain.job import QUEUED, RUNNING
from mlops_desktop.services.commands import own_command
from mlops_desktop.services.worker import PROCESS_VARIABLE, STALE_SECONDS, is_gone

log = logging.getLogger(__name__)

#: How often ``wait`` looks whether a worker process ended (a cheap waitpid).
_EXIT_POLL = 0.01

_THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)


def default_size() -> int:
    """One worker per free core, at least one."""
    try:
        free = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        free = os.cpu_count() or 1
    return max(1, free)


@dataclass
class _Running:
    process: subprocess.Popen
    errors: Path  # the worker's stderr, read when it ends


@dataclass
class WorkerPool:
    project_path: str
    size: int = field(default_factory=default_size)
    workers: dict[int, _Running] = field(default_factory=dict)
    messages: list[str] = field(default_factory=list)  # what went wrong, for the user

    def _start(self) -> None:
        errors = Path(tempfile.mkstemp(prefix="mlops-worker-", suffix=".log")[1])
        # Share the cores between the workers: numerical libraries otherwise start a thread
        # per core in every worker, and oversubscribed cores make all of them crawl.
        threads = str(max(1, default_size() // max(self.size, 1)))
        env = {
            **os.environ,
            **{name: threads for name in _THREAD_VARIABLES},
            PROCESS_VARIABLE: "1",
        }
        with errors.open("wb") as sink:
            process = subprocess.Popen(
                own_command("worker", self.project_path),
                stdout=subprocess.DEVNULL,
                stderr=sink,
                stdin=subprocess.DEVNULL,
                env=env,
            )
        self.workers[process.pid] = _Running(process, errors)
        log.info("started worker %s for %s", process.pid, self.project_path)

    def _collect(self, project) -> None:
        for pid, running in list(self.workers.items()):
            code = running.process.poll()
            if code is None:
                continue
            del self.workers[pid]
            text = running.errors.read_text(errors="replace").strip()
            running.errors.unlink(missing_ok=True)
            if code < 0:
                reason = f"was killed by signal {-code} ({signal.Signals(-code).name})"
                if -code == signal.SIGKILL:
                    reason += ", often because the computer ran out of memory"
                self._fail_jobs_of(project, pid, f"The worker running it {reason}.")
            elif code not in (0, 3):  # 3: it stopped itself to cancel a job
                last = text.splitlines()[-1] if text else f"exit status {code}"
                self.messages.append(f"A training worker stopped: {last}")
                self._fail_jobs_of(project, pid, f"The worker running it stopped: {last}")

    @staticmethod
    def _fail_jobs_of(project, pid: int, reason: str) -> None:
        jobs = project.file.jobs
        with project.file.transaction():
            for job in jobs.all():
                if job.status == RUNNING and job.worker_id and job.worker_id.endswith(f":{pid}"):
                    if job.retries_left > 0:
                        jobs.requeue(job.uuid, reason)
                    else:
                        jobs.fail(job.uuid, reason)

    def tick(self) -> None:
        from mlops_desktop.services.project import Project

        with Project.open(self.project_path) as project:
            self._collect(project)
            jobs = project.file.jobs
            with project.file.transaction():
                jobs.reap(STALE_SECONDS, is_gone)
            if jobs.paused():
                return
            waiting = jobs.counts().get(QUEUED, 0)
            busy = sum(1 for j in jobs.all() if j.status == RUNNING)
            idle_workers = max(len(self.workers) - busy, 0)
            wanted = min(self.size - len(self.workers), waiting - idle_workers)
            for _ in range(max(wanted, 0)):
                self._start()

    def idle(self) -> bool:
        return not self.workers

    def stop(self, requeue: bool = True, timeout: float = 5.0) -> None:
        """Stop every worker; their running jobs go back to the queue (to resume later)."""
        for running in self.workers.values():
            running.process.terminate()
        for running in self.workers.values():
            try:
                running.process.wait(timeout)
            except subprocess.TimeoutExpired:
                running.process.kill()
                running.process.wait()
            running.errors.unlink(missing_ok=True)
        pids = list(self.workers)
        self.workers.clear()
        if not requeue or not pids:
            return
        from mlops_desktop.services.project import Project

        with Project.open(self.project_path) as project, project.file.transaction():
            for job in project.file.jobs.all():
                if job.status == RUNNING and any(
                    (job.worker_id or "").endswith(f":{pid}") for pid in pids
                ):
                    project.file.jobs.requeue(
                        job.uuid, "The app closed while it ran.", use_retry=False
                    )

    def wait(self, timeout: float) -> None:
        """Sleep up to ``timeout`` seconds, less if a worker process ends meanwhile: the next
        tick then starts another for the jobs left, or sees the queue empty, at once."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            if any(r.process.poll() is not None for r in self.workers.values()):
                return
            time.sleep(min(remaining, _EXIT_POLL) if self.workers else remaining)

    def run_until_idle(self, poll: float = 0.2, until=None) -> None:
        """Tick until no job is queued or running (or ``until()`` is true)."""
        from mlops_desktop.services.project import Project

        # One connection held throughout: each tick's own open then finds the file
        # already checked in this process, instead of reading every page again.
        with Project.open(self.project_path, read_only=True) as project:
            while True:
                self.tick()
                counts = project.file.jobs.counts()
                paused = project.file.jobs.paused()
                if until is not None and until():
                    break
                if not counts.get(RUNNING) and (paused or not counts.get(QUEUED)) and self.idle():
                    break
                self.wait(poll)
