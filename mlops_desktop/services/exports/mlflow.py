"""A model version as an MLflow Model directory, laid out as ``mlflow.sklearn.save_model`` would."""

from __future__ import annotations

import ast
import importlib
import importlib.util
import json
import os
import pickle
import platform
import shutil
import sys
import uuid
import zipfile
from collections.abc import Mapping
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from mlops_desktop.domain.errors import UserError
from mlops_desktop.domain.model import ModelVersion
from mlops_desktop.domain.signature import Signature
from mlops_desktop.domain.tasks import TaskState
from mlops_desktop.services import modelfiles

if TYPE_CHECKING:
    import pandas as pd

    from mlops_desktop.domain.dataset import DatasetVersion
    from mlops_desktop.services.project import Project

SERIALIZATIONS = ("skops", "cloudpickle")
# MLflow's ``mlflow_version`` names the MLflow that wrote a model. No MLflow wrote these, so
# it names the oldest one that loads them, and the requirements ask for at least that one:
# 3.9.0 is the first whose sklearn flavour reads skops files (with ``skops_trusted_types``);
# 2.10.0 the first whose signatures read a column's ``required`` flag, which both exports use.
MINIMUM_MLFLOW = {"skops": "3.9.0", "cloudpickle": "2.10.0"}
MODEL_FILES = {"skops": "model.skops", "cloudpickle": "model.pkl"}
EXAMPLE_ROWS = 5
CODE_DIR = "code"
# The environment files pin these (the model needs them anyway) and nothing else of ours.
CODE_IMPORTS = frozenset({"numpy", "pandas", "scipy", "sklearn"})
BUILD_PACKAGES = ("pip", "setuptools", "wheel")
_PACKAGE_INIT = '"""Only what models exported from mlops_desktop need: their transformers."""\n'


def export_mlflow(
    project: Project,
    version: ModelVersion,
    out: Path,
    state: TaskState,
    serialization: str = "skops",
) -> Path:
    """Write ``version`` as an MLflow Model in the new folder ``out`` and return ``out``.

    The folder has the ``sklearn`` and ``python_function`` flavours, the signature, an input
    example of real rows and pinned environments, so ``mlflow.pyfunc.load_model`` and
    ``mlflow models serve`` take it as it is. The model is rebuilt and checked first, as for
    serving, so this runs only where models may be loaded (a task in its own process, never
    the GUI's). "skops" then copies the stored model file unchanged (MLflow 3.9 or newer);
    "cloudpickle" pickles the rebuilt model, for older MLflow. Our own transformers travel
    as source in ``code/``. A failure or a cancel leaves nothing at ``out``.
    """
    if serialization not in SERIALIZATIONS:
        raise UserError(
            f"There is no MLflow serialization {serialization!r}: use 'skops' (safe to load, "
            "MLflow 3.9 or newer) or 'cloudpickle' (for older MLflow)."
        )
    out = Path(out)
    _check_free(out)
    state.set_progress(0.0, f"Reading {version.label}")
    data = project.file.blobs.get(version.model_sha256)
    try:
        trusted = _trusted_types(data)
        # Rebuilt and checked as serving would (tree node arrays in bounds, and the like):
        # MLflow checks none of it, so an export must not vouch for what we would refuse.
        model = modelfiles.load_model(data)
    except UserError as exc:
        raise modelfiles.refused(version, exc) from None
    state.check_cancelled()
    staging = _staging_folder(out)
    try:
        _write(project, version, data, model, trusted, serialization, staging, state)
        state.check_cancelled()
        if out.exists():
            out.rmdir()  # empty, as checked; rmdir refuses if something arrived since
        os.replace(staging, out)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise _write_error(out, exc) from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    state.set_progress(1.0, f"Exported {version.label} to {out}")
    return out


