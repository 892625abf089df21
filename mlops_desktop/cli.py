"""The command line: ``mlops-desktop [PROJECT]`` opens the GUI; subcommands work headless.

Contract: exit 0 on success; exit 1 on a user error with one ``error:`` line on stderr and no
traceback; ``--json`` prints a machine-readable result on stdout.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from mlops_desktop.domain.errors import Cancelled, UserError
from mlops_desktop.version import __version__

PROG = "mlops-desktop"


class _Cli(click.Group):
    """A group whose first argument may be a project file instead of a command (-> the GUI)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or (args[0] not in self.commands and not args[0].startswith("-")):
            args = ["gui", *args]
        return super().parse_args(ctx, args)


json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print a machine-readable JSON result on stdout."
)


def _emit(as_json: bool, payload: dict, text: str) -> None:
    click.echo(json.dumps(payload, indent=2) if as_json else text)


def _existing_project(path: Path) -> Path:
    if not path.exists():
        if not path.suffix and path.name == str(path):
            raise UserError(
                f"'{path}' is neither a command nor a project file: "
                f"see '{PROG} --help' for the commands."
            )
        raise UserError(
            f"There is no project file at {path}: check the path, or create one with "
            f"'{PROG} init {path}'."
        )
    return path


class _StderrProgress:
    """Progress on stderr for a person at a terminal; silent when piped."""

    def __init__(self):
        self.enabled = sys.stderr.isatty()

    def __call__(self, fraction: float | None, message: str) -> None:
        if self.enabled:
            pct = "" if fraction is None else f"{fraction:4.0%} "
            click.echo(f"\r{pct}{message}".ljust(60), err=True, nl=False)

    def done(self) -> None:
        if self.enabled:
            click.echo("\r".ljust(61) + "\r", err=True, nl=False)


@click.group(cls=_Cli, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name=PROG)
def cli() -> None:
    """mlops_desktop: the whole machine-learning lifecycle, offline, in one project file.

    Run 'mlops-desktop [PROJECT]' to open the window (on PROJECT if given).
    """


@cli.command("gui")
@click.argument("project", required=False, type=click.Path(path_type=Path))
@click.option("--exit-after-first-paint", is_flag=True, hidden=True)
def gui_command(project: Path | None, exit_after_first_paint: bool) -> int:
    """Open the window, on PROJECT if given (same as 'mlops-desktop [PROJECT]')."""
    if project is not None:
        _existing_project(project)
    from mlops_desktop import app

    return app.run(project, exit_after_first_paint=exit_after_first_paint)


@cli.command("init")
@click.argument("project", type=click.Path(path_type=Path))
@click.option("--name", help="The project's display name (default: the file name).")
@json_option
def init_command(project: Path, name: str | None, as_json: bool) -> None:
    """Create a new, empty project file at PROJECT."""
    from mlops_desktop.services.project import Project

    with Project.create(project, name=name) as created:
        info = created.info()
    _emit(as_json, info.to_json(), f"Created project {info.name} at {info.path}")


@cli.command("info")
@click.argument("project", type=click.Path(path_type=Path))
@json_option
def info_command(project: Path, as_json: bool) -> None:
    """Show a project's name, schema version and what it holds."""
    from mlops_desktop.services.project import Project

    with Project.open(_existing_project(project), read_only=True) as opened:
        info = opened.info()
    counts = "\n".join(f"  {k.replace('_', ' ')}: {v}" for k, v in info.counts.items())
    text = (
        f"{info.name}\n  file: {info.path}\n  schema version: {info.schema_version}\n"
        f"  created: {info.created_at} by {info.created_by}\n  size: {info.size_bytes:,} bytes\n"
        f"{counts}"
    )
    _emit(as_json, info.to_json(), text)


@cli.group("data")
def data_group() -> None:
    """Import, list, clean, compare and export datasets."""


def _progress_state():
    from mlops_desktop.domain.tasks import TaskControl

    progress = _StderrProgress()
    return progress, TaskControl(on_progress=progress, min_interval=0.2)


