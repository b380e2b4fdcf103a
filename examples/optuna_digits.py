"""Optuna + curvecast: search Adam's hyperparameters of a small CNN on the bundled digits data,
pruning trials by their predicted final accuracy.

    .venv/bin/python examples/optuna_digits.py --trials 40 --epochs 10

Each trial trains a real network (curvecast's digits-metaqnn workload with a fixed architecture)
epoch by epoch and reports the validation accuracy; ``CurvecastPruner()`` (curvecast's defaults:
Δ = 0.99, judging from the 5th complete trial) learns from the finished trials' curves, pruned ones
too, and prunes a trial when P(final < best so far) ≥ Δ.  Pruned trials
carry the prediction in their user attributes (visible in optuna-dashboard), and
``predicted_value`` gives it back.

Warm start: ``--prior data/digits-metaqnn.parquet`` (a ``curvecast collect`` recording of the same
workload) fits the predictor on those curves too; they count toward ``--min-complete``, so the
pruner judges trials from the second one on.  The recording's ``lr``, ``weight_decay`` and
``batch_size`` columns match this study's parameters by name (its architecture columns have no
counterpart here and are not used); its first ``--epochs`` epochs are used.

**Here the prior costs epochs.** Measured on a 2-core CPU (stop 37's code, a review's run, the
defaults above, 40 trials of 10 epochs, 30-40 s each on one core): without a prior 26 of 40 trials
were pruned, 297 of 400 epochs used (best 0.9917); with ``--prior data/digits-metaqnn.parquet`` 3
of 40, 387 epochs. With ``--delta 1.0``, which prunes no trial on a prediction (then it pruned a
run whose P(worse) rounded to 1, some 8σ short, and pruned nothing here; a diverged trial is still
pruned, and ``optuna.pruners.NopPruner()`` turns pruning off altogether), the same seeded
search reached 0.9972 (trial 32) in 400 epochs. The two searches draw different trials after the
first pruned one (TPE learns from what pruned trials reported), so one seed does not tell whether
the pruned search stopped a run that good. (Stop 30 measured 19 of 40 and 337 epochs without a
prior and 3 of 40 and 387 with it, the same best (0.9972) both ways; stop 28 17 of 40 and 341
epochs, and 2 of 40 and 390 epochs, with the pruner of then.) The recording varies the
architecture, which decides most of a run's final accuracy, and this study fixes it: fitted on the
recording, the predictor is far less sure what one network will reach than it is from the study's
own similar curves, so it prunes less. A prior saves epochs when it was recorded on the space the
study searches.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import optuna
import torch

from curvecast import CurveSet
from curvecast.integrations.optuna import ATTRS, CurvecastPruner, predicted_value
from curvecast.workloads import DigitsMetaQNN

NET = "[C(32,3,1), P(2,2), C(64,3,1), GAP(10), SM(10)]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--min-complete", type=int, default=5)
    parser.add_argument("--delta", type=float, default=0.99)
    parser.add_argument("--storage", default=None, help="e.g. sqlite:///optuna.db")
    parser.add_argument("--prior", type=Path, default=None,
                        help="recorded digits-metaqnn curves (Parquet) to warm-start from")
    args = parser.parse_args()
    torch.set_num_threads(1)
    workload = DigitsMetaQNN()
    epochs_used = 0

    def objective(trial: optuna.Trial) -> float:
        nonlocal epochs_used
        config = {"net": NET,
                  "lr": trial.suggest_float("lr", 1e-4, 0.05, log=True),
                  "weight_decay": trial.suggest_float("weight_decay", 1e-6, 1e-2, log=True),
                  "batch_size": trial.suggest_categorical("batch_size", [32, 64, 128])}
        run = workload.start(config, seed=trial.number, epochs=args.epochs)
        value = float("nan")
        for epoch in range(1, args.epochs + 1):
            value = run.train_epoch().value
            epochs_used += 1
            trial.report(value, step=epoch)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return value

    study = optuna.create_study(
        direction="maximize", storage=args.storage,
        sampler=optuna.samplers.TPESampler(seed=0),
        pruner=CurvecastPruner(delta=args.delta, min_complete=args.min_complete,
                               prior=None if args.prior is None else CurveSet.load(args.prior)))
    study.optimize(objective, n_trials=args.trials)
    pruned = [t for t in study.trials if t.state is optuna.trial.TrialState.PRUNED]
    print(f"best accuracy {study.best_value:.4f} with {study.best_params}")
    print(f"{len(pruned)} of {len(study.trials)} trials pruned; epochs used {epochs_used} of "
          f"{len(study.trials) * args.epochs} for full training")
    for t in pruned[:5]:
        print(f"  trial {t.number}: pruned at step {t.user_attrs[ATTRS['step']]}, predicted "
              f"final {predicted_value(t):.4f} (P(worse) = "
              f"{t.user_attrs[ATTRS['probability']]:.3f})")


if __name__ == "__main__":
    main()
