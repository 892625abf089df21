"""Commands on datasets: import, list, clean, diff, export."""

from __future__ import annotations

from pathlib import Path

import click

from mlops_desktop.cli.base import (
    cli,
    emit,
    existing_project,
    json_option,
    progress_state,
    read_json,
)


@cli.group("data")
def data_group() -> None:
    """Import, list, clean, compare and export datasets."""


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
@click.option("--delimiter", help="Override the detected delimiter (use '\\t' for tab).")
@click.option("--encoding", help="Override the detected encoding (utf-8, utf-16, cp1252, ...).")
@click.option("--decimal", type=click.Choice([".", ","]), help="Override the decimal mark.")
@click.option(
    "--thousands",
    type=click.Choice([".", ",", " ", "'", "none"]),
    help="Override the thousands separator of numbers such as 1.000,25.",
)
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
    thousands: str | None,
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
        settings = detect(Path(source), file_format, decimal).settings
        overrides = {
            "format": file_format,
            "delimiter": delimiter.replace("\\t", "\t") if delimiter is not None else None,
            "encoding": encoding,
            "thousands": "" if thousands == "none" else thousands,
            "header": header,
            "sheet": sheet,
        }
        for key, value in overrides.items():
            if value is not None:
                setattr(settings, key, value)
    progress, state = progress_state()
    with Project.open(existing_project(project)) as opened:
        version = opened.datasets.import_file(source, name, settings, state)
    progress.done()
    notes = "".join(f"\n  note: {n}" for n in version.notes)
    emit(
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

    with Project.open(existing_project(project), read_only=True) as opened:
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
    emit(
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

    steps = recipe_from_json(read_json(recipe))
    progress, state = progress_state()
    with Project.open(existing_project(project)) as opened:
        version, reports = opened.datasets.clean(dataset, steps, name, state)
    progress.done()
    lines = [f"Saved {version.label} ({version.rows:,} rows x {version.columns} columns)"]
    lines += [f"  {r.description}: {r.summary()}" for r in reports]
    lines += [f"  note: {n}" for r in reports for n in r.notes]
    payload = {**version.to_json(), "steps": [r.to_json() for r in reports]}
    emit(as_json, payload, "\n".join(lines))


@data_group.command("export")
@click.argument("project", type=click.Path(path_type=Path))
@click.argument("dataset")
@click.argument("out", type=click.Path(path_type=Path))
@json_option
def data_export_command(project: Path, dataset: str, out: Path, as_json: bool) -> None:
    """Write DATASET[:N] to OUT (.csv or .parquet)."""
    from mlops_desktop.services.project import Project

    with Project.open(existing_project(project), read_only=True) as opened:
        version = opened.datasets.get(dataset)
        path = opened.datasets.export(version, out)
    emit(
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
    from mlops_desktop.domain.dataset import type_label
    from mlops_desktop.services.project import Project

    with Project.open(existing_project(project), read_only=True) as opened:
        result = opened.datasets.diff(a, b)
    lines = [
        f"{result.label_a} -> {result.label_b}: {result.rows_a:,} -> {result.rows_b:,} rows "
        f"({result.rows_added:,} added, {result.rows_removed:,} removed)",
    ]
    if result.columns_added:
        lines.append(f"  columns added: {', '.join(result.columns_added)}")
    if result.columns_removed:
        lines.append(f"  columns removed: {', '.join(result.columns_removed)}")
    lines += [
        f"  {c}: type {type_label(ta)} -> {type_label(tb)}" for c, ta, tb in result.type_changes
    ]
    emit(as_json, result.to_json(), "\n".join(lines))
