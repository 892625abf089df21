"""Commands on model versions: list, show, compare, annotate, alias, gates, evaluate, export,
delete."""

from __future__ import annotations

from pathlib import Path

import click

from mlops_desktop.cli.base import cli, emit, existing_project, json_option, progress_state
from mlops_desktop.domain.errors import UserError


@cli.group("models")
def models_group() -> None:
    """Browse, compare, promote, evaluate, export and delete model versions."""


def _open(project: Path, read_only: bool = True):
    from mlops_desktop.services.project import Project

    return Project.open(existing_project(project), read_only=read_only)


recipe_option = click.option(
    "--recipe",
    type=click.Choice(["auto", "own", "none"]),
    default="auto",
    show_default=True,
    help="auto: imported data first goes through the recipe that prepared the version's "
    "training data; own: always; none: use DATASET as it is.",
)


def _number(value) -> str:
    return "-" if value is None else f"{value:.4g}"


@models_group.command("list")
@click.argument("project", type=click.Path(path_type=Path))
@json_option
def models_list_command(project: Path, as_json: bool) -> None:
    """Every model version with its main metric, aliases and author."""
    with _open(project) as opened:
        rows = opened.models.browse()
        versions = opened.models.list() if as_json else []
        aliases = opened.models.aliases() if as_json else []
    lines = []
    for i in range(len(rows["uuid"])):
        label = f"{rows['model'][i]}:{rows['version'][i]}"
        alias = f"  @{rows['aliases'][i]}" if rows["aliases"][i] else ""
        lines.append(
            f"{label:<20} {rows['estimator'][i]:<30} {rows['dataset'][i] or '-':<14} "
            f"{rows['metric'][i]} CV {_number(rows['cv'][i])} hold-out "
            f"{_number(rows['holdout'][i])}{alias}"
        )
    emit(
        as_json,
        {
            "versions": [
                {**v.to_json(), "aliases": [a.name for a in aliases if a.version_uuid == v.uuid]}
                for v in versions
            ]
        },
        "\n".join(lines) or "No models yet: train one with 'mlops-desktop train'.",
    )


@models_group.command("show")
@click.argument("project", type=click.Path(path_type=Path))
@click.argument("model")
@json_option
def models_show_command(project: Path, model: str, as_json: bool) -> None:
    """Everything about MODEL[:N|@ALIAS]: metrics, parameters, lineage, aliases, evaluations."""
    with _open(project) as opened:
        version = opened.models.get(model)
        aliases = opened.models.aliases_of(version)
        lineage = opened.models.lineage(version.label)
        evaluations = opened.models.evaluations(version)
    cv = version.metrics.get("cv", {})
    lines = [
        f"{version.label}  {version.estimator} on {version.dataset_label} "
        f"(experiment {version.experiment_name}, {version.task})",
        f"  created {version.created_at} by {version.created_by}; fit {version.fit_seconds:.1f} s",
        "  aliases: " + (", ".join(a.label for a in aliases) or "none"),
        "  CV: " + ", ".join(f"{k} {_number(v.get('mean'))}" for k, v in cv.items()),
        "  hold-out: "
        + ", ".join(f"{k} {_number(v)}" for k, v in version.metrics.get("holdout", {}).items()),
        "  parameters: " + ", ".join(f"{k}={v!r}" for k, v in sorted(version.params.items())),
        "  lineage: " + " -> ".join(step.label for step in lineage),
    ]
    if version.tags:
        lines.append("  tags: " + ", ".join(version.tags))
    if version.notes:
        lines.append("  notes: " + version.notes)
    for evaluation in evaluations:
        shown = ", ".join(f"{k} {_number(v)}" for k, v in evaluation.metrics.items())
        lines.append(
            f"  evaluated on {evaluation.dataset_label} ({evaluation.rows:,} rows): {shown}"
        )
    payload = {
        **version.to_json(),
        "aliases": [a.name for a in aliases],
        "lineage": [step.to_json() for step in lineage],
        "evaluations": [e.to_json() for e in evaluations],
    }
    emit(as_json, payload, "\n".join(lines))


