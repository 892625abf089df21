"""Training: queue a job, run and manage the queue, the worker process."""

from __future__ import annotations

from pathlib import Path

import click

from mlops_desktop.cli.base import (
    cli,
    emit,
    existing_project,
    json_option,
)
from mlops_desktop.domain.errors import UserError
from mlops_desktop.domain.job import FINISHED, Job


@cli.command("worker")
@click.argument("project", type=click.Path(path_type=Path))
@click.option(
    "--wait",
    "keep_waiting",
    is_flag=True,
    help="Keep waiting for new jobs instead of exiting when the queue is empty.",
)
def worker_command(project: Path, keep_waiting: bool) -> None:
    """Train queued jobs of PROJECT one at a time (the GUI and 'queue run' start these)."""
    from mlops_desktop.services.logs import configure_logging
    from mlops_desktop.services.worker import Worker

    configure_logging()
    Worker(str(existing_project(project)), keep_waiting=keep_waiting).run()


@cli.group("queue")
def queue_group() -> None:
    """List, run, cancel, pause and resume the training queue."""


@queue_group.command("list")
@click.argument("project", type=click.Path(path_type=Path))
@json_option
def queue_list_command(project: Path, as_json: bool) -> None:
    """Every job with its status, newest finished last."""
    from mlops_desktop.services.project import Project

    with Project.open(existing_project(project), read_only=True) as opened:
        jobs = opened.queue.jobs()
        paused = opened.queue.paused()
    lines = [f"The queue is paused{'.' if jobs else ''}"] if paused else []
    for job in jobs:
        detail = job.model_label or job.error or job.progress_message or ""
        lines.append(f"#{job.number:<5} {job.status:<10} {job.experiment_name:<24} {detail}")
    emit(
        as_json,
        {"paused": paused, "jobs": [j.to_json() for j in jobs]},
        "\n".join(lines) or "The queue is empty: queue a job with 'mlops-desktop train'.",
    )


@queue_group.command("run")
@click.argument("project", type=click.Path(path_type=Path))
@click.option(
    "--workers",
    type=click.IntRange(1, 256),
    default=None,
    help="How many jobs run at once (default: one per free core).",
)
@json_option
def queue_run_command(project: Path, workers: int | None, as_json: bool) -> None:
    """Run queued jobs headless until the queue is empty."""
    from mlops_desktop.services.project import Project
    from mlops_desktop.services.supervisor import WorkerPool, default_size

    path = existing_project(project)
    with Project.open(path, read_only=True) as opened:
        before = {j.uuid for j in opened.queue.jobs() if j.status not in ("queued", "running")}
    pool = WorkerPool(str(path.absolute()), size=workers or default_size())
    try:
        pool.run_until_idle()
    finally:
        pool.stop()
    with Project.open(path, read_only=True) as opened:
        ran = [
            j
            for j in opened.queue.jobs()
            if j.uuid not in before and j.status not in ("queued", "running")
        ]
    lines = [f"#{j.number} {j.status}: {j.model_label or j.error or ''}" for j in ran]
    lines += pool.messages
    emit(
        as_json,
        {"jobs": [j.to_json() for j in ran], "messages": pool.messages},
        "\n".join(lines) or "Nothing was queued.",
    )


@queue_group.command("cancel")
@click.argument("project", type=click.Path(path_type=Path))
@click.argument("job", type=int)
def queue_cancel_command(project: Path, job: int) -> None:
    """Cancel job number JOB (a running job stops within seconds)."""
    from mlops_desktop.services.project import Project

    with Project.open(existing_project(project)) as opened:
        cancelled = opened.queue.cancel(job)
    click.echo(
        f"Job #{job} "
        + ("cancelled." if cancelled.status == "cancelled" else "will stop within seconds.")
    )


@queue_group.command("pause")
@click.argument("project", type=click.Path(path_type=Path))
def queue_pause_command(project: Path) -> None:
    """Start no new jobs (running ones finish)."""
    from mlops_desktop.services.project import Project

    with Project.open(existing_project(project)) as opened:
        opened.queue.set_paused(True)
    click.echo("The queue is paused: running jobs finish, no new ones start.")


@queue_group.command("resume")
@click.argument("project", type=click.Path(path_type=Path))
def queue_resume_command(project: Path) -> None:
    """Start queued jobs again."""
    from mlops_desktop.services.project import Project

    with Project.open(existing_project(project)) as opened:
        opened.queue.set_paused(False)
    click.echo("The queue runs again.")


@cli.command("train")
@click.argument("project", type=click.Path(path_type=Path))
@click.argument("experiment")
@click.option("--wait", is_flag=True, help="Run the queue until this job ends; print its model.")
@click.option("--priority", type=int, default=0, help="Higher runs sooner (default 0).")
@click.option(
    "--retries",
    type=click.IntRange(0, 10),
    default=0,
    help="Queue the job again this many times if its worker dies.",
)
@json_option
def train_command(
    project: Path, experiment: str, wait: bool, priority: int, retries: int, as_json: bool
) -> None:
    """Queue EXPERIMENT for training (and with --wait, train it and print the model version)."""
    from mlops_desktop.services.project import Project

    path = existing_project(project)
    with Project.open(path) as opened:
        job = opened.queue.enqueue(experiment, priority, retries)
    if not wait:
        emit(
            as_json,
            job.to_json(),
            f"Queued job #{job.number}; run it with 'mlops-desktop queue run {path}'.",
        )
        return

    ended = wait_for_job(path, job.number)
    emit(as_json, ended.to_json(), ended.model_label)


def wait_for_job(path: Path, number: int) -> Job:
    """Run the queue of the project at ``path`` until job ``number`` ends; the done job, or
    a ``UserError`` saying how it ended."""
    from mlops_desktop.services.project import Project
    from mlops_desktop.services.supervisor import WorkerPool, default_size

    def finished() -> bool:
        with Project.open(path, read_only=True) as opened:
            return opened.queue.job(number).status in FINISHED

    with Project.open(path, read_only=True) as opened:
        if opened.queue.paused():
            raise UserError(
                f"Job #{number} is queued, but the queue is paused, so it would never start: "
                f"run 'mlops-desktop queue resume {path}' first."
            )
    pool = WorkerPool(str(path.absolute()), size=default_size())
    try:
        pool.run_until_idle(until=finished)
    finally:
        pool.stop()
    with Project.open(path, read_only=True) as opened:
        ended = opened.queue.job(number)
    if ended.status != "done":
        raise UserError(f"Job #{number} {ended.status}: {ended.error}")
    return ended
