"""Experiment specs: shape checks, task inference, column treatments, compilation, search."""

import warnings

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from sklearn.exceptions import ConvergenceWarning

from mlops_desktop.domain import estimators
from mlops_desktop.domain.errors import UserError
from mlops_desktop.domain.experiment import ExperimentSpec, infer_task, search_size
from mlops_desktop.domain.pipeline import plan
from mlops_desktop.domain.profile import profile_column, profile_table

DESIGN_EXAMPLE = {
    "name": "penguins-rf",
    "dataset": "penguins",
    "target": "species",
    "task": "auto",
    "features": {
        "exclude": ["id"],
        "columns": {"island": {"type": "categorical", "encode": "onehot"}},
    },
    "estimator": "RandomForestClassifier",
    "params": {"n_estimators": 200},
    "search": {
        "strategy": "grid",
        "space": {"max_depth": [3, 5, None]},
        "cv": 5,
        "scoring": "f1_macro",
    },
    "validation": {"holdout": 0.2, "stratify": True, "seed": 42},
    "model_name": "penguins",
}


@pytest.fixture(scope="module")
def penguins():
    rng = np.random.default_rng(0)
    n = 300
    frame = pd.DataFrame(
        {
            "id": np.arange(n),
            "species": rng.choice(["Adelie", "Gentoo", "Chinstrap"], n),
            "island": rng.choice(["Biscoe", "Dream", None], n),
            "bill": rng.normal(44, 5, n),
            "mass": rng.normal(4200, 800, n).round(),
            "seen": pd.date_range("2020-01-01", periods=n, freq="D"),
            # Booleans as pandas has them: bool, and objects once a value is missing.
            "tagged": rng.random(n) < 0.5,
            "ringed": rng.choice(np.array([True, False, None], dtype=object), n),
        }
    )
    return frame, profile_table(pa.Table.from_pandas(frame, preserve_index=False))


def spec(**changes):
    return ExperimentSpec.from_json({**DESIGN_EXAMPLE, **changes})


def test_the_design_example_round_trips():
    parsed = ExperimentSpec.from_json(DESIGN_EXAMPLE)
    again = ExperimentSpec.from_json(parsed.to_json())
    assert again == parsed
    assert parsed.model == "penguins"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": ""}, "name"),
        ({"tsak": "binary"}, "spec.tsak"),
        ({"task": "clustering"}, "task"),
        ({"search": {"strategy": "genetic"}}, "search.strategy"),
        ({"search": {"strategy": "grid", "space": {"max_depth": 3}}}, "search.space.max_depth"),
        (
            {"search": {"strategy": "grid", "space": {"C": {"loguniform": [0, 1]}}}},
            "search.space.C",
        ),
        ({"search": {"cv": 1}}, "search.cv"),
        ({"search": {"stratgy": "grid"}}, "search.stratgy"),
        ({"validation": {"holdout": 1.5}}, "validation.holdout"),
        (
            {"features": {"columns": {"island": {"encode": "magic"}}}},
            "features.columns.island.encode",
        ),
        ({"features": "all"}, "features"),
    ],
)
def test_shape_errors_name_the_field(changes, field):
    with pytest.raises(UserError) as info:
        spec(**changes)
    assert info.value.message.startswith(field)


def test_task_inference_says_why():
    def column(values, name="t"):
        return profile_column(name, pa.chunked_array([values]))

    assert infer_task(column(["a", "b", "a"])) == (
        "binary",
        "2 distinct values → binary classification",
    )
    assert infer_task(column(["a", "b", "c"]))[0] == "multiclass"
    assert infer_task(column(list(range(42))))[1] == "42 distinct integer values → regression"
    assert infer_task(column([1, 2, 3, 1]))[0] == "multiclass"
    assert infer_task(column([0.5, 1.5, 2.25]))[0] == "regression"
    with pytest.raises(UserError, match="has no values"):
        infer_task(column(pa.array([None, None], type=pa.float64())))


def test_the_plan_compiles_a_pipeline_and_a_search(penguins):
    frame, profile = penguins
    result = plan(spec(), profile, frame["species"].value_counts().to_dict())
    assert result.task == "multiclass"
    assert result.columns["id"].role == "ignore"
    assert result.columns["seen"].type == "datetime"
    assert result.columns["tagged"].type == result.columns["ringed"].type == "boolean"
    assert result.size_text() == "3 candidates × 5 folds = 15 fits"
    steps = dict(result.pipeline.steps)
    assert steps["model"].get_params()["n_estimators"] == 200
    assert steps["model"].random_state == 42
    result.estimator.fit(frame.drop(columns="species"), frame["species"])
    assert result.estimator.best_params_["model__max_depth"] in (3, 5, None)


