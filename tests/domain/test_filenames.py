import pytest

from mlops_desktop.domain.filenames import file_stem


@pytest.mark.parametrize(
    ("name", "stem"),
    [
        ("churn:3", "churn-3"),
        ("prod@churn", "prod-churn"),
        ("../../etc/passwd", "-..-etc-passwd"),
        ("..", "export"),
        ("C:\\Windows\\evil", "C--Windows-evil"),
        (".hidden", "hidden"),
        ("x'; DROP TABLE models; --", "x'; DROP TABLE models; --"),
        ("naïve 🚀 model", "naïve 🚀 model"),
        ("tab\tand\nnewline\x00", "tab-and-newline-"),
    ],
)
def test_a_stored_name_becomes_one_plain_file_name(name, stem):
    assert file_stem(name) == stem
    assert not {"/", "\\"} & set(stem)
    assert stem not in (".", "..")


def test_a_huge_name_is_cut_to_a_length_every_file_system_takes():
    assert len(file_stem("a" * 10_000)) == 120
