"""Bringing another project's objects into this one, matched by UUID.

The other file (a checked, up-to-date copy) is attached read-only and everything is copied in
one transaction: a merge lands whole or not at all, and merging the same file twice adds
nothing. What comes in: stored payloads (each once), datasets and their versions with their
recipes, experiments, models and their versions, evaluations, aliases and their gates, the
promotion history and the events. Training jobs, serving sessions, prediction logs, alerts
and settings stay with the project they belong to.

Two objects are the same when their UUIDs are. A dataset, model or experiment of the same
*name* but another UUID was made separately: versions join the local dataset or model under
the next free numbers, an experiment gets a new name, and the report says so. An alias is
never moved: where the two files disagree the report lists the conflict.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from mlops_desktop.domain.errors import ProjectFileError
from mlops_desktop.domain.project import MergeReport
from mlops_desktop.domain.tasks import TaskState
from mlops_desktop.store.counters import next_number

if TYPE_CHECKING:
    from mlops_desktop.store.project_file import ProjectFile

OTHER = "other"


def merge_file(project: ProjectFile, other: Path, state: TaskState | None) -> MergeReport:
    """Merge the project file ``other`` into ``project``; ``other`` is never written.

    It is read through a copy made with the online backup API (a consistent snapshot even if
    someone has it open), checked, and upgraded there if an older version made it."""
    from mlops_desktop.store import migrations
    from mlops_desktop.store.header import check_header
    from mlops_desktop.store.project_file import APPLICATION_ID, ProjectFile

    other = Path(other).expanduser().absolute()
    if not other.is_file():
        raise ProjectFileError(f"There is no project file {other}: choose an existing one.")
    if other == project.path or other.samefile(project.path):
        raise ProjectFileError(
            "A project cannot be merged into itself: choose another project file."
        )
    if project.read_only:
        raise ProjectFileError(
            f"{project.path.name} is open read-only: open it read-write to merge into it."
        )
    check_header(other, APPLICATION_ID, migrations.LATEST_VERSION)
    copy = project.path.with_name(f".{project.path.name}.merge-{uuid.uuid4().hex[:8]}")
    try:
        source = sqlite3.connect(other.as_uri() + "?mode=ro", uri=True)
        target = sqlite3.connect(copy)
        try:
            source.backup(target)
        finally:
            target.close()
            source.close()
        ProjectFile.open(copy, back_up=False).close()  # an older schema upgraded, in the copy
        return merge(project, copy, other.name, state)
    except sqlite3.DatabaseError as exc:
        raise ProjectFileError(
            f"{other.name} cannot be read ({exc}), so nothing was merged: ask for a new copy."
        ) from None
    finally:
        for leftover in (
            copy,
            *(copy.with_name(copy.name + s) for s in ("-wal", "-shm", "-journal")),
        ):
            leftover.unlink(missing_ok=True)


def merge(project: ProjectFile, other: Path, label: str, state: TaskState | None) -> MergeReport:
    """Copy what ``other`` (an up-to-date project file nobody writes) has and ``project``
    lacks; ``label`` names the other file in notes and in the history."""
    conn = project.conn
    conn.execute(f"ATTACH DATABASE ? AS {OTHER}", (other.as_uri() + "?mode=ro",))
    try:
        problems = [r[0] for r in conn.execute(f"PRAGMA {OTHER}.quick_check")]
        if problems != ["ok"]:
            raise ProjectFileError(
                f"{label} is damaged ({problems[0]}), so nothing was merged: ask for a new copy "
                "(File > Share a Copy…)."
            )
        with project.transaction():
            run = _Merge(project, label, state)
            run.all()
            report = run.report()
            project.events.record(
                "project.merge", report.summary(), "project", None, report.to_json()
            )
        return report
    finally:
        conn.execute(f"DETACH DATABASE {OTHER}")


class _Merge:
    def __init__(self, project: ProjectFile, label: str, state: TaskState | None):
        self.project = project
        self.conn: sqlite3.Connection = project.conn
        self.label = label
        self.state = state
        self.added: dict[str, int] = {}
        self.notes: list[str] = []
        self.conflicts: list[str] = []
        self.dataset_of: dict[str, str] = {}  # the other file's dataset uuid -> ours
        self.model_of: dict[str, str] = {}

    def all(self) -> None:
        steps: list[tuple[str, Callable[[], None]]] = [
            ("stored data", self.blobs),
            ("datasets", self.datasets),
            ("dataset versions", self.dataset_versions),
            ("experiments", self.experiments),
            ("models", self.models),
            ("model versions", self.model_versions),
            ("evaluations", self.evaluations),
            ("aliases", self.aliases),
            ("history", self.history),
        ]
        for index, (what, step) in enumerate(steps):
            if self.state is not None:
                self.state.check_cancelled()
                self.state.set_progress(index / len(steps), f"Merging {what}")
            step()

    def report(self) -> MergeReport:
        return MergeReport(self.label, self.added, self.notes, self.conflicts)

    def _count(self, kind: str, n: int = 1) -> None:
        self.added[kind] = self.added.get(kind, 0) + n

    def _rows(self, sql: str, params: tuple = ()) -> list[sqlite3.Row]:
        cursor = self.conn.execute(sql, params)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def _exists(self, table: str, uuid: str, column: str = "uuid") -> bool:
        found = self.conn.execute(f"SELECT 1 FROM main.{table} WHERE {column} = ?", (uuid,))
        return found.fetchone() is not None

    def _insert(self, table: str, row: dict) -> None:
        columns = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        self.conn.execute(
            f"INSERT INTO main.{table} ({columns}) VALUES ({marks})", tuple(row.values())
        )

    # -- payloads ---------------------------------------------------------------------------

    def blobs(self) -> None:
        missing = self._rows(
            f"SELECT id, sha256, size, chunk_count, created_at FROM {OTHER}.blobs "
            "WHERE sha256 NOT IN (SELECT sha256 FROM main.blobs)"
        )
        for blob in missing:
            cursor = self.conn.execute(
                "INSERT INTO main.blobs (sha256, size, chunk_count, created_at) "
                "VALUES (?, ?, ?, ?)",
                (blob["sha256"], blob["size"], blob["chunk_count"], blob["created_at"]),
            )
            self.conn.execute(
                "INSERT INTO main.blob_chunks (blob_id, seq, codec, data) "
                f"SELECT ?, seq, codec, data FROM {OTHER}.blob_chunks WHERE blob_id = ?",
                (cursor.lastrowid, blob["id"]),
            )
            # The other file is someone else's: what it claims to hold must hash to its name.
            problem = self.project.blobs.verify(blob["sha256"])
            if problem is not None:
                raise ProjectFileError(
                    f"{self.label} holds damaged data (payload {blob['sha256'][:12]}: "
                    f"{problem}), so nothing was merged: ask for a new copy."
                )
        self._count("stored payloads", len(missing))

    # -- datasets ---------------------------------------------------------------------------

    def _match_named(self, table: str, row: dict, kind: str) -> str:
        """Our uuid for the other file's dataset or model ``row``, adding it if it is new."""
        if self._exists(table, row["uuid"]):
            return row["uuid"]
        same_name = self.conn.execute(
            f"SELECT uuid FROM main.{table} WHERE name = ?", (row["name"],)
        ).fetchone()
        if same_name is not None:
            self.notes.append(
                f"Both projects have a {kind} called {row['name']}, made separately: its "
                f"versions from {self.label} were added to yours under the next free numbers."
            )
            return same_name[0]
        self._insert(table, row)
        self._count(f"{kind}s")
        return row["uuid"]

    def _number(self, table: str, owner: str, uuid: str, number: int) -> int:
        """``number`` if it is free in our dataset or model ``uuid``, else the next free one."""
        owner_column = "dataset_uuid" if table == "dataset_versions" else "model_uuid"
        taken = self.conn.execute(
            f"SELECT 1 FROM main.{table} WHERE {owner_column} = ? AND version = ?", (uuid, number)
        ).fetchone()
        if taken is None:
            return number
        (highest,) = self.conn.execute(
            f"SELECT max(version) FROM main.{table} WHERE {owner_column} = ?", (uuid,)
        ).fetchone()
        if table == "model_versions":
            (last,) = self.conn.execute(
                "SELECT last_version FROM main.models WHERE uuid = ?", (uuid,)
            ).fetchone()
            highest = max(highest or 0, last)
        new = next_number(highest or 0, f"version number of {owner!r}")
        self.notes.append(
            f"{owner}:{number} from {self.label} is {owner}:{new} here: the number was taken."
        )
        return new

    def datasets(self) -> None:
        for row in self._rows(f"SELECT uuid, name, created_at, created_by FROM {OTHER}.datasets"):
            self.dataset_of[row["uuid"]] = self._match_named("datasets", row, "dataset")

    def _new_versions(self, table: str, owners: str, owner_column: str, owner_of: dict):
        """The other file's versions (of datasets or models) that are not here yet, oldest
        first, each moved to our dataset or model and given a free number; the caller
        inserts each row and what goes with it."""
        rows = self._rows(
            f"SELECT v.*, o.name AS owner_name FROM {OTHER}.{table} v "
            f"JOIN {OTHER}.{owners} o ON o.uuid = v.{owner_column} "
            "ORDER BY v.created_at, v.version"
        )
        for row in rows:
            if self._exists(table, row["uuid"]):
                continue
            name = row.pop("owner_name")
            row[owner_column] = owner_of[row[owner_column]]
            row["version"] = self._number(table, name, row[owner_column], row["version"])
            yield row

    def dataset_versions(self) -> None:
        for row in self._new_versions(
            "dataset_versions", "datasets", "dataset_uuid", self.dataset_of
        ):
            self._insert("dataset_versions", row)
            self.conn.execute(
                "INSERT INTO main.dataset_version_parts (version_uuid, seq, rows, blob_sha256) "
                f"SELECT version_uuid, seq, rows, blob_sha256 FROM {OTHER}.dataset_version_parts "
                "WHERE version_uuid = ?",
                (row["uuid"],),
            )
            self._count("dataset versions")

    # -- experiments ------------------------------------------------------------------------

    def experiments(self) -> None:
        for row in self._rows(f"SELECT * FROM {OTHER}.experiments"):
            if self._exists("experiments", row["uuid"]):
                continue
            name = row["name"]
            suffix = 1
            while self.conn.execute(
                "SELECT 1 FROM main.experiments WHERE name = ?", (row["name"],)
            ).fetchone():
                suffix += 1
                row["name"] = f"{name}-{suffix}"
            if row["name"] != name:
                self.notes.append(
                    f"Both projects have an experiment called {name}, made separately: the one "
                    f"from {self.label} is {row['name']} here."
                )
            self._insert("experiments", row)
            self._count("experiments")

    # -- models -----------------------------------------------------------------------------

    def models(self) -> None:
        for row in self._rows(f"SELECT * FROM {OTHER}.models"):
            mine = self._match_named(
                "models", {k: v for k, v in row.items() if k != "last_version"}, "model"
            )
            self.model_of[row["uuid"]] = mine

    def model_versions(self) -> None:
        for row in self._new_versions("model_versions", "models", "model_uuid", self.model_of):
            row["job_uuid"] = None  # the job that trained it stays in its own queue
            self._insert("model_versions", row)
            self.conn.execute(
                "UPDATE main.models SET last_version = max(last_version, ?) WHERE uuid = ?",
                (row["version"], row["model_uuid"]),
            )
            self.conn.execute(
                "INSERT INTO main.model_references SELECT * FROM "
                f"{OTHER}.model_references WHERE version_uuid = ?",
                (row["uuid"],),
            )
            self._count("model versions")

    def evaluations(self) -> None:
        for row in self._rows(f"SELECT * FROM {OTHER}.evaluations"):
            if self._exists("evaluations", row["uuid"]):
                continue
            if not self._exists("dataset_versions", row["dataset_version_uuid"] or ""):
                row["dataset_version_uuid"] = None
            self._insert("evaluations", row)
            self._count("evaluations")

    def aliases(self) -> None:
        for row in self._rows(
            f"SELECT a.*, m.name AS model_name, v.version AS theirs FROM {OTHER}.aliases a "
            f"JOIN {OTHER}.models m ON m.uuid = a.model_uuid "
            f"JOIN {OTHER}.model_versions v ON v.uuid = a.version_uuid"
        ):
            name, theirs = row.pop("model_name"), row.pop("theirs")
            row["model_uuid"] = self.model_of[row["model_uuid"]]
            ours = self.conn.execute(
                "SELECT a.version_uuid, v.version FROM main.aliases a "
                "JOIN main.model_versions v ON v.uuid = a.version_uuid "
                "WHERE a.model_uuid = ? AND a.name = ?",
                (row["model_uuid"], row["name"]),
            ).fetchone()
            if ours is None:
                self._insert("aliases", row)
                self._count("aliases")
            elif ours[0] != row["version_uuid"]:
                (here,) = self.conn.execute(
                    "SELECT version FROM main.model_versions WHERE uuid = ?", (row["version_uuid"],)
                ).fetchone()
                self.conflicts.append(
                    f"{name}@{row['name']} points at {name}:{ours[1]} here and at {name}:{theirs} "
                    f"in {self.label} ({name}:{here} here): yours was kept; move it with Set "
                    "alias… if theirs should win."
                )
        for row in self._rows(f"SELECT * FROM {OTHER}.alias_gates"):
            row["model_uuid"] = self.model_of[row["model_uuid"]]
            if (
                self.conn.execute(
                    "SELECT 1 FROM main.alias_gates WHERE model_uuid = ? AND alias = ?",
                    (row["model_uuid"], row["alias"]),
                ).fetchone()
                is None
            ):
                self._insert("alias_gates", row)

    def history(self) -> None:
        for row in self._rows(f"SELECT * FROM {OTHER}.promotions"):
            if not self._exists("promotions", row["uuid"]):
                row["model_uuid"] = self.model_of[row["model_uuid"]]
                self._insert("promotions", row)
        cursor = self.conn.execute(
            "INSERT INTO main.events (uuid, at, actor, action, subject_kind, subject_uuid, "
            "summary, details) SELECT uuid, at, actor, action, subject_kind, subject_uuid, "
            f"summary, details FROM {OTHER}.events "
            "WHERE uuid NOT IN (SELECT uuid FROM main.events) ORDER BY at, id"
        )
        self._count("events", cursor.rowcount)
