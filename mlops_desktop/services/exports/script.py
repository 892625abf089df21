"""A model version as a standalone Python script and notebook that retrain it from its raw file."""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import json
import math
import os
import sys
import textwrap
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_desktop.domain.errors import UserError
from mlops_desktop.domain.model import ModelVersion
from mlops_desktop.domain.tasks import TaskState
from mlops_desktop.services import tabular

if TYPE_CHECKING:
    import pandas as pd

    from mlops_desktop.domain.dataset import DatasetVersion
    from mlops_desktop.domain.experiment import ColumnSpec, ExperimentSpec
    from mlops_desktop.services.project import Project

#: Generated code is laid out for this line length (the project's own).
WIDTH = 100
#: ruff's import sorting wraps long imports at its default line length.
IMPORT_WIDTH = 88
NOTEBOOK_SUFFIX = ".ipynb"
#: Packages whose versions the script compares with those the model was trained with.
CHECKED_PACKAGES = ("numpy", "pandas", "scikit-learn")
#: What reading each kind of source needs besides pandas.
READER_PACKAGES = {"parquet": "pyarrow", "jsonl": "pyarrow", "xlsx": "openpyxl"}
_BODY = 4  # indentation of a function's body


def export_script(
    project: Project, version: ModelVersion, out: Path, state: TaskState
) -> list[Path]:
    """Write ``out`` (a new ``.py`` file) and a notebook of the same name next to it that
    retrain ``version`` from its raw file with pandas, numpy and scikit-learn alone and print
    its hold-out metrics; return both paths.

    The code is generated from what the project recorded: the import's settings and types, the
    cleaning recipe of each version along the dataset's lineage, the experiment's spec and the
    version's final parameters. Each file appears complete or not at all.
    """
    out = Path(out).expanduser().absolute()
    notebook = out.with_suffix(NOTEBOOK_SUFFIX)
    _check_destination(out, notebook)
    state.set_progress(0.0, f"Tracing the data of {version.label}")
    program = _Builder(project, version, state).build()
    state.check_cancelled()
    state.set_progress(0.95, "Writing the script and the notebook")
    _write_files({out: program.script(out.name), notebook: program.notebook()})
    state.set_progress(1.0, f"Exported {version.label} as {out.name}")
    return [out, notebook]


def _check_destination(out: Path, notebook: Path) -> None:
    if out.suffix.lower() != ".py":
        raise UserError(
            f"Cannot export a script to {out.name}: the file name must end in .py, "
            f"for example {out.stem or 'model'}.py."
        )
    if not out.parent.is_dir():
        raise UserError(f"The folder {out.parent} does not exist: choose another.")
    for path in (out, notebook):
        if path.exists():
            raise UserError(
                f"{path} already exists: choose another name, or move the existing file away."
            )


def _write_files(contents: dict[Path, str | bytes]) -> None:
    """Write each file (text, or bytes as they are) under a temporary name, then rename them
    all into place; after a failure or a cancel nothing is left behind."""
    temporary = {
        path: path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.partial") for path in contents
    }
    placed: list[Path] = []
    try:
        for path, content in contents.items():
            if isinstance(content, bytes):
                temporary[path].write_bytes(content)
            else:
                temporary[path].write_text(content, encoding="utf-8")
        for path, temp in temporary.items():
            os.replace(temp, path)
            placed.append(path)
    except BaseException as exc:
        for path in placed:
            path.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise UserError(
                f"Could not write {exc.filename or 'the script'} ({exc.strerror or exc}): check "
                "the folder's free space and permissions."
            ) from None
        raise
    finally:
        for temp in temporary.values():
            temp.unlink(missing_ok=True)


# -- laying out Python code --------------------------------------------------------------------


@dataclass
class _Group:
    """Comma-separated items between brackets: a call's arguments, a list, a tuple, a dict."""

    open: str  # "pd.read_csv(", "[", "(", "{"
    items: list
    close: str
    one_tuple: bool = False  # a tuple of one item needs its trailing comma


@dataclass
class _Pair:
    """``key=value`` in a call or ``key: value`` in a dict."""

    key: str
    value: Any


def _flat(expr) -> str:
    if isinstance(expr, str):
        return expr
    if isinstance(expr, _Pair):
        return expr.key + _flat(expr.value)
    return f"{expr.open}{_inner(expr)}{expr.close}"


def _inner(group: _Group) -> str:
    text = ", ".join(_flat(item) for item in group.items)
    return text + "," if group.one_tuple and len(group.items) == 1 else text


def _layout(expr, indent: int, column: int, after: int) -> str:
    """``expr`` starting at ``column`` of a line indented by ``indent`` and followed by
    ``after`` characters, its brackets split as ruff format splits them when too long."""
    flat = _flat(expr)
    if isinstance(expr, str) or column + len(flat) + after <= WIDTH:
        return flat
    if isinstance(expr, _Pair):
        return expr.key + _layout(expr.value, indent, column + len(expr.key), after)
    inner = indent + 4
    pad, end = " " * inner, " " * indent + expr.close
    body = _inner(expr)
    # A call's arguments go on one line of their own if they fit there; a list, tuple or dict
    # of more than one item is split one item a line, as ruff format splits it.
    literal = expr.open in ("[", "(", "{") and (len(expr.items) > 1 or expr.one_tuple)
    if not literal and inner + len(body) <= WIDTH:
        return f"{expr.open}\n{pad}{body}\n{end}"
    if len(expr.items) == 1 and not expr.one_tuple:
        return f"{expr.open}\n{pad}{_layout(expr.items[0], inner, inner, 0)}\n{end}"
    lines = [f"{pad}{_layout(item, inner, inner, 1)}," for item in expr.items]
    return "\n".join([expr.open, *lines, end])


def _statement(prefix: str, expr, indent: int = _BODY) -> str:
    """One statement, ``prefix`` then ``expr``, indented by ``indent``."""
    return " " * indent + prefix + _layout(expr, indent, indent + len(prefix), 0)


def _call(function: str, *args, **kwargs) -> _Group:
    items = [*args, *(_Pair(f"{name}=", value) for name, value in kwargs.items())]
    return _Group(f"{function}(", items, ")")


def _string(text: str) -> str:
    """A string literal in the quotes ruff format prefers."""
    body = repr(text)
    if body.startswith("'") and '"' not in text:
        return f'"{body[1:-1]}"'
    return body


def _literal(value):
    """``value`` (plain data, as JSON and recipes hold it) as a Python expression."""
    import numpy as np
    import pandas as pd

    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, bool | int):
        return repr(value)
    if isinstance(value, float):
        if math.isnan(value):
            return 'float("nan")'
        if math.isinf(value):
            return 'float("inf")' if value > 0 else '-float("inf")'
        return repr(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, pd.Timestamp):
        return f"pd.Timestamp({_string(value.isoformat())})"
    if isinstance(value, list):
        return _Group("[", [_literal(v) for v in value], "]")
    if isinstance(value, tuple):
        return _Group("(", [_literal(v) for v in value], ")", one_tuple=True)
    if isinstance(value, dict):
        return _Group(
            "{", [_Pair(f"{_flat(_literal(k))}: ", _literal(v)) for k, v in value.items()], "}"
        )
    raise UserError(
        f"The value {value!r} ({type(value).__name__}) cannot be written as Python code, so "
        "this model cannot be exported as a script."
    )


