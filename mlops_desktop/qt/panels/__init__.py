"""The panels of the main window, in navigation order; a panel is listed once it is built.

Panels are described here without being imported: the modules of heavy panels (pandas,
pyarrow, matplotlib) load on a worker thread after the window first paints, so it opens fast.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from PySide6.QtWidgets import QStyle

from mlops_desktop.qt.panels.base import Panel


@dataclass(frozen=True)
class PanelSpec:
    title: str
    icon: QStyle.StandardPixmap
    module: str
    class_name: str
    #: Light panels load with the window; the others load in the background after it paints.
    eager: bool = False

    @property
    def key(self) -> str:
        return self.title.lower().replace(" ", "-")

    def load(self) -> type[Panel]:
        return getattr(importlib.import_module(self.module), self.class_name)


PANELS: tuple[PanelSpec, ...] = (
    PanelSpec(
        "Overview",
        QStyle.StandardPixmap.SP_FileDialogInfoView,
        "mlops_desktop.qt.panels.overview",
        "OverviewPanel",
        eager=True,
    ),
    PanelSpec(
        "Data",
        QStyle.StandardPixmap.SP_FileDialogContentsView,
        "mlops_desktop.qt.panels.data.panel",
        "DataPanel",
    ),
    PanelSpec(
        "Experiments",
        QStyle.StandardPixmap.SP_FileDialogDetailedView,
        "mlops_desktop.qt.panels.experiments.panel",
        "ExperimentsPanel",
    ),
    PanelSpec(
        "Training queue",
        QStyle.StandardPixmap.SP_MediaPlay,
        "mlops_desktop.qt.panels.queue.panel",
        "QueuePanel",
    ),
    PanelSpec(
        "Models",
        QStyle.StandardPixmap.SP_DriveHDIcon,
        "mlops_desktop.qt.panels.models.panel",
        "ModelsPanel",
    ),
    PanelSpec(
        "Serving",
        QStyle.StandardPixmap.SP_DriveNetIcon,
        "mlops_desktop.qt.panels.serving.panel",
        "ServingPanel",
    ),
    PanelSpec(
        "Monitoring",
        QStyle.StandardPixmap.SP_MessageBoxWarning,
        "mlops_desktop.qt.panels.monitoring.panel",
        "MonitoringPanel",
    ),
)

__all__ = ["PANELS", "Panel", "PanelSpec"]
