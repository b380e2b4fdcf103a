"""Public learning-curve data sets and their loaders."""

from curvecast.datasets.baker2018 import (
    BAKER2018_PUBLISHER,
    Baker2018Kind,
    baker2018_kind,
    load_baker2018,
    lstm_n_params,
    resnet_n_params,
)
from curvecast.datasets.long_table import from_long_table
from curvecast.datasets.optuna_study import from_optuna
from curvecast.datasets.priors import check_prior_metric
from curvecast.datasets.ray_experiment import from_ray
from curvecast.datasets.wide_table import from_table

__all__ = [
    "BAKER2018_PUBLISHER",
    "Baker2018Kind",
    "baker2018_kind",
    "check_prior_metric",
    "from_long_table",
    "from_optuna",
    "from_ray",
    "from_table",
    "load_baker2018",
    "lstm_n_params",
    "resnet_n_params",
]
