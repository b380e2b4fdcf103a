"""The ``curvecast`` application with every command registered, in the order ``--help`` lists
them, and :func:`main`, the command's entry point (:mod:`curvecast.cli` hands out its names)."""

from __future__ import annotations

import sys
import warnings
from typing import Annotated

import typer
from rich.markup import escape

from curvecast._entry import interrupted, leave
from curvecast.cli import data, evaluate, search, simulate, studies  # noqa: F401 (registers)
from curvecast.cli._app import app
from curvecast.cli._common import console, err_console
from curvecast.curves import CurveSetWarning

#: The order ``curvecast --help`` lists the commands in (the modules imported above register
#: them with the app in import order).
_ORDER = ("collect", "evaluate", "simulate", "search", "studies", "show", "export", "report")
app.registered_commands.sort(
    key=lambda c: _ORDER.index(c.name or getattr(c.callback, "__name__", "")))


def _print_version(value: bool) -> None:
    if value:
        from curvecast import __version__

        console.print(f"curvecast {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_print_version, is_eager=True,
                                          help="Print curvecast's version and exit.")] = False,
) -> None:
    """Predict where learning curves end; stop the runs that will not win."""
    # the commands print what an import found themselves (`warning: …` lines), not as Python
    # warnings of the importers they call
    warnings.filterwarnings("ignore", category=CurveSetWarning)


def main() -> None:
    """Entry point of the ``curvecast`` script: usage errors (a missing option, a word where a
    number goes) are one ``error:`` line too, with exit code 2; a Ctrl-C no command handled is
    one ``interrupted`` line, with exit code 130."""
    try:
        code = app(standalone_mode=False)
    except (typer.Abort, KeyboardInterrupt):  # Ctrl-C before a command's own handler (while
        interrupted()  # its modules load): the shell's code, no traceback (a review, stop 34)
    except Exception as err:
        exit_code = getattr(err, "exit_code", None)
        if not hasattr(err, "format_message") or not isinstance(exit_code, int):
            raise  # not click's usage error (the commands turn bad input into `error:` lines)
        ctx = getattr(err, "ctx", None)
        where = f" (see: {ctx.command_path} --help)" if ctx is not None else ""
        message = " ".join(str(err.format_message()).split())
        err_console.print(f"[bold red]error:[/] {escape(message)}{escape(where)}",
                          markup=True, highlight=False, soft_wrap=True)
        sys.exit(exit_code)  # 2 for usage errors
    # (a command stopped by Ctrl-C or SIGTERM returns 130 or 143 after its own message)
    leave(code if isinstance(code, int) else 0)
