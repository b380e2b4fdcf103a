"""The command line, run as a user runs it: real processes, exit codes, one-line errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from curvecast import CurveSet

pytest.importorskip("torch", reason="the CLI's collect trains with torch (extra curvecast[torch])")


def curvecast(*args: str | Path, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "curvecast.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout)


def start(*args: str | Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "curvecast.cli", *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def assert_one_line_error(proc: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error:")
    assert "Traceback" not in proc.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_collect_then_summary_json(tmp_path: Path) -> None:
    out = tmp_path / "x.parquet"
    t0 = time.perf_counter()
    proc = curvecast("collect", "--workload", "digits-metaqnn", "--configs", "3", "--epochs", "2",
                     "--seed", "0", "--out", out, "--workers", "1")
    assert proc.returncode == 0, proc.stderr
    assert time.perf_counter() - t0 < 60  # "takes seconds" (process start and torch import included)
    summary = curvecast("data", "summary", out, "--json")
    assert summary.returncode == 0, summary.stderr
    got = json.loads(summary.stdout)
    assert got["configs"] == 3 and got["epochs"] == 2
    assert got["metric"] == "val_accuracy" and got["direction"] == "maximize"
    assert set(got["final_quantiles"]) >= {"0.1", "0.5", "0.9"}
    assert got["provenance"]["workload"] == "digits-metaqnn"
    assert "--configs 3" in got["provenance"]["command"]


@pytest.mark.slow
def test_kill_9_then_rerun_trains_only_the_missing_configs(tmp_path: Path) -> None:
    out = tmp_path / "k.parquet"
    args = ("collect", "--workload", "digits-metaqnn", "--configs", "6", "--epochs", "3",
            "--seed", "0", "--out", out, "--workers", "1")
    proc = start(*args)
    deadline = time.monotonic() + 180
    saved = 0
    while time.monotonic() < deadline and proc.poll() is None:
        if out.exists():
            saved = CurveSet.load(out).n_configs  # readable at every moment we look
            if saved >= 2:
                break
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert 2 <= saved < 6, f"could not catch the run mid-way (saved {saved})"
    before = CurveSet.load(out)
    rerun = curvecast(*args)
    assert rerun.returncode == 0, rerun.stderr
    assert f"{before.n_configs} already there" in rerun.stdout
    after = CurveSet.load(out)
    assert after.n_configs == 6 and after.is_complete().all()
    # finished configs were kept, not retrained: their recorded seconds are unchanged
    np.testing.assert_array_equal(after.subset(before.config_ids).seconds, before.seconds)
    assert not Path(str(out) + ".partial").exists()


@pytest.mark.slow
def test_sigterm_ends_a_collect_as_ctrl_c_does(tmp_path: Path) -> None:
    """A user's review: SIGTERM (``timeout``, a batch scheduler) ended a collect or a search
    silently, leaving its workers' semaphores behind; it now ends as Ctrl-C does: what is done
    kept, one line saying how to go on, exit code 143."""
    out = tmp_path / "t.parquet"
    proc = start("collect", "--workload", "digits-metaqnn", "--configs", "30", "--epochs", "3",
                 "--seed", "0", "--out", out, "--workers", "2")
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and proc.poll() is None and not out.exists():
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 143, stderr
    assert stderr.strip().splitlines()[-1] == (f"interrupted: finished configs are saved in "
                                                f"{out}; rerun the same command to continue")
    assert "Traceback" not in stderr and "leaked semaphore" not in stderr
    assert 1 <= CurveSet.load(out).n_configs < 30


def test_a_collect_stopped_before_any_config_finished_says_so(tmp_path: Path) -> None:
    """A review (stop 36): interrupted before its first config finished, ``collect`` said the
    finished configs were saved in a file that did not exist."""
    out = tmp_path / "n.parquet"
    proc = start("collect", "--workload", "digits-metaqnn", "--configs", "2", "--epochs", "400",
                 "--seed", "0", "--out", out, "--workers", "1")
    deadline = time.monotonic() + 180
    partial = Path(f"{out}.partial")
    while time.monotonic() < deadline and proc.poll() is None and not partial.exists():
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 143, stderr
    assert not out.exists()
    assert stderr.strip().splitlines()[-1] == (
        "interrupted: no config finished yet (the epochs trained so far are in "
        "n.parquet.partial); rerun the same command to continue")


def test_import_baker2018_and_summary(tmp_path: Path, baker2018: Path) -> None:
    out = tmp_path / "lstm.parquet"
    proc = curvecast("data", "import", "baker2018", baker2018 / "lstm_ptb.csv", "--out", out)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(curvecast("data", "summary", out, "--json").stdout)
    assert got["configs"] == 280 and got["direction"] == "minimize"
    assert got["has_untrained_epoch"] is True


def test_data_plot_writes_a_png(tmp_path: Path, baker2018: Path) -> None:
    out = tmp_path / "curves.png"
    proc = curvecast("data", "plot", baker2018 / "metaqnn_cifar10.csv", "--out", out, "--n", "20")
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 10_000
    assert_one_line_error(curvecast("data", "plot", baker2018 / "lstm_ptb.csv", "--out", out,
                                    "--n", "0"), "n must be at least 1, got 0")


def test_unknown_workload(tmp_path: Path) -> None:
    proc = curvecast("collect", "--workload", "imagenet", "--configs", "1", "--epochs", "1",
                     "--out", tmp_path / "x.parquet")
    assert_one_line_error(proc, "unknown workload 'imagenet'", "digits-metaqnn")


def test_zero_configs(tmp_path: Path) -> None:
    proc = curvecast("collect", "--workload", "digits-metaqnn", "--configs", "0", "--epochs", "1",
                     "--out", tmp_path / "x.parquet")
    assert_one_line_error(proc, "--configs must be at least 1, got 0")


def test_output_in_missing_folder(tmp_path: Path) -> None:
    proc = curvecast("collect", "--workload", "digits-metaqnn", "--configs", "1", "--epochs", "1",
                     "--out", tmp_path / "missing" / "x.parquet")
    assert_one_line_error(proc, "does not exist")


def test_summary_of_truncated_file(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    path.write_bytes(b"PAR1" + b"\0" * 50)
    assert_one_line_error(curvecast("data", "summary", path), "t.parquet", "not a readable Parquet")


def test_summary_of_wrong_schema(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "w.parquet"
    pq.write_table(pa.table({"a": [1]}), path)
    assert_one_line_error(curvecast("data", "summary", path), "w.parquet", "not a curvecast")


def test_summary_of_missing_file(tmp_path: Path) -> None:
    assert_one_line_error(curvecast("data", "summary", tmp_path / "none.parquet"), "no such file")


def test_import_of_a_csv_that_is_not_baker2018(tmp_path: Path) -> None:
    path = tmp_path / "other.csv"
    path.write_text("a,b\n1,2\n")
    proc = curvecast("data", "import", "baker2018", path, "--out", tmp_path / "o.parquet")
    assert_one_line_error(proc, "other.csv")


def test_a_second_ctrl_c_after_the_first_ends_the_process_at_once() -> None:
    """A review of stop 33: Ctrl-C pressed twice printed, after the proper "interrupted" line, a
    traceback of the worker pool's shutdown that the second Ctrl-C interrupted.  Once a command
    has been interrupted, another Ctrl-C or SIGTERM ends the process at once, with no output."""
    code = ("import os, signal, time\n"
            "from curvecast.cli._common import interrupted_exit\n"
            "interrupted_exit(KeyboardInterrupt())\n"
            "os.kill(os.getpid(), signal.SIGINT)\n"
            "time.sleep(5)\n"
            "print('not reached')\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert (proc.returncode, proc.stdout, proc.stderr) == (130, "", "")


def test_ctrl_c_before_a_command_handles_it_exits_130_without_a_traceback(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A review (stop 34): Ctrl-C while a command's modules were still loading printed a
    KeyboardInterrupt traceback of 20-40 lines."""
    import curvecast.cli._main as cli  # where main() finds the app

    def interrupted(**kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "app", interrupted)
    with pytest.raises(SystemExit) as exit_:
        try:
            cli.main()
        except KeyboardInterrupt:
            pytest.fail("the KeyboardInterrupt reached the caller (a traceback)")
    assert exit_.value.code == 130