def _text(value) -> str:
    """``value`` as code on one line."""
    return _flat(_literal(value))


def _comment(text: str, indent: int = _BODY) -> str:
    """A comment line; line breaks in names become spaces."""
    return " " * indent + "# " + " ".join(text.split())


def _line(code: str, depth: int = 1) -> str:
    return " " * (_BODY * depth) + code


def _col(name: str) -> str:
    return f"data[{_string(name)}]"


class _Imports:
    """The script's imports, laid out as ruff's import sorting wants them."""

    def __init__(self):
        self._modules: set[tuple[str, str | None]] = set()
        self._names: dict[str, set[str]] = {}

    def module(self, name: str, alias: str | None = None) -> None:
        self._modules.add((name, alias if alias != name.rpartition(".")[2] else None))

    def name(self, module: str, name: str) -> None:
        self._names.setdefault(module, set()).add(name)

    def of(self, obj) -> str:
        """Import a class or function from its public module; the name to call it by."""
        self.name(_public_module(obj), obj.__name__)
        return obj.__name__

    def text(self) -> str:
        sections = [self._section(stdlib=True), self._section(stdlib=False)]
        return "\n\n".join(s for s in sections if s)

    def _section(self, stdlib: bool) -> str:
        def wanted(module: str) -> bool:
            return (module.partition(".")[0] in sys.stdlib_module_names) == stdlib

        plain = sorted((m, a or "") for m, a in self._modules if wanted(m))
        lines = [f"import {m}" + (f" as {a}" if a else "") for m, a in plain]
        for module in sorted(m for m in self._names if wanted(m)):
            names = sorted(self._names[module], key=_isort_key)
            line = f"from {module} import {', '.join(names)}"
            if len(line) > IMPORT_WIDTH:
                line = "\n".join([f"from {module} import (", *(f"    {n}," for n in names), ")"])
            lines.append(line)
        return "\n".join(lines)


def _isort_key(name: str) -> tuple[int, str]:
    """isort's order by type: CONSTANTS, then Classes, then functions."""
    if name.isupper() and len(name) > 1:
        return 0, name
    return (1 if name[:1].isupper() else 2), name.lower()


def _public_module(obj) -> str:
    """The shortest public module that exports ``obj``: ``sklearn.ensemble``, not
    ``sklearn.ensemble._forest``."""
    parts = obj.__module__.split(".")
    for end in range(1, len(parts) + 1):
        if parts[end - 1].startswith("_"):
            break
        module = ".".join(parts[:end])
        if getattr(importlib.import_module(module), obj.__name__, None) is obj:
            return module
    return obj.__module__


# -- the program: sections of code, as a script and as a notebook ------------------------------


@dataclass
class _Section:
    title: str
    intro: list[str]  # comment lines: what the section does and why
    parts: list[str]  # top-level code: constants, classes, functions
    run: list[str]  # the statements that use them, as in ``main``


@dataclass
class _Program:
    title: str
    about: str
    usage: str
    imports: _Imports
    setup: list[str]  # top-level constants and helpers
    start: list[str]  # main's first statements: the command line, the checks
    notebook_start: list[str]  # the notebook's version of them
    sections: list[_Section]

    def script(self, name: str) -> str:
        doc = f'"""{self.title}\n\n{self.about}\n\nRun it as: python {name} {self.usage}'
        blocks = list(self.setup)
        for number, section in enumerate(self.sections, start=1):
            blocks += _section_parts(number, section)
        blocks += [self._main(name), 'if __name__ == "__main__":\n    main()']
        rest = "\n\n\n".join(blocks)
        # One blank line after the docstring; after the imports, two before a function or a
        # class and one before anything else, as ruff's import sorting wants.
        code = [line for line in rest.splitlines() if line.strip() and not line.startswith("#")]
        gap = "\n\n\n" if code[0].startswith(("def ", "class ", "@")) else "\n\n"
        return f'{doc.rstrip()}\n"""\n\n{self.imports.text()}{gap}{rest}\n'

    def _main(self, name: str) -> str:
        lines = [
            "def main():",
            f'    """Retrain the model as {name} describes and print its hold-out metrics."""',
            *self.start,
        ]
        for section in self.sections:
            lines += [_line(line) for line in section.run]
        return "\n".join(lines)

    def notebook(self) -> str:
        cells = [_cell("markdown", f"# {self.title}\n\n{self.about}")]
        setup = "\n\n\n".join([self.imports.text(), *self.setup])
        cells.append(_cell("code", "\n\n\n".join([setup, "\n".join(self.notebook_start)])))
        for number, section in enumerate(self.sections, start=1):
            code = "\n\n\n".join(_section_parts(number, section))
            cells.append(_cell("code", f"{code}\n\n\n" + "\n".join(section.run)))
        for index, cell in enumerate(cells):
            cell["id"] = f"cell-{index}"
        document = {
            "cells": cells,
            "metadata": {
                "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                "language_info": {"name": "python"},
            },
            "nbformat": 4,
            "nbformat_minor": 5,
        }
        return json.dumps(document, indent=1, ensure_ascii=False) + "\n"


def _section_parts(number: int, section: _Section) -> list[str]:
    heading = f"# -- {number}. {section.title} ".ljust(WIDTH - 4, "-")
    banner = "\n".join([heading, *(f"# {line}" for line in section.intro)])
    return [f"{banner}\n{section.parts[0]}", *section.parts[1:]]


def _cell(kind: str, text: str) -> dict:
    cell = {"cell_type": kind, "metadata": {}, "source": text.splitlines(keepends=True)}
    if kind == "code":
        cell.update(execution_count=None, outputs=[])
    return cell


_CHECK_RAW_FILE = '''\
def check_raw_file(path):
    """Stop if the raw file is missing; warn if it is not the file that was imported."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"the raw file {path} does not exist: give its path as the first argument, "
            "or set RAW_FILE at the top"
        )
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != RAW_SHA256:
        print(f"note: {path} differs from the imported file: results may differ", file=sys.stderr)
'''.rstrip()

_CHECK_VERSIONS = '''\
def check_versions():
    """Warn about packages whose version differs from the one the model was trained with."""
    installed = {
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "scikit-learn": sklearn.__version__,
    }
    for package, version in TRAINED_WITH.items():
        if installed[package] != version:
            note = f"note: the model was trained with {package} {version}, not {installed[package]}"
            print(note, file=sys.stderr)'''

_ARGUMENTS = """\
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("raw_file", nargs="?", default=RAW_FILE, help="default: %(default)s")
    raw_file = parser.parse_args().raw_file
    try:
        check_raw_file(raw_file)
    except FileNotFoundError as error:
        sys.exit(f"error: {error}")"""


# -- building it from the project's records ---------------------------------------------------


