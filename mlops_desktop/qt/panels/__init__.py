"""The panels of the main window, in navigation order; a panel is listed once it is built.

Panels are described here without being imported: the modules of heavy panels (pandas,
pyarrow, matplotlib) load on a worker thread after the window first paints, so it opens fast.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from PySide6.QtGui import QColor, QIcon, QPainter

from mlops_desktop.qt.panels.base import Panel
from mlops_desktop.resources import resource_path


@dataclass(frozen=True)
class PanelSpec:
    title: str
    module: str
    class_name: str
    #: Light panels load with the window; the others load in the background after it paints.
    eager: bool = False
    #: (keys, what it does, the panel's button or field it presses or focuses, and the
    #: widget it is limited to, if any): a shortcut of a disabled button does nothing.
    shortcuts: tuple[tuple[str, str, str, str], ...] = ()

    @property
    def key(self) -> str:
        return self.title.lower().replace(" ", "-")

    def icon(self) -> QIcon:
        """The panel's icon: a vector drawing in resources/, sharp at any screen scale, and
        white on the highlight of the selected row (its blue would vanish there)."""
        icon = QIcon(str(resource_path(f"icons/panels/{self.key}.svg")))
        for size in (16, 24, 32, 48, 64):
            white = icon.pixmap(size, size)
            painter = QPainter(white)
            painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_SourceIn)
            painter.fillRect(white.rect(), QColor("white"))
            painter.end()
            icon.addPixmap(white, QIcon.Mode.Selected)
        return icon

    def load(self) -> type[Panel]:
        return getattr(importlib.import_module(self.module), self.class_name)


PANELS: tuple[PanelSpec, ...] = (
    PanelSpec(
        "Overview",
        "mlops_desktop.qt.panels.overview",
        "OverviewPanel",
        eager=True,
    ),
    PanelSpec(
        "Data",
        "mlops_desktop.qt.panels.data.panel",
        "DataPanel",
        shortcuts=(("Ctrl+I", "Import a file", "import_button", ""),),
    ),
    PanelSpec(
        "Experiments",
        "mlops_desktop.qt.panels.experiments.panel",
        "ExperimentsPanel",
        shortcuts=(
            ("Ctrl+S", "Save the experiment", "editor.save_button", ""),
            ("Ctrl+R", "Dry run on 200 rows", "editor.dry_run_button", ""),
            ("Ctrl+Return", "Queue the experiment for training", "buttons.queue", ""),
        ),
    ),
    PanelSpec(
        "Training queue",
        "mlops_desktop.qt.panels.queue.panel",
        "QueuePanel",
        shortcuts=(
            ("Del", "Cancel the selected job", "cancel_button", "table"),
            ("Ctrl+R", "Run the selected job again", "rerun_button", ""),
            ("Ctrl+L", "Show the selected job's log", "log_button", ""),
        ),
    ),
    PanelSpec(
        "Models",
        "mlops_desktop.qt.panels.models.panel",
        "ModelsPanel",
        shortcuts=(
            ("Ctrl+F", "Search the versions", "search", ""),
            ("Ctrl+D", "Compare the selected versions", "buttons.compare", ""),
            ("Ctrl+E", "Export the selected version", "buttons.export", ""),
            ("Del", "Delete the selected versions", "buttons.delete", "table"),
        ),
    ),
    PanelSpec(
        "Serving",
        "mlops_desktop.qt.panels.serving.panel",
        "ServingPanel",
        shortcuts=(("Ctrl+Return", "Start or stop serving", "toggle_button", ""),),
    ),
    PanelSpec(
        "Monitoring",
        "mlops_desktop.qt.panels.monitoring.panel",
        "MonitoringPanel",
        shortcuts=(("F5", "Check drift", "check_button", ""),),
    ),
)

__all__ = ["PANELS", "Panel", "PanelSpec"]
