"""Commands on experiment specs: create, list, show."""

from __future__ import annotations

import json
from pathlib import Path

import click

from mlops_desktop.cli.base import (
    cli,
    emit,
    existing_project,
    json_option,
    read_json,
)
from mlops_desktop.domain.errors import UserError


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

    parsed = ExperimentSpec.from_json(read_json(spec))
    if yes:
        parsed.search.confirm_large = True
    with Project.open(existing_project(project)) as opened:
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
    emit(
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

    with Project.open(existing_project(project), read_only=True) as opened:
        rows = opened.experiments.list()
    lines = [
        f"{r.name:<24} {r.spec['dataset']:<16} target {r.spec['target']:<16} "
        f"{r.spec.get('estimator', '')}"
        for r in rows
    ]
    payload = {"experiments": [{**r.spec, "updated_at": r.updated_at} for r in rows]}
    emit(
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

    with Project.open(existing_project(project), read_only=True) as opened:
        spec = opened.experiments.get(name)
    click.echo(json.dumps(spec.to_json(), indent=2))
