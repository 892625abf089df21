"""Entry point for ``python -m mlops_desktop``."""

from mlops_desktop.cli import main

if __name__ == "__main__":
    main()
