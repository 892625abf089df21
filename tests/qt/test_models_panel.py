"""The Models panel: browse, filter and sort versions, their detail, lineage links, compare,
aliases behind gates, delete, evaluate and export."""

import itertools
import time

import pytest
from PySide6.QtCore import Qt, QTimer

from mlops_desktop import Project
from mlops_desktop.qt.models.versions import COLUMNS
from mlops_desktop.qt.panels.models.compare_dialog import CompareDialog
from mlops_desktop.qt.panels.models.evaluate_dialog import EvaluateDialog
from mlops_desktop.qt.panels.models.export_dialog import ExportDialog
from mlops_desktop.qt.panels.models.promote_dialog import PromoteDialog
from tests.services.test_training import train_flowers


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """iris with flowers:1 (a forest) and flowers:2 (a one-split tree), trained once."""
    return train_flowers(tmp_path_factory.mktemp("models-panel") / "trained.mlops")


@pytest.fixture
def project_file(trained, tmp_path):
    with Project.open(trained) as source:
        return source.save_copy(tmp_path / "models.mlops")


@pytest.fixture
def panel(window, project_file, qtbot):
    window.open_project(project_file)
    qtbot.waitUntil(lambda: window.show_panel("models") is not None, timeout=60_000)
    models = window.show_panel("models")
    qtbot.waitUntil(lambda: models.model.total == 2, timeout=30_000)
    return models


def shown_labels(panel):
    return [panel.model.label_at(r) for r in range(panel.model.rowCount())]


def select(panel, qtbot, label):
    uuid = panel.context.project.models.get(label).uuid
    panel.select(uuid)
    qtbot.waitUntil(
        lambda: panel.detail.detail is not None and panel.detail.detail.version.uuid == uuid,
        timeout=30_000,
    )


def column(name):
    return next(i for i, (_title, key) in enumerate(COLUMNS) if key == name)


def test_the_table_lists_sorts_and_filters_versions(panel):
    assert panel.count.text() == "2 versions"
    assert shown_labels(panel) == ["flowers:1", "flowers:2"]
    estimator = column("estimator")
    assert panel.model.data(panel.model.index(0, estimator)) == "RandomForestClassifier"
    panel.table.sortByColumn(column("holdout"), panel.table.horizontalHeader().sortIndicatorOrder())
    scores = [panel.model.rows["holdout"][panel.model._shown[r]] for r in range(2)]
    assert scores == sorted(scores) or scores == sorted(scores, reverse=True)
    panel.search.setText("decisiontree")
    assert shown_labels(panel) == ["flowers:2"]
    assert panel.count.text() == "1 of 2"
    panel.search.setText("flowers:1")
    assert shown_labels(panel) == ["flowers:1"]
    panel.search.setText("no such thing")
    assert shown_labels(panel) == []
    assert not panel.buttons["compare"].isEnabled()


def test_the_detail_shows_metrics_and_every_parameter(panel, qtbot):
    select(panel, qtbot, "flowers:2")
    assert panel.detail.heading.text() == "flowers:2  ·  DecisionTreeClassifier"
    metrics = [
        panel.detail.metrics.item(r, 0).text() for r in range(panel.detail.metrics.rowCount())
    ]
    assert metrics[0] == "f1_macro"
    assert {"accuracy", "roc_auc", "log_loss"} <= set(metrics)
    assert "harmonic mean" in panel.detail.metrics.item(0, 0).toolTip()  # in plain words

    def parameters():
        table = panel.detail.params
        return {table.item(r, 0).text(): table.item(r, 1).text() for r in range(table.rowCount())}

    # The defaults arrive once scikit-learn's tree module is imported off the GUI thread.
    qtbot.waitUntil(lambda: "criterion" in parameters(), timeout=30_000)
    assert parameters()["max_depth"] == "1"
    assert parameters()["random_state"] == "42"  # the seed, as training set it
    assert parameters()["criterion"] == '"gini"'
    assert panel.detail.params.item(0, 0).font().bold()
    assert not panel.detail.params.item(panel.detail.params.rowCount() - 1, 0).font().bold()
    assert panel.buttons["export"].isEnabled()
    assert not panel.buttons["compare"].isEnabled()


