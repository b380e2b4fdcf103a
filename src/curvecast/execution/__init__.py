"""Running configs: recording curves by real training (``collect``), replaying recorded ones
(``replay``), a real search (``run_search``, whose snapshots are :class:`Progress`)."""

from curvecast.execution.collect import CollectResult, CollectStep, collect
from curvecast.execution.live import Progress, SearchResult
from curvecast.execution.replay import ReplayResult, TrialRecord, replay, replay_schedule

__all__ = ["CollectResult", "CollectStep", "Progress", "ReplayResult", "SearchResult",
           "TrialRecord", "collect", "replay", "replay_schedule"]
