import codecs

import pytest

from mlops_desktop.domain.errors import UserError
from mlops_desktop.services.sniffing import ImportSettings, detect


def write(tmp_path, name, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (b"a,b\nx,1\n", "utf-8"),
        (codecs.BOM_UTF8 + b"a,b\nx,1\n", "utf-8-sig"),
        ("a,b\nü,1\n".encode("utf-16"), "utf-16"),
        ("a,b\nü,1\n".encode("utf-16-le"), "utf-16-le"),
        ("a,b\ncafé,1\n".encode("cp1252"), "cp1252"),
    ],
)
def test_encodings(tmp_path, data, encoding):
    detection = detect(write(tmp_path, "f.csv", data))
    assert detection.settings.encoding == encoding
    assert detection.reasons["encoding"]


def test_semicolons_with_decimal_commas(tmp_path):
    path = write(tmp_path, "f.csv", b"name;price\nmilk;1,25\nbread;2,5\n")
    settings = detect(path).settings
    assert (settings.delimiter, settings.decimal, settings.header) == (";", ",", True)


def test_tabs_and_a_missing_header(tmp_path):
    path = write(tmp_path, "f.tsv", b"1\t2.5\n3\t4.5\n")
    settings = detect(path).settings
    assert (settings.delimiter, settings.header) == ("\t", False)


@pytest.mark.parametrize(
    ("name", "data", "fmt"),
    [
        ("f.parquet", b"PAR1rest", "parquet"),
        ("f.bin", b"PK\x03\x04rest", "xlsx"),
        ("f.jsonl", b'{"a": 1}\n{"a": 2}\n', "jsonl"),
    ],
)
def test_formats_by_content(tmp_path, name, data, fmt):
    assert detect(write(tmp_path, name, data)).settings.format == fmt


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("empty.csv", b"", "empty"),
        ("blank.csv", b"\n\n  \n", "blank lines"),
        ("noise.csv", bytes(range(256)) * 10, "binary"),
        ("fake.parquet", b"a,b\n1,2\n", "not Parquet"),
        ("fake.xlsx", b"a,b\n1,2\n", "not Excel"),
    ],
)
def test_refusals_name_the_file(tmp_path, name, data, message):
    with pytest.raises(UserError, match=message) as info:
        detect(write(tmp_path, name, data))
    assert name in str(info.value)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"format": "pdf"}, "Unknown format"),
        ({"encoding": "klingon"}, "Unknown encoding"),
        ({"delimiter": ";;"}, "one character"),
        ({"decimal": ",", "delimiter": ","}, "both"),
    ],
)
def test_bad_overrides_are_explained(changes, message):
    with pytest.raises(UserError, match=message):
        ImportSettings(**changes).check()


def test_a_code_whose_first_leading_zero_is_hundreds_of_lines_down_stays_text(tmp_path):
    lines = ["zip,n"] + [f"{2134 + i},{i}" for i in range(600)]
    lines[500] = "02134,5"
    path = tmp_path / "zips.csv"
    path.write_text("\n".join(lines) + "\n")
    detection = detect(path)
    assert detection.settings.text_columns == [0]
    assert "zip" in detection.reasons["text_columns"]


@pytest.mark.parametrize(
    ("data", "decimal", "thousands"),
    [
        (b"item;price\nmilk;1.000,25\nbread;2,5\n", ",", "."),
        (b'item,price\nmilk,"1,000.25"\nbread,2.5\n', ".", ","),
        (b"item;price\nmilk;1 234 567\nbread;12\n", ".", " "),
        (b"item;price\nmilk;1'234.50\nbread;12\n", ".", "'"),
        (b"item;price\nmilk;1,5\nbread;2,5\n", ",", ""),  # a decimal comma, not a group
        (b'item,code\nmilk,"1,2"\nbread,"3,45"\n', ".", ""),  # not groups of three
        (b'item,price\nmilk,"1,000"\nbread,words\n', ".", ""),  # not a column of numbers
    ],
)
def test_the_thousands_separator_is_found_in_a_column_of_numbers(
    tmp_path, data, decimal, thousands
):
    detection = detect(write(tmp_path, "f.csv", data))
    assert (detection.settings.decimal, detection.settings.thousands) == (decimal, thousands)
    if thousands:
        assert "price" in detection.reasons["thousands"]


def test_grouped_numbers_on_the_first_line_tell_there_is_no_header(tmp_path):
    settings = detect(write(tmp_path, "f.csv", b"1.000,5;x\n2.000.000;y\n")).settings
    assert (settings.header, settings.decimal, settings.thousands) == (False, ",", ".")


def test_a_chosen_decimal_mark_is_kept_and_the_thousands_found_for_it(tmp_path):
    path = write(tmp_path, "f.csv", b"item;n\nmilk;1.000\nbread;2.500\n")
    assert detect(path).settings.thousands == ""  # 1.000 reads as one
    detection = detect(path, decimal=",")
    assert (detection.settings.decimal, detection.settings.thousands) == (",", ".")
    assert detection.reasons["decimal"] == "chosen"


@pytest.mark.parametrize(
    ("changes", "message"),
    [({"thousands": "_"}, "must be one of"), ({"thousands": ",", "decimal": ","}, "both ','")],
)
def test_bad_thousands_separators_are_explained(changes, message):
    with pytest.raises(UserError, match=message):
        ImportSettings(**changes).check()
