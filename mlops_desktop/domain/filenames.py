"""File names suggested from names stored in a project, which may come from anyone."""

from __future__ import annotations

import re

#: Path separators, the separators of labels, and what no file system takes in a name.
_UNSAFE = re.compile(r'[/\\:@<>"|?*\x00-\x1f\x7f]')


def file_stem(name: str, fallback: str = "export") -> str:
    """``name`` as one file name in the chosen folder: never a path, never hidden, never
    ``..``, at most 120 characters."""
    stem = _UNSAFE.sub("-", name).strip(" .")[:120].strip(" .")
    return stem or fallback
