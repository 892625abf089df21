"""Killing real processes with SIGKILL at random points of the project's writes.

Shared by ``benchmarks/stress.py`` (hundreds of kills) and the test suite (a few). Each
scenario runs its operation in a child process of its own, which says ``ready`` once its
imports are done; the parent kills it (its whole process group) after a random part of the
operation's measured time. A new process then opens the file, as a restart would, runs the
project check and reports what the file holds; the operation is finally run to its end once
more, which must work.

    python benchmarks/_crash.py child SCENARIO PROJECT WORK_FOLDER SEED
    python benchmarks/_crash.py inspect SCENARIO PROJECT
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from _net import Load, free_port

HERE = Path(__file__).resolve()
SCENARIOS = ("import", "clean", "job", "prediction-log", "merge", "migration", "compact")
#: Rows of the files the import and merge scenarios write: large enough that the writes
#: take a good part of a second.
IMPORT_ROWS = 150_000
#: A request answered this long before the kill must be in the prediction log: it flushes
#: every second, and a commit may be in flight.
LOG_GRACE_SECONDS = 2.5
#: What each operation takes on a 2-core machine (``calibrate`` measures it instead).
TYPICAL_SECONDS = {
    "import": 0.25,
    "clean": 0.25,
    "job": 2.0,
    "prediction-log": 2.0,
    "merge": 0.05,
    "migration": 0.05,
    "compact": 0.05,
}
#: One row to predict, as a client sends it.
ROW = {"tenure": 5, "monthly": 40.0, "usage": 12.5, "plan": "pro", "region": "north"}
STRESS_MIGRATION = (
    "stress: a copy of every blob",
    "CREATE TABLE stress_copy AS SELECT blob_id, seq, data FROM blob_chunks; "
    "CREATE INDEX stress_copy_blob ON stress_copy (blob_id, seq);",
)


def _env(home: Path) -> dict:
    return {**os.environ, "MLOPS_DESKTOP_HOME": str(home), "MLOPS_DESKTOP_USER": "stress"}


def write_rows(path: Path, rows: int, seed: int) -> Path:
    """Random customer-like rows, different for every seed (so nothing is stored already)."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "tenure": rng.integers(1, 72, rows),
            "monthly": rng.uniform(10, 120, rows).round(2),
            "usage": rng.gamma(2.0, 30.0, rows).round(1),
            "plan": rng.choice(["basic", "pro", "max"], rows),
            "region": rng.choice(["north", "south", "east", "west"], rows),
            "churned": rng.choice(["yes", "no"], rows),
        }
    )
    frame.loc[rng.random(rows) < 0.05, "usage"] = None
    frame.to_csv(path, index=False)
    return path


def build_base(folder: Path) -> Path:
    """A project with a dataset, an experiment and a trained model: what every scenario
    starts from."""
    from mlops_desktop.domain.experiment import ExperimentSpec
    from mlops_desktop.services.project import Project
    from mlops_desktop.services.worker import Worker

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "base.mlops"
    with Project.create(path) as project:
        project.datasets.import_file(write_rows(folder / "customers.csv", 20_000, 1), "customers")
        spec = {
            "dataset": "customers",
            "target": "churned",
            "name": "churn",
            "estimator": "LogisticRegression",
            "params": {"max_iter": 200},
        }
        project.experiments.save(ExperimentSpec.from_json(spec))
        project.queue.enqueue("churn")
    Worker(str(path)).run()
    return path


# -- the child: one operation ------------------------------------------------------------------


def _install_stress_migration() -> None:
    from mlops_desktop.store import migrations

    latest = migrations.MIGRATIONS[-1]
    if latest.name == STRESS_MIGRATION[0]:
        return
    extra = migrations.Migration(latest.version + 1, *STRESS_MIGRATION)
    migrations.MIGRATIONS = (*migrations.MIGRATIONS, extra)
    migrations.LATEST_VERSION = extra.version


