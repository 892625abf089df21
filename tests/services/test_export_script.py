"""Exporting a model version as a standalone script and notebook that retrain it from its raw
file and print the hold-out metrics the app recorded."""

import ast
import contextlib
import errno
import io
import json
import os
import random
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from mlops_desktop.domain.errors import Cancelled, UserError
from mlops_desktop.domain.recipe import (
    ChangeType,
    CleanText,
    ClipOutliers,
    DropColumns,
    DropDuplicates,
    DropMissing,
    FillMissing,
    FilterRows,
    ParseDates,
    RenameColumns,
    ReplaceValues,
)
from mlops_desktop.domain.tasks import TaskControl, quiet_state
from mlops_desktop.services.exports import export_version
from mlops_desktop.services.exports import script as export
from tests.helpers import cancelling_after, leftovers
from tests.services.test_training import run_queue, save

PROJECT_ROOT = Path(__file__).resolve().parents[2]
ROWS = 150
#: model version -> the raw file its script reads (None: a bundled scikit-learn data set)
MODELS = {
    "flowers:1": None,  # a classifier on iris
    "sugar:1": None,  # a regressor on diabetes
    "litres:1": "shops.csv",  # a regressor on shops:2, cleaned by one recipe
    "grade:1": "shops.csv",  # a classifier, searched, on shops:3, cleaned by two recipes
    "untouched:1": "shops.csv",  # a regressor on shops:1, the import itself
    "stock:1": "stock.parquet",  # a regressor on a Parquet file
    "sheet:1": "sheet.xlsx",  # a regressor on a workbook
}
#: The first recipe: shops:1 -> shops:2. Each step type, on columns where it has work to do.
RECIPE = [
    DropColumns(["junk", "member", "open_time"]),
    RenameColumns({"Shop ID": "shop"}),
    DropDuplicates(),
    CleanText(["store"], trim=True, case="lower"),
    ChangeType("store", "category"),
    FillMissing(["store"], "constant", "unknown"),
    FillMissing(["temp"], "median"),
    ChangeType("visits", "integer"),
    ClipOutliers(["visits"], "quantile", lower=0.05, upper=0.95),  # bounds between integers
    ReplaceValues(["size"], [["S", "1"], ["M", "2"], ["L", "3"]]),
    ChangeType("size", "integer"),  # from text
    ChangeType("till", "text"),  # exact only if its gaps do not make it floats
    FilterRows("till", "==", str(2**53 + 3), keep=False),
    DropColumns(["till"]),
    ParseDates("opened", "%d/%m/%Y"),
    ParseDates("seen", dayfirst=True),  # some year first, others day first
    ChangeType("promo", "boolean"),
    FilterRows("litres", "is not missing"),
    ClipOutliers(["litres"], "iqr"),
]
#: The second: shops:2 -> shops:3.
SECOND_RECIPE = [
    FilterRows("store", "==", "west", keep=False),
    DropMissing(["visits"]),
    ClipOutliers(["temp"], "quantile", lower=0.05, upper=0.95),
    FilterRows("temp", "between", [0, 40]),
    FilterRows("store", "contains", "x", keep=False),
    ReplaceValues(["grade"], [["c", "C"]]),
]


def shops_csv() -> str:
    """A raw file with what a recipe is for: gaps, stray spaces and case, a column to drop, a
    name to change, numbers written as text, day-first dates, yes/no flags, duplicate rows, an
    outlier, a target with a gap and ids past 2**53 with gaps; and what the import itself must
    get right: ISO dates, times, true/false with gaps, a column name with quotes, numbers with
    grouped thousands; dates written two ways."""
    rng = np.random.default_rng(7)
    lines = [
        "Shop ID,store,size,visits,temp,day,opened,promo,member,open_time,"
        '"it\'s ""q""",junk,litres,grade,till,takings,seen'
    ]
    for i in range(ROWS):
        size = "SML"[i % 3]
        litres = 80 + 10 * "SML".index(size) + 5 * (i % 4) + rng.normal(0, 5)
        row = [
            str(i),
            ["north", " South", "EAST ", "west", ""][i % 5],
            size,
            "" if i % 11 == 0 else str(int(rng.integers(0, 50))),
            "" if i % 7 == 0 else f"{rng.normal(15, 5):.2f}",
            f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}",
            f"{1 + i % 28:02d}/{1 + (i * 5) % 12:02d}/20{10 + i % 12}",
            ["yes", "no", " YES"][i % 3],
            "" if i % 13 == 0 else ["true", "false"][i % 2],
            "" if i % 17 == 0 else f"{8 + i % 10:02d}:{(i * 7) % 60:02d}:00",
            f"{rng.normal(1, 1):.3f}",
            f"x{i}",
            "" if i % 23 == 0 else f"{litres + (400 if i == 50 else 0):.3f}",
            ["a", "b", "c"][int(litres > 95) + int(litres > 105)],
            "" if i % 19 == 0 else str(2**53 + i),  # past a float's whole numbers
            f'"{900 + i * 37.25:,.2f}"',  # thousands grouped: "1,011.75"
            f"2024-03-{1 + i % 28:02d}" if i % 2 else f"{1 + i % 28:02d}.04.2024",  # two ways
        ]
        lines.append(",".join(row))
    lines += lines[1:4]  # duplicates
    return "\n".join(lines) + "\n"


