"""Model versions as values: what a finished training job produced."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ModelVersion:
    uuid: str
    model_uuid: str
    name: str
    version: int
    experiment_name: str
    spec: dict
    dataset_version_uuid: str | None
    dataset_label: str | None
    task: str
    estimator: str
    params: dict
    metrics: dict  # {"cv": {metric: {"mean", "std"}}, "holdout": {metric: value}}
    signature: dict
    environment: dict
    seed: int
    fit_seconds: float
    predict_seconds: float
    model_sha256: str
    plots_sha256: str | None
    search_sha256: str | None
    created_at: str
    created_by: str
    job_uuid: str | None = None
    notes: str = ""
    tags: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.name}:{self.version}"

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "version": self.version,
            "label": self.label,
            "uuid": self.uuid,
            "experiment": self.experiment_name,
            "dataset": self.dataset_label,
            "task": self.task,
            "estimator": self.estimator,
            "params": self.params,
            "metrics": self.metrics,
            "signature": self.signature,
            "environment": self.environment,
            "seed": self.seed,
            "fit_seconds": self.fit_seconds,
            "predict_seconds": self.predict_seconds,
            "notes": self.notes,
            "tags": list(self.tags),
            "created_at": self.created_at,
            "created_by": self.created_by,
            "spec": self.spec,
        }


@dataclass(frozen=True)
class Alias:
    """``model@name``: a named pointer at one version of a model."""

    model: str
    name: str
    version: int
    version_uuid: str
    set_at: str
    set_by: str

    @property
    def label(self) -> str:
        return f"{self.model}@{self.name}"

    def to_json(self) -> dict:
        return {
            "alias": self.label,
            "version": f"{self.model}:{self.version}",
            "set_at": self.set_at,
            "set_by": self.set_by,
        }


@dataclass(frozen=True)
class Promotion:
    """One attempt to point an alias at a version, with what each gate said."""

    uuid: str
    model: str
    alias: str
    version_label: str
    previous_label: str | None
    outcome: str  # promoted, blocked, overridden
    gates: list[dict]  # GateResult.to_json() of each gate
    reason: str | None
    created_at: str
    created_by: str

    def to_json(self) -> dict:
        return {
            "alias": f"{self.model}@{self.alias}",
            "version": self.version_label,
            "previous": self.previous_label,
            "outcome": self.outcome,
            "gates": self.gates,
            "reason": self.reason,
            "created_at": self.created_at,
            "created_by": self.created_by,
        }


@dataclass(frozen=True)
class Evaluation:
    """A version measured on another dataset version."""

    uuid: str
    version_uuid: str
    dataset_version_uuid: str | None
    dataset_label: str
    recipe: list  # the steps applied to the data first (the version's own recipe), if any
    rows: int
    metrics: dict  # {metric: value}, scikit-learn's names, as the hold-out metrics
    plots_sha256: str | None
    seconds: float
    created_at: str
    created_by: str

    def to_json(self) -> dict:
        return {
            "uuid": self.uuid,
            "dataset": self.dataset_label,
            "recipe_steps": len(self.recipe),
            "rows": self.rows,
            "metrics": self.metrics,
            "seconds": self.seconds,
            "created_at": self.created_at,
            "created_by": self.created_by,
        }
