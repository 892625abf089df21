"""The command line: ``mlops-desktop [PROJECT]`` opens the GUI; subcommands work headless.

Each module registers one area's commands on the group in ``base``.
"""

from mlops_desktop.cli import (  # noqa: F401
    data,
    experiments,
    models,
    monitoring,
    project,
    retraining,
    serving,
    training,
)
from mlops_desktop.cli.base import cli, main

__all__ = ["cli", "main"]
