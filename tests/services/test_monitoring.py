"""Monitoring: references made in training or on demand, drift of data and of served traffic,
the service level, thresholds and alerts."""

import json

import pytest

from mlops_desktop.domain.drift import GREEN, RED
from mlops_desktop.domain.errors import UserError
from mlops_desktop.services.predictionlog import PredictionLog
from mlops_desktop.services.project import Project
from tests.services.test_training import train_flowers
from tests.store.test_serving import T0

PETAL = "petal length (cm)"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """iris:1 with flowers:1 (a forest) and flowers:2 (a one-split tree), built once."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLOPS_DESKTOP_HOME", str(tmp_path_factory.mktemp("home")))
        patch.setenv("MLOPS_DESKTOP_USER", "tester")
        return train_flowers(tmp_path_factory.mktemp("monitoring") / "trained.mlops")


@pytest.fixture
def project(trained, tmp_path):
    with Project.open(trained) as source:
        copy = source.save_copy(tmp_path / "monitoring.mlops")
    with Project.open(copy) as opened:
        yield opened


def iris(project, seed, rows=150):
    """Rows drawn (with replacement) from the data flowers:1 was trained on."""
    frame = project.datasets.load_frame("iris:1")
    return frame.sample(n=rows, replace=True, random_state=seed).reset_index(drop=True)


def import_frame(project, frame, tmp_path, name="iris"):
    path = tmp_path / f"{name}-{len(project.datasets.list())}.csv"
    frame.to_csv(path, index=False)
    return project.datasets.import_file(str(path), name)


def state_of(project):
    """Everything a failed look must leave as it was."""
    conn = project.file.conn
    return (
        conn.execute("SELECT count(*) FROM events").fetchone(),
        conn.execute("SELECT * FROM model_references ORDER BY version_uuid").fetchall(),
        conn.execute("SELECT * FROM monitoring_alerts").fetchall(),
        conn.execute("SELECT count(*) FROM blobs").fetchone(),
    )


def log_requests(project, frame, start, latency_ms=5.0, labels=None, refused=0):
    """One single-row request per row of ``frame``, a second apart from ``start``, and
    ``refused`` requests answered 400."""
    version = project.models.get("flowers:1")
    session = project.serving.start_session(version, host="127.0.0.1", port=5005)
    inputs = frame.drop(columns=["target"])
    labels = frame["target"].tolist() if labels is None else labels
    with PredictionLog(project.path, session.uuid) as log:
        for i in range(len(frame)):
            columns = {c: inputs[c].to_numpy()[i : i + 1] for c in inputs.columns}
            log.add(f"r{start}-{i}", version.uuid, start + i, latency_ms, columns, [labels[i]])
        for i in range(refused):
            log.add_error(f"bad{start}-{i}", start + i, 0.5, 400, "column 'x' is missing")


def test_training_keeps_a_reference_of_the_inputs_and_predictions(project):
    version = project.models.get("flowers:1")
    stored = project.file.monitoring.reference(version.uuid)
    assert (stored.source, stored.rows) == ("training", version.metrics["rows"]["train"])
    reference = project.monitoring.reference(version)
    assert list(reference["columns"]) == [
        "sepal length (cm)",
        "sepal width (cm)",
        PETAL,
        "petal width (cm)",
    ]
    assert sum(reference["columns"][PETAL]["counts"]) == 120
    counts = reference["prediction"]["counts"]
    assert set(counts) == {"setosa", "versicolor", "virginica"}
    assert sum(counts.values()) == version.metrics["rows"]["holdout"]


def test_an_older_version_gets_the_same_reference_on_demand(project):
    version = project.models.get("flowers:1")
    made_in_training = project.monitoring.reference(version)
    with project.file.transaction():  # as a version trained before references were kept
        project.file.conn.execute("DELETE FROM model_references")
    assert project.monitoring.reference(version) == made_in_training
    assert project.file.monitoring.reference(version.uuid).source == "on demand"


def test_data_like_the_training_data_is_green(project, tmp_path):
    data = import_frame(project, iris(project, seed=1), tmp_path)
    report = project.monitoring.dataset_drift("flowers:1", data.label)
    assert report.status == GREEN, report.to_json()
    assert report.scope == "dataset"
    assert report.drift.rows == 150
    assert report.drift.prediction.status == GREEN
    assert report.alerts == ()
    assert [e.action for e in project.history(1)] != ["monitoring.alert"]


def test_a_shifted_feature_is_flagged_and_alerted_once(project, tmp_path):
    shifted = iris(project, seed=2)
    shifted[PETAL] += 2.0
    data = import_frame(project, shifted, tmp_path)
    report = project.monitoring.dataset_drift("flowers:1", data.label)
    assert report.status == RED
    assert report.drift.column(PETAL).status == RED
    assert report.drift.column("sepal width (cm)").status == GREEN
    assert report.drift.prediction.status == RED  # longer petals: more virginica predicted
    assert {(a.subject, a.new) for a in report.alerts} >= {(PETAL, True), ("prediction", True)}
    alerts = [e for e in project.history(50) if e.action == "monitoring.alert"]
    assert len(alerts) == len(report.alerts)
    assert any(f"{PETAL}: psi" in e.summary for e in alerts)
    again = project.monitoring.dataset_drift("flowers:1", data.label)
    assert again.alerts
    assert not any(a.new for a in again.alerts)
    assert len([e for e in project.history(50) if e.action == "monitoring.alert"]) == len(alerts)
    json.dumps(report.to_json(), allow_nan=False)


def test_data_without_the_model_s_columns_is_refused_and_nothing_changes(project, tmp_path):
    with project.file.transaction():
        project.file.conn.execute("DELETE FROM model_references")
    data = import_frame(project, iris(project, seed=3).drop(columns=["petal width (cm)"]), tmp_path)
    before = state_of(project)
    with pytest.raises(UserError, match=r"lacks 'petal width \(cm\)', which flowers:1 needs"):
        project.monitoring.dataset_drift("flowers:1", data.label)
    with pytest.raises(UserError, match=r"no model version flowers:9\. The models are: flowers"):
        project.monitoring.dataset_drift("flowers:9", data.label)
    assert state_of(project) == before


def test_served_traffic_like_the_training_data_keeps_to_the_sla(project):
    log_requests(project, iris(project, seed=4, rows=200), T0)
    report = project.monitoring.served_drift("flowers:1")
    assert report.status == GREEN, report.to_json()
    assert report.drift.rows == 200
    ops = report.operations
    assert (ops.requests, ops.errors, ops.p95_ms, ops.status) == (200, 0, 5.0, GREEN)
    assert sum(b.requests for b in ops.buckets) == 200


def test_a_window_of_shifted_traffic_is_red_and_slow_requests_break_the_sla(project):
    log_requests(project, iris(project, seed=5, rows=200), T0)
    shifted = iris(project, seed=6, rows=200)
    shifted[PETAL] += 2.0
    later = T0 + 3600
    log_requests(project, shifted, later, latency_ms=80.0, labels=["virginica"] * 200)
    before = project.monitoring.served_drift("flowers:1", until=later)
    assert before.status == GREEN
    report = project.monitoring.served_drift("flowers:1", since=later)
    assert report.drift.column(PETAL).status == RED
    assert report.drift.prediction.status == RED
    assert report.operations.p95_ms == 80.0
    assert ("latency", "p95_ms", True) in {(a.subject, a.measure, a.new) for a in report.alerts}
    points = project.monitoring.drift_over_time("flowers:1", bucket_seconds=3600)
    assert [p.status for p in points] == [GREEN, RED]
    assert (points[0].statuses[PETAL], points[1].statuses[PETAL]) == (GREEN, RED)
    assert points[1].psi[PETAL] > 0.25
    assert points[1].rows == 200


def test_failed_requests_over_the_sla_are_an_alert(project):
    log_requests(project, iris(project, seed=8, rows=95), T0, refused=5)
    ops = project.monitoring.served_drift("flowers:1").operations
    assert (ops.requests, ops.errors, ops.error_rate) == (95, 5, 0.05)
    assert [(a.subject, a.measure, a.status) for a in ops.alerts()] == [
        ("errors", "error_rate", RED)
    ]
    assert sum(b.errors for b in ops.buckets) == 5
    assert ops.to_json()["buckets"][0]["over_sla"]


def test_a_log_without_an_input_says_so(project):
    # The log keeps a column per input of the signature: one never sent is all missing.
    log_requests(project, iris(project, seed=9, rows=100).drop(columns=["sepal width (cm)"]), T0)
    report = project.monitoring.served_drift("flowers:1")
    json.dumps(report.to_json(), allow_nan=False)
    width = report.drift.column("sepal width (cm)")
    assert width.note == "all 100 values are missing, so only the missing rate is compared"
    assert (width.status, width.missing_current) == (RED, 1.0)
    assert report.drift.column("sepal length (cm)").status == GREEN


def test_an_empty_window_says_what_to_do(project):
    before = state_of(project)
    with pytest.raises(UserError, match="No predictions of flowers:1 were logged: widen"):
        project.monitoring.served_drift("flowers:1")
    log_requests(project, iris(project, seed=7, rows=5), T0)
    with pytest.raises(UserError, match=r"logged from 2027-.* until now: widen the time window"):
        project.monitoring.served_drift("flowers:1", since="2027-01-01")
    assert state_of(project)[1:] == before[1:]


def test_thresholds_are_project_settings_with_defaults(project):
    monitoring = project.monitoring
    assert monitoring.thresholds().psi_red == 0.25
    changed = monitoring.set_thresholds({"psi_red": 0.4, "sla_p95_ms": 200})
    assert (changed.psi_red, changed.sla_p95_ms) == (0.4, 200)
    assert project.file.settings.get("monitoring.psi_red") == 0.4
    assert project.history(1)[0].summary == (
        "Set the monitoring thresholds: psi_red 0.4, sla_p95_ms 200"
    )
    before = state_of(project)
    with pytest.raises(UserError, match="not a monitoring threshold"):
        monitoring.set_thresholds({"psi_red": 0.5}, reset=["nonsense"])
    assert state_of(project) == before
    assert monitoring.set_thresholds({}, reset=["psi_red"]).psi_red == 0.25
    assert project.file.settings.get("monitoring.psi_red") is None


# -- live performance -----------------------------------------------------------------------


def test_labels_give_live_metrics_next_to_the_training_ones(project, tmp_path):
    from sklearn.metrics import accuracy_score

    frame = iris(project, seed=11, rows=40)
    predicted = ["0"] * 20 + frame["target"].astype(str).tolist()[20:]  # half of them wrong-ish
    log_requests(project, frame, T0, labels=predicted)
    truth = frame["target"].astype(str).tolist()
    labels = tmp_path / "truth.csv"
    lines = ["request_id,target"] + [f"r{T0}-{i},{truth[i]}" for i in range(40)]
    lines.append("unknown-request,1")  # a label for a request never logged
    labels.write_text("\n".join(lines) + "\n")
    before = state_of(project)

    live = project.monitoring.performance("flowers:1", labels)

    assert live.labelled == 40
    assert live.unmatched == 1
    assert live.live["accuracy"] == pytest.approx(accuracy_score(truth, predicted))
    assert "accuracy" in live.training
    assert json.loads(json.dumps(live.to_json()))["metrics"]["accuracy"]["live"] < 1
    assert state_of(project) == before  # looking writes nothing


def test_labels_that_cannot_be_used_are_refused_with_the_reason(project, tmp_path):
    log_requests(project, iris(project, seed=12, rows=5), T0)
    monitoring = project.monitoring
    with pytest.raises(UserError, match="no labels file"):
        monitoring.performance("flowers:1", tmp_path / "missing.csv")
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("id,target\nr1,0\n")
    with pytest.raises(UserError, match="needs a request_id column"):
        monitoring.performance("flowers:1", wrong)
    strangers = tmp_path / "strangers.csv"
    strangers.write_text("request_id,label\nnobody,0\n")
    with pytest.raises(UserError, match="None of the 1 labelled rows matches"):
        monitoring.performance("flowers:1", strangers)
