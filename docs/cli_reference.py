"""Write docs/cli.md, the command-line reference, from the typer app itself (so it cannot drift:
tests/test_cli_reference.py fails when the file differs from what this writes).

    python docs/cli_reference.py          # rewrite docs/cli.md
"""

from __future__ import annotations

from pathlib import Path

import typer
from typer.cli import get_docs_for_click

from curvecast.cli import app

TARGET = Path(__file__).resolve().parent / "cli.md"
HEADER = ("<!-- Generated from the typer app by docs/cli_reference.py; do not edit by hand. -->\n\n")


def reference() -> str:
    """The Markdown reference of every ``curvecast`` command and option."""
    command = typer.main.get_command(app)
    body = get_docs_for_click(obj=command, ctx=typer.Context(command), name="curvecast",
                              title="curvecast command-line reference")
    return HEADER + body.strip() + "\n"


if __name__ == "__main__":
    TARGET.write_text(reference())
    print(f"wrote {TARGET}")
