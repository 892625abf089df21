"""Generated data shared by the benchmarks (cached under the system's temporary folder)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

CACHE = Path(tempfile.gettempdir()) / "mlops_desktop-benchmarks"


def mixed_csv(rows: int = 1_000_000, seed: int = 42) -> Path:
    """``rows`` x 20 columns: 8 float, 4 integer, 5 categorical, 3 date; 5 % missing each."""
    path = CACHE / f"mixed-{rows}-{seed}.csv"
    if path.exists():
        return path
    CACHE.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    columns = {}
    for i in range(8):
        columns[f"num_{i}"] = rng.normal(100 * i, 10 + i, rows).round(3)
    for i in range(4):
        columns[f"int_{i}"] = rng.integers(0, 10 ** (i + 2), rows)
    for i in range(5):
        levels = np.array([f"level_{j}" for j in range(3 + 5 * i)])
        columns[f"cat_{i}"] = levels[rng.integers(0, len(levels), rows)]
    start = np.datetime64("2020-01-01")
    for i in range(3):
        columns[f"date_{i}"] = start + rng.integers(0, 2000, rows).astype("timedelta64[D]")
    arrays = {}
    for name, values in columns.items():
        missing = rng.random(rows) < 0.05
        arrays[name] = pa.array(values, mask=missing)
    partial = path.with_suffix(".partial")
    pacsv.write_csv(pa.table(arrays), partial)
    partial.rename(path)
    return path