def _check_free(out: Path) -> None:
    if out.is_dir() and any(out.iterdir()):
        raise UserError(
            f"{out} already exists and is not empty: choose a new folder for the MLflow model, "
            "or empty that one first."
        )
    if out.exists() and not out.is_dir():
        raise UserError(f"{out} is a file: choose a new folder for the MLflow model.")


def _staging_folder(out: Path) -> Path:
    """A hidden sibling of ``out`` to write into: renamed into place when complete, on the
    same file system, so ``out`` never holds half a model."""
    staging = out.parent / f".{out.name}.{uuid.uuid4().hex[:8]}.partial"
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        staging.mkdir()
    except OSError as exc:
        raise _write_error(out, exc) from None
    return staging


def _write_error(out: Path, exc: OSError) -> UserError:
    return UserError(
        f"Could not write the MLflow model to {out} ({exc.strerror or exc}): check that its "
        "folder is writable and the disk has room, then export again."
    )


def _trusted_types(data: bytes) -> list[str]:
    """Every type MLflow must be told to trust, once we know our own loader trusts them all:
    an export must never vouch for a type that mlops_desktop would refuse to load."""
    import skops.io as sio

    try:
        strangers = modelfiles.untrusted_types(data)
        listed = sorted(sio.get_untrusted_types(data=data))
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise UserError(f"The model file is damaged ({exc}): train the model again.") from None
    if strangers:
        raise UserError(
            f"The model file contains types that are not trusted ({', '.join(strangers[:3])}), "
            "so it was not exported: it was not made by mlops_desktop, or was altered."
        )
    return listed


def _write(
    project: Project,
    version: ModelVersion,
    data: bytes,
    model,
    trusted: list[str],
    serialization: str,
    root: Path,
    state: TaskState,
) -> None:
    model_file = MODEL_FILES[serialization]
    state.set_progress(0.1, "Writing the model file")
    if serialization == "skops":
        (root / model_file).write_bytes(data)
    else:
        _write_pickle(model, root / model_file)
    state.check_cancelled()
    own = [name for name in trusted if name.startswith("mlops_desktop.")]
    if own:
        state.set_progress(0.4, "Adding the source of mlops_desktop's transformers")
        _write_code(root, own)
        state.check_cancelled()
    state.set_progress(0.5, "Writing an input example")
    dataset = _training_data(project, version)
    signature = Signature.from_json(version.signature)
    specs = column_specs(signature, _missing_counts(project, dataset))
    example = dataset is not None and _write_example(project, dataset, specs, root)
    state.check_cancelled()
    state.set_progress(0.8, "Writing MLmodel and the environment")
    python, packages = _environment(version, serialization)
    flavors = _flavors(serialization, python, packages, trusted, code=bool(own))
    mlmodel = _mlmodel(version, serialization, flavors, _signature_entry(specs, signature))
    # MLflow measures the folder before it writes MLmodel and the environment files.
    mlmodel["model_size_bytes"] = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    if example:
        mlmodel["saved_input_example_info"] = {
            "artifact_path": "input_example.json",
            "pandas_orient": "split",
            "serving_input_path": "serving_input_example.json",
            "type": "dataframe",
        }
    _write_yaml(root / "MLmodel", mlmodel)
    _write_environment(root, serialization, python, packages)


def _mlmodel(version: ModelVersion, serialization: str, flavors: dict, signature: dict) -> dict:
    return {
        "flavors": flavors,
        "is_signature_from_type_hint": False,
        "metadata": {"mlops_desktop": _lineage(version)},
        "mlflow_version": MINIMUM_MLFLOW[serialization],
        "model_id": None,
        "model_uuid": uuid.uuid4().hex,
        "prompts": None,
        "signature": signature,
        "type_hint_from_example": False,
        "utc_time_created": str(datetime.now(UTC).replace(tzinfo=None)),
    }


