"""The command line: ``mlops-desktop [PROJECT]`` opens the GUI; subcommands work headless.

Each module registers one area's commands on the group in ``base``.
"""

from mlops_desktop.cli import data, experiments, models, project, serving, training  # noqa: F401
from mlops_desktop.cli.base import cli, main

__all__ = ["cli", "main"]
