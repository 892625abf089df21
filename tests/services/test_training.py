"""Training in the worker's own process: what a job records, reproducibility, failures."""

import json
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from mlops_desktop.domain.experiment import ExperimentSpec
from mlops_desktop.services import modelfiles
from mlops_desktop.services.training import DASK_SETTING
from mlops_desktop.services.worker import Worker


def save(project, **spec):
    base = {
        "dataset": "iris",
        "target": "target",
        "estimator": "RandomForestClassifier",
        "params": {"n_estimators": 10},
    }
    project.experiments.save(ExperimentSpec.from_json({**base, **spec}))
    return project.queue.enqueue(spec["name"])


def run_queue(project):
    Worker(str(project.path)).run()


def train_flowers(path):
    """A project at ``path`` with iris:1, flowers:1 (a forest) and flowers:2 (a one-split
    tree): two versions of one model to browse, compare, promote and delete."""
    from mlops_desktop.services.project import Project

    with Project.create(path) as project:
        project.datasets.import_file("sklearn:iris")
        save(project, name="forest", model_name="flowers")
        save(
            project,
            name="stump",
            model_name="flowers",
            estimator="DecisionTreeClassifier",
            params={"max_depth": 1},
        )
        run_queue(project)
    return path


@pytest.fixture
def iris(project):
    project.datasets.import_file("sklearn:iris")
    return project


def test_a_finished_job_records_everything(iris):
    job = save(
        iris, name="forest", search={"strategy": "grid", "space": {"max_depth": [2, 4]}, "cv": 3}
    )
    run_queue(iris)
    ended = iris.queue.job(job.number)
    assert (ended.status, ended.model_label) == ("done", "forest:1")
    version = iris.file.models.get("forest:1")
    assert version.dataset_label == "iris:1"
    assert version.params["max_depth"] in (2, 4)
    assert set(version.metrics["cv"]) == {"f1_macro"}
    folds = version.metrics["cv"]["f1_macro"]["folds"]
    assert len(folds) == 3
    assert np.mean(folds) == pytest.approx(version.metrics["cv"]["f1_macro"]["mean"])
    assert set(version.metrics["holdout"]) == {
        "accuracy",
        "balanced_accuracy",
        "precision_macro",
        "recall_macro",
        "f1_macro",
        "roc_auc",
        "log_loss",
    }
    assert version.signature["output"]["classes"] == ["setosa", "versicolor", "virginica"]
    assert version.signature["inputs"][0]["name"] == "sepal length (cm)"
    assert version.environment["packages"]["scikit-learn"]
    plots = json.loads(iris.file.blobs.get(version.plots_sha256))
    assert {
        "confusion_matrix",
        "roc",
        "precision_recall",
        "calibration",
        "permutation_importance",
        "search",
    } <= set(plots)
    table = json.loads(iris.file.blobs.get(version.search_sha256))
    assert len(table["mean_test_f1_macro"]) == 2
    model = modelfiles.load_model(iris.file.blobs.get(version.model_sha256))
    assert list(model.predict(iris.datasets.load_frame("iris").drop(columns="target")[:2]))
    assert "Saved forest:1" in ended.log
    assert iris.check().ok


def test_the_same_spec_and_seed_give_the_same_metrics(iris):
    save(iris, name="a", validation={"seed": 7})
    run_queue(iris)
    iris.queue.rerun(1)
    run_queue(iris)
    first, second = iris.file.models.get("a:1"), iris.file.models.get("a:2")
    assert first.metrics == second.metrics


def test_a_regression_job(project):
    project.datasets.import_file("sklearn:diabetes")
    project.experiments.save(
        ExperimentSpec.from_json(
            {"name": "sugar", "dataset": "diabetes", "target": "target", "estimator": "Ridge"}
        )
    )
    project.queue.enqueue("sugar")
    Worker(str(project.path)).run()
    version = project.file.models.get("sugar")
    assert version.task == "regression"
    assert set(version.metrics["holdout"]) == {
        "mean_absolute_error",
        "root_mean_squared_error",
        "r2",
        "mean_absolute_percentage_error",
    }
    plots = json.loads(project.file.blobs.get(version.plots_sha256))
    assert len(plots["predicted_vs_actual"]["actual"]) == version.metrics["rows"]["holdout"]


def test_a_fit_that_raises_fails_its_job_and_the_queue_goes_on(project, tmp_path):
    csv = tmp_path / "gaps.csv"
    rows = ["x,y"] + [f"{'' if i % 5 == 0 else i},{2 * i}" for i in range(60)]
    csv.write_text("\n".join(rows) + "\n")
    project.datasets.import_file(csv)
    no_imputation = {"columns": {"x": {"impute": "none", "scale": "none"}}}
    project.experiments.save(
        ExperimentSpec.from_json(
            {
                "name": "nan",
                "dataset": "gaps",
                "target": "y",
                "estimator": "LinearRegression",
                "features": no_imputation,
            }
        )
    )
    project.experiments.save(
        ExperimentSpec.from_json(
            {"name": "fine", "dataset": "gaps", "target": "y", "estimator": "Ridge"}
        )
    )
    failing, fine = project.queue.enqueue("nan"), project.queue.enqueue("fine")
    Worker(str(project.path)).run()
    failed = project.queue.job(failing.number)
    assert failed.status == "failed"
    assert "NaN" in failed.error
    assert "Traceback" in failed.log
    assert project.queue.job(fine.number).status == "done"
    orphans = project.file.conn.execute(
        "SELECT count(*) FROM model_versions WHERE job_uuid = ?", (failed.uuid,)
    ).fetchone()[0]
    assert orphans == 0
    assert project.check().ok


