"""Predictors of a learning curve's final value from its first epochs (one interface)."""

from curvecast.predictors._base import Prediction, Predictor
from curvecast.predictors.bnn import BNN
from curvecast.predictors.horizon_chain import HorizonChain
from curvecast.predictors.kernel_chain import KernelChain
from curvecast.predictors.last_value import LastSeenValue
from curvecast.predictors.lce import LCE
from curvecast.predictors.regressors import (
    RegressorSpec,
    TunedRegressor,
    nu_svr_linear,
    nu_svr_rbf,
    ols,
    random_forest,
    ridge,
    svr_rbf_or_ridge,
)
from curvecast.predictors.srm import SRM

__all__ = [
    "BNN",
    "LCE",
    "SRM",
    "HorizonChain",
    "KernelChain",
    "LastSeenValue",
    "Prediction",
    "Predictor",
    "RegressorSpec",
    "TunedRegressor",
    "nu_svr_linear",
    "nu_svr_rbf",
    "ols",
    "random_forest",
    "ridge",
    "svr_rbf_or_ridge",
]
