"""``python -m curvecast``: the ``curvecast`` command (as ``python -m curvecast.cli``)."""

from curvecast.cli import main

main()
