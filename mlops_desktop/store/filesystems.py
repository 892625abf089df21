"""Whether a project file lives in a shared folder: a network file system or a synced folder.

SQLite's write-ahead log needs shared memory that every process sees, which a network file
system cannot give (https://www.sqlite.org/wal.html), and sync clients copy a database file
while it is half-written. Such files are opened with a rollback journal instead, and the
app suggests working on a local copy.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

#: File-system types (as /proc/mounts names them) that are reached over a network.
NETWORK_TYPES = frozenset(
    {
        "nfs",
        "nfs4",
        "cifs",
        "smb3",
        "smbfs",
        "9p",
        "afs",
        "ceph",
        "coda",
        "davfs",
        "glusterfs",
        "gpfs",
        "lustre",
        "ncpfs",
        "sshfs",
        "fuse.sshfs",
        "fuse.glusterfs",
        "fuse.davfs2",
        "fuse.rclone",
        "fuse.s3fs",
        "fuse.gcsfuse",
    }
)
#: Folder names that sync clients create and keep in step with a server.
SYNCED_FOLDERS = (
    "Dropbox",
    "OneDrive",
    "Google Drive",
    "My Drive",
    "iCloud Drive",
    "Mobile Documents",  # iCloud Drive's real folder on macOS
    "Nextcloud",
    "ownCloud",
    "pCloudDrive",
    "Box Sync",
    "Seafile",
)
MOUNTS = Path("/proc/self/mounts")


def shared_location(path: Path, mounts: Path = MOUNTS) -> str | None:
    """What kind of shared place ``path`` is in ("a network file system (nfs4)", "a synced
    folder (Dropbox)"), or None for a local disk."""
    path = Path(os.path.realpath(path))
    kind = _network_file_system(path, mounts)
    if kind is not None:
        return f"a network file system ({kind})"
    for part in path.parts[:-1]:
        for name in SYNCED_FOLDERS:
            if part == name or part.startswith((f"{name} - ", f"{name}-")):  # "OneDrive - Org"
                return f"a synced folder ({name})"
    return None


def _network_file_system(path: Path, mounts: Path) -> str | None:
    if sys.platform == "win32":
        return _windows_network_drive(path)
    try:
        lines = mounts.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None  # not Linux, or no /proc: only the synced-folder names can tell
    best, best_type = "", None
    for line in lines:
        fields = line.split()
        if len(fields) < 3:
            continue
        point = _unescape(fields[1])
        inside = str(path) == point or str(path).startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best):
            best, best_type = point, fields[2]
    return best_type if best_type in NETWORK_TYPES else None


def _unescape(field: str) -> str:
    """/proc/mounts writes a space in a mount point as \\040 (and tab, newline, backslash)."""
    for code, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        field = field.replace(code, char)
    return field


def _windows_network_drive(path: Path) -> str | None:
    if str(path).startswith("\\\\"):
        return "a Windows share"
    import ctypes

    drive_remote = 4
    if ctypes.windll.kernel32.GetDriveTypeW(path.anchor) == drive_remote:  # type: ignore[attr-defined]
        return "a mapped network drive"
    return None
