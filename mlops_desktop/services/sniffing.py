"""Guessing how a file is written: its format, encoding, delimiter, header, decimal mark and
thousands separator.

Each guess comes with the reason for it, shown next to the setting so the user can judge it
and override it.
"""

from __future__ import annotations

import codecs
import csv
import functools
import io
import itertools
import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from mlops_desktop.domain.errors import UserError

SAMPLE_BYTES = 256 * 1024
SAMPLE_LINES = 200
DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab", "|": "vertical bar"}
FORMATS = ("csv", "parquet", "jsonl", "xlsx")
ENCODINGS = ("utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "cp1252", "latin-1")
_EXTENSIONS = {
    ".csv": "csv",
    ".tsv": "csv",
    ".tab": "csv",
    ".txt": "csv",
    ".dat": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
}
#: Thousands separators by name; "" is none.
THOUSANDS = {"": "none", ".": "point", ",": "comma", " ": "space", "'": "apostrophe"}
_NUMBER_POINT = re.compile(r"^[+-]?\d*\.\d+(?:[eE][+-]?\d+)?$|^[+-]?\d+$")
_NUMBER_COMMA = re.compile(r"^[+-]?\d*,\d+$")
#: Digits grouped by a point or comma and followed by another: 1.000,2 1,000.2 1.000.0
_MAYBE_GROUPED = re.compile(r"\d[.,]\d{3}[.,]\d")
_LEADING_ZERO = re.compile(r"^0\d+$")
#: Control bytes that text does not contain (the whitespace ones, 9 to 13, are left out).
_CONTROL_BYTES = bytes([*range(1, 9), *range(14, 32)])


@dataclass
class ImportSettings:
    """How to read a file; every field can be overridden by the user."""

    format: str = "csv"
    encoding: str = "utf-8"
    delimiter: str = ","
    header: bool = True
    decimal: str = "."
    #: Between groups of three digits (1.000,25); "" for none.
    thousands: str = ""
    sheet: str | None = None
    #: Positions of columns read as text whatever they look like (codes with leading zeros).
    text_columns: list[int] = field(default_factory=list)

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict | None) -> ImportSettings:
        return cls(**(data or {}))

    def check(self) -> None:
        if self.format not in FORMATS:
            raise UserError(f"Unknown format {self.format!r}: choose one of {', '.join(FORMATS)}.")
        if self.format == "csv":
            try:
                codec = codecs.lookup(self.encoding)
            except LookupError:
                raise UserError(
                    f"Unknown encoding {self.encoding!r}: try utf-8, utf-16 or cp1252."
                ) from None
            # rot13, base64, hex and the like are codecs too, but of bytes, not of text.
            if not getattr(codec, "_is_text_encoding", True) or codec.name == "idna":
                raise UserError(
                    f"{self.encoding!r} is not an encoding of text files: try utf-8, utf-16 "
                    "or cp1252."
                )
            if len(self.delimiter) != 1 or self.delimiter in '\r\n"':
                raise UserError(
                    f"The delimiter must be one character other than a quote or a line break, "
                    f"not {self.delimiter!r}."
                )
            if self.decimal not in (".", ","):
                raise UserError(f"The decimal mark must be '.' or ',', not {self.decimal!r}.")
            if self.decimal == self.delimiter:
                raise UserError(
                    "The decimal mark and the delimiter are both "
                    f"{self.delimiter!r}: choose a different delimiter or decimal mark."
                )
            if self.thousands not in THOUSANDS:
                choices = ", ".join(repr(t) for t in THOUSANDS if t)
                raise UserError(
                    f"The thousands separator must be one of {choices} or none, not "
                    f"{self.thousands!r}."
                )
            if self.thousands == self.decimal:
                raise UserError(
                    f"The decimal mark and the thousands separator are both {self.decimal!r}: "
                    "choose a different one for either."
                )


@dataclass
class Detection:
    settings: ImportSettings
    reasons: dict[str, str] = field(default_factory=dict)


