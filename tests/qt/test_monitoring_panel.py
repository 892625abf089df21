"""The Monitoring panel: the traffic-light overview, per-column charts, the service level,
empty states, thresholds and alert banners."""

import time

import pytest

from mlops_desktop import Project
from mlops_desktop.qt.panels.monitoring.panel import DATASET, SERVED, WINDOWS
from mlops_desktop.qt.panels.monitoring.thresholds_dialog import ThresholdsDialog
from mlops_desktop.qt.widgets.tables import BAD, GOOD
from tests.services.test_monitoring import PETAL, import_frame, iris, log_requests
from tests.services.test_training import train_flowers

WIDTH = "sepal width (cm)"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    return train_flowers(tmp_path_factory.mktemp("monitoring-panel") / "trained.mlops")


@pytest.fixture
def project_file(trained, tmp_path):
    """flowers:1 with iris:2 (longer petals) and a log: like training two days ago, longer
    petals and slow answers half an hour ago."""
    with Project.open(trained) as source:
        copy = source.save_copy(tmp_path / "monitoring.mlops")
    with Project.open(copy) as project:
        shifted = iris(project, seed=2)
        shifted[PETAL] += 2.0
        import_frame(project, shifted, tmp_path)
        now = time.time()
        log_requests(project, iris(project, seed=4, rows=120), now - 2 * 86400)
        later = iris(project, seed=5, rows=120)
        later[PETAL] += 2.0
        log_requests(project, later, now - 1800, latency_ms=80.0, labels=["virginica"] * 120)
    return copy


def open_panel(window, path, qtbot):
    window.open_project(path)
    qtbot.waitUntil(lambda: window.show_panel("monitoring") is not None, timeout=60_000)
    panel = window.show_panel("monitoring")
    qtbot.waitUntil(lambda: panel._choices is not None, timeout=30_000)
    qtbot.waitUntil(lambda: panel.drift_canvas is not None, timeout=30_000)
    return panel


@pytest.fixture
def panel(window, project_file, qtbot):
    return open_panel(window, project_file, qtbot)


def compare(panel, qtbot, scope, window=None, dataset=None):
    panel.choose("flowers:1")
    panel.scope_choice.setCurrentIndex(panel.scope_choice.findData(scope))
    if window is not None:
        panel.window_choice.setCurrentIndex(panel.window_choice.findText(window))
    if dataset is not None:
        panel.dataset_choice.setCurrentIndex(panel.dataset_choice.findData(dataset))
    panel.look = None
    panel.check_button.click()
    qtbot.waitUntil(lambda: not panel.running.running, timeout=60_000)


def row_of(panel, name):
    return next(r for r in range(panel.table.rowCount()) if panel.table.item(r, 0).text() == name)


def alerts_shown(window):
    return [m for kind, m in window.notifications.messages() if "Monitoring alert" in m]


def test_a_shifted_dataset_is_red_where_it_moved_and_green_elsewhere(panel, window, qtbot):
    compare(panel, qtbot, DATASET, dataset="iris:2")
    assert panel.look is not None, panel.empty.text()
    assert panel.heading.text().startswith('<b style="color:#dc3545">RED</b>')
    petal, width = row_of(panel, PETAL), row_of(panel, WIDTH)
    assert panel.table.item(petal, 1).text() == "red"
    assert panel.table.item(petal, 1).background().color() == BAD
    assert panel.table.item(width, 1).text() == "green"
    assert panel.table.item(width, 1).background().color() == GOOD
    assert panel.table.item(row_of(panel, "prediction"), 1).text() == "red"
    assert "Population stability index" in panel.table.horizontalHeaderItem(6).toolTip()
    assert not panel.tabs.isTabEnabled(1)  # no service level for a dataset version

    # The worst row is selected and charted: training vs now, one pair of bars per bin.
    panel.table.selectRow(petal)
    qtbot.waitUntil(lambda: panel.drift_canvas.idle, timeout=10_000)
    axes = panel.drift_canvas.figure.axes
    assert len(axes) == 1
    assert PETAL in axes[0].get_title(loc="left")
    assert len(axes[0].patches) == 2 * len(panel.selected_column().bins)

    # Each new crossing is a banner naming the model and the column, once.
    shown = alerts_shown(window)
    assert any("flowers:1 on iris:2" in m and f"{PETAL} crossed PSI" in m for m in shown)
    compare(panel, qtbot, DATASET, dataset="iris:2")
    assert alerts_shown(window) == shown


