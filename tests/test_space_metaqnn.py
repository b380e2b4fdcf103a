"""The MetaQNN layer space: notation, transitions, sampling, descriptions and encoding."""

from __future__ import annotations

import itertools
import math
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from curvecast.space import (
    FC,
    GAP,
    Conv,
    Dropout,
    LayerKind,
    MetaQNNSpace,
    Pool,
    Softmax,
    State,
    count_params,
    describe_net,
    format_net,
    paper_param_count,
    parse_net,
    pool_output_size,
)

PAPER_NET = "[C(64,1,1), C(128,1,1), D(1,3), P(2,2), C(64,1,1), GAP(10), SM(10)]"


# ------------------------------------------------------------------------------- notation
def test_parse_net_reads_the_papers_notation() -> None:
    assert parse_net(PAPER_NET) == [Conv(64, 1, 1), Conv(128, 1, 1), Dropout(1, 3), Pool(2, 2),
                                    Conv(64, 1, 1), GAP(10), Softmax(10)]
    assert parse_net("[C(8,3,1), FC(128), FC(32), SM(10)]") == [Conv(8, 3), FC(128), FC(32),
                                                                 Softmax(10)]
    assert format_net(parse_net(PAPER_NET)) == PAPER_NET


def test_parse_net_tolerates_whitespace() -> None:
    assert parse_net(" [ C(8, 3, 1) ,P(2,2),  SM(10) ] ") == [Conv(8, 3), Pool(2, 2), Softmax(10)]


@pytest.mark.parametrize(("text", "token"), [
    ("[C(64,1,1), X(3), SM(10)]", "X(3)"),
    ("[C(64,1), SM(10)]", "C(64,1)"),
    ("[C(64,1,1), P(2), SM(10)]", "P(2)"),
    ("[C(64,1,1), SM(10),]", ""),
    ("[C(0,1,1), SM(10)]", "C(0,1,1)"),
    ("[D(4,3), SM(10)]", "D(4,3)"),
    ("[C(-1,1,1), SM(10)]", "C(-1,1,1)"),
    ("[C(\uff18,3,1), SM(10)]", "C(\uff18,3,1)"),  # a full-width 8: not an ASCII digit
    ("[C(8,3,1), SM(1\u0660)]", "SM(1\u0660)"),  # an Arabic-Indic zero
])
def test_parse_net_names_the_bad_token(text: str, token: str) -> None:
    with pytest.raises(ValueError, match="bad layer token") as info:
        parse_net(text)
    assert repr(token) in str(info.value)


@pytest.mark.parametrize("text", ["C(64,1,1), SM(10)", "[]", "[   ]"])
def test_parse_net_rejects_missing_brackets_or_layers(text: str) -> None:
    with pytest.raises(ValueError, match="net string"):
        parse_net(text)


layer_strategy = st.one_of(
    st.builds(Conv, st.integers(1, 512), st.integers(1, 7), st.integers(1, 3)),
    st.builds(Pool, st.integers(1, 5), st.integers(1, 5)),
    st.builds(FC, st.integers(1, 1024)),
    st.integers(1, 9).flatmap(lambda n: st.builds(Dropout, st.integers(1, n), st.just(n))),
    st.builds(GAP, st.integers(1, 200)),
    st.builds(Softmax, st.integers(1, 200)),
)


@given(st.lists(layer_strategy, min_size=1, max_size=12))
def test_format_then_parse_is_the_identity(layers: list) -> None:  # type: ignore[type-arg]
    text = format_net(layers)
    assert parse_net(text) == layers
    assert format_net(parse_net(text)) == text


# ------------------------------------------------------------------------------- sizes
def test_pool_output_size_follows_metaqnn() -> None:
    assert pool_output_size(8, Pool(2, 2)) == 4
    assert pool_output_size(8, Pool(3, 2)) == 4  # ceil(5/2)+1
    assert pool_output_size(8, Pool(3, 2), ceil_mode=False) == 3
    assert pool_output_size(32, Pool(5, 3)) == 10
    assert pool_output_size(2, Pool(2, 2)) == 1
    with pytest.raises(ValueError, match="does not fit"):
        pool_output_size(2, Pool(3, 2))


