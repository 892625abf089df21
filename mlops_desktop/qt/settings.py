"""Per-user application settings (QSettings): recent projects, window geometry, last folder,
last panel and selections, the guided tour and the number of training workers."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

from mlops_desktop.services.paths import settings_file

MAX_RECENT = 10


class AppSettings:
    def __init__(self, qsettings: QSettings | None = None):
        self._s = qsettings if qsettings is not None else _default_settings()

    def recent_projects(self) -> list[Path]:
        value = self._s.value("recent_projects", [])
        if isinstance(value, str):  # QSettings returns a lone string for a one-element list
            value = [value]
        return [Path(p) for p in value or []]

    def add_recent(self, path: Path) -> None:
        path = Path(path).absolute()
        paths = [path, *(p for p in self.recent_projects() if p != path)]
        self._s.setValue("recent_projects", [str(p) for p in paths[:MAX_RECENT]])

    def remove_recent(self, path: Path) -> None:
        paths = [p for p in self.recent_projects() if p != Path(path).absolute()]
        self._s.setValue("recent_projects", [str(p) for p in paths])

    def clear_recent(self) -> None:
        self._s.setValue("recent_projects", [])

    def last_folder(self) -> Path | None:
        value = self._s.value("last_folder", "")
        return Path(value) if value and Path(value).is_dir() else None

    def set_last_folder(self, folder: Path) -> None:
        self._s.setValue("last_folder", str(folder))

    def last_panel(self) -> str:
        """The key of the panel last shown ("data", "models", ...), or ""."""
        return str(self._s.value("last_panel", "") or "")

    def set_last_panel(self, key: str) -> None:
        self._s.setValue("last_panel", key)

    def selection(self, project_uuid: str, panel: str) -> str | None:
        """What was selected in ``panel`` when the project was last closed."""
        return self._s.value(f"selection/{project_uuid}/{panel}") or None

    def set_selection(self, project_uuid: str, panel: str, key: str | None) -> None:
        name = f"selection/{project_uuid}/{panel}"
        if key is None:
            self._s.remove(name)
        else:
            self._s.setValue(name, key)

    def tour_seen(self) -> bool:
        """Whether the guided tour was shown once (finished or skipped)."""
        return str(self._s.value("tour/seen", "false")).lower() == "true"

    def set_tour_seen(self) -> None:
        self._s.setValue("tour/seen", "true")

    def worker_count(self, default: int) -> int:
        """How many training workers the app runs at once."""
        try:
            return max(1, int(self._s.value("queue/workers", default)))
        except (TypeError, ValueError):
            return default

    def set_worker_count(self, count: int) -> None:
        self._s.setValue("queue/workers", count)

    def window_geometry(self) -> QByteArray | None:
        return self._s.value("window/geometry")

    def window_state(self) -> QByteArray | None:
        return self._s.value("window/state")

    def save_window(self, geometry: QByteArray, state: QByteArray) -> None:
        self._s.setValue("window/geometry", geometry)
        self._s.setValue("window/state", state)
        self._s.sync()


def _default_settings() -> QSettings:
    path = settings_file()
    if path is None:
        return QSettings()
    return QSettings(str(path), QSettings.Format.IniFormat)
