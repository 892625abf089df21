"""Who has a project open: recorded per window, stale windows forgotten."""

from mlops_desktop.store import openers
from mlops_desktop.store.project_file import ProjectFile


def test_windows_see_each_other_and_forget_the_gone(project_path, monkeypatch):
    ProjectFile.create(project_path).close()
    with ProjectFile.open(project_path) as first, ProjectFile.open(project_path) as second:
        mine = first.openers.join()
        assert second.openers.others(None)[0].user == "tester"
        theirs = second.openers.join()
        assert [o.user for o in first.openers.others(mine)] == ["tester"]
        second.openers.leave(theirs)
        assert first.openers.others(mine) == []
        # A window whose process died (same computer) is not reported, and is cleaned up.
        ghost = second.openers.join()
        second.conn.execute("UPDATE openers SET pid = 999999999 WHERE uuid = ?", (ghost,))
        assert first.openers.others(mine) == []
        # One not seen for a long while (another computer that lost power) neither.
        late = second.openers.join()
        second.conn.execute(
            "UPDATE openers SET host = 'elsewhere', seen_at = '2000-01-01' WHERE uuid = ?",
            (late,),
        )
        assert first.openers.others(mine) == []
        (rows,) = first.conn.execute("SELECT count(*) FROM openers").fetchone()
        assert rows == 1
        first.openers.refresh(mine)
        assert openers.STALE_SECONDS > openers.REFRESH_SECONDS
