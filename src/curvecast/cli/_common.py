"""What every ``curvecast`` command shares: the consoles, the one-line errors, loading curves,
strict JSON, option types."""

from __future__ import annotations

import contextlib
import functools
import math
import os
import signal
import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ParamSpec, TypeVar

import typer
from rich.markup import escape
from rich.text import Text

from curvecast import defaults
from curvecast.curves import CurveSet, CurveSetFormatError, json_numbers
from curvecast.curves.atomic_write import (
    check_writable_folder,
    is_new_or_regular,
    write_atomically,
)
from curvecast.report.plot_text import printable
from curvecast.report.terminal import UnwrappedConsole

if TYPE_CHECKING:
    from curvecast.store import StoredTrial

err_console = UnwrappedConsole(stderr=True)
console = UnwrappedConsole()

P = ParamSpec("P")
R = TypeVar("R")


def shown(text: object) -> Text:
    """``text`` as the terminal may show it: control characters and bidirectional overrides
    (an escape sequence in a metric name, a study's settings, a decision's reason or a file's
    provenance: a colleague's file could set the window title or clear the screen) are written
    as escapes (``\\x1b``), and nothing is read as rich markup."""
    return Text(printable(str(text)))


def fail(message: str) -> typer.Exit:
    """Print ``error: message`` on one line (taken literally: "[ray]" is not rich markup; line
    breaks become spaces; control characters escaped) and exit code 2."""
    message = " ".join(str(shown(message)).split())
    err_console.print(f"[bold red]error:[/] {escape(message)}", markup=True, highlight=False,
                      soft_wrap=True)
    return typer.Exit(code=2)


def friendly_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn the errors bad input raises into a one-line message and exit code 2."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except (CurveSetFormatError, ValueError, FileNotFoundError, KeyError) as err:
            text = err.args[0] if isinstance(err, KeyError) and err.args else err
            raise fail(str(text)) from None
        except RecursionError:  # JSON nested thousands deep (a hostile or broken file)
            raise fail("the input is nested too deeply to read (a JSON value inside thousands "
                       "of others): not a file curvecast or the tools it reads wrote") from None
        except OverflowError as err:  # a number in a file beyond what it can stand for
            raise fail(f"a number in the input is too large ({err})") from None
        except sqlite3.DatabaseError as err:  # a table or column dropped, a damaged page
            from curvecast.store.database import LOCKED, is_locked

            if is_locked(err):
                raise fail(f"the study database is {LOCKED}") from None
            raise fail(f"the database cannot be read as curvecast's ({err}): it is damaged, or "
                       "was changed by another program") from None
        except RuntimeError as err:  # a training process killed from outside (WorkerDied)
            from curvecast.execution.training import WorkerDied  # loaded by then: it raised

            if isinstance(err, WorkerDied):
                raise fail(str(err)) from None
            raise
        except MemoryError as err:  # e.g. --trials and --epochs so large no table fits
            raise fail(f"out of memory ({err or 'MemoryError'}): lower --trials, --epochs or "
                       "the size of the data") from None
        except ModuleNotFoundError as err:
            raise fail(f"{err}: {install_hint(err.name)}") from None
        except ImportError as err:  # curvecast's own: the message names the extra
            raise fail(str(err)) from None
        except OSError as err:  # no permission, a folder where a file goes, a name too long …
            where = f"{err.filename}: " if err.filename else ""
            raise fail(f"{where}{err.strerror or err}") from None

    return wrapper


