"""Compiling an experiment spec into scikit-learn objects: the pipeline and its search.

``Pipeline([("features", ColumnTransformer), ("model", estimator)])``: columns with the same
treatment share one transformer, so the compiled pipeline reads like the spec.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from mlops_desktop.domain import estimators
from mlops_desktop.domain.errors import UserError
from mlops_desktop.domain.experiment import (
    LARGE_SEARCH,
    ColumnSpec,
    ExperimentSpec,
    default_scoring,
    dimension_values,
    resolve_columns,
    resolve_task,
    search_size,
)
from mlops_desktop.domain.profile import TableProfile

#: Estimators that need a dense matrix (TF-IDF output is sparse otherwise).
_DENSE_ONLY = {
    "HistGradientBoostingClassifier",
    "HistGradientBoostingRegressor",
    "MLPClassifier",
    "MLPRegressor",
}


def _block(spec: ColumnSpec, seed: int):
    """The transformer for one treatment."""
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import (
        MinMaxScaler,
        OneHotEncoder,
        OrdinalEncoder,
        RobustScaler,
        StandardScaler,
        TargetEncoder,
    )

    from mlops_desktop.domain.transformers import BooleanColumns, DatetimeParts, TextColumn

    if spec.type == "text":
        from sklearn.feature_extraction.text import TfidfVectorizer

        return make_pipeline(TextColumn(), TfidfVectorizer(max_features=spec.max_features))
    steps = []
    if spec.type == "datetime":
        steps.append(DatetimeParts(parts=tuple(spec.datetime_parts)))
    elif spec.type == "boolean":
        steps.append(BooleanColumns())
    if spec.impute != "none":
        fill = spec.impute_value if spec.impute == "constant" else None
        steps.append(SimpleImputer(strategy=spec.impute, fill_value=fill))
    if spec.type == "categorical":
        if spec.encode == "onehot":
            steps.append(
                OneHotEncoder(
                    handle_unknown="infrequent_if_exist", max_categories=spec.max_categories
                )
            )
        elif spec.encode == "ordinal":
            steps.append(
                OrdinalEncoder(
                    handle_unknown="use_encoded_value", unknown_value=-1, encoded_missing_value=-1
                )
            )
        else:
            from sklearn.model_selection import KFold

            # Out-of-fold encoding, shuffled reproducibly (scikit-learn 1.9's way to seed it).
            steps.append(TargetEncoder(cv=KFold(5, shuffle=True, random_state=seed)))
    else:
        scaler = {"standard": StandardScaler, "minmax": MinMaxScaler, "robust": RobustScaler}
        if spec.scale in scaler:
            steps.append(scaler[spec.scale]())
    if not steps:
        return "passthrough"
    return make_pipeline(*steps) if len(steps) > 1 else steps[0]


def _treatment_key(spec: ColumnSpec) -> tuple:
    return (
        spec.type,
        spec.impute,
        repr(spec.impute_value),
        spec.scale,
        spec.encode,
        spec.max_categories,
        tuple(spec.datetime_parts),
        spec.max_features,
    )


def build_pipeline(spec: ExperimentSpec, columns: dict[str, ColumnSpec]):
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    seed = spec.validation.seed
    groups: dict[tuple, list[str]] = defaultdict(list)
    treatments: dict[tuple, ColumnSpec] = {}
    for name, treatment in columns.items():
        if treatment.role != "feature":
            continue
        key = _treatment_key(treatment)
        if treatment.type == "text":
            key = (*key, name)  # TF-IDF reads one column at a time
        groups[key].append(name)
        treatments[key] = treatment
    transformers = []
    for index, (key, names) in enumerate(groups.items(), start=1):
        treatment = treatments[key]
        selector = names[0] if treatment.type == "text" else names
        label = names[0] if treatment.type == "text" else f"{treatment.type}_{index}"
        transformers.append((label, _block(treatment, seed), selector))
    dense = spec.estimator in _DENSE_ONLY
    features = ColumnTransformer(
        transformers, sparse_threshold=0 if dense else 0.3, verbose_feature_names_out=False
    )
    model = estimators.estimator_class(spec.estimator)(
        **estimators.seeded_params(spec.estimator, spec.params, seed)
    )
    return Pipeline([("features", features), ("model", model)])


def splitter(spec: ExperimentSpec, task: str):
    from sklearn.model_selection import KFold, StratifiedKFold, TimeSeriesSplit

    split, folds, seed = spec.validation.split, spec.search.cv, spec.validation.seed
    if split == "auto":
        split = "kfold" if task == "regression" else "stratified"
    if split == "timeseries":
        return TimeSeriesSplit(n_splits=folds)
    if split == "stratified":
        if task == "regression":
            raise UserError(
                "validation.split: stratified folds need classes; use kfold for regression."
            )
        return StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return KFold(n_splits=folds, shuffle=True, random_state=seed)


@dataclass(frozen=True)
class HoldoutSplit:
    """The rows a version was fitted on and the rows it was measured on."""

    X_train: object
    X_test: object
    y_train: object
    y_test: object
    dropped: int  # rows left out because their target is missing


def split_holdout(frame, spec: ExperimentSpec, task: str) -> HoldoutSplit:
    """Split ``frame`` as training does: rows without a target out, then one seeded split.

    Training, gate checks and the exported script all call this, so "the same hold-out rows"
    means the same rows everywhere.
    """
    from sklearn.model_selection import train_test_split

    missing = frame[spec.target].isna()
    dropped = int(missing.sum())
    if dropped:
        frame = frame[~missing]
    X, y = frame.drop(columns=[spec.target]), frame[spec.target]
    validation = spec.validation
    stratify = y if task != "regression" and validation.stratify else None
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=validation.holdout, random_state=validation.seed, stratify=stratify
    )
    return HoldoutSplit(X_train, X_test, y_train, y_test, dropped)


def _distribution(values):
    if isinstance(values, list):
        return values
    from scipy import stats

    kind, bounds = next(iter(values.items()))
    if kind == "choice":
        return bounds
    if kind == "uniform":
        return stats.uniform(bounds[0], bounds[1] - bounds[0])
    if kind == "loguniform":
        return stats.loguniform(bounds[0], bounds[1])
    return stats.randint(bounds[0], bounds[1] + 1)


def scorers(spec: ExperimentSpec, task: str) -> list[str]:
    from sklearn.metrics import get_scorer_names

    scoring = spec.search.scoring or default_scoring(task)
    names = [scoring] if isinstance(scoring, str) else list(scoring)
    known = set(get_scorer_names())
    for name in names:
        if name not in known:
            raise UserError(
                f"search.scoring: {name!r} is not a scikit-learn scorer; for example "
                f"{default_scoring(task)}."
            )
    regression = {"r2", "explained_variance", "max_error"} | {
        n for n in known if n.startswith("neg_") and "error" in n
    }
    for name in names:
        if (task == "regression") != (name in regression):
            kind = "regression" if task == "regression" else "classification"
            raise UserError(
                f"search.scoring: {name!r} does not measure {kind}; for example "
                f"{default_scoring(task)}."
            )
    return names


def build_search(spec: ExperimentSpec, pipeline, task: str):
    """The estimator to fit: the pipeline itself, or a search over it."""
    search = spec.search
    if search.strategy == "none":
        return pipeline
    from sklearn.experimental import enable_halving_search_cv  # noqa: F401
    from sklearn.model_selection import (
        GridSearchCV,
        HalvingGridSearchCV,
        HalvingRandomSearchCV,
        RandomizedSearchCV,
    )

    space = {f"model__{k}": _distribution(v) for k, v in search.space.items()}
    names = scorers(spec, task)
    scoring = names[0] if len(names) == 1 else names
    common = {"cv": splitter(spec, task), "error_score": "raise"}
    seed = spec.validation.seed
    if search.strategy == "grid":
        return GridSearchCV(pipeline, space, scoring=scoring, refit=names[0], **common)
    continuous = any(dimension_values(v) is None for v in search.space.values())
    if search.strategy == "random":
        return RandomizedSearchCV(
            pipeline,
            space,
            n_iter=search.n_iter,
            scoring=scoring,
            refit=names[0],
            random_state=seed,
            **common,
        )
    if len(names) > 1:
        raise UserError("search.scoring: successive halving ranks by one metric; give one.")
    if continuous:
        return HalvingRandomSearchCV(
            pipeline,
            space,
            n_candidates=search.n_iter,
            factor=search.factor,
            scoring=scoring,
            random_state=seed,
            return_train_score=False,
            **common,
        )
    return HalvingGridSearchCV(
        pipeline,
        space,
        factor=search.factor,
        scoring=scoring,
        random_state=seed,
        # Halving scores the training folds too by default: twice the scoring, and progress
        # ("candidate i of n") that counts every fit twice.
        return_train_score=False,
        **common,
    )


@dataclass
class Plan:
    """A spec checked against its data: everything a training job needs to start."""

    task: str
    task_reason: str
    columns: dict[str, ColumnSpec]
    pipeline: object
    estimator: object  # the pipeline, or the search over it
    candidates: int
    folds: int
    exact_size: bool

    @property
    def fits(self) -> int:
        return self.candidates * self.folds

    def size_text(self) -> str:
        about = "" if self.exact_size else "about "
        return (
            f"{about}{self.candidates:,} candidate{'s' if self.candidates != 1 else ''} × "
            f"{self.folds} folds = {about}{self.fits:,} fits"
        )


def plan(
    spec: ExperimentSpec,
    profile: TableProfile,
    class_counts: dict | None = None,
) -> Plan:
    """Check ``spec`` against the dataset's profile (and class counts) and compile it."""
    try:
        target = profile.column(spec.target)
    except KeyError:
        raise UserError(f"target: the dataset has no column {spec.target!r}.") from None
    task, reason = resolve_task(spec, target)
    if estimators.family(task) != estimators.CATALOGUE.get(spec.estimator, ("", ""))[1]:
        if spec.estimator not in estimators.CATALOGUE:
            try:
                estimators.estimator_class(spec.estimator)
            except UserError as exc:  # the catalogue's own message, with the field
                raise UserError(f"estimator: {exc.message}") from None
        raise UserError(
            f"estimator: {spec.estimator} does not do {estimators.family(task)}; choose one of "
            f"{', '.join(estimators.estimators_for(task))}."
        )
    try:
        estimators.check_params(spec.estimator, spec.params)
    except UserError as exc:
        raise UserError(f"params: {exc.message}") from None
    for param, values in spec.search.space.items():
        for value in _values_to_check(values):
            try:
                estimators.check_params(spec.estimator, {**spec.params, param: value})
            except UserError as exc:
                raise UserError(f"search.space.{param}: {exc.message}") from None
    if task != "regression":
        _check_classes(spec, target, class_counts)
    columns = resolve_columns(spec, profile)
    candidates, folds, exact = search_size(spec)
    if candidates > LARGE_SEARCH and not spec.search.confirm_large:
        raise UserError(
            f"search: {candidates:,} candidates × {folds} folds is over {LARGE_SEARCH:,} "
            "candidates; narrow the space, or confirm that you want it (search.confirm_large)."
        )
    pipeline = build_pipeline(spec, columns)
    estimator = build_search(spec, pipeline, task)
    if spec.search.strategy == "none":
        scorers(spec, task)  # the metric recorded for a single fit must exist too
    return Plan(task, reason, columns, pipeline, estimator, candidates, folds, exact)


