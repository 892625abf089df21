"""Shared fixtures; every test runs headless and with its own per-user folders."""

import os

# Before anything can import Qt: pytest-qt would abort with no display.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory, monkeypatch):
    """Keep projects, logs and the acting user's name away from the real home folder."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("MLOPS_DESKTOP_HOME", str(home))
    monkeypatch.setenv("MLOPS_DESKTOP_USER", "tester")
    return home


@pytest.fixture
def project_path(tmp_path):
    """Where a test may create a project."""
    return tmp_path / "test.mlops"


@pytest.fixture
def project(project_path):
    from mlops_desktop.services.project import Project

    with Project.create(project_path) as created:
        yield created


@pytest.fixture(scope="session")
def served_project(tmp_path_factory):
    """A project with models to serve (see ``tests.serving.conftest.build_served_project``),
    built once for the session: the serving, services and Qt tests share it."""
    from tests.serving.conftest import build_served_project

    home = tmp_path_factory.mktemp("serving-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLOPS_DESKTOP_HOME", str(home))
        patch.setenv("MLOPS_DESKTOP_USER", "tester")
        return build_served_project(tmp_path_factory.mktemp("served") / "served.mlops")


@pytest.fixture(scope="session")
def demo_project(tmp_path_factory):
    """The demo project, built once for the session; copy it before changing it."""
    from mlops_desktop.services.demo import build_demo

    home = tmp_path_factory.mktemp("demo-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLOPS_DESKTOP_HOME", str(home))
        patch.setenv("MLOPS_DESKTOP_USER", "tester")
        return build_demo(tmp_path_factory.mktemp("demo") / "Demo.mlops")
