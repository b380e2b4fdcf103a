"""Columns of a wide table one edit away from its curve columns' names: a misspelt header.

``id,acc_1,acc_2,ac_3`` imported with ``--curves 'acc_(\\d+)'`` reads ``ac_3`` as a config column
and the table as 2 epochs.  Such a column may be a real setting, so nothing is refused; the
importer warns, naming it.  A name is compared with the curve columns' names with their epoch
number taken out (``acc_<n>``), one run of digits of the name taken out the same way: one
insertion, deletion or substitution (case counts) apart is "one edit".
"""

from __future__ import annotations

import re

__all__ = ["near_curve_columns", "near_curve_columns_warning"]

#: Characters a curve column's name needs besides its epoch number before a name one edit from
#: it is suspicious (with ``e<n>`` or ``<n>`` nearly every numbered column would be).
MIN_SHAPE_CHARS = 3

_DIGITS = re.compile(r"\d+")
_EPOCH = "\0"  # stands for the epoch number in a name's shape


def _one_edit_apart(a: str, b: str) -> bool:
    """``a`` and ``b`` differ by exactly one insertion, deletion or substitution."""
    if abs(len(a) - len(b)) > 1 or a == b:
        return False
    if len(a) > len(b):
        a, b = b, a
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    return a[i:] == b[i + 1:] if len(a) < len(b) else a[i + 1:] == b[i + 1:]


def near_curve_columns(columns: list[str], curves: str) -> list[str]:
    """The names in ``columns`` that do not match ``curves`` (a regex whose one group is the
    epoch number) but are one edit from the shape of one that does (see the module docstring),
    in file order; empty if ``curves`` is not such a regex or matches no column."""
    try:
        pattern = re.compile(curves)
    except re.error:
        return []
    if pattern.groups != 1:
        return []
    shapes: set[str] = set()
    for col in columns:
        match = pattern.fullmatch(col)
        if match and match.group(1) is not None:
            start, end = match.span(1)
            shape = col[:start] + _EPOCH + col[end:]
            if len(shape) - 1 >= MIN_SHAPE_CHARS:
                shapes.add(shape)
    found: list[str] = []
    for col in columns:
        if not shapes or pattern.fullmatch(col):
            continue
        own = {col[:m.start()] + _EPOCH + col[m.end():] for m in _DIGITS.finditer(col)}
        if any(_one_edit_apart(mine, shape) for mine in own for shape in shapes):
            found.append(col)
    return found


def near_curve_columns_warning(columns: list[str], curves: str, source: str) -> str | None:
    """One line naming ``columns`` that look like misspelt curve columns (None: none does)."""
    near = near_curve_columns(columns, curves)
    if not near:
        return None
    shown = ", ".join(map(repr, near[:5])) + (f", … ({len(near)} in all)" if len(near) > 5
                                               else "")
    return (f"{source}: column(s) {shown} one edit from the curve columns' names (--curves "
            f"'{curves}') read as config columns, not epochs: if misspelt, rename and import again")
