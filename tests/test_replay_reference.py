"""Replay decisions are those recorded before the execution loop was unified (issue 14)."""

from __future__ import annotations

import json

import pytest

from replay_reference import REFERENCE, compute


def test_replay_results_match_the_frozen_reference() -> None:
    expected = json.loads(REFERENCE.read_text())
    got = json.loads(json.dumps(compute(), sort_keys=True))
    assert sorted(got) == sorted(expected)
    for key in expected:
        assert got[key]["simulated_time"] == pytest.approx(expected[key]["simulated_time"],
                                                           rel=1e-12), key
        assert len(got[key]["trials"]) == len(expected[key]["trials"]), key
        for g, e in zip(got[key]["trials"], expected[key]["trials"], strict=True):
            assert g == e, (key, g, e)