def test_notes_and_tags_are_saved_and_searchable(panel, qtbot):
    select(panel, qtbot, "flowers:1")
    panel.detail.notes.setPlainText("the baseline to beat")
    panel.detail.tags.setText("baseline, iris")
    panel.detail.tags.textEdited.emit("baseline, iris")
    assert panel.detail.save_button.isEnabled()
    panel.detail.save_button.click()
    version = panel.context.project.models.get("flowers:1")
    assert (version.notes, version.tags) == ("the baseline to beat", ["baseline", "iris"])
    assert panel.context.project.history()[0].action == "model.tags"
    qtbot.waitUntil(lambda: "baseline" in panel.model.rows["tags"][0], timeout=30_000)
    panel.search.setText("beat")
    assert shown_labels(panel) == ["flowers:1"]


def test_a_lineage_link_opens_the_dataset_in_the_data_panel(panel, window, qtbot):
    select(panel, qtbot, "flowers:1")
    assert "iris:1" in panel.detail.lineage.text()
    qtbot.waitUntil(lambda: window.show_panel("data") is not None, timeout=60_000)
    dataset = panel.context.project.datasets.get("iris:1")
    assert f'href="dataset_version|{dataset.uuid}"' in panel.detail.lineage.text()
    panel.detail.lineage.linkActivated.emit(f"dataset_version|{dataset.uuid}")
    data_panel = window.show_panel("data")
    assert window.panel_stack.currentWidget().panel is data_panel
    assert data_panel.tree.currentItem().data(0, Qt.ItemDataRole.UserRole) == dataset.uuid


def test_compare_shows_deltas_and_the_t_test(panel, qtbot):
    panel.table.selectAll()
    assert panel.buttons["compare"].isEnabled()
    dialog = CompareDialog(panel.context, ["flowers:1", "flowers:2"], panel)
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: dialog.result is not None, timeout=30_000)
    assert dialog.metrics.item(0, 0).text() == "CV f1_macro"
    assert "(" in dialog.metrics.item(0, 2).text()  # the second version's delta
    # A one-split tree against a forest on iris: the corrected t-test calls it real.
    verdict = dialog.verdicts.text()
    assert "flowers:2 scores" in verdict
    assert "lower than flowers:1 on f1_macro" in verdict
    assert "a real difference" in verdict
    changed = [dialog.params.item(r, 0).text() for r in range(dialog.params.rowCount())]
    assert "max_depth" in changed


@pytest.mark.slow
def test_a_failed_gate_blocks_until_overridden_with_a_reason(panel, qtbot):
    dialog = PromoteDialog(panel.context, "flowers:2", panel)
    qtbot.addWidget(dialog)
    dialog.alias.setCurrentText("production")
    dialog.gates.setPlainText("accuracy >= 0.999")
    dialog.run_check()
    qtbot.waitUntil(lambda: dialog.check is not None, timeout=90_000)
    assert not dialog.check.passed
    assert "FAIL" in dialog.results.item(0, 3).text()
    assert not dialog.promote_button.isEnabled()
    assert dialog.promote_button.text() == "Override and promote"
    dialog.reason.setText("a demo for the class")
    assert dialog.promote_button.isEnabled()
    dialog.promote_button.click()
    alias = next(
        a for a in panel.context.project.models.aliases("flowers") if a.name == "production"
    )
    assert (alias.model, alias.version) == ("flowers", 2)
    promotion = panel.context.project.models.promotions("flowers")[0]
    assert (promotion.outcome, promotion.reason) == ("overridden", "a demo for the class")
    qtbot.waitUntil(lambda: "production" in panel.model.rows["aliases"], timeout=30_000)


def test_a_version_behind_an_alias_is_not_deleted(panel, qtbot):
    models = panel.context.project.models
    models.promote("flowers:1", "production")
    panel.delete_versions(["flowers:1", "flowers:2"])
    assert [v.label for v in models.list()] == ["flowers:1"]
    kinds = [kind for kind, _message in panel.context.notifications.messages()]
    assert "error" in kinds
    error = next(m for k, m in panel.context.notifications.messages() if k == "error")
    assert "production" in error
    qtbot.waitUntil(lambda: panel.model.total == 1, timeout=30_000)


