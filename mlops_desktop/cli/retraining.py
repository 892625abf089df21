"""Retraining: a version's recipe and spec on new data, reviewed against an alias holder."""

from __future__ import annotations

from pathlib import Path

import click

from mlops_desktop.cli.base import cli, emit, existing_project, json_option, progress_state
from mlops_desktop.cli.models import recipe_option
from mlops_desktop.cli.training import wait_for_job
from mlops_desktop.domain.errors import UserError
from mlops_desktop.domain.retraining import Retrain, Review


@cli.group("retrain")
def retrain_group() -> None:
    """Retrain a version on new data, review it against an alias holder, promote it."""


def _open(project: Path, read_only: bool = True):
    from mlops_desktop.services.project import Project

    return Project.open(existing_project(project), read_only=read_only)


def review_lines(review: Review) -> list[str]:
    """The review as a table of metrics, candidate against holder, then the gates."""
    lines = [review.summary]
    holder = review.holder or "holder"
    lines.append(f"  {'metric':<26} {review.candidate:>12} {holder:>12}")
    for name, value in review.candidate_metrics.items():
        old = (review.holder_metrics or {}).get(name)
        better = review.better(name)
        mark = {True: "  better", False: "  worse", None: ""}[better]
        shown = "–" if old is None else f"{old:.4g}"
        lines.append(f"  {name:<26} {value:>12.4g} {shown:>12}{mark}")
    lines += [f"  gate {gate}" for gate in review.gates]
    return lines


def _line(retrain: Retrain) -> str:
    version = retrain.version_label or f"job #{retrain.job_number}"
    verdict = ""
    if retrain.review is not None:
        verdict = "gates pass" if retrain.review.passed else "gates fail"
    return (
        f"#{retrain.number:<4} {retrain.source_label:<14} on {retrain.trained_on_label:<14} "
        f"-> {version:<14} {retrain.model}@{retrain.alias} {verdict}".rstrip()
    )


@retrain_group.command("start")
@click.argument("project", type=click.Path(path_type=Path))
@click.argument("version")
@click.option("--data", "dataset", metavar="DATASET[:N]", help="Retrain on this dataset version.")
@click.option(
    "--file",
    "raw_file",
    type=click.Path(path_type=Path),
    help="Import this raw file as the next version of VERSION's data and retrain on it.",
)
@click.option(
    "--alias",
    default="production",
    show_default=True,
    help="The alias whose holder the new version is judged against.",
)
@click.option("--reason", default="", help="Why (shown in lineage), e.g. the drift alert.")
@recipe_option
@click.option("--wait", is_flag=True, help="Train it now, then review it against the alias holder.")
@click.option(
    "--promote",
    is_flag=True,
    help="With --wait: move the alias to the new version if every gate passes.",
)
@json_option
def retrain_start_command(
    project: Path,
    version: str,
    dataset: str | None,
    raw_file: Path | None,
    alias: str,
    reason: str,
    recipe: str,
    wait: bool,
    promote: bool,
    as_json: bool,
) -> None:
    """Retrain VERSION (MODEL:N) on new data with its own cleaning recipe and experiment."""
    if promote and not wait:
        raise UserError("--promote needs --wait: the new version must be trained and reviewed.")
    path = existing_project(project)
    with _open(path, read_only=False) as opened:
        progress, state = progress_state()
        retrain = opened.retraining.start(
            version, dataset, raw_file and str(raw_file), alias, reason, state, recipe
        )
        progress.done()
    if not wait:
        emit(
            as_json,
            retrain.to_json(),
            f"Retraining #{retrain.number}: queued job #{retrain.job_number} on "
            f"{retrain.trained_on_label}. Run it with 'mlops-desktop queue run {path}', then "
            f"'mlops-desktop retrain review {path} {retrain.number}'.",
        )
        return
    wait_for_job(path, retrain.job_number)
    with _open(path, read_only=False) as opened:
        progress, state = progress_state()
        review = opened.retraining.review(retrain.number, state)
        progress.done()
        lines = review_lines(review)
        if promote:
            if review.passed:
                promotion = opened.retraining.promote(retrain.number)
                lines.append(f"{promotion.version_label} is now {retrain.model}@{alias}.")
            else:
                lines.append(f"Not promoted: {retrain.model}@{alias} stays where it was.")
        retrain = opened.retraining.get(retrain.number)
    emit(as_json, retrain.to_json(), "\n".join(lines))


@retrain_group.command("list")
@click.argument("project", type=click.Path(path_type=Path))
@json_option
def retrain_list_command(project: Path, as_json: bool) -> None:
    """Every retraining, newest first, with its new version and verdict."""
    with _open(project) as opened:
        retrains = opened.retraining.list()
    emit(
        as_json,
        {"retrains": [r.to_json() for r in retrains]},
        "\n".join(_line(r) for r in retrains)
        or "No retraining yet: start one with 'mlops-desktop retrain start'.",
    )


@retrain_group.command("review")
@click.argument("project", type=click.Path(path_type=Path))
@click.argument("number", type=int)
@json_option
def retrain_review_command(project: Path, number: int, as_json: bool) -> None:
    """Measure retraining NUMBER's new version and the alias holder on the same fresh hold-out
    rows, and run the alias's gates."""
    with _open(project, read_only=False) as opened:
        progress, state = progress_state()
        review = opened.retraining.review(number, state)
        progress.done()
    emit(as_json, review.to_json(), "\n".join(review_lines(review)))


@retrain_group.command("promote")
@click.argument("project", type=click.Path(path_type=Path))
@click.argument("number", type=int)
@click.option("--reason", help="Override failed gates; the reason is recorded with the move.")
@json_option
def retrain_promote_command(project: Path, number: int, reason: str | None, as_json: bool):
    """Move the alias retraining NUMBER proposed to its new version, through the gates."""
    with _open(project, read_only=False) as opened:
        promotion = opened.retraining.promote(number, reason)
    emit(
        as_json,
        promotion.to_json(),
        f"{promotion.version_label} is now {promotion.model}@{promotion.alias}.",
    )
