"""Who trains a trial: this process's worker id (``host:pid:token``) and whether the owner of a
RUNNING trial may still be alive (its heartbeat, and its pid when it ran on this host)."""

from __future__ import annotations

import os
import secrets
import socket
import time
from pathlib import Path

#: Seconds without a heartbeat after which the owner of a RUNNING trial counts as dead, so that
#: another process may take the trial over (the default of every real search) and ``show`` lists
#: it as interrupted.  A heartbeat more than this ahead of the reader's clock counts as stale
#: too (:func:`worker_alive`): the clocks of the machines sharing a study must agree within it.
GRACE = 120.0

_TOKENS: dict[int, str] = {}  # pid → this process's random token (a forked child makes its own)


def worker_id() -> str:
    """This process's worker id, ``host:pid:token``.

    The random token tells this process apart from an earlier one that had the same pid (a
    restarted container reuses pids), so a trial left RUNNING by that one counts as orphaned.
    """
    pid = os.getpid()
    token = _TOKENS.setdefault(pid, secrets.token_hex(4))
    return f"{socket.gethostname()}:{pid}:{token}"


def _parse_worker(worker: str | None) -> tuple[str | None, int | None]:
    """``host:pid:token`` → (host, pid); a bare pid (older databases) is a pid of this host."""
    if worker is None:
        return None, None
    if worker.isdigit():
        return socket.gethostname(), int(worker)
    parts = worker.rsplit(":", 2)
    if len(parts) == 3 and parts[1].isdigit():
        return parts[0], int(parts[1])
    return None, None


def _pid_running(pid: int) -> bool:
    """Whether process ``pid`` of this host exists and is not a zombie (exited, not reaped)."""
    if os.name == "nt":  # os.kill(pid, 0) would terminate it: rely on the heartbeat
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # no /proc (macOS): it exists
        return True
    return stat.rpartition(")")[2].split()[:1] != ["Z"]


def worker_alive(worker: str | None, heartbeat: float | None, *, grace: float,
                 now: float | None = None) -> bool:
    """Whether the owner of a RUNNING trial may still be training it.

    Dead when its heartbeat is missing or not fresh, or — when it ran on this host — its pid has
    exited, or its pid is this process's under another token (an earlier process with the same
    pid).  An owner on another host is judged by its heartbeat alone.

    A heartbeat is fresh when it lies within ``grace`` seconds of ``now``, on either side.  One
    stamped more than ``grace`` ahead — by a clock ahead of this one (another machine's, or a
    database copied from it), a clock set back since, or a hand-edited row — is not fresh
    either: were it trusted, a dead owner would stay alive until this clock caught up with it
    (for ever, for a stamp in the year 3000) and its trial would never be taken over.  So the
    clocks of the machines sharing a study must agree within ``grace``; with a skew below it, a
    dead owner is judged dead at most ``2 * grace`` seconds after its last heartbeat.  A live
    owner misjudged by a larger skew loses its trial to the process that takes it over and drops
    it at its next write (every write checks ownership): work is repeated, nothing recorded twice.

    Args:
        worker: the owner's id (:func:`worker_id`; a bare pid from older databases).
        heartbeat: the owner's last heartbeat (seconds since the epoch, by the owner's clock).
        grace: seconds without a heartbeat after which an owner counts as dead; also how far
            ahead of ``now`` a heartbeat may lie and still count.
        now: the current time (default: ``time.time()``).
    """
    now = time.time() if now is None else now
    if heartbeat is None or not abs(now - heartbeat) <= grace:  # NaN and ±inf: never fresh
        return False
    host, pid = _parse_worker(worker)
    if host != socket.gethostname() or pid is None:
        return True
    if pid == os.getpid():
        return worker == worker_id()
    return _pid_running(pid)

