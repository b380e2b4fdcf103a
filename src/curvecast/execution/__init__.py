"""Running configs: recording curves by real training (``collect``), replaying recorded ones."""

from curvecast.execution.collect import CollectResult, Progress, collect
from curvecast.execution.replay import ReplayResult, TrialRecord, replay, replay_schedule

__all__ = ["CollectResult", "Progress", "ReplayResult", "TrialRecord", "collect", "replay",
           "replay_schedule"]