@models_group.command("compare")
@click.argument("project", type=click.Path(path_type=Path))
@click.argument("versions", nargs=-1, required=True)
@json_option
def models_compare_command(project: Path, versions: tuple[str, ...], as_json: bool) -> None:
    """Compare two or more versions: metrics with deltas against the first, parameters that
    differ, and whether each difference in CV score is real (corrected resampled t-test)."""
    with _open(project) as opened:
        result = opened.models.compare(list(versions))
    width = max(len(label) for label in result.labels) + 2
    lines = [" " * 34 + "".join(f"{label:>{width}}" for label in result.labels)]
    for row in result.metrics:
        deltas = row.deltas()
        cells = [_number(row.values[0])] + [
            f"{_number(v)}" + ("" if d is None else f" ({d:+.3g})")
            for v, d in zip(row.values[1:], deltas[1:], strict=True)
        ]
        lines.append(
            f"{row.source + ' ' + row.metric:<34}" + "".join(f"{c:>{width}}" for c in cells)
        )
    differing = [(n, v) for n, v, differs in result.params if differs]
    if differing:
        lines.append("differs:")
        lines += [f"  {n}: " + " | ".join(repr(x) for x in values) for n, values in differing]
    lines += [test.verdict() for test in result.tests]
    emit(as_json, result.to_json(), "\n".join(lines))


@models_group.command("annotate")
@click.argument("project", type=click.Path(path_type=Path))
@click.argument("version")
@click.option("--notes", help="Replace the version's notes with this text ('' clears them).")
@click.option("--tag", "add", multiple=True, help="Add a tag (repeat for more).")
@click.option("--untag", "remove", multiple=True, help="Remove a tag (repeat for more).")
@json_option
def models_annotate_command(
    project: Path,
    version: str,
    notes: str | None,
    add: tuple[str, ...],
    remove: tuple[str, ...],
    as_json: bool,
) -> None:
    """Edit the notes and tags of VERSION (the only things about a version that change)."""
    if notes is None and not add and not remove:
        raise UserError("Nothing to change: give --notes, --tag or --untag.")
    with _open(project, read_only=False) as opened:
        found = opened.models.get(version)
        if notes is not None:
            found = opened.models.set_notes(found.label, notes)
        if add or remove:
            tags = [t for t in found.tags if t not in remove] + list(add)
            found = opened.models.set_tags(found.label, tags)
    emit(
        as_json,
        found.to_json(),
        f"{found.label}: tags {', '.join(found.tags) or 'none'}; notes "
        + (repr(found.notes) if found.notes else "none"),
    )


@models_group.command("alias")
@click.argument("project", type=click.Path(path_type=Path))
@click.argument("version")
@click.argument("alias")
@click.option("--reason", help="Override failed gates; the reason is recorded with the move.")
@click.option("--remove", is_flag=True, help="Remove MODEL@ALIAS instead (VERSION names MODEL).")
@json_option
def models_alias_command(
    project: Path, version: str, alias: str, reason: str | None, remove: bool, as_json: bool
) -> None:
    """Point ALIAS (candidate, production, or a name of yours) of a model at VERSION, if the
    alias's gates pass; every attempt and each gate's result is recorded."""
    with _open(project, read_only=False) as opened:
        if remove:
            model = version.partition(":")[0].partition("@")[0]
            opened.models.remove_alias(model, alias)
            emit(as_json, {"removed": f"{model}@{alias}"}, f"Removed {model}@{alias}.")
            return
        progress, state = progress_state()
        promotion = opened.models.promote(version, alias, reason, state=state)
        progress.done()
    gates = [
        f"  {'pass' if g['passed'] else 'FAIL'}  {g['gate']}: {g['message']}"
        for g in promotion.gates
    ]
    head = f"{promotion.version_label} is now {promotion.model}@{promotion.alias}"
    if promotion.outcome == "overridden":
        head += f" (gates overridden: {promotion.reason})"
    emit(as_json, promotion.to_json(), "\n".join([head, *gates]))