@data_group.command("import")
@click.argument("project", type=click.Path(path_type=Path))
@click.argument("source")
@click.option(
    "--name", help="Dataset name (default: the file name). An existing name gets a new version."
)
@click.option(
    "--format",
    "file_format",
    type=click.Choice(["csv", "parquet", "jsonl", "xlsx"]),
    help="Override the detected file format.",
)
@click.option("--delimiter", help="Override the detected delimiter (use '\t' for tab).")
@click.option("--encoding", help="Override the detected encoding (utf-8, utf-16, cp1252, ...).")
@click.option("--decimal", type=click.Choice([".", ","]), help="Override the decimal mark.")
@click.option("--header/--no-header", default=None, help="Whether the first row holds names.")
@click.option("--sheet", help="Excel sheet to read (default: the first).")
@json_option
def data_import_command(
    project: Path,
    source: str,
    name: str | None,
    file_format: str | None,
    delimiter: str | None,
    encoding: str | None,
    decimal: str | None,
    header: bool | None,
    sheet: str | None,
    as_json: bool,
) -> None:
    """Import SOURCE (a CSV/TSV, Parquet, JSON Lines or .xlsx file, or sklearn:NAME) as the
    next version of a dataset."""
    from mlops_desktop.services.importing import SKLEARN_PREFIX
    from mlops_desktop.services.project import Project
    from mlops_desktop.services.sniffing import detect

    settings = None
    if not source.startswith(SKLEARN_PREFIX):
        settings = detect(Path(source)).settings
        overrides = {
            "format": file_format,
            "delimiter": delimiter.replace("\\t", "\t") if delimiter else None,
            "encoding": encoding,
            "decimal": decimal,
            "header": header,
            "sheet": sheet,
        }
        for key, value in overrides.items():
            if value is not None:
                setattr(settings, key, value)
    progress, state = _progress_state()
    with Project.open(_existing_project(project)) as opened:
        version = opened.datasets.import_file(source, name, settings, state)
    progress.done()
    notes = "".join(f"\n  note: {n}" for n in version.notes)
    _emit(
        as_json,
        version.to_json(),
        f"Imported {source} as {version.label} ({version.rows:,} rows x {version.columns} "
        f"columns){notes}",
    )


@data_group.command("list")
@click.argument("project", type=click.Path(path_type=Path))
@json_option
def data_list_command(project: Path, as_json: bool) -> None:
    """List every dataset version with its size, parent and source."""
    from mlops_desktop.services.project import Project

    with Project.open(_existing_project(project), read_only=True) as opened:
        versions = opened.datasets.list()
    lines = [
        f"{v.label:<24} {v.rows:>12,} rows {v.columns:>5} cols  "
        + (
            f"cleaned from {v.parent_label}"
            if v.parent_label
            else f"imported from {v.source.name}"
            if v.source
            else ""
        )
        for v in versions
    ]
    _emit(
        as_json,
        {"versions": [v.to_json() for v in versions]},
        "\n".join(lines) or "No datasets yet: import one with 'mlops-desktop data import'.",
    )


@data_group.command("clean")
@click.argument("project", type=click.Path(path_type=Path))
@click.argument("dataset")
@click.argument("recipe", type=click.Path(path_type=Path))
@click.option("--name", help="Save under this dataset name (default: DATASET's own).")
@json_option
def data_clean_command(
    project: Path, dataset: str, recipe: Path, name: str | None, as_json: bool
) -> None:
    """Apply the cleaning recipe in RECIPE.json to DATASET[:N] and save the next version."""
    from mlops_desktop.domain.recipe import recipe_from_json
    from mlops_desktop.services.project import Project

    steps = recipe_from_json(_read_json(recipe))
    progress, state = _progress_state()
    with Project.open(_existing_project(project)) as opened:
        version, reports = opened.datasets.clean(dataset, steps, name, state)
    progress.done()
    lines = [f"Saved {version.label} ({version.rows:,} rows x {version.columns} columns)"]
    lines += [f"  {r.description}: {r.summary()}" for r in reports]
    lines += [f"  note: {n}" for r in reports for n in r.notes]
    payload = {**version.to_json(), "steps": [r.to_json() for r in reports]}
    _emit(as_json, payload, "\n".join(lines))


