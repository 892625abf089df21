"""Model references and monitoring crossings in the project file."""

import pytest

from mlops_desktop.store import compaction, migrations
from tests.store.test_serving import add_version


@pytest.fixture
def file(project):
    return project.file


def test_migration_7_adds_the_tables(file):
    assert migrations.LATEST_VERSION >= 7
    assert {"model_references", "monitoring_alerts"} <= file.table_names()
    assert ("model_references", "sha256") in compaction.blob_references(file.conn)


def test_a_reference_is_kept_replaced_and_goes_with_its_version(file):
    version = add_version(file)
    assert file.monitoring.reference(version.uuid) is None
    with file.transaction():
        first = file.blobs.put(b'{"rows": 1}')
        file.monitoring.set_reference(version.uuid, first, "on demand", 1)
    assert file.monitoring.reference(version.uuid).source == "on demand"
    with file.transaction():
        second = file.blobs.put(b'{"rows": 2}')
        file.monitoring.set_reference(version.uuid, second, "training", 2)
    stored = file.monitoring.reference(version.uuid)
    assert (stored.sha256, stored.source, stored.rows) == (second, "training", 2)
    with file.transaction():
        file.models.delete(version.uuid)
    assert file.monitoring.reference(version.uuid) is None


def test_compacting_keeps_the_blob_of_a_reference(project, file):
    version = add_version(file)
    with file.transaction():
        kept = file.blobs.put(b'{"kept": true}')
        file.monitoring.set_reference(version.uuid, kept, "training", 1)
        file.blobs.put(b"nothing refers to this")
    assert project.compact().blobs_removed == 1
    assert file.blobs.get(kept) == b'{"kept": true}'


def test_crossings_keep_the_time_first_seen_and_forget_those_back_under(file):
    version = add_version(file)
    monitoring = file.monitoring
    with file.transaction():
        monitoring.set_alerts(version.uuid, "served", {("age", "psi"): "amber"})
    (since,) = file.conn.execute("SELECT since FROM monitoring_alerts").fetchone()
    with file.transaction():
        monitoring.set_alerts(
            version.uuid, "served", {("age", "psi"): "amber", ("city", "missing"): "red"}
        )
    assert monitoring.alerts(version.uuid, "served") == {
        ("age", "psi"): "amber",
        ("city", "missing"): "red",
    }
    row = file.conn.execute("SELECT since FROM monitoring_alerts WHERE subject = 'age'")
    assert row.fetchone() == (since,)
    with file.transaction():
        monitoring.set_alerts(version.uuid, "served", {("city", "missing"): "red"})
    assert monitoring.alerts(version.uuid, "served") == {("city", "missing"): "red"}
    assert monitoring.alerts(version.uuid, "dataset x") == {}


def test_thresholds_are_settings_under_one_prefix(file):
    with file.transaction():
        file.monitoring.set_threshold("psi_red", 0.3)
        file.settings.set("compute.dask_scheduler", "tcp://x:8786")
    assert file.monitoring.thresholds() == {"psi_red": 0.3}
    with file.transaction():
        file.monitoring.set_threshold("psi_red", None)
    assert file.monitoring.thresholds() == {}
