"""Fixtures the service tests share."""

import pytest

from mlops_desktop.domain.recipe import RenameColumns
from tests.services.test_evaluation import raw_csv
from tests.services.test_training import run_queue, save


@pytest.fixture
def cleaned(project, tmp_path):
    """flowers:1, trained on iris:2 = iris:1 (an export with a terse column name) cleaned by
    one rename."""
    raw = project.datasets.import_file(raw_csv(tmp_path / "march.csv", 0), "iris")
    project.datasets.clean(raw, [RenameColumns({"sl": "sepal length (cm)"})])
    save(project, name="forest", dataset="iris:2", model_name="flowers")
    run_queue(project)
    return project