def _values_to_check(values) -> list:
    """What a search dimension may hand the estimator: a list's values, or, for a continuous
    distribution, its middle and both ends (a hair inside them: a sample never hits an open
    bound), so a range the estimator refuses is refused before anything is queued."""
    finite = dimension_values(values)
    if finite is not None:
        return finite
    kind, (low, high) = next(iter(values.items()))
    if kind == "loguniform":
        import math

        low, high = math.log(low), math.log(high)
        inside = (high - low) * 1e-9
        return [math.exp(v) for v in (low + inside, (low + high) / 2, high - inside)]
    inside = (high - low) * 1e-9
    return [low + inside, (low + high) / 2, high - inside]


def _check_classes(spec: ExperimentSpec, target, class_counts: dict | None) -> None:
    counts = class_counts or {str(v): c for v, c in target.top}
    if len(counts) < 2 and target.unique < 2:
        only = next(iter(counts), "?")
        raise UserError(
            f"target: {spec.target!r} has only one class ({only!r}): a classifier "
            "needs at least two."
        )
    if class_counts is None:
        return
    smallest, rows = min(class_counts.items(), key=lambda item: item[1])
    holdout_rows = rows - int(rows * spec.validation.holdout)
    folds = spec.search.cv
    if holdout_rows < folds:
        raise UserError(
            f"search.cv: class {smallest!r} has {rows} row{'s' if rows != 1 else ''} "
            f"({holdout_rows} after the hold-out), "
            f"too few for {folds} folds: lower search.cv to {max(holdout_rows, 2)} or merge "
            "rare classes."
        )
    if spec.validation.stratify and rows < 2:
        raise UserError(
            f"validation.stratify: class {smallest!r} has a single row, so a stratified "
            "hold-out is impossible: remove that row or turn stratify off."
        )


