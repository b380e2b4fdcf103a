"""The one loop's contract with a backend and a recorder, beyond replay: an epoch that fails ends
its job untold, a config the backend already has values for goes on from there, a job lost to
another process is dropped without the scheduler, and every event reaches the recorder in order."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from curvecast.execution.backends import Finished, Opened, RecordedBackend
from curvecast.execution.loop import run
from curvecast.execution.recorder import Recorder
from curvecast.search import FIFO, Closed, Job, RandomSearch
from curvecast.stopping import Action, Decision, NeverStop, Trial
from synthetic_curves import synthetic

CURVES = synthetic(n=6, epochs=5, seed=3)
IDS = list(CURVES.config_ids)


class Log(Recorder):
    """Keeps every hook call, in order."""

    def __init__(self, lost: str | None = None) -> None:
        self.calls: list[tuple[object, ...]] = []
        self.lost = lost

    def owns(self, config_id: str) -> bool:
        return config_id != self.lost or not any(
            c[:2] == ("observed", config_id) for c in self.calls)

    def started(self, job: Job, done: int) -> None:
        self.calls.append(("started", job.config_id, job.until, done))

    def observed(self, config_id: str, epoch: int, finished: Finished) -> None:
        self.calls.append(("observed", config_id, epoch))

    def decided(self, config_id: str, decision: Decision) -> None:
        self.calls.append(("decided", config_id, decision.epoch))

    def ended(self, trial: Trial, until: int, decision: Decision | None,
              closed: Sequence[Closed]) -> None:
        self.calls.append(("ended", trial.config_id, None if decision is None else
                           decision.action, [c.config_id for c in closed]))


class Told(RandomSearch):
    """A random search that keeps what it was told."""

    def __init__(self) -> None:
        super().__init__(IDS, seed=0)
        self.told: dict[str, float] = {}

    def tell(self, config_id: str, value: float, predicted: bool) -> None:
        self.told[config_id] = value
        super().tell(config_id, value, predicted)


class Failing(RecordedBackend):
    """Epoch 2 of ``IDS[0]`` raises; ``IDS[1]`` has 3 epochs recorded before the run."""

    def __init__(self) -> None:
        super().__init__(CURVES)
        self.submitted: list[tuple[str, int]] = []
        self.in_flight: dict[int, tuple[str, int]] = {}  # slot -> (config, epoch)

    def open(self, config_id: str) -> Opened:
        opened = super().open(config_id)
        if config_id != IDS[1]:
            return opened
        return Opened(opened.frame, self.filled[self.rows[config_id], :3].copy(), opened.final)

    def submit(self, slot: int, config_id: str, epoch: int, now: float) -> None:
        self.submitted.append((config_id, epoch))
        self.in_flight[slot] = (config_id, epoch)
        super().submit(slot, config_id, epoch, now)

    def next(self) -> Finished | None:
        done = super().next()
        if done is not None and self.in_flight.pop(done.slot) == (IDS[0], 2):
            return Finished(done.time, done.slot, float("nan"), error="RuntimeError: boom")
        return done


def test_a_failed_epoch_ends_its_job_untold_and_a_recorded_config_goes_on() -> None:
    searcher, log, b = Told(), Log(), Failing()
    result = run(FIFO(searcher, NeverStop()), b, log, workers=2)
    records = {r.config_id: r for r in result.trials}
    assert set(records) == set(IDS)
    failed = records[IDS[0]]
    assert failed.epochs == 1 and np.isnan(failed.value) and not failed.predicted
    assert failed.decision is not None and failed.decision.action is Action.FAIL
    assert failed.decision.epoch == 2 and failed.decision.reason == "RuntimeError: boom"
    assert IDS[0] not in searcher.told  # a failed config is not told
    assert ("ended", IDS[0], Action.FAIL, [IDS[0]]) in log.calls
    # the config recorded before the run trained epochs 4 and 5 only
    assert [e for c, e in b.submitted if c == IDS[1]] == [4, 5]
    assert ("started", IDS[1], 5, 3) in log.calls
    assert records[IDS[1]].epochs == 5 and searcher.told[IDS[1]] == CURVES.values[1, -1]
    # every other config: started, each epoch observed (judged after all but the last), ended
    for cid in IDS[2:]:
        mine = [c for c in log.calls if c[1] == cid]
        assert mine[0] == ("started", cid, 5, 0) and mine[-1] == ("ended", cid, None, [cid])
        assert [c[2] for c in mine if c[0] == "observed"] == [1, 2, 3, 4, 5]
        assert [c[2] for c in mine if c[0] == "decided"] == [1, 2, 3, 4]


def test_a_job_lost_to_another_process_is_dropped_without_the_scheduler() -> None:
    searcher, log = Told(), Log(lost=IDS[2])
    result = run(FIFO(searcher, NeverStop()), Failing(), log, workers=2)
    assert IDS[2] not in {r.config_id for r in result.trials}
    assert IDS[2] not in searcher.told
    assert [c for c in log.calls if c[1] == IDS[2]] == [("started", IDS[2], 5, 0),
                                                         ("observed", IDS[2], 1)]
    assert len(result.trials) == len(IDS) - 1


def test_more_configs_than_the_backends_hint_run_the_same() -> None:
    small = RecordedBackend(CURVES)
    small.capacity = 1  # the loop's arrays grow as configs come
    grown = run(FIFO(RandomSearch(IDS, seed=1), NeverStop()), small, workers=3)
    sized = run(FIFO(RandomSearch(IDS, seed=1), NeverStop()), RecordedBackend(CURVES), workers=3)
    assert grown == sized and len(grown.trials) == len(IDS)
