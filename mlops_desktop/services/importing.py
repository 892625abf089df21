"""Reading raw files (and scikit-learn's bundled datasets) into Arrow tables.

``read_source`` is the one way in: it checks the file, reads it with the chosen settings,
fingerprints the raw bytes, and explains every refusal in a sentence naming the file.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from mlops_desktop.domain.dataset import SourceFile
from mlops_desktop.domain.errors import UserError
from mlops_desktop.domain.tasks import TaskState
from mlops_desktop.services import tabular
from mlops_desktop.services.sniffing import (
    DELIMITERS,
    THOUSANDS,
    ImportSettings,
    detect,
    grouped_number,
)

SKLEARN_PREFIX = "sklearn:"
#: scikit-learn's datasets that ship with it (no download), for teaching.
SKLEARN_DATASETS = {
    "iris": "load_iris",
    "wine": "load_wine",
    "breast_cancer": "load_breast_cancer",
    "diabetes": "load_diabetes",
    "digits": "load_digits",
    "linnerud": "load_linnerud",
}
PREVIEW_ROWS = 100
#: A preview reads at most this much of a file.
PREVIEW_BYTES = 1 << 20
#: The blocks pyarrow parses in parallel. Fewer, larger chunks make every later kernel
#: faster, but past 8 MiB the parse itself slows (on the import benchmark, 16 MiB took 2 to
#: 10 % more processor time in all over three runs, 1 MiB about 20 % more).
BLOCK_BYTES = 8 << 20
_READ_CHUNK = 1 << 20


@dataclass
class SourceTable:
    """What reading a source produced: the table, its fingerprint and any notes."""

    table: pa.Table
    source: SourceFile
    notes: list[str] = field(default_factory=list)


class _Fingerprint:
    """Hashes a file (and counts its quote characters) on a thread of its own, reporting
    progress and honouring cancel, while pyarrow parses the same file natively."""

    def __init__(self, path: Path, state: TaskState | None, quote: bytes = b'"'):
        self.path, self.state, self.quote = path, state, quote
        self.digest = hashlib.sha256()
        self.quotes = 0
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="fingerprint", daemon=True)

    def start(self) -> _Fingerprint:
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            total = self.path.stat().st_size or 1
            done = 0
            with self.path.open("rb") as f:
                while chunk := f.read(_READ_CHUNK):
                    if self.state is not None:
                        self.state.check_cancelled()
                        self.state.set_progress(done / total, "Reading")
                    self.digest.update(chunk)
                    self.quotes += _count_byte(chunk, self.quote)
                    done += len(chunk)
        except OSError as exc:
            self.error = UserError(
                f"{self.path.name} could not be read to the end ({exc.strerror or exc}): it may "
                "have been deleted or moved while it was being imported. Nothing was imported."
            )
        except BaseException as exc:  # handed to the importing thread, which raises it
            self.error = exc

    def result(self) -> str:
        self._thread.join()
        if self.error is not None:
            raise self.error
        return self.digest.hexdigest()


def _count_byte(data: bytes, byte: bytes) -> int:
    """How often ``byte`` occurs in ``data``: numpy's vectorised compare is four times quicker
    than ``bytes.count`` (17 ms against 66 ms for the import benchmark's 156 MB file)."""
    return int(np.count_nonzero(np.frombuffer(data, dtype=np.uint8) == ord(byte)))


def file_sha256(path: Path, state: TaskState | None = None) -> str:
    digest = hashlib.sha256()
    total = path.stat().st_size or 1
    done = 0
    with path.open("rb") as f:
        while chunk := f.read(_READ_CHUNK):
            if state is not None:
                state.check_cancelled()
                state.set_progress(done / total, "Fingerprinting")
            digest.update(chunk)
            done += len(chunk)
    return digest.hexdigest()


def _fingerprint(path: Path) -> tuple[int, int, int]:
    st = path.stat()
    return st.st_size, st.st_mtime_ns, st.st_ino


def _binary_columns(table: pa.Table) -> list[str]:
    return [f.name for f in table.schema if pa.types.is_binary(f.type)]


def _column_names(path: Path, settings: ImportSettings, positions: list[int]) -> list[str]:
    """The names pyarrow will give the columns at ``positions``."""
    if not positions:
        return []
    if not settings.header:
        return [f"f{i}" for i in positions]
    import csv

    whitespace = " \t\r\f\v".replace(settings.delimiter, "")
    skip = _leading_blank_lines(path, settings, whitespace)
    with path.open(encoding=settings.encoding, errors="replace", newline="") as f:
        for _ in range(skip):
            f.readline()
        header = next(csv.reader(f, delimiter=settings.delimiter), [])
    names = [header[i] for i in positions if i < len(header)]
    return [n for n in names if header.count(n) == 1]


def _leading_blank_lines(path: Path, settings: ImportSettings, whitespace: str) -> int:
    """How many lines before the first one with content (the header, or the first row)."""
    with path.open(encoding=settings.encoding, errors="replace", newline="") as f:
        for count, line in enumerate(f):
            if line.strip(whitespace + "\n"):
                return count
            if count > 10_000:
                break
    return 0


def _without_whitespace_lines(
    table: pa.Table, whitespace: str, path: Path, settings: ImportSettings, quoted: bool
) -> pa.Table:
    """Lines of only spaces are blank, as in pandas. pyarrow keeps them, which only shows in
    one-column files (elsewhere such a line has too few fields and is skipped as blank).
    A value with a line break came from quotes, so it is data, not a blank line; so is a
    quoted value of only spaces, which only a file with quotes (``quoted``) can have."""
    import pyarrow.compute as pc

    if table.num_columns != 1 or not pa.types.is_string(table.schema.types[0]):
        return table
    spaces = re.escape(whitespace.replace("\r", ""))
    blank = pc.fill_null(pc.match_substring_regex(table.column(0), f"^[{spaces}]+$"), False)
    if not pc.any(blank).as_py():
        return table
    if quoted:
        unquoted = _unquoted_blank_rows(path, settings, whitespace)
        if len(unquoted) == table.num_rows:  # else the lines are not the rows: keep the rule
            blank = pc.and_(blank, pa.array(unquoted))
    return table.filter(pc.invert(blank))


def _unquoted_blank_rows(path: Path, settings: ImportSettings, whitespace: str) -> list[bool]:
    """For each row after the header, whether it is one line of only spaces, outside quotes.
    Empty lines make no row, as in pyarrow; a quote inside a row's line flips the rest."""
    skip = _leading_blank_lines(path, settings, whitespace)
    rows, inside = [], False
    with path.open(encoding=settings.encoding, errors="replace", newline="") as f:
        for number, line in enumerate(f):
            starts = not inside
            if line.count('"') % 2:
                inside = not inside
            text = line.rstrip("\r\n")
            if starts and number >= skip and text:
                rows.append('"' not in text and not text.strip(whitespace))
    return rows[1:] if settings.header else rows


def _last_value_spans_lines(table: pa.Table) -> bool:
    """A quote opened in the last field but never closed takes the rest of the file into
    it, line breaks and all (even when an earlier stray quote makes the count even)."""
    if table.num_rows == 0 or table.num_columns == 0:
        return False
    last = table.column(table.num_columns - 1)[table.num_rows - 1].as_py()
    return isinstance(last, str) and ("\n" in last or "\r" in last)


def _unbalanced_quote(path: Path, settings: ImportSettings) -> bool:
    """True if the file ends inside a quoted field. Only run on suspicion: it tokenises the
    whole file again, with pandas' C tokenizer, which says so where pyarrow stays silent."""
    import pandas as pd

    try:
        for _ in pd.read_csv(
            path,
            sep=settings.delimiter,
            header=None,
            dtype=str,
            encoding=settings.encoding,
            engine="c",
            on_bad_lines="skip",
            chunksize=100_000,
        ):
            pass
    except pd.errors.ParserError as exc:
        return "EOF inside string" in str(exc)
    except (UnicodeDecodeError, pd.errors.EmptyDataError):
        return False
    return False


def _read_csv(path: Path, settings: ImportSettings, state: TaskState | None, rows: int | None):
    import pyarrow.csv as pacsv

    whitespace = " \t\r\f\v".replace(settings.delimiter, "")
    text_names = _column_names(path, settings, settings.text_columns)

    def blank_row_handler(row) -> str:
        # Lines of only spaces are blank lines (as pandas reads them), not short rows.
        return "skip" if not (row.text or "").strip(whitespace) else "error"

    def options(newlines_in_values: bool):
        read = pacsv.ReadOptions(
            skip_rows=_leading_blank_lines(path, settings, whitespace),
            encoding="utf8" if settings.encoding in ("utf-8", "utf-8-sig") else settings.encoding,
            autogenerate_column_names=not settings.header,
            block_size=BLOCK_BYTES,
        )
        parse = pacsv.ParseOptions(
            delimiter=settings.delimiter,
            newlines_in_values=newlines_in_values,
            invalid_row_handler=blank_row_handler,
        )
        convert = pacsv.ConvertOptions(
            decimal_point=settings.decimal,
            strings_can_be_null=True,
            column_types={name: pa.string() for name in text_names},
        )
        return read, parse, convert

    if rows is not None and path.stat().st_size <= PREVIEW_BYTES:
        # The preview reads this much anyway: read it as the import will, with every check,
        # so that it never offers to import a file the import then refuses.
        return _read_csv(path, settings, None, None)[0].slice(0, rows), None

    def attempt(newlines_in_values: bool):
        read, parse, convert = options(newlines_in_values)
        if rows is None:
            source = path
            if _one_unended_line(path, settings):
                # pyarrow cannot tell the columns of a line nothing ends ("a,b" alone).
                source = io.BytesIO(path.read_bytes() + b"\n")
            return pacsv.read_csv(source, read, parse, convert)
        with path.open("rb") as f:
            head = _complete_lines(f.read(PREVIEW_BYTES), path.stat().st_size)
        return pacsv.read_csv(io.BytesIO(head), read, parse, convert)

    fingerprint = _Fingerprint(path, state).start() if rows is None else None
    try:
        try:
            table = attempt(newlines_in_values=False)
        except pa.ArrowInvalid as exc:
            if "out of sync" not in str(exc) and "newlines_in_values" not in str(exc):
                raise
            # A quoted value spans lines: the fast parallel chunker cannot split this file.
            table = attempt(newlines_in_values=True)
    except pa.ArrowInvalid as exc:
        raise UserError(_explain_csv_error(path, settings, str(exc))) from None
    except UnicodeDecodeError as exc:
        raise UserError(
            f"{path.name} has bytes that are not valid {settings.encoding} (at byte "
            f"{exc.start}): choose its real encoding, for example cp1252 or utf-16."
        ) from None
    finally:
        digest = fingerprint.result() if fingerprint is not None else None
    _check_decoded(table, path, settings)
    if rows is not None:
        return table.slice(0, rows), None
    # pyarrow ends a quoted field that is never closed at the end of the file without a word;
    # an odd number of quotes, or a last value that swallowed a line break, is the trace.
    suspicious = fingerprint.quotes % 2 == 1 or _last_value_spans_lines(table)
    if suspicious and _unbalanced_quote(path, settings):
        raise UserError(
            f'{path.name} has a quote (") that is never closed, so its last field runs to '
            "the end of the file: fix the quoting and import it again."
        )
    table = _without_whitespace_lines(table, whitespace, path, settings, fingerprint.quotes > 0)
    return table, digest


def _grouped_numbers(table: pa.Table, settings: ImportSettings) -> tuple[pa.Table, list[str]]:
    """Text columns whose every value is a number, some with their thousands grouped
    (1.000,25), as numbers: pyarrow reads no thousands separator. With a note naming them."""
    import pyarrow.compute as pc

    separator = settings.thousands
    if not separator:
        return table, []
    pattern = rf"^\s*{grouped_number(settings.decimal, separator).pattern}\s*$"
    kept_as_text = set(settings.text_columns)
    examples = {}
    for i, name in enumerate(table.column_names):
        column = table.column(i)
        if i in kept_as_text or not pa.types.is_string(column.type):
            continue
        grouped = pc.match_substring(column, separator)
        # all() skips missing values, and is missing itself when every value is.
        if not (pc.any(grouped).as_py() and pc.all(pc.match_substring_regex(column, pattern))):
            continue
        digits = pc.replace_substring(pc.utf8_trim_whitespace(column), separator, "")
        digits = pc.replace_substring_regex(digits, r"^\+", "")  # Arrow reads no plus sign
        if settings.decimal != ".":
            digits = pc.replace_substring(digits, settings.decimal, ".")
        field = table.schema.field(i)
        numbers = _as_numbers(digits)
        table = table.set_column(i, field.with_type(numbers.type), numbers)
        examples[name] = column.filter(grouped)[0].as_py().strip()
    if not examples:
        return table, []
    name = THOUSANDS[separator]
    listed = ", ".join(f"{column!r} ({value})" for column, value in examples.items())
    return table, [f"Numbers with a {name} between thousands read as numbers: {listed}."]


def _as_numbers(digits: pa.ChunkedArray) -> pa.ChunkedArray:
    """Numbers written plainly (1000.25) as integers if all are whole and fit, else floats."""
    import pyarrow.compute as pc

    if not pc.any(pc.match_substring(digits, ".")).as_py():
        with contextlib.suppress(pa.ArrowInvalid):  # whole numbers past int64
            return digits.cast(pa.int64())
    return digits.cast(pa.float64())


#: How much of each end of a text file is looked at for zero bytes.
_END_BYTES = 64 * 1024


def _check_ends_are_text(path: Path, settings: ImportSettings) -> None:
    """Zero bytes at a file's start or end, which text never has (in encodings other than
    UTF-16 and UTF-32): a binary file, or a copy that stopped short and was padded with
    zeros. The detection looks at the start only, and is skipped when settings are given."""
    if settings.encoding.startswith(("utf-16", "utf-32")):
        return
    size = path.stat().st_size
    with path.open("rb") as f:
        head = f.read(_END_BYTES)
        f.seek(max(size - _END_BYTES, 0))
        tail = f.read(_END_BYTES)
    if b"\0" in head or b"\0" in tail:
        where = "start" if b"\0" in head else "end"
        raise UserError(
            f"{path.name} has zero bytes at its {where}, which text files do not have: it is "
            "a binary file, or a copy that did not finish. Import a complete text file."
        )


def _check_decoded(table: pa.Table, path: Path, settings: ImportSettings) -> None:
    """Names and values that are not valid in the chosen encoding: pyarrow keeps such values
    as bytes, and such names fail only when they are first used."""
    try:
        table.schema.names  # noqa: B018
    except UnicodeDecodeError:
        where = "its column names have"
    else:
        binary = _binary_columns(table)
        if not binary:
            return
        where = f"column {binary[0]!r} has"
    raise UserError(
        f"{path.name}: {where} bytes that are not valid {settings.encoding}: choose the "
        "file's real encoding (for example cp1252 or utf-16) and import it again."
    )


def _one_unended_line(path: Path, settings: ImportSettings) -> bool:
    """A small file of one line with no line break, in an encoding whose line break is the
    byte 10 (UTF-16's is two bytes, and its files end with one anyway)."""
    if settings.encoding.startswith(("utf-16", "utf-32")):
        return False
    size = path.stat().st_size
    if size > PREVIEW_BYTES:
        return False
    data = path.read_bytes()
    return b"\n" not in data and b"\r" not in data


def _complete_lines(data: bytes, size: int) -> bytes:
    """A preview reads the start of a file: drop a last line the cut may have broken."""
    if len(data) >= size or b"\n" not in data:
        return data
    return data[: data.rindex(b"\n") + 1]


def _explain_csv_error(path: Path, settings: ImportSettings, message: str) -> str:
    where = DELIMITERS.get(settings.delimiter, repr(settings.delimiter))
    columns = re.search(r"Expected (\d+) columns, got (\d+): ?(.*)", message, re.S)
    if columns:
        expected, got, text = columns.groups()
        text = text.strip().splitlines()[0][:60] if text.strip() else ""
        return (
            f"{path.name}: a row has {got} fields where the first row has {expected}"
            f"{f' ({text!r})' if text else ''}. Check the delimiter ({where}) and the quoting, "
            "or fix that row."
        )
    if "Empty CSV file" in message or "empty" in message.lower():
        return f"{path.name} is empty: there is nothing to import."
    return (
        f"{path.name} could not be read as delimited text ({message.strip()}): check the settings."
    )


def _read_parquet(path: Path) -> pa.Table:
    import pyarrow.parquet as pq

    try:
        return pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise UserError(
            f"{path.name} is not a readable Parquet file ({exc}): check that it is the right "
            "file and that it was copied completely."
        ) from None


def _read_jsonl(path: Path, rows: int | None) -> pa.Table:
    import pyarrow.json as pajson

    if rows is None:
        source = path
    else:
        with path.open("rb") as f:
            source = io.BytesIO(_complete_lines(f.read(PREVIEW_BYTES), path.stat().st_size))
    try:
        table = pajson.read_json(source)
    except pa.ArrowInvalid as exc:
        if "changed from" not in str(exc):
            raise UserError(
                f"{path.name} is not valid JSON Lines ({exc}): each line must be one JSON object."
            ) from None
        # A key holding numbers on some lines and text on others: Arrow wants one type per
        # key, pandas reads each value as it is, and mixed keys become text.
        table = _mixed_jsonl(path, source)
    try:
        table.validate(full=True)  # the reader takes text as it comes, valid UTF-8 or not
    except pa.ArrowInvalid:
        raise UserError(
            f"{path.name} has text that is not valid UTF-8, which JSON Lines must be: save it "
            "as UTF-8 and import it again."
        ) from None
    return table if rows is None else table.slice(0, rows)


def _mixed_jsonl(path: Path, source) -> pa.Table:
    import pandas as pd

    if isinstance(source, io.BytesIO):
        source.seek(0)
    try:
        frame = pd.read_json(source, lines=True, dtype=False)
    except ValueError as exc:
        raise UserError(
            f"{path.name} is not valid JSON Lines ({exc}): each line must be one JSON object."
        ) from None
    return tabular.frame_to_table(frame)


def _read_xlsx(path: Path, settings: ImportSettings, rows: int | None) -> pa.Table:
    """A sheet's cells as openpyxl gives them: text stays text (a code written '01234'
    keeps its zero; pandas' own inference would make it 1234), and each column's type is
    what its cells hold, text where they mix. Names go through the same renaming (with
    notes) as delimited text, not pandas' "a.1" and "Unnamed: 2"."""
    import zipfile

    import pandas as pd

    try:
        frame = pd.read_excel(
            path,
            sheet_name=settings.sheet if settings.sheet else 0,
            header=None,
            dtype=object,
            nrows=None if rows is None else rows + 1,
            engine="openpyxl",
        )
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise UserError(
            f"{path.name} could not be read as an Excel workbook ({exc}): save it as .xlsx "
            "from your spreadsheet program and try again."
        ) from None
    if settings.header and len(frame):
        names = ["" if pd.isna(v) else str(v) for v in frame.iloc[0]]
        frame = frame.iloc[1:]
    else:
        names = [str(i) for i in range(frame.shape[1])]
    columns = [tabular.object_column(frame[c]) for c in frame.columns]
    # Arrow keeps repeated and empty names; normalise makes them unique and says so.
    return pa.table(columns, names=names)


def sklearn_frame(name: str):
    """A bundled scikit-learn dataset as one DataFrame, features and target together."""
    if name not in SKLEARN_DATASETS:
        raise UserError(
            f"scikit-learn has no bundled dataset {name!r}: choose one of "
            f"{', '.join(SKLEARN_DATASETS)}."
        )
    import sklearn.datasets

    bunch = getattr(sklearn.datasets, SKLEARN_DATASETS[name])(as_frame=True)
    frame = bunch.frame
    target_names = getattr(bunch, "target_names", None)
    if name in ("iris", "wine", "breast_cancer") and target_names is not None:
        # Class labels read better than codes when teaching.
        frame["target"] = [str(target_names[i]) for i in frame["target"]]
    return frame


def read_source(
    source: str | os.PathLike,
    settings: ImportSettings | None = None,
    state: TaskState | None = None,
    rows: int | None = None,
) -> SourceTable:
    """Read ``source`` (a path, or ``sklearn:NAME``) into an Arrow table.

    ``rows`` limits the read for a preview. Raises ``UserError`` naming the file and what is
    wrong with it, and ``Cancelled`` if ``state`` is cancelled.
    """
    text = str(source)
    if text.startswith(SKLEARN_PREFIX):
        name = text[len(SKLEARN_PREFIX) :]
        frame = sklearn_frame(name)
        if rows is not None:
            frame = frame.head(rows)
        table = tabular.frame_to_table(frame)
        digest = hashlib.sha256(frame.to_csv(index=False).encode()).hexdigest()
        return SourceTable(table, SourceFile(text, digest, "sklearn"))
    path = Path(source)
    if settings is None:
        settings = detect(path).settings
    settings.check()
    if not path.is_file():
        raise UserError(f"{path} does not exist or is not a file: check the path.")
    if path.stat().st_size == 0:
        raise UserError(f"{path.name} is empty: there is nothing to import.")
    before = _fingerprint(path)
    digest, notes = None, []
    try:
        if settings.format == "csv":
            _check_ends_are_text(path, settings)
            table, digest = _read_csv(path, settings, state, rows)
            table, notes = _grouped_numbers(table, settings)
        elif settings.format == "parquet":
            table = _read_parquet(path)
        elif settings.format == "jsonl":
            table = _read_jsonl(path, rows)
        else:
            table = _read_xlsx(path, settings, rows)
    except OSError as exc:
        raise UserError(
            f"{path.name} could not be read to the end ({exc.strerror or exc}): it may have "
            "been deleted or moved while it was being imported. Nothing was imported."
        ) from None
    except UnicodeError as exc:  # the codec itself refused, e.g. UTF-16 without a BOM
        hint = ""
        if "BOM" in str(exc):
            base = settings.encoding
            hint = f"; a file without a byte-order mark needs {base}-le or {base}-be"
        raise UserError(
            f"{path.name} could not be read as {settings.encoding} ({exc}): choose its real "
            f"encoding{hint}."
        ) from None
    if rows is None:
        if digest is None:
            digest = file_sha256(path, state)
        try:
            changed = _fingerprint(path) != before
        except FileNotFoundError:
            changed = True
        if changed:
            raise UserError(
                f"{path.name} was changed or deleted while it was being imported, so nothing "
                "was imported: import it again once it is complete."
            )
    # A preview is refused as the import would be.
    if table.num_columns == 0:
        raise UserError(f"{path.name} has no columns: there is nothing to import.")
    if table.num_rows == 0:
        raise UserError(f"{path.name} has column names but no rows: there is nothing to import.")
    if rows is not None:
        return SourceTable(table.slice(0, rows), SourceFile(path.name, "", settings.format))
    if state is not None:
        state.check_cancelled()
    source_file = SourceFile(path.name, digest, settings.format, settings.to_json())
    return SourceTable(table, source_file, notes)
