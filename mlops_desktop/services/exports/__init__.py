"""Exporting a model version: an MLflow Model directory, a standalone script, a model card,
an ONNX file."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from mlops_desktop.domain.errors import UserError
from mlops_desktop.domain.tasks import TaskState

if TYPE_CHECKING:
    from mlops_desktop.services.project import Project

#: format -> (title, what it is, suffix of OUT; "" for a folder)
FORMATS = {
    "mlflow": ("MLflow model", "a folder MLflow loads and serves as it is", ""),
    "script": ("Script and notebook", "readable code that rebuilds and retrains it", ".py"),
    "card": ("Model card", "Markdown and HTML with the plots, for sharing", ".md"),
    "onnx": ("ONNX", "a file onnxruntime runs without scikit-learn, checked against it", ".onnx"),
}


def export_version(
    project: Project,
    ref: str,
    fmt: str,
    out: str | Path,
    state: TaskState,
    serialization: str = "skops",
) -> list[Path]:
    """Write version ``ref`` to ``out`` in format ``fmt``; returns what was written. The
    cloudpickle MLflow export and the ONNX export load the model: run them in a worker
    process (``export_task``)."""
    if fmt not in FORMATS:
        raise UserError(f"{fmt!r} is not an export format: use {', '.join(FORMATS)}.")
    version = project.models.get(ref)
    out = Path(out).expanduser()
    if fmt == "mlflow":
        from mlops_desktop.services.exports.mlflow import export_mlflow

        return [export_mlflow(project, version, out, state, serialization)]
    if fmt == "script":
        from mlops_desktop.services.exports.script import export_script

        return export_script(project, version, out, state)
    if fmt == "onnx":
        from mlops_desktop.services.exports.onnx import export_onnx

        return export_onnx(project, version, out, state)
    from mlops_desktop.services.exports.card import export_card

    return export_card(project, version, out, state)


def export_task(
    project_path: str, ref: str, fmt: str, out: str, serialization: str, state: TaskState
) -> list[Path]:
    """Task function: export in a child process (it opens its own connection)."""
    from mlops_desktop.services.project import Project

    with Project.open(project_path, read_only=True) as project:
        return export_version(project, ref, fmt, out, state, serialization)
