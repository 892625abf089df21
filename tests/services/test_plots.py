"""Every plot a version records draws from its stored numbers, without warnings."""

import pytest
from matplotlib.figure import Figure

from mlops_desktop.services import plots
from tests.services.test_training import run_queue, save


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """The stored plot data of a classifier (with a search) and of a regressor."""
    from mlops_desktop.services.project import Project

    path = tmp_path_factory.mktemp("plots") / "plots.mlops"
    with Project.create(path) as project:
        project.datasets.import_file("sklearn:iris")
        project.datasets.import_file("sklearn:diabetes")
        save(project, name="forest", search={"strategy": "grid", "space": {"max_depth": [2, 3]}})
        save(
            project,
            name="ridge",
            dataset="diabetes",
            target="target",
            estimator="Ridge",
            params={},
        )
        run_queue(project)
        return {v.experiment_name: project.models.plots(v) for v in project.models.list()}


def test_a_classifier_has_every_classification_plot(recorded):
    keys = [key for key, _ in plots.available(recorded["forest"])]
    assert keys == [
        "confusion_matrix",
        "roc",
        "precision_recall",
        "calibration",
        "permutation_importance",
        "search",
    ]


def test_a_regressor_has_the_prediction_error_plots(recorded):
    keys = [key for key, _ in plots.available(recorded["ridge"])]
    assert keys == ["predicted_vs_actual", "residuals", "permutation_importance"]


@pytest.mark.parametrize("name", ["forest", "ridge"])
def test_each_plot_draws_a_titled_figure(recorded, name):
    for key, title in plots.available(recorded[name]):
        figure = Figure()
        plots.draw(figure, key, recorded[name], "flowers:1")
        axes = figure.axes[0]
        assert axes.get_title(loc="left") == f"{title}: flowers:1"
        figure.savefig(__import__("io").BytesIO(), format="png")


def test_a_missing_plot_says_so_instead_of_failing():
    figure = Figure()
    plots.draw(figure, "roc", {})
    assert "Not recorded" in figure.axes[0].texts[0].get_text()


def test_curves_of_several_versions_share_one_set_of_axes(recorded):
    figure = Figure()
    plots.draw_overlay(figure, "roc", [("a:1", recorded["forest"]), ("a:2", recorded["forest"])])
    labels = [line.get_label() for line in figure.axes[0].get_lines()]
    assert any(label.startswith("a:2: setosa") for label in labels)
    figure = Figure()
    plots.draw_overlay(figure, "precision_recall", [("r:1", recorded["ridge"])])
    assert "None of these versions" in figure.axes[0].texts[0].get_text()
