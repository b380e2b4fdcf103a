"""A CurveSet on disk: one Parquet file, written atomically, read back with validation.

The file is a long table ``(config_id, epoch, value, seconds)`` with one row per observed epoch;
its metadata holds the metric, direction, epoch axis, provenance, the diverged value and the
config table (as an Arrow IPC stream, so dtypes and floats survive exactly).
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any, NamedTuple

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from curvecast.curves.atomic_write import write_atomically
from curvecast.curves.direction import check_diverged_value
from curvecast.curves.errors import CurveSetFormatError
from curvecast.curves.errors import where as _where
from curvecast.curves.long import machine_memory

FORMAT_VERSION = "1"
_META_PREFIX = b"curvecast."
_TEST_COLUMN = "__curvecast_test_value__"
_LONG_COLUMNS = ("config_id", "epoch", "value", "seconds")


class StoredCurves(NamedTuple):
    """What a curvecast Parquet file holds, as :meth:`CurveSet.from_long` takes it and
    :meth:`CurveSet.save` gives it (``direction`` is ``"maximize"`` or ``"minimize"``; ``source``
    names the file in messages; ``test_values`` maps every config id to its test value, NaN
    where there is none)."""

    long: pd.DataFrame
    configs: pd.DataFrame
    metric: str
    direction: str
    epochs: list[int]
    test_values: dict[str, float] | None
    provenance: dict[str, Any]
    diverged_value: float | None
    source: str


def _storable(column: pd.Series) -> bool:
    """Whether Arrow can store ``column`` on its own."""
    try:
        pa.Array.from_pandas(column)
    except (pa.ArrowException, TypeError, ValueError):
        return False
    return True


def write_parquet(curves: StoredCurves, path: str | os.PathLike[str]) -> Path:
    """Write ``curves`` to ``path`` (see :meth:`CurveSet.save`)."""
    path = Path(path)
    if not path.parent.exists():
        raise FileNotFoundError(f"{path}: folder {str(path.parent)!r} does not exist")
    if path.is_dir():
        raise IsADirectoryError(f"{path}: is a folder; give the name of a file to write")
    table = pa.Table.from_pandas(curves.long, preserve_index=False)
    configs = curves.configs.copy()
    tests = curves.test_values or {}
    configs[_TEST_COLUMN] = [tests.get(config, float("nan")) for config in configs.index]
    try:
        config_table = pa.Table.from_pandas(configs.reset_index(), preserve_index=False)
    except (pa.ArrowException, TypeError, ValueError) as err:  # a column Arrow cannot store
        column = next((c for c in curves.configs.columns if not _storable(curves.configs[c])),
                      None)
        which = f"config column {column!r}" if column is not None else "the config table"
        raise ValueError(f"{path}: {which} cannot be saved in Parquet ({err}); turn it into "
                         "numbers or text first") from None
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, config_table.schema) as writer:
        writer.write_table(config_table)
    meta = {
        b"curvecast.format_version": FORMAT_VERSION.encode(),
        b"curvecast.metric": curves.metric.encode(),
        b"curvecast.direction": curves.direction.encode(),
        b"curvecast.epochs": json.dumps(list(curves.epochs)).encode(),
        b"curvecast.provenance": json.dumps(dict(curves.provenance), default=str).encode(),
        b"curvecast.diverged_value": json.dumps(curves.diverged_value).encode(),
        b"curvecast.configs": sink.getvalue(),
    }
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), **meta})
    write_atomically(path, lambda name: pq.write_table(table, name, compression="zstd"))
    return path


#: Bytes of memory reading one row of a curve table takes at its peak (Arrow's columns, then
#: pandas'; measured: 3.2 GB for 3e7 rows).
READ_BYTES_PER_ROW = 100


def _check_rows(rows: int, size: int, n_configs: int, n_epochs: int, source: str) -> None:
    """Refuse a curve table of ``rows`` rows and ``size`` bytes decoded, before it is decoded,
    when the file's own configs x epochs cannot hold them (one row per observed cell) or when
    reading them would take more than this machine's memory (``size``: more than half of it):
    a few KB of Parquet (one row repeated, run-length encoded; one config id of 1e9 letters,
    compressed) can declare 1e9 rows or bytes, and decoding them exhausted the machine (a
    security review).

    Raises:
        CurveSetFormatError: naming the file, its rows and why.
    """
    if rows > n_configs * n_epochs:
        raise CurveSetFormatError(f"{source}: its curve table has {rows} rows, more than its "
                                  f"{n_configs} config(s) x {n_epochs} epochs can hold (one row "
                                  "per observed epoch): not a file curvecast wrote")
    memory = machine_memory()
    if memory > 0 and rows * READ_BYTES_PER_ROW > memory:
        raise CurveSetFormatError(f"{source}: its curve table has {rows} rows, too many to read "
                                  f"in this machine's memory ({memory / 2**30:.3g} GiB)")
    if memory > 0 and 2 * size > memory:
        raise CurveSetFormatError(f"{source}: its curve table takes {size / 2**30:.3g} GiB "
                                  "decoded, more than half this machine's memory "
                                  f"({memory / 2**30:.3g} GiB)")


def check_decoded_size(path: Path) -> None:
    """Refuse, from its footer and before it is decoded, a Parquet table whose rows x columns
    (8 bytes a cell at the least, once read) or whose declared decoded size take more than half
    this machine's memory: a few KB of Parquet (a row repeated, run-length encoded) can
    declare 1e9 rows (a security review).  An unreadable footer is left to the reader.

    Raises:
        CurveSetFormatError: naming the file, its size and why.
    """
    memory = machine_memory()
    if memory <= 0:
        return
    try:
        with pq.ParquetFile(path) as footer:
            meta = footer.metadata
    except (pa.ArrowException, OSError):
        return
    cells = meta.num_rows * meta.num_columns
    size = max(8 * cells, sum(meta.row_group(i).total_byte_size
                              for i in range(meta.num_row_groups)))
    if 2 * size > memory:
        raise CurveSetFormatError(f"{path}: its table has {meta.num_rows} rows x "
                                  f"{meta.num_columns} columns ({size / 2**30:.3g} GiB decoded), "
                                  f"more than half this machine's memory "
                                  f"({memory / 2**30:.3g} GiB)")


def read_parquet(path: str | os.PathLike[str]) -> StoredCurves:
    """Read what ``path`` holds (see :meth:`CurveSet.load`), before the CurveSet checks it."""
    path = Path(path)
    source = str(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: {'a folder, not a file' if path.is_dir() else 'no such file'}")
    try:  # opened once: the footer and the table are of one version of a file being replaced
        handle = path.open("rb")
    except OSError as err:
        raise CurveSetFormatError(f"{source}: not a readable Parquet file ({err})") from None
    with handle:
        return _read_open(handle, source)


def _read_open(handle: Any, source: str) -> StoredCurves:
    """:func:`read_parquet` of the open file ``handle`` (``source``: its name in messages)."""
    try:  # the footer only: the curve table is decoded once its size is known to be sane
        parquet = pq.ParquetFile(handle)
        schema, rows = parquet.schema_arrow, parquet.metadata.num_rows
        size = sum(parquet.metadata.row_group(i).total_byte_size
                   for i in range(parquet.metadata.num_row_groups))
    except (pa.ArrowException, OSError) as err:
        raise CurveSetFormatError(f"{source}: not a readable Parquet file ({err})") from None
    meta = schema.metadata or {}

    def get(key: str) -> bytes:
        try:
            return meta[_META_PREFIX + key.encode()]
        except KeyError:
            raise CurveSetFormatError(
                f"{_where(source, field_=key)}missing from the file's metadata: "
                "not a curvecast CurveSet file"
            ) from None

    version = get("format_version").decode()
    if version != FORMAT_VERSION:
        raise CurveSetFormatError(f"{_where(source, field_='format_version')}unsupported "
                                  f"version {version!r} (this curvecast reads {FORMAT_VERSION})")
    missing = [c for c in _LONG_COLUMNS if c not in schema.names]
    if missing:
        raise CurveSetFormatError(f"{source}: wrong schema, missing column(s) {missing} "
                                  f"(has {schema.names})")
    try:
        epochs = json.loads(get("epochs"))
        provenance = json.loads(get("provenance"))
        diverged_value = json.loads(get("diverged_value"))
        configs = pa.ipc.open_stream(get("configs")).read_all().to_pandas()
        metric, direction = get("metric").decode(), get("direction").decode()
    except (ValueError, pa.ArrowException) as err:  # UnicodeDecodeError is a ValueError
        raise CurveSetFormatError(f"{source}: corrupt curvecast metadata ({err})") from None
    if not (isinstance(epochs, list)
            and all(isinstance(e, int) and not isinstance(e, bool) for e in epochs)):
        raise CurveSetFormatError(f"{_where(source, field_='epochs')}not a list of whole "
                                  f"numbers: {str(epochs)[:80]}")
    if not isinstance(provenance, dict):
        raise CurveSetFormatError(f"{_where(source, field_='provenance')}not a JSON object")
    try:
        diverged_value = check_diverged_value(diverged_value)
    except ValueError as err:
        mend = ("; saved by a curvecast before stop 25, which took it: import the source again "
                "with a finite diverged value, or with none"
                if isinstance(diverged_value, float) else "")
        raise CurveSetFormatError(f"{_where(source, field_='diverged_value')}{err}{mend}"
                                  ) from None
    if "config_id" not in configs.columns:
        raise CurveSetFormatError(f"{_where(source, field_='config_id')}missing from the "
                                  "config table")
    configs = configs.set_index("config_id")
    tests = configs.pop(_TEST_COLUMN) if _TEST_COLUMN in configs.columns else None
    _check_rows(rows, size, len(configs), len(epochs), source)
    try:
        long = parquet.read().to_pandas()
    except (pa.ArrowException, OSError) as err:
        raise CurveSetFormatError(f"{source}: not a readable Parquet file ({err})") from None
    for col, kind in (("value", "f"), ("seconds", "f"), ("epoch", "i")):
        if long[col].dtype.kind != kind:
            raise CurveSetFormatError(f"{_where(source, field_=col)}wrong type "
                                      f"{long[col].dtype} in the curve table")
    return StoredCurves(
        long, configs, metric=metric, direction=direction,
        epochs=epochs,
        test_values=None if tests is None else dict(zip(configs.index, tests, strict=True)),
        provenance=provenance, diverged_value=diverged_value, source=source,
    )