def child(scenario: str, path: Path, work: Path, seed: int) -> None:
    from mlops_desktop.domain.recipe import ClipOutliers, DropDuplicates, FillMissing
    from mlops_desktop.services.project import Project
    from mlops_desktop.services.worker import Worker

    prepared = None
    if scenario == "import":
        prepared = write_rows(work / f"import-{seed}.csv", IMPORT_ROWS, seed)
    elif scenario == "merge":
        other = work / f"other-{seed}.mlops"
        with Project.create(other) as project:
            project.datasets.import_file(
                write_rows(work / f"other-{seed}.csv", IMPORT_ROWS, seed), f"other{seed}"
            )
        prepared = other
    elif scenario == "job":
        with Project.open(path) as project:
            project.queue.enqueue("churn")
    elif scenario == "migration":
        _install_stress_migration()
        import mlops_desktop.store.project_file  # noqa: F401  (imported before the clock runs)
    print("ready", flush=True)
    started = time.perf_counter()
    if scenario == "job":
        Worker(str(path)).run()
    elif scenario == "migration":
        Project.open(path).close()
    else:
        with Project.open(path) as project:
            if scenario == "import":
                project.datasets.import_file(prepared, "extra")
            elif scenario == "clean":
                # A constant of its own each time: nothing of the result is stored already.
                steps = [
                    FillMissing(["usage"], "constant", float(seed)),
                    ClipOutliers(["monthly"], "quantile", 0.01, 0.99),
                    DropDuplicates(),
                ]
                project.datasets.clean("customers:1", steps)
            elif scenario == "merge":
                project.merge(prepared)
            elif scenario == "compact":
                project.compact()
    print(f"done {time.perf_counter() - started:.3f}", flush=True)


def inspect(scenario: str, path: Path) -> dict:
    """Open the file as a restart would, check it and say what it holds."""
    from mlops_desktop.services.project import Project

    if scenario == "migration":
        _install_stress_migration()
    with Project.open(path) as project:
        report = project.check()
        datasets = {}
        for version in project.datasets.list():
            # Every version that is listed must load whole.
            datasets[version.label] = len(project.datasets.load_frame(version))
        jobs = [job.status for job in project.file.jobs.all()]
        facts = {
            "ok": report.ok,
            "problems": report.problems()[:5],
            "datasets": datasets,
            "models": [m.label for m in project.models.list()],
            "jobs": jobs,
            "schema": project.file.schema_version,
            "logged": _logged_requests(project),
        }
    return facts


def _logged_requests(project) -> list[str]:
    ids: list[str] = []
    for session in project.serving.sessions():
        frame = project.serving.predictions_frame(
            session.model_version_uuid, session_uuid=session.uuid
        )
        ids += [str(i) for i in frame["request_id"]]
    return ids


# -- the parent: kill and look -----------------------------------------------------------------


@dataclass
class Kill:
    scenario: str
    after: float  # seconds into the operation
    finished_first: bool  # the operation ended before the kill landed
    ok: bool
    problems: list[str] = field(default_factory=list)
    lost_rows: int = 0  # prediction-log rows answered well before the kill and not logged

    @property
    def corrupt(self) -> bool:
        return not self.ok


