"""Dataset versions: numbering, lineage, storage, loading, cleaning, diff and export."""

import sqlite3

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mlops_desktop.domain.dataset import VersionRef
from mlops_desktop.domain.errors import Cancelled, UserError
from mlops_desktop.domain.recipe import DropColumns, FillMissing, FilterRows
from mlops_desktop.domain.tasks import TaskControl
from mlops_desktop.services import tabular


@pytest.fixture
def sales_csv(tmp_path):
    path = tmp_path / "sales.csv"
    path.write_text("store,litres,month\nA,10.5,2024-01-01\nB,,2024-01-01\nA,7.25,2024-02-01\n")
    return path


def test_an_import_is_version_1_with_its_source_and_profile(project, sales_csv):
    version = project.datasets.import_file(sales_csv)
    assert (version.label, version.rows, version.columns) == ("sales:1", 3, 3)
    assert version.source.name == "sales.csv"
    assert len(version.source.sha256) == 64
    assert version.source.settings["delimiter"] == ","
    assert [c.kind for c in version.schema] == ["categorical", "numeric", "datetime"]
    profile = project.datasets.profile(version)
    assert profile.column("litres").missing == 1
    assert project.history()[0].summary == "Imported sales.csv as sales:1 (3 rows × 3 columns)"


def test_importing_again_adds_a_version_and_identical_data_is_stored_once(project, sales_csv):
    first = project.datasets.import_file(sales_csv)
    second = project.datasets.import_file(sales_csv, name="SALES")
    assert second.label == "sales:2"  # names match regardless of case; the first spelling stays
    assert second.parts == first.parts
    blobs = project.file.conn.execute("SELECT count(*) FROM blobs").fetchone()[0]
    assert blobs == 2  # one data part and one profile, shared by both versions


def test_versions_are_immutable(project, sales_csv):
    version = project.datasets.import_file(sales_csv)
    with pytest.raises(sqlite3.IntegrityError, match="immutable"):
        project.file.conn.execute(
            "UPDATE dataset_versions SET rows = 0 WHERE uuid = ?", (version.uuid,)
        )


def test_load_round_trips_the_data(project, sales_csv):
    version = project.datasets.import_file(sales_csv)
    frame = project.datasets.load_frame(version)
    assert frame["store"].tolist() == ["A", "B", "A"]
    assert frame["litres"].isna().tolist() == [False, True, False]
    assert str(frame["month"].dtype).startswith("datetime64")


def test_large_tables_are_split_in_parts_and_reassembled(project, monkeypatch):
    monkeypatch.setattr(tabular, "PART_ROWS", 1000)
    table = pa.table({"i": list(range(3500)), "s": [f"v{i % 7}" for i in range(3500)]})
    version = project.datasets.save_table(table, "parts")
    assert len(version.parts) == 4
    assert project.datasets.load_table(version).equals(table)


def test_text_reads_back_the_same_whether_stored_with_a_dictionary_or_not(project, monkeypatch):
    monkeypatch.setattr(tabular, "PART_ROWS", 1000)
    few = [None if i % 5 == 0 else f"k{i % 3}" for i in range(2500)]  # a dictionary pays
    categories = pa.array([f"c{i % 4}" for i in range(2500)]).dictionary_encode()
    table = pa.table(
        {
            "few": few,
            "many": [f"row {i}" for i in range(2500)],
            "n": range(2500),
            "category": categories,  # a pandas category, say: it stays a dictionary
        }
    )
    noted = table.schema.field("few").with_metadata({b"unit": b"kg"})
    table = table.set_column(0, noted, table.column(0))
    version = project.datasets.save_table(table, "texts")
    loaded = project.datasets.load_table(version)
    assert loaded.schema == table.schema
    assert loaded.equals(table)


