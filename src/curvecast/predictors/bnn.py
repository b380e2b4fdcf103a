"""BNN: a neural network over configuration + partial curve with honest uncertainty (Klein et al. 2017).

The paper's third baseline is LC-Net (A. Klein, S. Falkner, J. T. Springenberg, F. Hutter,
*Learning curve prediction with Bayesian neural networks*, ICLR 2017): one network for every τ,
whose input is the configuration and the curve observed so far, with a posterior over its weights
sampled by stochastic-gradient HMC.  This module keeps the "one network for all τ over config +
curve" part and approximates the posterior with a **deep ensemble** (B. Lakshminarayanan,
A. Pritzel, C. Blundell, *Simple and scalable predictive uncertainty estimation using deep
ensembles*, NeurIPS 2017) — not SGHMC, and without LC-Net's parametric basis-function output layer.

Torch is imported inside :meth:`BNN.fit` only; the fitted weights are kept as numpy arrays, so
``import curvecast.predictors`` and :meth:`BNN.predict` need no torch.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Iterable, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from curvecast.curves import CurveSet, Direction
from curvecast.features import GROUPS, Featurizer
from curvecast.predictors._base import (
    Prediction,
    Predictor,
    config_rows,
    least_std,
    partial_curves,
    refuse_nothing_to_learn,
    refuse_overflowing_values,
    target_column,
)

if TYPE_CHECKING:
    import torch

#: Floor of the predicted aleatoric variance, in standardised target units (squared).
_MIN_VAR = 1e-6
#: Largest log-space σ turned back into the metric's units (keeps ``sinh`` finite).
_MAX_LOG_SIGMA = 50.0

Layers = list[tuple[NDArray[np.float64], NDArray[np.float64]]]


class BNN(Predictor):
    """Deep-ensemble approximation of a Bayesian network predicting y_target from (config, y_1..y_τ).

    **Not SGHMC.**  Klein et al. (2017) sample the weights of LC-Net with stochastic-gradient HMC;
    this class trains ``n_members`` small MLPs from independent initialisations and data orders
    (a deep ensemble, Lakshminarayanan et al. 2017), each with a Gaussian head: a mean and a
    variance, fitted by the Gaussian negative log-likelihood.  The prediction is the ensemble's
    Gaussian mixture collapsed to one Gaussian: mean = average member mean, variance = average
    member variance (aleatoric) + variance of the member means (epistemic).

    **One network for all τ.**  A training example is (config features, curve prefix y_1..y_τ
    zero-padded to the longest prefix, the padding mask, τ / τ_max, y_τ) → y_target, with
    τ_max = the number of epochs before the target.  Every epoch of training shows each curve
    once with a τ drawn afresh, uniformly from 1..τ_max.  The network predicts the residual
    y_target − y_τ (both standardised) when the ``ts`` group is on, y_target otherwise.

    **Inputs.**  Config features are the ``ap``/``hp`` columns of the
    :class:`~curvecast.features.Featurizer` (so columns and the diverged rule are the SRM's),
    standardised, missing or non-finite
    entries set to the training mean (0 after standardisation).  Curve values go through the
    CurveSet's diverged rule, then log when the target is logged, then the target's standardisation.

    Args:
        n_members: networks in the ensemble (>= 1; 1 gives only the aleatoric variance).
        hidden: widths of the hidden layers (an int: one layer), tanh activations.
        epochs: passes over the training curves, each with a freshly drawn τ per curve.
        lr: AdamW learning rate (cosine-decayed to 0 over training).
        weight_decay: AdamW decoupled weight decay.
        batch_size: curves per gradient step.
        features: feature groups, a subset of ``{"ts", "ap", "hp"}``.
        log_target: model log(value) — ``None`` (default) decides from the data as the SRM does:
            yes for a metric to minimise whose values are all positive, no otherwise.
        random_state: seed of the initialisations, data orders and τ draws.
    """

    def __init__(self, n_members: int = 5, hidden: Sequence[int] | int = (64, 64),
                 epochs: int = 200, lr: float = 3e-3, weight_decay: float = 1e-4,
                 batch_size: int = 16, features: Collection[str] | str = GROUPS,
                 log_target: bool | None = None, random_state: int = 0) -> None:
        for name, value, least in (("n_members", n_members, 1), ("epochs", epochs, 1),
                                   ("batch_size", batch_size, 1), ("random_state", random_state, 0)):
            if not _is_int(value) or value < least:  # a float or a negative seed failed in fit
                raise ValueError(f"{name} must be an integer >= {least}, got {value!r}")
        # one width: an int (a NumPy one too, as for the counts above) or any other scalar
        widths = tuple(hidden) if isinstance(hidden, Iterable) and not isinstance(hidden, str) \
            else (hidden,)
        if not widths or not all(_is_int(w) and w >= 1 for w in widths):
            raise ValueError(f"hidden must be positive layer widths, got {hidden!r}")
        if not lr > 0:
            raise ValueError(f"lr must be > 0, got {lr}")
        if not weight_decay >= 0:  # also NaN
            raise ValueError(f"weight_decay must be >= 0, got {weight_decay}")
        self.n_members = n_members
        self.hidden = tuple(int(w) for w in widths)
        self.epochs = epochs
        self.lr = lr
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.featurizer = Featurizer(groups=frozenset(features) if not isinstance(features, str)
                                     else features)  # type: ignore[arg-type]
        self.log_target = log_target
        self.random_state = random_state

    def __repr__(self) -> str:
        return (f"BNN(n_members={self.n_members}, hidden={self.hidden}, epochs={self.epochs}, "
                f"features={sorted(self.featurizer.groups)})")

    @property
    def _use_ts(self) -> bool:
        return "ts" in self.featurizer.groups

    # ----------------------------------------------------------------- fitting
    def fit(self, curves: CurveSet, *, target_epoch: int | None = None) -> BNN:
        """Train the ensemble on the configs of ``curves`` observed up to the target epoch.

        Raises:
            ValueError: the target is the first trained epoch (no τ to learn from), or fewer than
                2 usable curves.
        """
        trained = curves.without_untrained_epoch()
        refuse_nothing_to_learn(trained, self)
        col = target_column(trained, target_epoch)
        if col < 1:
            raise ValueError("the target epoch is the first trained epoch: nothing to predict from")
        usable = np.asarray(trained.observed[:, : col + 1].all(axis=1), dtype=bool)
        if usable.sum() < 2:
            raise ValueError(f"a BNN needs at least 2 curves observed to epoch "
                             f"{trained.epochs[col]}, got {int(usable.sum())}")
        train = trained.subset(usable)
        self.featurizer.fit(train)
        values = train.filled_values()[:, : col + 1]
        log = self.log_target
        if log is None:
            log = train.direction is Direction.MINIMIZE and bool(np.all(values > 0))
        if log and np.any(values <= 0):
            raise ValueError(f"log_target=True needs positive values, got min {float(values.min())}")
        if not log:  # as the SRM refuses them
            refuse_overflowing_values(values, "a BNN")
        self.log_target_ = bool(log)
        self.target_col_ = col
        self.diverged_fill_ = self.featurizer.diverged_fill_

        z = np.log(values) if self.log_target_ else values
        self.y_mean_ = float(z[:, -1].mean())
        spread = float(z[:, -1].std())
        if not spread > 1e-12 * abs(self.y_mean_):  # the targets all but constant: any spread
            # floors relative to the values (a review, stop 36: an absolute 1e-12 squashed a
            # metric in units of 1e-20 onto its mean)
            spread = max(spread, float(z.std()), 1e-12 * abs(self.y_mean_), 1e-300)
        self.y_scale_ = spread
        zs = (z - self.y_mean_) / self.y_scale_

        raw = self._raw_config(train.configs)
        with np.errstate(invalid="ignore"):
            mu = np.nanmean(raw, axis=0) if raw.shape[0] else np.zeros(raw.shape[1])
            sd = np.nanstd(raw, axis=0) if raw.shape[0] else np.ones(raw.shape[1])
        self.x_mean_ = np.where(np.isfinite(mu), mu, 0.0)
        self.x_scale_ = np.where(np.isfinite(sd) & (sd > 1e-12), sd, 1.0)
        cfg = self._config_block(raw)

        self.members_ = self._train(cfg, zs[:, :col], zs[:, -1])
        return self

    def _raw_config(self, configs: pd.DataFrame) -> NDArray[np.float64]:
        """AP/HP feature columns of ``configs`` (the Featurizer's), non-finite → NaN."""
        raw = self.featurizer.transform(configs, np.empty((len(configs), 0)))
        raw = np.array(raw, dtype=np.float64)
        raw[~np.isfinite(raw)] = np.nan
        return raw

    def _config_block(self, raw: NDArray[np.float64]) -> NDArray[np.float64]:
        out = (raw - self.x_mean_) / self.x_scale_
        out[~np.isfinite(out)] = 0.0
        return out

    def _n_inputs(self, n_config: int) -> int:
        return n_config + (2 * self.target_col_ + 2 if self._use_ts else 0) + 1

    def _train(self, cfg: NDArray[np.float64], prefix: NDArray[np.float64],
               target: NDArray[np.float64]) -> list[Layers]:
        """Train the members; returns each one's ``[(W (in, out), b (out,)), ...]`` layers.

        The members are trained side by side as one batched network (weights stacked along a
        leading member axis, ``torch.baddbmm``): AdamW and the schedule act elementwise, so this
        is exactly ``n_members`` independent trainings, each with its own generator for the
        initialisation, the data order and the τ draws — at the step overhead of one.
        """
        import torch

        seeds = np.random.SeedSequence(self.random_state).generate_state(self.n_members)
        gens = [torch.Generator().manual_seed(int(s)) for s in seeds]
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return self._train_members(gens, torch.as_tensor(cfg, dtype=torch.float32),
                                       torch.as_tensor(prefix, dtype=torch.float32),
                                       torch.as_tensor(target, dtype=torch.float32))
        finally:
            torch.set_num_threads(threads)

    def _train_members(self, gens: list[torch.Generator], cfg: torch.Tensor, prefix: torch.Tensor,
                       target: torch.Tensor) -> list[Layers]:
        import torch
        from torch.nn.functional import softplus

        n, tau_max = prefix.shape
        n_members = len(gens)
        widths = [self._n_inputs(cfg.shape[1]), *self.hidden, 2]
        params: list[torch.Tensor] = []
        for a, b in itertools.pairwise(widths):
            bound = 1.0 / float(np.sqrt(a))  # torch.nn.Linear's default initialisation
            w = torch.stack([(torch.rand((a, b), generator=g) * 2 - 1) * bound for g in gens])
            bias = torch.stack([(torch.rand((1, b), generator=g) * 2 - 1) * bound for g in gens])
            params += [w.requires_grad_(), bias.requires_grad_()]
        steps_per_epoch = -(-n // self.batch_size)
        opt = torch.optim.AdamW(params, lr=self.lr, weight_decay=self.weight_decay)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=self.epochs * steps_per_epoch)
        positions = torch.arange(tau_max)
        members = torch.arange(n_members)[:, None]
        for _ in range(self.epochs):
            order = torch.stack([torch.randperm(n, generator=g) for g in gens])  # (M, n)
            taus = torch.stack([torch.randint(1, tau_max + 1, (n,), generator=g) for g in gens])
            for start in range(0, n, self.batch_size):
                idx = order[:, start:start + self.batch_size]  # (M, B)
                tau = taus[members, idx]
                mask = (positions < tau[..., None]).to(prefix.dtype)  # (M, B, tau_max)
                last = prefix[idx, tau - 1]
                x = self._torch_inputs(cfg[idx], prefix[idx] * mask, mask, tau, last, tau_max)
                h = x
                for i in range(0, len(params), 2):
                    h = torch.baddbmm(params[i + 1], h, params[i])
                    if i < len(params) - 2:
                        h = torch.tanh(h)
                base = last if self._use_ts else torch.zeros_like(last)
                mean = base + h[..., 0]
                var = softplus(h[..., 1]) + _MIN_VAR
                # Sum over members of each member's mean NLL: the members' gradients stay separate.
                loss = (0.5 * (torch.log(var) + (target[idx] - mean) ** 2 / var)).mean(dim=1).sum()
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
        arrays = [p.detach().double().numpy() for p in params]
        return [[(arrays[i][m].copy(), arrays[i + 1][m, 0].copy()) for i in range(0, len(arrays), 2)]
                for m in range(n_members)]

    def _torch_inputs(self, cfg: torch.Tensor, prefix: torch.Tensor, mask: torch.Tensor,
                      tau: torch.Tensor, last: torch.Tensor, tau_max: int) -> torch.Tensor:
        import torch

        """Network inputs, shape ``(..., n_inputs)``, from batched pieces (leading dims ``...``)."""
        bias = torch.ones((*cfg.shape[:-1], 1), dtype=cfg.dtype)
        if not self._use_ts:
            return torch.cat([cfg, bias], dim=-1)
        frac = (tau.to(cfg.dtype) / tau_max)[..., None]
        return torch.cat([cfg, prefix, mask, frac, last[..., None], bias], dim=-1)

    # ----------------------------------------------------------------- prediction
    def predict(self, configs: pd.DataFrame | None, partial: NDArray[np.float64]) -> Prediction:
        """Predict the target for ``n`` configs from ``partial``, shape ``(n, tau)`` (``configs``
        None: every config counts as the fitted configs' mean).

        With a logged target, ``mean = exp(μ)`` and ``std = exp(μ)·sinh(σ)`` (the average
        half-width of the log-space ±σ interval; ≈ exp(μ)·σ for small σ), in the metric's units.
        """
        if not hasattr(self, "members_"):
            raise RuntimeError("call fit(curves) before predict")
        y = partial_curves(partial)
        configs = config_rows(configs, y.shape[0])
        tau = y.shape[1]
        y[~np.isfinite(y)] = self.diverged_fill_
        if tau > self.target_col_:  # the target is already observed
            seen = y[:, self.target_col_].copy()
            return Prediction(mean=seen, std=least_std(seen))
        z = np.log(np.maximum(y, 1e-300)) if self.log_target_ else y
        zs = (z - self.y_mean_) / self.y_scale_
        x = self._numpy_inputs(self._config_block(self._raw_config(configs)), zs)
        base = zs[:, -1] if self._use_ts else np.zeros(len(zs))
        means, variances = [], []
        for layers in self.members_:
            out = _forward(layers, x)
            means.append(base + out[:, 0])
            variances.append(_softplus(out[:, 1]) + _MIN_VAR)
        m = np.stack(means)
        mu = m.mean(axis=0)
        var = np.stack(variances).mean(axis=0) + m.var(axis=0)
        mu_t = mu * self.y_scale_ + self.y_mean_
        sd_t = np.sqrt(var) * self.y_scale_
        if self.log_target_:
            mean = np.exp(np.clip(mu_t, -700, 700))
            std = mean * np.sinh(np.minimum(sd_t, _MAX_LOG_SIGMA))
        else:
            mean, std = mu_t, sd_t
        std = np.nan_to_num(np.maximum(std, least_std(mean)), nan=1.0,
                            posinf=np.finfo(np.float64).max)
        return Prediction(mean=np.asarray(mean, dtype=np.float64),
                          std=np.asarray(std, dtype=np.float64))

    def _numpy_inputs(self, cfg: NDArray[np.float64], zs: NDArray[np.float64]) -> NDArray[np.float64]:
        n, tau = zs.shape
        bias = np.ones((n, 1))
        if not self._use_ts:
            return np.hstack([cfg, bias])
        tau_max = self.target_col_
        prefix = np.zeros((n, tau_max))
        prefix[:, :tau] = zs
        mask = np.zeros((n, tau_max))
        mask[:, :tau] = 1.0
        frac = np.full((n, 1), tau / tau_max)
        return np.hstack([cfg, prefix, mask, frac, zs[:, -1:], bias])


def _forward(layers: Layers, x: NDArray[np.float64]) -> NDArray[np.float64]:
    """The MLP in numpy: tanh hidden layers, linear output, shape ``(n, 2)``."""
    h = x
    for i, (w, b) in enumerate(layers):
        h = h @ w + b
        if i < len(layers) - 1:
            h = np.tanh(h)
    return h


def _is_int(value: object) -> bool:
    """Whether ``value`` is an integer (a bool is not)."""
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def _softplus(x: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.logaddexp(0.0, x)
