"""The light or dark palette: it follows the operating system's colour scheme, live."""

from __future__ import annotations

import os

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

#: "light" or "dark" to choose, whatever the system says (anything else: follow the system).
THEME_ENV = "MLOPS_DESKTOP_THEME"

_DARK = {
    QPalette.ColorRole.Window: "#2b2d30",
    QPalette.ColorRole.WindowText: "#e6e6e6",
    QPalette.ColorRole.Base: "#1e1f22",
    QPalette.ColorRole.AlternateBase: "#26282b",
    QPalette.ColorRole.ToolTipBase: "#3c3f41",
    QPalette.ColorRole.ToolTipText: "#e6e6e6",
    QPalette.ColorRole.PlaceholderText: "#8c8c8c",
    QPalette.ColorRole.Text: "#e6e6e6",
    QPalette.ColorRole.Button: "#3c3f41",
    QPalette.ColorRole.ButtonText: "#e6e6e6",
    QPalette.ColorRole.BrightText: "#ff6b6b",
    QPalette.ColorRole.Light: "#4a4d50",
    QPalette.ColorRole.Midlight: "#3f4245",
    QPalette.ColorRole.Mid: "#5c5f62",
    QPalette.ColorRole.Dark: "#1b1c1e",
    QPalette.ColorRole.Shadow: "#111111",
    QPalette.ColorRole.Highlight: "#2f65ca",
    QPalette.ColorRole.HighlightedText: "#ffffff",
    QPalette.ColorRole.Link: "#589df6",
    QPalette.ColorRole.LinkVisited: "#a68cf0",
}
_DISABLED = {
    QPalette.ColorRole.WindowText: "#7a7a7a",
    QPalette.ColorRole.Text: "#7a7a7a",
    QPalette.ColorRole.ButtonText: "#7a7a7a",
    QPalette.ColorRole.HighlightedText: "#b0b0b0",
}


def dark_palette() -> QPalette:
    palette = QPalette()
    for role, colour in _DARK.items():
        palette.setColor(role, QColor(colour))
    for role, colour in _DISABLED.items():
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor(colour))
    return palette


def wanted_scheme(system: Qt.ColorScheme) -> Qt.ColorScheme:
    """The scheme to show: the user's choice in ``MLOPS_DESKTOP_THEME``, else the system's."""
    choice = os.environ.get(THEME_ENV, "").strip().lower()
    if choice == "dark":
        return Qt.ColorScheme.Dark
    if choice == "light":
        return Qt.ColorScheme.Light
    return system


def apply(app: QApplication, system: Qt.ColorScheme | None = None) -> Qt.ColorScheme:
    """Give ``app`` the palette of the wanted scheme; returns the scheme applied."""
    if system is None:
        system = app.styleHints().colorScheme()
    scheme = wanted_scheme(system)
    if scheme == Qt.ColorScheme.Dark:
        app.setPalette(dark_palette())
    else:
        # Light, or a system that does not say: the style's own palette.
        app.setPalette(app.style().standardPalette())
    return scheme


def follow_system(app: QApplication) -> None:
    """Apply the scheme now and again whenever the user switches it in the system settings."""
    apply(app)
    if not app.property("follows-colour-scheme"):  # an app reused by tests connects once
        app.setProperty("follows-colour-scheme", True)
        app.styleHints().colorSchemeChanged.connect(lambda scheme: apply(app, scheme))


def is_dark(palette: QPalette) -> bool:
    return palette.color(QPalette.ColorRole.Window).lightness() < 128


def style_figure(figure, palette: QPalette) -> None:
    """Colour a matplotlib figure like the widgets around it (axes, ticks, labels, legends).

    Charts are drawn with matplotlib's light defaults; this recolours what those defaults
    paint black or white, and leaves the data's own colours alone."""
    background = palette.color(QPalette.ColorRole.Window).name()
    base = palette.color(QPalette.ColorRole.Base).name()
    text = palette.color(QPalette.ColorRole.WindowText).name()
    edge = palette.color(QPalette.ColorRole.Mid).name()
    figure.set_facecolor(background)
    for text_artist in figure.texts:  # suptitle and figure labels among them
        text_artist.set_color(text)
    for axes in figure.axes:
        axes.set_facecolor(base)
        axes.title.set_color(text)
        axes.xaxis.label.set_color(text)
        axes.yaxis.label.set_color(text)
        axes.tick_params(colors=text, which="both")
        for spine in axes.spines.values():
            spine.set_edgecolor(edge)
        legend = axes.get_legend()
        if legend is not None:
            legend.get_frame().set_facecolor(base)
            legend.get_frame().set_edgecolor(edge)
            for entry in legend.get_texts():
                entry.set_color(text)
