"""Search algorithms: ``ask()`` a config to run, ``tell()`` its observed or predicted result."""

from curvecast.search._base import Result, Searcher
from curvecast.search.random import RandomSearch

__all__ = ["RandomSearch", "Result", "Searcher"]
