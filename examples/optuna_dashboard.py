"""Optuna + CurvecastPruner on a tiny real task, stored where optuna-dashboard can open it.

An SGD classifier on scikit-learn's bundled digits, 10 epochs per trial, 30 trials: the study
behind the screenshot in docs/user-guide.md ("Optuna: what the pruner decided").

    python examples/optuna_dashboard.py sqlite:///dashboard.db     # a few seconds
    pip install optuna-dashboard
    optuna-dashboard sqlite:///dashboard.db                        # http://127.0.0.1:8080
"""

import sys
import warnings

import optuna
from sklearn.datasets import load_digits
from sklearn.linear_model import SGDClassifier

from curvecast.integrations.optuna import CurvecastPruner

X, y = load_digits(return_X_y=True)
X = X / 16


def objective(trial: optuna.Trial) -> float:
    model = SGDClassifier(alpha=trial.suggest_float("alpha", 1e-6, 1.0, log=True), random_state=0)
    for epoch in range(1, 11):  # report epochs 1..T as steps
        model.partial_fit(X[:1200], y[:1200], classes=range(10))
        trial.report(model.score(X[1200:], y[1200:]), step=epoch)  # validation accuracy
        if trial.should_prune():
            raise optuna.TrialPruned()
    return float(model.score(X[1200:], y[1200:]))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python examples/optuna_dashboard.py STORAGE_URL, e.g. sqlite:///dashboard.db")
    try:
        study = optuna.create_study(study_name="digits-sgd", storage=sys.argv[1],
                                    direction="maximize",
                                    pruner=CurvecastPruner(min_complete=10, refit_every=None),
                                    sampler=optuna.samplers.RandomSampler(seed=0))
    except optuna.exceptions.DuplicatedStudyError:
        sys.exit(f"{sys.argv[1]} already holds study 'digits-sgd': open it with "
                 f"optuna-dashboard {sys.argv[1]}, or give another storage URL")
    with warnings.catch_warnings():  # Optuna flags set_metric_names as experimental
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.set_metric_names(["val_accuracy"])  # a prior imported from it carries the name
    study.optimize(objective, n_trials=30)
    pruned = study.get_trials(states=[optuna.trial.TrialState.PRUNED])
    print(f"best {study.best_value:.4f} with {study.best_params}; {len(pruned)} of 30 pruned")