def table() -> pd.DataFrame:
    """Dates, text with gaps, numbers and a mix of numbers and text (a workbook's)."""
    rng = np.random.default_rng(3)
    return pd.DataFrame(
        {
            "when": pd.date_range("2024-01-01", periods=ROWS, freq="13h"),
            "store": [["a", "b", None][i % 3] for i in range(ROWS)],
            "mixed": pd.Series([[1, "x", 2.5][i % 3] for i in range(ROWS)], dtype=object),
            "x": rng.normal(size=ROWS),
            "y": rng.normal(size=ROWS),
        }
    )


@pytest.fixture(scope="module")
def raw_folder(tmp_path_factory) -> Path:
    """The raw files, in a folder of their own."""
    folder = tmp_path_factory.mktemp("raw")
    (folder / "shops.csv").write_text(shops_csv())
    table().drop(columns=["mixed"]).to_parquet(folder / "stock.parquet")
    table().to_excel(folder / "sheet.xlsx", index=False)
    return folder


@pytest.fixture(scope="module")
def raw_file(raw_folder) -> Path:
    return raw_folder / "shops.csv"


@pytest.fixture(scope="module")
def trained(tmp_path_factory, raw_folder, raw_file):
    """One project with a version of each model in MODELS, and one on data that came from no
    file, shared by this module's tests."""
    from mlops_desktop.services.project import Project

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLOPS_DESKTOP_HOME", str(tmp_path_factory.mktemp("home")))
        patch.setenv("MLOPS_DESKTOP_USER", "tester")
        project = Project.create(tmp_path_factory.mktemp("project") / "script.mlops")
        project.datasets.import_file("sklearn:iris")
        project.datasets.import_file("sklearn:diabetes")
        shops = project.datasets.import_file(raw_file)
        cleaned, _ = project.datasets.clean(shops, RECIPE)
        project.datasets.clean(cleaned, SECOND_RECIPE)
        project.datasets.save_table(pa.table({"x": list(range(60)), "y": [0, 1] * 30}), "made")
        save(project, name="flowers", params={"n_estimators": 5})
        save(project, name="sugar", dataset="diabetes", estimator="Ridge", params={})
        flags = {"promo": {"impute": "none"}}  # SimpleImputer refuses booleans
        save(
            project,
            name="litres",
            dataset="shops:2",
            target="litres",
            estimator="Ridge",
            params={},
            features={
                "exclude": ["grade"],
                "columns": {"store": {"type": "categorical", "encode": "onehot"}, **flags},
            },
        )
        save(
            project,
            name="grade",
            dataset="shops:3",
            target="grade",
            params={"n_estimators": 5},
            features={"columns": flags},
            search={"strategy": "grid", "space": {"max_depth": [1, 5]}, "cv": 3},
        )
        # The raw import as it is: true/false with gaps (member) and a time of day (open_time)
        # go into the pipeline as well.
        save(
            project,
            name="untouched",
            dataset="shops:1",
            target="litres",
            estimator="Ridge",
            params={},
            features={"exclude": ["grade"]},
        )
        save(project, name="made", dataset="made", target="y", params={"n_estimators": 5})
        for name in ("stock", "sheet"):
            source = next(raw_folder.glob(f"{name}.*"))
            project.datasets.import_file(source)
            save(project, name=name, dataset=name, target="y", estimator="Ridge", params={})
        run_queue(project)
    failed = [job.error for job in project.queue.jobs() if job.status != "done"]
    assert not failed
    yield project
    project.close()


