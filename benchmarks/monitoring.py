"""Drift over a 1,000,000-row prediction log of 20 features, against reading those rows.

Trains a logistic regression on 16 numeric and 4 categorical generated columns, writes a
1,000,000-row prediction log for it (two of the columns drifted), then prints, as medians of
``--runs``:
- reading the log into pandas (``project.serving.predictions_frame``), the anchor;
- the served-traffic drift report (``project.monitoring.served_drift``, which reads the same
  rows and compares every column and the predictions with the version's reference); target
  under 2x the anchor.

    python benchmarks/monitoring.py [--rows 1000000] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
from _timing import median_time

NUMERIC, CATEGORICAL = 16, 4
PER_REQUEST = 10_000  # rows per logged request, so that building the log is quick


def columns(rows: int, rng, shift: float = 0.0) -> dict[str, np.ndarray]:
    data = {f"x{i}": rng.normal(shift if i < 2 else 0.0, 1.0, rows) for i in range(NUMERIC)}
    levels = np.array(["red", "green", "blue", "amber", "grey"], dtype=object)
    for i in range(CATEGORICAL):
        data[f"c{i}"] = levels[rng.integers(0, len(levels), rows)]
    return data


def make_project(folder: Path) -> Path:
    from mlops_desktop.domain.experiment import ExperimentSpec
    from mlops_desktop.services.project import Project
    from mlops_desktop.services.worker import Worker

    rng = np.random.default_rng(3)
    data = columns(5_000, rng)
    data["y"] = np.where(data["x0"] + data["x1"] + rng.normal(0, 1, 5_000) > 0, "yes", "no")
    csv = folder / "training.csv"
    pacsv.write_csv(pa.table(data), csv)
    path = folder / "monitoring.mlops"
    with Project.create(path) as project:
        project.datasets.import_file(str(csv), name="wide")
        spec = {"dataset": "wide", "target": "y", "name": "wide", "estimator": "LogisticRegression"}
        project.experiments.save(ExperimentSpec.from_json(spec))
        project.queue.enqueue("wide")
    Worker(str(path)).run()
    return path


def write_log(path: Path, rows: int) -> str:
    """``rows`` logged rows of wide:1, the first two columns shifted by half a deviation."""
    from mlops_desktop.services.project import Project
    from mlops_desktop.store import serving as log_store

    rng = np.random.default_rng(4)
    with Project.open(path) as project:
        version = project.models.get("wide:1")
        session = project.serving.start_session(version, port=5005)
        file = project.file
        started = time.time() - 3600
        for k in range(rows // PER_REQUEST):
            entry = (
                f"request-{k}",
                version.uuid,
                started + k,
                2.0,
                columns(PER_REQUEST, rng, shift=0.5),
                list(rng.choice(["yes", "no"], PER_REQUEST)),
            )
            table, requests, _ = log_store.build_table([entry])
            with file.transaction():
                file.serving.add_batch(session.uuid, version.uuid, table, requests, level=1)
        project.serving.stop_session(session.uuid)
    return version.uuid


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    from mlops_desktop.services.project import Project

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        os.environ["MLOPS_DESKTOP_HOME"] = str(folder / "home")
        path = make_project(folder)
        version_uuid = write_log(path, args.rows)
        with Project.open(path) as project:
            read = median_time(lambda: project.serving.predictions_frame(version_uuid), args.runs)
            drift = median_time(lambda: project.monitoring.served_drift("wide:1"), args.runs)
            report = project.monitoring.served_drift("wide:1")
    flagged = [c.name for c in report.drift.columns if c.status != "green"]
    print(f"log     {args.rows:,} rows x {NUMERIC + CATEGORICAL} features")
    print(f"anchor  read the log into pandas          median {read:.2f} s ({args.runs} runs)")
    print(
        f"drift   served-traffic drift report       median {drift:.2f} s  ratio "
        f"{drift / read:.2f}x (target < 2x)"
    )
    print(f"found   drifted columns {', '.join(flagged) or 'none'} (x0 and x1 were shifted)")


if __name__ == "__main__":
    main()
