"""The queue's rows: claiming is atomic, order follows priority and moves, reaping works."""

import threading

import pytest

from mlops_desktop.domain.errors import UserError
from mlops_desktop.store import ProjectFile


@pytest.fixture
def jobs(project):
    return project.file.jobs


def enqueue(project, name, priority=0, retries=0):
    with project.file.transaction():
        return project.file.jobs.enqueue(None, name, {"name": name}, priority, retries)


def test_jobs_run_by_priority_then_order(project, jobs):
    a, b = enqueue(project, "a"), enqueue(project, "b")
    urgent = enqueue(project, "urgent", priority=5)
    assert [j.number for j in (a, b, urgent)] == [1, 2, 3]
    assert jobs.claim("w:1").experiment_name == "urgent"
    assert jobs.claim("w:1").experiment_name == "a"
    assert jobs.claim("w:1").experiment_name == "b"
    assert jobs.claim("w:1") is None


def test_moving_a_job_changes_what_runs_next(project, jobs):
    for name in "abcd":
        enqueue(project, name)
    with project.file.transaction():
        jobs.move(jobs.by_number(4).uuid, -3)
    queued = [j.experiment_name for j in jobs.all()]
    assert queued == ["d", "a", "b", "c"]
    assert jobs.claim("w:1").experiment_name == "d"
    with pytest.raises(UserError, match="Only a queued job"), project.file.transaction():
        jobs.move(jobs.by_number(4).uuid, 1)


def test_two_workers_racing_never_take_the_same_job(project, tmp_path):
    for i in range(30):
        enqueue(project, f"job{i}")
    claimed: dict[str, list[str]] = {"w:1": [], "w:2": []}

    def worker(name):
        with ProjectFile.open(project.path) as own:
            while (job := own.jobs.claim(name)) is not None:
                claimed[name].append(job.uuid)

    threads = [threading.Thread(target=worker, args=(n,)) for n in claimed]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    taken = claimed["w:1"] + claimed["w:2"]
    assert len(taken) == 30
    assert len(set(taken)) == 30


def test_cancel_a_queued_job_at_once_and_ask_a_running_one(project, jobs):
    queued, running = enqueue(project, "q"), enqueue(project, "r", priority=1)
    jobs.claim("w:1")
    assert jobs.request_cancel(queued.uuid).status == "cancelled"
    assert jobs.request_cancel(running.uuid).cancel_requested
    assert jobs.heartbeat(running.uuid, 0.5, "Fold 1", "w:1") is True
    with pytest.raises(UserError, match="already ended"):
        jobs.request_cancel(queued.uuid)


def test_a_job_taken_from_its_worker_is_never_ended_by_it(project, jobs):
    """Reaped from a silent worker and claimed by another: the first worker's late writes
    change nothing, and only the second one's result counts."""
    from mlops_desktop.store.jobs import JobLostError

    job = enqueue(project, "slow", retries=1)
    assert jobs.claim("w:1").uuid == job.uuid
    with project.file.transaction():
        jobs.requeue(job.uuid, "The worker stopped answering.")
    assert jobs.claim("w:2").uuid == job.uuid
    assert jobs.heartbeat(job.uuid, 0.9, "Fold 5", "w:1") is True  # w:1 is told to stop
    assert jobs.heartbeat(job.uuid, 0.5, "Fold 3", "w:2") is False
    with project.file.transaction():
        assert jobs.fail(job.uuid, "late failure", "w:1") is False
        assert jobs.mark_cancelled(job.uuid, "w:1") is False
    with pytest.raises(JobLostError, match="taken from this worker"), project.file.transaction():
        jobs.finish(job.uuid, None, "w:1")
    after = jobs.get(job.uuid)
    assert (after.status, after.worker_id, after.error) == ("running", "w:2", None)


def test_reaping_fails_or_requeues_jobs_whose_worker_is_gone(project, jobs):
    enqueue(project, "no-retry")
    enqueue(project, "retry", retries=1)
    first, second = jobs.claim("host:1"), jobs.claim("host:2")
    with project.file.transaction():
        ended = jobs.reap(30, is_gone=lambda worker: True)
    assert len(ended) == 2
    assert jobs.get(first.uuid).status == "failed"
    assert "stopped unexpectedly" in jobs.get(first.uuid).error
    requeued = jobs.get(second.uuid)
    assert (requeued.status, requeued.retries_left) == ("queued", 0)
    assert "Queued again" in requeued.log


def test_a_silent_job_is_reaped_after_the_stale_time(project, jobs):
    enqueue(project, "slow")
    job = jobs.claim("elsewhere:9")
    project.file.conn.execute(
        "UPDATE jobs SET heartbeat_at = '2000-01-01T00:00:00.000+00:00' WHERE uuid = ?", (job.uuid,)
    )
    with project.file.transaction():
        jobs.reap(30, is_gone=lambda worker: False)
    assert "stopped responding" in jobs.get(job.uuid).error


def test_pause_is_a_project_setting(project, jobs):
    assert not jobs.paused()
    with project.file.transaction():
        jobs.set_paused(True)
    assert jobs.paused()
