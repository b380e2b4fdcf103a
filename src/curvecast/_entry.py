"""The ``curvecast`` script's entry point: loads the command line, so that a Ctrl-C while its
modules load (a second or two) ends with the shell's code 130, one ``interrupted`` line and no
traceback.

It and the package's ``__init__`` import nothing at module level (``typing`` alone is a few
milliseconds of ``re`` and ``enum``), since both run before any handler can: the script and
``python -m curvecast`` import the package, then this module, then call :func:`main`.  A Ctrl-C
before that — while the interpreter itself starts, imports ``site`` or ``runpy`` — is Python's
to handle (it dies of the signal, or prints a traceback), not curvecast's."""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (type checkers: True)
if TYPE_CHECKING:
    from typing import NoReturn


def leave(code: int) -> NoReturn:
    """Exit with ``code``, even after a Ctrl-C that was caught on the way.

    CPython remembers a KeyboardInterrupt that ended the evaluation of a string (an ``exec`` of
    generated source, as ``collections.namedtuple`` and ``dataclasses`` do while a module
    imports) even once a caller has caught it, and ``python -m`` then ends by killing itself
    with SIGINT (code −2) whatever exit code was asked for.  The mark is cleared at the start
    of every such evaluation, so one harmless evaluation comes first.
    """
    exec("None", {})  # clears CPython's "unhandled KeyboardInterrupt" mark (see above)
    sys.exit(code)


#: Whether this process is the ``curvecast`` command (:func:`main` runs), not a program that
#: called :func:`curvecast.cli.main` itself (a test, a wrapper) and goes on after its exit.
_COMMAND = False


def interrupted() -> NoReturn:
    """End the command on a Ctrl-C no command handled: one ``interrupted`` line on stderr and
    exit code 130 (the shell's for Ctrl-C).  In the ``curvecast`` command's own process another
    Ctrl-C from here on is ignored, so it can neither print a traceback on the way out nor kill
    the process by the signal (code −2) once the interpreter has put back the default handler
    while it finalises.  A program that called :func:`curvecast.cli.main` itself keeps its
    Ctrl-C: ignored, it would stay ignored in that program after the ``SystemExit``, and in
    every process it starts from then on (an ignored signal is inherited)."""
    import signal

    if _COMMAND:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        sys.stderr.write("interrupted\n")
        sys.stderr.flush()
    except (OSError, ValueError, AttributeError):  # stderr closed, or None (pythonw)
        pass
    leave(130)


def main() -> None:
    """Run the ``curvecast`` command (:func:`curvecast.cli.main`)."""
    global _COMMAND
    _COMMAND = True
    try:
        from curvecast.cli import main as run
    except KeyboardInterrupt:
        interrupted()
    run()
