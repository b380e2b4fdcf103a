"""TPE through Optuna's ask/tell: generative configs, nearest-unused mapping over recorded configs,
predicted values marked on the trials, and that it beats random search on a smooth problem."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from curvecast import CurveSet
from curvecast.execution import replay
from curvecast.search import TPE, RandomSearch
from curvecast.space import Categorical, Float, Int, ParamSpace
from curvecast.stopping import NeverStop

pytest.importorskip("optuna")

SPACE = ParamSpace([Float("lr", 1e-4, 1e-1, log=True), Int("width", 8, 64),
                    Categorical("opt", ("sgd", "adam"))])


def smooth(n: int = 400, seed: int = 0) -> CurveSet:
    """Final value a smooth function of x alone, 0.9 − (x − 0.7)²; y and 'opt' are noise."""
    rng = np.random.default_rng(seed)
    x, y = rng.uniform(0, 1, n), rng.uniform(0, 1, n)
    opt = rng.choice(["sgd", "adam"], n)
    final = 0.9 - (x - 0.7) ** 2
    values = final[:, None] * np.array([0.5, 0.8, 1.0])
    configs = pd.DataFrame({"x": x, "y": y, "opt": opt, "const": 1, "name": [f"r{i}" for i in
                                                                             range(n)]},
                           index=[f"c{i:03d}" for i in range(n)])
    return CurveSet(values=values, observed=np.ones(values.shape, bool), epochs=np.arange(1, 4),
                    metric="acc", direction="maximize", configs=configs)


def test_import_does_not_load_optuna() -> None:
    code = ("import sys\nimport curvecast.search\nfrom curvecast.search import TPE\n"
            "assert 'optuna' not in sys.modules, 'optuna imported'\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_generative_configs_are_in_the_space_and_marked_predicted() -> None:
    tpe = TPE(SPACE, n_trials=15, seed=0, n_startup_trials=5)
    told = []
    while (config := tpe.ask_config()) is not None:  # the ConfigSearcher interface
        SPACE.validate(config)
        assert isinstance(config["width"], int) and config["opt"] in ("sgd", "adam")
        stopped = len(told) % 3 == 0
        tpe.tell_config(config, -abs(np.log10(config["lr"]) + 2), predicted=stopped)
        told.append(stopped)
    assert len(told) == 15
    trials = tpe.study_.trials
    assert [t.user_attrs["predicted"] for t in trials] == told
    assert [t.user_attrs["config_id"] for t in trials] == [f"tpe-{i:05d}" for i in range(15)]
    assert all(t.state.name == "COMPLETE" for t in trials)
    assert tpe.results_["tpe-00000"].predicted


def test_state_dict_resumes_told_and_in_flight_trials() -> None:
    tpe = TPE(SPACE, n_trials=12, seed=0, n_startup_trials=3)
    for _ in range(6):
        config = tpe.ask_config()
        assert config is not None
        tpe.tell_config(config, config["width"] / 64, predicted=False)
    in_flight = tpe.ask_config()
    assert in_flight is not None
    saved = json.loads(json.dumps(tpe.state_dict()))
    resumed = TPE(SPACE, n_trials=12, seed=0, n_startup_trials=3)
    resumed.load_state_dict({})  # a new study: nothing to restore
    resumed.load_state_dict(saved)
    assert [t.params for t in resumed.study_.trials] == [t.params for t in tpe.study_.trials]
    resumed.tell_config(in_flight, 0.5, predicted=True)
    assert resumed.study_.trials[6].value == 0.5
    assert resumed.study_.trials[6].user_attrs["predicted"] is True
    rest = []
    while (config := resumed.ask_config()) is not None:
        rest.append(config)
        resumed.tell_config(config, 0.1, False)
    assert len(rest) == 5 and len(resumed.results_) == 12


def test_replay_state_dict_keeps_the_used_configs_used() -> None:
    curves = smooth(n=12)
    a = TPE.from_curves(curves, columns=["x", "y"], seed=0, n_startup_trials=2)
    used = []
    for _ in range(5):
        cid = a.ask()
        assert cid is not None
        used.append(cid)
        a.tell(cid, 0.5, False)
    b = TPE.from_curves(curves, columns=["x", "y"], seed=0, n_startup_trials=2)
    b.load_state_dict(json.loads(json.dumps(a.state_dict())))
    rest = []
    while (cid := b.ask()) is not None:
        rest.append(cid)
        b.tell(cid, 0.5, False)
    assert sorted(used + rest) == sorted(curves.config_ids)


def test_replay_maps_proposals_to_the_nearest_unused_config() -> None:
    curves = smooth(n=40)
    tpe = TPE.from_curves(curves, columns=["x", "y", "opt", "const", "name"], seed=1,
                          n_startup_trials=5)
    assert tpe.space.names == ["x", "y", "opt"]
    assert set(tpe.skipped_columns_) == {"const", "name"}
    table = curves.configs
    z = (table[["x", "y"]] - table[["x", "y"]].mean()) / table[["x", "y"]].std(ddof=0)
    used: list[str] = []
    while (config_id := tpe.ask()) is not None:
        trial = tpe.study_.trials[len(used)]
        p = trial.params
        point = (np.array([p["x"], p["y"]]) - table[["x", "y"]].mean().to_numpy()) / \
            table[["x", "y"]].std(ddof=0).to_numpy()
        free = [c for c in table.index if c not in used]
        same = [c for c in free if table.loc[c, "opt"] == p["opt"]] or free
        dist = {c: float(np.sqrt(((z.loc[c].to_numpy() - point) ** 2).sum())) for c in same}
        assert config_id == min(dist, key=lambda c: dist[c])
        assert trial.user_attrs["distance"] == pytest.approx(dist[config_id])
        assert tpe.config(config_id) == {"x": table.loc[config_id, "x"],
                                         "y": table.loc[config_id, "y"],
                                         "opt": table.loc[config_id, "opt"]}
        used.append(config_id)
        tpe.tell(config_id, float(curves.final_values()[curves.row(config_id)]), False)
    assert sorted(used) == sorted(curves.config_ids)  # every config once, then None


def test_default_columns_come_from_the_provenance() -> None:
    curves = smooth(n=40)
    curves = CurveSet(values=curves.values, observed=curves.observed, epochs=curves.epochs,
                      metric="acc", direction="maximize", configs=curves.configs,
                      provenance={"columns": {"hyperparameters": ["x", "name"],
                                              "architecture": ["y"]}})
    tpe = TPE.from_curves(curves)
    assert tpe.space.names == ["x", "y"]
    assert tpe.skipped_columns_ == {"name": "40 distinct values > max_categories=32"}


def test_tpe_beats_random_search_on_a_smooth_recorded_set() -> None:
    curves = smooth(n=400, seed=0)
    final = dict(zip(curves.config_ids, curves.final_values(), strict=True))

    def last30(searcher: TPE | RandomSearch) -> float:
        result = replay(curves, searcher, NeverStop())
        return float(np.mean([final[t.config_id] for t in result.trials[-30:]]))

    tpe = last30(TPE.from_curves(curves, n_trials=80, columns=["x", "y", "opt"], seed=0))
    rand = last30(RandomSearch.from_curves(curves, seed=0, max_trials=80))
    assert tpe > rand + 0.05, (tpe, rand)
    assert tpe > 0.88  # near the optimum 0.9 at x = 0.7


@pytest.mark.parametrize("kwargs, match", [
    ({"n_trials": -1}, "n_trials.*-1"),
    ({"n_startup_trials": -2}, "n_startup_trials.*-2"),
])
def test_bad_arguments_name_the_value(kwargs: dict[str, int], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        TPE(SPACE, **kwargs)  # type: ignore[arg-type]


def test_bad_candidates_and_tells_are_refused() -> None:
    with pytest.raises(ValueError, match=r"lack.*width"):
        TPE(SPACE, candidates=pd.DataFrame({"lr": [0.01], "opt": ["sgd"]}))
    with pytest.raises(ValueError, match=r"'a'.*width.*1000"):
        TPE(SPACE, candidates=pd.DataFrame({"lr": [0.01], "width": [1000], "opt": ["sgd"]},
                                           index=["a"]))
    with pytest.raises(ValueError, match=r"choices.*"):
        TPE(ParamSpace([Categorical("f", ((1, 2), (3, 4)))]))
    with pytest.raises(ValueError, match=r"'zz'.*not in the config table"):
        TPE.from_curves(smooth(n=10), columns=["zz"])
    tpe = TPE(SPACE, seed=0)
    config_id = tpe.ask()
    assert config_id is not None
    with pytest.raises(ValueError, match="inf"):
        tpe.tell(config_id, float("inf"), False)
    tpe.tell(config_id, 0.3, False)
    with pytest.raises(ValueError, match="already told"):
        tpe.tell(config_id, 0.3, False)
    with pytest.raises(ValueError, match="'other' was not asked"):
        tpe.tell("other", 0.3, False)
