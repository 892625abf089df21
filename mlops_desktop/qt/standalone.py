"""One panel in its own window: ``python -m mlops_desktop.qt.standalone PANEL PROJECT``."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtWidgets import QApplication, QMainWindow, QVBoxLayout, QWidget

from mlops_desktop.domain.errors import UserError
from mlops_desktop.qt.context import ProjectContext
from mlops_desktop.qt.panels import PANELS
from mlops_desktop.qt.widgets.notifications import NotificationArea
from mlops_desktop.qt.widgets.task_area import TaskArea
from mlops_desktop.qt.workers.tasks import TaskRunner
from mlops_desktop.resources import resource_path
from mlops_desktop.services.project import Project


def run_panel(argv: list[str]) -> int:
    names = {panel.title.lower().replace(" ", "-"): panel for panel in PANELS}
    if len(argv) != 2 or argv[0] not in names:
        print(
            f"usage: python -m mlops_desktop.qt.standalone {{{','.join(names)}}} PROJECT",
            file=sys.stderr,
        )
        return 1
    panel_class = names[argv[0]]
    try:
        project = Project.open(Path(argv[1]))
    except UserError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    app = QApplication.instance() or QApplication([sys.argv[0]])
    app.setStyleSheet(resource_path("style.qss").read_text(encoding="utf-8"))
    window = QMainWindow()
    runner = TaskRunner(window)
    notifications = NotificationArea()
    context = ProjectContext(project, runner, notifications, window)
    central = QWidget()
    layout = QVBoxLayout(central)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.addWidget(notifications)
    layout.addWidget(panel_class(context), 1)
    window.setCentralWidget(central)
    window.statusBar().addPermanentWidget(TaskArea(runner))
    window.setWindowTitle(f"{panel_class.title} — {project.name}")
    window.resize(1000, 700)
    window.show()
    try:
        return app.exec()
    finally:
        runner.cancel_all()
        context.close()


if __name__ == "__main__":
    raise SystemExit(run_panel(sys.argv[1:]))
