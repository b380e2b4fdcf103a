"""The epoch task every backend runs (:func:`curvecast.execution.epoch_task.train_one_epoch`)."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from curvecast.execution.collect import sample_config  # noqa: E402
from curvecast.execution.epoch_task import EpochTask, train_one_epoch  # noqa: E402
from curvecast.workloads import TextLSTM  # noqa: E402


def test_an_epoch_trains_with_one_torch_thread_whatever_the_process_had(tmp_path: Path) -> None:
    """A Ray task's torch thread count is its node's OMP_NUM_THREADS; the epoch task sets one
    thread itself, so a trial's curve is the one ``collect`` and the local workers give (text-lstm's
    second epoch differs at two threads)."""
    workload = TextLSTM()
    config = sample_config(workload, 0, 2)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        run = workload.start(config, seed=1, epochs=3)
        expected = [run.train_epoch().value for _ in range(2)]
        torch.set_num_threads(2)  # what a Ray worker with OMP_NUM_THREADS=2 starts with
        got = []
        for done in range(2):
            task = EpochTask(workload, 0, config, seed=1, epochs=3, done=done,
                             checkpoints=tmp_path)
            outcome = train_one_epoch(task)
            assert outcome.error is None and outcome.note is None
            got.append(outcome.result.value)
        threads = torch.get_num_threads()
    finally:
        torch.set_num_threads(before)
    assert got == expected
    assert threads == 1
