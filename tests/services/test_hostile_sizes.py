"""Absurd sizes in a crafted file's records (row counts, blob sizes and part counts, version
and job numbers, progress and timings near the limits of SQLite's numbers) are shown as
data, caught when the data is read, and never make a write go wrong."""

import shutil
import sqlite3
import time

import pytest

from mlops_desktop.domain.errors import ProjectFileError, UserError
from mlops_desktop.services.predictors import load_predictor
from mlops_desktop.services.project import Project
from tests.services.crafting import with_triggers_lifted

BIG = 2**63 - 1  # SQLite's largest integer


@pytest.fixture
def absurd(demo_project, tmp_path):
    path = tmp_path / "absurd.mlops"
    shutil.copy(demo_project, path)
    with Project.open(path, read_only=True) as project:
        data = project.datasets.list()
        models = project.models.list()
        resized, recounted = data[0], data[1]
        model = models[0]
    with_triggers_lifted(
        path,
        [
            (
                "UPDATE dataset_versions SET rows = ?, columns = -7 WHERE uuid = ?",
                (BIG, resized.uuid),
            ),
            (
                "UPDATE dataset_version_parts SET rows = ? WHERE version_uuid = ?",
                (BIG, resized.uuid),
            ),
            ("UPDATE blobs SET size = ? WHERE sha256 = ?", (BIG, recounted.parts[0])),
            (
                "UPDATE blobs SET chunk_count = ? WHERE sha256 = "
                "(SELECT model_sha256 FROM model_versions WHERE uuid = ?)",
                (BIG, model.uuid),
            ),
            ("UPDATE models SET last_version = ?", (BIG,)),
            ("UPDATE model_versions SET fit_seconds = 1e308, predict_seconds = -1e308", ()),
            ("UPDATE jobs SET progress = 1e308, position = -1e308", ()),
            ("UPDATE jobs SET number = ? WHERE number = (SELECT max(number) FROM jobs)", (BIG,)),
        ],
    )
    return path, resized, recounted, model


def test_absurd_sizes_are_browsed_and_caught_when_the_data_is_read(absurd):
    path, resized, recounted, model = absurd
    started = time.monotonic()
    with Project.open(path, read_only=True) as project:
        assert project.info().counts
        assert project.datasets.get(resized.label).rows == BIG
        assert project.queue.jobs()
        assert project.models.get(model.label).uuid == model.uuid
        assert project.history()
        with pytest.raises(ProjectFileError, match=rf"{resized.label} is recorded as .* damaged"):
            project.datasets.load_table(resized.label)
        with pytest.raises(UserError, match=rf"{recounted.label} cannot be read\. .* hash"):
            project.datasets.load_table(recounted.label)
        with pytest.raises(UserError, match=model.label):
            load_predictor(project, project.models.get(model.label))
        report = project.check()
        assert not report.ok
        assert len(report.blob_problems) == 2
    assert time.monotonic() - started < 30  # no loop runs to a crafted count


def test_a_counter_at_its_limit_refuses_the_next_write_and_changes_nothing(absurd):
    path, _, _, model = absurd
    before = _dump(path)
    with Project.open(path) as project:
        experiment = project.experiments.list()[0].name
        with pytest.raises(ProjectFileError, match="last job number, which no project"):
            project.queue.enqueue(experiment)
        refused = pytest.raises(ProjectFileError, match="last version number of model")
        with refused, project.file.transaction():
            project.file.models.add(model.label.rsplit(":", 1)[0])
    assert _dump(path) == before


def _dump(path):
    conn = sqlite3.connect(path)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()
