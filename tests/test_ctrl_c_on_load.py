"""A Ctrl-C while the ``curvecast`` command loads its modules ends it with exit code 130, one
``interrupted`` line and no traceback — under ``python -m curvecast`` too."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

#: A ``sitecustomize`` (the test's, never the product's) that raises KeyboardInterrupt the first
#: time module {target!r} is imported, from inside an ``exec`` of a string: where a real Ctrl-C
#: lands when a library being imported runs generated source (``collections.namedtuple``,
#: ``dataclasses``), the case in which CPython keeps a mark that the interrupt went unhandled.
HOOK = '''import sys


class _Interrupt:
    def find_spec(self, name, path=None, target=None):
        if name == {target!r}:
            sys.meta_path.remove(self)
            exec("raise KeyboardInterrupt", {{}})
        return None


sys.meta_path.insert(0, _Interrupt())
'''


def _env(hooks: Path | None = None) -> dict[str, str]:
    path = [str(SRC)] if hooks is None else [str(hooks), str(SRC)]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(path)}


@pytest.mark.parametrize("module", ["curvecast", "curvecast.cli"])
@pytest.mark.parametrize(("target", "said"), [("pandas", "interrupted\n"),
                                             ("curvecast.store", "")])
def test_a_ctrl_c_in_a_string_exec_while_modules_load_exits_130(
        tmp_path: Path, module: str, target: str, said: str) -> None:
    """A Ctrl-C while modules were still importing made ``python -m curvecast`` die of SIGINT
    (exit code −2) when it landed inside a library's ``exec`` of generated source, though the
    entry point caught it and asked for 130: CPython keeps such an interrupt marked unhandled
    once caught, and ``python -m`` then kills itself with the signal.  The entry point clears
    the mark before it exits: while the command line loads (pandas) it says ``interrupted``;
    while a command loads its own modules (``studies``: the store) typer has turned the
    interrupt into exit code 130 already, and says nothing, as before.  ``python -m
    curvecast.cli`` loaded every command before any handler ran: a traceback."""
    (tmp_path / "sitecustomize.py").write_text(HOOK.format(target=target))
    proc = subprocess.run([sys.executable, "-m", module, "studies", "--storage",
                           f"sqlite:///{tmp_path / 'none.db'}"], capture_output=True, text=True,
                          timeout=120, env=_env(tmp_path))
    assert (proc.returncode, proc.stdout, proc.stderr) == (130, "", said)


@pytest.mark.skipif(not Path(f"/proc/{os.getpid()}/maps").exists(),
                    reason="needs /proc/PID/maps to see the command load numpy")
def test_a_real_ctrl_c_while_the_command_loads_numpy_and_pandas(tmp_path: Path) -> None:
    """SIGINT itself, sent once the command has mapped numpy's extension (``import curvecast``
    and the entry point load no numpy, so it is loading ``curvecast.cli``: pandas, pyarrow,
    scikit-learn, typer and rich are still to come, a few hundred ms).  A Ctrl-C sent as the
    process starts cannot be tested the same way: before curvecast's first line runs, the
    interpreter either dies of the signal (−2) or prints a traceback of ``site`` or ``runpy``
    (exit code 1), and no code of curvecast can change that."""
    for _ in range(5):  # a try the command outran (it ended before the signal) is tried again
        proc = subprocess.Popen([sys.executable, "-m", "curvecast", "studies", "--storage",
                                 f"sqlite:///{tmp_path / 'none.db'}"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=_env())
        deadline = time.monotonic() + 60
        maps = Path(f"/proc/{proc.pid}/maps")
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                if "_multiarray_umath" in maps.read_text():
                    break
            except OSError:  # gone meanwhile
                break
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
        if proc.returncode != 2:  # 2: the command ran to its error before the signal came
            break
    assert (proc.returncode, out, err) == (130, "", "interrupted\n")


def test_what_runs_before_the_handler_imports_nothing() -> None:
    """``python -m curvecast`` and the ``curvecast`` script import the package and
    ``curvecast._entry`` before its handler runs; they imported ``typing`` (with ``re`` and
    ``enum``: 7-25 ms here, against 1.5 ms now), in which a Ctrl-C printed a traceback."""
    code = ("import sys\n"
            "before = set(sys.modules)\n"
            "import curvecast._entry\n"
            "print(sorted(set(sys.modules) - before))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, env=_env())
    assert proc.returncode == 0, proc.stderr
    assert set(eval(proc.stdout)) <= {"__future__", "curvecast", "curvecast._entry"}
