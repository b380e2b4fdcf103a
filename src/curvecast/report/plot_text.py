"""User-given text (a metric's name, a data file's name) as matplotlib draws it literally."""

from __future__ import annotations


def literal(text: str) -> str:
    """``text`` with its ``$`` escaped, so matplotlib draws it as written: unescaped, a pair of
    ``$`` starts math mode (``cost $ per $ unit`` lost its dollars and italicised ``per``) and
    an unknown command inside it (``acc $\\bad$``) fails the whole figure."""
    return text.replace("$", r"\$")