def test_main_called_in_a_program_leaves_its_ctrl_c_as_it_was(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A review: ``curvecast.cli.main()`` ending on a Ctrl-C set Ctrl-C to be ignored for the
    rest of the calling program (meant for the command's own last moments), and in every
    process it started from then on, which inherit an ignored signal: after the test above, a
    command started by a later test ignored the SIGINT sent to it (exit code 2, not 130)."""
    import signal

    import curvecast.cli._main as cli

    def interrupted(**kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "app", interrupted)
    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(SystemExit) as exit_:
        cli.main()
    assert exit_.value.code == 130
    assert signal.getsignal(signal.SIGINT) is before
    child = subprocess.run([sys.executable, "-c", "import signal; "
                            "print(signal.getsignal(signal.SIGINT) is signal.SIG_IGN)"],
                           capture_output=True, text=True, timeout=60)
    assert child.stdout == "False\n"


def test_evaluate_says_why_r2_is_nan_on_curves_that_all_end_alike(tmp_path: Path) -> None:
    """A review (stop 35): curves whose final values are all equal gave nan in every R² cell,
    with nothing said (R² has no variance to explain there)."""
    import pandas as pd

    from curvecast import CurveSet

    values = np.full((150, 5), 0.5)
    CurveSet(values=values, observed=np.ones_like(values, dtype=bool), epochs=np.arange(1, 6),
             metric="acc", direction="max",
             configs=pd.DataFrame({"x": np.arange(150.0)}, index=[f"c{i}" for i in range(150)])
             ).save(tmp_path / "const.parquet")
    proc = curvecast("evaluate", tmp_path / "const.parquet", "--predictors", "ols", "--repeats",
                     "1", "--train-size", "50", "--experiments", "table1")
    assert proc.returncode == 0, proc.stderr
    assert ("note: every complete curve of const.parquet ends at 0.5: R² is undefined (the final "
            "values have no variance to explain)") in proc.stderr


def test_ctrl_c_while_the_command_loads_ends_quietly() -> None:
    """Left from stop 35: the ``curvecast`` script imported ``curvecast.cli`` (and with it, at
    stop 35, the whole package: 2 s of numpy, pandas and scikit-learn) before any handler ran,
    so a Ctrl-C in those seconds printed a traceback.  The script's entry point is now a small
    module that catches it, and ``import curvecast`` loads its names on first use."""
    import tomllib

    pyproject = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())
    assert pyproject["project"]["scripts"]["curvecast"] == "curvecast._entry:main"
    code = ("import builtins, sys\n"
            "real = builtins.__import__\n"
            "def interrupting(name, *args, **kwargs):\n"
            "    if name == 'curvecast.cli':\n"
            "        raise KeyboardInterrupt\n"
            "    return real(name, *args, **kwargs)\n"
            "builtins.__import__ = interrupting\n"
            "from curvecast._entry import main\n"
            "main()\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert (proc.returncode, proc.stdout, proc.stderr) == (130, "", "interrupted\n")
    light = subprocess.run([sys.executable, "-c", "import sys, curvecast; "
                            "print(sorted(m for m in ('pandas', 'sklearn', 'numpy') "
                            "if m in sys.modules))"], capture_output=True, text=True, timeout=60)
    assert light.stdout.strip() == "[]", light.stderr
