"""MetaQNN's Q-learning searcher: the ε schedule, the update arithmetic, legal and unused proposals
over recorded nets, generative configs, resuming from a state dict, and that it learns."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from curvecast import CurveSet
from curvecast.datasets.baker2018 import load_baker2018
from curvecast.execution import replay
from curvecast.search import MetaQNN, epsilon_schedule
from curvecast.search.metaqnn import METAQNN_SCHEDULE, covering_space
from curvecast.space import (
    FC,
    GAP,
    Conv,
    Dropout,
    MetaQNNSpace,
    Pool,
    Softmax,
    format_net,
    parse_net,
)
from curvecast.stopping import NeverStop

#: A space with two nets: [C(8,1,1), SM(2)] and [C(8,1,1), GAP(2), SM(2)].
TINY = MetaQNNSpace((1, 4, 4), 2, max_depth=1, conv_filters=(8,), conv_kernels=(1,), pools=(),
                    fc_units=())
SHORT, LONG = "[C(8,1,1), SM(2)]", "[C(8,1,1), GAP(2), SM(2)]"
C8, G2, S2 = Conv(8, 1), GAP(2), Softmax(2)


def with_dropout(net: str) -> str:
    """The net spelled like the paper's: a D(i,n) after every second layer, odd spaces."""
    layers = parse_net(net)
    body = [layer for layer in layers if not isinstance(layer, GAP | Softmax)]
    tail = layers[len(body):]
    n = len(body) // 2
    out: list[str] = []
    for i, layer in enumerate(body):
        out.append(str(layer))
        if i % 2 == 1:
            out.append(str(Dropout(i // 2 + 1, n)))
    return "[" + " ,  ".join(out + [str(x) for x in tail]) + "]"


def recorded(n: int = 300, seed: int = 0, spell_dropout: bool = True) -> tuple[CurveSet, MetaQNNSpace]:
    """Distinct nets of the default 8x8 space; final value 0.8 when the net starts with pooling,
    else 0.5 (plus noise); curves rise to it over 3 epochs."""
    space = MetaQNNSpace()
    rng = np.random.default_rng(seed)
    nets: dict[str, None] = {}
    while len(nets) < n:
        nets[format_net(space.sample_layers(rng))] = None
    names = list(nets)
    final = np.array([0.8 if net.startswith("[P(") else 0.5 for net in names])
    final = final + rng.normal(0, 0.02, n)
    values = final[:, None] * np.array([0.6, 0.9, 1.0])
    spelled = [with_dropout(x) if spell_dropout else x for x in names]
    configs = pd.DataFrame({"net": spelled}, index=[f"n{i:03d}" for i in range(n)])
    curves = CurveSet(values=values, observed=np.ones(values.shape, bool), epochs=np.arange(1, 4),
                      metric="acc", direction="maximize", configs=configs)
    return curves, space


# ------------------------------------------------------------------------------ ε schedule
def test_epsilon_schedule_is_metaqnns_at_its_own_budget() -> None:
    eps = epsilon_schedule(2700)
    values, counts = np.unique(eps, return_counts=True)
    assert dict(zip(values.round(1).tolist(), counts.tolist(), strict=True)) == {
        1.0: 1500, 0.9: 100, 0.8: 100, 0.7: 100, 0.6: 150, 0.5: 150, 0.4: 150, 0.3: 150,
        0.2: 150, 0.1: 150}
    assert eps[0] == 1.0 and eps[1499] == 1.0 and eps[1500] == 0.9 and eps[-1] == 0.1


def test_epsilon_schedule_scales_to_the_budget() -> None:
    eps = epsilon_schedule(500)
    assert eps.shape == (500,)
    assert np.all(np.diff(eps) <= 0)
    assert (eps == 1.0).sum() == 278  # 1500 / 2700 of 500 = 277.8
    assert [int((eps == e).sum()) for e in (0.9, 0.8, 0.7)] == [18, 19, 18]
    assert [int((eps == e).sum()) for e in (0.6, 0.5, 0.4, 0.3, 0.2, 0.1)] == [28, 28, 28, 27,
                                                                              28, 28]
    assert np.all(eps[:100] == 1.0) and np.all(eps[-100:] <= 0.4)
    assert epsilon_schedule(1).tolist() == [1.0]
    assert epsilon_schedule(4, [(1.0, 1), (0.5, 1)]).tolist() == [1.0, 1.0, 0.5, 0.5]


@pytest.mark.parametrize("n_trials, schedule, match", [
    (0, METAQNN_SCHEDULE, "got 0"),
    (10, [(1.5, 10)], "1.5"),
    (10, [(0.5, 0)], "got 0"),
    (10, [], "empty"),
])
def test_epsilon_schedule_rejects_bad_arguments(n_trials: int, schedule: list[tuple[float, int]],
                                                match: str) -> None:
    with pytest.raises(ValueError, match=match):
        epsilon_schedule(n_trials, schedule)


# ------------------------------------------------------------------------------ Q arithmetic
def test_one_told_net_updates_q_backwards_with_alpha_and_gamma() -> None:
    # replay_size=1 with one net in memory: exactly one backward pass over it.
    agent = MetaQNN(TINY, 2, nets={"short": SHORT, "long": LONG}, replay_size=1, seed=0)
    assert agent.q_values([]) == {C8: 0.5}
    assert agent.q_values([C8]) == {G2: 0.5, S2: 0.5}
    config_id = agent.ask()
    agent.tell(config_id, 0.9, predicted=False)
    if config_id == "short":  # Q(s1, SM) ← 0.5 + 0.01 (0.9 − 0.5); Q(s0, C) ← toward max_a Q(s1, a)
        assert agent.q_values([C8]) == pytest.approx({G2: 0.5, S2: 0.504}, abs=1e-12)
        assert agent.q_values([]) == pytest.approx({C8: 0.5 + 0.01 * (0.504 - 0.5)}, abs=1e-12)
    else:
        assert agent.q_values([C8, G2]) == pytest.approx({S2: 0.504}, abs=1e-12)
        assert agent.q_values([C8]) == pytest.approx({G2: 0.50004, S2: 0.5}, abs=1e-12)
        assert agent.q_values([]) == pytest.approx({C8: 0.5}, abs=1e-12)  # max is still 0.5


def test_replayed_updates_compound_and_gamma_discounts() -> None:
    agent = MetaQNN(TINY, 1, nets={"short": SHORT}, replay_size=3, gamma=0.5, alpha=0.1)
    assert agent.ask() == "short"
    agent.tell("short", 0.9, predicted=True)
    sm = c = 0.5
    for _ in range(3):  # three backward passes over the same trajectory
        sm += 0.1 * (0.9 - sm)
        c += 0.1 * (0.5 * sm - c)  # the max runs over recorded actions only: SM here
    assert agent.q_values([C8]) == pytest.approx({S2: sm}, abs=1e-12)
    assert agent.q_values([]) == pytest.approx({C8: c}, abs=1e-12)
    assert agent.memory == [("short", SHORT, 0.9, True)]
    assert agent.results_["short"].predicted


def test_minimize_rewards_the_negated_value() -> None:
    agent = MetaQNN(TINY, 1, nets={"short": SHORT}, replay_size=1, direction="minimize", q_init=0)
    agent.tell(agent.ask() or "", 2.0, predicted=False)
    assert agent.q_values([C8])[S2] == pytest.approx(0.01 * -2.0)


# ------------------------------------------------------------------------------ replay mode
def test_replay_proposals_are_recorded_unused_and_exhaust_the_set() -> None:
    curves, space = recorded(n=120)
    agent = MetaQNN.from_curves(curves, space=space, seed=3)
    assert agent.replay_mode and agent.n_trials == 120
    seen = []
    while (config_id := agent.ask()) is not None:
        assert config_id in curves.config_ids and config_id not in seen
        assert agent.config(config_id) == {"net": curves.configs.loc[config_id, "net"]}
        seen.append(config_id)
        agent.tell(config_id, float(curves.final_values()[curves.row(config_id)]), False)
    assert sorted(seen) == sorted(curves.config_ids)


def test_a_budget_stops_asking_and_duplicated_nets_share_a_leaf() -> None:
    nets = {"a": SHORT, "b": "[ C(8,1,1) ,SM(2) ]", "c": LONG}
    agent = MetaQNN(TINY, 2, nets=nets, seed=1)
    first, second = agent.ask(), agent.ask()
    assert agent.ask() is None  # budget of 2
    assert {first, second} <= set(nets) and first != second
    everything = MetaQNN(TINY, 10, nets=nets, seed=1)
    asked = [everything.ask() for _ in range(4)]
    assert sorted(asked[:3]) == ["a", "b", "c"] and asked[3] is None  # type: ignore[type-var]


def test_replay_rejects_nets_outside_the_space() -> None:
    with pytest.raises(ValueError, match=r"config 'x'.*C\(16,1,1\)"):
        MetaQNN(TINY, 1, nets={"x": "[C(16,1,1), SM(2)]"})
    with pytest.raises(ValueError, match="does not end with SM"):
        MetaQNN(TINY, 1, nets={"x": "[C(8,1,1)]"})


def test_drives_the_replay_executor_with_workers() -> None:
    curves, space = recorded(n=60)
    result = replay(curves, MetaQNN.from_curves(curves, 40, space=space, seed=0), NeverStop(),
                    workers=3)
    assert len(result.trials) == 40
    assert len({t.config_id for t in result.trials}) == 40


def test_the_papers_nets_walk_a_covering_space(baker2018: Path) -> None:
    curves = load_baker2018(baker2018 / "metaqnn_cifar10.csv")
    agent = MetaQNN.from_curves(curves, n_trials=60, seed=0)  # input size read from final_size
    assert agent.space.input_shape[1:] == (32, 32) and agent.space.max_depth == 18
    values = dict(zip(curves.config_ids, curves.final_values(), strict=True))
    asked = []
    while (config_id := agent.ask()) is not None:
        asked.append(config_id)
        agent.tell(config_id, float(values[config_id]), False)
    assert len(set(asked)) == 60 and set(asked) <= set(curves.config_ids)


def test_covering_space_is_the_smallest_that_walks_the_nets() -> None:
    space = covering_space(["[C(64,3,1), D(1,1), P(2,2), FC(128), FC(128), SM(10)]",
                            "[C(32,5,1), GAP(10), SM(10)]"], 32)
    assert space.max_depth == 4 and space.max_consecutive_fc == 2 and space.n_classes == 10
    assert {c.filters for c in space.conv_layers} == {32, 64}
    assert space.pool_layers == (Pool(2, 2),)
    with pytest.raises(ValueError, match="disagree"):
        covering_space(["[C(8,1,1), SM(10)]", "[C(8,1,1), SM(2)]"], 8)


def test_recorded_nets_with_a_widening_fc_still_replay() -> None:
    """43 of the 1000 nets of data/digits-metaqnn.parquet have an FC layer wider than the FC
    before it (recorded before MetaQNNSpace forbade it): their covering space admits it, so
    they replay; a recording without one keeps MetaQNN's rule."""
    narrow = ["[P(2,2), FC(64), FC(32), SM(10)]", "[C(8,3,1), SM(10)]"]
    assert not covering_space(narrow, 8).fc_widening
    nets = {"w": "[P(2,2), FC(32), FC(128), SM(10)]", "n": narrow[0], "c": narrow[1]}
    space = covering_space(list(nets.values()), 8)
    assert space.fc_widening
    agent = MetaQNN(space, 3, nets=nets, seed=0)
    asked = [agent.ask() for _ in range(3)]
    assert sorted(c for c in asked if c is not None) == ["c", "n", "w"]
    with pytest.raises(ValueError, match=r"config 'w'.*FC\(128\).*is not allowed"):
        MetaQNN(MetaQNNSpace(), 3, nets=nets)  # MetaQNN's own space refuses it, by name


# ------------------------------------------------------------------------------ generative mode
def test_generative_agent_never_widens_an_fc_layer() -> None:
    """MetaQNN's action set after FC(n) holds FC layers of at most n units (the old agent's row
    after FC(32) also held FC(64) and FC(128), and it proposed them)."""
    space = MetaQNNSpace()
    agent = MetaQNN(space, 400, seed=1, replay_size=0)
    assert set(agent.q_values(parse_net("[P(2,2), FC(32)]"))) == {FC(32), Softmax(10)}
    assert set(agent.q_values(parse_net("[P(2,2), FC(64)]"))) == {FC(32), FC(64), Softmax(10)}
    pairs = []
    while (config := agent.ask_config()) is not None:
        layers = parse_net(config["net"])
        pairs += [(a.units, b.units) for a, b in itertools.pairwise(layers)
                  if isinstance(a, FC) and isinstance(b, FC)]
        agent.tell_config(config, 0.5, predicted=False)
    assert len(pairs) > 20 and all(b <= a for a, b in pairs)
    saved = agent.state_dict()  # a key's text is as before, 'depth,last,size,fc_run|layer'
    assert set(saved["q"]["2,fc,4,1|FC(32)"]) == {"FC(32)", "SM(10)"}
    again = MetaQNN(space, 400, seed=1, replay_size=0)
    again.load_state_dict(json.loads(json.dumps(saved)))  # the FC width is read from the layer
    assert again.state_dict() == saved


def test_generative_configs_are_legal_and_carry_hyperparameters() -> None:
    space = MetaQNNSpace()
    agent = MetaQNN(space, 30, seed=2, replay_size=10)
    configs = []
    while (config := agent.ask_config()) is not None:  # the ConfigSearcher interface
        space.validate(config)  # a walk of the space ending in SM, hyperparameters in range
        assert set(config) == {"net", "lr", "weight_decay", "batch_size"}
        configs.append(config)
        stopped = len(configs) % 2 == 0
        agent.tell_config(json.loads(json.dumps(config)), 0.5 + 0.1 * config["net"].count("C("),
                          predicted=stopped)
    assert len(configs) == 30
    assert [cid for cid, *_ in agent.memory][:2] == ["metaqnn-00000", "metaqnn-00001"]
    assert [p for *_, p in agent.memory] == [i % 2 == 1 for i in range(30)]
    assert [net for _, net, *_ in agent.memory] == [c["net"] for c in configs]
    with pytest.raises(ValueError, match="not in flight"):
        agent.tell_config(configs[0], 0.5, False)


def test_tell_config_finds_the_trial_in_flight_among_several() -> None:
    curves, space = recorded(n=20)
    agent = MetaQNN.from_curves(curves, space=space, seed=0)
    a, b = agent.ask_config(), agent.ask_config()
    assert a is not None and b is not None
    agent.tell_config(b, 0.6, predicted=False)
    agent.tell_config(a, 0.4, predicted=True)
    assert [(net, r) for _, net, r, _ in agent.memory] == [(b["net"], 0.6), (a["net"], 0.4)]


# ------------------------------------------------------------------------------ arguments
@pytest.mark.parametrize("kwargs, match", [
    ({"alpha": 0.0}, "alpha.*0.0"),
    ({"gamma": 1.5}, "gamma.*1.5"),
    ({"replay_size": -1}, "replay_size.*-1"),
    ({"n_trials": 0}, "n_trials.*0"),
])
def test_bad_arguments_name_the_value(kwargs: dict[str, float], match: str) -> None:
    args = {"n_trials": 5, **kwargs}
    with pytest.raises(ValueError, match=match):
        MetaQNN(TINY, **args)  # type: ignore[arg-type]


def test_tell_rejects_unknown_repeated_and_non_finite() -> None:
    agent = MetaQNN(TINY, 3, seed=0)
    config_id = agent.ask()
    assert config_id is not None
    with pytest.raises(ValueError, match="'nope' was not asked"):
        agent.tell("nope", 0.5, False)
    with pytest.raises(ValueError, match="nan"):
        agent.tell(config_id, float("nan"), False)
    agent.tell(config_id, 0.5, False)
    with pytest.raises(ValueError, match="already told"):
        agent.tell(config_id, 0.5, False)


# ------------------------------------------------------------------------------ resume
@pytest.mark.parametrize("generative", [False, True])
def test_state_dict_round_trips_through_json(generative: bool) -> None:
    curves, space = recorded(n=80)

    def make() -> MetaQNN:
        if generative:
            return MetaQNN(space, 60, seed=5, replay_size=20)
        return MetaQNN.from_curves(curves, 60, space=space, seed=5, replay_size=20)

    def value(agent: MetaQNN, config_id: str) -> float:
        return float(len(agent.config(config_id)["net"])) / 100

    a = make()
    for _ in range(25):
        cid = a.ask()
        assert cid is not None
        a.tell(cid, value(a, cid), predicted=False)
    in_flight = a.ask()  # asked, not told: survives the round trip
    assert in_flight is not None
    saved = json.loads(json.dumps(a.state_dict()))
    b = make()
    b.load_state_dict(saved)
    assert b.state_dict() == a.state_dict()
    for agent in (a, b):
        agent.tell(in_flight, 0.7, predicted=True)
    for _ in range(20):  # both continue identically
        ca, cb = a.ask(), b.ask()
        assert ca == cb and ca is not None
        a.tell(ca, value(a, ca), False)
        b.tell(cb, value(b, cb), False)
    assert a.state_dict() == b.state_dict()
    with pytest.raises(ValueError, match=r"generative|replay"):
        (MetaQNN.from_curves(curves, 5, space=space) if generative else
         MetaQNN(space, 5)).load_state_dict(saved)


def test_a_generative_state_saved_before_the_fc_width_rule_still_loads() -> None:
    """A saved study's agent may hold Q-values of FC(32) → FC(128) and nets that take it (the
    rule is newer): they load; those Q-values are dropped and those nets teach nothing."""
    space = MetaQNNSpace()
    agent = MetaQNN(space, 10, seed=0, replay_size=5)
    for _ in range(3):
        cid = agent.ask()
        assert cid is not None
        agent.tell(cid, 0.5, predicted=False)
    saved = json.loads(json.dumps(agent.state_dict()))
    old_net = "[P(2,2), FC(32), FC(128), SM(10)]"
    saved["q"]["2,fc,4,1|FC(32)"] = {"FC(32)": 0.5, "FC(64)": 0.6, "FC(128)": 0.7, "SM(10)": 0.5}
    saved["memory"].append({"config_id": "old", "net": old_net, "reward": 0.9,
                            "predicted": False})
    saved["results"]["old"] = {"value": 0.9, "predicted": False}
    saved["pending"]["flying"] = old_net
    saved["configs"]["flying"] = {"net": old_net, "lr": 1e-3, "weight_decay": 1e-4,
                                  "batch_size": 32}
    again = MetaQNN(space, 10, seed=0, replay_size=5)
    again.load_state_dict(saved)
    assert again.q_values(parse_net("[P(2,2), FC(32)]")) == {FC(32): 0.5, Softmax(10): 0.5}
    assert again.results_["old"].value == 0.9 and again.memory[-1][:2] == ("old", old_net)
    again.tell("flying", 0.8, predicted=True)  # in flight across the upgrade: told as before
    assert again.results_["flying"].value == 0.8
    saved["pending"]["flying"] = "[P(2,2), FC(32), FC(128)]"  # not a net: still refused
    with pytest.raises(ValueError, match=r"FC\(128\)\) of net .* is not allowed"):
        MetaQNN(space, 10, seed=0).load_state_dict(saved)


# ------------------------------------------------------------------------------ learning
def test_it_learns_to_propose_better_nets() -> None:
    curves, space = recorded(n=400, seed=1)
    final = dict(zip(curves.config_ids, curves.final_values(), strict=True))
    agent = MetaQNN.from_curves(curves, n_trials=150, space=space, seed=0)
    got = []
    while (config_id := agent.ask()) is not None:
        got.append(final[config_id])
        agent.tell(config_id, final[config_id], predicted=False)
    first, last = np.mean(got[:30]), np.mean(got[-30:])
    # at ε = 1 about 1 net in 7 starts with pooling (worth 0.8, the rest 0.5); at small ε most do
    assert first < 0.6 and last > 0.7