class _Builder:
    def __init__(self, project: Project, version: ModelVersion, state: TaskState):
        self.project, self.version, self.state = project, version, state
        self.imports = _Imports()
        self.imports.module("pandas", "pd")

    def build(self) -> _Program:
        chain = _lineage(self.project, self.version)
        imported = chain[0]
        datasets = self.project.datasets
        # As the recipes saw it: integer columns with gaps stay whole numbers.
        frame = tabular.exact_frame(datasets.load_table(imported))
        self.state.check_cancelled()
        sections = [self._read(imported, frame)]
        if len(chain) > 1:
            sections.append(self._clean(chain, frame))
        del frame
        self.state.set_progress(0.85, "Writing the pipeline")
        # Training reads them as floats, as pandas does.
        trained = datasets.load_table(chain[-1])
        as_trained = _settle(tabular.exact_frame(trained), trained.to_pandas(), chain[-1].label)
        del trained
        spec, columns = self._spec(chain[-1])
        sections += [
            _split_section(spec, self.version.task, self.imports, as_trained),
            self._pipeline(spec, columns),
            self._measure(),
        ]
        from_file = imported.source.format != "sklearn"
        setup, start, notebook_start = self._setup(imported, from_file)
        label = self.version.label
        return _Program(
            title=f"Retrain model {label} from its raw data; print its hold-out metrics.",
            about=self._about(chain),
            usage="[RAW_FILE]" if from_file else "",
            imports=self.imports,
            setup=setup,
            start=start,
            notebook_start=notebook_start,
            sections=sections,
        )

    def _about(self, chain: list[DatasetVersion]) -> str:
        from mlops_desktop.version import __version__

        version, imported = self.version, chain[0]
        cleaned = len(chain) - 1
        lineage = f"{imported.source.name} imported as {imported.label}"
        if cleaned:
            lineage += f" and cleaned into {chain[-1].label} by {cleaned} recipe" + "s" * (
                cleaned > 1
            )
        extra = READER_PACKAGES.get(imported.source.format)
        needs = "pandas, numpy and scikit-learn" + (
            f" (and {extra} to read the file)" if extra else ""
        )
        text = (
            f"Exported by mlops_desktop {__version__} from model version {version.label} "
            f"({version.estimator}, {version.task}), trained by experiment "
            f"{version.experiment_name} on {lineage}. The sections below redo each of those "
            f"steps and print the hold-out metrics the app recorded. It needs {needs}, not "
            "mlops_desktop."
        )
        return textwrap.fill(text, WIDTH - 4)

    def _setup(self, imported: DatasetVersion, from_file: bool):
        """Top-level constants and helpers; main's first statements; the notebook's."""
        packages = self.version.environment.get("packages") or {}
        trained = {name: packages[name] for name in CHECKED_PACKAGES if packages.get(name)}
        constants, helpers, start, notebook_start = [], [], [], []
        if from_file:
            for module in ("argparse", "hashlib", "sys"):
                self.imports.module(module)
            self.imports.name("pathlib", "Path")
            constants += [
                "# The raw file as it was imported. The app keeps its name, not its folder:",
                "# put the file here, change RAW_FILE, or give its path on the command line.",
                f"RAW_FILE = {_string(imported.source.name)}",
                "# Its SHA-256 when it was imported: another file gives other results.",
                f"RAW_SHA256 = {_string(imported.source.sha256)}",
            ]
            helpers.append(_CHECK_RAW_FILE)
            start.append(_ARGUMENTS)
            notebook_start += ["raw_file = RAW_FILE", "check_raw_file(raw_file)"]
        if trained:
            self.imports.module("sys")
            self.imports.module("numpy", "np")
            self.imports.module("sklearn")
            constants += [
                "# The versions the model was trained with: others may give other numbers.",
                _statement("TRAINED_WITH = ", _literal(trained), 0),
            ]
            helpers.append(_CHECK_VERSIONS)
            start.append(_line("check_versions()"))
            notebook_start.append("check_versions()")
        setup = ["\n".join(constants), *helpers] if constants else helpers
        return setup, start, notebook_start

    # -- 1. reading ------------------------------------------------------------------------

    def _read(self, imported: DatasetVersion, frame: pd.DataFrame) -> _Section:
        source = imported.source
        reader = _READERS.get(source.format)
        if reader is None:
            raise UserError(
                f"{imported.label} was imported from a {source.format!r} source, which the "
                "script cannot read: export the model as an MLflow model instead."
            )
        self.state.set_progress(0.05, f"Writing how {source.name} was imported")
        read = reader(imported, frame, self.imports)
        from_file = source.format != "sklearn"
        function = "\n".join(
            [
                f"def read_raw({'path' if from_file else ''}):",
                f'    """{read.what} as the app imported it into {imported.label}."""',
                *read.body,
                "    return data",
            ]
        )
        run = "data = read_raw(raw_file)" if from_file else "data = read_raw()"
        parts = ["\n".join(read.constants), function] if read.constants else [function]
        return _Section("Read the raw file", read.intro, parts, [run])

    # -- 2. cleaning -----------------------------------------------------------------------

    def _clean(self, chain: list[DatasetVersion], frame: pd.DataFrame) -> _Section:
        from mlops_desktop.domain.recipe import recipe_from_json

        body: list[str] = []
        copier = _SourceCopier(self.imports)
        constants = _StepConstants(copier)
        for index, version in enumerate(chain[1:], start=1):
            steps = recipe_from_json(version.recipe)
            self.state.set_progress(0.1 + 0.7 * index / len(chain), f"Writing {version.label}")
            count = f"{len(steps)} step{'s' * (len(steps) != 1)}"
            body.append(_comment(f"{version.label}: {version.parent_label} cleaned by {count}."))
            for number, step in enumerate(steps, start=1):
                self.state.check_cancelled()
                body.append(_comment(f"Step {number}: {step.describe()}"))
                body += _step_code(step, frame, constants)
                frame, _ = step.apply(frame)
            frame = frame.reset_index(drop=True)
            body.append(_line("data = data.reset_index(drop=True)"))
            stored = tabular.exact_frame(self.project.datasets.load_table(version))
            settle = _settle(frame, stored, version.label)
            if settle:
                body += [_comment(f"{version.label} is saved as Parquet; read back, types settle:")]
                body += settle
            body.append("")
            frame = stored
        if any("np." in line for line in body):
            self.imports.module("numpy", "np")
        function = "\n".join(
            [
                "def clean(data):",
                '    """Every recipe along the way to the trained version, step by step."""',
                *body[:-1],
                "    return data",
            ]
        )
        intro = [
            "Each recipe step as plain pandas. Statistics a step needs (a median, quantiles) are",
            "computed on the data it is applied to, as the app does.",
        ]
        parts = [*copier.parts(), *(["\n".join(constants.values())] if constants else []), function]
        return _Section("Clean", intro, parts, ["data = clean(data)"])

    # -- 4. the pipeline ---------------------------------------------------------------------

    def _spec(self, dataset: DatasetVersion) -> tuple[ExperimentSpec, dict[str, ColumnSpec]]:
        from mlops_desktop.domain.experiment import ExperimentSpec, resolve_columns

        spec = ExperimentSpec.from_json(self.version.spec)
        return spec, resolve_columns(spec, self.project.datasets.profile(dataset))

    def _pipeline(self, spec: ExperimentSpec, columns: dict[str, ColumnSpec]) -> _Section:
        from mlops_desktop.domain.pipeline import build_pipeline

        final = dataclasses.replace(spec, params=dict(self.version.params))
        features, model = (step for _, step in build_pipeline(final, columns).steps)
        copier = _SourceCopier(self.imports)
        render = _Renderer(self.imports, copier)
        self.imports.name("sklearn.pipeline", "Pipeline")
        function = "\n".join(
            [
                "def build_pipeline():",
                '    """How each column is prepared, then the estimator with its final '
                'parameters."""',
                _comment("Columns with the same treatment share one transformer."),
                _statement("features = ", render.expr(features)),
                _statement("model = ", render.expr(model, list(self.version.params))),
                '    return Pipeline([("features", features), ("model", model)])',
            ]
        )
        intro = [
            "The experiment's spec compiled as the app compiles it, the estimator taking the",
            "version's final parameters (the search's best, if it searched).",
        ]
        run = ["model = build_pipeline()"]
        return _Section("Build the pipeline", intro, [*copier.parts(), function], run)

    # -- 5. fit and measure ----------------------------------------------------------------

    def _measure(self) -> _Section:
        from mlops_desktop.domain import metrics

        copier = _SourceCopier(self.imports)
        if self.version.task == "regression":
            copier.copy(metrics.regression_metrics)
            body = ["    return regression_metrics(y_test, model.predict(X_test))"]
        else:
            copier.copy(metrics.classification_metrics)
            body = [
                "    predicted = model.predict(X_test)",
                "    proba = model.predict_proba(X_test) "
                'if hasattr(model, "predict_proba") else None',
                "    return classification_metrics(y_test, predicted, proba, list(model.classes_))",
            ]
        function = "\n".join(
            [
                "def holdout_metrics(model, X_test, y_test):",
                '    """Predict the held-out rows and measure them as the app does."""',
                *body,
            ]
        )
        run = [
            "model.fit(X_train, y_train)",
            "for name, value in holdout_metrics(model, X_test, y_test).items():",
            '    print(f"{name} = {value!r}")',
        ]
        intro = [
            "Fit on the training rows, predict the held-out rows, print scikit-learn's metrics."
        ]
        return _Section("Fit and measure", intro, [*copier.parts(), function], run)


