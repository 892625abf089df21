"""Entry point for ``python -m mlops_desktop``."""

import multiprocessing

from mlops_desktop.cli import main

if __name__ == "__main__":
    # Background tasks start "spawn" children; a frozen (PyInstaller) app must route them.
    multiprocessing.freeze_support()
    main()
