"""File names made from names a user gives (a report's ``--title``, a data file's name): never a
path of their own."""

from __future__ import annotations

import re

#: The longest file-name prefix made from a title (file systems allow 255 bytes in all).
MAX_STEM = 80


def file_stem(name: str) -> str:
    """``name`` as a file-name prefix: every run of characters other than ASCII letters, digits,
    ``.``, ``_`` and ``-`` replaced by ``_`` (so ``/``, ``..`` and spaces cannot leave the folder
    or break a name), at most :data:`MAX_STEM` characters, never empty or starting with a dot.

    >>> file_stem("lr/bs sweep")
    'lr_bs_sweep'
    >>> file_stem("../../etc")
    '_._._etc'
    """
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", name)[:MAX_STEM]
    stem = re.sub(r"\.{2,}", ".", stem)
    if not stem or stem.startswith("."):
        stem = "_" + stem
    return stem[:MAX_STEM]