def _lineage(project: Project, version: ModelVersion) -> list[DatasetVersion]:
    """The dataset versions from the import to the one ``version`` was trained on."""
    if version.dataset_version_uuid is None:
        raise UserError(
            f"The dataset version {version.label} was trained on is no longer in the project, "
            "so there is no data to write a script for."
        )
    repository = project.file.datasets
    chain = [repository.by_uuid(version.dataset_version_uuid)]
    while chain[-1].parent_uuid is not None:
        chain.append(repository.by_uuid(chain[-1].parent_uuid))
    chain.reverse()
    if chain[0].source is None:
        raise UserError(
            f"{chain[0].label} was not imported from a file, so a script has no raw file to "
            "start from: export the model as an MLflow model instead."
        )
    return chain


# -- 1. reading the raw file --------------------------------------------------------------------


@dataclass
class _Read:
    what: str  # "sales.csv", for the docstring
    intro: list[str]
    constants: list[str]
    body: list[str]


def _read_csv(imported: DatasetVersion, frame: pd.DataFrame, imports: _Imports) -> _Read:
    import pyarrow.csv as pacsv

    settings, options = imported.source.settings, pacsv.ConvertOptions()
    types = {column.name: column.type for column in imported.schema}
    dtypes, after, constants = {}, [], {}
    for name in frame.columns:
        kind = _csv_kind(types[name], name, imported)
        dtypes[name] = str(frame[name].dtype) if kind == "number" else "str"
        after += _CSV_CONVERSIONS[kind](name, frame[name], imports, constants)
    constants["MISSING_VALUES"] = "\n".join(
        [
            "# The text the import read as missing, in any column (pyarrow's defaults).",
            _statement("MISSING_VALUES = ", _literal(options.null_values), 0),
            "# pandas 3.1 parses floats exactly as the import did; older pandas only when asked.",
            'PANDAS_VERSION = tuple(int(part) for part in pd.__version__.split(".")[:2])',
            'EXACT_FLOATS = {} if PANDAS_VERSION >= (3, 1) else {"float_precision": "round_trip"}',
        ]
    )
    if "TRUE_FALSE" in constants:
        words = {
            **dict.fromkeys(options.true_values, True),
            **dict.fromkeys(options.false_values, False),
        }
        constants["TRUE_FALSE"] = "\n".join(
            [
                "# The text the import read as true or false.",
                _statement("TRUE_FALSE = ", _literal(words), 0),
            ]
        )
    arguments = {
        "sep": _literal(settings.get("delimiter", ",")),
        "encoding": _literal(settings.get("encoding", "utf-8")),
        "header": "0" if settings.get("header", True) else "None",
        "names": _literal(list(frame.columns)),
        "dtype": _literal(dtypes),
        "keep_default_na": "False",
        "na_values": "MISSING_VALUES",
    }
    if settings.get("decimal", ".") != ".":
        arguments["decimal"] = _literal(settings["decimal"])
    if settings.get("thousands"):
        # pandas drops it in the columns it reads as numbers, as the import did.
        arguments["thousands"] = _literal(settings["thousands"])
    call = _call("pd.read_csv", "path", **arguments)
    call.items.append("**EXACT_FLOATS")  # after the keywords, as ruff format keeps it
    read = _statement("data = ", call)
    intro = [
        "pandas reads the file with the settings the import used (delimiter, encoding, header,",
        "decimal mark, thousands separator), the same text for missing values and the column",
        "types the import found; dates, times and true/false columns are read as text and",
        "converted as the import did.",
    ]
    return _Read(imported.source.name, intro, list(constants.values()), [read, *after])


def _csv_kind(arrow_type: str, name: str, imported: DatasetVersion) -> str:
    if arrow_type.startswith(("int", "uint", "float", "double", "halffloat")):
        return "number"
    if arrow_type.startswith("timestamp"):
        return "timestamp"
    if arrow_type.startswith("time"):
        return "time"
    if arrow_type in ("string", "bool", "null"):
        return arrow_type
    raise UserError(
        f"Column {name!r} of {imported.label} has the type {arrow_type}, which the script "
        "cannot read from text with pandas: export the model as an MLflow model instead."
    )


def _csv_as_is(name, stored, imports, constants) -> list[str]:
    return []


def _csv_boolean(name, stored, imports, constants) -> list[str]:
    import pandas as pd

    constants.setdefault("TRUE_FALSE", "")
    c = _col(name)
    if pd.api.types.is_bool_dtype(stored):
        return [_line(f'{c} = {c}.map(TRUE_FALSE).astype("bool")')]
    return [_line(f"{c} = {c}.map(TRUE_FALSE)"), *_missing_as_none(c)]


def _missing_as_none(c: str) -> list[str]:
    return [
        _comment(
            "Stored as Parquet, true/false with gaps comes back as objects, None for missing."
        ),
        _line(f"{c} = {c}.where({c}.notna(), None)"),
    ]


def _csv_timestamp(name, stored, imports, constants) -> list[str]:
    c = _col(name)
    timezone = getattr(stored.dtype, "tz", None)
    utc = ", utc=True" if timezone is not None else ""
    if timezone is not None and str(timezone) != "UTC":
        raise UserError(
            f"Column {name!r} holds times in {timezone}, which a CSV import never gives: the "
            "script cannot reproduce it."
        )
    return [
        _comment(f"ISO 8601 text to dates, kept in {stored.dt.unit} as the app keeps them."),
        _line(f'{c} = pd.to_datetime({c}, format="ISO8601"{utc}).astype("{stored.dtype}")'),
    ]


def _csv_time(name, stored, imports, constants) -> list[str]:
    imports.name("datetime", "time")
    c = _col(name)
    return [
        _line(f'{c} = {c}.map(time.fromisoformat, na_action="ignore")'),
        _line(f"{c} = {c}.where({c}.notna(), None)"),
    ]


