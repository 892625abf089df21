"""A model's signature: the input columns it expects (with types) and what it outputs.

The model server checks requests against it, and the Models panel shows it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from mlops_desktop.domain.experiment import ColumnSpec
from mlops_desktop.domain.profile import TableProfile


@dataclass(frozen=True)
class InputColumn:
    name: str
    type: str  # the Arrow type the column had in training, e.g. "double", "string"
    kind: str  # numeric, categorical, datetime, text, boolean
    required: bool  # False for columns the pipeline ignores (sent or not, they are unused)

    def to_json(self) -> dict:
        return {"name": self.name, "type": self.type, "kind": self.kind, "required": self.required}


@dataclass(frozen=True)
class Signature:
    inputs: tuple[InputColumn, ...]
    task: str
    target: str
    classes: tuple = field(default_factory=tuple)  # class labels, for classifiers

    @property
    def required(self) -> list[str]:
        return [c.name for c in self.inputs if c.required]

    def to_json(self) -> dict:
        return {
            "inputs": [c.to_json() for c in self.inputs],
            "output": {"task": self.task, "target": self.target, "classes": list(self.classes)},
        }

    @classmethod
    def from_json(cls, data: dict) -> Signature:
        output = data["output"]
        return cls(
            inputs=tuple(InputColumn(**c) for c in data["inputs"]),
            task=output["task"],
            target=output["target"],
            classes=tuple(output.get("classes", [])),
        )


def signature_of(
    profile: TableProfile, columns: dict[str, ColumnSpec], task: str, target: str, classes=()
) -> Signature:
    inputs = tuple(
        InputColumn(
            name=c.name,
            type=c.type,
            kind=columns[c.name].type if c.name in columns else c.kind,
            required=columns[c.name].role == "feature" if c.name in columns else False,
        )
        for c in profile.columns
        if c.name != target
    )
    return Signature(inputs, task, target, tuple(_plain(c) for c in classes))


def _plain(value):
    return value.item() if hasattr(value, "item") else value


_TIMESTAMP = re.compile(r"timestamp\[(\w+)(?:,\s*tz=([^\]]+))?\]")


def arrow_type(name: str):
    """The pyarrow type a signature names (``int64``, ``timestamp[ms, tz=UTC]``), or None
    if it is not a plain one."""
    import pyarrow as pa

    match = _TIMESTAMP.fullmatch(name.strip())
    if match:
        return pa.timestamp(match.group(1), tz=match.group(2))
    try:
        return pa.type_for_alias(name.strip())
    except (ValueError, KeyError):
        return None
