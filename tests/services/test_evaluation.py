"""Evaluating a version on other data, through the recipe that prepared its training data."""

import pytest
from sklearn.datasets import load_iris

from mlops_desktop.domain.errors import UserError
from mlops_desktop.domain.recipe import ChangeType, RenameColumns
from mlops_desktop.domain.tasks import quiet_state
from mlops_desktop.services.evaluation import evaluate, prepared_data

SPECIES = dict(enumerate(["setosa", "versicolor", "virginica"]))


def raw_csv(path, seed, rows=120):
    """Iris as an export with a terse column name the recipe renames."""
    frame = load_iris(as_frame=True).frame.sample(n=rows, random_state=seed)
    frame["target"] = frame["target"].map(SPECIES)
    frame.rename(columns={"sepal length (cm)": "sl"}).to_csv(path, index=False)
    return str(path)


def test_new_raw_data_goes_through_the_version_s_own_recipe(cleaned, tmp_path):
    cleaned.datasets.import_file(raw_csv(tmp_path / "april.csv", 1, 100), "iris")
    evaluation = evaluate(cleaned, "flowers:1", "iris:3", quiet_state())
    assert evaluation.dataset_label == "iris:3"
    assert evaluation.rows == 100
    assert [s["step"] for s in evaluation.recipe] == ["rename_columns"]
    assert 0.8 < evaluation.metrics["accuracy"] <= 1.0
    version = cleaned.models.get("flowers:1")
    assert cleaned.models.evaluations(version) == [evaluation]
    plots = cleaned.models.evaluation_plots(evaluation)
    assert len(plots["confusion_matrix"]["labels"]) == 3
    assert cleaned.history()[0].action == "model.evaluated"


def test_cleaned_data_is_used_as_it_is(cleaned):
    evaluation = evaluate(cleaned, "flowers:1", "iris:2", quiet_state())
    assert evaluation.recipe == []
    assert evaluation.rows == 120


def test_raw_data_without_the_recipe_lacks_the_columns_and_says_so(cleaned, tmp_path):
    cleaned.datasets.import_file(raw_csv(tmp_path / "april.csv", 1), "iris")
    with pytest.raises(UserError, match="lacks 'sepal length \\(cm\\)'"):
        evaluate(cleaned, "flowers:1", "iris:3", quiet_state(), recipe="none")
    assert cleaned.models.evaluations(cleaned.models.get("flowers:1")) == []


def test_data_without_the_target_cannot_be_scored(cleaned, tmp_path):
    frame = load_iris(as_frame=True).frame.drop(columns=["target"])
    frame.to_csv(tmp_path / "unlabelled.csv", index=False)
    cleaned.datasets.import_file(str(tmp_path / "unlabelled.csv"), "new")
    with pytest.raises(UserError, match=r"does not fit the recipe .* choice 'none'"):
        evaluate(cleaned, "flowers:1", "new", quiet_state())
    with pytest.raises(UserError, match="no column 'target'"):
        evaluate(cleaned, "flowers:1", "new", quiet_state(), recipe="none")


def test_a_bad_recipe_choice_is_refused(cleaned):
    with pytest.raises(UserError, match="not a recipe choice"):
        evaluate(cleaned, "flowers:1", "iris:1", quiet_state(), recipe="mine")


def test_labels_the_model_never_saw_are_scored_without_a_log_loss(cleaned, tmp_path):
    path = tmp_path / "odd.csv"
    raw_csv(path, 2, 60)
    text = path.read_text().replace("setosa", "hybrid", 3)
    path.write_text(text)
    cleaned.datasets.import_file(str(path), "iris")
    evaluation = evaluate(cleaned, "flowers:1", "iris:3", quiet_state())
    assert evaluation.metrics["log_loss"] is None
    assert evaluation.metrics["accuracy"] < 1.0


def test_new_data_is_prepared_exactly_as_the_saved_cleaning_was(project, tmp_path):
    """Integer codes with gaps stay integers through the recipe, as they did when its
    cleaning was saved: read as floats, a code past 2**53 turned into other text."""
    from tests.services.test_training import run_queue, save

    def batch(name, seed):
        path = tmp_path / name
        raw_csv(path, seed)
        lines = path.read_text().splitlines()
        codes = ["lot", *(str(2**53 + 1 + i % 3) if i % 5 else "" for i in range(len(lines) - 1))]
        path.write_text(
            "\n".join(f"{line},{code}" for line, code in zip(lines, codes, strict=True)) + "\n"
        )
        return project.datasets.import_file(path, "iris")

    recipe = [RenameColumns({"sl": "sepal length (cm)"}), ChangeType("lot", "text")]
    trained, _ = project.datasets.clean(batch("march.csv", 0), recipe)
    save(project, name="forest", dataset=trained.label, model_name="flowers")
    run_queue(project)
    new = batch("april.csv", 1)
    version = project.models.get("flowers:1")
    frame, steps, _ = prepared_data(project, version, new, "auto", quiet_state())
    assert len(steps) == 2
    assert set(frame["lot"].dropna()) == {str(2**53 + 1), str(2**53 + 2), str(2**53 + 3)}
    stored = project.datasets.load_frame(trained)
    assert frame["lot"].dtype == stored["lot"].dtype
