"""Create, open, migrate and close a project file: one SQLite database with fixed pragmas."""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator
from functools import cache, cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from mlops_desktop.domain.errors import (
    CorruptProjectError,
    DiskFullError,
    NewerSchemaError,
    ProjectFileError,
    ReadOnlyProjectError,
    UntrustedProjectError,
)
from mlops_desktop.domain.project import COUNTED_OBJECTS
from mlops_desktop.store import filesystems, flushing, migrations
from mlops_desktop.store.clock import utc_now
from mlops_desktop.store.damage import is_corruption
from mlops_desktop.store.header import check_header
from mlops_desktop.store.identity import current_actor
from mlops_desktop.version import __version__

if TYPE_CHECKING:
    import sqlite_utils

    from mlops_desktop.store.aliases import AliasRepository
    from mlops_desktop.store.blobs import BlobStore
    from mlops_desktop.store.datasets import DatasetRepository
    from mlops_desktop.store.evaluations import EvaluationRepository
    from mlops_desktop.store.events import EventLog
    from mlops_desktop.store.experiments import ExperimentRepository
    from mlops_desktop.store.jobs import JobRepository
    from mlops_desktop.store.models import ModelRepository
    from mlops_desktop.store.monitoring import MonitoringRepository
    from mlops_desktop.store.openers import OpenerRegistry
    from mlops_desktop.store.retrains import RetrainRepository
    from mlops_desktop.store.serving import ServingRepository
    from mlops_desktop.store.settings import Settings

log = logging.getLogger(__name__)

#: PRAGMA application_id of every project file: "MLOD" in ASCII.
APPLICATION_ID = 0x4D4C4F44
PROJECT_SUFFIX = ".mlops"
BUSY_TIMEOUT_MS = 10_000
PAGE_SIZE = 65536
#: Page cache per connection, in KiB (SQLite's default of 2 MB holds only 31 large pages).
CACHE_KIB = 32_768


@cache
def _schema_of(shipped: tuple[migrations.Migration, ...]) -> frozenset[tuple[str, str, str]]:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    try:
        for migration in shipped:
            migrations.apply(conn, migration, utc_now(), __version__)
        return frozenset(conn.execute("SELECT type, name, sql FROM sqlite_master"))
    finally:
        conn.close()


def _expected_schema() -> frozenset[tuple[str, str, str]]:
    """What the migrations this version ships make, built once in memory."""
    return _schema_of(tuple(migrations.MIGRATIONS))


def writable_on_disk(path: Path) -> bool:
    """Whether SQLite can write ``path``: the file, and its folder for the journal and WAL."""
    return os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)


def _unwritable_folder(path: Path) -> str:
    """How to read a project in a folder nobody may write (a read-only share): SQLite's
    readers of a WAL file need a -shm file beside it, which cannot be made there. With no
    changes left outside the file itself, it is read as it is, "immutable"."""
    wal = path.with_name(path.name + "-wal")
    if wal.exists() and wal.stat().st_size:
        raise ProjectFileError(
            f"{path} has changes not yet merged into it ({wal.name}), and its folder cannot "
            "be written to merge them: open it once where it can be written, or copy it "
            "with its folder to one you can write."
        )
    return "&immutable=1"


