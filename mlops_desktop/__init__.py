"""mlops_desktop: an offline MLOps workbench whose Python API starts at ``Project``."""

from mlops_desktop.version import __version__

__all__ = ["Project", "__version__"]


def __getattr__(name: str):
    # Lazy so that `import mlops_desktop` stays cheap for the GUI's cold start and the CLI.
    if name == "Project":
        from mlops_desktop.services.project import Project

        return Project
    raise AttributeError(f"module 'mlops_desktop' has no attribute {name!r}")
