"""Projects to serve, built once per session, and real server processes to call."""

from __future__ import annotations

import queue
import socket
import time
from pathlib import Path

import numpy as np
import pytest

from mlops_desktop.services import servers
from tests.services.test_training import run_queue, save, train_flowers

CHURN_COLUMNS = ("tenure", "monthly", "plan", "region", "autopay", "signup")


def churn_csv(path: Path, rows: int = 300, seed: int = 0) -> Path:
    """Customers with gaps: whole numbers, amounts, categories, true/false, dates, an id."""
    rng = np.random.default_rng(seed)
    lines = ["id,tenure,monthly,plan,region,autopay,signup,churned"]
    for i in range(rows):
        tenure = "" if i % 17 == 0 else str(int(rng.integers(1, 72)))
        monthly = "" if i % 13 == 0 else f"{rng.uniform(10, 120):.2f}"
        plan = "" if i % 11 == 0 else str(rng.choice(["basic", "pro", "max"]))
        region = str(rng.choice(["north", "south", "east", "west"]))
        autopay = str(rng.choice(["true", "false"]))
        signup = f"2023-{1 + i % 12:02d}-{1 + i % 28:02d}"
        risk = 0.25 + (0.35 if plan == "basic" else 0) + (0.2 if autopay == "false" else 0)
        churned = "yes" if rng.random() < risk else "no"
        lines.append(f"{i},{tenure},{monthly},{plan},{region},{autopay},{signup},{churned}")
    path.write_text("\n".join(lines) + "\n")
    return path


def build_served_project(path: Path) -> Path:
    """churn:1 (a forest behind imputation, one-hot and scaling), churn:2 (a one-split
    tree), spend:1 (a ridge regression on the same columns), flowers:1 and flowers:2 (iris);
    churn@production -> churn:1."""
    from mlops_desktop.services.project import Project

    train_flowers(path)
    with Project.open(path) as project:
        project.datasets.import_file(churn_csv(path.with_suffix(".csv")), name="churn")
        common = {"dataset": "churn", "target": "churned", "model_name": "churn"}
        save(project, name="churn-forest", params={"n_estimators": 15}, **common)
        save(
            project,
            name="churn-stump",
            estimator="DecisionTreeClassifier",
            params={"max_depth": 1},
            **common,
        )
        save(
            project,
            name="spend",
            dataset="churn",
            target="monthly",
            estimator="Ridge",
            params={},
            features={"exclude": ["churned"]},
        )
        run_queue(project)
        project.models.promote("churn:1", "production")
    return path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ServerProcess(servers.ServerProcess):
    """``python -m mlops_desktop serve ...`` on a free port, its JSON lines also queued."""

    def __init__(self, args, home: Path, env: dict | None = None, wait: float = 60.0):
        args = [str(arg) for arg in args]
        self.lines: queue.Queue = queue.Queue()
        given = "--port" in args
        super().__init__(
            args[0],
            args[1],
            port=None if given else free_port(),
            extra_args=args[2:],
            env={"MLOPS_DESKTOP_HOME": str(home), "MLOPS_DESKTOP_USER": "tester", **(env or {})},
            on_line=self.lines.put,
        )
        self.started = self.next_event("serving", wait)

    def next_event(self, event: str, timeout: float = 10.0) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no {event!r} line within {timeout} s") from None
            if line is None:
                raise AssertionError(f"the server ended (exit {self.returncode}): {self.stderr}")
            if line.get("event") == event:
                return line


@pytest.fixture(scope="session")
def serving_home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("server-home")