@data_group.command("export")
@click.argument("project", type=click.Path(path_type=Path))
@click.argument("dataset")
@click.argument("out", type=click.Path(path_type=Path))
@json_option
def data_export_command(project: Path, dataset: str, out: Path, as_json: bool) -> None:
    """Write DATASET[:N] to OUT (.csv or .parquet)."""
    from mlops_desktop.services.project import Project

    with Project.open(_existing_project(project), read_only=True) as opened:
        version = opened.datasets.get(dataset)
        path = opened.datasets.export(version, out)
    _emit(
        as_json,
        {"dataset": version.label, "path": str(path), "rows": version.rows},
        f"Wrote {version.label} ({version.rows:,} rows) to {path}",
    )


@data_group.command("diff")
@click.argument("project", type=click.Path(path_type=Path))
@click.argument("a")
@click.argument("b")
@json_option
def data_diff_command(project: Path, a: str, b: str, as_json: bool) -> None:
    """Compare two dataset versions: rows and columns added or removed, statistics."""
    from mlops_desktop.services.project import Project

    with Project.open(_existing_project(project), read_only=True) as opened:
        result = opened.datasets.diff(a, b)
    lines = [
        f"{result.label_a} -> {result.label_b}: {result.rows_a:,} -> {result.rows_b:,} rows "
        f"({result.rows_added:,} added, {result.rows_removed:,} removed)",
    ]
    if result.columns_added:
        lines.append(f"  columns added: {', '.join(result.columns_added)}")
    if result.columns_removed:
        lines.append(f"  columns removed: {', '.join(result.columns_removed)}")
    lines += [f"  {c}: type {ta} -> {tb}" for c, ta, tb in result.type_changes]
    _emit(as_json, result.to_json(), "\n".join(lines))


@cli.group("experiment")
def experiment_group() -> None:
    """Create, list and show experiment specs (the JSON the GUI edits)."""


@experiment_group.command("create")
@click.argument("project", type=click.Path(path_type=Path))
@click.argument("spec", type=click.Path(path_type=Path))
@click.option("--replace", is_flag=True, help="Replace an experiment of the same name.")
@click.option("--yes", is_flag=True, help="Confirm a search of over 10,000 candidates.")
@json_option
def experiment_create_command(
    project: Path, spec: Path, replace: bool, yes: bool, as_json: bool
) -> None:
    """Check SPEC.json against its dataset and save it as an experiment."""
    from mlops_desktop.domain.experiment import ExperimentSpec
    from mlops_desktop.services.project import Project

    parsed = ExperimentSpec.from_json(_read_json(spec))
    if yes:
        parsed.search.confirm_large = True
    with Project.open(_existing_project(project)) as opened:
        existing = opened.file.experiments.find(parsed.name)
        if existing is not None and not replace:
            raise UserError(
                f"An experiment called {parsed.name!r} exists already: pass --replace to "
                "replace it, or choose another name."
            )
        plan = opened.experiments.plan(parsed)
        opened.experiments.save(parsed, replacing=existing.name if existing else None)
    payload = {
        "name": parsed.name,
        "task": plan.task,
        "task_reason": plan.task_reason,
        "candidates": plan.candidates,
        "folds": plan.folds,
        "pipeline": str(plan.pipeline),
        "spec": parsed.to_json(),
    }
    _emit(
        as_json,
        payload,
        f"Saved experiment {parsed.name}: {plan.task} ({plan.task_reason}); {plan.size_text()}",
    )


@experiment_group.command("list")
@click.argument("project", type=click.Path(path_type=Path))
@json_option
def experiment_list_command(project: Path, as_json: bool) -> None:
    """List the experiments with their dataset, target and estimator."""
    from mlops_desktop.services.project import Project

    with Project.open(_existing_project(project), read_only=True) as opened:
        rows = opened.experiments.list()
    lines = [
        f"{r.name:<24} {r.spec['dataset']:<16} target {r.spec['target']:<16} "
        f"{r.spec.get('estimator', '')}"
        for r in rows
    ]
    payload = {"experiments": [{**r.spec, "updated_at": r.updated_at} for r in rows]}
    _emit(
        as_json,
        payload,
        "\n".join(lines)
        or "No experiments yet: create one with 'mlops-desktop experiment create'.",
    )


