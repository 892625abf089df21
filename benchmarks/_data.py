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


def customers_csv(rows: int = 12_000, seed: int = 7) -> Path:
    """Customers who churn or stay: 5 numeric and 3 categorical columns, gaps in most, and
    a true/false one; ``churned`` (yes/no) depends on several of them."""
    path = CACHE / f"customers-{rows}-{seed}.csv"
    if path.exists():
        return path
    CACHE.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    tenure = rng.integers(1, 72, rows)
    monthly = rng.uniform(10, 120, rows).round(2)
    calls = rng.poisson(2, rows)
    usage = rng.gamma(2.0, 30.0, rows).round(1)
    age = rng.integers(18, 90, rows)
    plan = np.array(["basic", "pro", "max"])[rng.integers(0, 3, rows)]
    region = np.array(["north", "south", "east", "west", "centre"])[rng.integers(0, 5, rows)]
    channel = np.array(["web", "shop", "phone", "partner"])[rng.integers(0, 4, rows)]
    autopay = rng.random(rows) < 0.6
    score = (
        -0.03 * tenure
        + 0.02 * monthly
        + 0.3 * calls
        - 0.01 * usage
        + np.where(plan == "basic", 0.8, 0.0)
        + np.where(autopay, -0.7, 0.0)
    )
    churned = np.where(rng.random(rows) < 1 / (1 + np.exp(-(score - 0.5))), "yes", "no")
    columns = {
        "tenure": tenure,
        "monthly": monthly,
        "calls": calls,
        "usage": usage,
        "age": age,
        "plan": plan,
        "region": region,
        "channel": channel,
        "autopay": autopay,
    }
    arrays = {
        name: pa.array(values, mask=rng.random(rows) < (0.04 if name != "autopay" else 0.0))
        for name, values in columns.items()
    }
    arrays["churned"] = pa.array(churned)
    partial = path.with_suffix(".partial")
    pacsv.write_csv(pa.table(arrays), partial)
    partial.rename(path)
    return path
