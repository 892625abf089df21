"""Use cases on a project, free of Qt: the public Python API for notebooks and scripts."""
