"""Bad arguments to the search algorithms give a clear ValueError at once (a review of
src/curvecast/search and src/curvecast/space): empty search spaces, R and counts that are not
whole numbers, an infinite margin, and an η so close to 1 that the bracket table never finished."""

from __future__ import annotations

import math
import re
import time

import numpy as np
import pytest

from curvecast.search import (
    FHyperband,
    Hyperband,
    MetaQNN,
    RandomSampler,
    RandomSearch,
    epsilon_schedule,
    hyperband_brackets,
)
from curvecast.space import Float, MetaQNNSpace, ParamSpace


# ------------------------------------------------------------------------------ empty spaces
def test_random_sampler_refuses_an_empty_space() -> None:
    # it proposed {} for ever: trials without a single parameter
    with pytest.raises(ValueError, match=r"search space is empty.*ParamSpace\(\[\]\)"):
        RandomSampler(ParamSpace([]), seed=0)
    sampler = RandomSampler(ParamSpace([Float("x", 0.0, 1.0)]), seed=0, max_trials=1)
    config = sampler.ask_config()
    assert config is not None and 0.0 <= config["x"] <= 1.0


def test_random_search_and_metaqnn_refuse_no_candidates() -> None:
    # both returned None at the first ask: a search of zero trials, without a word
    with pytest.raises(ValueError, match="at least one candidate config, got none"):
        RandomSearch([], seed=0)
    with pytest.raises(ValueError, match="nets is empty: replay mode needs at least one"):
        MetaQNN(MetaQNNSpace(), 5, nets={})
    assert RandomSearch(["a"], seed=0).ask() == "a"


def test_a_metaqnn_space_without_a_first_layer_is_refused() -> None:
    # a 2x2 input with only 3x3 kernels and 3x3 pools and no FC: sampling failed with numpy's
    # "high <= 0"
    kwargs = {"conv_kernels": (3,), "pools": ((3, 2),), "max_consecutive_fc": 0}
    with pytest.raises(ValueError, match=r"no first layer fits a 2x2 input .* the space is empty"):
        MetaQNNSpace((1, 2, 2), **kwargs)  # type: ignore[arg-type]
    space = MetaQNNSpace((1, 3, 3), **kwargs)  # type: ignore[arg-type]  # 3x3 layers fit
    assert [str(a) for a in space.actions(space.start_state())][-1] == "P(3,2)"
    assert space.sample(np.random.default_rng(0))["net"].endswith(", SM(10)]")


# ------------------------------------------------------------------------------ Hyperband
@pytest.mark.parametrize("max_epochs", [2.5, math.nan, True, "27"])
def test_hyperband_r_must_be_a_whole_number_of_epochs(max_epochs: object) -> None:
    # R = 2.5 built rungs at round(2.5) = 2 epochs, R = NaN failed with "cannot convert float
    # NaN to integer", and Hyperband(max_epochs=nan) was accepted
    shown = re.escape(repr(max_epochs))
    with pytest.raises(ValueError, match=rf"max_epochs \(R\) must be >= 1, got {shown} \(a "
                                         "whole number of epochs"):
        hyperband_brackets(max_epochs)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=rf"max_epochs \(R\) must be >= 1 or None, got {shown} "
                                         r"\(a whole number of epochs"):
        Hyperband(RandomSearch(["a"]), max_epochs=max_epochs)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"max_iterations must be >= 1 or None, got 1\.5 \(a "):
        Hyperband(RandomSearch(["a"]), max_iterations=1.5)  # type: ignore[arg-type]
    assert [p.s for p in hyperband_brackets(np.int64(27))] == [3, 2, 1, 0]


def test_hyperband_refuses_too_many_brackets_for_a_long_r_at_once() -> None:
    # R = 10⁵ epochs with η = 1.001 passed the 10-brackets-per-epoch bound (1.2·10⁴ brackets,
    # ~7·10⁷ rungs) and did not finish within a minute
    start = time.perf_counter()
    with pytest.raises(ValueError, match=r"log_η R = 1\.15e\+04 brackets, more than 1000 .* "
                                         r"use η >= 1\.0116"):
        hyperband_brackets(100_000, 1.001)
    assert time.perf_counter() - start < 1.0
    assert len(hyperband_brackets(1000, 1.01)) == 695  # under both bounds: built


def test_fhyperband_margin_must_be_finite_and_d_whole() -> None:
    # an infinite δ was accepted (and stopped nothing); d = 6.5 was truncated to 6
    searcher = RandomSearch(["a"])
    with pytest.raises(ValueError, match=r"margin \(δ\) must be a finite number >= 0, got inf"):
        FHyperband(searcher, margin=math.inf)
    with pytest.raises(ValueError, match=r"min_curves \(d\) must be >= 6 .* got 6\.5"):
        FHyperband(searcher, min_curves=6.5)  # type: ignore[arg-type]
    assert FHyperband(searcher, margin=0.01, min_curves=6).min_curves == 6


# ------------------------------------------------------------------------------ ε schedule
@pytest.mark.parametrize(("schedule", "match"), [
    ([(1.0, 2.5)], r"model counts must be integers >= 1, got 2\.5"),
    ([(1.0, 0.5)], r"model counts must be integers >= 1, got 0\.5"),
    ([(1.0,)], r"each schedule entry must be \(epsilon, models\), got \(1\.0,\)"),
])
def test_epsilon_schedule_counts_must_be_whole(schedule: list[tuple[float, ...]],
                                               match: str) -> None:
    # MetaQNN truncated 2.5 models to 2 (and 0.5 to 0, then said "got 0"); a 1-tuple failed
    # with "not enough values to unpack"
    with pytest.raises(ValueError, match=match):
        epsilon_schedule(4, schedule)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=match):
        MetaQNN(MetaQNNSpace(), 4, schedule=schedule)  # type: ignore[arg-type]
    assert epsilon_schedule(4, [(1.0, 1), (0.5, np.int64(1))]).tolist() == [1.0, 1.0, 0.5, 0.5]