def test_regression_and_a_random_search_with_distributions(penguins):
    frame, profile = penguins
    result = plan(
        spec(
            target="mass",
            estimator="Ridge",
            params={},
            search={
                "strategy": "random",
                "n_iter": 4,
                "cv": 3,
                "space": {"alpha": {"loguniform": [0.001, 10]}},
            },
        ),
        profile,
    )
    assert (result.task, result.candidates, result.folds) == ("regression", 4, 3)
    result.estimator.fit(frame.drop(columns="mass"), frame["mass"])


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"target": "wingspan"}, "target: the dataset has no column 'wingspan'"),
        ({"estimator": "Ridge", "params": {}, "search": {}}, "estimator: Ridge does not do"),
        ({"estimator": "Forest"}, "estimator: Unknown estimator 'Forest'"),
        (
            {"search": {"strategy": "random", "space": {"bogus": {"uniform": [0, 1]}}}},
            "search.space.bogus: RandomForestClassifier has no parameter 'bogus'",
        ),
        (
            {
                "estimator": "LogisticRegression",
                "params": {},
                "search": {"strategy": "random", "space": {"C": {"uniform": [-5, -1]}}},
            },
            "search.space.C: The 'C' parameter",
        ),
        ({"params": {"n_trees": 5}}, "params: RandomForestClassifier has no parameter 'n_trees'"),
        ({"params": {"n_estimators": 0}}, "params: The 'n_estimators' parameter"),
        (
            {"search": {"strategy": "grid", "space": {"max_depth": [3, -1]}}},
            "search.space.max_depth: The 'max_depth' parameter",
        ),
        ({"task": "regression"}, "task: 'species' holds categorical values"),
        (
            {
                "features": {
                    "exclude": ["island", "bill", "mass", "seen", "tagged", "ringed"],
                    "columns": {},
                }
            },
            "features: no column is left",
        ),
        ({"features": {"exclude": ["flipper"]}}, "features.columns.flipper"),
        (
            {
                "search": {
                    "strategy": "grid",
                    "space": {
                        "n_estimators": list(range(1, 120)),
                        "max_depth": list(range(1, 100)),
                    },
                }
            },
            "search: 11,781 candidates",
        ),
        ({"search": {"scoring": "r2"}}, "search.scoring: 'r2' does not measure classification"),
    ],
)
def test_bad_specs_are_refused_with_the_field_named(penguins, changes, message):
    frame, profile = penguins
    with pytest.raises(UserError) as info:
        plan(spec(**changes), profile, frame["species"].value_counts().to_dict())
    assert message in info.value.message


def test_an_open_bound_of_a_range_is_not_refused(penguins):
    """C must be above 0: a uniform range from 0 never draws 0 itself."""
    frame, profile = penguins
    result = plan(
        spec(
            estimator="LogisticRegression",
            params={},
            search={"strategy": "random", "n_iter": 2, "space": {"C": {"uniform": [0, 2]}}},
        ),
        profile,
        frame["species"].value_counts().to_dict(),
    )
    assert result.candidates == 2


@pytest.mark.parametrize(
    ("search", "validation", "kind"),
    [
        # Successive halving over continuous ranges: scikit-learn's random halving.
        (
            {
                "strategy": "halving",
                "n_iter": 6,
                "cv": 3,
                "space": {
                    "max_depth": {"int": [2, 6]},
                    "max_features": {"uniform": [0.3, 0.9]},
                    "criterion": {"choice": ["gini", "entropy"]},
                },
            },
            {},
            "HalvingRandomSearchCV",
        ),
        (
            {"strategy": "halving", "cv": 3, "space": {"max_depth": [2, 4, 8]}},
            {},
            "HalvingGridSearchCV",
        ),
        # Time-ordered folds, and two metrics (the first ranks).
        (
            {
                "strategy": "grid",
                "cv": 3,
                "space": {"max_depth": [2, 4]},
                "scoring": ["f1_macro", "accuracy"],
            },
            {"split": "timeseries"},
            "GridSearchCV",
        ),
    ],
)
def test_every_search_fits(penguins, search, validation, kind):
    frame, profile = penguins
    result = plan(
        spec(params={"n_estimators": 10}, search=search, validation={**validation, "seed": 3}),
        profile,
        frame["species"].value_counts().to_dict(),
    )
    assert type(result.estimator).__name__ == kind
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # halving's small last iteration
        result.estimator.fit(frame.drop(columns="species"), frame["species"])
    assert result.estimator.best_params_
    if validation.get("split") == "timeseries":
        assert type(result.estimator.cv).__name__ == "TimeSeriesSplit"
        assert "mean_test_accuracy" in result.estimator.cv_results_


