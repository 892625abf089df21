"""A full disk (the file's page limit reached): writes fail with a sentence, nothing is lost."""

import shutil

import numpy as np
import pandas as pd
import pytest

from mlops_desktop.domain.errors import DiskFullError
from mlops_desktop.domain.recipe import DropColumns
from mlops_desktop.services.project import Project
from mlops_desktop.store.health import check


def content(project) -> dict:
    """What the project holds, table by table (row counts and the newest event)."""
    conn = project.file.conn
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    counts = {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}
    newest = conn.execute("SELECT uuid FROM events ORDER BY id DESC LIMIT 1").fetchone()
    return {"counts": counts, "newest_event": newest}


@pytest.fixture
def full(demo_project, tmp_path):
    """The demo, open, with the file allowed to grow by no page at all."""
    path = tmp_path / "full.mlops"
    shutil.copyfile(demo_project, path)
    with Project.open(path) as project:
        project.datasets.import_file(numbers_csv(tmp_path / "big.csv", seed=2), "big")
        conn = project.file.conn
        conn.execute("VACUUM")  # no free pages left to reuse
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages}")
        yield project


def numbers_csv(path, rows=60_000, seed=0):
    """Random numbers: too many to fit in the free space of pages the file has already."""
    rng = np.random.default_rng(seed)
    pd.DataFrame(rng.normal(size=(rows, 4)), columns=list("abcd")).to_csv(path, index=False)
    return path


def write(project, action: str, folder):
    if action == "import":
        return project.datasets.import_file(numbers_csv(folder / "numbers.csv"))
    if action == "clean":
        return project.datasets.clean("big:1", [DropColumns(["a"])])
    if action == "merge":
        other = folder / "other.mlops"
        with Project.create(other) as created:
            created.datasets.import_file(numbers_csv(folder / "theirs.csv", seed=1), "theirs")
        return project.merge(other)
    raise AssertionError(action)


@pytest.mark.parametrize("action", ["import", "clean", "merge"])
def test_a_write_on_a_full_disk_fails_with_a_sentence_and_changes_nothing(full, tmp_path, action):
    before = content(full)
    with pytest.raises(DiskFullError, match="is full, so nothing was saved: free some space"):
        write(full, action, tmp_path)
    assert content(full) == before
    assert full.file.write_refused
    # Everything stored before is still there and whole.
    assert check(full.file).ok
    for version in full.datasets.list():
        full.datasets.load_frame(version)


def test_small_edits_either_fit_or_fail_cleanly_and_a_write_that_works_clears_the_refusal(
    full, tmp_path
):
    version = full.models.list()[0]
    edits = (
        lambda: full.models.set_notes(version.label, "x" * 200_000),
        lambda: full.models.set_tags(version.label, [f"tag-{i}" for i in range(200)]),
        lambda: full.queue.enqueue(full.experiments.list()[0].name),
        lambda: full.compact(),  # it only ever shrinks the file
    )
    for edit in edits:
        before = content(full)
        try:
            edit()
        except DiskFullError:
            assert content(full) == before
    with pytest.raises(DiskFullError):
        write(full, "import", tmp_path)
    assert full.file.write_refused
    full.file.conn.execute("PRAGMA max_page_count = 1000000000")
    full.models.set_notes(version.label, "room again")
    assert not full.file.write_refused