def test_dialogs_refuse_what_cannot_work(panel, qtbot, tmp_path):
    dialog = EvaluateDialog(panel.context, "flowers:1", panel)
    qtbot.addWidget(dialog)
    assert not dialog.run_button.isEnabled()  # iris:1 is the only data, and it trained it
    assert "no other dataset version" in dialog.explanation.text()
    export = ExportDialog(panel.context, "flowers:1", panel)
    qtbot.addWidget(export)
    export.findChild(type(export.group.button(0)), "export-card").setChecked(True)
    assert not export.serialization_row.isVisible()
    export.out.setText(str(tmp_path / "missing-folder" / "card.md"))
    export.run()
    qtbot.waitUntil(lambda: export.run_button.isEnabled(), timeout=60_000)
    assert "There is no folder" in export.message.text()
    assert not (tmp_path / "missing-folder").exists()


@pytest.mark.slow
def test_evaluate_and_export_run_in_the_background(panel, qtbot, tmp_path):
    panel.context.project.datasets.import_file("sklearn:iris")  # iris:2, "next month"
    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(time.monotonic()))
    timer.start()
    dialog = EvaluateDialog(panel.context, "flowers:1", panel)
    qtbot.addWidget(dialog)
    assert dialog.dataset.currentData() == "iris:2"
    assert dialog.run_button.isEnabled()
    dialog.run()
    qtbot.waitUntil(lambda: dialog.result() == dialog.DialogCode.Accepted, timeout=120_000)
    [evaluation] = panel.context.project.models.evaluations(
        panel.context.project.models.get("flowers:1")
    )
    assert evaluation.dataset_label == "iris:2"
    export = ExportDialog(panel.context, "flowers:1", panel)
    qtbot.addWidget(export)
    export.findChild(type(export.group.button(0)), "export-card").setChecked(True)
    export.out.setText(str(tmp_path / "card.md"))
    export.run()
    qtbot.waitUntil(lambda: export.result() == export.DialogCode.Accepted, timeout=120_000)
    timer.stop()
    assert (tmp_path / "card.md").is_file()
    assert (tmp_path / "card.html").is_file()
    gaps = [b - a for a, b in itertools.pairwise(ticks)]
    assert max(gaps) < 0.5  # the window kept handling events throughout


def test_compact_gives_space_back_after_a_delete(panel, window, qtbot):
    panel.delete_versions(["flowers:2"])
    window.compact_project()
    qtbot.waitUntil(
        lambda: any("Compacted" in m for _k, m in window.notifications.messages()),
        timeout=60_000,
    )
    assert window.context.project.check().ok


def test_a_refresh_keeps_notes_being_typed(panel, qtbot):
    select(panel, qtbot, "flowers:1")
    panel.detail.notes.setPlainText("half a thought")
    assert panel.detail.save_button.isEnabled()
    panel.context.project.models.set_tags("flowers:2", ["elsewhere"])  # another window
    panel.context.mark_changed()
    qtbot.waitUntil(lambda: "elsewhere" in panel.model.rows["tags"][1], timeout=30_000)
    qtbot.waitUntil(lambda: not panel._loading.running, timeout=30_000)
    assert panel.detail.detail.version.label == "flowers:1"
    assert panel.detail.notes.toPlainText() == "half a thought"
    assert panel.detail.save_button.isEnabled()


def test_the_plots_tab_redraws_every_plot_training_recorded(panel, qtbot):
    select(panel, qtbot, "flowers:1")
    plots = panel.detail.plots
    names = [plots.list.item(r).text() for r in range(plots.list.count())]
    assert {
        "Confusion matrix",
        "ROC curve",
        "Precision-recall curve",
        "Calibration",
        "Permutation importance",
    } <= set(names)
    for row, name in enumerate(names):
        plots.list.setCurrentRow(row)
        qtbot.waitUntil(
            lambda name=name: (
                plots.canvas is not None
                and plots.canvas.idle
                and bool(plots.canvas.figure.axes)
                and plots.canvas.figure.axes[0].get_title(loc="left").startswith(name)
            ),
            timeout=30_000,
        )


