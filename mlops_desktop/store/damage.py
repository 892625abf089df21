"""Stored rows that no longer decode: the file was damaged, and the user is told which one."""

from __future__ import annotations

import functools
import json
import sqlite3
from collections.abc import Callable

from mlops_desktop.domain.errors import CorruptProjectError

#: What decoding a damaged row can raise (bad JSON, a missing field, a wrong type).
DECODE_ERRORS = (KeyError, TypeError, ValueError, IndexError, AttributeError)


def undecodable(kind: str, key: object) -> CorruptProjectError:
    """The sentence for a stored row that cannot be read back, naming the object (raised
    instead of an error from deep inside the decoder)."""
    return CorruptProjectError(
        f"The stored {kind} {str(key)[:40]} is damaged, so it cannot be read: restore the "
        "project from a shared copy or a backup."
    )


def decodes(kind: str) -> Callable:
    """For a function that turns a stored row into an object: a row that no longer decodes
    (bit rot, a crafted file) becomes a sentence naming it by its first column."""

    def wrap(decode: Callable) -> Callable:
        @functools.wraps(decode)
        def decoding(row, *args, **kwargs):
            try:
                return decode(row, *args, **kwargs)
            except DECODE_ERRORS:
                raise undecodable(kind, row[0]) from None

        return decoding

    return wrap


def is_corruption(exc: sqlite3.DatabaseError) -> bool:
    text = str(exc).lower()
    damage = (
        "malformed",
        "not a database",
        "corrupt",
        "disk i/o",
        "unsupported file format",
        "could not decode",
    )
    return any(s in text for s in damage)


def reads(what: str) -> Callable:
    """For a method that reads ``what``: damaged pages met on the way become a sentence."""

    def wrap(method: Callable) -> Callable:
        @functools.wraps(method)
        def reading(*args, **kwargs):
            try:
                return method(*args, **kwargs)
            except (sqlite3.DatabaseError, json.JSONDecodeError) as exc:
                if isinstance(exc, sqlite3.DatabaseError) and not is_corruption(exc):
                    raise
                raise CorruptProjectError(
                    f"The project file is damaged where it keeps its {what} ({exc}): restore "
                    "it from a shared copy or a backup."
                ) from None

        return reading

    return wrap
