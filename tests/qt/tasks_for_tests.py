"""Task functions for the Qt runner tests."""

from mlops_desktop.domain.errors import DiskFullError, UserError


def busy_count(limit: int, state) -> int:
    """CPU-bound pure-Python work that reports progress and honours cancel."""
    total = 0
    for i in range(limit):
        total += i * i
        if i % 10_000 == 0:
            state.check_cancelled()
            state.set_progress(i / limit, f"{i:,} of {limit:,}")
    return total


def refuse(state) -> None:
    raise UserError("The file has no header row: tick 'first row is data' and try again.")


def fails_disk_full(state) -> None:
    raise DiskFullError("The disk holding x.mlops is full, so nothing was saved: free some space.")
