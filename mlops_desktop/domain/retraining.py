"""A retraining: a version's recipe and spec run again on new data, then judged against the
holder of an alias on the same fresh hold-out rows."""

from __future__ import annotations

from dataclasses import dataclass

from mlops_desktop.domain.metric_names import higher_is_better


@dataclass(frozen=True)
class Review:
    """The retrained version and the alias holder measured on the retrained version's hold-out
    rows, and what the alias's gates say."""

    candidate: str  # MODEL:N, the retrained version
    holder: str | None  # the alias holder when reviewed; None if the alias pointed nowhere
    basis: str  # where the holder's figures came from
    candidate_metrics: dict
    holder_metrics: dict | None
    passed: bool  # every gate of the alias passes
    gates: tuple[str, ...]  # one sentence per gate result
    summary: str

    def better(self, metric: str) -> bool | None:
        """Whether the candidate beats the holder on ``metric`` (None: no comparison)."""
        new = self.candidate_metrics.get(metric)
        old = (self.holder_metrics or {}).get(metric)
        if new is None or old is None or new == old:
            return None
        return (new > old) == higher_is_better(metric)

    def to_json(self) -> dict:
        return {
            "candidate": self.candidate,
            "holder": self.holder,
            "basis": self.basis,
            "metrics": {
                name: {"candidate": value, "holder": (self.holder_metrics or {}).get(name)}
                for name, value in self.candidate_metrics.items()
            },
            "passed": self.passed,
            "gates": list(self.gates),
            "summary": self.summary,
        }

    @classmethod
    def from_json(cls, data: dict) -> Review:
        metrics = data["metrics"]
        holder = {k: v["holder"] for k, v in metrics.items() if v["holder"] is not None}
        return cls(
            data["candidate"],
            data["holder"],
            data["basis"],
            {k: v["candidate"] for k, v in metrics.items()},
            holder if data["holder"] is not None else None,
            data["passed"],
            tuple(data["gates"]),
            data["summary"],
        )


@dataclass(frozen=True)
class Retrain:
    uuid: str
    number: int  # retrain #N, in the order they were started
    source_uuid: str  # the version retrained
    source_label: str
    data_uuid: str  # the new data as given (an import, or a dataset version)
    data_label: str
    trained_on_uuid: str  # that data through the source's recipe (the same when none)
    trained_on_label: str
    job_uuid: str
    job_number: int
    alias: str  # the alias the new version is proposed for
    reason: str  # why: an alert's sentence, or the user's words
    created_at: str
    created_by: str
    version_uuid: str | None  # the new version, once the job has made it
    version_label: str | None
    review: Review | None

    @property
    def model(self) -> str:
        return self.source_label.rsplit(":", 1)[0]

    def to_json(self) -> dict:
        return {
            "uuid": self.uuid,
            "number": self.number,
            "source": self.source_label,
            "data": self.data_label,
            "trained_on": self.trained_on_label,
            "job": self.job_number,
            "alias": f"{self.model}@{self.alias}",
            "reason": self.reason,
            "created_at": self.created_at,
            "created_by": self.created_by,
            "version": self.version_label,
            "review": self.review.to_json() if self.review else None,
        }
