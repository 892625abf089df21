"""The Experiments panel: building, checking, saving, comparing and exporting specs."""

import json
import subprocess
import sys

import pytest

from mlops_desktop import Project
from mlops_desktop.domain.experiment import ExperimentSpec
from mlops_desktop.qt.panels.experiments.panel import CompareDialog


@pytest.fixture
def project_file(tmp_path):
    path = tmp_path / "exp.mlops"
    with Project.create(path) as project:
        project.datasets.import_file("sklearn:iris")
    return path


@pytest.fixture
def panel(window, project_file, qtbot):
    window.open_project(project_file)
    qtbot.waitUntil(lambda: window.show_panel("experiments") is not None, timeout=60_000)
    return window.show_panel("experiments")


def ready(editor):
    return editor.status.text().startswith("Ready:")


def new_iris(panel, qtbot):
    panel.new_experiment()
    editor = panel.editor
    qtbot.waitUntil(lambda: ready(editor), timeout=30_000)
    return editor


def test_a_new_experiment_is_checked_and_compiled(panel, qtbot):
    editor = new_iris(panel, qtbot)
    assert editor.target.currentText() == "target"
    assert editor.task_reason.text() == "3 distinct text values → multiclass classification"
    assert editor.features.table.rowCount() == 4
    assert "RandomForestClassifier(random_state=42)" in editor.pipeline.toPlainText()
    assert editor.status.text() == "Ready: multiclass · 1 candidate × 5 folds = 5 fits."
    # The same pipeline step by step, each step explained in plain words.
    root = editor.pipeline_steps.topLevelItem(0)
    features, model = root.child(0), root.child(1)
    assert model.text(0) == "RandomForestClassifier(random_state=42)"
    assert "trees" in model.text(1)
    numeric = features.child(0)
    assert numeric.text(2) == ", ".join(
        f"{part} ({unit})"
        for part, unit in [
            ("sepal length", "cm"),
            ("sepal width", "cm"),
            ("petal length", "cm"),
            ("petal width", "cm"),
        ]
    )
    assert [numeric.child(i).toolTip(1) != "" for i in range(numeric.childCount())] == [True, True]


def test_a_numeric_target_switches_to_regressors(panel, qtbot):
    editor = new_iris(panel, qtbot)
    editor.target.setCurrentText("petal width (cm)")
    editor._target_changed()
    qtbot.waitUntil(lambda: "regression" in editor.task_reason.text(), timeout=30_000)
    names = [editor.estimator.itemText(i) for i in range(editor.estimator.count())]
    assert "Ridge" in names
    assert "LogisticRegression" not in names
    assert editor.estimator.currentText() == "RandomForestRegressor"
    editor.dry_run()
    qtbot.waitUntil(
        lambda: "fitted and predicted on 150 rows" in editor.status.text(), timeout=60_000
    )


def test_an_invalid_parameter_is_refused_in_the_form(panel, qtbot):
    editor = new_iris(panel, qtbot)
    field = editor.params.fields["n_estimators"]
    field.setText("-5")
    editor.params._edited("n_estimators")
    assert field.property("invalid") is True
    assert "must be an int in the range [1, inf)" in editor.params.errors["n_estimators"]
    qtbot.waitUntil(lambda: editor.status.text().startswith("params.n_estimators:"))
    assert "The number of trees in the forest." in field.toolTip()


def test_the_search_size_is_shown_before_saving(panel, qtbot):
    editor = new_iris(panel, qtbot)
    editor.search.strategy.setCurrentIndex(editor.search.strategy.findData("grid"))
    editor.search.add_dimension("max_depth", "3, 5, None")
    editor.search.add_dimension("min_samples_leaf", "1, 2")
    editor.edited()
    qtbot.waitUntil(
        lambda: editor.search.size.text() == "6 candidates × 5 folds = 30 fits", timeout=30_000
    )


