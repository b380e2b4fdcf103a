"""The docs cannot drift from the CLI: docs/cli.md is what docs/cli_reference.py generates from the
typer app, and every ``curvecast …`` command quoted in the user guide parses."""

from __future__ import annotations

import importlib.util
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer

import curvecast.cli
from curvecast.cli import app

try:  # recent typer carries its own copy of click
    from typer._click.exceptions import UsageError
except ImportError:  # pragma: no cover
    from click.exceptions import UsageError  # type: ignore[assignment]

DOCS = Path(__file__).resolve().parents[1] / "docs"
#: Documents whose ``curvecast …`` commands must parse → whether inline code spans count too
#: (in prose a span may name a command without its required options, e.g. `curvecast search`).
QUOTING = {DOCS / "user-guide.md": True}


def test_cli_reference_is_up_to_date() -> None:
    spec = importlib.util.spec_from_file_location("cli_reference", DOCS / "cli_reference.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert (DOCS / "cli.md").read_text() == module.reference(), (
        "docs/cli.md is out of date: run `python docs/cli_reference.py`")


def parse(args: list[str]) -> typer.Context:
    """Parse ``curvecast ARGS`` as the CLI would, down to the leaf command, without running it.

    Raises:
        UsageError: an unknown command or option, a missing required one, a bad value.
    """
    command: Any = typer.main.get_command(app)
    name, parent = "curvecast", None
    while True:
        assert command is not None
        ctx = command.make_context(name, list(args), parent=parent)
        if not hasattr(command, "resolve_command"):  # a command, not a group
            return ctx
        rest = [*ctx._protected_args, *ctx.args]
        if not rest:
            raise UsageError(f"{name}: no command given")
        name_, command, args = command.resolve_command(ctx, rest)
        name, parent = str(name_), ctx


def quoted_commands(path: Path, inline: bool = True) -> list[str]:
    """Every ``curvecast …`` command in ``path``: lines of code blocks (with ``\\`` continuations)
    and, with ``inline``, inline code spans."""
    text = path.read_text()
    found = []
    for language, block in re.findall(r"^```(\w*)\n(.*?)^```", text, flags=re.S | re.M):
        if language not in ("", "bash", "console", "sh"):
            continue
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split("  #")[0].strip().removeprefix("$ ")
            if line.startswith("curvecast "):
                found.append(line)
    if inline:
        found += re.findall(r"`(curvecast [^`]+)`", text)
    return found


@pytest.mark.parametrize("path", QUOTING, ids=lambda p: p.name)
def test_quoted_commands_parse(path: Path) -> None:
    commands = quoted_commands(path, QUOTING[path])
    assert len(commands) >= 5
    bad = []
    for command in commands:
        try:
            parse(shlex.split(command)[1:])
        except UsageError as err:
            bad.append(f"{command}\n    {err.format_message()}")
        except typer.Exit:  # --version, --help
            pass
    assert not bad, f"{path.name}: commands that do not parse:\n" + "\n".join(bad)


def test_a_wrong_command_is_caught() -> None:
    with pytest.raises(UsageError, match="No such option"):
        parse(["data", "import", "table", "x.csv", "--curve", "a_(\\d+)"])
    with pytest.raises(UsageError, match="Missing parameter: metric"):
        parse(["data", "import", "ray", "exp", "--direction", "max", "--out", "o.parquet"])
    assert parse(["data", "import", "optuna", "sqlite:///last.db", "--study", "s", "--out",
                  "o.parquet"]).params["study"] == "s"


def test_typers_own_cli_finds_the_app_of_the_lazy_cli_module() -> None:
    """A review: ``curvecast.cli`` hands out ``app`` and ``main`` on first use, and ``dir`` did
    not list them, so ``typer curvecast.cli utils docs`` (typer's documented way to document an
    app, which finds it by ``dir``) took ``main`` for a one-command program: its docs were
    main's docstring, without a single ``curvecast`` command."""
    proc = subprocess.run([sys.executable, "-m", "typer", "curvecast.cli", "utils", "docs",
                           "--name", "curvecast"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "Predict where learning curves end" in proc.stdout
    for command in ("collect", "search", "studies", "show", "export", "report"):
        assert f"## `curvecast {command}`" in proc.stdout
    assert {"app", "main", "search"} <= set(dir(curvecast.cli))
