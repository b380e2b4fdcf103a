"""``from_long_table`` reads a long CSV / Parquet table block by block: a bad row is refused when
its block is read, and memory is bounded by the rows kept, not by the file's decompressed text."""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import curvecast
from curvecast import CurveSetFormatError

REPEAT = "row 2 (line 3), column 'epoch': the epoch (1) repeats an earlier row's (config_id, epoch)"


def gzip_bomb(path: Path, rows: int, truncated: bool = False) -> Path:
    """A ``.csv.gz`` of one row repeated ``rows`` times (8 bytes a row decompressed);
    ``truncated``: its compressed stream cut short at the end, unreadable there."""
    block = b"a,1,0.5\n" * 1_000_000
    with gzip.open(path, "wb", compresslevel=1) as handle:
        handle.write(b"config_id,epoch,value\n")
        for _ in range(rows // 1_000_000):
            handle.write(block)
    if truncated:
        data = path.read_bytes()
        path.write_bytes(data[:-64])
    return path


def test_a_repeat_is_refused_before_the_rest_of_a_gzip_file_is_read(tmp_path: Path) -> None:
    # the whole file was decompressed first: the error was the broken end's, 16 MB later
    path = gzip_bomb(tmp_path / "obs.csv.gz", rows=2_000_000, truncated=True)
    with pytest.raises(CurveSetFormatError) as err:
        curvecast.from_long_table(path, "loss", "min")
    assert str(err.value) == f"{path}: {REPEAT}"


def test_a_gzip_bomb_is_refused_in_bounded_memory(tmp_path: Path) -> None:
    # 3·10^7 rows (240 MB of text in 1.3 MB): read whole, the import peaked at 2.7 GB (53 s)
    path = gzip_bomb(tmp_path / "obs.csv.gz", rows=30_000_000)
    assert path.stat().st_size < 2_000_000
    # the peak is read from /proc (VmHWM, of this process's memory since its exec): getrusage's
    # ru_maxrss is kept across exec, so it gave the forking pytest worker's peak (1.8 GB in CI)
    code = ("import re, curvecast\n"
            "try:\n"
            f"    curvecast.from_long_table({str(path)!r}, 'loss', 'min')\n"
            "except curvecast.CurveSetFormatError as err:\n"
            "    print(err)\n"
            "status = open('/proc/self/status').read()\n"
            "print(int(re.search(r'VmHWM:\\s+(\\d+) kB', status).group(1)) // 1024)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stderr
    message, peak_mb = out.stdout.strip().splitlines()
    assert message == f"{path}: {REPEAT}"
    assert int(peak_mb) < 800, peak_mb


@pytest.fixture
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Blocks of a few rows, so that a small file is read in many."""
    from curvecast.datasets import table_blocks

    monkeypatch.setattr(table_blocks, "BLOCK_BYTES", 64)
    monkeypatch.setattr(table_blocks, "BLOCK_ROWS", 3)


def long_csv(n_configs: int = 6, epochs: int = 5) -> tuple[str, np.ndarray]:
    values = np.round(np.linspace(0.1, 0.9, n_configs * epochs), 4).reshape(n_configs, epochs)
    lines = ["config_id,epoch,value"]
    lines += [f"c{c},{e + 1},{values[c, e]}" for c in range(n_configs) for e in range(epochs)]
    return "\n".join(lines) + "\n", values


@pytest.mark.usefixtures("small_blocks")
def test_a_table_of_many_blocks_loads_whole(tmp_path: Path) -> None:
    text, values = long_csv()
    (tmp_path / "obs.csv").write_text(text)
    with gzip.open(tmp_path / "obs.csv.gz", "wt") as handle:
        handle.write(text)
    for name in ("obs.csv", "obs.csv.gz"):
        got = curvecast.from_long_table(tmp_path / name, "acc", "max")
        assert got.config_ids == [f"c{c}" for c in range(6)]
        assert got.epochs.tolist() == [1, 2, 3, 4, 5]
        np.testing.assert_array_equal(got.values, values)


@pytest.mark.usefixtures("small_blocks")
@pytest.mark.parametrize(("at", "line", "message"), [
    # a repeat of row 2 in a later block (after the 30 rows)
    (30, "c0,2,0.5", "row 31 (line 32), column 'epoch': the epoch (2) repeats an earlier row's "
                     "(config_id, epoch)"),
    (20, "c9,1,", "row 21 (line 22), column 'value': the value is empty (a row is one "
                  "observation; write nan for a diverged run)"),
    # a short row: Arrow stops there, pandas reads on from the row Arrow had reached
    (20, "c9,1", "row 21 (line 22), column 'value': the value is empty (a row is one "
                 "observation; write nan for a diverged run)"),
    (20, "c9,1,0.5,7", "line 22 has 4 fields, the header 3"),
    (25, "c9,x,0.5", "row 26 (line 27), column 'epoch': 'x' is not a number"),
])
def test_a_bad_row_in_a_later_block_is_named(tmp_path: Path, at: int, line: str, message: str
                                             ) -> None:
    text, _ = long_csv()
    header, *rows = text.splitlines()
    rows.insert(at, line)
    path = tmp_path / "obs.csv"
    path.write_text("\n".join([header, *rows]) + "\n")
    with pytest.raises(CurveSetFormatError) as err:
        curvecast.from_long_table(path, "acc", "max")
    assert str(err.value) == f"{path}: {message}"


@pytest.mark.usefixtures("small_blocks")
def test_a_parquet_table_of_many_blocks(tmp_path: Path) -> None:
    _, values = long_csv()
    long = pd.DataFrame({"config_id": [f"c{c}" for c in range(6) for _ in range(5)],
                         "epoch": np.tile(np.arange(1, 6), 6), "value": values.ravel()})
    pq.write_table(pa.Table.from_pandas(long, preserve_index=False), tmp_path / "obs.parquet")
    got = curvecast.from_long_table(tmp_path / "obs.parquet", "acc", "max")
    np.testing.assert_array_equal(got.values, values)
    long.loc[7, "value"] = None
    pq.write_table(pa.Table.from_pandas(long, preserve_index=False), tmp_path / "bad.parquet")
    with pytest.raises(CurveSetFormatError, match=r"bad.parquet: row 8, column 'value': the "
                                                  r"value is null"):
        curvecast.from_long_table(tmp_path / "bad.parquet", "acc", "max")
