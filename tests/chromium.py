"""Find headless Chromium for the browser tests, installing Debian's ``chromium`` when absent.

The install runs only as root on a machine with ``apt-get`` and is time-boxed: the download (the
slow part, safe to interrupt) gets :data:`DOWNLOAD_SECONDS`; unpacking the downloaded packages
gets :data:`UNPACK_SECONDS`.  ``CURVECAST_CHROMIUM=/path/to/chromium`` names a browser to use;
``CURVECAST_NO_BROWSER_INSTALL=1`` forbids the install (the tests then skip).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time

NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
DOWNLOAD_SECONDS = 180.0
UNPACK_SECONDS = 120.0
_APT = ["apt-get", "-y", "-q", "--no-install-recommends", "-o", "DPkg::Lock::Timeout=60"]


def find() -> str | None:
    """The path of a Chromium binary (``CURVECAST_CHROMIUM`` first), or None."""
    named = os.environ.get("CURVECAST_CHROMIUM")
    if named:
        return named if shutil.which(named) else None
    for name in NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


def _apt(args: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    return subprocess.run([*_APT, *args], capture_output=True, text=True, timeout=timeout,
                          env=env, check=False)


def _last_line(proc: subprocess.CompletedProcess[str]) -> str:
    lines = (proc.stderr or proc.stdout).strip().splitlines()
    return lines[-1] if lines else f"exit code {proc.returncode}"


def cannot_install() -> str | None:
    """Why the set-up may not try to install chromium here, or None when it may."""
    if os.environ.get("CURVECAST_NO_BROWSER_INSTALL"):
        return "CURVECAST_NO_BROWSER_INSTALL is set"
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "not root, so the test set-up cannot apt-get install chromium"
    if shutil.which("apt-get") is None:
        return "no apt-get on this machine to install chromium with"
    return None


def install() -> tuple[str | None, str]:
    """Install Debian's ``chromium`` with apt-get (call when :func:`cannot_install` is None);
    returns ``(path or None, what happened)``."""
    start = time.monotonic()

    def left() -> float:
        return DOWNLOAD_SECONDS - (time.monotonic() - start)

    try:
        fetched = _apt(["install", "--download-only", "chromium"], left())
        if fetched.returncode != 0:  # stale package lists (404) or no candidate: update once
            updated = _apt(["update"], left())
            if updated.returncode != 0:
                return None, f"apt-get update failed: {_last_line(updated)}"
            fetched = _apt(["install", "--download-only", "chromium"], left())
            if fetched.returncode != 0:
                return None, f"apt-get could not download chromium: {_last_line(fetched)}"
    except subprocess.TimeoutExpired:
        return None, f"downloading chromium took over {DOWNLOAD_SECONDS:.0f} s"
    try:
        done = _apt(["install", "chromium"], UNPACK_SECONDS)
    except subprocess.TimeoutExpired:
        return None, f"installing the downloaded chromium took over {UNPACK_SECONDS:.0f} s"
    if done.returncode != 0:
        return None, f"apt-get install chromium failed: {_last_line(done)}"
    path = find()
    seconds = time.monotonic() - start
    if path is None:
        return None, "apt-get installed chromium but no chromium binary is on PATH"
    return path, f"installed {path} with apt-get in {seconds:.0f} s"
