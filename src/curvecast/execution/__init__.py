"""Running configs: recording curves by real training (``collect``)."""

from curvecast.execution.collect import CollectResult, Progress, collect

__all__ = ["CollectResult", "Progress", "collect"]
