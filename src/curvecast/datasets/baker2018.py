"""Loader for the learning curves published with Baker et al. 2017/2018.

B. Baker, O. Gupta, R. Raskar, N. Naik, *Accelerating Neural Architecture Search using Performance
Prediction* (arXiv 1705.10823; ICLR 2018 workshop).  The authors published their curves in the
repository MITAutoML/accelerating_nas (commit 82ed099d8ef1c8b2f4b362232be72cbc55c36d69, MIT
licence).  Three files are understood, recognised by their columns:

========================  ======  ============  ===============  =========  ==================
file                      kind    configs       curve columns    metric     direction
========================  ======  ============  ===============  =========  ==================
metaqnn_cifar10.csv       metaqnn 1000          acc_1 … acc_20   val_accuracy  maximize
deep_resnets_tiny…csv     resnet  684           acc_0 … acc_140  val_accuracy  maximize
lstm_ptb.csv              lstm    280           ep_0 … ep_59     val_perplexity minimize
========================  ======  ============  ===============  =========  ==================

Column ``acc_n`` / ``ep_n`` is the value after epoch n; epoch 0 (the untrained network, ResNets and
LSTMs) is kept.  An empty cell is an unobserved epoch; ``nan`` or ``inf`` is a diverged run, as in
every curvecast table (the published files hold none).

The config table keeps the file's hyperparameter columns and adds ``n_params`` and ``n_layers``:

* **MetaQNN**: ``n_params`` = the published ``num_params`` (weights only, see
  :func:`curvecast.space.paper_param_count`, which reproduces it); ``n_layers`` = the layers of
  ``net`` except dropout (:func:`curvecast.space.describe_net`; equals the published ``depth`` on
  every row), plus ``n_conv``, ``n_pool``, ``n_fc``, ``n_dropout``, ``gap``, ``final_size`` and
  ``n_params_torch`` (the exact count of the model curvecast would build, with biases).
* **ResNets**: ``n_layers`` = 6·num_blocks + 2; ``n_params`` = :func:`resnet_n_params`.
* **LSTMs**: ``n_layers`` = ``n_layer``; ``n_params`` = :func:`lstm_n_params`.

The parameter counts of ResNets and LSTMs are not published; the formulas below are our
reconstruction of the standard models the paper names, documented so they can be replaced.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from curvecast.curves import CurveSet, CurveSetFormatError, Direction
from curvecast.datasets.table_io import cell, read_table
from curvecast.space.metaqnn import describe_net

__all__ = [
    "BAKER2018_PUBLISHER",
    "LSTM_VOCABULARY",
    "RESNET_CLASSES",
    "Baker2018Kind",
    "baker2018_kind",
    "load_baker2018",
    "lstm_n_params",
    "resnet_n_params",
]

#: Where the files come from (stored in every loaded CurveSet's provenance).
BAKER2018_PUBLISHER: Mapping[str, str] = {
    "repository": "MITAutoML/accelerating_nas",
    "commit": "82ed099d8ef1c8b2f4b362232be72cbc55c36d69",
    "license": "MIT",
    "paper": "Baker, Gupta, Raskar, Naik. Accelerating Neural Architecture Search using "
             "Performance Prediction. arXiv:1705.10823 (ICLR 2018 workshop)",
}
#: Vocabulary size of the paper's Penn Treebank language models.
LSTM_VOCABULARY = 400
#: TinyImageNet classes.
RESNET_CLASSES = 200
#: The config columns that are the paper's architecture features (AP).
ARCHITECTURE_COLUMNS = ("n_params", "n_layers")


@dataclass(frozen=True)
class Baker2018Kind:
    """One of the three published file schemas.

    Attributes:
        name: ``"metaqnn"``, ``"resnet"`` or ``"lstm"`` (also the config-id prefix).
        columns: the non-curve columns the file must have.
        prefix: curve column prefix (``"acc_"`` or ``"ep_"``).
        metric: metric name of the CurveSet.
        direction: whether larger metric values are better.
        diverged_value: value a NaN/inf observation counts as (chance accuracy; None for
            perplexity, where the worst observed value is used).
        hyperparameters: the config columns that are training hyperparameters (the paper's HP
            features); the architecture features (AP) are ``n_params`` and ``n_layers``.
    """

    name: str
    columns: tuple[str, ...]
    prefix: str
    metric: str
    direction: Direction
    diverged_value: float | None
    hyperparameters: tuple[str, ...]


KINDS: tuple[Baker2018Kind, ...] = (
    Baker2018Kind("metaqnn", ("net", "num_params", "depth", "lr"), "acc_",
                  "val_accuracy", Direction.MAXIMIZE, 0.1, ("lr",)),
    Baker2018Kind("resnet", ("num_blocks", "num_filters", "filter_size", "lr", "ss"), "acc_",
                  "val_accuracy", Direction.MAXIMIZE, 1.0 / RESNET_CLASSES, ("lr", "ss")),
    Baker2018Kind("lstm", ("n_layer", "n_inputs", "base_lr", "ss"), "ep_",
                  "val_perplexity", Direction.MINIMIZE, None, ("base_lr", "ss")),
)


def _curve_columns(columns: Sequence[str], prefix: str) -> dict[int, str]:
    pattern = re.compile(rf"^{re.escape(prefix)}(\d+)$")
    found = {}
    for col in columns:
        match = pattern.match(col)
        if match:
            found[int(match.group(1))] = col
    return dict(sorted(found.items()))


def baker2018_kind(columns: Sequence[str], source: str = "<table>") -> Baker2018Kind:
    """The schema a table with ``columns`` follows.

    Raises:
        CurveSetFormatError: naming ``source`` and, for every schema, what it lacks.
    """
    missing: list[str] = []
    for kind in KINDS:
        lacks = [c for c in kind.columns if c not in columns]
        if not _curve_columns(columns, kind.prefix):
            lacks.append(f"{kind.prefix}<epoch> curve columns")
        if not lacks:
            return kind
        missing.append(f"{kind.name} lacks {lacks}")
    raise CurveSetFormatError(
        f"{source}: not one of the Baker et al. 2018 curve files (metaqnn_cifar10, "
        f"deep_resnets_tinyimagenet, lstm_ptb): " + "; ".join(missing)
        + f" (columns found: {list(columns)[:12]}{' …' if len(columns) > 12 else ''})"
    )


# ------------------------------------------------------------------------- parameter counts
def resnet_n_params(num_blocks: int, num_filters: int, filter_size: int, *,
                    in_channels: int = 3, n_classes: int = RESNET_CLASSES) -> int:
    """Weights of a CIFAR-style ResNet (He et al. 2016, section 4.2) of depth 6·num_blocks + 2.

    The model: a ``filter_size``² stem convolution to F = ``num_filters`` channels; three stages
    of ``num_blocks`` basic blocks (two ``filter_size``² convolutions each) with F, 2F, 4F
    channels; every convolution bias-free and followed by batch norm (2 parameters per channel);
    parameter-free identity shortcuts (option A: strided subsampling and zero-padded channels);
    global average pooling; a linear classifier 4F → ``n_classes`` with bias.  With k =
    filter_size, n = num_blocks::

        stem        in·F·k² + 2F
        stage s     Σ_blocks [ c_in·w_s·k² + 2w_s + w_s·w_s·k² + 2w_s ],  w_s = F·2^s,
                    c_in = w_{s−1} for the first block of stages 1 and 2, else w_s
        classifier  4F·n_classes + n_classes

    Raises:
        ValueError: a non-positive argument.
    """
    for name, v in (("num_blocks", num_blocks), ("num_filters", num_filters),
                    ("filter_size", filter_size), ("in_channels", in_channels),
                    ("n_classes", n_classes)):
        if int(v) < 1:
            raise ValueError(f"{name} must be positive, got {v}")
    k2, f = int(filter_size) ** 2, int(num_filters)
    total = in_channels * f * k2 + 2 * f
    c_in = f
    for stage in range(3):
        width = f * 2**stage
        for _ in range(int(num_blocks)):
            total += c_in * width * k2 + 2 * width + width * width * k2 + 2 * width
            c_in = width
    return total + 4 * f * n_classes + n_classes


def lstm_n_params(n_layer: int, n_inputs: int, *, vocabulary: int = LSTM_VOCABULARY) -> int:
    """Weights of a Zaremba-style LSTM language model with H = ``n_inputs`` cells per layer.

    The model: a V×H embedding (V = ``vocabulary``, embedding width H); ``n_layer`` LSTM layers
    of H cells, each with input and recurrent weights for four gates and one bias per gate
    (4·(H·H + H·H) + 4H); a linear decoder H → V with bias::

        V·H + n_layer·(8H² + 4H) + H·V + V

    Raises:
        ValueError: a non-positive argument.
    """
    for name, v in (("n_layer", n_layer), ("n_inputs", n_inputs), ("vocabulary", vocabulary)):
        if int(v) < 1:
            raise ValueError(f"{name} must be positive, got {v}")
    h, v = int(n_inputs), int(vocabulary)
    return v * h + int(n_layer) * (8 * h * h + 4 * h) + h * v + v


# ------------------------------------------------------------------------- config tables
def _metaqnn_configs(table: pd.DataFrame, source: str) -> pd.DataFrame:
    rows = []
    for i, net in enumerate(table["net"]):
        try:
            arch = describe_net(str(net), (3, 32, 32), 10)
        except ValueError as err:
            raise CurveSetFormatError(f"{cell(source, i, 'net')}{err}") from None
        rows.append(arch)
    arch_table = pd.DataFrame(rows, index=table.index)
    out = table[["net", "training_dataset", "lr"] if "training_dataset" in table else
                ["net", "lr"]].copy()
    out["num_params"] = table["num_params"].astype(np.int64)
    out["depth"] = table["depth"].astype(np.int64)
    out["n_params"] = table["num_params"].astype(np.int64)
    out["n_layers"] = arch_table["n_layers"].astype(np.int64)
    out["n_params_torch"] = arch_table["n_params"].astype(np.int64)
    for col in ("n_conv", "n_pool", "n_fc", "n_dropout", "gap", "final_size"):
        out[col] = arch_table[col].astype(np.int64)
    return out


#: The largest architecture size a file's row may give (blocks, filters, kernel width, layers,
#: cells): far above the published files' (at most 18 blocks, 64 filters, 1500 cells), far
#: below what would make the weight count a loop of hours or an overflow.
MAX_SIZE = 1_000_000


def _whole_sizes(table: pd.DataFrame, columns: tuple[str, ...], source: str) -> None:
    """Refuse a row whose architecture size in ``columns`` is not a whole number in
    1..:data:`MAX_SIZE`, naming the row and the column."""
    for column in columns:
        values = pd.to_numeric(table[column], errors="coerce").to_numpy(dtype=np.float64)
        bad = ~np.isfinite(values) | (values != np.round(values)) | (values < 1) | (
            values > MAX_SIZE)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            given = table[column].iloc[row]
            given = given.item() if isinstance(given, np.generic) else given
            raise CurveSetFormatError(f"{cell(source, row, column)}{given!r} is not a whole "
                                      f"number in 1..{MAX_SIZE}")


def _resnet_configs(table: pd.DataFrame, source: str) -> pd.DataFrame:
    _whole_sizes(table, ("num_blocks", "num_filters", "filter_size"), source)
    keep = [c for c in ("base_model", "training_dataset", "num_blocks", "num_filters",
                        "filter_size", "lr", "ss") if c in table]
    out = table[keep].copy()
    try:
        out["n_params"] = [resnet_n_params(int(b), int(f), int(k)) for b, f, k in
                           zip(table["num_blocks"], table["num_filters"], table["filter_size"],
                               strict=True)]
    except (ValueError, TypeError) as err:
        raise CurveSetFormatError(f"{source}: field 'num_blocks/num_filters/filter_size': "
                                  f"{err}") from None
    out["n_layers"] = 6 * table["num_blocks"].astype(np.int64) + 2
    return out


def _lstm_configs(table: pd.DataFrame, source: str) -> pd.DataFrame:
    _whole_sizes(table, ("n_layer", "n_inputs"), source)
    keep = [c for c in ("base_model", "training_dataset", "n_layer", "n_inputs", "base_lr", "ss")
            if c in table]
    out = table[keep].copy()
    try:
        out["n_params"] = [lstm_n_params(int(layer), int(h)) for layer, h in
                           zip(table["n_layer"], table["n_inputs"], strict=True)]
    except (ValueError, TypeError) as err:
        raise CurveSetFormatError(f"{source}: field 'n_layer/n_inputs': {err}") from None
    out["n_layers"] = table["n_layer"].astype(np.int64)
    return out


_CONFIGS = {"metaqnn": _metaqnn_configs, "resnet": _resnet_configs, "lstm": _lstm_configs}


# ------------------------------------------------------------------------- loader
def load_baker2018(csv_path: str | Path) -> CurveSet:
    """Load one of the paper's curve files as a :class:`CurveSet` (see the module docstring).

    Config ids are ``"<kind>-<row:04d>"`` (``"metaqnn-0000"``, ``"resnet-0683"``, ``"lstm-0279"``)
    in file order.  Provenance: ``source`` (the file name), ``sha256`` of the file, ``kind``, and
    the publisher's repository, commit, licence and paper citation, and ``columns``: which config
    columns are the paper's architecture features (``n_params``, ``n_layers``) and which are its
    hyperparameter features (MetaQNN ``lr``; ResNets ``lr``, ``ss``; LSTMs ``base_lr``, ``ss``),
    for :class:`curvecast.features.Featurizer`.

    Raises:
        FileNotFoundError: no such file.
        CurveSetFormatError: not a CSV, a schema none of the three files has (the message names the
            file and what each schema lacks), or non-numeric curve values.
    """
    path = Path(csv_path)
    source = str(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: {'a folder, not a file' if path.is_dir() else 'no such file'}")
    raw = path.read_bytes()
    try:
        table = pd.read_csv(path)
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as err:
        raise CurveSetFormatError(f"{source}: not a readable CSV file ({err})") from None
    kind = baker2018_kind([str(c) for c in table.columns], source)
    if table.empty:
        raise CurveSetFormatError(f"{source}: no rows below the header: no curves to load")
    curve_cols = _curve_columns([str(c) for c in table.columns], kind.prefix)
    epochs = np.array(list(curve_cols), dtype=np.int64)
    # as every curvecast table reads them: an empty cell is an epoch not reached, a written nan
    # (or inf) a diverged report, anything else not a number an error naming its row and column
    _, (matrix, observed) = read_table(path, list(curve_cols.values()))
    values = pd.DataFrame(matrix, columns=list(curve_cols.values()))
    for column in kind.hyperparameters:  # the paper's HP features: numbers
        numbers = pd.to_numeric(table[column], errors="coerce")
        bad = numbers.isna() & table[column].notna()
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise CurveSetFormatError(f"{cell(path, row, column)}"
                                      f"{table[column].iloc[row]!r} is not a number")
        table[column] = numbers
    if kind.direction is Direction.MINIMIZE:  # perplexities are > 0 (NaN/inf: diverged)
        low = values.to_numpy(dtype=np.float64)
        bad_cells = np.isfinite(low) & (low <= 0)
        if bad_cells.any():
            row, col = (int(x[0]) for x in np.nonzero(bad_cells))
            raise CurveSetFormatError(f"{cell(path, row, str(values.columns[col]))}"
                                      f"{kind.metric} {float(low[row, col])!r} is not > 0")
    ids = [f"{kind.name}-{i:04d}" for i in range(len(table))]
    table.index = pd.Index(ids, name="config_id")
    values.index = table.index
    configs = _CONFIGS[kind.name](table, source)
    rows, cols = np.nonzero(observed)
    long = pd.DataFrame({"config_id": np.asarray(ids, dtype=object)[rows],
                         "epoch": epochs[cols], "value": matrix[rows, cols]})
    provenance = {
        "source": path.name,
        "sha256": hashlib.sha256(raw).hexdigest(),
        "kind": kind.name,
        **BAKER2018_PUBLISHER,
        "columns": {"architecture": list(ARCHITECTURE_COLUMNS),
                    "hyperparameters": list(kind.hyperparameters)},
    }
    return CurveSet.from_long(long, configs, metric=kind.metric, direction=kind.direction,
                              epochs=epochs, provenance=provenance,
                              diverged_value=kind.diverged_value, source=source)
