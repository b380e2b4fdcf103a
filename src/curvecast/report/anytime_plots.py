"""Any-time regret figure of the speedup experiments (PNG): regret of the search against the share
of full-training time spent, one line per rule.

Draws the ``anytime`` records of :func:`curvecast.experiments.speedup.run_speedup` (``curvecast
simulate --json``)::

    python -m curvecast.report.anytime_plots --title metaqnn_cifar10 --out DIR a.json b.json

A line starts where some config had been trained to the end in every ordering (before that the
regret is undefined in some orderings) and runs on to the full time (flat once the rule's search
has ended in every ordering); the band is ± one standard error over orderings.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from curvecast.curves import json_numbers
from curvecast.report.file_names import file_stem
from curvecast.report.plot_text import literal


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _label(record: Mapping[str, Any]) -> str:
    name = literal(f"{record['searcher']} + {record['stopper']}")
    return name if record.get("delta") is None else f"{name} Δ={record['delta']:g}"


def _series(record: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(fraction, mean, stderr) where every ordering had a complete config; NaN elsewhere."""
    frac = np.asarray(record["fraction"], dtype=np.float64)
    mean = np.array([np.nan if v is None else v for v in record["regret_mean"]], dtype=np.float64)
    err = np.array([0.0 if v is None else v for v in record["regret_stderr"]], dtype=np.float64)
    mean[np.asarray(record["found"], dtype=np.float64) < 1.0] = np.nan
    return frac, mean, err


def linear_threshold(top: float) -> float:
    """The symlog axis's linear range for regrets up to ``top`` (metric units): 10⁻³ times the
    power of ten at or above ``top``; 10⁻³ when ``top`` is 0 or not finite (no scale to go by)."""
    if not (np.isfinite(top) and top > 0):
        return 1e-3
    return float(10.0 ** (np.ceil(np.log10(top)) - 3))


def plot_anytime_regret(outputs: Sequence[Mapping[str, Any]], out_dir: Path | str, title: str
                        ) -> list[Path]:
    """Write ``<title>-anytime-regret.png`` (the title made a safe file name: :func:`file_stem`)
    from one or more ``run_speedup`` outputs.

    Args:
        outputs: outputs of :func:`~curvecast.experiments.speedup.run_speedup` over the same
            data; those without ``anytime`` records are skipped.
        out_dir: folder to write into (created).
        title: figure title and file-name prefix.

    Returns:
        The written path (empty when no output has any-time records).
    """
    records = [r for out in outputs for r in out.get("anytime") or []]
    if not records:
        return []
    needed = ("searcher", "stopper", "fraction", "regret_mean", "regret_stderr", "found")
    for i, record in enumerate(records):
        missing = [k for k in needed if not isinstance(record, Mapping) or k not in record]
        if missing:
            raise ValueError(f"anytime[{i}] of the result lacks {missing}: not a record "
                             "`curvecast simulate` writes")
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    cmap = plt.get_cmap("tab10")
    top = 0.0  # the highest regret drawn, band included
    for i, record in enumerate(records):
        frac, mean, err = _series(record)
        ok = np.isfinite(mean)
        if not ok.any():
            continue
        top = max(top, float(np.nanmax((mean + err)[ok])))
        color = cmap(i % 10)
        ax.plot(frac[ok], mean[ok], color=color, label=_label(record), lw=1.6)
        ax.fill_between(frac[ok], (mean - err)[ok], (mean + err)[ok], color=color, alpha=0.15,
                        lw=0)
    ax.set_xscale("log")
    # symlog: the shared warm-up's large regrets and the small late gaps between rules both show.
    # The linear part ends three decades under the power of ten above the highest regret, so
    # the metric's units do not matter: 1e-3 for an accuracy (a regret up to 1), but for a
    # metric in millionths a fixed 1e-3 drew every regret flat on zero (a review)
    linthresh = linear_threshold(top)
    ax.set_yscale("symlog", linthresh=linthresh, linscale=0.5)
    # headroom above the highest line and band: autoscaling ended the axis at it, so a flat
    # regret ran along the frame's top edge, hidden by it, and the band was cut (a review)
    ax.set_ylim(0.0, max(2.0 * top, linthresh) if np.isfinite(top) else None)
    ax.set_xlabel("time spent / time of training every config fully")
    ax.set_ylabel("regret (symlog)")  # a long label was cut off at the figure's edge
    one = all(r.get("n") == 1 for r in records)  # one ordering: no mean, no band
    ax.set_title(f"{literal(title)}: any-time regret "
                 f"({'one ordering' if one else 'mean ± s.e. over orderings'})\n"
                 "regret: how much worse the best found is than the true best", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{file_stem(title)}-anytime-regret.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return [path]


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m curvecast.report.anytime_plots --out DIR --title NAME RESULT.json ...``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--title", required=True)
    args = parser.parse_args(argv)
    outputs = [json_numbers.loads(p.read_text(), keep=json_numbers.RESULT_TEXT)
               for p in args.results]
    for path in plot_anytime_regret(outputs, args.out, args.title):
        print(path)


if __name__ == "__main__":
    main()