@dataclass(frozen=True)
class OutlineStep:
    """One step of a compiled pipeline, as the Experiments panel lists it."""

    depth: int  # 0 for the pipeline's own steps, 1 inside them, ...
    name: str  # the step's name in its pipeline or column transformer
    kind: str  # the class name, or "passthrough"
    text: str  # how scikit-learn prints it: only the parameters that differ from defaults
    columns: tuple[str, ...] = ()  # the columns a column transformer hands it

    def to_json(self) -> dict:
        return {
            "depth": self.depth,
            "name": self.name,
            "kind": self.kind,
            "text": self.text,
            "columns": list(self.columns),
        }

    @classmethod
    def from_json(cls, data: dict) -> OutlineStep:
        return cls(data["depth"], data["name"], data["kind"], data["text"], tuple(data["columns"]))


def outline(estimator, depth: int = 0, name: str = "pipeline", columns=()) -> list[OutlineStep]:
    """The pipeline as a list of its steps, nested ones after their parent, so each can be
    shown (and explained) on a line of its own."""
    if isinstance(estimator, str):  # "passthrough" or "drop" inside a column transformer
        return [OutlineStep(depth, name, estimator, estimator, tuple(columns))]
    kind = type(estimator).__name__
    children = []
    if hasattr(estimator, "steps"):  # Pipeline
        text = f"{kind}: {len(estimator.steps)} steps in order"
        for child_name, child in estimator.steps:
            children += outline(child, depth + 1, child_name)
    elif hasattr(estimator, "transformers"):  # ColumnTransformer
        text = f"{kind}: {len(estimator.transformers)} groups of columns"
        for child_name, child, selected in estimator.transformers:
            selected = [selected] if isinstance(selected, str) else list(selected)
            children += outline(child, depth + 1, child_name, selected)
    else:
        text = repr(estimator)
    return [OutlineStep(depth, name, kind, text, tuple(map(str, columns))), *children]
