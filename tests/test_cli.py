"""The command line contract: exit codes, error lines, --json, and documentation."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from mlops_desktop.cli import cli
from tests.helpers import file_digest

ROOT = Path(__file__).resolve().parents[1]


def run(*args, check_exit=None):
    result = subprocess.run(
        [sys.executable, "-m", "mlops_desktop", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if check_exit is not None:
        assert result.returncode == check_exit, result.stderr
    return result


def assert_user_error(result, fragment):
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert fragment in lines[0]
    assert "Traceback" not in result.stderr


def test_init_info_and_check_with_json(tmp_path):
    path = tmp_path / "churn.mlops"
    created = json.loads(run("init", path, "--name", "Churn", "--json", check_exit=0).stdout)
    assert created["name"] == "Churn"
    info = json.loads(run("info", path, "--json", check_exit=0).stdout)
    assert info["schema_version"] >= 1
    assert set(info["counts"]) == {
        "datasets",
        "dataset_versions",
        "experiments",
        "jobs",
        "model_versions",
    }
    assert info["uuid"] == created["uuid"]
    report = json.loads(run("project", "check", path, "--json", check_exit=0).stdout)
    assert report["ok"] is True
    text = run("info", path, check_exit=0).stdout
    assert "Churn" in text
    assert "model versions: 0" in text


def test_check_of_a_damaged_project_exits_1_with_the_problem(tmp_path):
    path = tmp_path / "p.mlops"
    from mlops_desktop import Project

    with Project.create(path) as project, project.file.transaction():
        project.file.blobs.put(b"payload" * 100)
    import sqlite3

    conn = sqlite3.connect(path)
    conn.execute("UPDATE blob_chunks SET codec = 'raw', data = x'00'")
    conn.commit()
    conn.close()
    result = run("project", "check", path, "--json")
    assert_user_error(result, "problem")
    assert json.loads(result.stdout)["ok"] is False


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("info", "{tmp}/missing.mlops"), "no project file"),
        (("info",), "Missing argument 'PROJECT'"),
        (("info", "{tmp}/notes.txt"), "not a project file"),
        (("init", "{tmp}/notes.txt"), "already exists"),
        (("project", "check", "{tmp}"), "is a folder"),
        (("info", "--colour", "x"), "No such option"),
        (("frobnicate",), "neither a command nor a project file"),
    ],
)
def test_user_errors_exit_1_with_one_error_line(tmp_path, args, fragment):
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    before = file_digest(notes)
    result = run(*(a.format(tmp=tmp_path) for a in args))
    assert_user_error(result, fragment)
    assert file_digest(notes) == before


def test_help_and_version_exit_0():
    assert "init" in run("--help", check_exit=0).stdout
    assert re.search(r"\d+\.\d+", run("--version", check_exit=0).stdout)


def _command_paths(group, prefix=()):
    for name, command in group.commands.items():
        if command.hidden:
            continue
        path = (*prefix, name)
        if hasattr(command, "commands"):
            yield from _command_paths(command, path)
        else:
            yield " ".join(path)


def test_every_command_is_documented_in_the_readme():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [p for p in _command_paths(cli) if f"mlops-desktop {p}" not in readme]
    assert not missing, f"commands missing from README.md: {missing}"


def test_the_cli_reference_covers_every_command_and_option():
    """docs/cli.md is generated from the commands: it must be regenerated after a change."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "docs" / "cli_reference.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    reference = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    missing = [p for p in _command_paths(cli) if f"## `mlops-desktop {p}`" not in reference]
    assert not missing


def test_demo_builds_once_and_prints_its_path(tmp_path):
    path = tmp_path / "Demo.mlops"
    first = json.loads(run("demo", path, "--json", check_exit=0).stdout)
    assert first == {"path": str(path), "built": True}
    again = run("demo", path, check_exit=0)
    assert again.stdout.strip() == str(path)  # kept: what quickstart.sh opens
    rebuilt = json.loads(run("demo", path, "--rebuild", "--json", check_exit=0).stdout)
    assert rebuilt["built"] is True
    assert "@production" in run("models", "list", path, check_exit=0).stdout


def test_read_only_needs_a_project_to_open():
    assert_user_error(run("gui", "--read-only"), "--read-only needs a PROJECT")


def test_merge_and_share_from_the_command_line(tmp_path):
    ours, theirs = tmp_path / "ours.mlops", tmp_path / "theirs.mlops"
    run("init", ours, check_exit=0)
    run("init", theirs, check_exit=0)
    run("data", "import", theirs, "sklearn:iris", check_exit=0)
    merged = json.loads(run("project", "merge", ours, theirs, "--json", check_exit=0).stdout)
    assert merged["added"]["dataset versions"] == 1
    again = run("project", "merge", ours, theirs, check_exit=0).stdout
    assert "nothing new" in again
    assert_user_error(run("project", "merge", ours, ours), "merged into itself")
    shared = json.loads(
        run("project", "share", ours, tmp_path / "out.mlops", "--json", check_exit=0).stdout
    )
    assert shared["sha256"] == file_digest(tmp_path / "out.mlops")
