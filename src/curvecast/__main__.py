"""``python -m curvecast``: the ``curvecast`` command (as ``python -m curvecast.cli``)."""

import sys

try:  # Ctrl-C while the command's modules load: the shell's code, no traceback
    from curvecast.cli import main
except KeyboardInterrupt:
    sys.exit(130)

main()
