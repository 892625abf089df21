import pytest

from mlops_desktop.domain.errors import UserError
from mlops_desktop.domain.experiment import ExperimentSpec, spec_differences
from mlops_desktop.services.experiments import dry_run_task, plan_task


@pytest.fixture
def iris(project):
    project.datasets.import_file("sklearn:iris")
    return project


def iris_spec(**changes):
    data = {
        "name": "iris-rf",
        "dataset": "iris",
        "target": "target",
        "estimator": "RandomForestClassifier",
        "params": {"n_estimators": 20},
    }
    return ExperimentSpec.from_json({**data, **changes})


def test_save_list_edit_duplicate_delete(iris):
    experiments = iris.experiments
    experiments.save(iris_spec())
    assert [e.name for e in experiments.list()] == ["iris-rf"]
    edited = iris_spec(name="iris-forest", params={"n_estimators": 50})
    experiments.save(edited, replacing="iris-rf")
    assert experiments.get("iris-forest").params == {"n_estimators": 50}
    experiments.duplicate("iris-forest", "iris-copy")
    assert experiments.diff("iris-forest", "iris-copy") == [("name", "iris-forest", "iris-copy")]
    experiments.delete("iris-copy")
    assert [e.name for e in experiments.list()] == ["iris-forest"]
    actions = [e.summary for e in iris.history()][:4]
    assert actions == [
        "Deleted experiment iris-copy",
        "Duplicated experiment iris-forest as iris-copy",
        "Edited experiment iris-forest",
        "Created experiment iris-rf",
    ]


def test_names_are_unique(iris):
    iris.experiments.save(iris_spec())
    with pytest.raises(UserError, match="exists already"):
        iris.experiments.save(iris_spec())
    with pytest.raises(UserError, match="exists already"):
        iris.experiments.duplicate("iris-rf", "IRIS-RF")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"dataset": "penguins"}, "dataset: The project has no dataset version penguins"),
        ({"dataset": "iris:7"}, "dataset: The project has no dataset version iris:7"),
        ({"target": "species"}, "target: iris:1 has no column 'species'"),
        ({"estimator": "Lasso"}, "estimator: Lasso does not do classification"),
    ],
)
def test_specs_are_checked_against_the_project_before_saving(iris, changes, message):
    with pytest.raises(UserError) as info:
        iris.experiments.save(iris_spec(**changes))
    assert info.value.message.startswith(message)
    assert iris.info().counts["experiments"] == 0


def test_too_few_rows_per_class_for_the_folds(iris):
    from mlops_desktop.domain.recipe import FilterRows

    iris.datasets.import_file("sklearn:iris", name="tiny")
    # Keeps 20 setosa rows and one each of versicolor and virginica: too few for 5 folds.
    iris.datasets.clean("tiny", [FilterRows("sepal length (cm)", "<", 5.0)])
    with pytest.raises(UserError, match="too few for 5 folds"):
        iris.experiments.plan(iris_spec(dataset="tiny"))


def test_a_dry_run_fits_a_sample_and_reports_failures(iris):
    report = iris.experiments.dry_run(iris_spec())
    assert report.rows == 150
    assert "fitted and predicted on 150 rows" in report.summary()
    broken = iris_spec(
        features={"columns": {"sepal length (cm)": {"impute": "none", "scale": "none"}}},
        estimator="LogisticRegression",
        params={"max_iter": 1},
    )
    assert iris.experiments.dry_run(broken).warnings  # a convergence warning is reported


def test_a_dry_run_of_a_large_dataset_fits_200_rows(project):
    project.datasets.import_file("sklearn:breast_cancer")  # 569 rows
    spec = ExperimentSpec.from_json(
        {
            "name": "cancer",
            "dataset": "breast_cancer",
            "target": "target",
            "estimator": "LogisticRegression",
            "params": {"max_iter": 500},
        }
    )
    report = project.experiments.dry_run(spec)
    assert report.rows == 200
    assert "on 200 rows" in report.summary()


def test_a_task_set_by_hand_says_what_the_data_suggest(iris):
    plan = iris.experiments.plan(
        iris_spec(
            target="petal width (cm)",
            task="multiclass",
            estimator="DecisionTreeClassifier",
            params={},
        )
    )
    assert plan.task == "multiclass"
    assert plan.task_reason.startswith("set by hand (the data suggest:")
    assert "regression" in plan.task_reason


def test_a_spec_shown_and_created_elsewhere_compiles_to_the_same_pipeline(iris, tmp_path):
    from mlops_desktop.services.project import Project

    spec = iris_spec(
        search={"strategy": "grid", "space": {"max_depth": [2, 4]}},
        features={"columns": {"petal width (cm)": {"scale": "robust"}}},
    )
    iris.experiments.save(spec)
    exported = iris.experiments.get("iris-rf").to_json()
    with Project.create(tmp_path / "other.mlops") as other:
        other.datasets.import_file("sklearn:iris")
        other.experiments.save(ExperimentSpec.from_json(exported))
        again = other.experiments.get("iris-rf")
        assert str(other.experiments.plan(again).estimator) == str(
            iris.experiments.plan(spec).estimator
        )


def test_task_functions(iris):
    summary = plan_task(str(iris.path), iris_spec().to_json(), None)
    assert summary["task"] == "multiclass"
    assert "RandomForestClassifier(n_estimators=20" in summary["pipeline"]
    assert dry_run_task(str(iris.path), iris_spec().to_json(), None).rows == 150


def test_spec_differences_walk_nested_fields():
    a = {"search": {"space": {"max_depth": [3]}, "cv": 5}, "name": "a"}
    b = {"search": {"space": {"max_depth": [3, 5]}, "cv": 5}, "name": "a", "task": "binary"}
    assert spec_differences(a, b) == [
        ("search.space.max_depth", [3], [3, 5]),
        ("task", None, "binary"),
    ]
