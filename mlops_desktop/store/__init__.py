"""The only package that speaks SQL: the project file, its migrations, blobs and repositories."""

from mlops_desktop.store.project_file import APPLICATION_ID, PROJECT_SUFFIX, ProjectFile

__all__ = ["APPLICATION_ID", "PROJECT_SUFFIX", "ProjectFile"]