def test_a_dataset_version_gone_before_the_job_starts(iris):
    with iris.file.transaction():
        iris.file.jobs.enqueue(
            None, "ghost", {"name": "ghost", "dataset": "iris:9", "target": "target"}
        )
    run_queue(iris)
    job = iris.queue.job(1)
    assert job.status == "failed"
    assert job.error.startswith(
        "The job's dataset is gone: The project has no dataset version iris:9"
    )


def test_a_cancel_request_stops_between_folds(iris, monkeypatch):
    job = save(
        iris,
        name="slow",
        search={"strategy": "grid", "cv": 5, "space": {"max_depth": list(range(1, 40))}},
    )
    from mlops_desktop.services import training

    original = training._CountingScorer.__call__

    def cancel_after_three(self, estimator, X, y, **kwargs):
        if self.done == 3:
            self.state.cancelled = True
        return original(self, estimator, X, y, **kwargs)

    monkeypatch.setattr(training._CountingScorer, "__call__", cancel_after_three)
    run_queue(iris)
    ended = iris.queue.job(job.number)
    assert ended.status == "cancelled"
    assert iris.info().counts["model_versions"] == 0


def test_models_are_loaded_only_with_trusted_types():
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression

    good = modelfiles.dump_model(LogisticRegression())
    assert isinstance(modelfiles.load_model(good), LogisticRegression)
    hostile = sio.dumps(warnings.WarningMessage("x", UserWarning, "f", 1))
    with pytest.raises(Exception, match="not trusted"):
        modelfiles.load_model(hostile)
    with pytest.raises(Exception, match="damaged"):
        modelfiles.load_model(b"not a model")


def test_a_process_can_forbid_loading_models(monkeypatch):
    monkeypatch.setattr(modelfiles, "_forbidden", None)
    modelfiles.forbid_in_this_process("the GUI never loads models")
    with pytest.raises(RuntimeError, match="GUI never loads models"):
        modelfiles.load_model(b"")


