"""The error a file or table that is not a valid CurveSet raises, and where it points; the
warning an import gives when the data will be read otherwise than a user may expect."""

from __future__ import annotations


class CurveSetFormatError(ValueError):
    """A file or table does not hold a valid CurveSet; the message names the file, config and field."""


class CurveSetWarning(UserWarning):
    """An imported CurveSet will be read otherwise than its file may suggest: a skipped log line
    counts as a diverged report, an accuracy lies outside [0, 1], the epochs start late, or a
    diverged run counts as a value far from the rest (``CurveSet.gap_warning`` and its twins
    give the texts; the ``curvecast`` command prints them itself)."""


def where(source: str | None, config: str | None = None, field_: str | None = None) -> str:
    """The ``"file: config 'c': field 'f': "`` prefix of an error message ('' when none is known)."""
    parts = [p for p in (source, f"config {config!r}" if config is not None else None,
                         f"field {field_!r}" if field_ is not None else None) if p]
    return ": ".join(parts) + ": " if parts else ""
