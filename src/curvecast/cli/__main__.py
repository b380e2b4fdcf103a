"""``python -m curvecast.cli``: the ``curvecast`` command."""

import sys

try:  # Ctrl-C while the command's modules load: the shell's code, no traceback
    from curvecast.cli import main
except KeyboardInterrupt:
    sys.exit(130)

main()
