"""Task functions the process-runner tests start in child processes (importable by name)."""

import os
import time

from mlops_desktop.domain.errors import DiskFullError, UserError


def count_up(n: int, state) -> int:
    for i in range(n):
        state.check_cancelled()
        state.set_progress((i + 1) / n, f"step {i + 1}")
    state.set_partial_result("half-way")
    return n * 2


def run_until_cancelled(state) -> None:
    while True:
        state.check_cancelled()
        time.sleep(0.01)


def ignore_cancel(state) -> None:
    time.sleep(60)


def fail_for_the_user(state) -> None:
    raise UserError("The column 'price' is missing: choose another target.")


def fail_disk_full(state) -> None:
    raise DiskFullError("The disk is full, so nothing was saved: free some space.")


def fail_unexpectedly(state) -> None:
    raise ZeroDivisionError("division by zero")


def die(state) -> None:
    os._exit(3)
