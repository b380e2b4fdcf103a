"""Reading a user's CSV or Parquet table block by block, so that memory is bounded by what the
caller keeps, not by the file's decompressed text (a 1 MB ``.csv.gz`` of one repeated line
expands to 10^8 rows: read whole, it took 9 GB before its second row was refused as a repeat).

Cells are read and checked as :func:`curvecast.datasets.table_io.read_table` reads them (the
same numbers, the same errors naming file, row and column); each block says its first row.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curvecast.curves import CurveSetFormatError
from curvecast.datasets.table_io import (
    OPENERS,
    NumericColumns,
    arrow_column,
    check_csv_shape,
    is_parquet,
    text_block,
)

__all__ = ["BLOCK_BYTES", "BLOCK_ROWS", "Block", "read_blocks"]

#: Bytes of CSV text parsed at a time (about 2·10^5 rows of a long table).
BLOCK_BYTES = 1 << 22
#: Rows read at a time where a block is counted in rows (Parquet, and the pandas CSV reader).
BLOCK_ROWS = 1 << 18

#: ``(first, text, (values, observed))``: the block's first row in the file (0-based), its
#: ``text`` columns (a DataFrame of n rows) and its ``numeric`` columns (arrays (n, k)).
Block = tuple[int, pd.DataFrame, NumericColumns]

#: Compressed CSV suffixes Arrow decompresses itself (``.xz`` it cannot: pandas reads those).
_ARROW_CODECS = {".gz": "gzip", ".bz2": "bz2"}


def read_blocks(path: Path, numeric: Sequence[str], text: Sequence[str]
                ) -> Generator[Block, None, None]:
    """Yield ``path``'s rows in blocks (CSV, or Parquet by its suffix; the caller has read its
    header with :func:`~curvecast.datasets.table_io.read_columns`, whose columns are each in
    ``numeric`` or ``text``).

    A ``text`` column is read as written (an empty cell is missing; a CSV column as strings,
    a Parquet column as pandas reads it); a ``numeric`` column as ``(values, observed)`` (an
    empty cell or null is not observed; ``nan`` and ``inf`` are values, a number beyond
    float64's range such as ``1e400`` an error).

    Raises:
        CurveSetFormatError: an unreadable file, a row of more fields than the header, or a
            cell of a ``numeric`` column that is not a number (naming file, row and column), as
            soon as the block holding it is read.
    """
    try:
        if is_parquet(path):
            yield from _parquet_blocks(path, numeric, text)
        else:
            done = 0
            try:
                for block in _arrow_csv_blocks(path, numeric, text):
                    yield block
                    done = block[0] + len(block[1])
            except (pa.ArrowException, OSError, EOFError, ValueError) as err:
                if isinstance(err, CurveSetFormatError):
                    raise
                # a row Arrow does not parse (a short or long row, a stray quote): pandas
                # reads it as read_table does, after the check that no row is too long
                check_csv_shape(path, rows=True)
                yield from _pandas_csv_blocks(path, numeric, text, skip=done)
    except (pa.ArrowException, OSError, EOFError, ValueError, UnicodeDecodeError) as err:
        if isinstance(err, CurveSetFormatError):
            raise
        raise CurveSetFormatError(f"{path}: not a readable table ({err})") from None


def _numbers(cells: pa.Table | pd.DataFrame, path: Path, numeric: Sequence[str], first: int
             ) -> NumericColumns:
    """A block's ``numeric`` columns as ``(values, observed)`` arrays of shape (n, k)."""
    if isinstance(cells, pd.DataFrame):
        parts = text_block(cells, path, numeric, first)
    else:
        parts = []
        for c in numeric:
            column = cells.column(c)
            try:  # Arrow's parser, as read_table's; a cell it does not take is read as text
                floats = pc.cast(column, pa.float64())
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                floats = None
            if floats is not None:
                observed = ~np.asarray(floats.is_null().to_numpy(zero_copy_only=False), bool)
                values = np.asarray(floats.fill_null(np.nan).to_numpy(zero_copy_only=False),
                                    dtype=np.float64)
                # "nan(1)" and "1e400" (read as inf): the text path refuses them
                if np.isfinite(values[observed]).all():
                    parts.append((values, observed))
                    continue
            strings = pd.Series(column.to_pandas(), dtype=object)
            parts.append(text_block(pd.DataFrame({c: strings}), path, [c], first)[0])
    return _stacked(parts, len(cells))


def _stacked(parts: Sequence[tuple[np.ndarray, np.ndarray]], n: int) -> NumericColumns:
    """Columns ``(values, observed)`` of ``n`` rows each as one ``(values, observed)`` pair of
    arrays of shape ``(n, len(parts))``."""
    values = np.stack([p[0] for p in parts], axis=1) if parts else np.empty((n, 0))
    observed = np.stack([p[1] for p in parts], axis=1) if parts else np.empty((n, 0), bool)
    return values, observed


def _arrow_csv_blocks(path: Path, numeric: Sequence[str], text: Sequence[str]
                      ) -> Iterator[Block]:
    """The CSV's blocks parsed by Arrow, every cell as a string (an empty one as null)."""
    import pyarrow.csv as pacsv

    columns = [*text, *numeric]
    suffix = path.suffix.lower()
    if suffix not in _ARROW_CODECS and suffix in (".zip", ".zst", ".tar", *OPENERS):
        raise ValueError(f"{suffix} is read by pandas")  # as read_table leaves it to pandas
    # Arrow's own decompression: a Python file object would be read from Arrow's threads
    with pa.input_stream(str(path), compression=_ARROW_CODECS.get(suffix)) as handle:
        reader = pacsv.open_csv(
            handle, read_options=pacsv.ReadOptions(use_threads=False, block_size=BLOCK_BYTES),
            parse_options=pacsv.ParseOptions(newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                include_columns=columns, column_types={c: pa.string() for c in columns},
                null_values=[""], strings_can_be_null=True, quoted_strings_can_be_null=True))
        first = 0
        for batch in reader:
            cells = pa.Table.from_batches([batch])
            # as categories: 10^5 rows of few ids are not 10^5 Python strings
            rest = pd.DataFrame({c: cells.column(c).dictionary_encode().to_pandas()
                                 for c in text}, index=pd.RangeIndex(len(cells)))
            yield first, rest, _numbers(cells, path, numeric, first)
            first += len(cells)


def _pandas_csv_blocks(path: Path, numeric: Sequence[str], text: Sequence[str], skip: int
                       ) -> Iterator[Block]:
    """The CSV's blocks read by pandas as text (after the first ``skip`` rows)."""
    first = 0
    with pd.read_csv(path, usecols=[*text, *numeric], dtype=str, keep_default_na=False,
                     na_values=[""], chunksize=BLOCK_ROWS) as chunks:
        for chunk in chunks:
            n = len(chunk)
            if first + n > skip:
                chunk = chunk.iloc[max(skip - first, 0):]
                start = max(first, skip)
                rest = chunk[list(text)].reset_index(drop=True)
                yield start, rest, _numbers(chunk[list(numeric)], path, numeric, start)
            first += n


def _parquet_blocks(path: Path, numeric: Sequence[str], text: Sequence[str]
                    ) -> Iterator[Block]:
    """The Parquet file's row groups, in batches of at most :data:`BLOCK_ROWS` rows."""
    first = 0
    for batch in pq.ParquetFile(path).iter_batches(batch_size=BLOCK_ROWS,
                                                   columns=[*text, *numeric]):
        cells = pa.Table.from_batches([batch])
        rest = cells.select(list(text)).to_pandas(ignore_metadata=True)
        parts = [arrow_column(cells.column(c), path, c, first) for c in numeric]
        yield first, rest, _stacked(parts, len(cells))
        first += len(cells)
