"""Consistent copies of a project file, made with SQLite's online backup API.

A plain file copy taken while someone writes can be corrupt; the backup API copies a
consistent snapshot page by page. The copy is checked, made self-contained (rollback journal,
no ``-wal`` beside it), flushed to disk and only then renamed into place; its SHA-256 lets
whoever receives it check that it arrived whole.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from mlops_desktop.domain.errors import ProjectFileError
from mlops_desktop.domain.project import CopyReport
from mlops_desktop.domain.tasks import TaskState
from mlops_desktop.store.project_file import fsync_directory, fsync_file

if TYPE_CHECKING:
    from mlops_desktop.store.project_file import ProjectFile

PAGES_PER_STEP = 1024


def save_copy(project: ProjectFile, dest: str | os.PathLike, state: TaskState | None) -> CopyReport:
    dest = Path(dest).expanduser().absolute()
    if dest == project.path or (dest.exists() and dest.samefile(project.path)):
        raise ProjectFileError(
            "A copy cannot replace the project it is made from: choose another file name."
        )
    if not dest.parent.is_dir():
        raise ProjectFileError(f"The folder {dest.parent} does not exist: choose another.")
    partial = dest.with_name(f".{dest.name}.{uuid.uuid4().hex[:8]}.partial")

    def report(_status: int, remaining: int, total: int) -> None:
        if state is not None:
            state.check_cancelled()
            state.set_progress((total - remaining) / max(total, 1) * 0.9, "Copying")

    try:
        target = sqlite3.connect(partial, isolation_level=None)
        try:
            project.conn.backup(target, pages=PAGES_PER_STEP, progress=report)
        finally:
            target.close()
        if state is not None:
            state.set_progress(0.9, "Checking the copy")
        target = sqlite3.connect(partial, isolation_level=None)
        try:
            target.execute("PRAGMA journal_mode = DELETE")
            result = [r[0] for r in target.execute("PRAGMA integrity_check")]
        finally:
            target.close()
        if result != ["ok"]:
            raise ProjectFileError(
                f"The copy failed its integrity check ({result[0]}): run 'mlops-desktop project "
                "check' on the project, then try again."
            )
        fsync_file(partial)
        digest = _sha256(partial, state)
        os.replace(partial, dest)
        fsync_directory(dest.parent)
    except (OSError, sqlite3.OperationalError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise ProjectFileError(
            f"Could not write the copy to {dest} ({reason}): "
            "check the folder's free space and permissions."
        ) from None
    finally:
        for leftover in (partial, Path(f"{partial}-journal")):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()
    if state is not None:
        state.set_progress(1.0, "Copy saved")
    return CopyReport(str(dest), dest.stat().st_size, digest)


def _sha256(path: Path, state: TaskState | None) -> str:
    if state is not None:
        state.set_progress(0.95, "Fingerprinting the copy")
    with path.open("rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()