def _write_pickle(model, path: Path) -> None:
    import cloudpickle

    with path.open("wb") as file:
        # The default protocol, not cloudpickle's highest, so that older Pythons can read it.
        cloudpickle.dump(model, file, protocol=pickle.DEFAULT_PROTOCOL)


# -- our transformers, as source ------------------------------------------------------------


def _write_code(root: Path, own_types: list[str]) -> None:
    """``code/`` holds each module that defines one of ``own_types``, under its own dotted
    name: MLflow puts ``code`` on ``sys.path`` before it loads the model."""
    for module in sorted({name.rsplit(".", 1)[0] for name in own_types}):
        *packages, leaf = module.split(".")
        folder = root / CODE_DIR
        for package in packages:
            folder /= package
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "__init__.py").write_text(_PACKAGE_INIT, encoding="utf-8")
        (folder / f"{leaf}.py").write_text(standalone_source(module), encoding="utf-8")


def standalone_source(module_name: str) -> str:
    """The source of one of our modules with no imports from the rest of mlops_desktop.

    The constants it takes from there are written in; anything else it would need from there,
    and any import beyond the standard library, NumPy, pandas, SciPy and scikit-learn (all an
    exported model's environment has), is refused with ``RuntimeError``: it is our bug.
    """
    spec = importlib.util.find_spec(module_name)
    loader = spec.loader if spec is not None else None
    source = loader.get_source(module_name) if loader is not None else None
    if source is None:
        raise RuntimeError(
            f"The source of {module_name} is not part of this installation (it ships bytecode "
            "only), so models that use its transformers cannot be exported to MLflow."
        )
    module = importlib.import_module(module_name)
    lines = source.splitlines(keepends=True)
    # Last first, so the line numbers of the imports still to replace stay right.
    for node in reversed(ast.parse(source).body):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and _ours(node.module):
            lines[node.lineno - 1 : node.end_lineno] = [_written_in(module, node)]
    text = "".join(lines)
    _check_imports(module_name, text)
    return text


def _ours(module: str | None) -> bool:
    return (module or "").split(".")[0] == "mlops_desktop"


def _written_in(module, node: ast.ImportFrom) -> str:
    lines = [f"# From {node.module}, written in so that this file needs nothing else of ours.\n"]
    for alias in node.names:
        name = alias.asname or alias.name
        value = getattr(module, name, None)
        text = repr(value)
        try:
            plain = alias.name != "*" and ast.literal_eval(text) == value
        except (ValueError, SyntaxError, TypeError):
            plain = False
        if not plain:
            raise RuntimeError(
                f"{module.__name__} takes {alias.name} from {node.module}, which is not a plain "
                f"constant: define it in {module.__name__}, so exported models can carry it."
            )
        lines.append(f"{name} = {text}\n")
    return "".join(lines)


def _check_imports(module_name: str, source: str) -> None:
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = ["." * node.level + (node.module or "")]
        else:
            continue
        for name in names:
            top = name.split(".")[0]
            if top not in CODE_IMPORTS and top not in sys.stdlib_module_names:
                raise RuntimeError(
                    f"{module_name} imports {name}, which an exported model's MLflow "
                    "environment does not have: keep its imports to the standard library, "
                    "NumPy, pandas, SciPy and scikit-learn."
                )


# -- signature and input example --------------------------------------------------------------


def mlflow_column_type(arrow_type: str, has_missing: bool = False) -> str | None:
    """MLflow's column type for a column of Arrow type ``arrow_type`` (a name such as
    ``int64`` or ``timestamp[ms]``, as signatures record them), or None if it has none."""
    if arrow_type in ("double", "float", "halffloat") or arrow_type.startswith("decimal"):
        return "double"
    if arrow_type.startswith(("int", "uint")):
        # pandas holds whole numbers with gaps as floats. And never "integer": MLflow reads
        # a JSON request's whole numbers as 64-bit and refuses to narrow them to 32.
        return "double" if has_missing else "long"
    if arrow_type == "bool":
        return "boolean"
    if arrow_type in ("string", "large_string") or arrow_type.startswith(
        ("dictionary<values=string,", "dictionary<values=large_string,")
    ):
        return "string"
    if arrow_type.startswith(("timestamp", "date")):
        return "datetime"
    return None


