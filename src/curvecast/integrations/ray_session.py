"""The Ray a search runs on: a new local Ray on 127.0.0.1 only, or a cluster at an address
(checked to answer first), for the Ray backend of the epoch task (``ray_backend``); extra
``curvecast[ray]``."""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

try:
    import ray
except ImportError as error:  # pragma: no cover - exercised without ray installed
    raise ImportError("curvecast's Ray backend needs Ray: pip install 'curvecast[ray]'") from error

#: Set to "0" before Ray starts locally: every Ray listener then binds 127.0.0.1.
LOOPBACK_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


def resolve_address(address: str | None) -> str | None:
    """The cluster a search runs on: ``address``, else ``RAY_ADDRESS`` (set by ``ray job
    submit``), else None (a new local Ray); checked to answer before Ray retries for minutes.

    Raises:
        ValueError: a Ray Client (``ray://``) address.
        ConnectionError: nothing answers at ``address``.
    """
    address = address or os.environ.get("RAY_ADDRESS") or None
    if address is not None and address.startswith("ray://"):
        raise ValueError(f"--address {address}: Ray Client (ray://) addresses are not supported, "
                         "the study database lives with the driver; run curvecast on a node of "
                         "the cluster with --address HEAD_IP:6379")
    if address is not None and not ray.is_initialized():
        check_reachable(address)
    return address


@contextmanager
def ray_session(address: str | None, workers: int) -> Iterator[int]:
    """Ray for the search: the one already initialised in this process, a cluster at
    ``address``, or a new local Ray on 127.0.0.1 (stopped afterwards).  Yields its CPU count."""
    if ray.is_initialized():
        yield int(ray.cluster_resources().get("CPU", 1))
        return
    options: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.WARNING}
    if address is None:
        with _loopback_only():
            # "local": a new Ray, even when a `ray start` cluster runs on this machine
            with _own_sigterm():
                ray.init(address="local", num_cpus=workers or os.cpu_count() or 1,
                         include_dashboard=False, **options)
            try:
                yield int(ray.cluster_resources().get("CPU", 1))
            finally:
                ray.shutdown()
        return
    # a cluster on this machine's loopback interface (`ray start --head --node-ip-address
    # 127.0.0.1`): Ray would otherwise replace 127.0.0.1 with the machine's address and never
    # find it
    with _loopback_only() if _is_loopback(address) else nullcontext():
        try:
            with _own_sigterm():
                ray.init(address=address, **options)
        except ConnectionError as err:
            hint = ("" if os.environ.get("RAY_AUTH_MODE") else
                    "; a cluster started with token authentication (Ray's default when "
                    "~/.ray/auth_token exists) needs RAY_AUTH_MODE=token here, with its token "
                    "in ~/.ray/auth_token or RAY_AUTH_TOKEN")
            raise ConnectionError(f"cannot connect to the Ray cluster at {address}: {err}{hint}") \
                from None
        try:
            yield int(ray.cluster_resources().get("CPU", 1))
        finally:
            ray.shutdown()


@contextmanager
def _own_sigterm() -> Iterator[None]:
    """Keep the SIGTERM handler this process had before ``ray.init``, which installs its own
    (``sys.exit(signum)``): a search's handler says how to resume and exits 143, and Ray's
    left it to end with 15 or 134 and no word (a review, stop 34).  The search's ``finally``
    still shuts Ray down.  Outside the main thread nothing is changed."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGTERM)
    try:
        yield
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _is_loopback(address: str) -> bool:
    """Whether a cluster address (``HOST:PORT``, or ``auto``: the last ``ray start`` here) is on
    127.0.0.1 / localhost."""
    if address == "auto":
        try:
            from ray._private.services import get_ray_address_from_environment

            address = get_ray_address_from_environment("auto", None) or ""
        except Exception:  # Ray finds no cluster: ray.init says so
            return False
    host = address.rpartition(":")[0].strip("[]")
    return host == "localhost" or host == "::1" or host.startswith("127.")


@contextmanager
def _loopback_only() -> Iterator[None]:
    """Make the Ray started inside listen on 127.0.0.1 only: ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``
    for its processes and for this one (whose copy Ray read when it was imported), unless the
    environment chose otherwise."""
    from ray._private import ray_constants

    if LOOPBACK_ENV in os.environ:
        yield
        return
    before = ray_constants.ENABLE_RAY_CLUSTER
    os.environ[LOOPBACK_ENV] = "0"
    ray_constants.ENABLE_RAY_CLUSTER = False
    try:
        yield
    finally:
        os.environ.pop(LOOPBACK_ENV, None)
        ray_constants.ENABLE_RAY_CLUSTER = before


def check_reachable(address: str, timeout: float = 5.0) -> None:
    """Fail fast when nothing listens at a ``HOST:PORT`` address (``ray.init`` would retry for
    minutes).  ``auto`` and addresses without a port are left to Ray.

    Raises:
        ConnectionError: naming the address and how to start a cluster.
    """
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or not host:
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as err:
        raise ConnectionError(f"no Ray cluster answers at {address} ({err.strerror or err}); "
                              "start one with `ray start --head --port 6379` (add "
                              "--node-ip-address 127.0.0.1 for this machine only)") from None
