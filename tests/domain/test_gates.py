"""Gates: parsing the text people write, and what each says about a candidate."""

import pytest

from mlops_desktop.domain.errors import UserError
from mlops_desktop.domain.gates import Gate, check_metric_names, parse_gates


@pytest.mark.parametrize(
    ("text", "gate"),
    [
        ("f1_macro >= 0.8", Gate("f1_macro", ">=", 0.8)),
        ("log_loss<=0.5", Gate("log_loss", "<=", 0.5)),
        ("accuracy >= current - 0.01", Gate("accuracy", ">=", -0.01, relative=True)),
        ("log_loss <= current + 0.02", Gate("log_loss", "<=", 0.02, relative=True)),
        ("r2 >= current", Gate("r2", ">=", 0.0, relative=True)),
        ("r2 >= -1e-3", Gate("r2", ">=", -0.001)),
    ],
)
def test_gates_parse_and_print_back(text, gate):
    assert Gate.parse(text) == gate
    assert Gate.parse(gate.text) == gate


@pytest.mark.parametrize(
    "text", ["", "f1_macro", "f1_macro > 0.8", "f1_macro >= high", "f1 >= current * 2", ">= 1"]
)
def test_gates_that_are_not_understood_say_how_to_write_one(text):
    with pytest.raises(UserError, match=r"e\.g\. f1_macro >= 0\.8"):
        Gate.parse(text)


def test_a_non_finite_bound_is_refused():
    with pytest.raises(UserError, match="finite"):
        Gate.parse("accuracy >= 1e999")


def test_a_fixed_gate_passes_or_fails_on_the_candidate_alone():
    gate = Gate.parse("accuracy >= 0.9")
    assert gate.check({"accuracy": 0.95}, None, None).passed
    result = gate.check({"accuracy": 0.85}, None, None)
    assert not result.passed
    assert result.message == "0.85 misses >= 0.9"


def test_a_relative_gate_compares_with_the_holder_give_or_take_the_margin():
    gate = Gate.parse("accuracy >= current - 0.01")
    assert gate.check({"accuracy": 0.895}, {"accuracy": 0.9}, "iris:1").passed
    result = gate.check({"accuracy": 0.88}, {"accuracy": 0.9}, "iris:1")
    assert not result.passed
    assert result.required == pytest.approx(0.89)
    assert "iris:1 has 0.9" in result.message
    lower = Gate.parse("log_loss <= current + 0.05")
    assert lower.check({"log_loss": 0.3}, {"log_loss": 0.28}, "a:1").passed
    assert not lower.check({"log_loss": 0.4}, {"log_loss": 0.28}, "a:1").passed


def test_a_relative_gate_passes_when_there_is_no_holder_yet():
    result = Gate.parse("accuracy >= current").check({"accuracy": 0.1}, None, None)
    assert result.passed
    assert result.message == "no current holder to beat"


def test_an_unmeasured_metric_fails_the_gate():
    result = Gate.parse("roc_auc >= 0.9").check({"roc_auc": None}, None, None)
    assert not result.passed
    assert "not measured" in result.message


def test_gates_pointing_the_wrong_way_are_flagged():
    assert "smaller" in Gate.parse("log_loss >= 0.2").warning()
    assert Gate.parse("log_loss <= 0.2").warning() is None
    assert "larger" in Gate.parse("accuracy <= 0.2").warning()


def test_lists_of_gates_skip_blanks_refuse_duplicates_and_unknown_metrics():
    assert len(parse_gates(["accuracy >= 0.9", "  ", ""])) == 1
    with pytest.raises(UserError, match="twice"):
        parse_gates(["accuracy >= 0.9", "accuracy>=0.9"])
    with pytest.raises(UserError, match="not a hold-out metric"):
        check_metric_names(parse_gates(["acuracy >= 0.9"]), {"accuracy", "f1_macro"})
