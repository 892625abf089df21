"""Every term a student meets in the panels has a plain-language meaning."""

import itertools

import pytest

from mlops_desktop.domain import estimators, glossary
from mlops_desktop.domain.experiment import (
    COLUMN_TYPES,
    ENCODINGS,
    IMPUTATIONS,
    SCALINGS,
    ColumnSpec,
    ExperimentSpec,
)
from mlops_desktop.domain.metric_names import CLASSIFICATION_METRICS, REGRESSION_METRICS
from mlops_desktop.domain.pipeline import build_pipeline, outline


@pytest.mark.parametrize("name", CLASSIFICATION_METRICS + REGRESSION_METRICS)
def test_every_recorded_metric_is_explained(name):
    assert glossary.metric(name)


@pytest.mark.parametrize(
    ("spelling", "name"),
    [
        ("neg_mean_absolute_error", "mean_absolute_error"),
        ("mean_test_r2", "r2"),
        ("mean_test_neg_root_mean_squared_error", "root_mean_squared_error"),
        ("cv_accuracy", "accuracy"),
        ("CV neg_root_mean_squared_error", "root_mean_squared_error"),
        ("hold-out r2", "r2"),
    ],
)
def test_scikit_learns_spellings_find_the_same_meaning(spelling, name):
    assert glossary.metric(spelling) == glossary.metric(name)


def test_an_unknown_term_has_no_meaning_rather_than_a_wrong_one():
    assert glossary.metric("tenure") is None
    assert glossary.step("MyTransformer") is None


@pytest.mark.parametrize("name", list(estimators.CATALOGUE))
def test_every_estimator_of_the_catalogue_is_explained(name):
    assert glossary.step(name)


def test_every_step_the_compiler_can_make_is_explained():
    """Each type x imputation x scaling x encoding, compiled: no step without a meaning."""
    columns = {
        f"c{i}": ColumnSpec(type=kind, impute=impute, impute_value=0, scale=scale, encode=encode)
        for i, (kind, impute, scale, encode) in enumerate(
            itertools.product(COLUMN_TYPES, IMPUTATIONS, SCALINGS, ENCODINGS)
        )
    }
    spec = ExperimentSpec(name="e", dataset="d:1", target="y", estimator="Ridge")
    steps = outline(build_pipeline(spec, columns))
    kinds = {step.kind for step in steps}
    assert {"Pipeline", "ColumnTransformer", "TfidfVectorizer", "TargetEncoder"} <= kinds
    assert [kind for kind in kinds if not glossary.step(kind)] == []


def test_the_outline_nests_steps_under_their_parent_with_their_columns():
    columns = {"age": ColumnSpec(), "town": ColumnSpec(type="categorical", impute="none")}
    spec = ExperimentSpec(name="e", dataset="d:1", target="y", estimator="Ridge")
    steps = outline(build_pipeline(spec, columns))
    shown = [(s.depth, s.kind, s.columns) for s in steps]
    assert shown == [
        (0, "Pipeline", ()),
        (1, "ColumnTransformer", ()),
        (2, "Pipeline", ("age",)),
        (3, "SimpleImputer", ()),
        (3, "StandardScaler", ()),
        (2, "OneHotEncoder", ("town",)),
        (1, "Ridge", ()),
    ]
    assert steps[3].text == "SimpleImputer(strategy='median')"
    assert [type(s).from_json(s.to_json()) for s in steps] == steps