def test_features_can_be_ignored_and_retyped(panel, qtbot):
    editor = new_iris(panel, qtbot)
    features = editor.features
    features.table.setCurrentCell(0, 0)
    features.role.setCurrentText("ignore")
    features._apply()
    assert features.overrides == {"sepal length (cm)": {"role": "ignore"}}
    qtbot.waitUntil(
        lambda: ready(editor) and "sepal length" not in editor.pipeline.toPlainText(),
        timeout=30_000,
    )
    features.table.setCurrentCell(1, 0)
    features.scale.setCurrentText("robust")
    features._apply()
    qtbot.waitUntil(lambda: "RobustScaler" in editor.pipeline.toPlainText(), timeout=30_000)


def test_save_then_export_and_the_cli_builds_the_same_pipeline(panel, qtbot, tmp_path):
    editor = new_iris(panel, qtbot)
    editor.name.setText("iris-forest")
    editor.params.fields["n_estimators"].setText("25")
    editor.params._edited("n_estimators")
    qtbot.waitUntil(lambda: "n_estimators=25" in editor.pipeline.toPlainText(), timeout=30_000)
    editor.save()
    # Saved in the background: the list shows it once the result reaches the window.
    qtbot.waitUntil(
        lambda: (
            panel.list.currentItem() is not None
            and panel.list.currentItem().text() == "iris-forest"
        ),
        timeout=30_000,
    )
    assert panel.names() == ["iris-forest"]
    exported = tmp_path / "spec.json"
    panel.export_spec_file("iris-forest", exported)
    gui_pipeline = editor.pipeline.toPlainText()

    other = tmp_path / "other.mlops"
    run = [sys.executable, "-m", "mlops_desktop"]
    subprocess.run([*run, "init", str(other)], check=True, capture_output=True)
    subprocess.run(
        [*run, "data", "import", str(other), "sklearn:iris"], check=True, capture_output=True
    )
    result = subprocess.run(
        [*run, "experiment", "create", str(other), str(exported), "--json"],
        check=True,
        capture_output=True,
        text=True,
    )
    cli = json.loads(result.stdout)
    saved = panel.context.project.experiments.plan(
        panel.context.project.experiments.get("iris-forest")
    )
    assert cli["pipeline"] == str(saved.pipeline) == gui_pipeline


def test_queue_for_training_queues_the_saved_spec_and_not_unsaved_edits(panel, qtbot):
    editor = new_iris(panel, qtbot)
    editor.name.setText("iris-queued")
    editor.save()
    qtbot.waitUntil(lambda: panel.names() == ["iris-queued"], timeout=30_000)
    qtbot.waitUntil(lambda: panel.buttons["queue"].isEnabled(), timeout=30_000)
    editor.params.fields["n_estimators"].setText("7")
    editor.params._edited("n_estimators")
    panel.buttons["queue"].click()
    assert panel.context.project.queue.jobs() == []
    warnings = [m for k, m in panel.context.notifications.messages() if k == "warning"]
    assert any("not saved" in message for message in warnings)
    editor.params.fields["n_estimators"].setText("")
    editor.params._edited("n_estimators")
    panel.buttons["queue"].click()
    qtbot.waitUntil(lambda: bool(panel.context.project.queue.jobs()), timeout=30_000)
    [job] = panel.context.project.queue.jobs()
    assert job.experiment_name == "iris-queued"
    qtbot.waitUntil(
        lambda: any("Queued job #1" in m for _k, m in panel.context.notifications.messages()),
        timeout=30_000,
    )


def test_a_large_search_asks_first(panel, qtbot, monkeypatch):
    editor = new_iris(panel, qtbot)
    editor.search.strategy.setCurrentIndex(editor.search.strategy.findData("grid"))
    editor.search.add_dimension("max_depth", ", ".join(str(i) for i in range(1, 102)))
    editor.search.add_dimension("min_samples_leaf", ", ".join(str(i) for i in range(1, 101)))
    editor.edited()
    qtbot.waitUntil(lambda: editor.candidates == 10_100, timeout=30_000)
    asked = []
    monkeypatch.setattr(editor, "confirm_large_search", lambda n: asked.append(n) or False)
    editor.save()
    assert asked == [10_100]
    assert panel.names() == []
    monkeypatch.setattr(editor, "confirm_large_search", lambda n: True)
    editor.save()
    qtbot.waitUntil(lambda: panel.list.count() == 1, timeout=30_000)
    saved = panel.context.project.experiments.get(panel.names()[0])
    assert saved.search.confirm_large