def test_integers_of_every_width_read_back_exactly(project, monkeypatch):
    monkeypatch.setattr(tabular, "PART_ROWS", 1000)
    extremes = {
        "int8": [-(2**7), 2**7 - 1],
        "int64": [-(2**63), 2**63 - 1],
        "uint32": [0, 2**32 - 1],
        "uint64": [0, 2**64 - 1],
    }
    columns = {
        name: pa.array([None if i % 9 == 0 else ends[i % 2] for i in range(2500)], name)
        for name, ends in extremes.items()
    }
    table = pa.table({**columns, "few": [i % 3 for i in range(2500)]})
    version = project.datasets.save_table(table, "integers")
    assert project.datasets.load_table(version).equals(table)


def test_integers_are_stored_as_packed_differences():
    part = tabular.encode_part(
        pa.table({"n": range(10_000), "k": [i % 3 for i in range(10_000)]}), ["k"]
    )
    chunks = pq.read_metadata(pa.BufferReader(part)).row_group(0)
    assert all("DELTA_BINARY_PACKED" in chunks.column(i).encodings for i in range(2))


@pytest.mark.parametrize("use_threads", [True, False])
def test_a_part_decodes_the_same_with_or_without_threads(use_threads):
    table = pa.table({"n": range(5000), "x": [i / 7 for i in range(5000)]})
    part = tabular.encode_part(table, ["n"])
    assert tabular.decode_part(part, use_threads).equals(table)


def test_text_in_parts_written_before_the_profile_encoded_it_reads_back_as_text():
    # Then the writer gave repeating text a dictionary of its own, unmarked.
    table = pa.table({"s": [f"v{i % 4}" for i in range(5000)]})
    part = tabular.encode_part(table, ["s"])
    assert tabular.decode_part(part).equals(table)


def test_references_resolve_and_unknown_ones_are_explained(project, sales_csv):
    project.datasets.import_file(sales_csv)
    project.datasets.import_file(sales_csv)
    assert project.datasets.get("sales").version == 2
    assert project.datasets.get(VersionRef("sales", 1)).version == 1
    with pytest.raises(UserError, match=r"no dataset version sales:9.*The datasets are: sales"):
        project.datasets.get("sales:9")
    with pytest.raises(UserError):
        VersionRef.parse("sales:0")


@pytest.mark.parametrize("name", ["", "a:b", "x@prod", "a/b"])
def test_bad_names_are_refused(project, sales_csv, name):
    with pytest.raises(UserError):
        project.datasets.import_file(sales_csv, name=name)
    assert project.info().counts["datasets"] == 0


def test_cleaning_saves_the_next_version_with_parent_and_recipe(project, sales_csv):
    raw = project.datasets.import_file(sales_csv)
    steps = [FillMissing(["litres"], "median"), FilterRows("store", "==", "A")]
    cleaned, reports = project.datasets.clean(raw, steps)
    assert cleaned.label == "sales:2"
    assert cleaned.parent_label == "sales:1"
    assert cleaned.recipe == [s.to_json() for s in steps]
    assert [r.rows_removed for r in reports] == [0, 1]
    assert project.datasets.load_frame(cleaned)["litres"].tolist() == [10.5, 7.25]
    assert "Cleaned sales:1 into sales:2" in project.history()[0].summary


def test_a_recipe_applies_to_next_months_raw_file(project, sales_csv, tmp_path):
    raw = project.datasets.import_file(sales_csv)
    cleaned, _ = project.datasets.clean(raw, [DropColumns(["month"])])
    next_month = tmp_path / "sales.csv"
    next_month.write_text("store,litres,month\nC,3,2024-03-01\n")
    new_raw = project.datasets.import_file(next_month)
    again, _ = project.datasets.clean(new_raw, [DropColumns(["month"])])
    assert (new_raw.label, again.label, again.parent_label) == ("sales:3", "sales:4", "sales:3")
    assert cleaned.recipe == again.recipe


def test_a_failing_recipe_changes_nothing(project, sales_csv):
    raw = project.datasets.import_file(sales_csv)
    before = project.info().counts
    with pytest.raises(UserError, match="needs column 'nope'"):
        project.datasets.clean(raw, [DropColumns(["nope"])])
    with pytest.raises(UserError, match="no steps"):
        project.datasets.clean(raw, [])
    with pytest.raises(UserError, match="every column"):
        project.datasets.clean(raw, [DropColumns(["store", "litres", "month"])])
    assert project.info().counts == before


