"""Checks of a loaded model's compiled parts, which skops cannot vouch for, before any runs.

skops rebuilds only trusted types, but some trusted types hold arrays that scikit-learn's
compiled code indexes without bounds checks: a tree's child and feature indices, a support
vector machine's counts, a sparse matrix's indices. A crafted file could make those read or
write outside memory at predict time. Every such structure anywhere in the model is checked
here (or, for a nearest-neighbours search tree, rebuilt from the model's own training
points), and a model that fails is refused with a sentence naming the part.
"""

from __future__ import annotations

import numpy as np

from mlops_desktop.domain.errors import UserError
from mlops_desktop.services import treechecks
from mlops_desktop.services.treechecks import Refused

#: Deeper nesting than this is no model the app made (and would exhaust the stack).
MAX_NESTING = 100
_PLAIN = (str, bytes, bool, int, float, complex, type(None))
PROBABILITIES = ("_probA", "_probB")


def check_loaded(model) -> None:
    """Check every compiled structure in ``model`` (and rebuild its search trees); raise
    ``UserError`` naming the first part that is not what scikit-learn would have built."""
    from sklearn.pipeline import Pipeline

    # The app's models are pipelines, whose steps are named; anything else is named itself.
    root = [] if isinstance(model, Pipeline) else [(f"the {type(model).__name__}", model)]
    _Walk().visit(model, root)


def _where(path: list[tuple[str, object]]) -> str:
    labels = [label for label, _ in reversed(path)]
    return " of ".join(labels) if labels else "the model itself"


def _refusal(path: list[tuple[str, object]], problem: str) -> UserError:
    return UserError(
        f"In the model file, {_where(path)} {problem}, so the model was not loaded: the file "
        "was not made by mlops_desktop, or was altered."
    )


class _Walk:
    """Visits every object reachable from the model once, checking the ones that matter."""

    def __init__(self):
        self.seen: set[int] = set()
        self.vouched: set[int] = set()  # compiled parts checked through their holder
        from sklearn.ensemble._gb import BaseGradientBoosting
        from sklearn.ensemble._hist_gradient_boosting.gradient_boosting import (
            BaseHistGradientBoosting,
        )
        from sklearn.ensemble._hist_gradient_boosting.predictor import TreePredictor
        from sklearn.neighbors import BallTree, KDTree
        from sklearn.neighbors._base import NeighborsBase
        from sklearn.svm._base import BaseLibSVM
        from sklearn.tree._classes import BaseDecisionTree
        from sklearn.tree._tree import Tree

        self.holders = (
            (BaseDecisionTree, treechecks.check_decision_tree),
            (BaseGradientBoosting, treechecks.check_gradient_boosting),
            (BaseHistGradientBoosting, treechecks.check_hist_boosting),
            (NeighborsBase, _rebuild_search_tree),
            (BaseLibSVM, _check_svm),
        )
        #: Parts that are safe only as checked by their holder: met anywhere else, refused.
        self.held = (Tree, TreePredictor, KDTree, BallTree)

    def visit(self, obj, path: list[tuple[str, object]]) -> None:
        if isinstance(obj, _PLAIN) or id(obj) in self.seen:
            return
        self.seen.add(id(obj))
        if len(path) > MAX_NESTING:
            raise _refusal(path, f"is nested more than {MAX_NESTING} levels deep")
        if isinstance(obj, self.held):
            if id(obj) not in self.vouched:
                raise _refusal(path, f"is a {type(obj).__name__} where none belongs")
            return
        if isinstance(obj, np.ndarray):
            if obj.dtype == object:
                for i, item in enumerate(obj.flat):
                    self.visit(item, [*path, (f"item {i + 1}", item)])
            return
        if _is_sparse(obj):
            _check_sparse(obj, path)
            return
        if isinstance(obj, dict):
            for key, value in obj.items():
                self.visit(value, [*path, (f"entry {key!r}", value)])
            return
        if isinstance(obj, list | tuple | set | frozenset):
            for i, item in enumerate(obj):
                self.visit(item, [*path, (f"item {i + 1}", item)])
            return
        module = type(obj).__module__ or ""
        if not module.startswith(("sklearn", "mlops_desktop")) or not hasattr(obj, "__dict__"):
            return
        for kind, check in self.holders:
            if isinstance(obj, kind):
                try:
                    self.vouched.update(map(id, check(obj, path)))
                except Refused as refused:
                    where = [*path, (refused.part, None)] if refused.part else path
                    raise _refusal(where, refused.problem) from None
                except Exception as exc:  # attributes of any type: a crafted file's doing
                    raise _refusal(path, f"is malformed ({type(exc).__name__}: {exc})") from None
        for name, value in list(vars(obj).items()):
            for label, child in _children(name, value):
                self.visit(child, [*path, (label, child)])


