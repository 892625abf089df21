"""Values that describe a project file: its summary, its history and its health."""

from __future__ import annotations

from dataclasses import dataclass, field

#: The objects ``info`` counts, in the order people meet them in the lifecycle.
COUNTED_OBJECTS = ("datasets", "dataset_versions", "experiments", "jobs", "model_versions")


@dataclass(frozen=True)
class ProjectInfo:
    """A summary of one project file."""

    path: str
    name: str
    uuid: str
    schema_version: int
    created_at: str
    created_by: str
    size_bytes: int
    read_only: bool
    counts: dict[str, int]

    def to_json(self) -> dict:
        return {
            "path": self.path,
            "name": self.name,
            "uuid": self.uuid,
            "schema_version": self.schema_version,
            "created_at": self.created_at,
            "created_by": self.created_by,
            "size_bytes": self.size_bytes,
            "read_only": self.read_only,
            "counts": dict(self.counts),
        }


@dataclass(frozen=True)
class Event:
    """One line of the team's history: who did what, when."""

    uuid: str
    at: str
    actor: str
    action: str
    summary: str
    subject_kind: str | None = None
    subject_uuid: str | None = None
    details: dict = field(default_factory=dict)


@dataclass(frozen=True)
class BlobProblem:
    """A stored payload that failed verification."""

    sha256: str
    reason: str


def _counted(n: int, kind: str) -> str:
    """ "2 aliases", "1 alias"; ``kind`` is plural."""
    if n != 1:
        return f"{n} {kind}"
    return f"1 {kind[:-2] if kind.endswith('ses') else kind[:-1]}"


@dataclass(frozen=True)
class MergeReport:
    """What a merge brought in from another project file, and what it could not decide."""

    source: str  # the other file's name
    added: dict[str, int]  # kind ("dataset versions", ...) -> how many came in
    notes: list[str]  # name clashes and new numbers
    conflicts: list[str]  # aliases the two files disagree on: left for the user

    @property
    def nothing_new(self) -> bool:
        return not any(n for kind, n in self.added.items() if kind != "events")

    def summary(self) -> str:
        counts = [_counted(n, kind) for kind, n in self.added.items() if n]
        what = ", ".join(counts) if counts else "nothing new"
        return f"Merged {self.source}: {what}."

    def to_json(self) -> dict:
        return {
            "source": self.source,
            "added": self.added,
            "notes": self.notes,
            "conflicts": self.conflicts,
        }


@dataclass(frozen=True)
class Opener:
    """Someone with the project open in a window."""

    user: str
    host: str
    since: str  # ISO 8601, UTC

    def describe(self) -> str:
        return f"{self.user} on {self.host} (since {self.since[:16].replace('T', ' ')} UTC)"


@dataclass(frozen=True)
class CopyReport:
    """A consistent, self-contained copy of a project, ready to share."""

    path: str
    size: int
    sha256: str  # the receiver checks the file they got against it (sha256sum FILE)

    def to_json(self) -> dict:
        return {"path": self.path, "size": self.size, "sha256": self.sha256}


@dataclass(frozen=True)
class CheckReport:
    """The result of checking a project file: SQLite's own checks plus every blob's hash."""

    integrity: list[str]
    foreign_key_problems: list[str]
    blobs_checked: int
    blob_problems: list[BlobProblem]

    @property
    def ok(self) -> bool:
        return self.integrity == ["ok"] and not self.foreign_key_problems and not self.blob_problems

    def problems(self) -> list[str]:
        """Every problem as a sentence, for people."""
        found = [f"SQLite integrity check: {line}" for line in self.integrity if line != "ok"]
        found += [f"Broken reference: {line}" for line in self.foreign_key_problems]
        found += [f"Blob {p.sha256[:12]}: {p.reason}" for p in self.blob_problems]
        return found

    def to_json(self) -> dict:
        return {
            "ok": self.ok,
            "integrity": list(self.integrity),
            "foreign_key_problems": list(self.foreign_key_problems),
            "blobs_checked": self.blobs_checked,
            "blob_problems": [{"sha256": p.sha256, "reason": p.reason} for p in self.blob_problems],
        }
