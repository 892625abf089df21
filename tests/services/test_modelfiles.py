"""Model files load with a fixed list of trusted types, and their compiled parts are checked."""

import io
import re
import warnings
import zipfile

import numpy as np
import pandas as pd
import pytest
import skops.io as sio

from mlops_desktop.domain import estimators
from mlops_desktop.domain.errors import UserError
from mlops_desktop.domain.experiment import ColumnSpec, ExperimentSpec
from mlops_desktop.domain.pipeline import build_pipeline
from mlops_desktop.services import modelfiles
from mlops_desktop.services.modelfiles import dump_model, load_model

ROWS = 160
#: A few trees or iterations: enough to hold every part of the fitted model, quick to fit.
SMALL = {
    "n_estimators": 4,
    "max_iter": 8,
}


def _frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "standard": rng.normal(size=ROWS),
            "minmax": rng.normal(size=ROWS),
            "robust": rng.normal(size=ROWS),
            "onehot": rng.choice(["a", "b", "c", None], ROWS),
            "ordinal": rng.choice(["p", "q", "r"], ROWS),
            "target": rng.choice(["u", "v", "w"], ROWS),
            "when": pd.Timestamp("2024-01-01")
            + pd.to_timedelta(rng.integers(0, 400, ROWS), unit="D"),
            "text": rng.choice(["red apple", "green pear", "blue sky", None], ROWS),
            "flag": rng.choice([True, False], ROWS),
        }
    )
    frame.loc[3, "standard"] = np.nan
    return frame


#: Every treatment a column can get, so one pipeline holds every transformer the app uses.
TREATMENTS = {
    "standard": ColumnSpec(type="numeric", impute="median", scale="standard"),
    "minmax": ColumnSpec(type="numeric", impute="mean", scale="minmax"),
    "robust": ColumnSpec(type="numeric", impute="constant", impute_value=0, scale="robust"),
    "onehot": ColumnSpec(
        type="categorical", impute="constant", impute_value="missing", encode="onehot"
    ),
    "ordinal": ColumnSpec(type="categorical", impute="most_frequent", encode="ordinal"),
    "target": ColumnSpec(type="categorical", impute="none", encode="target"),
    "when": ColumnSpec(
        type="datetime", impute="most_frequent", datetime_parts=["year", "month", "hour"]
    ),
    "text": ColumnSpec(type="text", impute="none", max_features=20),
    "flag": ColumnSpec(type="boolean", impute="most_frequent", scale="none"),
}