def read_sample(path: Path, size: int = SAMPLE_BYTES) -> bytes:
    try:
        with path.open("rb") as f:
            return f.read(size)
    except FileNotFoundError:
        raise UserError(f"{path} does not exist: check the path.") from None
    except IsADirectoryError:
        raise UserError(f"{path} is a folder: choose a file.") from None
    except PermissionError:
        raise UserError(f"{path} cannot be read (permission denied).") from None


def detect_format(path: Path, sample: bytes) -> tuple[str, str]:
    if sample.startswith(b"PAR1"):
        return "parquet", "the file starts with Parquet's magic bytes"
    if sample.startswith(b"PK\x03\x04"):
        return "xlsx", "the file is a zip archive, as Excel workbooks are"
    by_extension = _EXTENSIONS.get(path.suffix.lower())
    if by_extension in ("parquet", "xlsx"):
        kind = "Parquet" if by_extension == "parquet" else "Excel"
        raise UserError(
            f"{path.name} is named like a{'n' if kind == 'Excel' else ''} {kind} file but its "
            f"contents are not {kind}: check that it is the right file, or rename it."
        )
    stripped = sample.lstrip(b"\xef\xbb\xbf \t\r\n")
    if by_extension == "jsonl" or (stripped.startswith(b"{") and b"}" in stripped):
        return "jsonl", "the lines are JSON objects"
    return "csv", "plain text with separated values"


def detect_encoding(path: Path, sample: bytes, complete: bool) -> tuple[str, str]:
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig", "the file starts with a UTF-8 byte-order mark"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16", "the file starts with a UTF-16 byte-order mark"
    if b"\x00" in sample:
        half = max(len(sample) // 2, 1)
        even, odd = sample[0::2].count(0), sample[1::2].count(0)
        if odd > 0.3 * half and even < 0.02 * half:
            return "utf-16-le", "every other byte is zero (UTF-16, little-endian)"
        if even > 0.3 * half and odd < 0.02 * half:
            return "utf-16-be", "every other byte is zero (UTF-16, big-endian)"
        raise UserError(
            f"{path.name} looks like a binary file, not text (it contains zero bytes): "
            "choose a CSV, TSV, Parquet, JSON Lines or Excel file."
        )
    # One pass that deletes them, not a count per control byte (26 passes over the sample).
    controls = len(sample) - len(sample.translate(None, _CONTROL_BYTES))
    if controls > 0.01 * len(sample):
        raise UserError(
            f"{path.name} looks like a binary file, not text (it is full of control bytes): "
            "choose a CSV, TSV, Parquet, JSON Lines or Excel file."
        )
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=complete)
        return "utf-8", "the bytes are valid UTF-8"
    except UnicodeDecodeError:
        pass
    try:
        sample.decode("cp1252")
        return "cp1252", "the bytes are not UTF-8; Windows-1252 (Latin-1) reads them"
    except UnicodeDecodeError:
        return "latin-1", "the bytes are not UTF-8; Latin-1 reads any byte"


def sample_lines(
    sample: bytes, encoding: str, complete: bool, limit: int | None = SAMPLE_LINES
) -> list[str]:
    text = sample.decode(encoding, errors="replace")
    lines = text.splitlines()
    if not complete and len(lines) > 1:
        lines = lines[:-1]  # the last line may be cut off by the sample's end
    return [line for line in lines if line.strip()][:limit]


def _rows(lines: list[str], delimiter: str) -> list[list[str]]:
    try:
        return list(csv.reader(io.StringIO("\n".join(lines)), delimiter=delimiter))
    except csv.Error:
        return []


