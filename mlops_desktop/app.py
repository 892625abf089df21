"""GUI composition root: the QApplication, logging, the main window and its first project."""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path

from mlops_desktop.domain.errors import UserError

log = logging.getLogger(__name__)

ORGANIZATION = "mlops_desktop"
APPLICATION = "mlops_desktop"


def check_display() -> None:
    """Refuse to start on Linux with no display, rather than let Qt abort with a core dump."""
    if (
        sys.platform.startswith("linux")
        and not os.environ.get("QT_QPA_PLATFORM")
        and not os.environ.get("DISPLAY")
        and not os.environ.get("WAYLAND_DISPLAY")
    ):
        raise UserError(
            "No display was found (neither DISPLAY nor WAYLAND_DISPLAY is set): start "
            "mlops-desktop from a desktop session, or set QT_QPA_PLATFORM=offscreen to run "
            "without a screen."
        )


def create_application(argv: list[str] | None = None):
    """The QApplication with names, icon and stylesheet set (reused if one exists)."""
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication

    from mlops_desktop.qt import theme
    from mlops_desktop.resources import resource_path
    from mlops_desktop.version import __version__

    app = QApplication.instance() or QApplication(argv or [sys.argv[0]])
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    app.setApplicationDisplayName("mlops_desktop")
    app.setApplicationVersion(__version__)
    app.setDesktopFileName("mlops-desktop")
    app.setWindowIcon(QIcon(str(resource_path("icons/mlops-desktop.svg"))))
    app.setStyleSheet(resource_path("style.qss").read_text(encoding="utf-8"))
    theme.follow_system(app)
    return app


def install_excepthook(window) -> None:
    """Unexpected errors in slots go to the log and to the notification area, not a console."""

    def hook(exc_type, exc, tb):
        if issubclass(exc_type, KeyboardInterrupt):
            sys.__excepthook__(exc_type, exc, tb)
            return
        log.error("unexpected error", exc_info=(exc_type, exc, tb))
        if isinstance(exc, UserError):
            window.notifications.show_error(exc.message)
        else:
            window.notifications.show_error(
                f"Something unexpected went wrong ({exc_type.__name__}: {exc}). The details "
                f"are in the log file {window.log_file}; please include them in a bug report."
            )

    sys.excepthook = hook


def run(
    project: Path | None = None, read_only: bool = False, exit_after_first_paint: bool = False
) -> int:
    """Start the GUI (on ``project`` if given) and return the exit code."""
    started = time.perf_counter()
    check_display()
    from mlops_desktop.qt.main_window import MainWindow
    from mlops_desktop.services import modelfiles
    from mlops_desktop.services.logs import configure_logging

    # A hostile or broken model may at worst take down a worker or a server, never the window.
    modelfiles.forbid_in_this_process("the window draws plots from stored data")
    app = create_application()
    log_file = configure_logging()
    window = MainWindow(log_file=log_file)
    install_excepthook(window)
    if project is not None:
        window.open_project(project, read_only=read_only)
    if exit_after_first_paint:

        def report_and_quit() -> None:
            print(f"first-paint {time.perf_counter() - started:.4f}", flush=True)
            app.quit()

        window.first_painted.connect(report_and_quit)
    window.show()
    return app.exec()
