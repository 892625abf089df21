"""A model version as an ONNX file that onnxruntime runs without Python's scikit-learn.

The graph is the one the model server runs (``services.onnx``), and is written only once it
has agreed with scikit-learn on the version's hold-out rows. Next to ``OUT.onnx`` go
``OUT.json``, which describes its inputs and outputs for programs, and ``OUT.md``, which
does so for people, with code that runs it.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from mlops_desktop.domain.errors import UserError
from mlops_desktop.domain.model import ModelVersion
from mlops_desktop.domain.tasks import TaskState
from mlops_desktop.services import modelfiles
from mlops_desktop.services import onnx as compiled
from mlops_desktop.services.exports.script import _write_files
from mlops_desktop.version import __version__

if TYPE_CHECKING:
    from mlops_desktop.services.project import Project

SUFFIX = ".onnx"
#: How each kind of input is fed, and what stands for a missing value.
_FEEDING = {
    "number": ("a number", "NaN"),
    "boolean": ("1.0 for true, 0.0 for false", "NaN"),
    "string": ("text", '"" (the empty string)'),
    "datetime": (
        "milliseconds since 1970-01-01 00:00 UTC (a time of day on that day, a duration from it)",
        "NaN",
    ),
}


def export_onnx(project: Project, version: ModelVersion, out: Path, state: TaskState) -> list[Path]:
    """Write ``out`` (a new ``.onnx`` file), ``out.json`` and ``out.md`` for ``version``;
    return their paths. Refused, with the reason, when the version cannot be converted or
    ONNX disagrees with scikit-learn on its hold-out rows. Loads the model: run it where
    models may be loaded (a task in its own process, or the command line). All three files
    appear, or none."""
    out = Path(out).expanduser().absolute()
    paths = [out, out.with_suffix(".json"), out.with_suffix(".md")]
    _check_destination(out, paths)
    state.set_progress(0.0, f"Loading {version.label}")
    model = modelfiles.load_version(project.file.blobs, version)
    state.check_cancelled()
    state.set_progress(0.3, "Converting to ONNX and checking it against scikit-learn")
    attempt = compiled.attempt_onnx(project, version, model)
    if attempt.predictor is None:
        raise UserError(f"{version.label} cannot be exported as ONNX: {_lower(attempt.clause)}.")
    state.check_cancelled()
    state.set_progress(0.9, f"Writing {out.name}")
    description = describe(attempt.predictor, out.name, attempt.clause)
    _write_files(
        {
            paths[0]: attempt.predictor.data,
            paths[1]: json.dumps(description, indent=2, ensure_ascii=False) + "\n",
            paths[2]: readme(description, _example(attempt)),
        }
    )
    state.set_progress(1.0, f"Exported {version.label} as {out.name}")
    return paths


def _check_destination(out: Path, paths: list[Path]) -> None:
    if out.suffix.lower() != SUFFIX:
        raise UserError(
            f"Cannot export ONNX to {out.name}: the file name must end in .onnx, for example "
            f"{out.stem or 'model'}.onnx."
        )
    if not out.parent.is_dir():
        raise UserError(f"The folder {out.parent} does not exist: choose another.")
    for path in paths:
        if path.exists():
            raise UserError(
                f"{path} already exists: choose another name, or move the existing file away."
            )


def _lower(clause: str) -> str:
    """A clause that started a sentence, continuing one (names keep their capitals)."""
    first = clause.split(" ", 1)[0]
    if first[:1].isupper() and first[1:].islower():
        return clause[:1].lower() + clause[1:]
    return clause


def _shape(shape) -> list:
    return [d if isinstance(d, int) else None for d in shape]


def describe(predictor: compiled.OnnxPredictor, file_name: str, check: str) -> dict:
    """The graph's inputs and outputs, and where it came from, as plain data."""
    version = predictor.version
    kinds = {c.name: c.kind for c in predictor.signature.inputs}
    session = predictor.session
    inputs = []
    for spec, node in zip(predictor.inputs, session.get_inputs(), strict=True):
        meaning, missing = _FEEDING[spec.kind]
        inputs.append(
            {
                "name": node.name,
                "column": spec.name,
                "onnx_type": node.type,
                "shape": _shape(node.shape),
                "column_kind": kinds[spec.name],
                "value": meaning,
                "missing": missing,
            }
        )
    outputs = []
    for node in session.get_outputs():
        if predictor.classes is None:
            meaning = f"the predicted {version.spec.get('target', 'value')}"
        elif node.name == predictor.outputs[0]:
            meaning = "the predicted class"
        else:
            meaning = "each class's probability, one column per class in the order of classes"
        outputs.append(
            {
                "name": node.name,
                "onnx_type": node.type,
                "shape": _shape(node.shape),
                "meaning": meaning,
            }
        )
    return {
        "file": file_name,
        "model": version.name,
        "version": version.version,
        "label": version.label,
        "task": version.task,
        "target": version.spec.get("target"),
        "estimator": version.estimator,
        "classes": predictor.classes,
        "inputs": inputs,
        "outputs": outputs,
        "opset": {"ai.onnx": compiled.OPSET, "ai.onnx.ml": compiled.ML_OPSET},
        "numbers": predictor.precision,
        "check": f"{check}.",
        "exported_by": f"mlops_desktop {__version__}",
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _example(attempt: compiled.Attempt) -> dict[str, object]:
    """The first hold-out row as the graph's inputs, for the README's code."""
    predictor = attempt.predictor
    columns = compiled.request_columns(attempt.holdout.iloc[:1], predictor.signature)
    return {name: values[0, 0] for name, values in predictor.feeds(columns, 1).items()}


def _python(value) -> str:
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    value = float(value)
    return "np.nan" if math.isnan(value) else repr(value)


def readme(description: dict, example: dict[str, object]) -> str:
    """``OUT.md``: what the file is, its inputs and outputs, and code that runs it."""
    file_name = description["file"]
    opset = description["opset"]
    dtypes = {"tensor(double)": "np.float64", "tensor(float)": "np.float32"}
    lines = [
        f"# {description['label']} as ONNX",
        "",
        f"`{file_name}` is model version {description['label']} of mlops_desktop: "
        f"{description['estimator']} predicting `{description['target']}` "
        f"({description['task']}), converted with skl2onnx (opset {opset['ai.onnx']}, "
        f"ai.onnx.ml {opset['ai.onnx.ml']}). Checked before export: {description['check']}",
        "",
        "## Inputs",
        "",
        "One input per column, each shaped `(rows, 1)`.",
        "",
        "| input | ONNX type | column | value | missing |",
        "|---|---|---|---|---|",
    ]
    for i in description["inputs"]:
        lines.append(
            f"| `{i['name']}` | {i['onnx_type']} | {i['column_kind']} | {i['value']} | "
            f"{i['missing']} |"
        )
    lines += ["", "## Outputs", "", "| output | ONNX type | meaning |", "|---|---|---|"]
    for o in description["outputs"]:
        lines.append(f"| `{o['name']}` | {o['onnx_type']} | {o['meaning']} |")
    if description["classes"] is not None:
        classes = ", ".join(f"`{c}`" for c in description["classes"])
        lines += ["", f"The classes, in the order of the probability columns: {classes}."]
    feeds = []
    for i in description["inputs"]:
        dtype = dtypes.get(i["onnx_type"], "object")
        value = _python(example[i["name"]])
        name = json.dumps(i["name"], ensure_ascii=False)
        feeds.append(f"    {name}: np.array([[{value}]], dtype={dtype}),")
    names = ", ".join(o["name"] for o in description["outputs"])
    lines += [
        "",
        "## Running it",
        "",
        "With `pip install onnxruntime numpy`, from the folder holding the file (the values are",
        "the first hold-out row):",
        "",
        "```python",
        "import numpy as np",
        "import onnxruntime as ort",
        "",
        f'session = ort.InferenceSession("{file_name}", providers=["CPUExecutionProvider"])',
        "feeds = {",
        *feeds,
        "}",
        f"{names}{',' if len(description['outputs']) == 1 else ''} = session.run(None, feeds)",
        f"print({names})",
        "```",
        "",
        f"`{Path(file_name).with_suffix('.json').name}` describes the same inputs and outputs "
        "for programs.",
        "",
    ]
    return "\n".join(lines)
