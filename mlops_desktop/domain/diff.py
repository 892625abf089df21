"""Differences between two versions of a dataset: rows, columns and summary statistics."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from mlops_desktop.domain.profile import ColumnProfile, TableProfile

#: The statistics compared side by side, by column kind.
_STATS = ("missing", "unique", "mean", "std", "min", "max")


@dataclass
class DatasetDiff:
    label_a: str
    label_b: str
    rows_a: int
    rows_b: int
    rows_added: int  # rows in b that a does not have (compared on the shared columns)
    rows_removed: int  # rows in a that b does not have
    columns_added: list[str]
    columns_removed: list[str]
    type_changes: list[tuple[str, str, str]]  # (column, type in a, type in b)
    stats: list[tuple[str, str, object, object]] = field(default_factory=list)

    @property
    def identical(self) -> bool:
        return (
            not self.rows_added
            and not self.rows_removed
            and not self.columns_added
            and not self.columns_removed
            and not self.type_changes
        )

    def to_json(self) -> dict:
        return {
            "a": self.label_a,
            "b": self.label_b,
            "rows_a": self.rows_a,
            "rows_b": self.rows_b,
            "rows_added": self.rows_added,
            "rows_removed": self.rows_removed,
            "columns_added": self.columns_added,
            "columns_removed": self.columns_removed,
            "type_changes": [list(t) for t in self.type_changes],
            "stats": [list(s) for s in self.stats],
        }


def _row_hashes(frame: pd.DataFrame) -> pd.Series:
    # Text form, so that a column whose type changed still matches equal-looking values.
    as_text = frame.apply(_as_text).where(frame.notna(), "\0missing")
    return pd.util.hash_pandas_object(as_text, index=False)


def _as_text(column: pd.Series) -> pd.Series:
    """Values as text, whole floats written as integers: 1.0 and -0.0 match an integer
    column's 1 and 0. Past 2**53 floats are not exact integers and keep their own form."""
    text = column.astype("str")
    if pd.api.types.is_float_dtype(column):
        whole = (column % 1 == 0) & (column.abs() < 2**53)
        if whole.any():
            text = text.astype("object")
            text[whole] = column[whole].astype("int64").astype("str")
    return text


def _stat(profile: ColumnProfile, name: str):
    if name in ("missing", "unique"):
        return getattr(profile, name)
    return profile.stats.get(name)


def diff(
    label_a: str,
    a: pd.DataFrame,
    profile_a: TableProfile,
    label_b: str,
    b: pd.DataFrame,
    profile_b: TableProfile,
) -> DatasetDiff:
    shared = [c for c in a.columns if c in b.columns]
    if shared:
        counts_a = _row_hashes(a[shared]).value_counts()
        counts_b = _row_hashes(b[shared]).value_counts()
        both = pd.concat([counts_a, counts_b], axis=1).fillna(0)
        delta = both.iloc[:, 1] - both.iloc[:, 0]
        added, removed = int(delta[delta > 0].sum()), int(-delta[delta < 0].sum())
    else:
        added, removed = len(b), len(a)
    types_a = {c.name: c for c in profile_a.columns}
    types_b = {c.name: c for c in profile_b.columns}
    type_changes = [
        (c, types_a[c].type, types_b[c].type)
        for c in shared
        if c in types_a and c in types_b and types_a[c].type != types_b[c].type
    ]
    stats = []
    for column in shared:
        if column not in types_a or column not in types_b:
            continue
        for name in _STATS:
            va, vb = _stat(types_a[column], name), _stat(types_b[column], name)
            if va is not None or vb is not None:
                stats.append((column, name, va, vb))
    return DatasetDiff(
        label_a=label_a,
        label_b=label_b,
        rows_a=len(a),
        rows_b=len(b),
        rows_added=added,
        rows_removed=removed,
        columns_added=[c for c in b.columns if c not in a.columns],
        columns_removed=[c for c in a.columns if c not in b.columns],
        type_changes=type_changes,
        stats=stats,
    )
