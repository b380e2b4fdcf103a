"""The README's first screen says what it claims: the two commands, a Python example that runs,
and the search `make run` really runs."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def test_the_first_screen_has_the_two_commands_and_a_python_example() -> None:
    first = "\n".join(README.splitlines()[:40])
    assert re.search(r"^make run\s+#", first, re.M) and re.search(r"^make test\s+#", first, re.M)
    assert "```python" in first


def test_the_python_example_runs() -> None:
    pytest.importorskip("optuna", reason="the README's example needs curvecast[optuna]")
    code = README.split("```python\n", 1)[1].split("```", 1)[0]
    code += ("\nimport collections\n"
             "print(dict(collections.Counter(t.state.name for t in study.trials)))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    counts = eval(done.stdout.strip().splitlines()[-1])  # a dict literal we printed ourselves
    assert counts.get("COMPLETE", 0) >= 5 and sum(counts.values()) == 30


def test_make_run_is_the_search_the_readme_quotes() -> None:
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile.split("\nrun:", 1)[1].split("\n\n", 1)[0]
    command = " ".join(recipe.replace("\\\n", " ").split())
    quoted = re.search(r"`make run` runs `(curvecast search[^`]*)`", README, re.S)
    assert quoted is not None
    quoted_words = quoted.group(1).split()
    made = command.split("curvecast ", 1)[1].split()
    # the README may leave out flags set to their defaults (--searcher random --stopper
    # predictive) and points the storage at runs/: every flag it quotes is in the recipe
    pairs = dict(zip(made[1::2], made[2::2], strict=False))
    for flag, value in zip(quoted_words[2::2], quoted_words[3::2], strict=False):
        assert pairs.get(flag) == value, (flag, value, pairs)


def test_every_command_the_readme_and_reference_quote_parses() -> None:
    """The README's and docs/reference.md's ``curvecast …`` commands parse with today's CLI, so
    the options and defaults they quote are the CLI's."""
    import shlex

    from test_cli_reference import UsageError, parse, quoted_commands

    commands = [*quoted_commands(ROOT / "README.md"),  # code blocks and inline commands
                *(c for doc in ("reference.md", "reproduce-paper.md")  # their code blocks
                  for c in quoted_commands(ROOT / "docs" / doc, inline=False))]
    assert len(commands) >= 10
    bad = []
    for command in commands:
        words = [w for w in shlex.split(command.replace("\n", " "))
                 if not (w.startswith("[") or w.endswith("]"))]  # optional parts like [--json]
        try:
            parse(words[1:])
        except UsageError as err:
            bad.append(f"{command}: {err.format_message()}")
        except SystemExit:  # --help / --version
            pass
    assert not bad, "\n".join(bad)
