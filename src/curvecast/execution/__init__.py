"""Running configs.

* :func:`run` (``loop.py``), the one loop: any scheduler over any :class:`Backend`, telling a
  :class:`Recorder` (``recorder.py``) what happens;
* backends: recorded curves on a simulated clock, computed in this process (:func:`replay`,
  :func:`replay_schedule`), in local worker processes or as Ray tasks (``backends.py``); real
  training, the one epoch task (``epoch_task.py``) in this process, local processes or Ray tasks
  (``training.py``);
* real searches: ``live.py`` (FIFO + a stopper, several processes sharing one study),
  ``live_hyperband.py`` (Hyperband, f-Hyperband) — both the one loop with the study's recorder
  (``store_recorder.py``), resumed one way (``resume.py``), the study opened and its searcher
  shared through the store (``shared.py``) and read through ``study.py`` (:class:`Progress`,
  :class:`SearchResult`);
* recording curves by real training: :func:`collect`.
"""

from curvecast.execution.backends import Backend, RecordedBackend
from curvecast.execution.collect import CollectResult, CollectStep, collect
from curvecast.execution.loop import run
from curvecast.execution.recorder import Recorder
from curvecast.execution.records import ReplayResult, TrialRecord
from curvecast.execution.replay import replay, replay_schedule
from curvecast.execution.study import Progress, SearchResult

__all__ = ["Backend", "CollectResult", "CollectStep", "Progress", "RecordedBackend", "Recorder",
           "ReplayResult", "SearchResult", "TrialRecord", "collect", "replay", "replay_schedule",
           "run"]
