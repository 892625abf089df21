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

PANELS_BY_NAME = {spec.key: spec for spec in PANELS}


class PanelWindow(QMainWindow):
    """A bare window around one panel, with the notification and task areas it relies on."""

    def __init__(self, panel_name: str, project: Project):
        super().__init__()
        panel_class = PANELS_BY_NAME[panel_name].load()
        self.runner = TaskRunner(self)
        notifications = NotificationArea()
        self.context = ProjectContext(project, self.runner, notifications, self)
        self.panel = panel_class(self.context)
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(notifications)
        layout.addWidget(self.panel, 1)
        self.setCentralWidget(central)
        self.statusBar().addPermanentWidget(TaskArea(self.runner))
        self.setWindowTitle(f"{panel_class.title} — {project.name}")
        self.resize(1000, 700)

    def closeEvent(self, event) -> None:
        self.runner.cancel_all()
        self.context.close()
        super().closeEvent(event)


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in PANELS_BY_NAME:
        names = ",".join(PANELS_BY_NAME)
        print(f"usage: python -m mlops_desktop.qt.standalone {{{names}}} PROJECT", file=sys.stderr)
        return 1
    try:
        project = Project.open(Path(argv[1]))
    except UserError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    app = QApplication.instance() or QApplication([sys.argv[0]])
    app.setStyleSheet(resource_path("style.qss").read_text(encoding="utf-8"))
    window = PanelWindow(argv[0], project)
    window.show()
    return app.exec()


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