def column_specs(signature: Signature, missing: Mapping[str, int] | None = None) -> list[dict]:
    """The signature's inputs as MLflow column specs, in order; ``missing`` counts each
    column's missing values in the training data, where known.

    A column the model ignores but MLflow cannot describe is left out (MLflow passes on only
    the columns it knows); one the model uses makes the export fail.
    """
    specs = []
    for column in signature.inputs:
        kind = mlflow_column_type(column.type, bool((missing or {}).get(column.name)))
        if kind is None and column.required:
            raise UserError(
                f"The model reads column {column.name!r} of type {column.type}, which an "
                "MLflow signature cannot describe: convert the column (for example to text) "
                "with a cleaning recipe and train again."
            )
        if kind is not None:
            specs.append({"type": kind, "name": column.name, "required": column.required})
    return specs


def output_type(signature: Signature) -> str:
    """MLflow's type of what ``predict`` returns: the class labels, or numbers."""
    classes = signature.classes
    if signature.task == "regression":
        return "double"
    if classes and all(isinstance(c, bool) for c in classes):
        return "boolean"
    if classes and all(isinstance(c, int) and not isinstance(c, bool) for c in classes):
        return "long"
    if classes and all(isinstance(c, float) for c in classes):
        return "double"
    return "string"


def _signature_entry(specs: list[dict], signature: Signature) -> dict:
    # MLflow keeps both schemas as JSON text inside the YAML.
    return {
        "inputs": json.dumps(specs),
        "outputs": json.dumps([{"type": output_type(signature), "required": True}]),
        "params": None,
    }


def _training_data(project: Project, version: ModelVersion) -> DatasetVersion | None:
    """The dataset version the model was trained on, if the project still has it."""
    if not version.dataset_label:
        return None
    try:
        dataset = project.datasets.get(version.dataset_label)
    except UserError:
        return None
    return dataset if dataset.uuid == version.dataset_version_uuid else None


def _missing_counts(project: Project, dataset: DatasetVersion | None) -> dict[str, int] | None:
    if dataset is None:
        return None
    try:
        profile = project.datasets.profile(dataset)
    except UserError:
        return None
    return {column.name: column.missing for column in profile.columns}


def _write_example(
    project: Project, dataset: DatasetVersion, specs: list[dict], root: Path
) -> bool:
    """``input_example.json`` and ``serving_input_example.json``: the first rows of the
    training data, in MLflow's formats (False if there are no rows)."""
    from mlops_desktop.services import tabular

    # The first part holds the first rows: no need to read the whole dataset.
    table = tabular.decode_parts([project.file.blobs.get(dataset.parts[0])])
    frame = table.slice(0, EXAMPLE_ROWS).select([s["name"] for s in specs]).to_pandas()
    if frame.empty:
        return False
    split = example_split(frame, specs)
    (root / "input_example.json").write_text(json.dumps(split, allow_nan=False), "utf-8")
    serving = json.dumps({"dataframe_split": split}, indent=2, allow_nan=False)
    (root / "serving_input_example.json").write_text(serving, "utf-8")
    return True


def example_split(frame: pd.DataFrame, specs: list[dict]) -> dict:
    """Rows as MLflow's ``split`` JSON, each value as its column's MLflow type reads it: dates
    as ISO text, missing values as null, whole numbers in a ``double`` column as floats."""
    columns = [_json_column(frame[spec["name"]], spec["type"]) for spec in specs]
    return {
        "columns": [spec["name"] for spec in specs],
        "data": [list(row) for row in zip(*columns, strict=True)],
    }


