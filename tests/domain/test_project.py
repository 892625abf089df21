from mlops_desktop.domain.project import BlobProblem, CheckReport


def test_a_clean_report_is_ok_and_has_no_problems():
    report = CheckReport(["ok"], [], 3, [])
    assert report.ok
    assert report.problems() == []
    assert report.to_json()["ok"] is True


def test_every_kind_of_problem_is_listed_as_a_sentence():
    report = CheckReport(
        ["row 3 missing from index x"],
        ["blob_chunks row 7 points at a missing blobs"],
        2,
        [BlobProblem("ab" * 32, "does not match its hash")],
    )
    assert not report.ok
    problems = report.problems()
    assert len(problems) == 3
    assert problems[0].startswith("SQLite integrity check: row 3")
    assert "abababababab" in problems[2]
    assert report.to_json()["blob_problems"][0]["reason"] == "does not match its hash"