@models_group.command("gates")
@click.argument("project", type=click.Path(path_type=Path))
@click.argument("model")
@click.argument("alias")
@click.argument("gates", nargs=-1)
@click.option("--clear", is_flag=True, help="Remove every gate of MODEL@ALIAS.")
@json_option
def models_gates_command(
    project: Path, model: str, alias: str, gates: tuple[str, ...], clear: bool, as_json: bool
) -> None:
    """Show or set what a version must pass before MODEL@ALIAS may point at it, e.g.
    "f1_macro >= 0.8" "log_loss <= current + 0.02" (hold-out metrics; 'current' is the
    alias's holder measured on the candidate's hold-out rows)."""
    if gates and clear:
        raise UserError("Give gates or --clear, not both.")
    with _open(project, read_only=not (gates or clear)) as opened:
        if gates or clear:
            result = opened.models.set_gates(model, alias, [] if clear else list(gates))
        else:
            result = opened.models.gates(model, alias)
    emit(
        as_json,
        {"alias": f"{model}@{alias}", "gates": result},
        "\n".join(result) or f"{model}@{alias} has no gates: any version may be promoted.",
    )


@models_group.command("evaluate")
@click.argument("project", type=click.Path(path_type=Path))
@click.argument("version")
@click.argument("dataset")
@recipe_option
@json_option
def models_evaluate_command(
    project: Path, version: str, dataset: str, recipe: str, as_json: bool
) -> None:
    """Measure VERSION on DATASET[:N] and record the metrics and plots as an evaluation."""
    from mlops_desktop.services.evaluation import evaluate

    progress, state = progress_state()
    with _open(project, read_only=False) as opened:
        evaluation = evaluate(opened, version, dataset, state, recipe)
    progress.done()
    shown = ", ".join(f"{k} {_number(v)}" for k, v in evaluation.metrics.items())
    recipe_note = f" after {len(evaluation.recipe)} recipe steps" if evaluation.recipe else ""
    emit(
        as_json,
        evaluation.to_json(),
        f"{version} on {evaluation.dataset_label} ({evaluation.rows:,} rows{recipe_note}): {shown}",
    )


@models_group.command("export")
@click.argument("project", type=click.Path(path_type=Path))
@click.argument("version")
@click.argument("out", type=click.Path(path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["mlflow", "script", "card", "onnx"]),
    required=True,
    help="mlflow: an MLflow Model directory; script: a Python script and notebook that "
    "rebuild it; card: a model card (Markdown and HTML); onnx: OUT.onnx for onnxruntime, "
    "with OUT.json and OUT.md describing it (refused unless it agrees with scikit-learn).",
)
@click.option(
    "--serialization",
    type=click.Choice(["skops", "cloudpickle"]),
    default="skops",
    show_default=True,
    help="For --format mlflow: skops is safe to load (MLflow 3.9+); cloudpickle suits older "
    "MLflow (2.10+) but runs code when loaded.",
)
@json_option
def models_export_command(
    project: Path, version: str, out: Path, fmt: str, serialization: str, as_json: bool
) -> None:
    """Write VERSION to OUT as an MLflow model, a standalone script, a model card or ONNX."""
    from mlops_desktop.services.exports import export_version

    progress, state = progress_state()
    with _open(project) as opened:
        paths = export_version(opened, version, fmt, out, state, serialization=serialization)
    progress.done()
    emit(
        as_json,
        {"version": version, "format": fmt, "paths": [str(p) for p in paths]},
        "Wrote " + ", ".join(str(p) for p in paths),
    )


@models_group.command("delete")
@click.argument("project", type=click.Path(path_type=Path))
@click.argument("version")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@json_option
def models_delete_command(project: Path, version: str, yes: bool, as_json: bool) -> None:
    """Delete VERSION (refused while an alias points at it). 'project compact' then gives
    its disk space back."""
    if not yes and not click.confirm(f"Delete {version}? This cannot be undone", err=True):
        raise click.exceptions.Abort()
    with _open(project, read_only=False) as opened:
        label = opened.models.delete(version)
    emit(
        as_json,
        {"deleted": label},
        f"Deleted {label}; run 'mlops-desktop project compact' to reclaim its space.",
    )
