"""``python -m curvecast.cli``: the ``curvecast`` command."""

from curvecast.cli import main

main()
