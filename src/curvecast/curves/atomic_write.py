"""Writing an output file whole or not at all, through links, and straight into a stream.

Every file curvecast writes for a user (a CurveSet's Parquet, a JSON result) goes through
:func:`write_atomically`: into a temporary file beside the file it replaces, then renamed over
it, so an interrupted write never leaves half a file, nor half of what was there before.  A
symbolic link is followed first (the file it points to is replaced, the link stays), and a path
that is not a regular file (``/dev/stdout``, a named pipe) is written into, through a temporary
file copied into it: renaming a temporary file over it would replace the device or the pipe with
a regular file.

The files curvecast keeps for itself in folders others may share (a study's checkpoints,
``collect``'s partial files, a scheduler's state file, a data cache) are written with
``follow_links=False``: whatever is at the path (a link, a named pipe) is replaced, never written
through, so a link planted at the next checkpoint's name cannot make a search overwrite the file
it points to (a security review).
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path


def write_atomically(path: Path, write: Callable[[str], None], *,
                     follow_links: bool = True) -> Path:
    """Call ``write(name)`` to write the file ``path`` names (see the module docstring); the
    path written (a link's target).  ``follow_links`` False: a file of curvecast's own, whatever
    is at ``path`` (a link, a pipe, a device) is replaced by the new file, never written through.

    Raises:
        OSError: the file or its folder cannot be written (nothing at ``path`` is changed).
    """
    if not follow_links:
        target = Path(path)
    elif not is_new_or_regular(path):  # a stream or a device: written into, never replaced
        _write_into_stream(path, write)
        return path
    else:
        target = Path(os.path.realpath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        write(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it private; an output file is not
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


def write_text_atomically(path: Path, text: str, *, follow_links: bool = True) -> Path:
    """:func:`write_atomically` of ``text`` (UTF-8): a report, a JSON state or log."""

    def write(name: str) -> None:
        with open(name, "w", encoding="utf-8") as handle:
            handle.write(text)

    return write_atomically(path, write, follow_links=follow_links)


def _write_into_stream(path: Path, write: Callable[[str], None]) -> None:
    """Call ``write`` on a temporary file, then copy the file into the stream ``path``: a writer
    is never handed the stream itself (Parquet seeks back to write its footer, and pyarrow
    removes the path it failed to write: as root, ``/dev/stdout`` itself)."""
    with tempfile.TemporaryDirectory(prefix="curvecast-") as folder:
        name = os.path.join(folder, "out")
        write(name)
        with open(name, "rb") as source, open(path, "wb") as stream:
            shutil.copyfileobj(source, stream)


def is_new_or_regular(path: Path) -> bool:
    """Whether ``path`` (its links followed) names no file yet, or a regular file — not a
    stream or a device (``/dev/stdout`` is a pipe's or a terminal's)."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except FileNotFoundError:
        return True


def check_writable_folder(folder: Path, shown: Path) -> None:
    """Refuse, before any work, a folder that a file cannot be made in (``shown``: the path the
    user gave, named in the error).

    Raises:
        PermissionError: no file can be made in ``folder``.
    """
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as err:
        raise PermissionError(f"{shown}: cannot write in folder {str(folder)!r} "
                              f"({err.strerror or err})") from None