@experiment_group.command("show")
@click.argument("project", type=click.Path(path_type=Path))
@click.argument("name")
def experiment_show_command(project: Path, name: str) -> None:
    """Print experiment NAME's spec as JSON (the input 'experiment create' takes)."""
    from mlops_desktop.services.project import Project

    with Project.open(_existing_project(project), read_only=True) as opened:
        spec = opened.experiments.get(name)
    click.echo(json.dumps(spec.to_json(), indent=2))


@cli.command("worker")
@click.argument("project", type=click.Path(path_type=Path))
@click.option(
    "--wait",
    "keep_waiting",
    is_flag=True,
    help="Keep waiting for new jobs instead of exiting when the queue is empty.",
)
def worker_command(project: Path, keep_waiting: bool) -> None:
    """Train queued jobs of PROJECT one at a time (the GUI and 'queue run' start these)."""
    from mlops_desktop.services.logs import configure_logging
    from mlops_desktop.services.worker import Worker

    configure_logging()
    Worker(str(_existing_project(project)), keep_waiting=keep_waiting).run()


@cli.group("queue")
def queue_group() -> None:
    """List, run, cancel, pause and resume the training queue."""


@queue_group.command("list")
@click.argument("project", type=click.Path(path_type=Path))
@json_option
def queue_list_command(project: Path, as_json: bool) -> None:
    """Every job with its status, newest finished last."""
    from mlops_desktop.services.project import Project

    with Project.open(_existing_project(project), read_only=True) as opened:
        jobs = opened.queue.jobs()
        paused = opened.queue.paused()
    lines = [f"The queue is paused{'.' if jobs else ''}"] if paused else []
    for job in jobs:
        detail = job.model_label or job.error or job.progress_message or ""
        lines.append(f"#{job.number:<5} {job.status:<10} {job.experiment_name:<24} {detail}")
    _emit(
        as_json,
        {"paused": paused, "jobs": [j.to_json() for j in jobs]},
        "\n".join(lines) or "The queue is empty: queue a job with 'mlops-desktop train'.",
    )


@queue_group.command("run")
@click.argument("project", type=click.Path(path_type=Path))
@click.option(
    "--workers",
    type=click.IntRange(1, 256),
    default=None,
    help="How many jobs run at once (default: one per free core).",
)
@json_option
def queue_run_command(project: Path, workers: int | None, as_json: bool) -> None:
    """Run queued jobs headless until the queue is empty."""
    from mlops_desktop.services.project import Project
    from mlops_desktop.services.supervisor import WorkerPool, default_size

    path = _existing_project(project)
    with Project.open(path, read_only=True) as opened:
        before = {j.uuid for j in opened.queue.jobs() if j.status not in ("queued", "running")}
    pool = WorkerPool(str(path.absolute()), size=workers or default_size())
    try:
        pool.run_until_idle()
    finally:
        pool.stop()
    with Project.open(path, read_only=True) as opened:
        ran = [
            j
            for j in opened.queue.jobs()
            if j.uuid not in before and j.status not in ("queued", "running")
        ]
    lines = [f"#{j.number} {j.status}: {j.model_label or j.error or ''}" for j in ran]
    lines += pool.messages
    _emit(
        as_json,
        {"jobs": [j.to_json() for j in ran], "messages": pool.messages},
        "\n".join(lines) or "Nothing was queued.",
    )


@queue_group.command("cancel")
@click.argument("project", type=click.Path(path_type=Path))
@click.argument("job", type=int)
def queue_cancel_command(project: Path, job: int) -> None:
    """Cancel job number JOB (a running job stops within seconds)."""
    from mlops_desktop.services.project import Project

    with Project.open(_existing_project(project)) as opened:
        cancelled = opened.queue.cancel(job)
    click.echo(
        f"Job #{job} "
        + ("cancelled." if cancelled.status == "cancelled" else "will stop within seconds.")
    )


@queue_group.command("pause")
@click.argument("project", type=click.Path(path_type=Path))
def queue_pause_command(project: Path) -> None:
    """Start no new jobs (running ones finish)."""
    from mlops_desktop.services.project import Project

    with Project.open(_existing_project(project)) as opened:
        opened.queue.set_paused(True)
    click.echo("The queue is paused: running jobs finish, no new ones start.")


