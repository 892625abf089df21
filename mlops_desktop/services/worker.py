"""The training worker: a process that claims queued jobs one at a time and trains them.

``python -m mlops_desktop worker PROJECT``. A heartbeat thread (with its own connection)
records progress and log lines every couple of seconds and watches for a cancel request:
the job is asked to stop between folds, and if it does not within a grace period the worker
records the cancellation and exits at once, the only way to stop a fit mid-flight. A worker
that dies leaves a job whose heartbeat stops; the reaper ends it.
"""

from __future__ import annotations

import gc
import importlib
import logging
import os
import socket
import threading
import time
import traceback
from typing import TYPE_CHECKING

from mlops_desktop.domain.errors import Cancelled, ProjectFileError, UserError
from mlops_desktop.domain.job import Job

if TYPE_CHECKING:
    # Imported where a job runs: the supervisor (in ``queue run`` and the GUI) imports this
    # module for its constants, and training's imports (NumPy and more) would cost it a
    # tenth of a second before it can start the first worker.
    from mlops_desktop.services.training import JobState

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 2.0
#: A running job silent for this long is taken to have lost its worker.
STALE_SECONDS = 30.0
#: After a cancel request, a fit that has not stopped by itself is stopped this much later.
CANCEL_GRACE_SECONDS = 3.0
#: Exit status of a worker that stopped itself to cancel a job mid-fit.
EXIT_CANCELLED = 3
#: Set (to "1") in the environment of the worker processes the pool starts: their process
#: ends as soon as ``Worker.run`` returns.
PROCESS_VARIABLE = "MLOPS_DESKTOP_WORKER_PROCESS"
#: What every job of a worker process imports before it fits (saving the model needs skops
#: too, which training imports beside the first fit: see ``training.import_beside``).
TRAINING_MODULES = ("mlops_desktop.services.training", "sklearn.model_selection")


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def is_gone(worker: str) -> bool:
    """True if ``worker`` (host:pid) ran on this computer and its process has ended."""
    host, _, pid = worker.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # alive, another user's
    return False


def _settle_imports() -> None:
    """Import what every job needs, then keep it out of the cyclic collector's sight.

    What the imports make (modules, classes, functions: most of the process's objects) lives
    as long as the process, yet every full collection walks all of it, 0.1 to 0.3 s over 20
    small jobs. Frozen, only what the jobs make is walked (the GUI freezes its imports
    likewise). A worker process calls this once, before its first job; an import that fails
    here fails that job where training imports it, with the job's own error.
    """
    for name in TRAINING_MODULES:
        try:
            importlib.import_module(name)
        except ImportError:
            log.warning("could not import %s ahead of the first job", name, exc_info=True)
    gc.freeze()


class _Heartbeat(threading.Thread):
    def __init__(self, project_path: str, job: Job, state: JobState):
        super().__init__(name=f"heartbeat job {job.number}", daemon=True)
        self.project_path, self.job, self.state = project_path, job, state
        self.stop = threading.Event()
        self.cancel_seen_at: float | None = None

    def run(self) -> None:
        from mlops_desktop.services.project import Project

        with Project.open(self.project_path) as project:
            jobs = project.file.jobs
            # No last flush when the job ends: its final transaction writes the log itself,
            # and every commit is an fsync that other workers wait for.
            while not self.stop.wait(HEARTBEAT_SECONDS):
                self.beat(project, jobs)

    def flush(self, project, jobs) -> bool:
        lines, self.state.lines = self.state.lines, []
        fraction, message = self.state.latest
        with project.file.transaction():
            if lines:
                jobs.append_log(self.job.uuid, "".join(lines))
            return jobs.heartbeat(self.job.uuid, fraction, message, self.job.worker_id)

    def beat(self, project, jobs) -> None:
        try:
            cancel = self.flush(project, jobs)
        except (ProjectFileError, UserError) as exc:
            log.warning("heartbeat of job %s failed: %s", self.job.number, exc)
            return
        if not cancel:
            return
        self.state.cancelled = True
        now = time.monotonic()
        self.cancel_seen_at = self.cancel_seen_at or now
        if now - self.cancel_seen_at >= CANCEL_GRACE_SECONDS:
            # The fit did not come back to check: end the job here and the process with it.
            with project.file.transaction():
                jobs.mark_cancelled(self.job.uuid, self.job.worker_id)
                jobs.append_log(self.job.uuid, "Cancelled: the worker stopped mid-fit.\n")
            os._exit(EXIT_CANCELLED)


class Worker:
    def __init__(self, project_path: str, keep_waiting: bool = False):
        self.project_path = str(project_path)
        self.keep_waiting = keep_waiting
        self.id = worker_id()

    def run(self) -> int:
        """Train queued jobs until none is left (or forever with ``keep_waiting``); returns
        how many were run."""
        from mlops_desktop.services.project import Project

        done = 0
        process = os.environ.get(PROCESS_VARIABLE) == "1"
        with Project.open(self.project_path) as project:
            jobs = project.file.jobs
            with project.file.transaction():
                jobs.reap(STALE_SECONDS, is_gone)  # once: supervisors reap as they go
            while True:
                job = None if jobs.paused() else jobs.claim(self.id)
                if job is None:
                    if not self.keep_waiting:
                        break
                    time.sleep(1.0)
                    continue
                if process and not done:
                    _settle_imports()
                self.run_job(project, job)
                done += 1
        if process:
            # The process ends next. The interpreter's last collections would walk every
            # object scikit-learn and its imports left (0.3 to 0.6 s, as long as a small
            # job) to find no garbage worth the wait: leave them to the exit.
            gc.freeze()
        return done

    def run_job(self, project, job: Job) -> None:
        from mlops_desktop.services.training import JobState, train

        state = JobState()
        state.log(f"Job #{job.number} ({job.experiment_name}) started on {self.id}")
        heartbeat = _Heartbeat(self.project_path, job, state)
        heartbeat.start()
        outcome: tuple[str, str] | None = None
        try:
            train(project, job, state)
        except Cancelled:
            outcome = ("cancelled", "Cancelled.")
        except UserError as exc:
            outcome = ("failed", exc.message)
        except MemoryError:
            outcome = (
                "failed",
                "The job ran out of memory: use a smaller dataset or a "
                "simpler model, or free memory and run it again.",
            )
        except Exception as exc:
            state.log(traceback.format_exc())
            outcome = ("failed", f"Training failed: {type(exc).__name__}: {exc}")
        finally:
            heartbeat.stop.set()
            heartbeat.join()
        if outcome is not None:  # a finished job wrote its end and its log itself
            status, message = outcome
            state.log(message)
            with project.file.transaction():
                project.file.jobs.append_log(job.uuid, "".join(state.lines))
                # A job reaped from this worker (and perhaps running elsewhere) is left alone.
                if status == "cancelled":
                    project.file.jobs.mark_cancelled(job.uuid, job.worker_id)
                else:
                    project.file.jobs.fail(job.uuid, message, job.worker_id)
