"""The error a file or table that is not a valid CurveSet raises, and where it points."""

from __future__ import annotations


class CurveSetFormatError(ValueError):
    """A file or table does not hold a valid CurveSet; the message names the file, config and field."""


def where(source: str | None, config: str | None = None, field_: str | None = None) -> str:
    """The ``"file: config 'c': field 'f': "`` prefix of an error message ('' when none is known)."""
    parts = [p for p in (source, f"config {config!r}" if config is not None else None,
                         f"field {field_!r}" if field_ is not None else None) if p]
    return ": ".join(parts) + ": " if parts else ""