@queue_group.command("resume")
@click.argument("project", type=click.Path(path_type=Path))
def queue_resume_command(project: Path) -> None:
    """Start queued jobs again."""
    from mlops_desktop.services.project import Project

    with Project.open(_existing_project(project)) as opened:
        opened.queue.set_paused(False)
    click.echo("The queue runs again.")


@cli.command("train")
@click.argument("project", type=click.Path(path_type=Path))
@click.argument("experiment")
@click.option("--wait", is_flag=True, help="Run the queue until this job ends; print its model.")
@click.option("--priority", type=int, default=0, help="Higher runs sooner (default 0).")
@click.option(
    "--retries",
    type=click.IntRange(0, 10),
    default=0,
    help="Queue the job again this many times if its worker dies.",
)
@json_option
def train_command(
    project: Path, experiment: str, wait: bool, priority: int, retries: int, as_json: bool
) -> None:
    """Queue EXPERIMENT for training (and with --wait, train it and print the model version)."""
    from mlops_desktop.services.project import Project
    from mlops_desktop.services.supervisor import WorkerPool, default_size

    path = _existing_project(project)
    with Project.open(path) as opened:
        job = opened.queue.enqueue(experiment, priority, retries)
    if not wait:
        _emit(
            as_json,
            job.to_json(),
            f"Queued job #{job.number}; run it with 'mlops-desktop queue run {path}'.",
        )
        return

    def finished() -> bool:
        with Project.open(path, read_only=True) as opened:
            return opened.queue.job(job.number).status in ("done", "failed", "cancelled")

    pool = WorkerPool(str(path.absolute()), size=default_size())
    try:
        pool.run_until_idle(until=finished)
    finally:
        pool.stop()
    with Project.open(path, read_only=True) as opened:
        ended = opened.queue.job(job.number)
    if ended.status != "done":
        raise UserError(f"Job #{job.number} {ended.status}: {ended.error}")
    _emit(as_json, ended.to_json(), ended.model_label)


def _read_json(path: Path):
    if not path.is_file():
        raise UserError(f"There is no file {path}: check the path.")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"{path.name} is not valid JSON ({exc}): fix it and try again.") from None


@cli.group("project")
def project_group() -> None:
    """Whole-file operations on a project."""


@project_group.command("check")
@click.argument("project", type=click.Path(path_type=Path))
@json_option
def check_command(project: Path, as_json: bool) -> None:
    """Run SQLite's integrity check and verify every stored blob's sha256."""
    from mlops_desktop.domain.tasks import TaskControl
    from mlops_desktop.services.project import Project

    progress = _StderrProgress()
    with Project.open(_existing_project(project), read_only=True) as opened:
        report = opened.check(TaskControl(on_progress=progress, min_interval=0.2))
    progress.done()
    text = (
        f"{project}: ok ({report.blobs_checked} blobs verified)"
        if report.ok
        else "\n".join(report.problems())
    )
    _emit(as_json, report.to_json(), text)
    if not report.ok:
        problems = report.problems()
        raise UserError(
            f"{project} has {len(problems)} problem(s), first: {problems[0]}. "
            "Restore it from a shared copy or a backup."
        )


def main(argv: list[str] | None = None) -> None:
    """Run the CLI and turn user errors into one ``error:`` line and exit code 1."""
    try:
        result = cli.main(args=argv, prog_name=PROG, standalone_mode=False)
    except UserError as exc:
        _fail(exc.message)
    except Cancelled:
        _fail("cancelled; nothing was changed.")
    except KeyboardInterrupt:
        _fail("interrupted; nothing was changed.")
    except click.UsageError as exc:
        command = exc.ctx.command_path if exc.ctx else PROG
        _fail(f"{exc.format_message().rstrip('.')} (see '{command} --help').")
    except click.ClickException as exc:
        _fail(exc.format_message())
    except click.exceptions.Abort:
        _fail("aborted; nothing was changed.")
    sys.exit(result if isinstance(result, int) else 0)


def _fail(message: str) -> None:
    click.echo(f"error: {' '.join(message.split())}", err=True)
    sys.exit(1)
