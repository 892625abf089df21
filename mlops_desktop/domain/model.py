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
