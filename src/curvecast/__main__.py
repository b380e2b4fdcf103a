"""``python -m curvecast``: the ``curvecast`` command (as ``python -m curvecast.cli``)."""

from curvecast._entry import main

main()