def _children(name: str, value):
    """(label, object) of what attribute ``name`` holds, labelled as people know them."""
    if name in ("steps", "transformers", "transformers_") and isinstance(value, list):
        kind = "step" if name == "steps" else "transformer"
        for entry in value:
            if isinstance(entry, tuple) and len(entry) > 1 and isinstance(entry[0], str):
                label = f"{kind} {entry[0]!r} ({type(entry[1]).__name__})"
                for part in entry[1:]:  # the estimator, and a transformer's columns
                    yield label, part
            else:
                yield name, entry
        return
    if name == "estimators_":
        items = value.ravel() if isinstance(value, np.ndarray) else value
        if isinstance(items, list | tuple | np.ndarray):
            for i, item in enumerate(items):
                kind = "tree" if "Tree" in type(item).__name__ else "estimator"
                yield f"{kind} {i + 1}", item
            return
    yield name, value


def _is_sparse(obj) -> bool:
    module = type(obj).__module__ or ""
    return module.startswith("scipy.sparse")


def _check_sparse(matrix, path) -> None:
    """Sparse indices out of range make scipy's compiled kernels read outside memory."""
    if getattr(matrix, "format", None) not in ("csr", "csc"):
        raise _refusal(path, f"is a sparse matrix in a form models never hold ({type(matrix)})")
    try:
        matrix.check_format(full_check=True)
    except (ValueError, TypeError) as exc:
        raise _refusal(path, f"is a damaged sparse matrix ({exc})") from None


def _rebuild_search_tree(model, path) -> list:
    """A nearest-neighbours model's search tree, rebuilt from its own training points as
    fitting builds it: the stored one's index arrays are never queried."""
    from sklearn.neighbors import BallTree, KDTree

    method = getattr(model, "_fit_method", None)
    if method == "brute" or getattr(model, "_tree", None) is None:
        return []
    kind = {"kd_tree": KDTree, "ball_tree": BallTree}.get(method)
    if kind is None:
        raise Refused(f"searches by an unknown method ({method!r})")
    params = getattr(model, "effective_metric_params_", None) or {}
    try:
        model._tree = kind(
            model._fit_X, model.leaf_size, metric=model.effective_metric_, **dict(params)
        )
    except (AttributeError, TypeError, ValueError) as exc:
        raise Refused(f"cannot rebuild its search tree ({exc})") from None
    return [model._tree]


def _check_svm(model, path) -> list:
    """libsvm reads its support vectors by the counts and sizes stored beside them."""
    if getattr(model, "kernel", None) == "precomputed":
        raise Refused("uses a precomputed kernel, which the app never trains")
    vectors = getattr(model, "support_vectors_", None)
    if vectors is None:
        return []
    shape = getattr(vectors, "shape", ())
    if len(shape) != 2 or shape[1] != treechecks.whole(getattr(model, "n_features_in_", None)):
        raise Refused("has support vectors of another width than its input")
    count = shape[0]
    per_class = np.asarray(getattr(model, "_n_support", ()))
    classes = len(per_class)
    pairs = classes * (classes - 1) // 2
    dual = getattr(model, "_dual_coef_", None)
    problems = [
        per_class.ndim != 1 or classes < 2,
        np.shape(getattr(model, "support_", ())) != (count,),
        getattr(dual, "shape", None) != (classes - 1, count),
        np.shape(getattr(model, "_intercept_", ())) != (pairs,),
        *(np.shape(getattr(model, name, ())) not in ((0,), (pairs,)) for name in PROBABILITIES),
    ]
    if hasattr(model, "classes_"):  # a regressor's counts are libsvm's own, and unused
        problems += [
            classes != len(model.classes_),
            (per_class < 0).any() or int(per_class.sum()) != count,
        ]
    if _is_sparse(dual):
        problems.append(dual.data.size != (classes - 1) * count)
    if any(problems):
        raise Refused("has support vectors that do not match their counts")
    return []