def _csv_null(name, stored, imports, constants) -> list[str]:
    return [_comment(f"{name} is empty on every row."), _line(f"{_col(name)} = None")]


_CSV_CONVERSIONS: dict[str, Callable] = {
    "number": _csv_as_is,
    "string": _csv_as_is,
    "bool": _csv_boolean,
    "timestamp": _csv_timestamp,
    "time": _csv_time,
    "null": _csv_null,
}


def _read_with_pyarrow(imported: DatasetVersion, frame: pd.DataFrame, imports: _Imports) -> _Read:
    reader = {
        "parquet": "pd.read_parquet(path)",
        "jsonl": 'pd.read_json(path, lines=True, engine="pyarrow")',
    }[imported.source.format]
    body = [_line(f"data = {reader}")]
    if imported.notes:
        body += [
            _comment("The import gave empty or repeated column names unique ones."),
            _statement("data.columns = ", _literal(list(frame.columns))),
        ]
    body += _dates_in_storage_units(frame) + _whole_numbers_with_gaps(frame)
    intro = ["pandas reads the file with pyarrow, as the import did."]
    return _Read(imported.source.name, intro, [], body)


def _dates_in_storage_units(frame: pd.DataFrame) -> list[str]:
    import pandas as pd

    lines = []
    for name in frame.columns:
        dtype = frame[name].dtype
        if pd.api.types.is_datetime64_any_dtype(dtype):
            lines.append(_line(f'{_col(name)} = {_col(name)}.astype("{dtype}")'))
    if lines:
        lines.insert(0, _comment("The app keeps dates in milliseconds at least."))
    return lines


def _whole_numbers_with_gaps(frame: pd.DataFrame) -> list[str]:
    """pandas reads integers with gaps as floats; the recipes read them as whole numbers."""
    import pandas as pd

    lines = []
    for name in frame.columns:
        dtype = frame[name].dtype
        if isinstance(dtype, pd.api.extensions.ExtensionDtype) and dtype.kind in "iu":
            lines.append(_line(f'{_col(name)} = {_col(name)}.astype("{dtype}")'))
    if lines:
        lines.insert(0, _comment("Whole numbers with gaps, as the recipes read them."))
    return lines


def _read_xlsx(imported: DatasetVersion, frame: pd.DataFrame, imports: _Imports) -> _Read:
    import pandas as pd

    settings = imported.source.settings
    arguments = {
        "sheet_name": _literal(settings.get("sheet") or 0),
        "header": "0" if settings.get("header", True) else "None",
        "engine": '"openpyxl"',
    }
    body = [
        _statement("data = ", _call("pd.read_excel", "path", **arguments)),
        _statement("data.columns = ", _literal(list(frame.columns))),
    ]
    for name in frame.columns:
        stored, c = frame[name], _col(name)
        if str(stored.dtype) == "str" and (stored == "nan").any():
            body += [
                _comment(f"{name} mixes text and other values: the import wrote each as text."),
                _line(f'{c} = {c}.map(lambda v: v if v is None else str(v)).astype("str")'),
            ]
        elif str(stored.dtype) == "str":
            body.append(_line(f'{c} = {c}.astype("str")'))
        elif (
            pd.api.types.is_object_dtype(stored.dtype)
            and stored.map(type).isin([bool, type(None)]).all()
        ):
            body += _missing_as_none(c)
        elif pd.api.types.is_bool_dtype(stored.dtype):
            body.append(_line(f'{c} = {c}.astype("bool")'))
    body += _dates_in_storage_units(frame) + _whole_numbers_with_gaps(frame)
    intro = ["pandas reads the workbook with openpyxl, as the import did."]
    return _Read(imported.source.name, intro, [], body)


def _read_sklearn(imported: DatasetVersion, frame: pd.DataFrame, imports: _Imports) -> _Read:
    import pandas as pd

    from mlops_desktop.services.importing import SKLEARN_DATASETS, SKLEARN_PREFIX, sklearn_frame

    name = imported.source.name.removeprefix(SKLEARN_PREFIX)
    loader = SKLEARN_DATASETS[name]
    imports.name("sklearn.datasets", loader)
    raw = sklearn_frame(name)
    body = [_line(f"bunch = {loader}(as_frame=True)"), _line("data = bunch.frame")]
    if "target" in raw and not pd.api.types.is_numeric_dtype(raw["target"]):
        body += [
            _comment("Class names rather than codes, as the app imports them."),
            _line('data["target"] = [str(bunch.target_names[i]) for i in data["target"]]'),
        ]
    settle = _settle(raw, frame, imported.label)
    if settle:
        body += [_comment("Saved as Parquet and read back, types settle:"), *settle]
    intro = ["scikit-learn's bundled data set, features and target in one table."]
    return _Read(f"scikit-learn's {name} data set", intro, [], body)


_READERS: dict[str, Callable[[DatasetVersion, pd.DataFrame, _Imports], _Read]] = {
    "csv": _read_csv,
    "parquet": _read_with_pyarrow,
    "jsonl": _read_with_pyarrow,
    "xlsx": _read_xlsx,
    "sklearn": _read_sklearn,
}


def _settle(before: pd.DataFrame, after: pd.DataFrame, label: str) -> list[str]:
    """Code that turns ``before`` (a table as pandas made it) into ``after`` (the same table
    after the app saved it as Parquet and read it back)."""
    if list(before.columns) != list(after.columns):
        raise UserError(f"The columns of {label} changed when it was saved: it cannot be retraced.")
    lines = []
    for name in after.columns:
        lines += _settle_column(name, before[name], after[name], label)
    return lines


def _settle_column(name: str, before: pd.Series, after: pd.Series, label: str) -> list[str]:
    import numpy as np
    import pandas as pd

    old, new, c = before.dtype, after.dtype, _col(name)
    is_object = pd.api.types.is_object_dtype
    if old == new and not is_object(new) and not isinstance(new, pd.CategoricalDtype):
        return []
    if isinstance(new, pd.CategoricalDtype) and _same_categories(old, new):
        return []
    if is_object(new) and (is_object(old) or pd.api.types.is_bool_dtype(old)):
        return (
            []
            if is_object(old)
            else [_line(f'{c} = {c}.astype("object")'), *_missing_as_none(c)[1:]]
        )
    if str(new) == "str" and is_object(old):
        if before.dropna().map(type).eq(str).all():
            return [_line(f'{c} = {c}.astype("str")')]
        return [_line(f'{c} = {c}.map(lambda v: v if v is None else str(v)).astype("str")')]
    if isinstance(new, np.dtype | pd.DatetimeTZDtype):
        return [_line(f'{c} = {c}.astype("{new}")')]
    raise UserError(
        f"Column {name!r} of {label} is saved as {new} from {old}, a change the script cannot "
        "reproduce: export the model as an MLflow model instead."
    )


def _same_categories(old, new) -> bool:
    import pandas as pd

    return (
        isinstance(old, pd.CategoricalDtype)
        and old.ordered == new.ordered
        and old.categories.dtype == new.categories.dtype
        and old.categories.equals(new.categories)
    )


# -- 2. recipe steps as pandas code ---------------------------------------------------------------
# One writer per step type: (step, the data before it, the section's constants) -> lines of code.
# The data let a writer choose the code apply_recipe's branches would run (a number column or a
# text one) and type values as the step types them.