def test_a_cancelled_save_leaves_nothing(project, sales_csv):
    control = TaskControl()
    control.cancel()
    with pytest.raises(Cancelled):
        project.datasets.import_file(sales_csv, state=control)
    assert project.info().counts["dataset_versions"] == 0


def test_diff_between_versions(project, sales_csv):
    raw = project.datasets.import_file(sales_csv)
    cleaned, _ = project.datasets.clean(
        raw, [FilterRows("store", "==", "A"), DropColumns(["month"])]
    )
    result = project.datasets.diff(raw, cleaned)
    assert (result.rows_a, result.rows_b) == (3, 2)
    assert result.columns_removed == ["month"]
    assert result.rows_removed == 1


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_export_writes_the_data(project, sales_csv, tmp_path, suffix):
    version = project.datasets.import_file(sales_csv)
    out = project.datasets.export(version, tmp_path / f"out{suffix}")
    frame = pd.read_csv(out) if suffix == ".csv" else pd.read_parquet(out)
    assert frame["store"].tolist() == ["A", "B", "A"]
    assert not list(tmp_path.glob(".*partial"))


def test_export_refuses_unknown_formats_and_folders(project, sales_csv, tmp_path):
    version = project.datasets.import_file(sales_csv)
    with pytest.raises(UserError, match=r"\.csv or \.parquet"):
        project.datasets.export(version, tmp_path / "out.xlsx")
    with pytest.raises(UserError, match="does not exist"):
        project.datasets.export(version, tmp_path / "no" / "out.csv")


def test_the_check_verifies_dataset_parts(project, sales_csv):
    project.datasets.import_file(sales_csv)
    project.file.conn.execute("UPDATE blob_chunks SET data = zeroblob(length(data))")
    report = project.check()
    assert not report.ok
    assert len(report.blob_problems) == 2


def test_cleaning_keeps_integers_with_gaps_integers_and_long_ids_exact(project, tmp_path):
    # pandas reads integers with gaps as floats: 2**53 + 1 would come back as 2**53.
    ids = [2**53 + 1, 2**53 + 3, None, 2**53 + 5]
    csv = tmp_path / "ids.csv"
    csv.write_text("id,v\n" + "".join(f"{'' if i is None else i},{n}\n" for n, i in enumerate(ids)))
    project.datasets.import_file(csv)
    cleaned, _ = project.datasets.clean("ids:1", [FilterRows("v", ">", 0)])
    assert [c.type for c in cleaned.schema] == ["int64", "int64"]
    assert project.datasets.load_table(cleaned).column("id").to_pylist() == ids[1:]
    changed = tmp_path / "changed.csv"
    changed.write_text(csv.read_text().replace(str(2**53 + 5), str(2**53 + 4)))
    project.datasets.import_file(changed, name="ids")
    result = project.datasets.diff("ids:1", "ids:3")
    assert (result.rows_added, result.rows_removed) == (1, 1)


def test_a_one_column_export_keeps_its_missing_values_as_rows(project, tmp_path):
    project.datasets.save_table(pa.table({"x": [1, None, 3]}), "one")
    out = project.datasets.export("one:1", tmp_path / "out.csv")
    assert pd.read_csv(out)["x"].isna().tolist() == [False, True, False]
    again = project.datasets.import_file(out, name="again")
    assert project.datasets.load_table(again).column("x").to_pylist() == [1, None, 3]


def test_gaps_of_integers_made_mixed_by_a_replacement_stay_missing(project):
    from mlops_desktop.domain.recipe import ReplaceValues

    project.datasets.save_table(pa.table({"n": [1, None, 2, 3]}), "counts")
    cleaned, _ = project.datasets.clean("counts:1", [ReplaceValues(["n"], [[1, "one"]])])
    assert project.datasets.load_table(cleaned).column("n").to_pylist() == [
        "one",
        None,
        "2",
        "3",
    ]
