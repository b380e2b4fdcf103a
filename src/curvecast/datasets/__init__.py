"""Public learning-curve data sets and their loaders."""

from curvecast.datasets.baker2018 import (
    BAKER2018_PUBLISHER,
    Baker2018Kind,
    baker2018_kind,
    load_baker2018,
    lstm_n_params,
    resnet_n_params,
)

__all__ = [
    "BAKER2018_PUBLISHER",
    "Baker2018Kind",
    "baker2018_kind",
    "load_baker2018",
    "lstm_n_params",
    "resnet_n_params",
]
