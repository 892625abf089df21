"""Importing files: valid odd files work, bad ones are refused and leave no trace."""

import csv
import io
import os
import string

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from mlops_desktop.domain.errors import ProjectFileError, ReadOnlyProjectError, UserError
from mlops_desktop.domain.tasks import TaskControl
from mlops_desktop.services.importing import read_source
from mlops_desktop.services.project import Project
from mlops_desktop.services.sniffing import ImportSettings, detect
from tests.helpers import file_digest


def write(tmp_path, name, data: bytes | str, encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(data.encode(encoding) if isinstance(data, str) else data)
    return path


def snapshot(project):
    return project.info().counts, project.file.conn.execute("SELECT count(*) FROM blobs").fetchone()


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("empty.csv", b"", "empty"),
        ("header.csv", b"a,b,c\n", "no rows"),
        ("noise.csv", os.urandom(4096) + b"\x00", "binary"),
        ("brace.csv", b"{" + bytes(range(256)) * 16 + b"}", "binary"),  # not JSON Lines
        ("padded.csv", b"a,b\n" + b"1,2\n" * 100_000 + b"\x00" * 4096, "zero bytes at its end"),
        ("fake.parquet", b"a,b\n1,2\n", "not Parquet"),
        ("ragged.csv", b"a,b\n1,2\n3,4,5\n6,7\n", "3 fields where the first row has 2"),
        ("quote.csv", b'a,b\n1,"open\n2,3\n', "never closed"),
        ("bad.jsonl", b'{"a": 1}\n{"a": \n', "not valid JSON Lines"),
        ("bad.xlsx", b"PK\x03\x04 not really a zip", "Excel workbook"),
    ],
)
def test_bad_files_are_refused_and_the_project_is_unchanged(project, tmp_path, name, data, message):
    path = write(tmp_path, name, data)
    before = snapshot(project)
    with pytest.raises(UserError, match=message) as info:
        project.datasets.import_file(path)
    assert name in str(info.value)
    assert snapshot(project) == before
    assert project.check().ok


def test_zero_bytes_are_refused_when_settings_are_given(project, tmp_path):
    path = write(tmp_path, "padded.csv", b"a,b\n1,2\n\x00\x00\x00")
    before = snapshot(project)
    with pytest.raises(UserError, match=r"padded\.csv has zero bytes at its start"):
        project.datasets.import_file(path, settings=ImportSettings())
    assert snapshot(project) == before
    utf16 = write(tmp_path, "wide.csv", "a,b\n1,2\n".encode("utf-16-le"))
    version = project.datasets.import_file(utf16, settings=ImportSettings(encoding="utf-16-le"))
    assert version.rows == 1


def test_the_wrong_encoding_is_explained(project, tmp_path):
    path = write(tmp_path, "latin.csv", "name,n\ncafé,1\n", "latin-1")
    wrong = ImportSettings(encoding="utf-8")
    with pytest.raises(UserError, match="not valid utf-8"):
        project.datasets.import_file(path, settings=wrong)
    assert project.info().counts["datasets"] == 0


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        ("name,n\ncafé,1\nthé,2\n", "latin-1"),
        ("name,n\ncafé,1\nthé,2\n", "utf-16"),
        ("\ufeffname,n\ncafé,1\nthé,2\n", "utf-8"),
    ],
)
def test_other_encodings_import(project, tmp_path, data, encoding):
    version = project.datasets.import_file(write(tmp_path, "f.csv", data, encoding))
    frame = project.datasets.load_frame(version)
    assert list(frame.columns) == ["name", "n"]
    assert frame["name"].tolist() == ["café", "thé"]


def test_semicolons_and_decimal_commas(project, tmp_path):
    path = write(tmp_path, "prices.csv", "item;price\nmilk;1,25\nbread;2,5\n")
    frame = project.datasets.load_frame(project.datasets.import_file(path))
    assert frame["price"].tolist() == [1.25, 2.5]


