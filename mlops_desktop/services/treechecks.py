"""The node arrays of scikit-learn's compiled trees, checked before anything walks them.

Prediction walks a tree from its root, following child indices and reading the input's
column at each node's feature index, in compiled code without bounds checks. Every builder
of scikit-learn (depth-first, best-first, pruned, histogram boosting) numbers a node's
children after the node itself, so children in range and after their parent, one parent per
node, and features in range mean every walk stays inside the arrays and ends.
"""

from __future__ import annotations

import numbers

import numpy as np

_LEAF = -1  # scikit-learn's TREE_LEAF


class Refused(Exception):  # noqa: N818 - a finding, not an error of ours
    """What a check found wrong, phrased to follow the part's name ("has ..."); ``part``
    names a piece of the checked object, such as "tree 3", when the problem is there."""

    def __init__(self, problem: str, part: str | None = None):
        super().__init__(problem)
        self.problem, self.part = problem, part


def whole(value) -> int | None:
    """``value`` as a whole number, or None (a crafted file's attribute can be anything)."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    return None


def _features_of(model) -> int:
    features = whole(getattr(model, "n_features_in_", None))
    if features is None or features < 0:
        raise Refused("does not say how many features it reads")
    return features


def _links_problem(left: np.ndarray, right: np.ndarray, internal: np.ndarray) -> str | None:
    count = len(left)
    index = np.arange(count)
    outside = internal & ((left <= index) | (left >= count) | (right <= index) | (right >= count))
    if outside.any():
        return f"has a node whose child is outside the tree (node {int(np.argmax(outside))})"
    children = np.concatenate([left[internal], right[internal]])
    if len(children) != count - 1 or len(np.unique(children)) != len(children):
        return "has nodes that do not form one tree"
    return None


def _depth(left: np.ndarray, right: np.ndarray, internal: np.ndarray) -> int:
    """Levels below the root, one array step a level (the links are checked already)."""
    depth, level = 0, np.array([0])
    while True:
        inner = level[internal[level]]
        level = np.concatenate([left[inner], right[inner]])
        if not len(level):
            return depth
        depth += 1


def _features_problem(feature: np.ndarray, internal: np.ndarray, features: int) -> str | None:
    wrong = internal & ((feature < 0) | (feature >= features))
    if wrong.any():
        node = int(np.argmax(wrong))
        return (
            f"splits node {node} on feature {int(feature[node])}, but reads only "
            f"{features:,} features"
        )
    return None


def check_tree(tree, expected_features: list[int]) -> None:
    """Check a ``sklearn.tree._tree.Tree``; ``expected_features`` are the feature counts of
    the estimators that hand it their input (its own, and an ensemble's)."""
    # Loading sizes the node array by the nodes the file holds, and reading the nodes back
    # (``__getstate__``) by the count the file gives: a count past the array reads beyond it.
    count = tree.node_count
    if count != tree.capacity or count < 1:
        raise Refused(f"says its tree has {count:,} nodes but holds {tree.capacity:,}")
    state = tree.__getstate__()
    nodes, values = state["nodes"], state["values"]
    for features in expected_features:
        if tree.n_features != features:
            raise Refused(f"has a tree of {tree.n_features:,} features where it reads {features:,}")
    left = nodes["left_child"].astype(np.int64)
    right = nodes["right_child"].astype(np.int64)
    internal = left != _LEAF
    if (right[~internal] != _LEAF).any():
        raise Refused("has a tree node with only one child")
    problem = _links_problem(left, right, internal) or _features_problem(
        nodes["feature"].astype(np.int64), internal, tree.n_features
    )
    if problem:
        raise Refused(problem)
    if values.shape != (count, tree.n_outputs, tree.max_n_classes):
        raise Refused("has tree values that do not match its nodes")
    depth = _depth(left, right, internal)
    if depth != state["max_depth"]:
        raise Refused(f"says its tree has depth {state['max_depth']:,}, but it has {depth:,}")


def check_decision_tree(model, path: list) -> list:
    """A decision tree's ``tree_``; returns it, as checked."""
    from sklearn.ensemble import BaseEnsemble
    from sklearn.tree._tree import Tree

    tree = getattr(model, "tree_", None)
    if tree is None:
        return []
    if not isinstance(tree, Tree):
        raise Refused(f"holds a {type(tree).__name__} where its tree belongs")
    expected = [_features_of(model)]
    parent = path[-2][1] if len(path) >= 2 else None
    if isinstance(parent, BaseEnsemble):
        # A forest or boosting hands its trees the input it checked itself.
        expected.append(_features_of(parent))
    check_tree(tree, expected)
    return [tree]


def check_gradient_boosting(model, path: list) -> list:
    """Gradient boosting adds each stage's trees' values into one column per output, sized
    by its classes: its trees must be single-valued and as many a stage as those columns."""
    estimators = getattr(model, "estimators_", None)
    if estimators is None:
        return []
    if not isinstance(estimators, np.ndarray) or estimators.ndim != 2:
        raise Refused("holds its trees in a layout boosting never makes")
    classes = getattr(model, "classes_", None)
    outputs = 1 if classes is None or len(classes) == 2 else len(classes)
    if estimators.shape[1] != outputs or whole(model.n_trees_per_iteration_) != outputs:
        raise Refused(f"has {estimators.shape[1]:,} trees a stage for {outputs:,} outputs")
    init = getattr(model, "init_", None)
    if classes is not None and len(getattr(init, "classes_", classes)) != len(classes):
        raise Refused("starts from an estimator with other classes than its own")
    for i, member in enumerate(estimators.flat):
        tree = getattr(member, "tree_", None)
        if getattr(tree, "n_outputs", 1) != 1 or getattr(tree, "max_n_classes", 1) != 1:
            raise Refused("gives more than one value a leaf", part=f"tree {i + 1}")
    return []


def check_hist_boosting(model, path: list) -> list:
    """Histogram gradient boosting's ``TreePredictor`` node arrays; returns the predictors."""
    from sklearn.ensemble._hist_gradient_boosting.predictor import TreePredictor

    predictors = getattr(model, "_predictors", None)
    if predictors is None:
        return []
    features = _features_of(model)
    binning = getattr(getattr(model, "_bin_mapper", None), "is_categorical_", None)
    categorical = np.zeros(features, bool) if binning is None else np.asarray(binning, bool)
    if categorical.shape != (features,):
        raise Refused("bins its input by other features than it reads")
    per_iteration = whole(getattr(model, "n_trees_per_iteration_", None))
    checked = []
    for iteration in predictors:
        if len(iteration) != per_iteration:
            raise Refused("has stages of different numbers of trees")
        for predictor in iteration:
            part = f"tree {len(checked) + 1}"
            if not isinstance(predictor, TreePredictor):
                raise Refused(f"is a {type(predictor).__name__}, not a tree", part=part)
            problem = _predictor_problem(predictor, features, categorical)
            if problem:
                raise Refused(problem, part=part)
            checked.append(predictor)
    return checked


def _predictor_problem(predictor, features: int, categorical: np.ndarray) -> str | None:
    from sklearn.ensemble._hist_gradient_boosting.common import PREDICTOR_RECORD_DTYPE

    nodes = predictor.nodes
    if not isinstance(nodes, np.ndarray) or nodes.dtype != PREDICTOR_RECORD_DTYPE:
        return "has nodes of another layout than scikit-learn's"
    if nodes.ndim != 1 or len(nodes) < 1:
        return "has no nodes"
    internal = nodes["is_leaf"] == 0
    feature = nodes["feature_idx"].astype(np.int64)
    problem = _links_problem(
        nodes["left"].astype(np.int64), nodes["right"].astype(np.int64), internal
    ) or _features_problem(feature, internal, features)
    if problem:
        return problem
    split_by_category = internal & (nodes["is_categorical"] != 0)
    if not split_by_category.any():
        return None
    if not categorical[feature[split_by_category]].all():
        return "splits by categories a feature that has none"
    bitset = nodes["bitset_idx"][split_by_category].astype(np.int64)
    for sets in (predictor.raw_left_cat_bitsets, predictor.binned_left_cat_bitsets):
        if not isinstance(sets, np.ndarray) or sets.ndim != 2 or bitset.max() >= len(sets):
            return "names category sets it does not hold"
    return None