class Terminated(KeyboardInterrupt):
    """SIGTERM (``kill``, ``timeout``, a batch scheduler's end of job), raised where Ctrl-C's
    KeyboardInterrupt would be: a long command ends the same way, its exit code 143."""


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """While inside, SIGTERM raises :class:`Terminated`, so a search or a collect stops its
    workers, keeps what is recorded and says how to resume, as on Ctrl-C (without this the
    process died silently, leaving its workers' semaphores behind).  Worker processes are
    spawned, so they do not inherit the handler.  Outside the main thread: nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def raise_terminated(signum: int, frame: object) -> None:
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def interrupted_exit(err: KeyboardInterrupt) -> typer.Exit:
    """The exit of a command stopped by Ctrl-C (130) or SIGTERM (143), as shells report them.
    From here on another Ctrl-C or SIGTERM ends the process at once with that code: what was
    recorded is kept, and an impatient second Ctrl-C no longer interrupts the worker pool's
    shutdown into a traceback (stop 33's review)."""
    code = 143 if isinstance(err, Terminated) else 130

    def leave_now(signum: int, frame: object) -> None:
        os._exit(code)

    with contextlib.suppress(ValueError):  # (not the main thread: signals stay as they are)
        signal.signal(signal.SIGINT, leave_now)
        signal.signal(signal.SIGTERM, leave_now)
    return typer.Exit(code=code)


def trial_counts(info: Mapping[str, Any]) -> dict[str, int]:
    """A study's trials counted by the state ``show`` lists (``info``: :meth:`Store.study_info`'s):
    the stored states, with the RUNNING trials whose owner is gone counted as ``interrupted``."""
    counts = {state: int(n) for state, n in info["trials"].items()}
    interrupted = int(info.get("interrupted", 0))
    if interrupted:
        counts["running"] -= interrupted
        counts["interrupted"] = interrupted
    return {state: n for state, n in sorted(counts.items()) if n}


def study_summary(trials: Sequence[StoredTrial], info: Mapping[str, Any]) -> list[str]:
    """What a study cost and found, as `search` ends with and `show` repeats: the complete and
    stopped trials' epochs against their full training, with the speedup (and the epochs the
    failed trials trained), and the best complete trial (``info``: :meth:`Store.study_info`'s)."""
    from curvecast.curves import Direction
    from curvecast.store import TrialState

    epochs = int(info["settings"].get("epochs") or 0)  # T; unknown for a study made elsewhere
    finished = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.STOPPED)]
    used = sum(len(t.values) for t in finished)
    failed = sum(len(t.values) for t in trials if t.state is TrialState.FAILED)
    lines = []
    if finished and used and epochs:
        full = len(finished) * epochs
        more = f"; {failed} more in failed trials" if failed else ""
        lines.append(f"epochs used: {used} of {full} for full training of the complete and "
                     f"stopped trials (speedup {full / used:.2f}x){more}")
    direction = Direction.parse(info["direction"])
    complete = [t for t in trials if t.state is TrialState.COMPLETE and t.values
                and math.isfinite(t.values[-1][1])]
    if complete:
        best = max(complete, key=lambda t: direction.sign * t.values[-1][1])
        test = "" if best.test_value is None else f", test {best.test_value:.4g}"
        lines.append(f"best: trial t{best.number}, {info['metric']} {best.values[-1][1]:.4g}{test}")
    return lines


#: The extra of curvecast that installs each optional package a command may need.
EXTRAS = {"torch": "torch", "mnist1d": "torch", "matplotlib": "plot", "optuna": "optuna",
          "ray": "ray"}


def install_hint(module: str | None) -> str:
    """How to install the package ``module`` (a dotted name, e.g. from
    ``ModuleNotFoundError.name``): the curvecast extra that provides it, if one does."""
    root = (module or "").split(".")[0]
    if root in EXTRAS:
        return f"pip install 'curvecast[{EXTRAS[root]}]'"
    return f"pip install {root}" if root else "install the missing package"


def require(module: str) -> None:
    """Refuse, before any work starts (e.g. in worker processes), when the optional package
    ``module`` is not installed: a ``ModuleNotFoundError`` that :func:`friendly_errors` turns
    into one line naming the extra."""
    from importlib.util import find_spec

    try:
        found = find_spec(module) is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        raise ModuleNotFoundError(f"No module named {module!r}", name=module)


def _same_file(a: Path, b: Path) -> bool:
    """Whether ``a`` and ``b`` name one file (through links and relative paths)."""
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        return False
    return a.resolve() == b.resolve()


def check_out(path: Path | None) -> None:
    """Refuse, before any work, a file to write whose folder is missing or that is a folder, and
    ``-`` (only ``--json`` writes into standard output: :func:`check_json_out`)."""
    if path is None:
        return
    if str(path) == "-":
        raise ValueError("-: only a JSON result (--json -) can go to standard output; give the "
                         "name of a file to write")
    _check_parent(path)
    if path.is_dir():
        raise ValueError(f"{path}: is a folder; give the name of a file to write")
    if _is_sqlite(path):
        raise ValueError(f"{path}: is an SQLite database (a study's?); writing here would "
                         "replace it: give the name of another file")


