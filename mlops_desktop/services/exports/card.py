"""A model card: what a version is, what it was trained on, how it scores, with its plots.

Written as Markdown (plots as PNG files in a folder beside it) and as one self-contained HTML
file (plots inlined), for sharing with people who do not use the app.
"""

from __future__ import annotations

import base64
import html
import io
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from mlops_desktop.domain.errors import UserError
from mlops_desktop.domain.model import ModelVersion
from mlops_desktop.domain.recipe import recipe_from_json
from mlops_desktop.domain.tasks import TaskState
from mlops_desktop.services.registry import primary_score

if TYPE_CHECKING:
    from mlops_desktop.services.project import Project

_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto;
       padding: 0 1rem; line-height: 1.45; color: #222; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.6rem; text-align: left; }
th { background: #f3f3f3; }
img { max-width: 100%; }
code { background: #f3f3f3; padding: 0 0.2rem; }
"""


def _table(headers: list[str], rows: list[list]) -> str:
    def cell(value) -> str:
        text = "" if value is None else f"{value:.4g}" if isinstance(value, float) else str(value)
        return text.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _plot_images(plots: dict, label: str) -> list[tuple[str, str, bytes]]:
    """(file name, title, PNG) of every plot, drawn on Agg figures (no display needed)."""
    from matplotlib.figure import Figure

    from mlops_desktop.services import plots as drawing

    images = []
    for key, title in drawing.available(plots):
        figure = Figure(figsize=(6, 4.2), layout="constrained")
        drawing.draw(figure, key, plots, label)
        buffer = io.BytesIO()
        with warnings.catch_warnings():
            # A character no installed font has (an emoji in a name) is drawn as a box;
            # the plot is still right, and the card's text keeps the character.
            warnings.filterwarnings("ignore", "Glyph .* missing from font", UserWarning)
            figure.savefig(buffer, format="png", dpi=110)
        images.append((f"{key}.png", title, buffer.getvalue()))
    return images


def card_markdown(project: Project, version: ModelVersion, plot_folder: str, images) -> str:
    models, datasets = project.models, project.datasets
    aliases = [a.label for a in models.aliases_of(version)]
    lines = [
        f"# Model card: {version.label}",
        "",
        f"**{version.estimator}** predicting `{version.spec.get('target')}` ({version.task}), "
        f"trained on dataset **{version.dataset_label}** by experiment "
        f"**{version.experiment_name}**. {primary_score(version)}.",
        "",
        f"- Created {version.created_at[:16].replace('T', ' ')} UTC by {version.created_by}",
        f"- Aliases: {', '.join(aliases) or 'none'}",
        f"- Tags: {', '.join(version.tags) or 'none'}",
        f"- Fitted in {version.fit_seconds:.1f} s; seed {version.seed}",
        "",
    ]
    if version.notes:
        lines += ["## Notes", "", version.notes, ""]
    lines += ["## Training data", ""]
    if version.dataset_version_uuid:
        for data in datasets.chain(datasets.by_uuid(version.dataset_version_uuid)):
            size = f"{data.rows:,} rows × {data.columns} columns"
            if data.source is not None:
                lines.append(
                    f"- **{data.label}**: imported from `{data.source.name}` "
                    f"(sha256 `{data.source.sha256[:16]}…`), {size}"
                )
            elif data.parent_label is not None:
                steps = len(data.recipe)
                lines.append(
                    f"- **{data.label}**: {data.parent_label} cleaned by {steps} "
                    f"step{'s' * (steps != 1)}, {size}"
                )
                lines += [f"    - {step.describe()}" for step in recipe_from_json(data.recipe)]
            else:
                lines.append(f"- **{data.label}**: saved from a table, not from a file, {size}")
    else:
        lines.append(f"- **{version.dataset_label}**: no longer in the project")
    rows = version.metrics.get("rows", {})
    validation = version.spec.get("validation", {})
    lines += [
        "",
        f"{rows.get('train', '?')} rows fitted, {rows.get('holdout', '?')} held out "
        f"({validation.get('holdout', 0.2):.0%}, seed {validation.get('seed')}).",
        "",
        "## Inputs",
        "",
        _table(
            ["Column", "Type", "Treated as", "Required"],
            [
                [c["name"], c["type"], c["kind"], "yes" if c["required"] else "no"]
                for c in version.signature.get("inputs", [])
            ],
        ),
        "",
        "## Performance",
        "",
    ]
    cv = version.metrics.get("cv", {})
    holdout = version.metrics.get("holdout", {})
    names = list(cv) + [n for n in holdout if n not in cv]
    lines.append(
        _table(
            ["Metric", "Cross-validation (mean ± std)", "Hold-out"],
            [
                [
                    name,
                    f"{cv[name]['mean']:.4g} ± {cv[name].get('std') or 0:.2g}"
                    if cv.get(name, {}).get("mean") is not None
                    else "",
                    holdout.get(name),
                ]
                for name in names
            ],
        )
    )
    evaluations = models.evaluations(version)
    if evaluations:
        lines += ["", "### On other data", ""]
        metric_names = list(holdout)
        lines.append(
            _table(
                ["Dataset", "Rows", *metric_names],
                [
                    [e.dataset_label, f"{e.rows:,}", *(e.metrics.get(n) for n in metric_names)]
                    for e in evaluations
                ],
            )
        )
    if images:
        lines += ["", "## Plots", ""]
        for name, title, _png in images:
            lines += [f"### {title}", "", f"![{title}]({_plot_link(plot_folder, name)})", ""]
    lines += [
        "## Parameters",
        "",
        _table(["Parameter", "Value"], [[k, repr(v)] for k, v in sorted(version.params.items())]),
        "",
        "## Environment",
        "",
        f"Python {version.environment.get('python')} on {version.environment.get('platform')}; "
        + ", ".join(
            f"{name} {v}" for name, v in version.environment.get("packages", {}).items() if v
        )
        + ".",
        "",
    ]
    return "\n".join(lines)


def _plot_link(plot_folder: str, name: str) -> str:
    """The relative link to a plot, percent-encoded: a link with spaces is no link in
    Markdown, and the HTML finds its images by this exact text."""
    return quote(f"{plot_folder}/{name}")


def _html(markdown: str, title: str, images, plot_folder: str) -> str:
    from markdown_it import MarkdownIt

    # Without raw HTML: notes, tags and column names are text, never markup or scripts.
    body = MarkdownIt("commonmark", {"html": False}).enable("table").render(markdown)
    for name, _title, png in images:
        inline = "data:image/png;base64," + base64.b64encode(png).decode()
        body = body.replace(f'src="{_plot_link(plot_folder, name)}"', f'src="{inline}"')
    return (
        "<!doctype html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body>\n{body}</body></html>\n"
    )


def export_card(project: Project, version: ModelVersion, out: Path, state: TaskState) -> list[Path]:
    """Write ``out`` (.md), the same card as .html, and the plots folder beside them."""
    out = Path(out)
    if out.suffix.lower() != ".md":
        raise UserError(f"{out.name}: a model card is written as Markdown; name it {out.stem}.md.")
    html_path = out.with_suffix(".html")
    folder = out.with_name(f"{out.stem}-plots")
    taken = [p for p in (out, html_path, folder) if p.exists()]
    if taken:
        raise UserError(f"{taken[0]} already exists: choose another name, or move it away first.")
    if not out.parent.is_dir():
        raise UserError(f"There is no folder {out.parent}: create it or choose another place.")
    state.set_progress(0.1, "Drawing the plots")
    images = _plot_images(project.models.plots(version), version.label)
    state.check_cancelled()
    state.set_progress(0.8, "Writing the card")
    markdown = card_markdown(project, version, folder.name, images)
    page = _html(markdown, f"Model card: {version.label}", images, folder.name)
    # Everything is written in a scratch folder first and moved into place at the end, so a
    # failure leaves nothing half-written behind.
    try:
        with tempfile.TemporaryDirectory(dir=out.parent, prefix=".card-") as scratch:
            scratch = Path(scratch)
            (scratch / folder.name).mkdir()
            for name, _title, png in images:
                (scratch / folder.name / name).write_bytes(png)
            (scratch / out.name).write_text(markdown, encoding="utf-8")
            (scratch / html_path.name).write_text(page, encoding="utf-8")
            state.check_cancelled()
            _place(scratch, [folder, html_path, out])
    except OSError as exc:
        raise UserError(
            f"Could not write the model card {out.name} ({exc.strerror or exc}): check the "
            "folder's free space and permissions."
        ) from None
    state.set_progress(1.0, f"Wrote {out.name}")
    return [out, html_path, folder]


def _place(scratch: Path, paths: list[Path]) -> None:
    """Move each of ``paths`` from ``scratch`` into place; after a failure, take back those
    already placed."""
    placed: list[Path] = []
    try:
        for path in paths:
            shutil.move(scratch / path.name, path)
            placed.append(path)
    except BaseException:
        for path in placed:
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        raise
