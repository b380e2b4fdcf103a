"""How curvecast's messages count things: one helper every layer's text shares."""

from __future__ import annotations


def counted(n: int, noun: str) -> str:
    """``n`` and ``noun``, plural unless n is 1 ("1 config", "3 configs", "0 prior curves")."""
    return f"{n} {noun}{'' if n == 1 else 's'}"