def _is_sqlite(path: Path) -> bool:
    """Whether ``path`` is an existing file that starts as an SQLite database does (a stream is
    not read: opening ``/dev/stdout`` for reading would wait on the pipe)."""
    if not path.is_file():
        return False
    try:
        with path.open("rb") as handle:
            return handle.read(16) == b"SQLite format 3\x00"
    except OSError:
        return False


def refuse_inputs(path: Path, reads: Sequence[Path | None], what: str) -> None:
    """Refuse to write ``what`` to ``path`` when it is one of the files the command reads
    (``reads``): the input would be replaced by what was made of it."""
    for source in reads:
        if source is not None and _same_file(path, source):
            raise ValueError(f"{path}: is the file this command reads; write {what} to another "
                             "file")


#: Suffixes of other formats that a Parquet file to write must not carry.
_NOT_PARQUET = {".csv", ".tsv", ".txt", ".json", ".jsonl", ".xlsx", ".xls", ".feather", ".pkl",
                ".pickle", ".npz", ".npy", ".h5", ".hdf5", ".db", ".sqlite", ".sqlite3"}


def check_parquet_out(path: Path, reads: Sequence[Path | None] = ()) -> None:
    """:func:`check_out` for a CurveSet file: also refuse a name whose suffix says another
    format (``demo.csv`` would hold Parquet), or a file the command reads (``reads``: the input
    would be replaced by what was made of it)."""
    refuse_inputs(path, reads, "the CurveSet")
    check_out(path)
    if path.suffix.lower() in _NOT_PARQUET:
        raise ValueError(f"{path}: a CurveSet is written as Parquet; name the file .parquet "
                         "(pandas reads it with pd.read_parquet, and `curvecast data summary` "
                         "shows it)")


#: Suffixes of data formats a JSON result must not be written under (it would replace such a file,
#: or name a file after a format it does not hold).
_NOT_JSON = (_NOT_PARQUET - {".json", ".jsonl", ".txt"}) | {".parquet", ".pq", ".html", ".htm",
                                                            ".db", ".sqlite", ".sqlite3", ".png"}


def check_json_out(path: Path | None, reads: Sequence[Path | None] = ()) -> None:
    """:func:`check_out` for a JSON result (``--json``): also refuse a file the command reads
    (``reads``: the data would be replaced by the result) and a name whose suffix says another
    format (``--json runs.parquet``).  ``-`` is standard output (:func:`json_to_stdout`)."""
    if path is None or json_to_stdout(path):
        return
    refuse_inputs(path, reads, "the JSON result")
    check_out(path)
    if path.suffix.lower() in _NOT_JSON:
        raise ValueError(f"{path}: the result is JSON; name the file .json")


def json_to_stdout(path: Path | None) -> bool:
    """Whether ``--json`` names standard output: ``-``, or the very file standard output is
    (``/dev/stdout``).  The JSON is then all the command prints there; its tables and messages
    go to standard error (:func:`human_console`), so ``--json - | jq`` reads valid JSON."""
    if path is None:
        return False
    if str(path) == "-":
        return True
    import sys

    try:
        return os.path.samestat(os.stat(path), os.fstat(sys.stdout.fileno()))
    except (OSError, ValueError, AttributeError):  # no such file; no real stdout (a test's)
        return False


def human_console(json_out: Path | None) -> UnwrappedConsole:
    """Where a command that writes ``json_out`` prints its tables and messages: standard
    output, or standard error when the JSON goes to standard output."""
    return err_console if json_to_stdout(json_out) else console