def detect_delimiter(lines: list[str], suffix: str) -> tuple[str, str]:
    best, best_score = ",", (0.0, 0)
    for delimiter in DELIMITERS:
        rows = _rows(lines, delimiter)
        if not rows:
            continue
        widths = Counter(len(r) for r in rows)
        width, frequency = widths.most_common(1)[0]
        if width < 2:
            continue
        score = (frequency / len(rows), width)
        if suffix in (".tsv", ".tab") and delimiter == "\t":
            score = (score[0] + 0.5, width)
        if score > best_score:
            best, best_score = delimiter, score
    if best_score[1] < 2:
        return ",", "no delimiter splits the lines: one column"
    consistency = f"{best_score[0]:.0%} of sampled lines" if best_score[0] < 1 else "every line"
    return best, f"it splits {consistency} into {best_score[1]} fields"


@functools.cache
def grouped_number(decimal: str, thousands: str) -> re.Pattern:
    """A number with its thousands grouped (1.000.000,25), or with no group at all."""
    t, d = re.escape(thousands), re.escape(decimal)
    return re.compile(rf"[+-]?(?:\d{{1,3}}(?:{t}\d{{3}})+|\d+)(?:{d}\d+)?")


@functools.cache
def _plainly_grouped(decimal: str, thousands: str) -> re.Pattern:
    """Grouped in a way no other reading explains: with a decimal part, or two groups."""
    t, d = re.escape(thousands), re.escape(decimal)
    return re.compile(rf"[+-]?\d{{1,3}}(?:(?:{t}\d{{3}})+{d}\d+|(?:{t}\d{{3}}){{2,}})")


def detect_decimal(rows: list[list[str]], delimiter: str) -> tuple[str, str]:
    cells = [c.strip() for row in rows[1:] for c in row]
    # 1.000,25 tells of a decimal comma as 3,14 does, and 1,000.25 of a decimal point. One
    # search of the whole sample spares most files a look at every cell.
    grouped = []
    if _MAYBE_GROUPED.search("\n".join(cells)):
        grouped = [c for c in cells if _MAYBE_GROUPED.search(c)]
    comma_grouped, point_grouped = _plainly_grouped(",", "."), _plainly_grouped(".", ",")
    comma = sum(1 for c in cells if _NUMBER_COMMA.match(c))
    comma += sum(1 for c in grouped if comma_grouped.fullmatch(c))
    point = sum(1 for c in cells if "." in c and _NUMBER_POINT.match(c))
    point += sum(1 for c in grouped if point_grouped.fullmatch(c))
    if delimiter != "," and comma > point:
        return ",", f"{comma} numbers like 3,14 in the sample"
    return ".", "numbers are written like 3.14" if point else "no decimal numbers in the sample"


def detect_thousands(rows: list[list[str]], decimal: str, header: bool) -> tuple[str, str]:
    """The separator of a column of numbers some of which group their thousands."""
    data = rows[1:] if header else rows
    present = set("".join(itertools.chain.from_iterable(data)))
    candidates = [t for t in THOUSANDS if t and t != decimal and t in present]
    if not candidates:  # most files: no cell holds any separator
        return "", "no numbers with grouped thousands in the sample"
    width = max((len(r) for r in rows), default=0)
    columns = [[r[i].strip() for r in data if i < len(r) and r[i].strip()] for i in range(width)]
    for thousands in candidates:
        pattern = grouped_number(decimal, thousands)
        for i, cells in enumerate(columns):
            grouped = next((c for c in cells if thousands in c), None)
            if grouped is not None and all(pattern.fullmatch(c) for c in cells):
                name = rows[0][i] if header and i < len(rows[0]) else f"column {i + 1}"
                return thousands, f"numbers like {grouped} in {name}"
    return "", "no numbers with grouped thousands in the sample"


def _is_number(cell: str, decimal: str) -> bool:
    """A number written with ``decimal``, its thousands grouped or not."""
    cell = cell.strip()
    grouped = (_plainly_grouped(decimal, t) for t in THOUSANDS if t and t != decimal and t in cell)
    if any(pattern.fullmatch(cell) for pattern in grouped):
        return True
    if decimal == ",":
        cell = cell.replace(",", ".")
    return bool(_NUMBER_POINT.match(cell))


