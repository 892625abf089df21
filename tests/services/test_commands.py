"""Child processes run this app's own commands, installed or packaged."""

import sys

from mlops_desktop.services.commands import own_command


def test_an_installed_app_runs_its_commands_through_python():
    assert own_command("worker", "p.mlops") == [
        sys.executable,
        "-m",
        "mlops_desktop",
        "worker",
        "p.mlops",
    ]


def test_a_packaged_app_runs_its_own_executable(monkeypatch):
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    assert own_command("serve", "p.mlops", "m:1") == [sys.executable, "serve", "p.mlops", "m:1"]
