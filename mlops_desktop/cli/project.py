"""Whole-project commands: open the GUI, create, build the demo, describe, check, compact."""

from __future__ import annotations

from pathlib import Path

import click

from mlops_desktop.cli.base import (
    StderrProgress,
    cli,
    emit,
    existing_project,
    json_option,
    progress_state,
)
from mlops_desktop.domain.errors import UserError


@cli.command("gui")
@click.argument("project", required=False, type=click.Path(path_type=Path))
@click.option(
    "--read-only",
    is_flag=True,
    help="Open PROJECT read-only (classroom mode): explore it without changing it.",
)
@click.option("--exit-after-first-paint", is_flag=True, hidden=True)
def gui_command(project: Path | None, read_only: bool, exit_after_first_paint: bool) -> int:
    """Open the window, on PROJECT if given (same as 'mlops-desktop [PROJECT]')."""
    if project is not None:
        existing_project(project)
    elif read_only:
        raise UserError("--read-only needs a PROJECT to open: give the project file's path.")
    from mlops_desktop import app

    return app.run(project, read_only=read_only, exit_after_first_paint=exit_after_first_paint)


@cli.command("init")
@click.argument("project", type=click.Path(path_type=Path))
@click.option("--name", help="The project's display name (default: the file name).")
@json_option
def init_command(project: Path, name: str | None, as_json: bool) -> None:
    """Create a new, empty project file at PROJECT."""
    from mlops_desktop.services.project import Project

    with Project.create(project, name=name) as created:
        info = created.info()
    emit(as_json, info.to_json(), f"Created project {info.name} at {info.path}")


@cli.command("demo")
@click.argument("project", required=False, type=click.Path(path_type=Path))
@click.option("--rebuild", is_flag=True, help="Build it again even if the file exists.")
@click.option("--open", "open_it", is_flag=True, help="Then open the window on it.")
@json_option
def demo_command(project: Path | None, rebuild: bool, open_it: bool, as_json: bool) -> int:
    """Build the demo project (a milk-sales forecast with drift, and a tumour classifier,
    trained, served and monitored) at PROJECT, by default Demo.mlops in the projects folder;
    an existing one is kept unless --rebuild. Prints its path."""
    from mlops_desktop.services.demo import build_demo, default_demo_path

    path = project or default_demo_path()
    built = rebuild or not path.exists()
    if built:
        progress, state = progress_state()
        build_demo(path, state, rebuild=rebuild)
        progress.done()
    emit(as_json, {"path": str(path), "built": built}, str(path))
    if open_it:
        from mlops_desktop import app

        return app.run(path)
    return 0


@cli.command("info")
@click.argument("project", type=click.Path(path_type=Path))
@json_option
def info_command(project: Path, as_json: bool) -> None:
    """Show a project's name, schema version and what it holds."""
    from mlops_desktop.services.project import Project

    with Project.open(existing_project(project), read_only=True) as opened:
        info = opened.info()
    counts = "\n".join(f"  {k.replace('_', ' ')}: {v}" for k, v in info.counts.items())
    text = (
        f"{info.name}\n  file: {info.path}\n  schema version: {info.schema_version}\n"
        f"  created: {info.created_at} by {info.created_by}\n  size: {info.size_bytes:,} bytes\n"
        f"{counts}"
    )
    emit(as_json, info.to_json(), text)


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

    progress = StderrProgress()
    with Project.open(existing_project(project), read_only=True) as opened:
        report = opened.check(TaskControl(on_progress=progress, min_interval=0.2))
    progress.done()
    text = (
        f"{project}: ok ({report.blobs_checked} blobs verified)"
        if report.ok
        else "\n".join(report.problems())
    )
    emit(as_json, report.to_json(), text)
    if not report.ok:
        problems = report.problems()
        raise UserError(
            f"{project} has {len(problems)} problem(s), first: {problems[0]}. "
            "Restore it from a shared copy or a backup."
        )


@project_group.command("merge")
@click.argument("project", type=click.Path(path_type=Path))
@click.argument("other", type=click.Path(path_type=Path))
@json_option
def merge_command(project: Path, other: Path, as_json: bool) -> None:
    """Bring OTHER's datasets, recipes, experiments, model versions, evaluations and history
    into PROJECT, matched by UUID: merging twice adds nothing. A name both have gets the next
    version number (or a new experiment name) and a note; aliases are never moved, and where
    the two disagree the conflict is listed. OTHER is only read."""
    from mlops_desktop.services.project import Project

    progress, state = progress_state()
    with Project.open(existing_project(project)) as opened:
        report = opened.merge(existing_project(other), state)
    progress.done()
    lines = [report.summary(), *report.notes]
    lines += [f"conflict: {conflict}" for conflict in report.conflicts]
    emit(as_json, report.to_json(), "\n".join(lines))


@project_group.command("share")
@click.argument("project", type=click.Path(path_type=Path))
@click.argument("out", type=click.Path(path_type=Path))
@json_option
def share_command(project: Path, out: Path, as_json: bool) -> None:
    """Write a copy of PROJECT to OUT that is safe to share, even while the project is in use:
    made with SQLite's backup API, checked, self-contained (no -wal file), flushed to disk,
    renamed into place. Prints its SHA-256, for the receiver to check with sha256sum."""
    from mlops_desktop.services.project import Project

    progress, state = progress_state()
    with Project.open(existing_project(project), read_only=True) as opened:
        report = opened.share_copy(out, state)
    progress.done()
    emit(as_json, report.to_json(), f"{report.path}\nsha256 {report.sha256}")


@project_group.command("compact")
@click.argument("project", type=click.Path(path_type=Path))
@json_option
def compact_command(project: Path, as_json: bool) -> None:
    """Remove stored data nothing refers to (e.g. of deleted model versions) and give the
    space back to the disk."""
    from mlops_desktop.services.project import Project

    progress, state = progress_state()
    with Project.open(existing_project(project)) as opened:
        report = opened.compact(state)
    progress.done()
    emit(
        as_json,
        report.to_json(),
        f"Removed {report.blobs_removed} unused blobs; the file went from "
        f"{report.bytes_before:,} to {report.bytes_after:,} bytes "
        f"({report.bytes_won:,} bytes won).",
    )