def test_numbers_with_grouped_thousands_are_read_as_numbers_with_a_note(project, tmp_path):
    text = (
        "item;price;count;label;big\n"
        "milk;1.000,25;1.234;1.000;9.223.372.036.854.775.808\n"
        "bread;2,5;12;x;1\n"
        "eggs;;+1.000.000;;2\n"
    )
    version = project.datasets.import_file(write(tmp_path, "prices.csv", text))
    frame = project.datasets.load_frame(version)
    assert frame["price"].tolist()[:2] == [1000.25, 2.5]
    assert frame["count"].tolist() == [1234, 12, 1_000_000]
    assert str(version.schema[2].type) == "int64"
    assert frame["label"].tolist()[:2] == ["1.000", "x"]  # not every value is a number
    assert frame["big"].tolist() == [2.0**63, 1.0, 2.0]  # past int64: floats
    assert any("point between thousands" in n and "'price' (1.000,25)" in n for n in version.notes)


def test_without_a_thousands_separator_grouped_numbers_stay_text(project, tmp_path):
    path = write(tmp_path, "prices.csv", "item;price\nmilk;1.000,25\nbread;2,5\n")
    settings = detect(path).settings
    settings.thousands = ""
    frame = project.datasets.load_frame(project.datasets.import_file(path, settings=settings))
    assert frame["price"].tolist() == ["1.000,25", "2,5"]


def test_awkward_column_names_are_kept(project, tmp_path):
    names = ["DROP TABLE x; --", "a/b\\c", 'say "hi"', "🐧 penguins", "", "dup", "dup"]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(names)
    writer.writerow(range(len(names)))
    version = project.datasets.import_file(write(tmp_path, "odd.csv", buffer.getvalue()))
    assert version.column_names == [
        "DROP TABLE x; --",
        "a/b\\c",
        'say "hi"',
        "🐧 penguins",
        "column_5",
        "dup",
        "dup_2",
    ]
    assert any("had no name" in n for n in version.notes)
    assert any("repeats the name 'dup'" in n for n in version.notes)


def test_in_one_column_blank_lines_are_skipped_and_quoted_spaces_kept(project, tmp_path):
    path = write(tmp_path, "one.csv", 'name\nann\n   \n" "\n\t\n"two\nlines"\nbob\n')
    frame = project.datasets.load_frame(project.datasets.import_file(path))
    assert frame["name"].tolist() == ["ann", " ", "two\nlines", "bob"]
    expected = pd.read_csv(path, dtype=str, engine="c")
    assert frame["name"].tolist() == expected["name"].tolist()


def test_quotes_are_counted_in_every_read_chunk(tmp_path, monkeypatch):
    from mlops_desktop.services import importing

    monkeypatch.setattr(importing, "_READ_CHUNK", 7)
    path = write(tmp_path, "q.csv", 'a,b\n"x",1\n"y ""z""",2\n' * 5)
    fingerprint = importing._Fingerprint(path, None).start()
    assert fingerprint.result() == file_digest(path)
    assert fingerprint.quotes == 8 * 5


def test_thousands_of_columns(project, tmp_path):
    header = ",".join(f"c{i}" for i in range(3000))
    row = ",".join(str(i) for i in range(3000))
    version = project.datasets.import_file(write(tmp_path, "wide.csv", f"{header}\n{row}\n{row}\n"))
    assert (version.rows, version.columns) == (2, 3000)


def test_quoted_newlines_in_a_large_file(project, tmp_path):
    lines = ["id,text"] + [f'{i},"line one\nline two {i}"' for i in range(60_000)]
    version = project.datasets.import_file(write(tmp_path, "notes.csv", "\n".join(lines)))
    assert version.rows == 60_000


