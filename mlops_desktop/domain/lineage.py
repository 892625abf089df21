"""A model version's lineage: the chain of stored references from raw file to serving."""

from __future__ import annotations

from dataclasses import dataclass

#: Kinds of object a lineage step can point at, in chain order.
KINDS = (
    "raw_file",
    "dataset_version",
    "experiment",
    "job",
    "model_version",
    "alias",
    "serving_session",
)


@dataclass(frozen=True)
class LineageStep:
    kind: str
    # what people call it: "sales.csv", "sales:2", "#14", "churn@production",
    # "served 2026-12-02 10:14 on 127.0.0.1:5005, 1,234 requests"
    label: str
    detail: str  # one line on how it came from the step before
    # what opens it: a version's uuid, an experiment's name, a job number, a session's uuid
    key: str | None = None
    missing: bool = False  # the reference outlived its object (deleted since)

    def to_json(self) -> dict:
        return {
            "kind": self.kind,
            "label": self.label,
            "detail": self.detail,
            "key": self.key,
            "missing": self.missing,
        }
