"""Reading a user's CSV or Parquet table with numeric columns checked cell by cell.

Every error names the file, the row and the column.  Rows count the data rows from 1 (the header
is not a row); for a CSV file the error also gives the line (row N is line N + 1).

In a numeric column an empty cell (CSV) or a null (Parquet) is *not observed*; ``nan``, ``inf`` and
``-inf`` are observed values (a diverged run, curvecast's one rule counts them as the worst value).
A number written beyond float64's range (``1e400``, which a parser reads as ``inf``) is refused,
naming its cell: it is a finite value, not a diverged run, and no float holds it.
Note that pandas' ``DataFrame.to_parquet`` writes NaN as null: write diverged values with pyarrow
(``pa.array(values, from_pandas=False)``) or as CSV.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import hashlib
import lzma
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from numpy.typing import NDArray

from curvecast.curves import CurveSetFormatError
from curvecast.curves.config_columns import exact_whole_numbers
from curvecast.curves.long import NAN_TEXT
from curvecast.curves.parquet import check_decoded_size

__all__ = ["OPENERS", "NumericColumns", "arrow_column", "cell", "check_csv_shape", "read_columns",
           "read_table", "text_block"]

#: (values, observed), each of shape (n_rows, n_columns).
NumericColumns = tuple[NDArray[np.float64], NDArray[np.bool_]]


def file_sha256(path: Path) -> str:
    """The file's SHA-256 (an import's provenance), read in blocks, not the whole file at once."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def is_parquet(path: Path) -> bool:
    """Whether ``path`` names a Parquet file (by its suffix); else it is read as CSV."""
    return Path(path).suffix.lower() in (".parquet", ".pq")


def cell(path: Path | str, row: int | None = None, column: str | None = None) -> str:
    """The place prefix of an error: ``FILE: row N (line N+1), column 'c': `` (0-based ``row``)."""
    out = str(path)
    if row is not None:
        line = f" (line {row + 2})" if not is_parquet(Path(path)) else ""
        out += f": row {row + 1}{line}"
    if column is not None:
        out += f", column {column!r}" if row is not None else f": column {column!r}"
    return out + ": "


def read_columns(path: Path) -> list[str]:
    """The column names of a CSV or Parquet file (the header only).

    Raises:
        FileNotFoundError: no such file.
        CurveSetFormatError: the file is not a readable CSV or Parquet table.
    """
    if path.is_dir():
        raise IsADirectoryError(f"{path}: is a folder; give a CSV or Parquet file")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    if not is_parquet(path):
        _refuse_json(path)
    try:
        if is_parquet(path):
            header = [str(c) for c in pq.read_schema(path).names if not _pandas_row_labels(c)]
        else:
            header = [str(c) for c in pd.read_csv(path, nrows=0).columns]
    except (pa.ArrowException, OSError, ValueError, UnicodeDecodeError) as err:
        kind = "Parquet" if is_parquet(path) else "CSV"
        raise CurveSetFormatError(f"{path}: not a readable {kind} file ({err})") from None
    if is_parquet(path):  # a repeated name said as the CSV check says it (Arrow's was raw)
        repeated = next((n for i, n in enumerate(header) if n in header[:i]), None)
        if repeated is not None:
            raise CurveSetFormatError(f"{path}: the header repeats the column name {repeated!r}")
        return header
    if len(header) == 1 and any(sep in header[0] for sep in (";", "\t", "|")):
        sep = next(sep for sep in (";", "\t", "|") if sep in header[0])
        raise CurveSetFormatError(
            f"{path}: its header is one column, {header[0][:60]!r}: the file is separated by "
            f"{sep!r}, and curvecast reads comma-separated CSV (convert it: pandas' "
            f"pd.read_csv(path, sep={sep!r}).to_csv(new_path, index=False))")
    check_csv_shape(path, rows=False)
    return header


def _refuse_json(path: Path) -> None:
    """Refuse a JSON file (by its suffix, or a first character ``{`` or ``[``) with what to do,
    rather than a CSV error about its header."""
    if path.suffix.lower() in (".json", ".jsonl", ".ndjson"):
        found = True
    else:
        try:
            with open(path, "rb") as handle:
                start = handle.read(64).lstrip(b"\xef\xbb\xbf \t\r\n")
        except OSError:
            return
        found = start[:1] in (b"{", b"[")
    if found:
        raise CurveSetFormatError(
            f"{path}: JSON, which curvecast does not read: give a CSV or Parquet table (pandas: "
            "pd.read_json(path).to_csv(new_path, index=False), or lines=True for JSON lines)")