def test_count_params_by_hand() -> None:
    # conv 1->8 k3: 8*9+8 = 80, batch norm 2*8 = 16; pool 8->4; FC 8*4*4=128 -> 32: 4128;
    # SM 32->10: 330
    layers = parse_net("[C(8,3,1), P(2,2), FC(32), SM(10)]")
    assert count_params(layers, (1, 8, 8), 10) == 80 + 16 + 4128 + 330
    # GAP: conv 1->16 k1: 32 + BN 32; 1x1 conv 16->10: 170; SM after GAP adds nothing
    assert count_params(parse_net("[C(16,1,1), GAP(10), SM(10)]"), (1, 8, 8), 10) == 64 + 170
    # SM straight after a conv: flatten 4*8*8 -> 10
    assert count_params(parse_net("[C(4,1,1), SM(10)]"), (1, 8, 8), 10) == 8 + 8 + 2570


def test_describe_net_counts_layers_like_the_paper() -> None:
    d = describe_net(PAPER_NET, (3, 32, 32), 10)
    assert d["n_layers"] == 6  # C C P C GAP SM; dropout not counted
    assert (d["n_conv"], d["n_pool"], d["n_fc"], d["n_dropout"], d["gap"]) == (3, 1, 0, 1, 1)
    assert d["final_size"] == 16
    weights = 3 * 64 + 64 * 128 + 128 * 64 + 64 * 10
    batch_norm = 2 * (64 + 128 + 64)
    assert d["n_params"] == weights + 64 + 128 + 64 + 10 + batch_norm
    assert paper_param_count(parse_net(PAPER_NET), (3, 32, 32)) == weights


def test_paper_param_count_reproduces_published_values() -> None:
    # rows 0 and 1 of metaqnn_cifar10.csv (num_params 370112 and 4248320)
    row0 = ("[C(64,1,1), C(128,1,1), D(1,3), P(2,2), C(64,1,1), D(2,3), C(128,5,1), C(128,3,1), "
            "D(3,3), GAP(10), SM(10)]")
    row1 = ("[C(256,1,1), C(128,3,1), D(1,5), C(512,1,1), C(64,3,1), D(2,5), C(256,1,1), P(3,2), "
            "D(3,5), C(512,5,1), P(5,3), D(4,5), C(512,1,1), C(64,1,1), D(5,5), SM(10)]")
    assert paper_param_count(parse_net(row0), (3, 32, 32)) == 370112
    assert paper_param_count(parse_net(row1), (3, 32, 32)) == 4248320
    assert describe_net(row0, (3, 32, 32), 10)["n_layers"] == 8
    assert describe_net(row1, (3, 32, 32), 10)["n_layers"] == 11


