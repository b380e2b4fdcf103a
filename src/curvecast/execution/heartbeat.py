"""The heartbeat of a process's RUNNING trials: how other processes of a study tell a live owner
from a dead one (:func:`curvecast.store.worker_alive`)."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

from curvecast.store import Store


class Heartbeat:
    """Refreshes the heartbeat of this worker's RUNNING trials every ``interval`` seconds (and
    calls ``also`` with the thread's store: a scheduled study's claim).

    A thread with its own database connection does it, since training may hold the main thread
    for a whole epoch.  A beat that finds the database locked, or cannot open or write it (a full
    disk), is skipped (the next one retries).
    """

    def __init__(self, path: Path, worker: str, interval: float,
                 also: Callable[[Store], None] | None = None) -> None:
        self.path = path
        self.worker = worker
        self.interval = interval
        self.also = also  # more to refresh at each beat (a scheduled study's claim)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="curvecast-heartbeat",
                                        daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        store: Store | None = None
        try:
            while not self._stop.wait(self.interval):
                try:
                    store = store or Store(self.path)
                    store.heartbeat(self.worker)
                    if self.also is not None:
                        self.also(store)
                except (sqlite3.Error, ValueError, OSError):  # busy for longer than the
                    # store's timeout; or the file cannot be opened or written for now (a full
                    # disk: StoreWriteError): the next beat retries, the thread lives on
                    continue
        finally:
            if store is not None:
                store.close()
