"""The experiment commands."""

import json

import pytest

from tests.helpers import file_digest
from tests.test_cli import assert_user_error, run

SPEC = {
    "name": "iris-rf",
    "dataset": "iris",
    "target": "target",
    "estimator": "RandomForestClassifier",
    "params": {"n_estimators": 30},
    "search": {"strategy": "grid", "space": {"max_depth": [2, 4, None]}, "cv": 3},
}


@pytest.fixture
def project_with_iris(tmp_path):
    path = tmp_path / "p.mlops"
    run("init", path, check_exit=0)
    run("data", "import", path, "sklearn:iris", check_exit=0)
    return path


def test_create_list_show_and_round_trip(project_with_iris, tmp_path):
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps(SPEC))
    created = json.loads(
        run("experiment", "create", project_with_iris, spec, "--json", check_exit=0).stdout
    )
    assert (created["task"], created["candidates"], created["folds"]) == ("multiclass", 3, 3)
    listed = json.loads(run("experiment", "list", project_with_iris, "--json", check_exit=0).stdout)
    assert [e["name"] for e in listed["experiments"]] == ["iris-rf"]
    shown = run("experiment", "show", project_with_iris, "iris-rf", check_exit=0).stdout
    again = tmp_path / "again.json"
    again.write_text(shown)
    replaced = json.loads(
        run(
            "experiment", "create", project_with_iris, again, "--replace", "--json", check_exit=0
        ).stdout
    )
    assert replaced["pipeline"] == created["pipeline"]


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ({**SPEC, "estimator": "Forest"}, "Unknown estimator 'Forest'"),
        ({**SPEC, "params": {"n_estimators": -3}}, "params: The 'n_estimators' parameter"),
        ({**SPEC, "dataset": "iris:4"}, "dataset: The project has no dataset version iris:4"),
        (
            {
                **SPEC,
                "search": {"strategy": "grid", "space": {"max_depth": list(range(1, 10_002))}},
            },
            "search: 10,001 candidates",
        ),
        (
            {
                **SPEC,
                "features": {
                    "exclude": [
                        "sepal length (cm)",
                        "sepal width (cm)",
                        "petal length (cm)",
                        "petal width (cm)",
                    ]
                },
            },
            "features: no column is left",
        ),
        ("not json", "not valid JSON"),
        ({"name": "x"}, "dataset: is required"),
    ],
)
def test_bad_specs_exit_1_naming_the_field(project_with_iris, tmp_path, spec, fragment):
    path = tmp_path / "spec.json"
    path.write_text(spec if isinstance(spec, str) else json.dumps(spec))
    before = file_digest(project_with_iris)
    result = run("experiment", "create", project_with_iris, path)
    assert_user_error(result, fragment)
    assert file_digest(project_with_iris) == before


def test_a_large_search_needs_yes(project_with_iris, tmp_path):
    path = tmp_path / "spec.json"
    big = {**SPEC, "search": {"strategy": "grid", "space": {"max_depth": list(range(1, 10_002))}}}
    path.write_text(json.dumps(big))
    assert run("experiment", "create", project_with_iris, path, "--yes").returncode == 0