def detect_header(rows: list[list[str]], decimal: str) -> tuple[bool, str]:
    if len(rows) < 2:
        return True, "a single line is read as the column names"
    first, rest = rows[0], rows[1:]
    for i, cell in enumerate(first):
        column = [r[i] for r in rest if i < len(r) and r[i].strip()]
        if column and all(_is_number(c, decimal) for c in column):
            if _is_number(cell, decimal):
                return False, f"the first line holds a number ({cell!r}) where data has numbers"
            return True, f"the first line has {cell!r} above a column of numbers"
    return True, "the first line reads as column names"


def detect_codes(rows: list[list[str]], header: bool) -> tuple[list[int], str]:
    """Columns of digits with leading zeros (postcodes, product codes) stay text."""
    data = rows[1:] if header else rows
    width = max((len(r) for r in rows), default=0)
    codes = [
        i
        for i in range(width)
        if any(i < len(r) and _LEADING_ZERO.match(r[i].strip()) for r in data)
    ]
    if not codes:
        return [], ""
    names = [rows[0][i] if header and i < len(rows[0]) else f"column {i + 1}" for i in codes]
    return codes, f"kept as text, for their leading zeros: {', '.join(names)}"


def _code_rows(sample: bytes, encoding: str, complete: bool, delimiter: str, rows: list):
    """The rows to look for codes in: every line of the sample, not only the first 200, as
    a postcode with a leading zero can first turn up hundreds of lines down. Splitting them
    all takes 20 ms on a wide file, so only when some field starts with 0 and a digit."""
    text = "\n" + sample.decode(encoding, errors="replace")
    # One pattern per way a field starts: a literal start lets re skip ahead quickly (0.5 ms
    # for the four, against 6 for one pattern with alternatives).
    starts = (delimiter, "\n", delimiter + '"', '\n"')
    if not any(re.search(re.escape(start) + "0[0-9]", text) for start in starts):
        return rows
    return _rows(sample_lines(sample, encoding, complete, limit=None), delimiter)


def detect(path: Path, file_format: str | None = None, decimal: str | None = None) -> Detection:
    """Best guesses for reading ``path``, with reasons; ``file_format`` and ``decimal``, when
    the user chose them, are taken as they are (a CSV file named .xlsx, say), and the header
    and thousands separator are guessed for that decimal mark."""
    sample = read_sample(path)
    if not sample:
        raise UserError(f"{path.name} is empty: there is nothing to import.")
    complete = len(sample) < SAMPLE_BYTES
    if file_format is None:
        file_format, why_format = detect_format(path, sample)
    else:
        why_format = "chosen"
    settings = ImportSettings(format=file_format)
    reasons = {"format": why_format}
    if file_format not in ("csv", "jsonl"):
        return Detection(settings, reasons)
    # Both are text: random bytes that happen to start with "{" are refused as binary too.
    encoding, why_encoding = detect_encoding(path, sample, complete)
    if file_format == "jsonl":
        return Detection(settings, reasons)
    settings.encoding, reasons["encoding"] = encoding, why_encoding
    lines = sample_lines(sample, settings.encoding, complete)
    if not lines:
        raise UserError(f"{path.name} holds only blank lines: there is nothing to import.")
    settings.delimiter, reasons["delimiter"] = detect_delimiter(lines, path.suffix.lower())
    rows = _rows(lines, settings.delimiter)
    if decimal is None:
        settings.decimal, reasons["decimal"] = detect_decimal(rows, settings.delimiter)
    else:
        settings.decimal, reasons["decimal"] = decimal, "chosen"
    settings.header, reasons["header"] = detect_header(rows, settings.decimal)
    settings.thousands, reasons["thousands"] = detect_thousands(
        rows, settings.decimal, settings.header
    )
    settings.text_columns, why = detect_codes(
        _code_rows(sample, settings.encoding, complete, settings.delimiter, rows),
        settings.header,
    )
    if why:
        reasons["text_columns"] = why
    return Detection(settings, reasons)
