"""Logging to a rotating file in the user's log folder; each area has a named logger."""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

from mlops_desktop.services.paths import log_folder

LOG_FILE_NAME = "mlops_desktop.log"


def configure_logging(level: int = logging.INFO) -> Path:
    """Send the ``mlops_desktop`` loggers to the log file (once); returns the file's path."""
    path = log_folder() / LOG_FILE_NAME
    root = logging.getLogger("mlops_desktop")
    if not any(getattr(h, "baseFilename", None) == str(path) for h in root.handlers):
        handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=2_000_000, backupCount=3, encoding="utf-8", delay=True
        )
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s")
        )
        root.addHandler(handler)
    root.setLevel(level)
    return path