class _StepConstants(dict):
    """The constants the clean section's steps need (name -> code), and the copier of our
    functions they call."""

    def __init__(self, copier: _SourceCopier):
        super().__init__()
        self.copier = copier


def _step_code(step, frame: pd.DataFrame, constants: dict[str, str]) -> list[str]:
    writer = _STEP_CODE.get(type(step))
    if writer is None:
        raise UserError(
            f"The recipe step {step.describe()!r} ({step.kind}) has no pandas equivalent in the "
            "script exporter: export the model as an MLflow model instead."
        )
    return writer(step, frame, constants)


def _drop_columns(step, frame, constants) -> list[str]:
    return [_statement("data = ", _call("data.drop", columns=_literal(step.columns)))]


def _rename_columns(step, frame, constants) -> list[str]:
    return [_statement("data = ", _call("data.rename", columns=_literal(step.mapping)))]


def _change_type(step, frame, constants) -> list[str]:
    return _conversion(step.column, frame[step.column], step.to, constants)


def _parse_dates(step, frame, constants) -> list[str]:
    return _to_datetime(step.column, frame[step.column], step.format, step.dayfirst, constants)


def _conversion(name: str, series: pd.Series, to: str, constants: dict[str, str]) -> list[str]:
    import pandas as pd

    from mlops_desktop.domain.recipe import EXACT_FLOAT_INTEGERS, _is_boolean, _is_numeric

    c = _col(name)
    if to == "integer" and pd.api.types.is_integer_dtype(series):
        lines = []
        if series.dtype.kind == "u":
            lines = [
                _comment("Past int64's range has no Int64 value: missing."),
                _line(f'{c} = {c}.astype("UInt64")'),
                _line(f"{c} = {c}.where({c} < 2**63)"),
            ]
        return [*lines, _line(f'{c} = {c}.astype("Int64")')]
    if to == "integer" and not (_is_numeric(series) or _is_boolean(series)):
        return _text_to_integer(c)
    if to in ("number", "integer"):
        if _is_numeric(series):
            lines = [_line(f'{c} = {c}.astype("float64")')]
        elif _is_boolean(series):
            lines = [_line(f'{c} = {c}.astype("boolean").astype("float64")')]
        else:
            lines = [
                _line(f'text = {c}.astype("str").str.strip()'),
                _line(f'{c} = pd.to_numeric(text, errors="coerce").astype("float64")'),
            ]
        if to == "integer":
            lines += [
                _comment("Values that are not whole numbers (or past int64) become missing."),
                _line(f"whole = ({c} == np.floor({c})) & ({c}.abs() < 2.0**63)"),
                _line(f'{c} = {c}.where(whole).astype("Int64")'),
            ]
        return lines
    if to == "text":
        lines = [_line(f'{c} = {c}.astype("str")')]
        if pd.api.types.is_float_dtype(series):
            lines[:0] = [
                _comment('Whole numbers read as "3", not "3.0", as people wrote them.'),
                _line(f"present = {c}.dropna()"),
                _line(f"exact = (present.abs() < {EXACT_FLOAT_INTEGERS}).all()"),
                _line("if (present % 1 == 0).all() and exact:"),
                _line(f'{c} = {c}.astype("Int64")', 2),
            ]
        return lines
    if to == "boolean":
        return _to_boolean(c, series, constants)
    if to == "datetime":
        return _to_datetime(name, series, None, False, constants)
    if to == "category":
        return [_line(f'{c} = {c}.astype("category")')]
    raise UserError(f"The recipe changes {name!r} to {to!r}, a type the script does not know.")


def _text_to_integer(c: str) -> list[str]:
    """Text to whole numbers as ChangeType does: text written as an integer exactly (through
    a float it would round past 2**53), other numbers when they are whole."""
    return [
        _line(f'text = {c}.astype("str").str.strip()'),
        _line('written = text.str.fullmatch(r"[+-]?\\d+").fillna(False).astype(bool)'),
        _line(f"written &= {c}.notna()"),
        _comment("Python's integers are exact at any size; past int64 they become missing."),
        _line("exact = text[written].map(int)"),
        _line("exact = exact.where(exact.map(lambda n: -(2**63) <= n < 2**63))"),
        _line('numbers = pd.to_numeric(text.mask(written), errors="coerce").astype("float64")'),
        _comment("Values that are not whole numbers (or past int64) become missing."),
        _line("whole = (numbers == np.floor(numbers)) & (numbers.abs() < 2.0**63)"),
        _line('integers = numbers.where(whole).astype("Int64")'),
        _line('integers[written] = exact.astype("Int64")'),
        _line(f"{c} = integers"),
    ]


def _to_boolean(c: str, series: pd.Series, constants: dict[str, str]) -> list[str]:

    from mlops_desktop.domain.recipe import _FALSE, _TRUE, _is_boolean, _is_numeric

    if _is_boolean(series):
        return [_line(f'{c} = {c}.astype("boolean")')]
    if _is_numeric(series):
        return [_line(f'{c} = {c}.map({{1: True, 0: False}}).astype("boolean")')]
    words = {**dict.fromkeys(sorted(_TRUE), True), **dict.fromkeys(sorted(_FALSE), False)}
    constants["BOOLEAN_WORDS"] = "\n".join(
        [
            "# The words the recipe reads as true or false, once trimmed and lower-cased.",
            _statement("BOOLEAN_WORDS = ", _literal(words), 0),
        ]
    )
    return [
        _line(f'words = {c}.astype("str").str.strip().str.lower()'),
        _line(f'{c} = words.map(BOOLEAN_WORDS).astype("boolean")'),
    ]


def _to_datetime(
    name: str,
    series: pd.Series,
    date_format: str | None,
    dayfirst: bool,
    constants: _StepConstants,
) -> list[str]:
    import pandas as pd

    from mlops_desktop.domain.recipe import _YEAR_FIRST, converted, dates_from_text

    c = _col(name)
    if pd.api.types.is_datetime64_any_dtype(series):
        return [_comment(f"{name} already holds dates: nothing to do.")]
    text = f'{c}.astype("str").where({c}.notna())'
    if not date_format:
        values = series.astype("str").where(series.notna())
        _, utc, alone = dates_from_text(values, dayfirst)
        if alone or (dayfirst and values.str.match(_YEAR_FIRST).fillna(False).any()):
            # pandas alone reads these dates otherwise than the recipe: the recipe's own way.
            constants.copier.copy(dates_from_text)
            return [
                _comment("Dates written otherwise than the first are read one by one, and"),
                _comment("dates written year first are never read day first."),
                _line(f"text = {text}"),
                _line(f"{c} = dates_from_text(text, {dayfirst})[0]"),
            ]
    else:
        utc = bool(converted(series, "datetime", date_format, dayfirst)[1])
    options = {"errors": '"coerce"'}
    if date_format:
        options["format"] = _literal(date_format)
    if dayfirst:
        options["dayfirst"] = "True"
    lines = []
    if utc:
        lines.append(_comment("The dates' offsets from UTC differ: they are read into UTC."))
        options["utc"] = "True"
    return [*lines, _statement(f"{c} = ", _call("pd.to_datetime", text, **options))]


def _fill_missing(step, frame, constants) -> list[str]:
    lines = []
    for name in step.columns:
        lines += _fill_column(name, frame[name], step.strategy, step.value)
    return lines