def _json_column(values: pd.Series, kind: str) -> list:
    import pandas as pd

    if kind == "datetime":
        values = pd.to_datetime(values)
        if values.dt.tz is not None:
            # MLflow refuses zone-aware dates; the wall-clock time gives the parts the
            # model saw in training (the year, month, hour... of the zone it was in).
            values = values.dt.tz_localize(None)
        return [None if pd.isna(v) else v.isoformat() for v in values]
    cast = {"double": float, "long": int, "boolean": bool, "string": str}[kind]
    return [None if pd.isna(v) else cast(v) for v in values.astype(object)]


# -- environment --------------------------------------------------------------------------------


def _environment(version: ModelVersion, serialization: str) -> tuple[str, dict[str, str | None]]:
    """The Python version and the packages (name: version, or None if unknown) to pin."""
    if serialization == "skops":
        # The file is the one training wrote: it needs what training ran on.
        recorded = version.environment.get("packages", {})
        names = ("numpy", "pandas", "scikit-learn", "scipy", "skops")
        python = version.environment.get("python") or platform.python_version()
        return python, {name: recorded.get(name) for name in names}
    # The pickle holds objects rebuilt and pickled here: it needs what this process runs on
    # (usually what training ran on, unless mlops_desktop was upgraded since).
    names = ("cloudpickle", "numpy", "pandas", "scikit-learn", "scipy")
    return platform.python_version(), {name: _installed(name) for name in names}


def _installed(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _flavors(
    serialization: str,
    python: str,
    packages: dict[str, str | None],
    trusted: list[str],
    code: bool,
) -> dict:
    model_file = MODEL_FILES[serialization]
    pyfunc = {
        "env": {"conda": "conda.yaml", "virtualenv": "python_env.yaml"},
        "loader_module": "mlflow.sklearn",
        "model_path": model_file,
        "predict_fn": "predict",
        "python_version": python,
    }
    if code:
        pyfunc["code"] = CODE_DIR
    sklearn = {
        "code": CODE_DIR if code else None,
        "pickled_model": model_file,
        "serialization_format": serialization,
        "sklearn_version": packages["scikit-learn"] or _installed("scikit-learn"),
        "skops_trusted_types": trusted if serialization == "skops" and trusted else None,
    }
    return {"python_function": pyfunc, "sklearn": sklearn}


def _lineage(version: ModelVersion) -> dict:
    return {
        "model_version": version.label,
        "model_version_uuid": version.uuid,
        "dataset_version": version.dataset_label,
        "task": version.task,
        "estimator": version.estimator,
        "trained_with": version.environment.get("mlops_desktop"),
    }


def _requirements(serialization: str, packages: dict[str, str | None]) -> list[str]:
    pins = [name if number is None else f"{name}=={number}" for name, number in packages.items()]
    return sorted([f"mlflow>={MINIMUM_MLFLOW[serialization]}", *pins])


def _write_environment(
    root: Path, serialization: str, python: str, packages: dict[str, str | None]
) -> None:
    requirements = _requirements(serialization, packages)
    (root / "requirements.txt").write_text("\n".join(requirements), "utf-8")
    # pip, setuptools and wheel unpinned, as MLflow writes them when it cannot tell their
    # versions: we do not know which ones the training machine had.
    conda = {
        "channels": ["conda-forge"],
        "dependencies": [f"python={python}", "pip", {"pip": requirements}],
        "name": "mlflow-env",
    }
    _write_yaml(root / "conda.yaml", conda)
    python_env = {
        "python": python,
        "build_dependencies": list(BUILD_PACKAGES),
        "dependencies": ["-r requirements.txt"],
    }
    _write_yaml(root / "python_env.yaml", python_env, sort_keys=False)


def _write_yaml(path: Path, data: dict, sort_keys: bool = True) -> None:
    with path.open("w", encoding="utf-8") as file:
        yaml.safe_dump(data, file, default_flow_style=False, sort_keys=sort_keys)