@pytest.fixture(scope="module")
def exported(trained, tmp_path_factory):
    """Each model of MODELS exported once: label -> (script, notebook)."""
    folder = tmp_path_factory.mktemp("scripts")
    written = {}
    for label in MODELS:
        out = folder / f"{label.partition(':')[0]}.py"
        written[label] = export_version(trained, label, "script", out, quiet_state())
    return written


def recorded(project, label) -> dict:
    return project.models.get(label).metrics["holdout"]


def printed_metrics(stdout: str) -> dict:
    """``name = value`` lines, as the script prints them, back to a dict."""
    metrics = {}
    for line in stdout.splitlines():
        name, equals, value = line.partition(" = ")
        assert equals, f"not a metric line: {line!r}"
        metrics[name] = ast.literal_eval(value)
    return metrics


def assert_same_metrics(printed: dict, expected: dict) -> None:
    assert list(printed) == list(expected)
    for name, value in expected.items():
        if value is None:
            assert printed[name] is None, name
        else:
            assert printed[name] == pytest.approx(value, rel=1e-9, abs=1e-12), name


# Runs a script as ``python SCRIPT ARGS`` would, but with mlops_desktop made unimportable.
STANDALONE = """
import runpy, sys
sys.modules["mlops_desktop"] = None
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def start_script(script: Path, *args, cwd: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONWARNINGS")}
    return subprocess.Popen(
        [sys.executable, "-c", STANDALONE, str(script), *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
        env=env,
    )


@pytest.fixture(scope="module")
def runs(
    exported, raw_folder, raw_file, tmp_path_factory
) -> dict[str, subprocess.CompletedProcess]:
    """Every run of an exported script that the tests check, started together (each spends
    most of its time importing pandas and scikit-learn), in a folder without the raw file."""
    folder = tmp_path_factory.mktemp("runs")
    copy = folder / "copy.csv"
    copy.write_bytes(raw_file.read_bytes().replace(b"\n", b"\r\n"))
    # The raw file is neither beside the scripts nor in the working folder: it is named.
    planned = {
        label: (exported[label][0], [raw_folder / MODELS[label]] if MODELS[label] else [])
        for label in MODELS
    }
    planned["another copy"] = (exported["untouched:1"][0], [copy])
    planned["no raw file"] = (exported["litres:1"][0], [])
    started = {
        name: start_script(script, *args, cwd=folder) for name, (script, args) in planned.items()
    }
    finished = {}
    try:
        for name, process in started.items():
            stdout, stderr = process.communicate(timeout=110)
            finished[name] = subprocess.CompletedProcess(
                process.args, process.returncode, stdout, stderr
            )
    finally:
        for process in started.values():
            if process.poll() is None:
                process.kill()
                process.communicate()
    return finished


def ruff() -> str:
    beside = Path(sys.executable).with_name("ruff")
    found = str(beside) if beside.exists() else shutil.which("ruff")
    assert found, "ruff is one of the test dependencies: pip install -e .[test]"
    return found


# -- the script reproduces the metrics ----------------------------------------------------------


@pytest.mark.parametrize("label", list(MODELS))
def test_the_script_prints_the_recorded_hold_out_metrics(trained, runs, label):
    run = runs[label]
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stderr == ""  # no warning, no note: same file, same package versions
    assert_same_metrics(printed_metrics(run.stdout), recorded(trained, label))


def test_the_script_says_where_it_comes_from_and_how_to_run_it(trained, exported):
    script, notebook = exported["grade:1"]
    assert (script.name, notebook.name) == ("grade.py", "grade.ipynb")
    text = script.read_text(encoding="utf-8")
    doc = ast.get_docstring(ast.parse(text))
    assert doc.startswith("Retrain model grade:1 from its raw data; print its hold-out metrics.")
    lineage = (
        "trained by experiment grade on shops.csv imported as shops:1 and cleaned into shops:3 "
        "by 2 recipes."
    )
    assert lineage in " ".join(doc.split())
    assert doc.endswith("Run it as: python grade.py [RAW_FILE]")
    assert f'RAW_SHA256 = "{trained.datasets.get("shops:1").source.sha256}"' in text
    # Every step of both recipes, described as the app describes it.
    assert f"# shops:2: shops:1 cleaned by {len(RECIPE)} steps." in text
    assert f"# shops:3: shops:2 cleaned by {len(SECOND_RECIPE)} steps." in text
    for recipe in (RECIPE, SECOND_RECIPE):
        for number, step in enumerate(recipe, start=1):
            assert f"    # Step {number}: {step.describe()}\n" in text
    # The search's best parameters, not the spec's.
    params = trained.models.get("grade:1").params
    assert params["max_depth"] in (1, 5)
    assert f"max_depth={params['max_depth']}" in text
    assert "GridSearchCV" not in text
    assert "mlops_desktop" not in "\n".join(
        line for line in text.splitlines() if line.startswith(("import ", "from "))
    )
    sklearn_doc = ast.get_docstring(ast.parse(exported["flowers:1"][0].read_text()))
    assert sklearn_doc.endswith("Run it as: python flowers.py")
    assert "load_iris(as_frame=True)" in exported["flowers:1"][0].read_text()


def test_another_copy_of_the_raw_file_gives_a_note_and_the_same_metrics(trained, runs):
    run = runs["another copy"]
    copy = run.args[-1]  # the same rows, with Windows line ends
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stderr == f"note: {copy} differs from the imported file: results may differ\n"
    assert_same_metrics(printed_metrics(run.stdout), recorded(trained, "untouched:1"))


def test_without_the_raw_file_the_script_stops_with_a_sentence(runs):
    run = runs["no raw file"]  # RAW_FILE, shops.csv, is not in the working folder
    assert run.returncode == 1
    assert run.stdout == ""
    assert run.stderr == (
        "error: the raw file shops.csv does not exist: give its path as the first argument, "
        "or set RAW_FILE at the top\n"
    )


# -- the notebook -------------------------------------------------------------------------------


@pytest.mark.parametrize("label", list(MODELS))
def test_the_notebook_runs_cell_by_cell_and_prints_the_same_metrics(
    trained, exported, raw_folder, monkeypatch, label
):
    _, notebook = exported[label]
    document = json.loads(notebook.read_text(encoding="utf-8"))
    assert set(document) == {"cells", "metadata", "nbformat", "nbformat_minor"}
    assert (document["nbformat"], document["nbformat_minor"]) == (4, 5)  # 4.5: cells have ids
    assert document["metadata"]["kernelspec"]["name"] == "python3"
    assert document["metadata"]["language_info"]["name"] == "python"
    cells = document["cells"]
    ids = [cell["id"] for cell in cells]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"[a-zA-Z0-9_-]{1,64}", i) for i in ids)
    assert cells[0]["cell_type"] == "markdown"
    assert "".join(cells[0]["source"]).startswith(f"# Retrain model {label} from its raw data")
    code = []
    for cell in cells:
        assert isinstance(cell["metadata"], dict)
        assert all(isinstance(line, str) for line in cell["source"])
        assert all(line.endswith("\n") for line in cell["source"][:-1])
        if cell["cell_type"] == "code":
            assert set(cell) == {
                "cell_type",
                "id",
                "metadata",
                "source",
                "outputs",
                "execution_count",
            }
            assert (cell["outputs"], cell["execution_count"]) == ([], None)
            code.append("".join(cell["source"]))
        else:
            assert set(cell) == {"cell_type", "id", "metadata", "source"}
    assert len(code) == len(cells) - 1 >= 5  # setup, then one cell per section
    # The notebook reads RAW_FILE from its own folder; a student puts the file there.
    monkeypatch.chdir(raw_folder if MODELS[label] else notebook.parent)
    namespace = {"__name__": "__main__"}
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        for number, source in enumerate(code, start=1):
            exec(compile(source, f"{notebook.name}, cell {number}", "exec"), namespace)
    assert_same_metrics(printed_metrics(printed.getvalue()), recorded(trained, label))


def test_the_notebook_holds_the_script_s_code(exported):
    script, notebook = exported["litres:1"]
    text = script.read_text(encoding="utf-8")
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    for function in ("read_raw", "clean", "split_holdout", "build_pipeline", "holdout_metrics"):
        node = next(n for n in ast.parse(text).body if getattr(n, "name", None) == function)
        source = ast.get_source_segment(text, node)
        assert sum(source in "".join(cell["source"]) for cell in cells) == 1, function
    assert not any("argparse.ArgumentParser" in "".join(cell["source"]) for cell in cells)


# -- the generated code is laid out as ruff lays it out ----------------------------------------


def test_the_script_passes_ruff_check_and_format(exported):
    scripts = [str(script) for script, _ in exported.values()]
    config = ["--config", str(PROJECT_ROOT / "pyproject.toml")]
    check = subprocess.run(
        [ruff(), "check", *config, "--no-cache", *scripts], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout[-3000:]
    formatted = subprocess.run(
        [ruff(), "format", *config, "--no-cache", "--diff", *scripts],
        capture_output=True,
        text=True,
    )
    assert formatted.returncode == 0, formatted.stdout[-3000:] + formatted.stderr[-3000:]


def random_expression(rng: random.Random, depth: int = 0):
    """Calls, lists, tuples and dicts nested at random, as the exporter builds them."""
    words = ["a", "value", "some_longer_name", '"text"', '"a much longer string literal"', "3.5"]
    if depth > 3 or rng.random() < 0.3:
        return rng.choice(words)
    items = [random_expression(rng, depth + 1) for _ in range(rng.randint(0, 5))]
    kind = rng.choice(["call", "keywords", "list", "tuple", "dict"])
    if kind == "call":
        return export._call(rng.choice(["f", "make_pipeline", "pd.read_csv"]), *items)
    if kind == "keywords":
        return export._call("g", *items[:2], **{f"k{i}": item for i, item in enumerate(items[2:])})
    if kind == "list":
        return export._Group("[", items, "]")
    if kind == "tuple":
        return export._Group("(", items, ")", one_tuple=True)
    return export._Group("{", [export._Pair(f'"{i}": ', v) for i, v in enumerate(items)], "}")


def test_long_expressions_are_split_as_ruff_format_splits_them(tmp_path):
    rng = random.Random(20240601)
    blocks = []
    for number in range(400):
        prefix = rng.choice(["x = ", 'data["a column"] = ', "return "])
        depth = 0 if prefix != "return " and number % 3 == 0 else rng.choice([1, 2])
        statement = export._statement(prefix, random_expression(rng), 4 * depth)
        blocks.append(["", "def f():\n", "def f():\n    if a:\n"][depth] + statement)
    source = tmp_path / "layout.py"
    source.write_text("\n\n\n".join(blocks) + "\n")
    assert sum(len(line) > 90 for line in source.read_text().splitlines()) > 50  # splits happen
    formatted = subprocess.run(
        [ruff(), "format", "--isolated", "--line-length", str(export.WIDTH), "--diff", source],
        capture_output=True,
        text=True,
    )
    assert formatted.returncode == 0, formatted.stdout[-3000:]


# -- refusals, failures and cancels -------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "suggested"),
    [("model.txt", "model.py"), ("model", "model.py"), ("model.ipynb", "model.py")],
)
def test_a_name_not_ending_in_py_is_refused(trained, tmp_path, name, suggested):
    with pytest.raises(
        UserError, match=rf"the file name must end in \.py, for example {suggested}"
    ):
        export_version(trained, "litres:1", "script", tmp_path / name, quiet_state())
    assert leftovers(tmp_path) == []


def test_a_folder_that_does_not_exist_is_refused(trained, tmp_path):
    out = tmp_path / "nowhere" / "model.py"
    with pytest.raises(UserError, match=r"The folder .*nowhere does not exist: choose another"):
        export_version(trained, "litres:1", "script", out, quiet_state())
    assert leftovers(tmp_path) == []


def test_an_existing_script_is_left_alone(trained, tmp_path):
    (tmp_path / "model.py").write_text("mine")
    with pytest.raises(UserError, match=r"model\.py already exists: choose another name"):
        export_version(trained, "litres:1", "script", tmp_path / "model.py", quiet_state())
    assert leftovers(tmp_path) == ["model.py"]
    assert (tmp_path / "model.py").read_text() == "mine"


def test_an_existing_notebook_is_left_alone_and_no_script_is_written(trained, tmp_path):
    (tmp_path / "model.ipynb").write_text("{}")
    with pytest.raises(UserError, match=r"model\.ipynb already exists: choose another name"):
        export_version(trained, "litres:1", "script", tmp_path / "model.py", quiet_state())
    assert leftovers(tmp_path) == ["model.ipynb"]
    assert (tmp_path / "model.ipynb").read_text() == "{}"


def test_data_that_came_from_no_file_cannot_be_retraced(trained, tmp_path):
    with pytest.raises(UserError, match=r"made:1 was not imported from a file.*MLflow model"):
        export_version(trained, "made:1", "script", tmp_path / "made.py", quiet_state())
    assert leftovers(tmp_path) == []


def test_a_failure_while_writing_leaves_nothing_behind(trained, tmp_path, monkeypatch):
    replace, calls = os.replace, []

    def full_disk_on_the_second(source, target):
        calls.append(target)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device", str(target))
        replace(source, target)

    monkeypatch.setattr(os, "replace", full_disk_on_the_second)
    with pytest.raises(UserError, match=r"Could not write .*model\.ipynb \(No space left"):
        export_version(trained, "litres:1", "script", tmp_path / "model.py", quiet_state())
    assert len(calls) == 2
    assert leftovers(tmp_path) == []


def test_a_cancel_at_any_point_before_writing_leaves_nothing_behind(trained, tmp_path):
    reports = []
    state = TaskControl(on_progress=lambda f, m: reports.append(m), min_interval=0)
    export_version(trained, "grade:1", "script", tmp_path / "all.py", state)
    assert reports == [
        "Tracing the data of grade:1",
        "Writing how shops.csv was imported",
        "Writing shops:2",
        "Writing shops:3",
        "Writing the pipeline",
        "Writing the script and the notebook",
        "Exported grade:1 as all.py",
    ]
    for reported in range(1, len(reports) - 1):  # from then on, the files are written
        out = tmp_path / f"cancelled after {reported}"
        out.mkdir()
        with pytest.raises(Cancelled):
            export_version(
                trained, "grade:1", "script", out / "model.py", cancelling_after(reported)
            )
        assert leftovers(out) == [], reports[reported - 1]


def test_progress_is_reported_in_order_to_the_end(trained, tmp_path):
    seen = []
    state = TaskControl(on_progress=lambda f, m: seen.append((f, m)), min_interval=0)
    export_version(trained, "litres:1", "script", tmp_path / "litres.py", state)
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions)
    assert seen[0] == (0.0, "Tracing the data of litres:1")
    assert seen[-1] == (1.0, "Exported litres:1 as litres.py")


BIG = 2**53 + 1


@pytest.mark.parametrize(
    ("frame", "step"),
    [
        (pd.DataFrame({"id": [str(BIG), " 7 ", "x", None]}), ChangeType("id", "integer")),
        (pd.DataFrame({"id": [str(BIG), str(2**64), "2.0"]}), ChangeType("id", "integer")),
        (
            pd.DataFrame({"id": np.array([2**64 - 1, 5], dtype="uint64")}),
            ChangeType("id", "integer"),
        ),
        (pd.DataFrame({"n": pd.array([1, 2, None], "Int64")}), ReplaceValues(["n"], [[2, 2.5]])),
        (pd.DataFrame({"n": pd.array([1, 2, None], "Int64")}), ReplaceValues(["n"], [[9, 2.5]])),
        (
            pd.DataFrame({"n": pd.array([0, 1, 2, 3, None], "Int64")}),
            ClipOutliers(["n"], "quantile", 0.1, 0.9),
        ),
        (pd.DataFrame({"n": [0, 1, 2, 3]}), ClipOutliers(["n"], "quantile", 0.1, 0.9)),
        (pd.DataFrame({"n": pd.array([1, 2, None], "Int64")}), FillMissing(["n"], "mean")),
        (pd.DataFrame({"d": ["2024-01-05", "13.01.2024", "Jan 9 2024", "3"]}), ParseDates("d")),
        (
            pd.DataFrame({"d": ["2024-01-05", "2024-01-13", "07/01/2024"]}),
            ParseDates("d", dayfirst=True),
        ),
        (pd.DataFrame({"d": ["05/01/2024", "13/01/2024"]}), ParseDates("d", dayfirst=True)),
        (
            pd.DataFrame({"d": ["2024-01-01T00:00+01:00", "2024-06-01T00:00+02:00"]}),
            ChangeType("d", "datetime"),
        ),
    ],
)
def test_each_step_s_code_does_what_the_step_does(frame, step):
    """The code written for a step, run on the data the step saw, gives what the step gave."""
    copier = export._SourceCopier(export._Imports())
    constants = export._StepConstants(copier)
    lines = export._step_code(step, frame, constants)
    namespace = {"pd": pd, "np": np, "data": frame.copy()}
    for code in [*copier.parts(), *constants.values()]:
        exec(code, namespace)
    exec(textwrap.dedent("\n".join(lines)), namespace)
    expected, _ = step.apply(frame)
    pd.testing.assert_frame_equal(namespace["data"], expected)