def _fill_column(name: str, series: pd.Series, strategy: str, value) -> list[str]:
    import pandas as pd

    c = _col(name)
    if strategy in ("mean", "median", "most_frequent"):
        statistic = {"mean": "mean()", "median": "median()", "most_frequent": "mode().iloc[0]"}
        empty = series.dropna().empty
        if empty:
            return [_comment(f"{name} has no values to take the {strategy} from.")]
        if strategy != "most_frequent" and pd.api.types.is_integer_dtype(series):
            return [
                _line(f"fill = {c}.{statistic[strategy]}"),
                _comment(f"A {strategy} of whole numbers need not be one."),
                _line(f'{c} = ({c}.astype("float64") if fill % 1 else {c}).fillna(fill)'),
            ]
        return [_line(f"{c} = {c}.fillna({c}.{statistic[strategy]})")]
    typed = _typed(series, value)
    lines = []
    if isinstance(series.dtype, pd.CategoricalDtype):
        lines = [
            _line(f"if {typed} not in {c}.cat.categories:"),
            _line(f"{c} = {c}.cat.add_categories([{typed}])", 2),
        ]
    return [*lines, _line(f"{c} = {c}.fillna({typed})")]


def _drop_missing(step, frame, constants) -> list[str]:
    options = {"subset": _literal(step.columns)} if step.columns else {}
    if step.how != "any":
        options["how"] = _literal(step.how)
    return [_statement("data = ", _call("data.dropna", **options))]


def _drop_duplicates(step, frame, constants) -> list[str]:
    options = {"subset": _literal(step.columns)} if step.columns else {}
    if step.keep != "first":
        options["keep"] = _literal(step.keep)
    return [_statement("data = ", _call("data.drop_duplicates", **options))]


_COMPARISONS = {"==": "eq", "!=": "ne", "<": "lt", "<=": "le", ">": "gt", ">=": "ge"}
_TEXT_TESTS = {"contains": "contains", "starts with": "startswith", "ends with": "endswith"}


def _filter_rows(step, frame, constants) -> list[str]:
    lines = _mask(step.column, frame[step.column], step.operator, step.value)
    return [*lines, _line("data = data[mask]" if step.keep else "data = data[~mask]")]


def _mask(name: str, series: pd.Series, operator: str, value) -> list[str]:
    """Code setting ``mask`` to the rows meeting the condition, as condition_mask does."""
    c = _col(name)
    if operator in ("is missing", "is not missing"):
        return [_line(f"mask = {c}.{'isna' if operator == 'is missing' else 'notna'}()")]
    if operator in ("in", "between"):
        values = [_typed(series, v) for v in (value if isinstance(value, list) else [value])]
        if operator == "in":
            return [_statement("mask = ", _call(f"{c}.isin", _Group("[", values, "]")))]
        low, high = (_flat(v) for v in values)
        return [_line(f"mask = ({c}.ge({low}) & {c}.le({high})).fillna(False).astype(bool)")]
    if operator in _TEXT_TESTS:
        regex = ", regex=False" if operator == "contains" else ""
        test = f'{c}.astype("str").str.{_TEXT_TESTS[operator]}({_string(str(value))}{regex})'
    else:
        test = f"{c}.{_COMPARISONS[operator]}({_flat(_typed(series, value))})"
    return [
        _line(f"matches = {test}"),
        _comment("Missing values never match."),
        _line(f"mask = matches.fillna(False).astype(bool) & {c}.notna()"),
    ]


def _typed(series: pd.Series, value):
    """``value`` as the recipe compares it with ``series``: a number, a date, a truth value or
    text."""
    import pandas as pd

    from mlops_desktop.domain.recipe import _typed_value

    typed = _typed_value(series, value)
    if isinstance(typed, pd.Timestamp):
        return f"pd.Timestamp({_text(typed.isoformat())})"
    return _literal(typed)


def _replace_values(step, frame, constants) -> list[str]:
    lines = []
    for name in step.columns:
        lines += _replace_in(name, frame[name], step.replacements)
    return lines


def _replace_in(name: str, series: pd.Series, replacements: list) -> list[str]:
    """Replacements in one column, as ReplaceValues makes them: each pair's rows are found in
    the column as it was before any pair, and a row taken by one pair is left to it."""
    import pandas as pd

    from mlops_desktop.domain.recipe import _is_numeric, replacement_masks, replacement_value

    c = _col(name)
    lines = [_line(f"original = {c}")]
    lines.append(_line("taken = pd.Series(False, index=data.index)"))
    if isinstance(series.dtype, pd.CategoricalDtype):
        lines.append(_line(f'{c} = {c}.astype("object")'))
        current = series.astype("object")
    else:
        current = series
    masks = replacement_masks(series, replacements)
    for (old, new), (mask, _) in zip(replacements, masks, strict=True):
        if old is None:
            condition = "original.isna()"
        else:
            condition = f"original.eq({_flat(_typed(series, old))}).fillna(False)"
        lines += [_line(f"mask = {condition} & ~taken"), _line("taken |= mask")]
        value = replacement_value(current, new)
        # As ReplaceValues widens the column, when some row is replaced.
        widened = None
        if value is not None and not isinstance(value, (int, float)) and _is_numeric(current):
            widened, why = "object", "is not a number: the column holds mixed values now"
        elif isinstance(value, float) and value % 1 and pd.api.types.is_integer_dtype(current):
            widened, why = "float64", "is not a whole number: the column holds numbers now"
        if widened is not None:
            lines += [
                _line("if mask.any():"),
                _comment(f"{new!r} {why}.", 8),
                _line(f'{c} = {c}.astype("{widened}")', 2),
            ]
            if mask.any():
                current = current.astype(widened)
        lines.append(_statement(f"{c} = ", _call(f"{c}.mask", "mask", _literal(value))))
    return lines


def _clean_text(step, frame, constants) -> list[str]:
    methods = (".str.strip()" if step.trim else "") + (
        f".str.{step.case}()" if step.case != "keep" else ""
    )
    lines = []
    for name in step.columns:
        c = _col(name)
        lines.append(_line(f'text = {c}.astype("str").where({c}.notna())'))
        lines.append(_line(f"{c} = text{methods}"))
    return lines


def _clip_outliers(step, frame, constants) -> list[str]:
    import pandas as pd

    lines = []
    for name in step.columns:
        c = _col(name)
        lines += [
            _comment("Bounds from the finite values: infinities are outliers too."),
            _line(f'finite = {c}[np.isfinite({c}.astype("float64"))]'),
        ]
        if step.method == "quantile":
            lower, upper = _text(step.lower), _text(step.upper)
            lines.append(_line(f"low, high = finite.quantile({lower}), finite.quantile({upper})"))
        else:
            factor = _text(step.factor)
            lines += [
                _line("q1, q3 = finite.quantile(0.25), finite.quantile(0.75)"),
                _line(f"low, high = q1 - {factor} * (q3 - q1), q3 + {factor} * (q3 - q1)"),
            ]
        if pd.api.types.is_integer_dtype(frame[name]):
            lines += [
                _line("if low % 1 or high % 1:"),
                _comment("Bounds between whole numbers: the column holds numbers now.", 8),
                _line(f'{c} = {c}.astype("float64")', 2),
            ]
        lines.append(_line(f"{c} = {c}.clip(low, high)"))
    return lines


