from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from mlops_desktop.qt.standalone import run_panel


def test_a_panel_runs_on_its_own(project, qapp):
    project.close()
    shown = []

    def look_and_quit():
        shown.extend(w.windowTitle() for w in QApplication.topLevelWidgets() if w.isVisible())
        QApplication.quit()

    QTimer.singleShot(100, look_and_quit)
    assert run_panel(["overview", str(project.path)]) == 0
    assert "Overview — test" in shown


def test_bad_arguments_print_usage(capsys, tmp_path):
    assert run_panel(["nope", str(tmp_path / "x.mlops")]) == 1
    assert "usage:" in capsys.readouterr().err
    assert run_panel(["overview", str(tmp_path / "missing.mlops")]) == 1
    assert capsys.readouterr().err.startswith("error: There is no project file")