def test_served_traffic_shows_drift_over_time_and_the_service_level(panel, window, qtbot):
    compare(panel, qtbot, SERVED, window="all")
    report = panel.look.report
    assert report.scope == "served"
    assert report.drift.rows == 240
    panel.table.selectRow(row_of(panel, PETAL))
    qtbot.waitUntil(lambda: panel.drift_canvas.idle, timeout=10_000)
    _shares, over_time = panel.drift_canvas.figure.axes
    assert "PSI per time bucket" in over_time.get_title(loc="left")
    assert len(over_time.collections[0].get_offsets()) == len(panel.look.points) >= 2
    assert any(
        "flowers:1 on its served traffic: latency crossed p95 (ms) 80 over its red threshold 50."
        in m
        for m in alerts_shown(window)
    ), (
        report.alerts,
        alerts_shown(window),
    )

    assert panel.tabs.isTabEnabled(1)
    panel.tabs.setCurrentIndex(1)
    qtbot.waitUntil(lambda: panel.ops_canvas.idle, timeout=10_000)
    volume, _errors, latency = panel.ops_canvas.figure.axes
    assert "240 requests, 0 failed" in volume.get_title(loc="left")
    labels = [line.get_label() for line in latency.get_lines()]
    assert labels == ["p95", "p50", "SLA p95 50 ms"]
    assert "RED" in panel.ops_summary.text()
    assert "p95 80.0 ms" in panel.ops_summary.text()


def test_a_window_without_traffic_and_an_unserved_version_say_what_to_do(
    window, trained, tmp_path, qtbot
):
    with Project.open(trained) as source:
        copy = source.save_copy(tmp_path / "quiet.mlops")
    with Project.open(copy) as project:
        log_requests(project, iris(project, seed=4, rows=20), time.time() - 3 * 86400)
    panel = open_panel(window, copy, qtbot)
    assert WINDOWS[0][0] == "last hour"
    compare(panel, qtbot, SERVED, window="last hour")
    assert panel.look is None
    assert panel.empty.isVisibleTo(panel)
    assert "No predictions of flowers:1 were logged from" in panel.empty.text()
    panel.choose("flowers:2")
    assert "flowers:2 has no served traffic yet: serve it from the Serving panel" in (
        panel.empty.text()
    )
    assert not panel.tabs.isVisibleTo(panel)


def test_a_project_without_versions_says_how_to_get_one(window, tmp_path, qtbot):
    Project.create(tmp_path / "empty.mlops").close()
    panel = open_panel(window, tmp_path / "empty.mlops", qtbot)
    assert panel.empty.text().startswith("No model versions yet. Train one")
    assert not panel.check_button.isEnabled()


def test_thresholds_are_changed_and_invalid_ones_refused(panel, qtbot):
    dialog = ThresholdsDialog(panel.context, panel)
    qtbot.addWidget(dialog)
    dialog.fields["psi_red"].setText("lots")
    dialog.save()
    assert dialog.message.text() == "The threshold psi_red must be a number, not 'lots'."
    dialog.fields["psi_red"].setText("0.05")
    dialog.save()
    assert "amber must come before red" in dialog.message.text()
    dialog.fields["psi_red"].setText("0.3")
    dialog.fields["sla_p95_ms"].setText("100")
    dialog.save()
    assert dialog.result() == dialog.DialogCode.Accepted
    thresholds = panel.context.project.monitoring.thresholds()
    assert (thresholds.psi_red, thresholds.sla_p95_ms) == (0.3, 100.0)
    again = ThresholdsDialog(panel.context, panel)
    qtbot.addWidget(again)
    assert again.fields["sla_p95_ms"].text() == "100"
    again.fill_defaults()
    again.save()
    assert panel.context.project.monitoring.thresholds().sla_p95_ms == 50.0


def test_a_check_can_be_cancelled(panel, qtbot):
    panel.scope_choice.setCurrentIndex(panel.scope_choice.findData(DATASET))
    panel.check_button.click()
    assert panel.cancel_button.isVisibleTo(panel)
    assert not panel.check_button.isEnabled()
    with qtbot.waitSignal(panel.running.cancelled, timeout=30_000):
        panel.cancel_button.click()
    assert panel.look is None
    assert not panel.cancel_button.isVisibleTo(panel)
    assert panel.check_button.isEnabled()


def test_live_performance_scores_the_served_predictions_against_true_values(
    panel, project_file, tmp_path, qtbot
):
    with Project.open(project_file, read_only=True) as project:
        version = project.models.get("flowers:1")
        logged = project.serving.predictions_frame(version.uuid)
        truth = iris(project, seed=5, rows=120)["target"]  # the batch answered "virginica"
    labels = tmp_path / "truth.csv"
    ids = logged["request_id"].tolist()[-120:]
    labels.write_text(
        "request_id,target\n" + "".join(f"{i},{t}\n" for i, t in zip(ids, truth, strict=True))
    )
    panel.choose("flowers:1")
    panel.scope_choice.setCurrentIndex(panel.scope_choice.findData(SERVED))
    panel.window_choice.setCurrentIndex(panel.window_choice.findText("all"))
    assert panel.performance_button.isEnabled()
    dialog = panel.show_performance()
    qtbot.addWidget(dialog)
    assert not dialog.measure_button.isEnabled()  # nothing chosen yet

    dialog.use_file(str(labels))
    dialog.measure_button.click()
    qtbot.waitUntil(lambda: not dialog.running.running, timeout=60_000)
    assert dialog.performance is not None, dialog.summary.text()
    assert dialog.summary.text().startswith("120 logged rows have a true value.")
    rows = {dialog.table.item(r, 0).text(): r for r in range(dialog.table.rowCount())}
    accuracy = rows["accuracy"]
    live = float(dialog.table.item(accuracy, 1).text())
    training = float(dialog.table.item(accuracy, 2).text())
    assert live < training
    assert dialog.table.item(accuracy, 1).background().color() == BAD

    # Labels for requests that were never logged: a sentence, not an empty table.
    unknown = tmp_path / "unknown.csv"
    unknown.write_text("request_id,target\nnever-sent,1\n")
    dialog.use_file(str(unknown))
    dialog.measure_button.click()
    qtbot.waitUntil(lambda: not dialog.running.running, timeout=60_000)
    assert dialog.performance is None
    assert dialog.table.rowCount() == 0
    assert "None of the 1 labelled rows matches a prediction of flowers:1" in dialog.summary.text()


