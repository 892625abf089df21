"""The palette follows the system's light or dark scheme, charts included."""

import pytest
from matplotlib.colors import to_hex
from PySide6.QtCore import Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication

from mlops_desktop.app import create_application
from mlops_desktop.qt import theme
from mlops_desktop.qt.widgets.charts import ChartCanvas


@pytest.fixture
def app(monkeypatch):
    monkeypatch.delenv(theme.THEME_ENV, raising=False)
    application = create_application()
    yield application
    theme.apply(application, Qt.ColorScheme.Light)  # the other tests expect the usual look


def test_switching_the_system_scheme_switches_the_palette_live(app):
    app.styleHints().colorSchemeChanged.emit(Qt.ColorScheme.Dark)
    assert theme.is_dark(QApplication.palette())
    app.styleHints().colorSchemeChanged.emit(Qt.ColorScheme.Light)
    assert not theme.is_dark(QApplication.palette())


@pytest.mark.parametrize(("choice", "dark"), [("dark", True), ("light", False)])
def test_the_environment_can_choose_whatever_the_system_says(app, monkeypatch, choice, dark):
    monkeypatch.setenv(theme.THEME_ENV, choice)
    opposite = Qt.ColorScheme.Light if dark else Qt.ColorScheme.Dark
    theme.apply(app, opposite)
    assert theme.is_dark(QApplication.palette()) is dark


def test_charts_take_the_colours_of_the_widgets_around_them(app, qtbot):
    canvas = ChartCanvas()
    qtbot.addWidget(canvas)
    axes = canvas.figure.add_subplot()
    axes.plot([1, 2, 3])
    axes.set_xlabel("month")
    theme.apply(app, Qt.ColorScheme.Dark)
    qtbot.waitUntil(lambda: theme.is_dark(canvas.palette()))
    canvas.redraw()
    qtbot.waitUntil(lambda: canvas.idle)
    window = canvas.palette().color(QPalette.ColorRole.Window).name()
    text = canvas.palette().color(QPalette.ColorRole.WindowText).name()
    assert to_hex(canvas.figure.get_facecolor()) == window
    assert to_hex(axes.xaxis.label.get_color()) == text
    # The palette changed while the chart was shown: it recoloured itself.
    theme.apply(app, Qt.ColorScheme.Light)
    qtbot.waitUntil(lambda: to_hex(canvas.figure.get_facecolor()) != window)


def test_charts_are_drawn_and_rendered_off_the_event_loop(app, qtbot):
    import threading

    canvas = ChartCanvas()
    qtbot.addWidget(canvas)
    canvas.resize(400, 300)
    threads = []

    def draw(figure):
        threads.append(threading.current_thread().name)
        figure.clear()
        figure.add_subplot().bar(["a", "b"], [1, 2])

    canvas.draw(draw)
    canvas.draw(draw)  # the first render is skipped: the second is already asked for
    assert not canvas.idle
    qtbot.waitUntil(lambda: canvas.idle, timeout=10_000)
    assert len(threads) == 2
    assert all(name.startswith("charts") for name in threads)
    assert canvas._image is not None
    assert canvas._image.width() >= 400 * canvas.devicePixelRatioF() - 1


def test_a_chart_closed_while_it_renders_gets_no_image_and_nothing_breaks(app, qtbot):
    import threading

    import shiboken6

    from mlops_desktop.qt.widgets import charts

    canvas, other = ChartCanvas(), ChartCanvas()
    qtbot.addWidget(other)
    started, go_on = threading.Event(), threading.Event()
    shown = []
    canvas._show = lambda number, image: shown.append(number)

    def slow(figure):
        started.set()
        go_on.wait(10)
        figure.clear()
        figure.add_subplot().plot([1, 2])

    canvas.draw(slow)
    assert started.wait(10)
    shiboken6.delete(canvas)  # the panel was closed while its chart was being rendered
    go_on.set()
    charts._chart_thread().submit(lambda: None).result(10)
    other.draw(lambda figure: figure.add_subplot().bar(["a"], [1]))
    qtbot.waitUntil(lambda: other.idle, timeout=10_000)  # images still reach live charts
    assert other._image is not None
    assert shown == []
