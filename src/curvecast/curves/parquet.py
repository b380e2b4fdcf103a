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


def read_parquet(path: str | os.PathLike[str]) -> StoredCurves:
    """Read what ``path`` holds (see :meth:`CurveSet.load`), before the CurveSet checks it."""
    path = Path(path)
    source = str(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: {'a folder, not a file' if path.is_dir() else 'no such file'}")
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as err:
        raise CurveSetFormatError(f"{source}: not a readable Parquet file ({err})") from None
    meta = table.schema.metadata or {}

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
    missing = [c for c in _LONG_COLUMNS if c not in table.column_names]
    if missing:
        raise CurveSetFormatError(f"{source}: wrong schema, missing column(s) {missing} "
                                  f"(has {table.column_names})")
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
    long = table.to_pandas()
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
