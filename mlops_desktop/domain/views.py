"""Row views of a table: which rows, in which order, a sort and a filter select.

A view is an array of row numbers, so a million-row table is never copied to be shown
sorted or filtered. Filters use the same conditions as the recipe step "Filter rows".
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mlops_desktop.domain.recipe import condition_mask
from mlops_desktop.domain.tasks import TaskState


def filter_rows(
    table: pa.Table, column: str, operator: str, value, state: TaskState | None = None
) -> np.ndarray:
    """Row numbers of ``table`` where ``column operator value`` holds."""
    if state is not None:
        state.set_progress(None, f"Filtering on {column}")
    series = table.column(column).to_pandas()
    mask = condition_mask(series, operator, value).to_numpy()
    return np.flatnonzero(mask)


def sort_rows(
    table: pa.Table,
    column: str,
    descending: bool,
    rows: np.ndarray | None = None,
    state: TaskState | None = None,
) -> np.ndarray:
    """``rows`` (or all rows) ordered by ``column``; missing values last, ties stable."""
    if state is not None:
        state.set_progress(None, f"Sorting by {column}")
    values = table.column(column)
    if rows is not None:
        values = values.take(pa.array(rows))
    order = pc.sort_indices(
        pa.table({"v": values}),
        sort_keys=[("v", "descending" if descending else "ascending", "at_end")],
    ).to_numpy()
    return order if rows is None else rows[order]


def view_rows(
    table: pa.Table,
    condition: tuple[str, str, object] | None,
    sort: tuple[str, bool] | None,
    state: TaskState | None = None,
) -> np.ndarray | None:
    """Row numbers meeting ``condition`` (column, operator, value), in the order of ``sort``
    (column, descending); None for every row as it is."""
    rows = None if condition is None else filter_rows(table, *condition, state=state)
    if sort is not None:
        rows = sort_rows(table, *sort, rows, state)
    return rows
