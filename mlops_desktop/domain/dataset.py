"""Dataset versions as values: references like ``sales:2``, names, schemas and lineage."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from mlops_desktop.domain.errors import UserError

#: Characters that would make ``NAME:N`` or ``MODEL@ALIAS`` ambiguous, or a file name unsafe.
_FORBIDDEN_IN_NAMES = set(":@/\\\n\r\t")
MAX_NAME_LENGTH = 100


def check_name(name: str, kind: str = "dataset") -> str:
    """The name, stripped, if it can name a dataset (or model); else a ``UserError``."""
    name = (name or "").strip()
    if not name:
        raise UserError(f"A {kind} needs a name: type one.")
    if len(name) > MAX_NAME_LENGTH:
        raise UserError(
            f"The {kind} name is too long ({len(name)} characters): keep it under "
            f"{MAX_NAME_LENGTH}."
        )
    bad = sorted(_FORBIDDEN_IN_NAMES & set(name))
    if bad:
        shown = " ".join(repr(c) for c in bad)
        raise UserError(f"The {kind} name {name!r} contains {shown}: choose a name without them.")
    return name


def name_from_file(stem: str) -> str:
    """A dataset name suggested by a file name: forbidden characters become underscores."""
    cleaned = "".join("_" if c in _FORBIDDEN_IN_NAMES else c for c in stem).strip()
    return (cleaned or "dataset")[:MAX_NAME_LENGTH]


@dataclass(frozen=True)
class VersionRef:
    """``NAME`` (the latest version) or ``NAME:N``."""

    name: str
    version: int | None = None

    @classmethod
    def parse(cls, text: str, kind: str = "dataset") -> VersionRef:
        match = re.fullmatch(r"\s*(.+?)(?::(\d+))?\s*", text or "")
        if not match or ":" in match.group(1):
            raise UserError(
                f"{text!r} is not a {kind} reference: write NAME or NAME:N with N a number."
            )
        name, number = match.group(1), match.group(2)
        version = int(number) if number is not None else None
        if version is not None and version < 1:
            raise UserError(f"Version numbers start at 1, so {text!r} names nothing.")
        return cls(name.strip(), version)

    def __str__(self) -> str:
        return self.name if self.version is None else f"{self.name}:{self.version}"


#: Arrow's name of a dictionary type, which pandas and most users call a category.
_DICTIONARY_TYPE = re.compile(r"dictionary<values=(.+), indices=\w+, ordered=([01])>")


def type_label(arrow_type: str) -> str:
    """An Arrow type name as the panels and the command line show it: a dictionary becomes
    ``category of string``, other names stay. The width of its indices, and whether its
    values have 32- or 64-bit offsets (pandas gives either), are storage details."""
    match = _DICTIONARY_TYPE.fullmatch(arrow_type)
    if match is None:
        return arrow_type
    values, ordered = match.groups()
    return f"{'ordered ' if ordered == '1' else ''}category of {values.removeprefix('large_')}"


@dataclass(frozen=True)
class ColumnSchema:
    name: str
    type: str  # the Arrow type, e.g. "int64", "string", "timestamp[s]"
    kind: str  # numeric, categorical, datetime, boolean, text or other

    def to_json(self) -> dict:
        return {"name": self.name, "type": self.type, "kind": self.kind}

    @classmethod
    def from_json(cls, data: dict) -> ColumnSchema:
        return cls(data["name"], data["type"], data["kind"])


@dataclass(frozen=True)
class SourceFile:
    """Where an imported version came from: the raw file's name, fingerprint and settings."""

    name: str
    sha256: str
    format: str
    settings: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "sha256": self.sha256,
            "format": self.format,
            "settings": self.settings,
        }


@dataclass(frozen=True)
class DatasetVersion:
    """One immutable version of a dataset."""

    uuid: str
    dataset_uuid: str
    name: str
    version: int
    rows: int
    columns: int
    schema: tuple[ColumnSchema, ...]
    parts: tuple[str, ...]  # sha256 of each Parquet part, in row order
    profile_sha256: str | None
    created_at: str
    created_by: str
    parent_uuid: str | None = None
    parent_label: str | None = None
    recipe: list = field(default_factory=list)
    source: SourceFile | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.name}:{self.version}"

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.schema]

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "version": self.version,
            "label": self.label,
            "uuid": self.uuid,
            "rows": self.rows,
            "columns": self.columns,
            "schema": [c.to_json() for c in self.schema],
            "parent": self.parent_label,
            "recipe": self.recipe,
            "source": self.source.to_json() if self.source else None,
            "notes": list(self.notes),
            "parts": list(self.parts),
            "created_at": self.created_at,
            "created_by": self.created_by,
        }


def unique_column_names(names: list[str]) -> tuple[list[str], list[str]]:
    """Give every column a non-empty name unlike the others; say what was renamed."""
    taken: set[str] = set()
    result, notes = [], []
    for position, raw in enumerate(names, start=1):
        name = (raw if isinstance(raw, str) else str(raw)).strip()
        if not name:
            name = f"column_{position}"
            while name in taken:
                name += "_"
            notes.append(f"Column {position} had no name; it is called {name!r}.")
        elif name in taken:
            base, n = name, 2
            while f"{base}_{n}" in taken:
                n += 1
            name = f"{base}_{n}"
            notes.append(f"Column {position} repeats the name {base!r}; it is called {name!r}.")
        taken.add(name)
        result.append(name)
    return result, notes
