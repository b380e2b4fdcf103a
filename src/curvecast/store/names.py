"""Which database a storage URL names, and which texts may name a study."""

from __future__ import annotations

import os
import unicodedata
from pathlib import Path


def parse_storage(url: str | os.PathLike[str]) -> Path:
    """``sqlite:///relative.db``, ``sqlite:////abs/path.db`` or a plain path → the file's Path.

    Raises:
        ValueError: a URL of another database kind, or an SQLite URL without its three slashes
            (``sqlite:runs/c.db``, read as a path it named a folder ``sqlite:runs``).
    """
    text = os.fspath(url)
    if text.startswith("sqlite:") and not text.startswith("sqlite:///") and text != "sqlite://":
        raise ValueError(f"storage {text!r}: a storage URL is sqlite:///relative/path.db or "
                         "sqlite:////absolute/path.db (three slashes, then the path)")
    if "://" in text:
        scheme, _, rest = text.partition("://")
        if scheme != "sqlite":
            raise ValueError(f"storage {text!r}: only sqlite:///PATH is supported")
        text = rest[1:] if rest.startswith("/") else rest
    if not text:
        raise ValueError(f"storage {os.fspath(url)!r} names no file")
    return Path(text)


#: The longest study name a store accepts (names are shown in one-line messages and tables).
MAX_STUDY_NAME = 200


def check_study_name(name: str) -> str:
    """Return ``name`` if it can name a study: 1 to :data:`MAX_STUDY_NAME` characters, not only
    white space, no control characters (line breaks would break one-line output).  Any other
    text is fine: a study's files are named by its row id, never by its name.

    Raises:
        ValueError: the name is refused (the message says why).
    """
    if not name.strip():
        raise ValueError("a study name must not be empty")
    if len(name) > MAX_STUDY_NAME:
        raise ValueError(f"a study name has at most {MAX_STUDY_NAME} characters, got {len(name)}")
    bad = next((c for c in name if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp")), None)
    if bad is not None:
        raise ValueError(f"study name {name[:40]!r}: control character {bad!r} not allowed")
    return name

