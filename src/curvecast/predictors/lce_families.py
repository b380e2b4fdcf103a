"""The 11 parametric learning-curve families of Domhan et al. 2015 (Table 1), with the formulas,
parameter names and least-squares starting values of their code (the table is in
:mod:`curvecast.predictors.lce`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class CurveFamily:
    """One parametric learning-curve family f(x | θ).

    ``function(x, *params)`` broadcasts: with ``x`` of shape ``(1, m)`` and each parameter of
    shape ``(n, 1)`` it returns ``(n, m)``.
    """

    name: str
    params: tuple[str, ...]
    start: tuple[float, ...]
    function: Callable[..., FloatArray]

    @property
    def n_params(self) -> int:
        """Number of parameters θ."""
        return len(self.params)


def _vap(x: FloatArray, a: FloatArray, b: FloatArray, c: FloatArray) -> FloatArray:
    return np.exp(a + b / x + c * np.log(x))


def _ilog2(x: FloatArray, c: FloatArray, a: FloatArray) -> FloatArray:
    return c - a / np.log(x + 1.0)


def _weibull(x: FloatArray, alpha: FloatArray, beta: FloatArray, kappa: FloatArray,
             delta: FloatArray) -> FloatArray:
    return alpha - (alpha - beta) * np.exp(-((kappa * x) ** delta))


def _pow3(x: FloatArray, c: FloatArray, a: FloatArray, alpha: FloatArray) -> FloatArray:
    return c - a * x ** (-alpha)


def _pow4(x: FloatArray, c: FloatArray, a: FloatArray, b: FloatArray,
          alpha: FloatArray) -> FloatArray:
    return c - (a * x + b) ** (-alpha)


def _log_log_linear(x: FloatArray, a: FloatArray, b: FloatArray) -> FloatArray:
    return np.log(a * np.log(x) + b)


def _mmf(x: FloatArray, alpha: FloatArray, beta: FloatArray, kappa: FloatArray,
         delta: FloatArray) -> FloatArray:
    return alpha - (alpha - beta) / (1.0 + (kappa * x) ** delta)


def _janoschek(x: FloatArray, alpha: FloatArray, beta: FloatArray, kappa: FloatArray,
               delta: FloatArray) -> FloatArray:
    return alpha - (alpha - beta) * np.exp(-kappa * x ** delta)


def _dr_hill_zero_background(x: FloatArray, theta: FloatArray, eta: FloatArray,
                             kappa: FloatArray) -> FloatArray:
    x_eta = x ** eta
    return theta * x_eta / (kappa ** eta + x_eta)


def _log_power(x: FloatArray, a: FloatArray, b: FloatArray, c: FloatArray) -> FloatArray:
    return a / (1.0 + (x / np.exp(b)) ** c)


def _exp4(x: FloatArray, c: FloatArray, a: FloatArray, b: FloatArray,
          alpha: FloatArray) -> FloatArray:
    return c - np.exp(-a * x ** alpha + b)


#: The 11 families of Domhan et al. 2015 (Table 1), in the order of their ``curve_ensemble_models``.
FAMILIES: tuple[CurveFamily, ...] = (
    CurveFamily("vap", ("a", "b", "c"), (-0.622028, -0.470050, 0.042322), _vap),
    CurveFamily("ilog2", ("c", "a"), (0.78, 0.43), _ilog2),
    CurveFamily("weibull", ("alpha", "beta", "kappa", "delta"), (0.7, 0.1, 0.01, 1.0), _weibull),
    CurveFamily("pow3", ("c", "a", "alpha"), (0.84, 0.52, 0.01), _pow3),
    CurveFamily("pow4", ("c", "a", "b", "alpha"), (0.8, 200.0, 0.0, 0.1), _pow4),
    CurveFamily("log_log_linear", ("a", "b"), (1.0, 1.0), _log_log_linear),
    CurveFamily("mmf", ("alpha", "beta", "kappa", "delta"), (0.7, 0.1, 0.01, 5.0), _mmf),
    CurveFamily("janoschek", ("alpha", "beta", "kappa", "delta"), (0.73, 0.07, 0.355, 0.46),
                _janoschek),
    CurveFamily("dr_hill_zero_background", ("theta", "eta", "kappa"),
                (0.772320, 0.586449, 2.460843), _dr_hill_zero_background),
    CurveFamily("log_power", ("a", "b", "c"), (0.77, 2.98, -0.51), _log_power),
    CurveFamily("exp4", ("c", "a", "b", "alpha"), (0.7, 0.8, -0.8, 0.3), _exp4),
)
