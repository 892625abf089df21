"""The data commands of the command line."""

import json

import pytest

from tests.helpers import file_digest
from tests.test_cli import assert_user_error, run


@pytest.fixture
def cli_project(tmp_path):
    path = tmp_path / "p.mlops"
    run("init", path, check_exit=0)
    return path


def test_import_list_clean_diff_export(cli_project, tmp_path):
    csv = tmp_path / "milk.csv"
    csv.write_text("store;litres\nA;1,5\nB;\nA;2,5\n", encoding="latin-1")
    imported = json.loads(run("data", "import", cli_project, csv, "--json", check_exit=0).stdout)
    assert (imported["label"], imported["rows"], imported["columns"]) == ("milk:1", 3, 2)
    recipe = tmp_path / "recipe.json"
    recipe.write_text(
        json.dumps(
            {
                "steps": [
                    {
                        "step": "fill_missing",
                        "columns": ["litres"],
                        "strategy": "constant",
                        "value": 0,
                    }
                ]
            }
        )
    )
    cleaned = json.loads(
        run("data", "clean", cli_project, "milk", recipe, "--json", check_exit=0).stdout
    )
    assert (cleaned["label"], cleaned["parent"]) == ("milk:2", "milk:1")
    assert cleaned["steps"][0]["cells_changed"] == 1
    listed = json.loads(run("data", "list", cli_project, "--json", check_exit=0).stdout)
    assert [v["label"] for v in listed["versions"]] == ["milk:1", "milk:2"]
    diff = json.loads(
        run("data", "diff", cli_project, "milk:1", "milk:2", "--json", check_exit=0).stdout
    )
    assert diff["rows_added"] == 1
    assert diff["rows_removed"] == 1
    out = tmp_path / "out.csv"
    run("data", "export", cli_project, "milk:2", out, check_exit=0)
    assert out.read_text().splitlines()[2] == '"B",0'


def test_diff_names_a_column_made_a_category_as_such(cli_project, tmp_path):
    csv = tmp_path / "shops.csv"
    csv.write_text("store,litres\nA,1\nB,2\nA,3\n")
    run("data", "import", cli_project, csv, check_exit=0)
    recipe = tmp_path / "recipe.json"
    recipe.write_text(
        json.dumps({"steps": [{"step": "change_type", "column": "store", "to": "category"}]})
    )
    run("data", "clean", cli_project, "shops", recipe, check_exit=0)
    text = run("data", "diff", cli_project, "shops:1", "shops:2", check_exit=0).stdout
    assert "store: type string -> category of string" in text
    as_json = json.loads(
        run("data", "diff", cli_project, "shops:1", "shops:2", "--json", check_exit=0).stdout
    )
    [[column, _, stored]] = as_json["type_changes"]
    assert column == "store"
    assert stored.startswith("dictionary<")  # the JSON keeps Arrow's own name


def test_import_overrides_and_sklearn(cli_project, tmp_path):
    tsv = tmp_path / "t.txt"
    tsv.write_text("a|b\n1|2\n")
    result = json.loads(
        run(
            "data",
            "import",
            cli_project,
            tsv,
            "--delimiter",
            "|",
            "--name",
            "pipes",
            "--json",
            check_exit=0,
        ).stdout
    )
    assert result["columns"] == 2
    result = json.loads(
        run("data", "import", cli_project, "sklearn:wine", "--json", check_exit=0).stdout
    )
    assert result["label"] == "wine:1"


def test_import_finds_grouped_thousands_and_takes_overrides(cli_project, tmp_path):
    csv = tmp_path / "sales.csv"
    csv.write_text("item;n\nmilk;1.000\nbread;2.500\n")  # 1.000 is one, unless told
    plain = run("data", "import", cli_project, csv, "--name", "plain", check_exit=0).stdout
    assert "between thousands" not in plain
    grouped = run(
        "data", "import", cli_project, csv, "--decimal", ",", "--name", "grouped", check_exit=0
    ).stdout
    assert "note: Numbers with a point between thousands read as numbers: 'n' (1.000)" in grouped
    as_text = run(
        "data", "import", cli_project, csv, "--decimal", ",", "--thousands", "none", check_exit=0
    ).stdout
    assert "between thousands" not in as_text


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("data", "import", "{p}", "{tmp}/missing.csv"), "does not exist"),
        (("data", "import", "{p}", "{tmp}/empty.csv"), "empty"),
        (("data", "import", "{p}", "{tmp}/header.csv"), "no rows"),
        (
            ("data", "import", "{p}", "{tmp}/header.csv", "--encoding", "klingon"),
            "Unknown encoding",
        ),
        (("data", "clean", "{p}", "nope", "{tmp}/recipe.json"), "no dataset version nope"),
        (("data", "clean", "{p}", "nope", "{tmp}/bad.json"), "not valid JSON"),
        (("data", "export", "{p}", "nope", "{tmp}/x.csv"), "no dataset version nope"),
        (("data", "import", "{p}", "{tmp}/u16.csv", "--encoding", "utf-16"), "utf-16-le or"),
        (("data", "import", "{p}", "{tmp}/u16.csv", "--encoding", "rot13"), "not an encoding"),
        (("data", "import", "{p}", "{tmp}/header.csv", "--delimiter", ""), "one character"),
        (
            ("data", "import", "{p}", "{tmp}/header.csv", "--decimal", ",", "--thousands", ","),
            "both ','",
        ),
        (("data", "import", "{p}", "{tmp}/named.xlsx"), "named like an Excel file"),
    ],
)
def test_data_errors_exit_1_and_change_nothing(cli_project, tmp_path, args, fragment):
    (tmp_path / "empty.csv").write_bytes(b"")
    (tmp_path / "header.csv").write_text("a,b\n")
    (tmp_path / "recipe.json").write_text('{"steps": [{"step": "drop_duplicates"}]}')
    (tmp_path / "bad.json").write_text("{steps: oops")
    (tmp_path / "u16.csv").write_bytes("a,b\n1,2\n".encode("utf-16-le"))  # no byte-order mark
    (tmp_path / "named.xlsx").write_text("a,b\n1,2\n")
    before = file_digest(cli_project)
    result = run(*(a.format(p=cli_project, tmp=tmp_path) for a in args))
    assert_user_error(result, fragment)
    assert file_digest(cli_project) == before


def test_a_chosen_format_reads_a_file_its_name_misdescribes(cli_project, tmp_path):
    named = tmp_path / "named.xlsx"
    named.write_text("a,b\n1,2\n")
    result = run("data", "import", cli_project, named, "--format", "csv", "--json", check_exit=0)
    assert json.loads(result.stdout)["rows"] == 1
