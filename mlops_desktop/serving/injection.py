"""Synthetic drift for demonstrations: the server changes its inputs before predicting.

A teacher serving a demo model passes ``--inject-drift`` so that the Monitoring panel has a
change to find; the changed rows are what is predicted and logged. Each spec is one of

- ``COLUMN+X`` or ``COLUMN-X``: add (subtract) X to a number column;
- ``COLUMN*X``: multiply a number column by X;
- ``COLUMN=VALUE@SHARE``: put VALUE in a text or true/false column in a share (0 to 1) of
  the rows, chosen at random (seeded, so a demo repeats).

The server says so wherever it shows itself (start line, ``/metadata``, an
``X-Drift-Injected`` header on every answer): injected drift is never hidden.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from mlops_desktop.domain.errors import UserError
from mlops_desktop.services.predictors import ServedColumn

_NUMERIC = re.compile(r"(?P<column>.+?)\s*(?P<op>[+*-])\s*(?P<amount>[-+]?[\d.]+(?:e[-+]?\d+)?)")
_REPLACE = re.compile(r"(?P<column>.+?)\s*=\s*(?P<value>.*)@\s*(?P<share>[\d.]+)")
SEED = 20260101


@dataclass(frozen=True)
class Injection:
    """One change to one column."""

    column: str
    op: str  # "+", "*" or "="
    amount: float = 0.0
    value: object = None
    share: float = 0.0

    @property
    def text(self) -> str:
        if self.op == "=":
            return f"{self.column}={self.value}@{self.share:g}"
        if self.op == "+" and self.amount < 0:
            return f"{self.column}-{-self.amount:g}"
        return f"{self.column}{self.op}{self.amount:g}"


def parse_injections(specs: tuple[str, ...], columns: tuple[ServedColumn, ...]) -> list[Injection]:
    """The specs checked against the served columns; a ``UserError`` names the bad one."""
    by_name = {c.name: c for c in columns}
    found = []
    for spec in specs:
        numeric, replace = _NUMERIC.fullmatch(spec.strip()), _REPLACE.fullmatch(spec.strip())
        match = replace or numeric
        if match is None:
            raise UserError(
                f"--inject-drift {spec!r}: write COLUMN+X, COLUMN-X, COLUMN*X (numbers) or "
                "COLUMN=VALUE@SHARE (text, true/false), e.g. tenure*1.5 or plan=basic@0.3."
            )
        name = match.group("column").strip()
        column = by_name.get(name)
        if column is None:
            raise UserError(
                f"--inject-drift {spec!r}: the model has no input {name!r}; its inputs are "
                f"{', '.join(by_name)}."
            )
        if replace is not None:
            found.append(_replacement(spec, column, replace))
            continue
        if column.family != "number":
            raise UserError(
                f"--inject-drift {spec!r}: {name!r} is not a number column: use "
                f"{name}=VALUE@SHARE to change its values."
            )
        amount = float(match.group("amount"))
        op = match.group("op")
        found.append(Injection(name, "*" if op == "*" else "+", -amount if op == "-" else amount))
    return found


def _replacement(spec: str, column: ServedColumn, match: re.Match) -> Injection:
    share = float(match.group("share"))
    if not 0 < share <= 1:
        raise UserError(f"--inject-drift {spec!r}: the share is a number above 0 and up to 1.")
    text = match.group("value").strip()
    if column.family == "string":
        value: object = text
    elif column.family == "boolean" and text.lower() in ("true", "false"):
        value = text.lower() == "true"
    else:
        raise UserError(
            f"--inject-drift {spec!r}: {column.name!r} takes "
            f"{'true or false' if column.family == 'boolean' else 'numbers'}; "
            + (
                f"use {column.name}=true@SHARE or {column.name}=false@SHARE."
                if column.family == "boolean"
                else f"use {column.name}+X or {column.name}*X."
            )
        )
    return Injection(column.name, "=", value=value, share=share)


class Injector:
    """Applies the injections to parsed request columns (a fresh copy; the request's own
    arrays are left as parsed)."""

    def __init__(self, injections: list[Injection]):
        self.injections = injections
        self._random = np.random.default_rng(SEED)

    @property
    def text(self) -> str:
        return ", ".join(i.text for i in self.injections)

    def apply(self, columns: dict[str, np.ndarray], rows: int) -> dict[str, np.ndarray]:
        changed = dict(columns)
        for injection in self.injections:
            values = changed.get(injection.column)
            if values is None:
                continue
            if injection.op == "=":
                values = values.copy()
                values[self._random.random(rows) < injection.share] = injection.value
            elif injection.op == "*":
                values = values * injection.amount
            else:
                values = values + injection.amount
            changed[injection.column] = values
        return changed
