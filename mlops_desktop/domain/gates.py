"""Gates an alias holds its versions to: ``f1_macro >= 0.8``, ``log_loss <= current + 0.02``.

A gate compares one hold-out metric (scikit-learn's name) with a fixed bound, or with the
value the alias's current holder reaches on the same hold-out rows, give or take a margin.
Gates are written and shown as that text everywhere: the GUI, the CLI and the project file.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from mlops_desktop.domain.errors import UserError
from mlops_desktop.domain.metric_names import higher_is_better

_GATE = re.compile(
    r"""^\s*(?P<metric>[A-Za-z_][A-Za-z0-9_]*)\s*(?P<op>>=|<=)\s*
    (?:(?P<current>current)\s*(?:(?P<sign>[+-])\s*(?P<margin>[0-9.eE+-]+))?
      |(?P<bound>[+-]?[0-9.eE+-]+))\s*$""",
    re.VERBOSE,
)
EXAMPLES = "f1_macro >= 0.8, log_loss <= 0.5, or accuracy >= current - 0.01"


@dataclass(frozen=True)
class Gate:
    metric: str
    op: str  # ">=" or "<="
    bound: float = 0.0  # the fixed bound; the margin when ``relative``
    relative: bool = False  # compared with the current holder of the alias

    @classmethod
    def parse(cls, text: str) -> Gate:
        match = _GATE.match(text or "")
        if match is None:
            raise UserError(
                f"The gate {text!r} is not understood: write a hold-out metric, >= or <=, and "
                f"a number or 'current' give or take a margin, e.g. {EXAMPLES}."
            )
        relative = match["current"] is not None
        number = match["margin"] if relative else match["bound"]
        try:
            value = float(number) if number is not None else 0.0
        except ValueError:
            raise UserError(f"The gate {text!r} has {number!r} where a number belongs.") from None
        if not math.isfinite(value):
            raise UserError(f"The gate {text!r} needs a finite number.")
        if relative and match["sign"] == "-":
            value = -value
        return cls(match["metric"], match["op"], value, relative)

    @property
    def text(self) -> str:
        if not self.relative:
            return f"{self.metric} {self.op} {self.bound:g}"
        if self.bound == 0:
            return f"{self.metric} {self.op} current"
        sign = "+" if self.bound > 0 else "-"
        return f"{self.metric} {self.op} current {sign} {abs(self.bound):g}"

    def warning(self) -> str | None:
        """A gate that points the wrong way for its metric is legal but probably a slip."""
        lower = not higher_is_better(self.metric)
        if (self.op == ">=") == lower:
            better = "<=" if lower else ">="
            return (
                f"{self.metric} is better when {'smaller' if lower else 'larger'}: "
                f"did you mean {better}?"
            )
        return None

    def check(self, candidate: dict, holder: dict | None, holder_label: str | None) -> GateResult:
        value = candidate.get(self.metric)
        if value is None:
            return GateResult(self.text, False, None, None, f"{self.metric} was not measured")
        if self.relative:
            reference = None if holder is None else holder.get(self.metric)
            if holder is None:
                return GateResult(self.text, True, value, None, "no current holder to beat")
            if reference is None:
                return GateResult(
                    self.text, False, value, None, f"{self.metric} of {holder_label} is unknown"
                )
            required = reference + self.bound
            basis = f"{holder_label} has {reference:.4g}"
        else:
            required, basis = self.bound, None
        passed = value >= required if self.op == ">=" else value <= required
        message = f"{value:.4g} {'meets' if passed else 'misses'} {self.op} {required:.4g}"
        return GateResult(
            self.text, passed, value, required, f"{message} ({basis})" if basis else message
        )


@dataclass(frozen=True)
class GateResult:
    gate: str
    passed: bool
    value: float | None
    required: float | None
    message: str

    def to_json(self) -> dict:
        return {
            "gate": self.gate,
            "passed": self.passed,
            "value": self.value,
            "required": self.required,
            "message": self.message,
        }

    @classmethod
    def from_json(cls, data: dict) -> GateResult:
        return cls(data["gate"], data["passed"], data["value"], data["required"], data["message"])


def parse_gates(texts) -> list[Gate]:
    """Each text a gate, blank lines skipped, duplicates refused."""
    gates = [Gate.parse(t) for t in texts if t and t.strip()]
    seen = set()
    for gate in gates:
        if gate.text in seen:
            raise UserError(f"The gate {gate.text!r} is listed twice: keep one.")
        seen.add(gate.text)
    return gates


def check_metric_names(gates: list[Gate], known: set[str]) -> None:
    for gate in gates:
        if gate.metric not in known:
            raise UserError(
                f"The gate {gate.text!r} names {gate.metric!r}, which is not a hold-out metric "
                f"of this model: use one of {', '.join(sorted(known))}."
            )
