import threading
import time

import pytest

from mlops_desktop.domain.errors import Cancelled, DiskFullError, UserError
from mlops_desktop.domain.tasks import TaskControl
from mlops_desktop.services import background
from mlops_desktop.services.background import TaskCrashed, run_in_process
from tests.services import tasks_for_tests as tasks


def test_result_progress_and_partial_results_come_back():
    progress, partial = [], []
    control = TaskControl(
        on_progress=lambda f, m: progress.append((f, m)), on_partial_result=partial.append
    )
    assert run_in_process(tasks.count_up, (5,), control) == 10
    assert progress[-1] == (1.0, "step 5")
    assert partial == ["half-way"]


def test_cancel_stops_a_cooperative_child():
    control = TaskControl()
    threading.Timer(1.0, control.cancel).start()
    started = time.monotonic()
    with pytest.raises(Cancelled):
        run_in_process(tasks.run_until_cancelled, (), control)
    # Stopped by itself, well before the grace period would have forced it.
    assert time.monotonic() - started < 1.0 + background.CANCEL_GRACE


def test_cancel_terminates_a_child_that_ignores_it(monkeypatch):
    monkeypatch.setattr(background, "CANCEL_GRACE", 0.5)
    control = TaskControl()
    threading.Timer(1.0, control.cancel).start()
    started = time.monotonic()
    with pytest.raises(Cancelled):
        run_in_process(tasks.ignore_cancel, (), control)
    assert time.monotonic() - started < 10


def test_user_errors_cross_the_process_boundary_as_user_errors():
    with pytest.raises(UserError, match="column 'price' is missing"):
        run_in_process(tasks.fail_for_the_user)


def test_a_user_error_keeps_its_kind_across_the_boundary():
    with pytest.raises(DiskFullError, match="disk is full"):
        run_in_process(tasks.fail_disk_full)


def test_unexpected_errors_carry_the_childs_traceback():
    with pytest.raises(TaskCrashed, match="ZeroDivisionError") as info:
        run_in_process(tasks.fail_unexpectedly)
    assert "tasks_for_tests.py" in info.value.details


def test_a_child_that_dies_is_reported():
    with pytest.raises(TaskCrashed, match="exit code 3"):
        run_in_process(tasks.die)
