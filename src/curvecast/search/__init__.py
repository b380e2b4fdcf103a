"""Search algorithms: ``ask()`` a config to run, ``tell()`` its observed or predicted result."""

from curvecast.search._base import ConfigSearcher, Result, Searcher
from curvecast.search._scheduler import FIFO, Closed, Job, Scheduler
from curvecast.search.hyperband import (
    BracketPlan,
    FHyperband,
    Hyperband,
    Rung,
    Selection,
    hyperband_brackets,
)
from curvecast.search.random import RandomSearch
from curvecast.search.sampling import RandomSampler

__all__ = [
    "FIFO",
    "BracketPlan",
    "Closed",
    "ConfigSearcher",
    "FHyperband",
    "Hyperband",
    "Job",
    "RandomSampler",
    "RandomSearch",
    "Result",
    "Rung",
    "Scheduler",
    "Searcher",
    "Selection",
    "hyperband_brackets",
]
