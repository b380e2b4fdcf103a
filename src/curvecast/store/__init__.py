"""SQLite persistence of studies: trials, every observed value, every stopping decision.

One database file (standard-library ``sqlite3``, WAL journal) holds any number of studies.  Every
write is its own transaction and is on disk when the call returns, so a study killed at any
moment (``kill -9``) loses nothing it recorded.

Several processes may share one file and one study.  Writes serialise on SQLite's write lock
(``BEGIN IMMEDIATE``); :meth:`Store.transaction` groups several writes into one atomic step.  Each
trial records its owner, a worker id ``host:pid:token`` (:func:`worker_id`), and a heartbeat
timestamp the owner refreshes while it trains (:meth:`Store.heartbeat`).  :meth:`Store.claim_trial`
hands a pending trial — or a RUNNING one whose owner is dead (:func:`worker_alive`) — to exactly
one worker, so two workers never train the same trial.

Tables: ``studies`` (name, metric, direction, settings), ``trials`` (per study: number, config,
state, worker and its heartbeat, predicted value when stopped), ``observations`` (trial, epoch,
value, seconds; a diverged run's NaN/inf is stored as is), ``decisions`` (trial, epoch, action,
predicted mean and std, probability, reason) and ``study_state`` (named JSON blobs a searcher or
scheduler needs to resume, e.g. a Q-table or a Hyperband bracket position).

The package's modules, one job each: :mod:`~curvecast.store.study_store` (:class:`Store`, the API),
:mod:`~curvecast.store.database` (the file, its schema and transactions),
:mod:`~curvecast.store.records` (trial states and stored trials), :mod:`~curvecast.store.workers`
(worker ids and liveness), :mod:`~curvecast.store.names` (storage URLs and study names).
"""

from curvecast.store.database import SCHEMA_VERSION, StoreWriteError
from curvecast.store.names import MAX_STUDY_NAME, check_study_name, parse_storage
from curvecast.store.records import StoredTrial, StudyUpdates, TrialState
from curvecast.store.study_store import Store
from curvecast.store.workers import GRACE, worker_alive, worker_id

__all__ = [
    "GRACE",
    "MAX_STUDY_NAME",
    "SCHEMA_VERSION",
    "Store",
    "StoreWriteError",
    "StoredTrial",
    "StudyUpdates",
    "TrialState",
    "check_study_name",
    "parse_storage",
    "worker_alive",
    "worker_id",
]