class ProjectFile:
    """An open connection to one project file.

    Construct with ``create`` or ``open``. The connection runs in autocommit mode: every change
    that touches more than one row goes through ``transaction()``.
    """

    def __init__(self, path: Path, conn: sqlite3.Connection, read_only: bool):
        self.path = path
        self.conn = conn
        self.read_only = read_only
        self._key: tuple[int, int] | None = None
        #: "a network file system (nfs4)" and the like, where the file is not in WAL mode.
        self.shared_location: str | None = None
        #: The last write failed because the disk is full or the file became read-only (and
        #: none has worked since): the app then offers to browse the file read-only.
        self.write_refused = False

    # -- opening and closing -------------------------------------------------------------------

    @classmethod
    def create(cls, path: str | os.PathLike, name: str | None = None) -> ProjectFile:
        """Create a new project at ``path``; it appears there complete or not at all."""
        path = Path(path).expanduser().absolute()
        if path.exists():
            raise ProjectFileError(
                f"{path} already exists: open it, or choose another name for the new project."
            )
        if not path.parent.is_dir():
            raise ProjectFileError(
                f"The folder {path.parent} does not exist: create it first or choose another."
            )
        partial = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.partial")
        try:
            conn = sqlite3.connect(partial, isolation_level=None)
        except sqlite3.OperationalError as exc:
            raise ProjectFileError(
                f"Cannot create a project in {path.parent} ({exc}): choose a folder you can write."
            ) from None
        try:
            # Large pages: most bytes are blob chunks, which 64 KiB pages write several times
            # faster than 4 KiB ones (measured 0.06 s against 0.17 s for 48 MB).
            conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            conn.execute("BEGIN IMMEDIATE")
            now = utc_now()
            for migration in migrations.pending(0):
                migrations.apply(conn, migration, now, __version__)
            project_uuid, name = str(uuid.uuid4()), name or path.stem
            conn.execute(
                "INSERT INTO project (id, uuid, name, created_at, created_by) "
                "VALUES (1, ?, ?, ?, ?)",
                (project_uuid, name, now, current_actor()),
            )
            cls(path, conn, read_only=False).events.record(
                "project.create", f"Created project {name}", "project", project_uuid
            )
            conn.execute("COMMIT")
            if filesystems.shared_location(path) is None:
                conn.execute("PRAGMA journal_mode = WAL")
            conn.close()
            fsync_file(partial)
            _remove_orphaned_journals(path)
            _publish_without_clobber(partial, path)
        except BaseException:
            conn.close()
            partial.unlink(missing_ok=True)
            raise
        log.info("created project %s", path)
        return cls.open(path)

    @classmethod
    def open(
        cls, path: str | os.PathLike, read_only: bool = False, back_up: bool = True
    ) -> ProjectFile:
        """Open an existing project; refuse (and leave untouched) anything we cannot read.

        A project of an older schema is upgraded, after a backup beside it unless
        ``back_up`` is False (for a scratch copy that is thrown away)."""
        path = Path(path).expanduser().absolute()
        key = _file_key(path)
        # A file this process already has open was checked when it was first opened; what it
        # holds since was written by mlops_desktop (the queue reopens it several times a
        # second, and quick_check reads every page: about 0.3 s per GB).
        first_here = not _OPEN.holds(key)
        if first_here:
            # Only when no connection of this process has the file open: closing the file
            # handle that reads the header would drop every POSIX lock SQLite holds on it.
            check_header(path, APPLICATION_ID, migrations.LATEST_VERSION)
        if not read_only and not writable_on_disk(path):
            raise ProjectFileError(
                f"{path} is read-only on disk: open it read-only, or copy it to a folder you "
                "can write."
            )
        uri = path.as_uri() + ("?mode=ro" if read_only else "?mode=rw")
        if read_only and not os.access(path.parent, os.W_OK):
            uri += _unwritable_folder(path)
        try:
            conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=True)
        except sqlite3.OperationalError as exc:
            raise ProjectFileError(
                f"Cannot open {path} ({exc}): check the file's permissions."
            ) from None
        project = cls(path, conn, read_only)
        try:
            project._configure()
            project._vet(pages=first_here)
            project._bring_up_to_date(back_up)
            project._check_schema()
            project.project_row()  # reads past page 1: most damage shows here, not later
        except UnicodeDecodeError:  # text in the file's own tables that is not text
            conn.close()
            raise CorruptProjectError(
                f"{path} is damaged (text that does not decode): restore it from a shared copy "
                "or a backup."
            ) from None
        except sqlite3.DatabaseError as exc:
            conn.close()
            if is_corruption(exc):
                raise CorruptProjectError(
                    f"{path} is damaged ({exc}): restore it from a shared copy or a backup."
                ) from None
            raise
        except BaseException:
            conn.close()
            raise
        project._key = _OPEN.add(_file_key(path))
        log.info("opened project %s%s", path, " read-only" if read_only else "")
        return project

    def _configure(self) -> None:
        c = self.conn
        c.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        c.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
        c.execute("PRAGMA foreign_keys = ON")
        # A project file can come from anyone: damaged pages are caught as they are read,
        # nothing is memory-mapped (a crafted or truncated file must fail a read, not crash
        # the process), and the file's own schema may not call functions with side effects.
        c.execute("PRAGMA trusted_schema = OFF")
        c.execute("PRAGMA cell_size_check = ON")
        c.execute("PRAGMA mmap_size = 0")
        self.shared_location = filesystems.shared_location(self.path)
        if self.read_only:
            c.execute("PRAGMA query_only = ON")
        else:
            # WAL needs memory shared by every process using the file, which no network file
            # system gives: there the rollback journal it replaced is the safe choice.
            mode = "WAL" if self.shared_location is None else "DELETE"
            got = c.execute(f"PRAGMA journal_mode = {mode}").fetchone()[0]
            if got.upper() != mode:  # another connection holds it in WAL mode: leave it
                log.warning("%s stays in %s mode, not %s", self.path, got, mode)
            c.execute("PRAGMA synchronous = FULL")
        # The header check ran on the main file only; a WAL may hold a newer schema.
        if c.execute("PRAGMA application_id").fetchone()[0] != APPLICATION_ID:
            raise CorruptProjectError(
                f"{self.path} lost its project marker: restore it from a shared copy or a backup."
            )

    def _check_schema(self, version: int | None = None) -> None:
        """Every table, index and trigger as the migrations (up to ``version``) made them:
        a damaged schema would otherwise surface later as a query naming a column that is
        not there, and a crafted one could carry triggers or views of its own."""
        try:
            found = set(self.conn.execute("SELECT type, name, sql FROM sqlite_master"))
        except sqlite3.OperationalError:  # text that is not even UTF-8 any more
            found = set()
        if version is None:
            expected = _expected_schema()
        else:
            expected = _schema_of(tuple(m for m in migrations.MIGRATIONS if m.version <= version))
        missing = sorted(name for kind, name, sql in expected if (kind, name, sql) not in found)
        if missing:
            raise CorruptProjectError(
                f"{self.path} is damaged (its {missing[0]} is not as mlops_desktop made it): "
                "restore it from a shared copy or a backup."
            )
        # SQLite's own tables (statistics, automatic indexes) may appear; nothing else may.
        added = sorted(
            f"{kind} {name}"
            for kind, name, sql in found - expected
            if not (kind in ("table", "index") and name.startswith("sqlite_"))
        )
        if added:
            raise UntrustedProjectError(
                f"{self.path} is not safe to open: its schema holds a {added[0]} that "
                "mlops_desktop did not make. Ask for a copy made with File > Share a Copy…."
            )

    def _vet(self, pages: bool) -> None:
        """Check a file that may come from anyone before anything else reads it: a schema
        exactly as shipped for its version, then (if ``pages``) SQLite's quick_check of
        every page."""
        version = self.schema_version
        if version > migrations.LATEST_VERSION:
            raise NewerSchemaError(
                f"{self.path} was saved by a newer version of mlops_desktop (project schema "
                f"{version}; this version reads up to {migrations.LATEST_VERSION}): "
                "update mlops_desktop to open it."
            )
        with self._trusting_older_schema(version):
            self._check_schema(version)
            problems = [r[0] for r in self.conn.execute("PRAGMA quick_check")] if pages else []
        if problems not in ([], ["ok"]):
            raise CorruptProjectError(
                f"{self.path} is damaged ({problems[0]}): restore it from a shared copy or a "
                "backup."
            )

    @contextlib.contextmanager
    def _trusting_older_schema(self, version: int) -> Iterator[None]:
        """Schemas older than version 10 use json_valid(), which SQLite reads only with
        trusted_schema on: allowed for them alone, and only once ``_check_schema`` has
        found (or is about to find) the schema exactly as a version we shipped made it."""
        if version >= migrations.TRUSTED_SCHEMA_OFF_SINCE:
            yield
            return
        self.conn.execute("PRAGMA trusted_schema = ON")
        try:
            yield
        finally:
            self.conn.execute("PRAGMA trusted_schema = OFF")

    def _bring_up_to_date(self, back_up: bool) -> None:
        version = self.schema_version
        todo = migrations.pending(version)
        if not todo:
            return
        if self.read_only:
            raise ProjectFileError(
                f"{self.path} was made by an older version of mlops_desktop and must be upgraded "
                "before it can be read: open it once read-write (File > Open)."
            )
        with self._trusting_older_schema(version):
            if back_up:
                self._back_up_before_migrating(version)
            with self.transaction():
                now = utc_now()
                for migration in todo:
                    log.info("migrating %s to schema %d", self.path, migration.version)
                    migrations.apply(self.conn, migration, now, __version__)

    def _back_up_before_migrating(self, version: int) -> Path:
        """Keep the file as it was, beside it, before an upgrade changes it: a consistent,
        checked copy that the older app can still open."""
        from mlops_desktop.store.copies import save_copy

        backup = self.path.with_name(f"{self.path.name}.schema-{version}.backup")
        save_copy(self, backup, None)
        log.info("backed up %s to %s before migrating it", self.path, backup)
        return backup

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            _OPEN.remove(self._key)
            self.conn = None
            log.info("closed project %s", self.path)

    def __enter__(self) -> ProjectFile:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # -- transactions --------------------------------------------------------------------------

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """All-or-nothing writes. Nested calls become savepoints (sqlite-utils' ``atomic``)."""
        if self.read_only:
            raise ReadOnlyProjectError(
                f"{self.path.name} is open read-only: reopen it read-write to make changes."
            )
        if self.conn.in_transaction:
            with self.db.atomic():
                yield self.conn
            return
        # IMMEDIATE takes the write lock up front: a deferred transaction that later upgrades
        # can fail with SQLITE_BUSY at once, which the busy timeout cannot retry.
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")
            self.write_refused = False
        except sqlite3.OperationalError as exc:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise self.explain_write_error(exc) from None

    def flushing_early(self) -> contextlib.AbstractContextManager[Callable[[int], None]]:
        """Inside a transaction that writes many megabytes (a dataset's parts): a function to
        call before each large write, with its size, so that the commit finds most pages on
        disk already."""
        return flushing.flushing_early(self.conn, self.path, CACHE_KIB)

    def explain_write_error(self, exc: sqlite3.OperationalError) -> Exception:
        """The common reasons a write fails, as sentences; anything else unchanged."""
        text = str(exc).lower()
        name = self.path.name
        if "full" in text:
            self.write_refused = True
            return DiskFullError(
                f"The disk holding {name} is full, so nothing was saved: free some space and "
                "try again."
            )
        if "locked" in text or "busy" in text:
            return ProjectFileError(
                f"{name} is busy: another program kept it locked for over "
                f"{BUSY_TIMEOUT_MS // 1000} seconds, so nothing was saved. Try again."
            )
        if "readonly" in text or "read-only" in text:
            self.write_refused = True
            return ReadOnlyProjectError(
                f"{name} cannot be written (it became read-only), so nothing was saved: "
                "check the file's permissions, or save a copy elsewhere."
            )
        return exc

    @cached_property
    def db(self) -> sqlite_utils.Database:
        """The sqlite-utils view of the same connection (imported on first use: it is slow)."""
        import sqlite_utils

        return sqlite_utils.Database(self.conn, execute_plugins=False)

    # -- what the file holds -------------------------------------------------------------------

    @property
    def schema_version(self) -> int:
        return self.conn.execute("PRAGMA user_version").fetchone()[0]

    def data_version(self) -> int:
        """Changes whenever another connection commits to the file (cheap to poll)."""
        return self.conn.execute("PRAGMA data_version").fetchone()[0]

    def history_mark(self) -> int:
        """Grows with every change people see: each one records an event in its own
        transaction. A server's prediction log (written every second) and a job's progress
        do not, so they leave it as it is."""
        return self.conn.execute("SELECT IFNULL(MAX(id), 0) FROM events").fetchone()[0]

    def project_row(self) -> dict:
        row = self.conn.execute(
            "SELECT uuid, name, created_at, created_by FROM project WHERE id = 1"
        ).fetchone()
        if row is None:
            raise CorruptProjectError(
                f"{self.path} has lost its project record: restore it from a backup."
            )
        return dict(zip(("uuid", "name", "created_at", "created_by"), row, strict=True))

    def table_names(self) -> set[str]:
        rows = self.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        return {r[0] for r in rows}

    def counts(self) -> dict[str, int]:
        """How many of each lifecycle object the file holds; a kind not yet stored counts 0."""
        present = self.table_names()
        return {
            kind: (
                self.conn.execute(f'SELECT count(*) FROM "{kind}"').fetchone()[0]
                if kind in present
                else 0
            )
            for kind in COUNTED_OBJECTS
        }

    def size_bytes(self) -> int:
        total = 0
        for suffix in ("", "-wal"):
            with contextlib.suppress(FileNotFoundError):
                total += Path(f"{self.path}{suffix}").stat().st_size
        return total

    @cached_property
    def blobs(self) -> BlobStore:
        from mlops_desktop.store.blobs import BlobStore

        return BlobStore(self)

    @cached_property
    def datasets(self) -> DatasetRepository:
        from mlops_desktop.store.datasets import DatasetRepository

        return DatasetRepository(self)

    @cached_property
    def experiments(self) -> ExperimentRepository:
        from mlops_desktop.store.experiments import ExperimentRepository

        return ExperimentRepository(self)

    @cached_property
    def events(self) -> EventLog:
        from mlops_desktop.store.events import EventLog

        return EventLog(self)

    @cached_property
    def openers(self) -> OpenerRegistry:
        from mlops_desktop.store.openers import OpenerRegistry

        return OpenerRegistry(self)

    @cached_property
    def jobs(self) -> JobRepository:
        from mlops_desktop.store.jobs import JobRepository

        return JobRepository(self)

    @cached_property
    def models(self) -> ModelRepository:
        from mlops_desktop.store.models import ModelRepository

        return ModelRepository(self)

    @cached_property
    def aliases(self) -> AliasRepository:
        from mlops_desktop.store.aliases import AliasRepository

        return AliasRepository(self)

    @cached_property
    def evaluations(self) -> EvaluationRepository:
        from mlops_desktop.store.evaluations import EvaluationRepository

        return EvaluationRepository(self)

    @cached_property
    def serving(self) -> ServingRepository:
        from mlops_desktop.store.serving import ServingRepository

        return ServingRepository(self)

    @cached_property
    def monitoring(self) -> MonitoringRepository:
        from mlops_desktop.store.monitoring import MonitoringRepository

        return MonitoringRepository(self)

    @cached_property
    def retrains(self) -> RetrainRepository:
        from mlops_desktop.store.retrains import RetrainRepository

        return RetrainRepository(self)

    @cached_property
    def settings(self) -> Settings:
        from mlops_desktop.store.settings import Settings

        return Settings(self)


