"""The ``curvecast`` command line: argument parsing and printing only.

Names become classes in :mod:`curvecast.registry`; the work is done by the library.  Every
command turns bad input (an unknown workload, a malformed file, an impossible number) into a
one-line ``error: ...`` on stderr and exit code 2, never a traceback.  One module per group of
commands: :mod:`~curvecast.cli.data` (``collect``, ``data …``), :mod:`~curvecast.cli.evaluate`,
:mod:`~curvecast.cli.simulate`, :mod:`~curvecast.cli.search`, :mod:`~curvecast.cli.studies`
(``studies``, ``show``, ``export``, ``report``).
"""

from __future__ import annotations

# The names below are loaded on first use (PEP 562) and nothing is imported here at run time:
# ``python -m curvecast.cli`` imports this package before its Ctrl-C handler
# (:mod:`curvecast._entry`) runs, so loading the commands here (typer, rich, pandas: half a
# second) would leave a Ctrl-C in that time to a traceback or to death by SIGINT (code -2).
TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (type checkers: True)
if TYPE_CHECKING:
    from curvecast.cli import data, evaluate, search, simulate, studies
    from curvecast.cli._main import app, main

__all__ = ["app", "data", "evaluate", "main", "search", "simulate", "studies"]

if not TYPE_CHECKING:  # type checkers see the imports above, and a misspelt name stays an error

    def __getattr__(name: str) -> object:
        """``app`` or ``main`` (every command registered), or a command module, loaded on first
        use."""
        import importlib

        if name in ("data", "evaluate", "search", "simulate", "studies"):  # a submodule: its
            return importlib.import_module(f"{__name__}.{name}")  # import sets it here
        if name not in __all__:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{__name__}._main"), name)
        globals()[name] = value
        return value

    def __dir__() -> list[str]:
        """The module's names with the lazy ones: what ``dir`` lists, and so what tools that
        look for the app by it find (``typer curvecast.cli run``/``utils docs`` took ``main``,
        a function, for the whole command line when ``app`` was not listed)."""
        return sorted({*globals(), *__all__})