def _fitted(estimator: str, params: dict | None = None, columns=None):
    family = estimators.CATALOGUE[estimator][1]
    accepted = {p.name for p in estimators.parameters(estimator)}
    chosen = {k: v for k, v in SMALL.items() if k in accepted} | (params or {})
    spec = ExperimentSpec.from_json(
        {"name": "e", "dataset": "d", "target": "y", "estimator": estimator, "params": chosen}
    )
    frame = _frame()
    rng = np.random.default_rng(1)
    y = rng.choice(["x", "y", "z"], ROWS) if family == "classification" else rng.normal(size=ROWS)
    pipeline = build_pipeline(spec, columns or TREATMENTS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence and the like: not what is tested
        pipeline.fit(frame, y)
    return pipeline, frame


def _round_trip(pipeline, frame):
    data = dump_model(pipeline)
    assert modelfiles.untrusted_types(data) == []
    loaded = load_model(data)
    assert np.array_equal(np.asarray(loaded.predict(frame)), np.asarray(pipeline.predict(frame)))
    return loaded


#: Mostly empty columns: the column transformer hands the estimator a sparse matrix.
SPARSE = {name: TREATMENTS[name] for name in ("onehot", "text")}


@pytest.mark.parametrize("columns", [TREATMENTS, SPARSE], ids=["every treatment", "sparse"])
@pytest.mark.parametrize("estimator", sorted(estimators.CATALOGUE))
def test_every_estimator_with_every_treatment_needs_only_the_listed_types(estimator, columns):
    # An estimator or transformer added to the app that needs a type skops does not trust
    # fails here until the type is listed (and, if it is compiled, checked on load).
    _round_trip(*_fitted(estimator, columns=columns))


@pytest.mark.parametrize(
    ("estimator", "params"),
    [
        ("KNeighborsClassifier", {"algorithm": "kd_tree"}),
        ("KNeighborsRegressor", {"algorithm": "ball_tree", "metric": "manhattan"}),
        ("KNeighborsClassifier", {"algorithm": "ball_tree", "metric": "chebyshev"}),
        ("KNeighborsClassifier", {"algorithm": "kd_tree", "metric": "minkowski", "p": 3}),
        ("MLPClassifier", {"solver": "sgd", "max_iter": 5}),
        ("MLPRegressor", {"solver": "lbfgs", "max_iter": 5}),
        ("DecisionTreeClassifier", {"max_leaf_nodes": 6}),
        ("DecisionTreeRegressor", {"ccp_alpha": 0.05}),
        ("SVC", {"kernel": "linear"}),
    ],
)
def test_variants_that_store_other_parts_load_too(estimator, params):
    # Dense input: the tree-based neighbour searches only run there.
    numeric = {k: v for k, v in TREATMENTS.items() if v.type == "numeric"}
    _round_trip(*_fitted(estimator, params, numeric))


def test_the_listed_distance_metrics_are_those_a_neighbour_search_tree_takes():
    from sklearn.metrics._dist_metrics import METRIC_MAPPING64
    from sklearn.neighbors import BallTree, KDTree

    metrics = set(KDTree.valid_metrics) | set(BallTree.valid_metrics)
    expected = {
        f"{cls.__module__}.{cls.__name__}"
        for name, cls in METRIC_MAPPING64.items()
        if name in metrics and name != "pyfunc"  # a Python function: never trusted
    }
    listed = {t for t in modelfiles.TRUSTED_TYPES if t.startswith("sklearn.metrics.")}
    assert listed == expected


def _renamed(data: bytes, old: str, new: str) -> bytes:
    """A skops file with one text in its schema replaced: how a hostile file is made."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for member in source.infolist():
            content = source.read(member)
            if member.filename == "schema.json":
                content = content.replace(old.encode(), new.encode())
            target.writestr(member, content)
    return out.getvalue()


def _calling(function) -> bytes:
    from sklearn.preprocessing import FunctionTransformer

    return sio.dumps(FunctionTransformer(func=function))


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("posix.system", lambda: _calling(__import__("os").system)),
        ("builtins.eval", lambda: _calling(eval)),
        ("numpy.load", lambda: _calling(np.load)),
        ("os.system", lambda: _renamed(_calling(__import__("os").system), '"posix"', '"os"')),
    ],
)
def test_a_file_naming_a_dangerous_function_is_refused_by_name(name, data):
    with pytest.raises(UserError, match=re.escape(name)) as refused:
        load_model(data())
    assert "not trusted" in refused.value.message
    assert refused.value.message.endswith(".")


def _forest():
    return _fitted(
        "RandomForestClassifier", {"n_estimators": 5}, {"standard": TREATMENTS["standard"]}
    )


def _altered(pipeline, field: str, value, tree: int = 2, node: int = 0) -> bytes:
    """The pipeline's skops file after one node of one tree of its forest was changed."""
    state = pipeline[-1].estimators_[tree].tree_.__getstate__()
    state["nodes"] = state["nodes"].copy()
    state["nodes"][field][node] = value
    pipeline[-1].estimators_[tree].tree_.__setstate__(state)
    return dump_model(pipeline)


@pytest.mark.parametrize(
    ("field", "value", "node", "problem"),
    [
        ("left_child", 10**6, 0, "child is outside the tree"),
        ("right_child", 0, 0, "child is outside the tree"),  # back to the root: a loop
        ("feature", 999, 0, "on feature 999, but reads only 1 features"),
        ("feature", -5, 0, "on feature -5"),
        ("left_child", -1, 0, "only one child"),
    ],
)
def test_a_forest_with_a_tampered_tree_is_refused_naming_the_tree(field, value, node, problem):
    pipeline, _ = _forest()
    with pytest.raises(UserError, match=re.escape(problem)) as refused:
        load_model(_altered(pipeline, field, value, node=node))
    assert "tree 3 of step 'model' (RandomForestClassifier)" in refused.value.message


def test_a_tree_claiming_another_depth_is_refused():
    pipeline, _ = _forest()
    tree = pipeline[-1].estimators_[0].tree_
    tree.__setstate__({**tree.__getstate__(), "max_depth": 1})
    with pytest.raises(UserError, match="says its tree has depth 1"):
        load_model(dump_model(pipeline))


def test_a_tree_counting_more_nodes_than_it_holds_is_refused_before_they_are_read():
    from mlops_desktop.services.modelchecks import check_loaded

    pipeline, _ = _forest()
    tree = pipeline[-1].estimators_[0].tree_
    state = tree.__getstate__()
    # As a file can say: the node array sized by the nodes it holds, the count by its word.
    # (Saved from here, the count would decide how many nodes are written.)
    state["nodes"], state["values"] = state["nodes"][:-2], state["values"][:-2]
    tree.__setstate__(state)
    with pytest.raises(UserError, match=r"has \d+ nodes but holds"):
        check_loaded(pipeline)


def test_histogram_boosting_with_a_tampered_tree_is_refused():
    pipeline, _ = _fitted("HistGradientBoostingClassifier", {"max_iter": 4})
    pipeline[-1]._predictors[1][2].nodes["feature_idx"][0] = 999
    with pytest.raises(UserError, match=r"tree 6 of step 'model' .*feature 999"):
        load_model(dump_model(pipeline))


def test_boosting_with_too_few_trees_a_stage_is_refused():
    pipeline, _ = _fitted("GradientBoostingClassifier")
    pipeline[-1].estimators_ = pipeline[-1].estimators_[:, :2]
    with pytest.raises(UserError, match="2 trees a stage for 3 outputs"):
        load_model(dump_model(pipeline))


def test_a_tree_where_none_belongs_is_refused():
    pipeline, _ = _forest()
    pipeline[0].stray_ = pipeline[-1].estimators_[0].tree_  # a crafted file could
    pipeline[-1].estimators_ = pipeline[-1].estimators_[1:]
    with pytest.raises(UserError, match="is a Tree where none belongs"):
        load_model(dump_model(pipeline))


def test_a_neighbour_search_tree_is_rebuilt_not_trusted():
    pipeline, frame = _fitted(
        "KNeighborsClassifier", {"algorithm": "kd_tree"}, {"standard": TREATMENTS["standard"]}
    )
    search = pipeline[-1]._tree
    state = list(search.__getstate__())
    state[1] = np.full_like(state[1], 10**6)  # the index of every training point
    search.__setstate__(tuple(state))
    loaded = load_model(dump_model(pipeline))
    assert loaded[-1]._tree.__getstate__()[1].max() < ROWS
    assert len(loaded.predict(frame)) == ROWS


def test_support_vectors_that_do_not_match_their_counts_are_refused():
    pipeline, _ = _fitted("SVC", columns={"standard": TREATMENTS["standard"]})
    pipeline[-1]._n_support = pipeline[-1]._n_support * 3
    with pytest.raises(UserError, match=r"step 'model' \(SVC\) has support vectors"):
        load_model(dump_model(pipeline))


def test_a_sparse_matrix_with_indices_out_of_range_is_refused():
    pipeline, _ = _fitted("SVC", columns=SPARSE)
    vectors = pipeline[-1].support_vectors_
    assert vectors.format == "csr"
    vectors.indices[0] = 10**6
    with pytest.raises(UserError, match="damaged sparse matrix"):
        load_model(dump_model(pipeline))


def test_a_model_file_that_unpacks_to_far_more_than_its_size_is_refused(monkeypatch):
    monkeypatch.setattr(modelfiles, "MIN_UNPACK_LIMIT", 1 << 20)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as bomb:
        bomb.writestr("schema.json", b"{}")
        bomb.writestr("0.npy", bytes(8 << 20))
    with pytest.raises(UserError, match="unpacks to 8,388,610 bytes"):
        load_model(out.getvalue())


@pytest.mark.parametrize(
    "data",
    [b"", b"PK\x03\x04 not really", sio.dumps([1, 2])[:-30]],
    ids=["empty", "bad zip", "cut short"],
)
def test_a_damaged_model_file_is_refused_as_damaged(data):
    with pytest.raises(UserError, match="The model file is damaged"):
        load_model(data)
