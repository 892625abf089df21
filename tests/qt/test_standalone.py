from mlops_desktop.qt.panels.overview import OverviewPanel
from mlops_desktop.qt.standalone import PanelWindow, main


def test_a_panel_gets_a_window_of_its_own(project, qtbot):
    window = PanelWindow("overview", project)
    qtbot.addWidget(window)
    window.show()
    assert isinstance(window.panel, OverviewPanel)
    assert window.windowTitle() == "Overview — test"
    window.close()


def test_bad_arguments_print_usage_or_the_error(capsys, tmp_path):
    assert main(["nope", str(tmp_path / "x.mlops")]) == 1
    assert "usage:" in capsys.readouterr().err
    assert main(["overview", str(tmp_path / "missing.mlops")]) == 1
    assert capsys.readouterr().err.startswith("error: There is no project file")
