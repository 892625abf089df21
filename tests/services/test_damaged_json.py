"""A stored JSON value that no longer parses (bit rot, or a crafted file: schema 10 has no
json_valid() checks) is refused with a sentence naming what holds it, never a traceback."""

import shutil

import pytest

from mlops_desktop.domain.errors import CorruptProjectError
from mlops_desktop.services.project import Project
from tests.services.crafting import with_triggers_lifted

BROKEN = '{"half": '


@pytest.mark.parametrize(
    ("sql", "read", "says"),
    [
        ("UPDATE events SET details = ?", lambda p: p.history(), "stored history event"),
        ("UPDATE jobs SET spec = ?", lambda p: p.queue.jobs(), "stored job"),
        ("UPDATE experiments SET spec = ?", lambda p: p.experiments.list(), "stored experiment"),
        (
            "UPDATE evaluations SET metrics = ?",
            lambda p: [p.models.evaluations(v) for v in p.models.list()],
            "stored evaluation",
        ),
        (
            "INSERT OR REPLACE INTO settings VALUES ('ui.x', ?)",
            lambda p: p.file.settings.all(),
            "keeps its settings",
        ),
        (
            "UPDATE model_versions SET metrics = ?",
            lambda p: p.models.list(),
            "stored model version",
        ),
    ],
    ids=["events", "jobs", "experiments", "evaluations", "settings", "model-versions"],
)
def test_a_damaged_json_value_is_refused_naming_what_holds_it(
    demo_project, tmp_path, sql, read, says
):
    path = tmp_path / "damaged.mlops"
    shutil.copy(demo_project, path)
    with Project.open(path, read_only=True) as project:
        read(project)  # reads as shipped
    with_triggers_lifted(path, [(sql, (BROKEN,))])
    with Project.open(path, read_only=True) as project, pytest.raises(CorruptProjectError) as e:
        read(project)
    assert says in e.value.message
    assert e.value.message.endswith("backup.")