def test_lineage_links_open_the_experiment_and_the_job(panel, window, qtbot):
    select(panel, qtbot, "flowers:2")
    steps = {step.kind: step for step in panel.detail.detail.lineage}
    assert {"raw_file", "dataset_version", "experiment", "job", "model_version"} <= set(steps)
    qtbot.waitUntil(lambda: window.show_panel("training-queue") is not None, timeout=60_000)
    qtbot.waitUntil(lambda: window.show_panel("experiments") is not None, timeout=60_000)
    job = steps["job"]
    panel.detail.lineage.linkActivated.emit(f"job|{job.key}")
    queue = window.show_panel("training-queue")
    assert window.panel_stack.currentWidget().panel is queue
    qtbot.waitUntil(lambda: queue.selected() is not None, timeout=30_000)
    assert str(queue.selected().number) == job.key
    window.show_panel("models")
    panel.detail.lineage.linkActivated.emit(f"experiment|{steps['experiment'].key}")
    experiments = window.show_panel("experiments")
    assert experiments.list.currentItem().text() == "stump"


def test_compare_overlays_the_curves_of_each_version_and_marks_what_differs(panel, qtbot):
    dialog = CompareDialog(panel.context, ["flowers:1", "flowers:2"], panel)
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: dialog.result is not None, timeout=30_000)
    dialog.show()
    qtbot.waitUntil(
        lambda: (
            dialog.canvas is not None and dialog.canvas.idle and bool(dialog.canvas.figure.axes)
        ),
        timeout=30_000,
    )
    labels = [line.get_label() for line in dialog.canvas.figure.axes[0].get_lines()]
    # One curve per class of iris for each version.
    assert sum(label.startswith("flowers:1") for label in labels) == 3
    assert sum(label.startswith("flowers:2") for label in labels) == 3
    row = next(
        r for r in range(dialog.params.rowCount()) if dialog.params.item(r, 0).text() == "max_depth"
    )
    assert dialog.params.item(row, 1).background().color().alpha() > 0  # highlighted
    dialog.curve.setCurrentIndex(1)
    qtbot.waitUntil(
        lambda: (
            dialog.canvas.idle and "recall" in dialog.canvas.figure.axes[0].get_xlabel().lower()
        ),
        timeout=30_000,
    )


@pytest.mark.slow
def test_a_gate_against_the_holder_and_the_aliases_tab(panel, qtbot):
    models = panel.context.project.models
    models.promote("flowers:1", "production")
    dialog = PromoteDialog(panel.context, "flowers:2", panel)
    qtbot.addWidget(dialog)
    dialog.alias.setCurrentText("production")
    dialog.gates.setPlainText("accuracy >= current - 0.01")
    dialog.run_check()
    qtbot.waitUntil(lambda: dialog.check is not None, timeout=90_000)
    assert not dialog.check.passed  # a one-split tree is far worse than the forest
    assert "current" in dialog.results.item(0, 0).text()
    holder = models.get("flowers:1").metrics["holdout"]["accuracy"]  # same rows, same split
    assert float(dialog.results.item(0, 2).text()) == pytest.approx(holder - 0.01, abs=1e-4)
    dialog.reason.setText("to show the class a failed gate")
    dialog.promote_button.click()
    select(panel, qtbot, "flowers:2")
    history = panel.detail.history

    def texts():
        return [
            history.item(r, c).text()
            for r in range(history.rowCount())
            for c in range(history.columnCount())
        ]

    qtbot.waitUntil(lambda: any("overridden" in text for text in texts()), timeout=30_000)
    assert panel.detail.alias_table.item(0, 0).text() == "flowers@production"
    assert "flowers:2" in panel.detail.alias_table.item(0, 1).text()
    assert any("to show the class a failed gate" in text for text in texts())


@pytest.mark.slow
def test_export_an_mlflow_model_with_cloudpickle_from_the_dialog(panel, qtbot, tmp_path):
    export = ExportDialog(panel.context, "flowers:1", panel)
    qtbot.addWidget(export)
    export.show()
    export.findChild(type(export.group.button(0)), "export-mlflow").setChecked(True)
    assert export.serialization_row.isVisible()
    export.serialization.setCurrentIndex(export.serialization.findData("cloudpickle"))
    export.out.setText(str(tmp_path / "flowers-model"))
    export.run()
    qtbot.waitUntil(lambda: export.result() == export.DialogCode.Accepted, timeout=120_000)
    mlmodel = (tmp_path / "flowers-model" / "MLmodel").read_text()
    assert "serialization_format: cloudpickle" in mlmodel
    assert (tmp_path / "flowers-model" / "requirements.txt").is_file()
