"""Reads a file's SQLite header without opening it, so refused files are never touched."""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path

from mlops_desktop.domain.errors import (
    CorruptProjectError,
    NewerSchemaError,
    NotAProjectError,
    ProjectFileError,
)

SQLITE_MAGIC = b"SQLite format 3\x00"
HEADER_SIZE = 100


@dataclass(frozen=True)
class Header:
    """The fields of the 100-byte SQLite header that decide whether we may open a file."""

    page_size: int
    page_count: int | None  # None when the header's own count is stale (old writers)
    application_id: int
    user_version: int
    wal: bool
    file_size: int


def read_header(path: Path) -> Header:
    """Parse the header of ``path``; raise a ``ProjectFileError`` subclass if it is not SQLite."""
    if not path.exists():
        raise ProjectFileError(
            f"There is no project file at {path}: check the path, or create a project there first."
        )
    if path.is_dir():
        raise ProjectFileError(f"{path} is a folder, not a project file: choose the file itself.")
    try:
        with path.open("rb") as f:
            raw = f.read(HEADER_SIZE)
            size = os.fstat(f.fileno()).st_size
    except PermissionError:
        raise ProjectFileError(
            f"{path} cannot be read (permission denied): ask its owner for access or copy it."
        ) from None
    if size == 0:
        raise NotAProjectError(f"{path} is empty, so it is not a project file: choose another.")
    if not raw.startswith(SQLITE_MAGIC[:15]):
        raise NotAProjectError(
            f"{path} is not a project file (it is not an SQLite database): "
            "choose a file made by mlops_desktop."
        )
    if len(raw) < HEADER_SIZE:
        raise CorruptProjectError(
            f"{path} is damaged: it ends inside its own header. "
            "Restore it from a shared copy or a backup."
        )
    page_size = struct.unpack(">H", raw[16:18])[0]
    page_size = 65536 if page_size == 1 else page_size
    change_counter, page_count = struct.unpack(">II", raw[24:32])
    version_valid_for = struct.unpack(">I", raw[92:96])[0]
    user_version, _, application_id = struct.unpack(">iii", raw[60:72])
    if page_size < 512 or page_size & (page_size - 1):
        raise CorruptProjectError(
            f"{path} is damaged: its header names an impossible page size ({page_size}). "
            "Restore it from a shared copy or a backup."
        )
    return Header(
        page_size=page_size,
        page_count=page_count if version_valid_for == change_counter else None,
        application_id=application_id & 0xFFFFFFFF,
        user_version=user_version,
        wal=raw[18] == 2 and raw[19] == 2,
        file_size=size,
    )


def check_header(path: Path, application_id: int, schema_version: int) -> Header:
    """Refuse, with a sentence, any file that is not a project this version can open."""
    header = read_header(path)
    if header.application_id != application_id:
        raise NotAProjectError(
            f"{path} is an SQLite database but not an mlops_desktop project: "
            "choose a file made by mlops_desktop, or import its data from the Data panel."
        )
    expected = (header.page_count or 0) * header.page_size
    if header.file_size % header.page_size or header.file_size < expected:
        raise CorruptProjectError(
            f"{path} is damaged: it is shorter than its header says "
            f"({header.file_size:,} of {expected:,} bytes), probably cut off while copying. "
            "Restore it from a shared copy or a backup."
        )
    if header.user_version > schema_version:
        raise NewerSchemaError(
            f"{path} was saved by a newer version of mlops_desktop (project schema "
            f"{header.user_version}; this version reads up to {schema_version}): "
            "update mlops_desktop to open it."
        )
    if header.user_version < 1:
        raise CorruptProjectError(
            f"{path} is an unfinished project file (it has no schema yet): "
            "create the project again or restore it from a backup."
        )
    return header