def _step_writers() -> dict[type, Callable[[Any, pd.DataFrame, dict[str, str]], list[str]]]:
    from mlops_desktop.domain import recipe

    return {
        recipe.DropColumns: _drop_columns,
        recipe.RenameColumns: _rename_columns,
        recipe.ChangeType: _change_type,
        recipe.ParseDates: _parse_dates,
        recipe.FillMissing: _fill_missing,
        recipe.DropMissing: _drop_missing,
        recipe.DropDuplicates: _drop_duplicates,
        recipe.FilterRows: _filter_rows,
        recipe.ReplaceValues: _replace_values,
        recipe.CleanText: _clean_text,
        recipe.ClipOutliers: _clip_outliers,
    }


_STEP_CODE = _step_writers()


# -- 3. the hold-out split -------------------------------------------------------------------------


def _split_section(
    spec: ExperimentSpec, task: str, imports: _Imports, as_trained: list[str]
) -> _Section:
    imports.name("sklearn.model_selection", "train_test_split")
    target, validation = _string(spec.target), spec.validation
    options = {"test_size": _literal(validation.holdout), "random_state": _literal(validation.seed)}
    if task != "regression" and validation.stratify:
        options["stratify"] = "y"
    function = "\n".join(
        [
            "def split_holdout(data):",
            '    """The rows the app fitted on and the rows it held out for the metrics."""',
            *(
                [_comment("Whole numbers with gaps are trained on as floats.")]
                if as_trained
                else []
            ),
            *as_trained,
            _line(f"data = data[data[{target}].notna()]"),
            _line(f"X, y = data.drop(columns=[{target}]), data[{target}]"),
            _statement("return ", _call("train_test_split", "X", "y", **options)),
        ]
    )
    intro = [
        "Rows without a target are left out, then one seeded split: every version of the",
        "experiment, and anything checking it later, uses these same rows.",
    ]
    run = ["X_train, X_test, y_train, y_test = split_holdout(data)"]
    return _Section("Hold out rows", intro, [function], run)


# -- 4. scikit-learn objects as code ---------------------------------------------------------------


class _Renderer:
    """scikit-learn objects as the calls that build them, naming only the parameters that
    differ from their defaults (and those listed as explicit)."""

    def __init__(self, imports: _Imports, copier: _SourceCopier):
        self.imports, self.copier = imports, copier

    def expr(self, obj, explicit: list[str] | None = None):
        from sklearn.compose import ColumnTransformer
        from sklearn.pipeline import Pipeline

        if isinstance(obj, Pipeline):
            return self._pipeline(obj)
        if isinstance(obj, ColumnTransformer):
            return self._columns(obj)
        if isinstance(obj, list | tuple):
            items = [self.expr(item) for item in obj]
            if isinstance(obj, list):
                return _Group("[", items, "]")
            return _Group("(", items, ")", one_tuple=True)
        if inspect.isclass(type(obj)) and type(obj).__module__.split(".")[0] in (
            "sklearn",
            "mlops_desktop",
        ):
            return self._object(obj, explicit or [])
        return _literal(obj)

    def _class(self, cls) -> str:
        if cls.__module__.startswith("mlops_desktop."):
            self.copier.copy(cls)
            return cls.__name__
        return self.imports.of(cls)

    def _object(self, obj, explicit: list[str], skip: tuple[str, ...] = ()) -> _Group:
        params = _params(obj)
        defaults = {name: p.default for name, p in inspect.signature(type(obj)).parameters.items()}
        named = [n for n in explicit if n in params]
        named += [
            n
            for n in params
            if n not in named and n not in skip and not _same(params[n], defaults.get(n))
        ]
        arguments = [_Pair(f"{n}=", self.expr(params[n])) for n in named]
        return _Group(f"{self._class(type(obj))}(", arguments, ")")

    def _pipeline(self, pipeline) -> _Group:
        from sklearn.pipeline import Pipeline, make_pipeline

        steps = [step for _, step in pipeline.steps]
        rest = self._object(pipeline, [], skip=("steps",)).items
        if [n for n, _ in make_pipeline(*steps).steps] == [
            n for n, _ in pipeline.steps
        ] and not rest:
            self.imports.name("sklearn.pipeline", "make_pipeline")
            return _Group("make_pipeline(", [self.expr(s) for s in steps], ")")
        named = [_Group("(", [_string(n), self.expr(s)], ")") for n, s in pipeline.steps]
        return _Group(f"{self.imports.of(Pipeline)}(", [_Group("[", named, "]"), *rest], ")")

    def _columns(self, transformer) -> _Group:
        blocks = [
            _Group("(", [_string(label), self.expr(block), _literal(columns)], ")")
            for label, block, columns in transformer.transformers
        ]
        rest = self._object(transformer, [], skip=("transformers",))
        return _Group(rest.open, [_Group("[", blocks, "]"), *rest.items], ")")


def _params(obj) -> dict:
    if hasattr(obj, "get_params"):
        return obj.get_params(deep=False)
    names = inspect.signature(type(obj)).parameters
    return {name: getattr(obj, name) for name in names if hasattr(obj, name)}


def _same(value, default) -> bool:
    if default is inspect.Parameter.empty:
        return False
    if isinstance(value, float) and isinstance(default, float):
        return value == default or (math.isnan(value) and math.isnan(default))
    try:
        equal = value == default
    except (TypeError, ValueError):
        return value is default
    return equal if isinstance(equal, bool) else value is default


class _SourceCopier:
    """The source of our own functions and classes, with what they use: constants, other
    functions of ours, and imports of everything else."""

    def __init__(self, imports: _Imports):
        self.imports = imports
        self._constants: dict[str, str] = {}
        self._sources: dict[str, str] = {}

    def copy(self, obj) -> None:
        key = f"{obj.__module__}.{obj.__qualname__}"
        if key in self._sources:
            return
        self._sources[key] = ""  # a placeholder, so that a cycle stops here
        try:
            source = textwrap.dedent(inspect.getsource(obj))
        except (OSError, TypeError):
            raise UserError(
                f"The source code of {obj.__qualname__} is not part of this installation of "
                "mlops_desktop, so the script cannot include it: export an MLflow model instead."
            ) from None
        module = sys.modules[obj.__module__]
        for name in _free_names(ast.parse(source)):
            self._resolve(module, name)
        del self._sources[key]  # after what it uses
        self._sources[key] = source.rstrip()

    def _resolve(self, module, name: str) -> None:
        if name not in vars(module):
            return  # a builtin
        value = vars(module)[name]
        if inspect.ismodule(value):
            self.imports.module(value.__name__, name)
        elif inspect.isclass(value) or inspect.isfunction(value):
            if value.__module__.startswith("mlops_desktop."):
                self.copy(value)
            else:
                self.imports.of(value)
        else:
            self._constants[name] = _statement(f"{name} = ", _literal(value), 0)

    def parts(self) -> list[str]:
        constants = ["\n".join(self._constants.values())] if self._constants else []
        return constants + list(self._sources.values())


def _free_names(tree: ast.AST) -> list[str]:
    """Names ``tree`` reads but does not bind itself: the globals it needs."""
    loaded, bound = [], set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (loaded.append if isinstance(node.ctx, ast.Load) else bound.add)(node.id)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.alias):
            bound.add(node.asname or node.name.partition(".")[0])
        elif isinstance(node, ast.FunctionDef | ast.ClassDef):
            bound.add(node.name)
    return [name for name in dict.fromkeys(loaded) if name not in bound]
