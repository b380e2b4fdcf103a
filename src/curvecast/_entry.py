"""The ``curvecast`` script's entry point: loads the command line, so that a Ctrl-C while its
modules load (a second or two) ends with the shell's code 130 and no traceback."""

from __future__ import annotations

import sys


def main() -> None:
    """Run the ``curvecast`` command (:func:`curvecast.cli.main`)."""
    try:
        from curvecast.cli import main as run
    except KeyboardInterrupt:
        sys.exit(130)
    run()
