"""The panels of the main window, in navigation order; a panel is listed once it is built."""

from __future__ import annotations

from mlops_desktop.qt.panels.base import Panel
from mlops_desktop.qt.panels.overview import OverviewPanel

PANELS: tuple[type[Panel], ...] = (OverviewPanel,)

__all__ = ["PANELS", "Panel"]