def test_parquet_jsonl_excel_and_sklearn(project, tmp_path):
    frame = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    pq.write_table(pa.Table.from_pandas(frame), tmp_path / "f.parquet")
    (tmp_path / "f.jsonl").write_text('{"a": 1, "b": "x"}\n{"a": 2, "b": "y"}\n')
    frame.to_excel(tmp_path / "f.xlsx", index=False)
    for name in ("f.parquet", "f.jsonl", "f.xlsx"):
        version = project.datasets.import_file(tmp_path / name, name=name.replace(".", "-"))
        assert (version.rows, version.column_names) == (2, ["a", "b"]), name
        assert version.source.format == detect(tmp_path / name).settings.format
    iris = project.datasets.import_file("sklearn:iris")
    assert (iris.label, iris.rows) == ("iris:1", 150)
    with pytest.raises(UserError, match="no bundled dataset"):
        project.datasets.import_file("sklearn:titanic")


def test_nested_parquet_columns_are_kept_as_json_text_with_a_note(project, tmp_path):
    table = pa.table({"tags": [["a", "b"], None], "where": [{"x": 1}, {"x": None}]})
    pq.write_table(table, tmp_path / "nested.parquet")
    version = project.datasets.import_file(tmp_path / "nested.parquet")
    frame = project.datasets.load_frame(version)
    assert frame["tags"].tolist()[0] == '["a", "b"]'
    assert pd.isna(frame["tags"].iloc[1])
    assert frame["where"].tolist() == ['{"x": 1}', '{"x": null}']
    assert "Column 'tags' holds nested values; they are kept as JSON text." in version.notes


def test_times_with_fractions_of_a_second_import_and_profile(project, tmp_path):
    text = "at,n\n2024-01-01 10:00:00.250,1\n2024-01-01 10:00:01.750,2\n"
    version = project.datasets.import_file(write(tmp_path, "times.csv", text))
    at = project.datasets.profile(version).column("at")
    assert (at.kind, at.stats["max"]) == ("datetime", "2024-01-01 10:00:01.750000")
    assert project.datasets.load_frame(version)["at"].iloc[0].microsecond == 250_000


def test_names_undecodable_in_the_chosen_encoding_are_a_sentence(project, tmp_path):
    path = write(tmp_path, "names.csv", b"caf\xe9,na\xefve\n1,2\n")
    settings = ImportSettings(format="csv", encoding="utf-8", delimiter=",", header=True)
    for rows in (None, 100):
        with pytest.raises(UserError, match=r"names\.csv: its column names have bytes that are"):
            read_source(path, settings, rows=rows)
    assert read_source(path, detect(path).settings).table.column_names == ["café", "naïve"]


def test_json_lines_of_mixed_kinds_read_as_text_and_bad_utf8_is_a_sentence(project, tmp_path):
    mixed = write(tmp_path, "mixed.jsonl", '{"a": 1}\n{"a": "two"}\n{"a": null}\n')
    version = project.datasets.import_file(mixed)
    assert project.datasets.load_table(version).column("a").to_pylist() == ["1", "two", None]
    latin = write(tmp_path, "latin.jsonl", b'{"a": "caf\xe9"}\n')
    with pytest.raises(UserError, match="not valid UTF-8, which JSON Lines must be"):
        project.datasets.import_file(latin)


def test_workbook_text_keeps_its_zeros_and_names_are_made_unique(project, tmp_path):
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["code", "code", None, "n"])
    sheet.append(["01234", 1, 2.5, 3])
    sheet.append(["00077", 2, None, None])
    book.save(tmp_path / "codes.xlsx")
    version = project.datasets.import_file(tmp_path / "codes.xlsx")
    table = project.datasets.load_table(version)
    assert table.column(0).to_pylist() == ["01234", "00077"]
    assert [str(t) for t in table.schema.types] == ["string", "int64", "double", "int64"]
    assert len(version.notes) == 2  # the repeated name and the empty one
    preview = read_source(tmp_path / "codes.xlsx", rows=1).table
    assert preview.num_rows == 1


def test_a_quote_left_open_after_a_stray_one_is_still_caught(project, tmp_path):
    # The stray quote makes the count even; the last value swallowing a line gives it away.
    path = write(tmp_path, "stray.csv", 'a,b\n1,5"\n2,"x\n3,y')
    with pytest.raises(UserError, match="never closed"):
        project.datasets.import_file(path)
    fine = write(tmp_path, "fine.csv", 'a,b\n1,"x\ny"\n')
    assert project.datasets.import_file(fine).rows == 1