def test_duplicate_compare_and_delete(panel, qtbot, monkeypatch):
    project = panel.context.project
    project.experiments.save(
        ExperimentSpec.from_json(
            {"name": "a", "dataset": "iris", "target": "target", "params": {"n_estimators": 10}}
        )
    )
    panel.refresh()
    panel.select("a")
    monkeypatch.setattr(panel, "ask_name", lambda title, suggestion: "b")
    panel.duplicate()
    assert panel.names() == ["a", "b"]
    project.experiments.save(
        ExperimentSpec.from_json(
            {"name": "b", "dataset": "iris", "target": "target", "params": {"n_estimators": 99}}
        ),
        replacing="b",
    )
    dialog = CompareDialog(panel.context, panel.names())
    qtbot.addWidget(dialog)
    fields = [dialog.table.item(r, 0).text() for r in range(dialog.table.rowCount())]
    assert fields == ["name", "params.n_estimators"]
    monkeypatch.setattr(panel, "confirm", lambda question: True)
    panel.select("b")
    panel.delete()
    assert panel.names() == ["a"]


def test_a_dry_run_reports_in_the_status(panel, qtbot):
    editor = new_iris(panel, qtbot)
    editor.dry_run()
    qtbot.waitUntil(
        lambda: "fitted and predicted on 150 rows" in editor.status.text(), timeout=60_000
    )


def test_a_malformed_spec_file_is_explained(panel, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"name": "x", "dataset": "iris", "target": "target", "search": {"cv": 1}}')
    panel.import_spec_file(bad)
    kind, message = panel.context.notifications.messages()[0]
    assert kind == "error"
    assert message.startswith("bad.json: search.cv: must be a whole number of folds")


def test_new_needs_a_dataset(window, qtbot, tmp_path):
    path = tmp_path / "empty.mlops"
    Project.create(path).close()
    window.open_project(path)
    qtbot.waitUntil(lambda: window.show_panel("experiments") is not None, timeout=60_000)
    panel = window.show_panel("experiments")
    assert not panel.buttons["new"].isEnabled()
    assert panel.buttons["new"].toolTip() == "Import a dataset first"


def test_a_change_elsewhere_keeps_the_spec_being_edited(panel, qtbot):
    # A job finishing or another window changes the project: unsaved edits stay on screen.
    panel.context.project.experiments.save(
        ExperimentSpec.from_json({"name": "kept", "dataset": "iris", "target": "target"})
    )
    panel.context.mark_changed()
    panel.select("kept")
    qtbot.waitUntil(lambda: panel.editor.name.text() == "kept", timeout=30_000)
    panel.editor.model_name.setText("flowers")  # not saved
    panel.context.project.experiments.save(
        ExperimentSpec.from_json({"name": "other", "dataset": "iris", "target": "target"})
    )
    panel.context.mark_changed()
    assert panel.names() == ["kept", "other"]
    assert panel.list.currentItem().text() == "kept"
    assert panel.editor.model_name.text() == "flowers"


def test_an_excluded_column_shows_as_ignored_and_stays_out(panel, qtbot):
    spec = ExperimentSpec.from_json(
        {
            "name": "without-sepals",
            "dataset": "iris",
            "target": "target",
            "features": {"exclude": ["sepal length (cm)"]},
        }
    )
    panel.context.project.experiments.save(spec)
    panel.context.mark_changed()
    panel.select("without-sepals")
    editor = panel.editor
    qtbot.waitUntil(lambda: ready(editor), timeout=30_000)
    assert editor.features.treatment("sepal length (cm)").role == "ignore"
    assert "sepal length (cm)" not in editor.pipeline.toPlainText()
    again = ExperimentSpec.from_json(editor.current_json())
    assert again.features.columns["sepal length (cm)"]["role"] == "ignore"
