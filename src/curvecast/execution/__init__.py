"""Running configs.

* :func:`run` (``loop.py``), the one loop: any scheduler over a :class:`Backend` of recorded
  curves — in this process (:func:`replay`, :func:`replay_schedule`), in local worker processes
  or as Ray tasks (``backends.py``) — with the same decisions on every backend;
* real searches: ``live.py`` (FIFO + a stopper, several processes sharing one study),
  ``live_hyperband.py`` (Hyperband, f-Hyperband), both running the one epoch task
  (``epoch_task.py``) in local processes or on Ray, and reading the study through ``study.py``
  (:class:`Progress`, :class:`SearchResult`);
* recording curves by real training: :func:`collect`.
"""

from curvecast.execution.backends import Backend, RecordedBackend
from curvecast.execution.collect import CollectResult, CollectStep, collect
from curvecast.execution.loop import run
from curvecast.execution.records import ReplayResult, TrialRecord
from curvecast.execution.replay import replay, replay_schedule
from curvecast.execution.study import Progress, SearchResult

__all__ = ["Backend", "CollectResult", "CollectStep", "Progress", "RecordedBackend",
           "ReplayResult", "SearchResult", "TrialRecord", "collect", "replay", "replay_schedule",
           "run"]