class Harness:
    """Kills in one folder: ``calibrate`` once per scenario, then ``kill`` as often as liked."""

    def __init__(self, folder: Path, base: Path, seed: int = 0):
        import numpy as np

        self.folder = folder
        self.base = base
        self.home = folder / "home"
        self.home.mkdir(parents=True, exist_ok=True)
        self.rng = np.random.default_rng(seed)
        self.durations: dict[str, float] = {}
        self._files: dict[str, Path] = {}
        self._runs = 0

    # -- files -----------------------------------------------------------------------------------

    def project(self, scenario: str, fresh: bool = False) -> Path:
        """The scenario's project file: killed again and again, except for a migration,
        which needs a file at the old schema every time."""
        path = self._files.get(scenario)
        if path is None or fresh or scenario == "migration":
            path = self.folder / f"{scenario}.mlops"
            for leftover in self.folder.glob(f"{scenario}.mlops*"):
                leftover.unlink()
            shutil.copyfile(self.base, path)
            self._files[scenario] = path
        return path

    def _work(self) -> Path:
        work = self.folder / "work"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir()
        return work

    # -- processes -------------------------------------------------------------------------------

    def _start(self, scenario: str, path: Path) -> subprocess.Popen:
        self._runs += 1
        command = [sys.executable, str(HERE), "child", scenario, str(path), str(self._work())]
        return subprocess.Popen(
            [*command, str(self._runs)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(self.home),
            start_new_session=True,  # a worker's or a server's children die with it
        )

    def inspect(self, scenario: str, path: Path) -> dict:
        result = subprocess.run(
            [sys.executable, str(HERE), "inspect", scenario, str(path)],
            capture_output=True,
            text=True,
            env=_env(self.home),
            timeout=300,
        )
        if result.returncode != 0:
            return {"ok": False, "problems": [result.stderr.strip()[-500:]], "logged": []}
        return json.loads(result.stdout.strip().splitlines()[-1])

    def run_to_end(self, scenario: str) -> float:
        """Run the operation without a kill; returns its time. Raises if it fails."""
        path = self.project(scenario)
        if scenario == "prediction-log":
            took, _, answered = self._serve(path, kill_after=None)
            logged = set(self.inspect(scenario, path).get("logged", []))
            missing = [request_id for request_id in answered if request_id not in logged]
            if missing:
                raise RuntimeError(f"a clean stop lost {len(missing)} prediction-log rows")
            return took
        process = self._start(scenario, path)
        out, err = process.communicate(timeout=600)
        if process.returncode != 0 or "done" not in out:
            raise RuntimeError(f"{scenario} failed when run to its end:\n{err[-2000:]}")
        return float(out.split("done", 1)[1].split()[0])

    def calibrate(self, scenario: str) -> float:
        self.durations[scenario] = max(self.run_to_end(scenario), 0.05)
        return self.durations[scenario]

    def kill(self, scenario: str) -> Kill:
        duration = self.durations.get(scenario) or self.calibrate(scenario)
        if scenario == "prediction-log":
            after = float(self.rng.uniform(0.5, 4.0))  # seconds of load; it never ends itself
        else:
            after = float(self.rng.uniform(0, duration * 1.1))
        path = self.project(scenario)
        lost = 0
        if scenario == "prediction-log":
            _, finished, answered = self._serve(path, kill_after=after)
        else:
            finished = self._kill_child(scenario, path, after)
        facts = self.inspect(scenario, path)
        problems = list(facts.get("problems", []))
        # A dataset the operation was making is there whole, or not at all.
        for label, rows in facts.get("datasets", {}).items():
            made = label.startswith(("extra:", "other")) and rows != IMPORT_ROWS
            if made:
                problems.append(f"{label} has {rows:,} rows, not {IMPORT_ROWS:,}")
        if scenario == "prediction-log":
            logged = set(facts.get("logged", []))
            lost = sum(1 for request_id in answered if request_id not in logged)
        return Kill(scenario, after, finished, facts["ok"] and not problems, problems, lost)

    def _kill_child(self, scenario: str, path: Path, after: float) -> bool:
        process = self._start(scenario, path)
        line = process.stdout.readline()
        if line.strip() != "ready":
            process.wait(30)
            raise RuntimeError(f"{scenario} did not start: {process.stderr.read()[-2000:]}")
        time.sleep(after)
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        out, _ = process.communicate(timeout=60)
        # Killed after its work was done (while the interpreter shut down) counts as finished.
        return "done" in out

    def _serve(self, path: Path, kill_after: float | None) -> tuple[float, bool, list[str]]:
        """Serve the model under load from four clients; kill the server after ``kill_after``
        seconds of load (or stop it cleanly after two). Returns the load's length, whether
        it ended before the kill, and the requests answered long enough before the kill."""
        from mlops_desktop.services.servers import ServerProcess

        server = ServerProcess(path, "churn:1", port=free_port(), env=_env(self.home))
        if not server.wait_serving(120):
            raise RuntimeError(f"the server did not start: {server.error}\n{server.stderr[-2000:]}")
        started = time.monotonic()
        load = Load(server.url, json.dumps({"dataframe_records": [ROW]}).encode())
        time.sleep(2.0 if kill_after is None else kill_after)
        ended = time.monotonic()
        if kill_after is None:
            load.stop()
            server.stop()
            keep = [request_id for _, request_id in load.answered]
        else:
            os.kill(server.pid, signal.SIGKILL)
            load.stop()
            server.process.wait(30)
            keep = [rid for at, rid in load.answered if at < ended - LOG_GRACE_SECONDS]
        return ended - started, False, keep


if __name__ == "__main__":
    if sys.argv[1] == "child":
        child(sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4]), int(sys.argv[5]))
    elif sys.argv[1] == "inspect":
        print(json.dumps(inspect(sys.argv[2], Path(sys.argv[3]))))
    else:
        raise SystemExit(__doc__)