def write_json_result(json_out: Path, output: Mapping[str, Any]) -> None:
    """The JSON result into ``json_out`` (whole or not at all) and a line saying where; into
    standard output as it is for ``-`` or ``/dev/stdout``."""
    text = dumps(output, indent=1)
    if json_to_stdout(json_out):
        import sys

        sys.stdout.write(text + "\n")
        sys.stdout.flush()
        return
    write_text_atomic(json_out, text)
    console.print(f"results -> {json_out}")


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` whole or not at all, through a link, straight into a stream
    (:func:`~curvecast.curves.atomic_write.write_atomically`)."""

    def write(name: str) -> None:
        with open(name, "w", encoding="utf-8") as handle:
            handle.write(text)

    write_atomically(path, write)


#: Suffixes an HTML report may carry (anything else, e.g. ``x.png`` or ``x.json``, would name
#: the file after a format it does not hold).
_HTML = {".html", ".htm", ".xhtml"}


def check_html_out(path: Path) -> None:
    """:func:`check_out` for a report: also refuse a name whose suffix says another format."""
    check_out(path)
    if path.suffix.lower() not in _HTML:
        raise ValueError(f"{path}: the report is one HTML page; name the file .html (the "
                         "figures are embedded in it)")


def check_folder(path: Path | None) -> None:
    """Refuse, before any work, a folder to write figures into that is a file or whose parent
    folder is missing (the folder itself is made when needed)."""
    if path is None:
        return
    if path.exists() and not path.is_dir():
        raise ValueError(f"{path}: is a file; give a folder to write the figures into")
    if path.is_dir():
        check_writable_folder(path, path)
    else:
        _check_parent(path)


def _check_parent(path: Path) -> None:
    """Refuse a path whose folder is missing, or (a new or regular file) one no file can be
    made in; the folder of a link's target is the one written."""
    if not path.parent.is_dir():
        raise FileNotFoundError(f"{path}: folder {str(path.parent)!r} does not exist")
    if is_new_or_regular(path):  # a stream (/dev/stdout) is written into
        check_writable_folder(Path(os.path.realpath(path)).parent, path)


#: What a command that reads curves adds when a file is neither a CurveSet nor a paper file.
IMPORT_HINT = ("; a table, an Optuna study or a Ray Tune experiment of your own is converted "
               "first: curvecast data import table|long|optuna|ray … --out curves.parquet")


def _with_import_hint(err: CurveSetFormatError) -> CurveSetFormatError:
    """``err``, with :data:`IMPORT_HINT` when it says the file is not a format commands read."""
    text = str(err)
    if "not a curvecast CurveSet file" in text or "not one of the Baker et al." in text:
        return CurveSetFormatError(text + IMPORT_HINT)
    return err


def load(path: Path, warn: bool = True) -> CurveSet:
    try:
        curves = CurveSet.load(path)
    except CurveSetFormatError as err:
        raise _with_import_hint(err) from None
    return checked(curves, path, warn)


def checked(curves: CurveSet, path: Path, warn: bool = True) -> CurveSet:
    """``curves``, after a one-line warning on stderr when ``warn`` and its values look wrong."""
    warning = curves.range_warning(str(path)) if warn else None
    if warning is not None:
        err_console.print(f"warning: {warning}", markup=False, highlight=False)
    spacing = curves.spacing_note(str(path))  # (also where the range warning is not wanted)
    if spacing is not None:
        err_console.print(f"note: {spacing}", markup=False, highlight=False)
    return curves


def unused_columns_text(configs: Any, skip: Sequence[str] = ()) -> str:
    """The config columns (but ``skip``) the predictors leave out, each with why, as one
    ``"arch (25 levels: more than 20); name (…)"`` (at most 8), or ``""``."""
    from curvecast.features import unused_config_columns

    unused = unused_config_columns(configs, skip=skip)
    return "; ".join(f"{name} ({reason})" for name, reason in list(unused.items())[:8])


def nothing_to_learn(curves: CurveSet) -> bool:
    """Whether no observed value is finite and the data states no value for a diverged run: the
    diverged-value rule (the worst value seen) has nothing to go from, so there is nothing to
    learn from or compare (``simulate`` and ``evaluate`` refuse such a set: :func:`fillable`;
    a ``PredictiveStopper`` refuses such a prior by the same test)."""
    return not math.isfinite(curves.diverged_fill)


def no_trained_epoch(curves: CurveSet) -> str | None:
    """Why ``curves`` hold nothing to learn from when their only epoch is 0 (read as the
    untrained network, which every predictor and replay skips), else None: that, not diverged
    runs, is then why :func:`nothing_to_learn` holds."""
    if (curves.epochs > 0).any():
        return None
    return ("the only epoch is 0, read as the untrained network: there is no trained epoch to "
            "learn from (if your steps count trained epochs from 0, add 1 to them and import "
            "again)")


def fillable(curves: CurveSet, path: Path) -> CurveSet:
    """``curves``, refused when there is :func:`nothing_to_learn` from them."""
    untrained = no_trained_epoch(curves)
    if untrained is not None:
        raise ValueError(f"{path}: {untrained}")
    if nothing_to_learn(curves):
        seen = curves.values[curves.observed]
        raise ValueError(f"{path}: every observed {curves.metric} value is NaN or ±inf ("
                         f"{seen.size} values of {curves.n_configs} configs: every run "
                         "diverged): nothing to learn from")
    return curves


def dumps(obj: Any, **kwargs: Any) -> str:
    """Strict JSON (what ``jq`` and every parser read): ``null`` for no value, a NaN or ±inf
    number as the string ``"NaN"``, ``"Infinity"`` or ``"-Infinity"``
    (:mod:`curvecast.curves.json_numbers`), numpy values plain numbers, anything else JSON
    cannot hold its ``str``."""
    return json_numbers.dumps(obj, **kwargs)


def load_any(path: Path, warn: bool = True) -> CurveSet:
    """A curvecast Parquet file, or one of the paper's published CSV files (``warn``: say when
    an accuracy lies outside [0, 1])."""
    if path.suffix.lower() == ".csv":
        from curvecast.datasets.baker2018 import load_baker2018

        try:
            curves = load_baker2018(path)
        except CurveSetFormatError as err:
            raise _with_import_hint(err) from None
        return checked(curves, path, warn)
    return load(path, warn)


#: ``--sigma-model`` and ``--arcsine-target`` of the commands that build an SRM.
SigmaModelOption = Annotated[str, typer.Option(help="σ of the SRM: per_tau (one per epoch, the "
                                                    "paper's) or local (depends on the predicted "
                                                    "value).")]
ArcsineTargetOption = Annotated[bool, typer.Option(help="The SRM models arcsin(√y), the "
                                                        "variance-stabilising scale of an "
                                                        "accuracy in [0, 1].")]
FinalStretchOption = Annotated[float | None, typer.Option(
    help="The predictive rule stops nothing in this last share of the epochs, in [0, 1) "
         f"(default: {defaults.FINAL_STRETCH:g} with a predictor that learns from every report, "
         "chain or chain-kernel; 0 — the paper's — with the others).")]
ExploreOption = Annotated[float | None, typer.Option(
    help="The share of the trials the predictive rule would stop that it lets run on to twice "
         "their epochs, so its predictor learns what becomes of them, in [0, 1) (default: "
         f"{defaults.EXPLORE:g} with chain or chain-kernel, 0 with the others).")]
ExploreTrialsOption = Annotated[int | None, typer.Option(
    min=0, help="Explore only while the study has at most this many trials (default: "
                f"{defaults.EXPLORE_TRIALS}; 0: in every trial).")]


def explore_trials_setting(value: int | None) -> int | None:
    """``--explore-trials`` as ``Settings.explore_trials``: None (not given) the default, 0
    every trial (None), else the count."""
    if value is None:
        return defaults.EXPLORE_TRIALS
    return value or None


def floats(text: str, option: str) -> tuple[float, ...]:
    """The comma-separated numbers of ``option``'s ``text``; one given twice is refused (it
    would be run twice and its results pooled as one)."""
    try:
        values = tuple(float(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise ValueError(f"{option} must be comma-separated numbers, got {text!r}") from None
    repeated = sorted({v for v in values if values.count(v) > 1})
    if repeated:
        raise ValueError(f"{option} gives {', '.join(f'{v:g}' for v in repeated)} more than "
                         f"once, got {text!r}")
    return values


def fixed(value: float, fmt: str) -> str:
    """``value`` in format ``fmt``, never as a negative zero (``-0.000``)."""
    text = f"{value:{fmt}}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def existing_store(storage: str) -> Any:
    """Open an existing study database read-only (a missing file is an error, not a new
    database; a file the user cannot write can still be read)."""
    from curvecast.store import Store

    return Store(storage, read_only=True)
