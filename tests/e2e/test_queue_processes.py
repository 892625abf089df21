"""The queue with real worker processes: kills, cancels, retries, several workers."""

import json
import os
import signal
import time

import pytest

from mlops_desktop import Project
from mlops_desktop.domain.experiment import ExperimentSpec
from mlops_desktop.services.supervisor import WorkerPool
from tests.test_cli import run

pytestmark = pytest.mark.slow

#: A search long enough (tens of seconds) to be interrupted.
LONG = {
    "strategy": "grid",
    "cv": 5,
    "space": {"n_estimators": [100, 150, 200, 250], "max_depth": list(range(2, 14))},
}


@pytest.fixture
def queued(tmp_path):
    path = tmp_path / "queue.mlops"
    with Project.create(path) as project:
        project.datasets.import_file("sklearn:breast_cancer")
        for name, search in (("long", LONG), ("short", {})):
            project.experiments.save(
                ExperimentSpec.from_json(
                    {
                        "name": name,
                        "dataset": "breast_cancer",
                        "target": "target",
                        "estimator": "RandomForestClassifier",
                        "params": {"n_estimators": 20},
                        "search": search,
                    }
                )
            )
    return path


def wait_for(condition, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError("timed out")


def job(path, number):
    with Project.open(path, read_only=True) as project:
        return project.queue.job(number)


def enqueue(path, name, retries=0):
    with Project.open(path) as project:
        return project.queue.enqueue(name, retries=retries).number


def test_a_killed_worker_fails_its_job_and_the_queue_goes_on(queued):
    long_job, short_job = enqueue(queued, "long"), enqueue(queued, "short")
    pool = WorkerPool(str(queued), size=1)
    try:
        pool.tick()
        wait_for(lambda: (job(queued, long_job).progress or 0) > 0.06)
        os.kill(next(iter(pool.workers)), signal.SIGKILL)
        pool.run_until_idle()
    finally:
        pool.stop()
    killed = job(queued, long_job)
    assert killed.status == "failed"
    assert "killed by signal 9 (SIGKILL)" in killed.error
    assert job(queued, short_job).status == "done"
    with Project.open(queued, read_only=True) as project:
        assert project.check().ok
        assert project.info().counts["model_versions"] == 1


def test_a_job_with_a_retry_runs_again_after_its_worker_dies(queued):
    number = enqueue(queued, "short", retries=1)
    pool = WorkerPool(str(queued), size=1)
    try:
        pool.tick()
        wait_for(lambda: job(queued, number).status == "running")
        os.kill(next(iter(pool.workers)), signal.SIGKILL)
        pool.run_until_idle()
    finally:
        pool.stop()
    retried = job(queued, number)
    assert retried.status == "done"
    assert "Queued again" in retried.log


def test_cancelling_a_running_job_stops_it_within_seconds(queued):
    number = enqueue(queued, "long")
    pool = WorkerPool(str(queued), size=1)
    try:
        pool.tick()
        wait_for(lambda: (job(queued, number).progress or 0) > 0.06)
        asked = time.monotonic()
        run("queue", "cancel", queued, number, check_exit=0)
        wait_for(lambda: job(queued, number).status == "cancelled", timeout=20)
        assert time.monotonic() - asked < 12
        pool.run_until_idle()
    finally:
        pool.stop()


def test_closing_the_app_puts_running_jobs_back_in_the_queue(queued):
    number = enqueue(queued, "long")
    pool = WorkerPool(str(queued), size=1)
    pool.tick()
    wait_for(lambda: job(queued, number).status == "running")
    pool.stop()
    resumed = job(queued, number)
    assert resumed.status == "queued"
    assert resumed.retries_left == 0
    assert "The app closed while it ran" in resumed.log


def test_the_cli_trains_lists_pauses_and_resumes(queued):
    printed = run("train", queued, "short", "--wait", check_exit=0).stdout.strip()
    assert printed == "short:1"
    listing = json.loads(run("queue", "list", queued, "--json", check_exit=0).stdout)
    assert [(j["number"], j["status"], j["model_version"]) for j in listing["jobs"]] == [
        (1, "done", "short:1")
    ]
    run("queue", "pause", queued, check_exit=0)
    run("train", queued, "short", check_exit=0)
    from tests.test_cli import assert_user_error

    assert_user_error(run("train", queued, "short", "--wait"), "the queue is paused")
    ran = json.loads(run("queue", "run", queued, "--json", check_exit=0).stdout)
    assert ran["jobs"] == []
    assert json.loads(run("queue", "list", queued, "--json").stdout)["paused"] is True
    run("queue", "resume", queued, check_exit=0)
    ran = json.loads(run("queue", "run", queued, "--workers", "2", "--json", check_exit=0).stdout)
    assert sorted(j["model_version"] for j in ran["jobs"]) == ["short:2", "short:3"]


def test_cli_errors(queued):
    from tests.test_cli import assert_user_error

    assert_user_error(run("train", queued, "nope"), "no experiment 'nope'")
    assert_user_error(run("queue", "cancel", queued, "42"), "no job #42")


def test_the_pool_stops_waiting_as_soon_as_a_worker_ends(tmp_path):
    import subprocess
    import sys

    from mlops_desktop.services.supervisor import _Running

    pool = WorkerPool(str(tmp_path / "none.mlops"), size=1)
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.3)"])
    pool.workers[process.pid] = _Running(process, tmp_path / "errors.log")
    try:
        started = time.monotonic()
        pool.wait(30.0)
        assert time.monotonic() - started < 10  # the exit ended the wait, not the timeout
        assert process.poll() == 0
    finally:
        process.kill()
        process.wait()
