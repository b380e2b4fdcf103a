"""User-given text (a metric's name, a data file's name) as matplotlib draws it literally, and as
a terminal may show it; a metric's axis label with its direction."""

from __future__ import annotations

import re

from curvecast.curves import Direction

#: The control characters (Unicode category Cc) but the line feed and the tab, and the
#: bidirectional embeddings, overrides and isolates: those reorder what follows them on screen
#: (a file name shown backwards).  Other format characters (the zero-width joiner of an emoji
#: family, the zero-width non-joiner of Persian, a soft hyphen) are shown as they are.
_UNPRINTABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """``text`` with its control characters (but line breaks and tabs) and bidirectional
    overrides written as escapes (``\\x1b``, ``\\u202e``): an escape sequence in a name from a
    file (a colleague's study, a column of a table) can set a terminal's title or clear its
    screen, and matplotlib names the character in a warning when it draws it."""
    return _UNPRINTABLE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def literal(text: str) -> str:
    """``text`` with its ``$`` escaped, so matplotlib draws it as written: unescaped, a pair of
    ``$`` starts math mode (``cost $ per $ unit`` lost its dollars and italicised ``per``) and
    an unknown command inside it (``acc $\\bad$``) fails the whole figure.  Control characters
    are drawn as escapes (:func:`printable`): matplotlib has no glyph for them, and its warning
    ("Glyph 27 (\\x1b) missing from font") wrote the character itself to the terminal."""
    return printable(text).replace("$", r"\$")


def metric_label(text: str, direction: Direction) -> str:
    """An axis label of a metric's values: ``text`` (the metric's name, or words around it) and
    the direction that is better, as every figure of curvecast gives it (``"val_loss
    (minimize)"``, ``"best final acc so far (maximize)"``), drawn literally (:func:`literal`)."""
    return literal(f"{text} ({direction.value})")