class _OpenFiles:
    """Which project files this process has connections to, by device and inode."""

    def __init__(self):
        self._lock = threading.Lock()
        self._counts: dict[tuple[int, int], int] = {}

    def holds(self, key: tuple[int, int] | None) -> bool:
        with self._lock:
            return key is not None and self._counts.get(key, 0) > 0

    def add(self, key: tuple[int, int] | None) -> tuple[int, int] | None:
        if key is not None:
            with self._lock:
                self._counts[key] = self._counts.get(key, 0) + 1
        return key

    def remove(self, key: tuple[int, int] | None) -> None:
        if key is not None:
            with self._lock:
                self._counts[key] -= 1
                if not self._counts[key]:
                    del self._counts[key]


_OPEN = _OpenFiles()


def _file_key(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()  # stat takes no lock and opens nothing
    except OSError:
        return None
    return st.st_dev, st.st_ino


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_directory(folder: Path) -> None:
    """Make a rename in ``folder`` durable (no-op where directories cannot be opened)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _remove_orphaned_journals(path: Path) -> None:
    """Delete the journal files a deleted project left beside ``path``: SQLite would replay
    them into the new file of the same name. Without their database they hold nothing."""
    for suffix in ("-wal", "-shm", "-journal"):
        leftover = path.with_name(path.name + suffix)
        if leftover.exists() and not path.exists():
            log.warning("removing %s, left by a project deleted from %s", leftover, path)
            leftover.unlink()


def _publish_without_clobber(partial: Path, final: Path) -> None:
    """Move a finished file into place, failing rather than overwriting a file made meanwhile."""
    try:
        os.link(partial, final)
    except FileExistsError:
        raise ProjectFileError(
            f"{final} appeared while the project was being created: choose another name."
        ) from None
    except OSError:
        # Some file systems (FAT, some network shares) have no hard links.
        if final.exists():
            raise ProjectFileError(f"{final} already exists: choose another name.") from None
        os.replace(partial, final)
    else:
        partial.unlink()
    fsync_directory(final.parent)
