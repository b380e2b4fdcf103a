"""``python -m curvecast.cli``: the ``curvecast`` command."""

from curvecast._entry import main

main()