def _pandas_row_labels(name: str) -> bool:
    """Whether a Parquet column is the row labels pandas saves for an unnamed index that is not
    ``0, 1, …`` (``__index_level_0__``): positions, not data."""
    return re.fullmatch(r"__index_level_\d+__", name) is not None


#: Compressed CSV files pandas reads by their suffix, and how to open them as text here.
OPENERS: dict[str, Callable[..., IO[str]]] = {
    ".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}


def check_csv_shape(path: Path, rows: bool) -> None:
    """Refuse a CSV file whose header repeats a name (pandas would rename the second column) or,
    with ``rows``, with a row of more fields than the header (pandas would drop them, or read
    the first as an index): either would misread the table without a word.  A row with fewer
    fields is kept: its missing cells are empty.  Blank lines are skipped, as pandas does; a
    compressed file pandas reads by its suffix is read through the same decompression (``.zip``
    and ``.zst`` are left to pandas alone).  Without ``rows`` only the header is read."""
    suffix = path.suffix.lower()
    if suffix in (".zip", ".zst", ".tar"):
        return
    opener = OPENERS.get(suffix, open)
    limit = csv.field_size_limit()
    csv.field_size_limit(2**31 - 1)  # pandas has no limit on a field's length
    try:
        with opener(path, "rt", newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            lines = (row for row in reader if row)
            header = next(lines, [])
            if len(set(header)) < len(header):
                name = next(n for i, n in enumerate(header) if n in header[:i])
                raise CurveSetFormatError(f"{path}: the header repeats the column name {name!r}")
            for row in lines if rows else ():
                if len(row) > len(header):
                    raise CurveSetFormatError(f"{path}: line {reader.line_num} has {len(row)} "
                                              f"fields, the header {len(header)}")
    except (OSError, EOFError, UnicodeDecodeError, csv.Error, lzma.LZMAError) as err:
        raise CurveSetFormatError(f"{path}: not a readable CSV file ({err})") from None
    finally:
        csv.field_size_limit(limit)


def read_table(path: Path, numeric: Sequence[str], text: Sequence[str] = (), *,
               keep_written: bool = True) -> tuple[pd.DataFrame, NumericColumns]:
    """Read ``path`` (CSV, or Parquet by its ``.parquet``/``.pq`` suffix).

    Returns the columns not in ``numeric`` as a DataFrame (pandas' own type inference, except
    the CSV columns named in ``text`` and the CSV's text columns, read as written: ids such as
    ``01`` or ``NA`` stay text, a category ``None`` or ``NA`` stays that category, only an empty
    cell is missing; and, with ``keep_written``, whole numbers beyond 2^53 beside an empty cell
    and codes written with a leading zero kept as written: :func:`_as_written_numbers`) and the
    ``numeric`` columns as ``(values, observed)`` arrays of shape ``(n_rows, len(numeric))``.

    Raises:
        FileNotFoundError: no such file.
        CurveSetFormatError: an unreadable file, or a cell of a ``numeric`` column that is not a
            number (naming the file, row and column).
    """
    columns = read_columns(path)
    if not is_parquet(path):
        check_csv_shape(path, rows=True)  # read once, where the table is read
    numeric_set, text_set = set(numeric), set(text)  # once: a wide table has 10^5 columns
    others = [c for c in columns if c not in numeric_set]
    try:
        if is_parquet(path):
            check_decoded_size(path)  # from the footer: not a few KB that decode to 1e9 rows
            table = pq.read_table(path)
            # a pandas index saved with the table (``df.set_index("run").to_parquet()``) is
            # a column like any other here, not row labels to be dropped below
            rest = table.select(others).to_pandas(ignore_metadata=True)
            for c in others:  # an integer column with a null: pandas makes floats of it
                column = table.column(c)
                if (pa.types.is_integer(column.type) and column.null_count
                        and rest[c].dtype.kind == "f"):
                    exact = exact_whole_numbers(column.to_pylist())
                    if exact is not None:
                        rest[c] = pd.Series(exact, index=rest.index)
            parts = [arrow_column(table.column(c), path, c) for c in numeric]
        else:
            # the columns named in ``text`` are read once, as text (not first by inference too:
            # a long table's 10^7 ids were read twice)
            inferred = [c for c in others if c not in text_set]
            rest = pd.read_csv(path, usecols=inferred) if inferred else pd.DataFrame()
            # ids as written: "01" stays "01", and "NA" or "None" is an id; so is a text
            # column's "None" or "NA" (a category such as Ray's tune.choice(["None", "bn"])),
            # where pandas would read it as missing
            as_written = [c for c in others if c in text_set or _is_text(rest[c])]
            if as_written:
                texts = pd.read_csv(path, usecols=as_written, dtype=str, keep_default_na=False,
                                    na_values=[""])
                if not inferred:
                    rest = pd.DataFrame(index=texts.index)
                for c in as_written:
                    rest[c] = texts[c]
                rest = rest[others]
            if keep_written:  # (a caller that drops the other columns skips it)
                rest = _as_written_numbers(path, rest,
                                           [c for c in inferred if c not in as_written])
            fast = _fast_numeric_csv(path, numeric, len(rest) if others else None)
            if fast is None:  # a cell that is not a number: read as text, to name it
                cells = pd.read_csv(path, usecols=list(numeric), dtype=str,
                                    keep_default_na=False)
                fast = text_block(cells, path, numeric)
            parts = fast
    except (pa.ArrowException, OSError, ValueError, UnicodeDecodeError) as err:
        if isinstance(err, CurveSetFormatError):
            raise
        raise CurveSetFormatError(f"{path}: not a readable table ({err})") from None
    n = len(parts[0][0]) if parts else len(rest)
    if others and len(rest) != n:
        raise CurveSetFormatError(f"{path}: rows of unequal length")
    rest.index = pd.RangeIndex(n)
    values = np.stack([p[0] for p in parts], axis=1) if parts else np.empty((n, 0))
    observed = np.stack([p[1] for p in parts], axis=1) if parts else np.empty((n, 0), bool)
    return rest, (values, observed)


#: A whole number as a CSV cell holds it, and one written with a leading zero (``01``, ``-007``)
#: (patterns for pandas' vectorised ``str.fullmatch``/``str.match``: a Python function per cell
#: took 4x the rest of reading a 100k-row table)
_WHOLE = r"[+-]?[0-9]+"
_LEADING_ZERO = r"[+-]?0[0-9]"


def _as_written_numbers(path: Path, rest: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """``rest`` (pandas' reading of the CSV's ``columns``) with what inference would silently
    change read again as written: a column of whole numbers with an empty cell, one of them
    beyond 2^53 (pandas reads floats, which round 2^60 + 1 and 2^60 + 3 to one value), as
    whole numbers (:func:`~curvecast.curves.config_columns.exact_whole_numbers`); and a column
    of whole numbers one of which is written with a leading zero (``01``, a code: pandas reads
    1) as text.  Only such columns are read again."""
    suspect = [c for c in columns if rest[c].dtype.kind == "i"
               or (rest[c].dtype.kind == "f" and _whole_with_missing(rest[c]))]
    if not suspect:
        return rest
    texts = pd.read_csv(path, usecols=suspect, dtype=str, keep_default_na=False, na_values=[""])
    rest = rest.copy()
    for c in suspect:
        cells = texts[c].str.strip()
        written = cells.dropna()
        if not written.str.fullmatch(_WHOLE).all():
            continue
        if written.str.match(_LEADING_ZERO).any():
            rest[c] = texts[c]  # as the text columns are read
            continue
        if rest[c].dtype.kind == "f":
            exact = exact_whole_numbers([None if pd.isna(t) else int(t) for t in cells])
            if exact is not None:
                rest[c] = pd.Series(exact, index=rest.index)
    return rest


def _whole_with_missing(column: pd.Series) -> bool:
    """Whether a float column pandas read holds whole numbers and a missing cell (a column of
    whole numbers, written so: floats only for the empty cell)."""
    present = column.dropna().to_numpy(dtype=np.float64)
    return (0 < present.size < len(column) and bool(np.isfinite(present).all())
            and bool((present == np.round(present)).all()))


def _fast_numeric_csv(path: Path, numeric: Sequence[str], n_rows: int | None
                      ) -> list[tuple[NDArray[np.float64], NDArray[np.bool_]]] | None:
    """The CSV's ``numeric`` columns as (numbers, observed), parsed by Arrow straight to floats
    (an empty cell is null: not observed; ``nan`` and ``inf`` are values), or None when a cell
    is not a plain number (or Arrow cannot read the file): then :func:`text_block` reads the
    columns as text and names the cell.  Reading 10^7 cells as Python strings first took
    gigabytes and most of an import's time."""
    if not numeric:
        return None
    import pyarrow.csv as pacsv

    try:
        table = pacsv.read_csv(
            path, read_options=pacsv.ReadOptions(use_threads=False),
            convert_options=pacsv.ConvertOptions(
                include_columns=list(numeric),
                column_types={c: pa.float64() for c in numeric},
                null_values=[""], strings_can_be_null=True))
    except (pa.ArrowException, OSError, ValueError):
        return None
    if table.num_columns != len(numeric) or (n_rows is not None and table.num_rows != n_rows):
        return None
    parts = []
    unsure: list[str] = []
    for c in numeric:
        column = table.column(c)
        observed = ~np.asarray(column.is_null().to_numpy(zero_copy_only=False), dtype=bool)
        values = np.asarray(column.fill_null(np.nan).to_numpy(zero_copy_only=False),
                            dtype=np.float64)
        if not np.isfinite(values[observed]).all():
            unsure.append(c)
        parts.append((values, observed))
    if unsure and not _written_as_not_finite(path, unsure, parts, list(numeric)):
        return None
    return parts


def _written_as_not_finite(path: Path, columns: list[str],
                           parts: list[tuple[NDArray[np.float64], NDArray[np.bool_]]],
                           numeric: list[str]) -> bool:
    """Whether every NaN and ±inf Arrow read in ``columns`` is written as one (``nan``,
    ``inf``, ``Infinity``, signed or not): Arrow also reads "nan(1)" as NaN, which the text path
    refuses, and "1e400" as inf, which it refuses too (no float holds it).  Only these columns
    are read again, as strings, and only their NaN/±inf cells compared: sending every column
    of a table with diverged runs to the text path took 2.7x the import's time."""
    import pyarrow.csv as pacsv

    try:
        texts = pacsv.read_csv(
            path, read_options=pacsv.ReadOptions(use_threads=False),
            convert_options=pacsv.ConvertOptions(
                include_columns=columns, column_types={c: pa.string() for c in columns},
                null_values=[""], strings_can_be_null=True))
    except (pa.ArrowException, OSError, ValueError):
        return False
    for c in columns:
        values, observed = parts[numeric.index(c)]
        at = np.flatnonzero(observed & ~np.isfinite(values))
        cells = pd.Series(texts.column(c).take(pa.array(at)).to_pylist(), dtype=object)
        written = cells.fillna("").astype(str).str.strip().str.lower()
        nan = np.isnan(values[at])
        if not (written[nan].isin(NAN_TEXT).all()
                and written[~nan].str.lstrip("+-").isin(INF_TEXT).all()):
            return False
    return True


def _is_text(column: pd.Series) -> bool:
    """Whether pandas read a CSV column as text: every cell it did not read as missing is a
    string (not a column of numbers or of True/False)."""
    present = column.dropna()
    textual = column.dtype == object or pd.api.types.is_string_dtype(column.dtype)
    return textual and len(present) > 0 and all(isinstance(v, str) for v in present)


def _text_values(text: pd.Series) -> tuple[NDArray[np.float64], NDArray[np.bool_],
                                          NDArray[np.bool_], pd.Series]:
    """Strings → (numbers, observed, not a number, the stripped texts); an empty cell is
    unobserved; ``nan`` and ``inf`` are numbers; a number beyond float64's range (``1e400``,
    which parses as inf) is "not a number" too (:func:`_not_a_number` says why)."""
    stripped = text.fillna("").astype(str).str.strip()
    observed = (stripped != "").to_numpy()
    numbers = pd.to_numeric(stripped.where(observed, "nan"), errors="coerce").to_numpy(
        dtype=np.float64)
    bad = observed & np.isnan(numbers) & ~stripped.str.lower().isin(NAN_TEXT).to_numpy()
    infinite = observed & np.isinf(numbers)
    if infinite.any():  # (rare: only then are the texts compared)
        bad |= infinite & ~stripped.str.lower().str.lstrip("+-").isin(INF_TEXT).to_numpy()
    return numbers, observed, bad, stripped


#: How an infinite value is written (after its sign, in lower case): any other text that parses
#: as inf is a number beyond float64's range.
INF_TEXT = frozenset({"inf", "infinity"})


def _overflows(text: str) -> bool:
    """Whether ``text`` is a number too large for a float (it parses as ±inf, yet is not
    written as an infinity)."""
    try:
        number = float(text)
    except ValueError:
        return False
    return np.isinf(number) and text.lower().lstrip("+-") not in INF_TEXT


def _not_a_number(path: Path, row: int, column: str, text: str) -> CurveSetFormatError:
    if _overflows(text):
        shown = text if len(text) <= 40 else f"{text[:20]}…{text[-12:]}"
        return CurveSetFormatError(
            f"{cell(path, row, column)}{shown!r} is beyond the largest number a float holds "
            f"(±{np.finfo(np.float64).max:.4g}), so it would read as inf, a diverged run: "
            "write inf (or nan) if the run diverged, else rescale the value")
    hint = ""
    if text.lower() in ("na", "n/a", "null", "none", "-"):
        hint = ("; write nan (or inf) for a diverged value, or leave the cell empty for an "
                "epoch the run did not reach")
    return CurveSetFormatError(f"{cell(path, row, column)}{text!r} is not a number{hint}")


def _text_column(text: pd.Series, path: Path, column: str, first: int = 0
                 ) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Strings → (numbers, observed); an empty cell is unobserved, a non-number an error
    (``first``: the file's row of ``text``'s first cell, 0-based)."""
    numbers, observed, bad, stripped = _text_values(text)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise _not_a_number(path, first + row, column, str(stripped.iloc[row]))
    return numbers, observed


def text_block(cells: pd.DataFrame, path: Path, columns: Sequence[str], first: int = 0
                ) -> list[tuple[NDArray[np.float64], NDArray[np.bool_]]]:
    """:func:`_text_column` of every column in ``columns``, converted in one pass (a wide table
    has 10^5 curve columns; one pandas call per column took seconds per thousand); ``first``:
    the file's row of ``cells``' first row, 0-based."""
    n = len(cells)
    flat = pd.Series(cells[list(columns)].to_numpy(dtype=object).ravel(order="F"))
    numbers, observed, bad, stripped = _text_values(flat)
    if bad.any():
        k = int(np.flatnonzero(bad)[0])  # column-major: the first column with a bad cell
        raise _not_a_number(path, first + k % n, columns[k // n], str(stripped.iloc[k]))
    values = numbers.reshape((n, len(columns)), order="F")
    seen = observed.reshape((n, len(columns)), order="F")
    return [(values[:, j], seen[:, j]) for j in range(len(columns))]


def arrow_column(array: pa.ChunkedArray | pa.Array, path: Path, column: str, first: int = 0
                  ) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """A Parquet column → (numbers, observed): null is unobserved, NaN an observed value
    (``first``: the file's row of the column's first cell, 0-based)."""
    if pa.types.is_dictionary(array.type):  # a pandas categorical: read as its values
        array = array.cast(array.type.value_type)
    if pa.types.is_string(array.type) or pa.types.is_large_string(array.type):
        return _text_column(array.to_pandas(), path, column, first)
    if not (pa.types.is_floating(array.type) or pa.types.is_integer(array.type)
            or pa.types.is_decimal(array.type)):  # a decimal (SQL NUMERIC) is read as a float
        raise CurveSetFormatError(f"{cell(path, column=column)}type {array.type} is not a number")
    observed = ~np.asarray(array.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    values = np.asarray(array.cast(pa.float64()).fill_null(np.nan).to_numpy(zero_copy_only=False),
                        dtype=np.float64)
    return values, observed