@pytest.mark.parametrize(("net", "message"), [
    ("[C(8,3,1), P(2,2)]", "must end with SM"),
    ("[C(8,3,1), SM(7)]", "n_classes=10"),
    ("[C(8,3,1), FC(16), C(8,3,1), SM(10)]", "after a fully connected"),
    ("[P(2,2), P(2,2), P(2,2), P(2,2), SM(10)]", "does not fit"),
])
def test_describe_net_rejects_impossible_nets(net: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        describe_net(net, (1, 8, 8), 10)


# ------------------------------------------------------------------------------- transitions
def test_start_state_and_first_actions() -> None:
    space = MetaQNNSpace()
    start = space.start_state()
    assert start == State(depth=0, last=LayerKind.START, size=8, consecutive_fc=0)
    acts = space.actions(start)
    # 4 filters x 3 kernels + 2 pools; no FC at 8x8 (> 4), no termination before a layer
    assert len(acts) == 14
    assert not any(isinstance(a, FC | GAP | Softmax) for a in acts)
    assert not space.is_terminal(start)


def test_transitions_track_size_depth_and_fc_run() -> None:
    space = MetaQNNSpace()
    s = space.transition(space.start_state(), Conv(8, 5))
    assert s == State(1, LayerKind.CONV, 8, 0)
    s = space.transition(s, Pool(2, 2))
    assert s == State(2, LayerKind.POOL, 4, 0)
    assert not any(isinstance(a, Pool) for a in space.actions(s))  # no pool after pool
    assert Conv(8, 5) not in space.actions(s)  # kernel wider than the 4x4 representation
    s = space.transition(s, FC(64))
    assert s == State(3, LayerKind.FC, 4, 1, fc_units=64)
    assert space.actions(s) == [FC(32), FC(64), Softmax(10)]  # no FC wider than the last
    s = space.transition(s, FC(32))
    assert s == State(4, LayerKind.FC, 4, 2, fc_units=32)
    assert space.actions(s) == [Softmax(10)]  # two FC in a row at most, no GAP after FC
    s = space.transition(s, Softmax(10))
    assert space.is_terminal(s) and space.actions(s) == []


def test_gap_is_followed_by_softmax_only() -> None:
    space = MetaQNNSpace()
    s = space.transition(space.start_state(), Conv(16, 3))
    s = space.transition(s, GAP(10))
    assert s.last is LayerKind.GAP and s.depth == 1
    assert space.actions(s) == [Softmax(10)]


def test_max_depth_leaves_only_termination() -> None:
    space = MetaQNNSpace(max_depth=2)
    s = space.transition(space.start_state(), Conv(8, 1))
    s = space.transition(s, Conv(8, 1))
    assert space.actions(s) == [GAP(10), Softmax(10)]


def test_illegal_transition_raises() -> None:
    space = MetaQNNSpace()
    with pytest.raises(ValueError, match="not a legal action"):
        space.transition(space.start_state(), Softmax(10))
    with pytest.raises(ValueError, match="layer 1"):
        space.validate({"net": "[P(2,2), P(2,2), SM(10)]", "lr": 1e-3, "weight_decay": 1e-4,
                        "batch_size": 32})


def test_pooling_stops_at_size_one() -> None:
    space = MetaQNNSpace(max_depth=8)
    s = space.start_state()
    for layer in (Pool(2, 2), Conv(8, 1), Pool(2, 2), Conv(8, 1), Pool(2, 2)):
        s = space.transition(s, layer)
    assert s.size == 1
    s = space.transition(s, Conv(8, 1))
    assert not any(isinstance(a, Pool) for a in space.actions(s))
    assert [a for a in space.actions(s) if isinstance(a, Conv)] == [Conv(f, 1)
                                                                    for f in (8, 16, 32, 64)]


def test_an_fc_layer_is_never_followed_by_a_wider_one() -> None:
    """MetaQNN (Baker et al. 2017) forbids FC(n) → FC(m) with m > n; the old space offered it
    (FC(32) → FC(128): 43 of the 1000 nets of data/digits-metaqnn.parquet)."""
    space = MetaQNNSpace()
    after_32 = space.walk(parse_net("[P(2,2), FC(32)]"))
    assert after_32.fc_units == 32
    assert space.actions(after_32) == [FC(32), Softmax(10)]
    widening = {"net": "[P(2,2), FC(32), FC(128), SM(10)]", "lr": 1e-3, "weight_decay": 1e-4,
                "batch_size": 32}
    with pytest.raises(ValueError, match=r"layer 2 \(FC\(128\)\).*wider than the FC\(32\)"):
        space.validate(widening)
    with pytest.raises(ValueError, match="wider than the FC"):
        space.transition(after_32, FC(64))
    space.validate({**widening, "net": "[P(2,2), FC(128), FC(32), SM(10)]"})  # narrowing: legal
    assert space.describe(widening)["n_fc"] == 2  # a saved study's older net is still described
    lifted = MetaQNNSpace(fc_widening=True)  # for nets recorded without the rule
    lifted.validate(widening)
    assert lifted.actions(after_32) == [FC(32), FC(64), FC(128), Softmax(10)]
    nets = {space.sample(np.random.default_rng([3, i]))["net"] for i in range(2000)}
    pairs = Counter((a.units, b.units) for net in nets
                    for a, b in itertools.pairwise(parse_net(net))
                    if isinstance(a, FC) and isinstance(b, FC))
    assert set(pairs) == {(32, 32), (64, 32), (64, 64), (128, 32), (128, 64), (128, 128)}


@pytest.mark.parametrize("kwargs", [
    {"max_depth": 0}, {"conv_kernels": (2,)}, {"pools": ((2, 3),)}, {"n_classes": 1},
    {"input_shape": (1, 8, 7)}, {"fc_max_size": 0}, {"fc_widening": 1},
])
def test_constructor_rejects_bad_arguments(kwargs: dict) -> None:  # type: ignore[type-arg]
    with pytest.raises(ValueError):
        MetaQNNSpace(**kwargs)


# ------------------------------------------------------------------------------- sampling
@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_every_sampled_net_obeys_the_transition_rules(seed: int) -> None:
    space = MetaQNNSpace()
    config = space.sample(np.random.default_rng(seed))
    space.validate(config)  # raises on any illegal step
    layers = parse_net(config["net"])
    state = space.start_state()
    fc_run = 0
    for prev, layer in zip([None, *layers], layers, strict=False):
        assert layer in space.actions(state)
        assert not (isinstance(prev, Pool) and isinstance(layer, Pool))
        if isinstance(layer, Pool):
            assert state.size > 1
        if isinstance(layer, FC):
            assert state.size <= 4
        if isinstance(prev, FC) and isinstance(layer, FC):
            assert layer.units <= prev.units
        state = space.transition(state, layer)
        fc_run = fc_run + 1 if isinstance(layer, FC) else 0
        assert fc_run <= 2 and state.size >= 1
    assert space.is_terminal(state)
    assert 1 <= state.depth <= 8
    assert format_net(layers) == config["net"]
    assert 1e-4 <= config["lr"] <= 0.05
    assert 1e-6 <= config["weight_decay"] <= 1e-2
    assert config["batch_size"] in (32, 64, 128)
    assert space.describe(config)["n_layers"] == sum(not isinstance(x, Dropout) for x in layers)


def test_sampling_is_deterministic_and_varied() -> None:
    space = MetaQNNSpace()
    a = [space.sample(np.random.default_rng([7, i])) for i in range(200)]
    b = [space.sample(np.random.default_rng([7, i])) for i in range(200)]
    assert a == b
    nets = {c["net"] for c in a}
    assert len(nets) >= 180
    depth = np.array([space.describe(c)["n_layers"] for c in a])
    assert depth.min() == 2 and depth.max() == 10
    assert any("FC(" in n for n in nets) and any("GAP(" in n for n in nets)
    assert any("P(" in n for n in nets)


# ------------------------------------------------------------------------------- encoding
def test_encoding_names_and_values() -> None:
    space = MetaQNNSpace()
    config = {"net": "[C(16,1,1), GAP(10), SM(10)]", "lr": 1e-3, "weight_decay": 1e-4,
              "batch_size": 64}
    assert space.encoded_names == ["log10_n_params", "n_layers", "n_conv", "n_pool", "n_fc",
                                   "gap", "final_size", "log10_lr", "log10_weight_decay",
                                   "batch_size=32", "batch_size=64", "batch_size=128"]
    row = space.encode_one(config)
    assert row == pytest.approx([math.log10(234), 3, 1, 0, 0, 1, 8, -3, -4, 0, 1, 0])
    assert space.encode([config, config]).shape == (2, 12)


def test_validate_names_the_bad_hyperparameter() -> None:
    space = MetaQNNSpace()
    with pytest.raises(ValueError, match="'lr'"):
        space.validate({"net": "[C(16,1,1), SM(10)]", "lr": 3.0, "weight_decay": 1e-4,
                        "batch_size": 64})
    with pytest.raises(ValueError, match="'net'"):
        space.validate({"lr": 1e-3, "weight_decay": 1e-4, "batch_size": 64})


def test_a_walk_that_keeps_the_fc_width_rule_names_it_in_a_lifted_space() -> None:
    """``walk(..., fc_widening=False)`` on a space built with ``fc_widening=True`` refused a
    widening FC layer without saying which rule it broke (the reason was read from the space's
    setting, not the walk's)."""
    net = parse_net("[P(2,2), FC(32), FC(128), SM(10)]")
    lifted = MetaQNNSpace(fc_widening=True)
    assert lifted.walk(net).fc_units == 0  # the space's own setting lifts the rule
    why = (r"layer 2 \(FC\(128\)\) of '\[P\(2,2\), FC\(32\), FC\(128\), SM\(10\)\]' is not "
           r"allowed after .* in MetaQNNSpace\(.*\): an FC layer may not be wider than the "
           r"FC\(32\) before it \(MetaQNN's rule; fc_widening=True lifts it\)$")
    with pytest.raises(ValueError, match=why):
        lifted.walk(net, fc_widening=False)
    with pytest.raises(ValueError, match=why):
        lifted.validate({"net": format_net(net), "lr": 1e-3, "weight_decay": 1e-4,
                         "batch_size": 32}, fc_widening=False)
    with pytest.raises(ValueError, match=why):  # and the strict space, as before
        MetaQNNSpace().walk(net)
    MetaQNNSpace().walk(net, fc_widening=True)  # a strict space's walk that lifts it