@pytest.mark.slow
def test_a_dask_cluster_gives_the_same_results_as_a_local_run(iris):
    from distributed import LocalCluster

    search = {"strategy": "grid", "space": {"max_depth": [2, 3]}, "cv": 3}
    save(iris, name="local", search=search, model_name="m")
    run_queue(iris)
    with LocalCluster(
        n_workers=1, threads_per_worker=2, host="127.0.0.1", dashboard_address=None
    ) as cluster:
        with iris.file.transaction():
            iris.file.settings.set(DASK_SETTING, cluster.scheduler_address)
        iris.queue.rerun(1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            run_queue(iris)
    job = iris.queue.job(2)
    assert job.status == "done", job.error
    local, remote = iris.file.models.get("m:1"), iris.file.models.get("m:2")
    assert local.metrics == remote.metrics


def test_an_unreachable_scheduler_is_a_clear_job_error(iris):
    with iris.file.transaction():
        iris.file.settings.set(DASK_SETTING, "tcp://127.0.0.1:9")
    save(iris, name="remote")
    run_queue(iris)
    job = iris.queue.job(1)
    assert job.status == "failed"
    assert job.error.startswith("Could not reach the Dask scheduler at tcp://127.0.0.1:9")


def test_metrics_match_numpy_for_a_trivial_regression():
    from mlops_desktop.domain.metrics import regression_metrics

    result = regression_metrics(np.array([1.0, 2.0, 4.0]), np.array([1.0, 3.0, 4.0]))
    assert result["mean_absolute_error"] == pytest.approx(1 / 3)
    assert result["root_mean_squared_error"] == pytest.approx(np.sqrt(1 / 3))


def test_a_project_that_becomes_read_only_stops_the_worker_with_the_reason(iris, monkeypatch):
    from mlops_desktop.domain.errors import ReadOnlyProjectError
    from mlops_desktop.store.project_file import ProjectFile

    save(iris, name="forest")
    original = ProjectFile.transaction
    calls = {"n": 0}

    def read_only_after_claim(self):
        calls["n"] += 1
        if calls["n"] > 1:  # the reap at start works; then the file turns read-only
            raise ReadOnlyProjectError(
                f"{self.path.name} cannot be written (it became read-only), so nothing was "
                "saved: check the file's permissions, or save a copy elsewhere."
            )
        return original(self)

    monkeypatch.setattr(ProjectFile, "transaction", read_only_after_claim)
    with pytest.raises(ReadOnlyProjectError, match="became read-only"):
        run_queue(iris)
    monkeypatch.setattr(ProjectFile, "transaction", original)
    assert iris.info().counts["model_versions"] == 0
    assert iris.check().ok


def fitted(project, seed=42):
    """The iris forest's pipeline fitted as training fits it, and its hold-out rows."""
    from mlops_desktop.domain.pipeline import split_holdout

    spec = ExperimentSpec.from_json(
        {
            "name": "forest",
            "dataset": "iris",
            "target": "target",
            "estimator": "RandomForestClassifier",
            "params": {"n_estimators": 10},
            "validation": {"seed": seed},
        }
    )
    plan = project.experiments.plan(spec)
    split = split_holdout(project.datasets.load_frame("iris"), spec, plan.task)
    return plan.pipeline.fit(split.X_train, split.y_train), split.X_test, split.y_test


def test_measuring_scores_what_the_pipeline_predicts(iris):
    from mlops_desktop.domain import metrics

    model, X, y = fitted(iris)
    measured = metrics.measure(model, X, y, "multiclass", seed=42)
    classes = list(model[-1].classes_)
    expected = metrics.classification_metrics(y, model.predict(X), model.predict_proba(X), classes)
    assert measured.metrics == expected
    assert measured.plots == metrics.classification_plots(
        y, model.predict(X), model.predict_proba(X), classes, 42
    )
    assert np.array_equal(measured.prepared, model[:-1].transform(X))


@pytest.mark.parametrize("cells", [1_000_000, 1])  # all columns in one prediction, or one each
def test_permutation_importance_is_scikit_learns_for_the_same_seed(iris, monkeypatch, cells):
    from sklearn.inspection import permutation_importance

    from mlops_desktop.domain import metrics
    from mlops_desktop.services import training

    monkeypatch.setattr(training, "IMPORTANCE_CELLS", cells)
    model, X, y = fitted(iris, seed=7)
    prepared = metrics.measure(model, X, y, "multiclass", seed=7).prepared
    ours = training._importance(model, prepared, y, 7, 1000.0, training.JobState())
    assert ours["repeats"] == training.IMPORTANCE_REPEATS  # a generous budget
    theirs = permutation_importance(
        model[-1],
        prepared,
        np.asarray(y),
        scoring=training._score,
        n_repeats=ours["repeats"],
        random_state=7,
    )
    order = np.argsort(-theirs.importances_mean)
    names = list(model[:-1].get_feature_names_out())
    assert ours["features"] == [names[i] for i in order]
    assert ours["mean"] == [float(v) for v in theirs.importances_mean[order]]
    assert ours["std"] == [float(v) for v in theirs.importances_std[order]]


def test_consecutive_jobs_on_one_dataset_version_read_it_once(iris, monkeypatch):
    from mlops_desktop.services import training
    from mlops_desktop.services.datasets import Datasets

    reads = []
    original = Datasets.load_frame

    def counted(self, ref):
        reads.append(ref)
        return original(self, ref)

    monkeypatch.setattr(Datasets, "load_frame", counted)
    monkeypatch.setattr(training, "_frames", {})
    save(iris, name="a", validation={"seed": 3})
    save(iris, name="b", validation={"seed": 3})
    run_queue(iris)
    assert len(reads) == 1
    a, b = iris.file.models.get("a:1"), iris.file.models.get("b:1")
    assert a.metrics == b.metrics  # the second job trained on the same rows


def test_a_worker_process_freezes_its_imports_before_its_first_job_and_at_its_end(
    iris, monkeypatch
):
    import gc
    import sys

    from mlops_desktop.services import worker

    events = []
    monkeypatch.setenv(worker.PROCESS_VARIABLE, "1")
    monkeypatch.setattr(gc, "freeze", lambda: events.append("freeze"))
    original = worker.Worker.run_job
    monkeypatch.setattr(
        worker.Worker, "run_job", lambda self, p, j: events.append("job") or original(self, p, j)
    )
    save(iris, name="a")
    save(iris, name="b")
    run_queue(iris)
    assert events == ["freeze", "job", "job", "freeze"]
    assert all(name in sys.modules for name in worker.TRAINING_MODULES)
    assert [iris.queue.job(n).status for n in (1, 2)] == ["done", "done"]


def test_a_job_reaped_from_its_worker_makes_one_model_version(iris):
    """The first worker finishes after the job was handed to a second one: its result is
    dropped whole, and the second worker's is the job's only version."""
    from mlops_desktop.domain.errors import UserError
    from mlops_desktop.services.training import JobState, train

    job = save(iris, name="forest")
    jobs = iris.file.jobs
    first = jobs.claim("w:1")
    with iris.file.transaction():
        jobs.requeue(job.uuid, "The worker stopped answering.")
    second = jobs.claim("w:2")
    with pytest.raises(UserError, match="taken from this worker"):
        train(iris, first, JobState())
    assert iris.models.list() == []
    train(iris, second, JobState())
    [version] = iris.models.list()
    assert iris.queue.job(job.number).model_version_uuid == version.uuid
