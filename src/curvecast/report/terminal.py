"""What the command line prints, made for a person at a terminal and for a log file alike.

* :class:`UnwrappedConsole`: a rich console that never hard-wraps when its output is not a
  terminal (a log file, CI, ``nohup``), so printed commands and paths can be pasted back; on a
  terminal (or with ``COLUMNS`` set) it behaves as usual.
* :func:`progress`: a live bar on a terminal, started at its first update (an error raised
  before never leaves a half-drawn bar); elsewhere a :class:`LineProgress`, one plain line every
  ``every`` seconds and one at the end.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from rich.console import Console, ConsoleDimensions
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from curvecast.report.plot_text import printable

#: The width of an :class:`UnwrappedConsole` that does not write to a terminal (tables take their
#: natural width up to this; plain text is never wrapped).
UNWRAPPED_WIDTH = 4000

#: Seconds between two lines of a :class:`LineProgress` (``curvecast`` when not on a terminal).
EVERY = 10.0


class UnwrappedConsole(Console):
    """A :class:`rich.console.Console` that prints without soft wrapping, and that is
    :data:`UNWRAPPED_WIDTH` wide when it does not write to a terminal and no ``COLUMNS`` is set.

    It prints text literally (no rich markup unless a call passes ``markup=True``): what it
    prints holds names users chose — study names, file names, metrics — and ``[/x]`` in one must
    print as itself, not raise a markup error or vanish as a style.  For the same reason every
    string it prints (a message, a table's cell or title) has its control characters written as
    escapes (:func:`~curvecast.report.plot_text.printable`): an escape sequence in a column's
    name must not set the terminal's title or clear its screen (a security review: the imports'
    notes printed them as they were)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(soft_wrap=True, **{"markup": False, **kwargs})

    def render_str(self, text: str, *args: Any, **kwargs: Any) -> Text:
        return super().render_str(printable(text), *args, **kwargs)

    @property
    def size(self) -> ConsoleDimensions:
        size = Console.size.fget(self)  # type: ignore[attr-defined]
        if self._width is None and not self.is_terminal and "COLUMNS" not in os.environ:
            return ConsoleDimensions(UNWRAPPED_WIDTH, size.height)
        return size

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        Console.size.fset(self, new_size)  # type: ignore[attr-defined]


def progress(console: Console, every: float = EVERY) -> Progress:
    """The progress display of a long command: a :class:`LazyBar` on a terminal, else a
    :class:`LineProgress` printing every ``every`` seconds."""
    if console.is_terminal:
        return LazyBar(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                       TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
                       console=console)
    return LineProgress(console, every=every)


class LazyBar(Progress):
    """A rich progress bar that appears at its first update or advance, not when entered."""

    _wanted = False

    def start(self) -> None:
        self._wanted = True

    def _show(self) -> None:
        if self._wanted and not self.live.is_started:
            super().start()

    def update(self, *args: Any, **kwargs: Any) -> None:
        super().update(*args, **kwargs)
        self._show()

    def advance(self, *args: Any, **kwargs: Any) -> None:
        super().advance(*args, **kwargs)
        self._show()

    def stop(self) -> None:
        if self.live.is_started:
            super().stop()


class LineProgress(Progress):
    """Progress as plain lines, for output that is not a terminal: every ``every`` seconds while
    running (from a background thread, so a long step still shows the time passing) and, after
    any update, once at the end; e.g. ``12/30 trials | elapsed 0:04:10 | eta 0:06:15``.  A
    command that fails within ``every`` seconds prints only its error."""

    def __init__(self, console: Console, every: float = EVERY) -> None:
        if not every > 0:
            raise ValueError(f"every must be positive, got {every}")
        super().__init__(console=console, disable=True)
        self.every = every
        self._updated = False
        self._done = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._tick, name="curvecast-progress",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._done.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._updated:  # once: a second stop (an early one, then the context's) is quiet
            self.print_line()
            self._updated = False

    def update(self, *args: Any, **kwargs: Any) -> None:
        super().update(*args, **kwargs)
        self._updated = True

    def advance(self, *args: Any, **kwargs: Any) -> None:
        super().advance(*args, **kwargs)
        self._updated = True

    def _tick(self) -> None:
        while not self._done.wait(self.every):
            if self.tasks:
                self.print_line()

    def line(self) -> str:
        """The current state of every task, as one line."""
        parts = []
        for task in self.tasks:
            name = Text.from_markup(task.description).plain.strip()
            done = f"{task.completed:g}/{task.total:g}" if task.total is not None else (
                f"{task.completed:g}")
            eta = task.time_remaining
            parts.append(f"{done} {name} | elapsed {_clock(task.elapsed)}"
                         + ("" if eta is None or task.finished else f" | eta {_clock(eta)}"))
        return " || ".join(parts)

    def print_line(self) -> None:
        """Print :meth:`line` now."""
        self.console.print(self.line(), markup=False, highlight=False, soft_wrap=True)


def _clock(seconds: float | None) -> str:
    total = int(seconds or 0.0)
    return f"{total // 3600}:{total // 60 % 60:02d}:{total % 60:02d}"