def test_a_single_line_without_a_line_break_is_read_as_a_line(project, tmp_path):
    names = write(tmp_path, "names.csv", "a,b")
    with pytest.raises(UserError, match=r"names\.csv has column names but no rows"):
        project.datasets.import_file(names)
    row = write(tmp_path, "row.csv", "1,2")
    settings = ImportSettings(header=False)
    assert project.datasets.import_file(row, settings=settings).rows == 1


def test_a_file_deleted_while_importing_is_refused(project, tmp_path):
    path = write(tmp_path, "vanishing.csv", "a,b\n" + "1,2\n" * 1000)

    def delete_once(fraction, message):
        if path.exists():
            path.unlink()

    with pytest.raises(UserError, match="deleted"):
        project.datasets.import_file(
            path, state=TaskControl(on_progress=delete_once, min_interval=0)
        )
    assert project.info().counts["dataset_versions"] == 0


def test_a_full_disk_leaves_the_project_unchanged(project, tmp_path):
    # Sevenths fill every bit of their floats, so no encoding fits them in two pages.
    rows = "".join(f"{i},{i / 7}\n" for i in range(50_000))
    path = write(tmp_path, "big.csv", "a,b\n" + rows)
    before = snapshot(project)
    pages = project.file.conn.execute("PRAGMA page_count").fetchone()[0]
    project.file.conn.execute(f"PRAGMA max_page_count = {pages + 2}")
    with pytest.raises(ProjectFileError, match=r"disk holding test\.mlops is full"):
        project.datasets.import_file(path)
    project.file.conn.execute("PRAGMA max_page_count = 1073741823")
    assert snapshot(project) == before
    assert project.check().ok


def test_a_read_only_project_refuses_imports_unchanged(project, tmp_path):
    path = write(tmp_path, "f.csv", "a\n1\n")
    project.close()
    before = file_digest(project.path)
    with Project.open(project.path, read_only=True) as ro, pytest.raises(ReadOnlyProjectError):
        ro.datasets.import_file(path)
    assert file_digest(project.path) == before


def test_a_preview_reads_only_the_first_rows(tmp_path):
    path = write(tmp_path, "f.csv", "a,b\n" + "1,2\n" * 10_000)
    preview = read_source(path, rows=100)
    assert preview.table.num_rows == 100


# Delimited text built from awkward pieces: delimiters, quotes, line breaks, blanks.
_cell = st.text(alphabet=string.ascii_letters[:6] + '0123456789 ,;"\t\n.-', max_size=6)
_row = st.lists(_cell, min_size=1, max_size=4)


@settings(
    max_examples=int(os.environ.get("IMPORT_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    rows=st.lists(_row, min_size=1, max_size=8),
    delimiter=st.sampled_from([",", ";", "\t"]),
    quoted=st.booleans(),
)
def test_generated_text_imports_like_pandas_reads_it_or_is_refused(
    project, tmp_path_factory, rows, delimiter, quoted
):
    if quoted:
        buffer = io.StringIO()
        csv.writer(buffer, delimiter=delimiter, lineterminator="\n").writerows(rows)
        text = buffer.getvalue()
    else:
        text = "\n".join(delimiter.join(r) for r in rows) + "\n"
    path = tmp_path_factory.mktemp("gen") / "gen.csv"
    path.write_text(text, encoding="utf-8")
    before = snapshot(project)
    try:
        detection = detect(path)
    except UserError:
        assert snapshot(project) == before
        return
    s = detection.settings
    assume(s.format == "csv")
    try:
        version = project.datasets.import_file(path, name="gen", settings=s)
    except UserError:
        assert snapshot(project) == before
        return
    expected = pd.read_csv(
        path,
        sep=s.delimiter,
        header=0 if s.header else None,
        decimal=s.decimal,
        encoding=s.encoding,
        engine="c",
        dtype=str,
    )
    assert version.rows == len(expected)
