import pytest

from mlops_desktop.domain.errors import Cancelled
from mlops_desktop.domain.tasks import SubTask, TaskControl


def test_progress_is_clamped_and_reported():
    seen = []
    control = TaskControl(on_progress=lambda f, m: seen.append((f, m)), min_interval=0)
    control.set_progress(-0.5, "start")
    control.set_progress(1.7, "end")
    control.set_progress(None, "unknown")
    assert seen == [(0.0, "start"), (1.0, "end"), (None, "unknown")]


def test_reports_closer_than_the_interval_are_dropped_but_not_completion():
    seen = []
    control = TaskControl(on_progress=lambda f, m: seen.append(f), min_interval=3600)
    for i in range(100):
        control.set_progress(i / 100, "working")
    control.set_progress(1.0, "working")
    assert seen == [0.0, 1.0]
    assert control.fraction == 1.0


def test_the_latest_report_is_always_readable_even_when_the_callback_was_skipped():
    seen = []
    control = TaskControl(on_progress=lambda f, m: seen.append(m), min_interval=3600)
    control.set_progress(0.1, "reading")
    control.set_progress(0.2, "writing")
    assert seen == ["reading"]
    assert control.latest == (0.2, "writing")
    assert (control.fraction, control.message) == (0.2, "writing")


def test_cancel_is_seen_by_check_cancelled():
    control = TaskControl()
    control.check_cancelled()
    control.cancel()
    assert control.is_cancelled()
    with pytest.raises(Cancelled):
        control.check_cancelled()


def test_subtask_maps_progress_into_its_share_and_shares_cancel():
    seen = []
    parent = TaskControl(on_progress=lambda f, m: seen.append(f), min_interval=0)
    sub = SubTask(parent, 0.5, 0.75)
    sub.set_progress(0.0)
    sub.set_progress(0.5)
    sub.set_progress(1.0)
    sub.set_progress(None)
    assert seen == [0.5, 0.625, 0.75, None]
    parent.cancel()
    with pytest.raises(Cancelled):
        sub.check_cancelled()


def test_partial_results_are_forwarded():
    got = []
    control = TaskControl(on_partial_result=got.append)
    SubTask(control, 0, 1).set_partial_result({"rows": 10})
    assert got == [{"rows": 10}]
