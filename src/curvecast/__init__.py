"""curvecast: predict where learning curves end, and stop the training runs that will not win.

Implements and extends Baker et al. 2017, *Accelerating Neural Architecture Search using
Performance Prediction*.  ``import curvecast`` needs only the core dependencies (numpy, scipy,
scikit-learn, pandas, pyarrow); torch, optuna and ray are imported only when used.  The names
below are imported on first use (PEP 562), so ``import curvecast`` itself is quick and the
``curvecast`` command can end quietly on a Ctrl-C while its modules load.
"""

from __future__ import annotations

# Nothing is imported here at run time (typing alone is a few milliseconds of re and enum): the
# `curvecast` script and `python -m curvecast` import this module before their Ctrl-C handler
# runs (curvecast._entry).
TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (type checkers: True)

__version__ = "0.1.0"

#: Each public name → the module it lives in.
_HOMES = {
    "CurveSet": "curvecast.curves",
    "CurveSetFormatError": "curvecast.curves",
    "CurveSetWarning": "curvecast.curves",
    "Direction": "curvecast.curves",
    "from_long_table": "curvecast.datasets",
    "from_optuna": "curvecast.datasets",
    "from_ray": "curvecast.datasets",
    "from_table": "curvecast.datasets",
    "Categorical": "curvecast.space",
    "Float": "curvecast.space",
    "Int": "curvecast.space",
    "Param": "curvecast.space",
    "ParamSpace": "curvecast.space",
    "SearchSpace": "curvecast.space",
}

if TYPE_CHECKING:
    from typing import Any

    from curvecast.curves import CurveSet, CurveSetFormatError, CurveSetWarning, Direction
    from curvecast.datasets import from_long_table, from_optuna, from_ray, from_table
    from curvecast.space import Categorical, Float, Int, Param, ParamSpace, SearchSpace

__all__ = [
    "Categorical",
    "CurveSet",
    "CurveSetFormatError",
    "CurveSetWarning",
    "Direction",
    "Float",
    "Int",
    "Param",
    "ParamSpace",
    "SearchSpace",
    "__version__",
    "from_long_table",
    "from_optuna",
    "from_ray",
    "from_table",
]


if not TYPE_CHECKING:  # type checkers see the imports above, and a misspelt name stays an error

    def __getattr__(name: str) -> Any:
        """A public name, or a subpackage (``curvecast.predictors``), imported on first use."""
        import importlib

        home = _HOMES.get(name)
        if home is not None:
            value = getattr(importlib.import_module(home), name)
            globals()[name] = value
            return value
        try:
            return importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as err:
            if err.name != f"{__name__}.{name}":  # a missing dependency of that module: say so
                raise
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None


    def __dir__() -> list[str]:
        return sorted({*globals(), *__all__})
