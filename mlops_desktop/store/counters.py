"""Numbers a project counts up (job numbers, model version numbers), checked before use."""

from __future__ import annotations

from mlops_desktop.domain.errors import CorruptProjectError

#: No project queues or trains this many times; a larger last number was written by hand,
#: and adding one to SQLite's largest integer would silently turn it into a float.
LIMIT = 2**53


def next_number(last, what: str) -> int:
    """``last + 1``, or ``CorruptProjectError`` if ``last`` is not a count a project reaches."""
    if not isinstance(last, int) or not 0 <= last < LIMIT:
        raise CorruptProjectError(
            f"The project file records {last!r} as its last {what}, which no project reaches: "
            "it is damaged or was crafted. Nothing was changed; restore it from a shared copy "
            "or a backup."
        )
    return last + 1
