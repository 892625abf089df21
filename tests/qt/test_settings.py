"""Where the app keeps its preferences."""

from mlops_desktop.qt.settings import AppSettings


def test_a_home_folder_keeps_the_settings_too(tmp_path, monkeypatch):
    monkeypatch.setenv("MLOPS_DESKTOP_HOME", str(tmp_path))
    settings = AppSettings()
    settings.add_recent(tmp_path / "a.mlops")
    settings.set_worker_count(2)
    settings.save_window(b"geometry", b"state")  # syncs to disk
    assert "a.mlops" in (tmp_path / "settings.ini").read_text()
    assert AppSettings().worker_count(1) == 2


def test_a_garbled_worker_count_falls_back_to_the_default(tmp_path, monkeypatch):
    monkeypatch.setenv("MLOPS_DESKTOP_HOME", str(tmp_path))
    (tmp_path / "settings.ini").write_text("[queue]\nworkers=many\n")
    assert AppSettings().worker_count(3) == 3
