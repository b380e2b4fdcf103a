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
from curvecast.search.metaqnn import METAQNN_SCHEDULE, MetaQNN, covering_space, epsilon_schedule
from curvecast.search.random import RandomSearch
from curvecast.search.sampling import RandomSampler
from curvecast.search.tpe import TPE

__all__ = [
    "FIFO",
    "METAQNN_SCHEDULE",
    "TPE",
    "BracketPlan",
    "Closed",
    "ConfigSearcher",
    "FHyperband",
    "Hyperband",
    "Job",
    "MetaQNN",
    "RandomSampler",
    "RandomSearch",
    "Result",
    "Rung",
    "Scheduler",
    "Searcher",
    "Selection",
    "covering_space",
    "epsilon_schedule",
    "hyperband_brackets",
]