def test_a_large_search_passes_once_confirmed(penguins):
    frame, profile = penguins
    space = {"n_estimators": list(range(1, 120)), "max_depth": list(range(1, 100))}
    result = plan(
        spec(search={"strategy": "grid", "space": space, "confirm_large": True}),
        profile,
        frame["species"].value_counts().to_dict(),
    )
    assert result.candidates == 11_781


def test_class_checks(penguins):
    frame, profile = penguins
    one = frame.assign(species="Adelie")
    one_profile = profile_table(pa.Table.from_pandas(one, preserve_index=False))
    with pytest.raises(UserError, match="only one class"):
        plan(spec(), one_profile, {"Adelie": len(one)})
    with pytest.raises(UserError, match="class 'Rare' has 4 rows"):
        plan(spec(), profile, {"Adelie": 100, "Gentoo": 96, "Rare": 4})


def test_search_sizes():
    assert search_size(spec(search={"strategy": "none"})) == (1, 5, True)
    assert search_size(
        spec(search={"strategy": "random", "n_iter": 50, "space": {"max_depth": [1, 2]}})
    ) == (2, 5, True)
    assert search_size(
        spec(search={"strategy": "halving", "factor": 3, "space": {"max_depth": list(range(9))}})
    ) == (13, 5, False)


def test_every_catalogue_estimator_describes_its_parameters_from_scikit_learn():
    for name in estimators.CATALOGUE:
        params = estimators.parameters(name)
        assert params, name
        assert not {p.name for p in params} & estimators.MANAGED
    forest = {p.name: p for p in estimators.parameters("RandomForestClassifier")}
    assert forest["n_estimators"].kind == "int"
    assert forest["n_estimators"].low == 1
    assert forest["criterion"].choices == ("entropy", "gini", "log_loss")
    assert forest["bootstrap"].kind == "bool"
    assert forest["n_estimators"].doc == "The number of trees in the forest."


def test_all_estimators_fit_a_mixed_table(penguins):
    frame, profile = penguins
    counts = frame["species"].value_counts().to_dict()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # short default iterations
        for name in estimators.estimators_for("multiclass"):
            result = plan(spec(estimator=name, params={}, search={}), profile, counts)
            result.estimator.fit(frame.drop(columns="species"), frame["species"])
        for name in estimators.estimators_for("regression"):
            result = plan(spec(target="bill", estimator=name, params={}, search={}), profile)
            result.estimator.fit(frame.drop(columns="bill"), frame["bill"])


def test_dimensions_typed_in_the_form():
    from mlops_desktop.domain.experiment import format_dimension, parse_dimension

    assert parse_dimension("3, 5, None") == [3, 5, None]
    assert parse_dimension("loguniform(0.001, 10)") == {"loguniform": [0.001, 10]}
    assert parse_dimension("int(1, 50)") == {"int": [1, 50]}
    assert parse_dimension("(50,), (100, 50)") == [[50], [100, 50]]
    assert parse_dimension("gini, entropy") == ["gini", "entropy"]
    for text in ("3, 5, None", "loguniform(0.001, 10)", "gini, entropy"):
        assert format_dimension(parse_dimension(text)) == text


def test_times_of_day_and_durations_give_their_hour():
    import datetime as dt

    from mlops_desktop.domain.experiment import default_column
    from mlops_desktop.domain.transformers import DatetimeParts

    times = pa.chunked_array([[dt.time(8, 30), None, dt.time(17, 5)]], type=pa.time64("us"))
    profile = profile_column("opens", times)
    assert default_column(profile).datetime_parts == ["hour"]
    stamps = pa.chunked_array([[dt.datetime(2026, 1, 5, 8, 30)]], type=pa.timestamp("us"))
    assert default_column(profile_column("seen", stamps)).datetime_parts == [
        "year",
        "month",
        "weekday",
    ]
    frame = pa.table({"opens": times}).to_pandas()
    frame["open_for"] = pd.to_timedelta(["2h", "30min", None])
    parts = DatetimeParts(parts=("hour",)).fit(frame).transform(frame)
    np.testing.assert_array_equal(parts, [[8, 2], [np.nan, 0], [17, np.nan]])
