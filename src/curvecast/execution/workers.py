"""Worker processes of the local backend: one torch thread each, Ctrl-C left to the parent, gone
when the parent dies."""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator


def one_torch_thread() -> None:
    """Train with one torch thread (when torch is installed): one process per core is as fast,
    and the same seed then gives the same curve on every machine."""
    if "torch" in sys.modules or _torch_installed():
        import torch

        torch.set_num_threads(1)


def _torch_installed() -> bool:
    from importlib.util import find_spec

    return find_spec("torch") is not None


def exit_with_parent(parent: int | None = None, interval: float = 0.5) -> None:
    """Make this (worker) process exit within ``interval`` seconds of the death of its parent,
    process ``parent`` (default: the current parent; pass the pid the parent had when it started
    the worker, so a parent that died while the worker started up is noticed too).

    A daemon thread watches the parent pid: when the parent is killed (even by ``kill -9``, which
    runs no clean-up) the process is re-parented and ``os.getppid()`` changes.  The worker then
    exits at once; its training is lost, but the search recorded every finished epoch and resumes
    from the last checkpoint.  With the workers gone, multiprocessing's resource tracker (whose
    pipe they held) exits too.
    """
    import threading

    parent = os.getppid() if parent is None else parent
    if os.getppid() != parent:
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(interval)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="curvecast-parent-watch", daemon=True).start()


@contextlib.contextmanager
def ctrl_c_ignored_at_start() -> Iterator[None]:
    """While inside, SIGINT is ignored (main thread only; elsewhere nothing changes), so that a
    process started inside ignores Ctrl-C from birth: a signal ignored when a process is started
    stays ignored in it.  A terminal sends Ctrl-C to every process of the job, and a worker still
    importing what it needs (before :func:`quiet_worker` can ignore it) printed a
    KeyboardInterrupt traceback."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class WorkerPool(cf.ProcessPoolExecutor):
    """A process pool whose workers ignore Ctrl-C from birth (each is started inside
    :func:`ctrl_c_ignored_at_start`): the parent handles it (stops the work, says how to
    resume)."""

    def _spawn_process(self) -> None:
        with ctrl_c_ignored_at_start():
            super()._spawn_process()  # type: ignore[misc]


def quiet_worker(parent: int | None = None) -> None:
    """Initialise a worker process: one torch thread, Ctrl-C handled by the parent, exit when
    the parent (pid ``parent``, default: the current parent) dies."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    exit_with_parent(parent)
    one_torch_thread()
