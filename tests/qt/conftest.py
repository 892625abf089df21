"""Qt fixtures: isolated QSettings and a main window driven by pytest-qt."""

import pytest
from PySide6.QtCore import QCoreApplication, QSettings

from mlops_desktop.app import create_application
from mlops_desktop.services import modelfiles


@pytest.fixture(autouse=True)
def _isolated_qsettings(tmp_path_factory, qapp):
    folder = tmp_path_factory.mktemp("qsettings")
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(folder))
    QCoreApplication.setOrganizationName("mlops_desktop-tests")
    QCoreApplication.setApplicationName("mlops_desktop-tests")
    return folder


@pytest.fixture(autouse=True)
def _no_models_in_the_window(monkeypatch):
    """Every panel works without loading a model in the window's process, as the app runs."""
    monkeypatch.setattr(modelfiles, "_forbidden", "the window draws plots from stored data")


@pytest.fixture(scope="session")
def qapp_cls():
    from PySide6.QtWidgets import QApplication

    return QApplication


@pytest.fixture
def window(qtbot):
    from mlops_desktop.qt.main_window import MainWindow

    create_application()
    QCoreApplication.setOrganizationName("mlops_desktop-tests")
    QCoreApplication.setApplicationName("mlops_desktop-tests")
    win = MainWindow()
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.runner.cancel_all()
    win.close_project()
