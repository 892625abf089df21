"""Where things live on this computer: the default project folder and the log folder."""

from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "mlops_desktop"
#: Set to a folder to keep every per-user file (projects, logs, settings) under it (tests,
#: portable use).
HOME_ENV = "MLOPS_DESKTOP_HOME"


def _home_override() -> Path | None:
    value = os.environ.get(HOME_ENV, "").strip()
    return Path(value) if value else None


def default_project_folder() -> Path:
    """Where File > New suggests saving, made on first use."""
    if (home := _home_override()) is not None:
        folder = home / "projects"
    else:
        import platformdirs

        folder = platformdirs.user_documents_path() / "mlops_desktop"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def settings_file() -> Path | None:
    """Where the app keeps its preferences when ``MLOPS_DESKTOP_HOME`` is set; None means the
    platform's usual place (the registry, ~/.config, ~/Library/Preferences)."""
    home = _home_override()
    return None if home is None else home / "settings.ini"


def log_folder() -> Path:
    if (home := _home_override()) is not None:
        folder = home / "logs"
    else:
        import platformdirs

        folder = platformdirs.user_log_path(APP_NAME, appauthor=False)
    folder.mkdir(parents=True, exist_ok=True)
    return folder