def test_live_performance_needs_served_traffic(panel):
    panel.choose("flowers:1")
    panel.scope_choice.setCurrentIndex(panel.scope_choice.findData(DATASET))
    assert not panel.performance_button.isEnabled()


def test_retraining_from_a_drift_look_trains_reviews_and_promotes(panel, window, qtbot):
    compare(panel, qtbot, DATASET, dataset="iris:2")
    assert panel.retrain_button.isEnabled()
    dialog = panel.show_retrain()
    qtbot.addWidget(dialog)
    assert dialog.reason.text() == f"red drift on iris:2 in {PETAL}"
    assert dialog.start_button.isEnabled() is False  # no file chosen yet
    dialog.dataset_choice.setChecked(True)
    dialog.datasets.setCurrentIndex(dialog.datasets.findData("iris:2"))
    assert dialog.start_button.isEnabled()
    dialog.start_button.click()
    qtbot.waitUntil(lambda: dialog.retrain is not None, timeout=60_000)
    assert dialog.retrain.trained_on_label == "iris:2"
    assert "trains flowers on iris:2 in the Training queue" in dialog.status.text()
    assert not dialog.form.isEnabled()

    # The window's workers train it; the dialog then reviews it by itself.
    qtbot.waitUntil(lambda: dialog.review is not None, timeout=180_000)
    review = dialog.review
    assert (review.candidate, review.holder, review.passed) == ("flowers:3", None, True)
    assert dialog.table.rowCount() == len(review.candidate_metrics)
    assert dialog.promote_button.text() == "Promote to flowers@production"
    dialog.promote_button.click()
    qtbot.waitUntil(lambda: "is now flowers@production" in dialog.status.text(), timeout=60_000)
    with Project.open(window.context.project.path, read_only=True) as project:
        assert project.models.aliases("flowers")[0].version == 3
        first = project.models.lineage("flowers:3")[0]
        assert (first.kind, first.label) == ("model_version", "flowers:1")
        assert f"(red drift on iris:2 in {PETAL})" in first.detail


def test_a_retraining_that_does_not_fit_says_why_and_changes_nothing(panel, qtbot, tmp_path):
    panel.choose("flowers:1")
    dialog = panel.show_retrain()
    qtbot.addWidget(dialog)
    (tmp_path / "narrow.csv").write_text("a,b\n1,2\n3,4\n")
    before = panel.context.project.file.counts()
    dialog.file_path.setText(str(tmp_path / "narrow.csv"))
    dialog.start_button.click()
    qtbot.waitUntil(lambda: not dialog.running.running, timeout=60_000)
    assert dialog.retrain is None
    assert "experiment does not fit" in dialog.status.text()
    assert dialog.start_button.isEnabled()  # fix the input and try again
    assert panel.context.project.file.counts() == before


def test_a_retraining_left_running_is_picked_up_again(panel, qtbot):
    panel.choose("flowers:1")
    dialog = panel.show_retrain()
    dialog.dataset_choice.setChecked(True)
    dialog.datasets.setCurrentIndex(dialog.datasets.findData("iris:2"))
    dialog.start_button.click()
    qtbot.waitUntil(lambda: dialog.retrain is not None, timeout=60_000)
    number = dialog.retrain.number
    dialog.close()
    dialog.deleteLater()

    again = panel.show_retrain()
    qtbot.addWidget(again)
    assert again.retrain.number == number
    assert not again.form.isEnabled()
    qtbot.waitUntil(lambda: again.review is not None, timeout=180_000)
    assert again.review.candidate == "flowers:3"


def test_an_alert_banner_offers_to_retrain_with_the_alert_as_the_reason(panel, window, qtbot):
    from mlops_desktop.qt.panels.monitoring.retrain_dialog import RetrainDialog

    compare(panel, qtbot, DATASET, dataset="iris:2")
    banner = next(n for n in window.notifications._items if f"{PETAL} crossed PSI" in n.message)
    (action,) = banner.action_buttons
    assert action.text() == "Retrain…"
    panel.choose("flowers:2")  # the banner knows which version it was about
    action.click()
    (dialog,) = panel.findChildren(RetrainDialog)
    qtbot.addWidget(dialog)
    assert dialog.ref == "flowers:1"
    assert dialog.reason.text().startswith(f"flowers:1 on iris:2: {PETAL} crossed PSI")
    assert not dialog.reason.text().endswith("Monitoring panel.")
