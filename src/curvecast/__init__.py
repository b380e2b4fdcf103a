"""curvecast: predict where learning curves end, and stop the training runs that will not win.

Implements and extends Baker et al. 2017, *Accelerating Neural Architecture Search using
Performance Prediction*.  ``import curvecast`` needs only the core dependencies (numpy, scipy,
scikit-learn, pandas, pyarrow); torch, optuna and ray are imported only when used.
"""

from curvecast.curves import CurveSet, CurveSetFormatError, CurveSetWarning, Direction
from curvecast.datasets import from_long_table, from_optuna, from_ray, from_table
from curvecast.space import Categorical, Float, Int, Param, ParamSpace, SearchSpace

__version__ = "0.1.0"

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
