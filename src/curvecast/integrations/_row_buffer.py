"""Curves kept as the rows of one matrix that grows with a study, for the integrations' study
views (the Optuna pruner's finished trials, the Ray scheduler's known trials)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


class RowBuffer:
    """Curves as NaN-padded rows of a ``(rows, width)`` matrix with their lengths, in buffers
    grown by doubling: adding a curve copies the others only when the buffers fill, not on
    every addition (a study view rebuilt for each new trial cost milliseconds at thousands of
    trials)."""

    def __init__(self, width: int) -> None:
        self.width = width
        self._values = np.full((0, width), np.nan)
        self._lengths = np.zeros(0, dtype=np.int64)
        self.n = 0  # rows in use

    def add(self, curve: list[float]) -> int:
        """Append ``curve`` (at most ``width`` values) as a new row; its index."""
        if self.n == len(self._values):
            size = max(64, 2 * self.n)
            values = np.full((size, self.width), np.nan)
            values[: self.n] = self._values[: self.n]
            lengths = np.zeros(size, dtype=np.int64)
            lengths[: self.n] = self._lengths[: self.n]
            self._values, self._lengths = values, lengths
        self.n += 1
        self.write(self.n - 1, curve)
        return self.n - 1

    def write(self, row: int, curve: list[float]) -> None:
        """Replace row ``row`` with ``curve`` (NaN after its values)."""
        self._values[row] = np.nan
        self._values[row, : len(curve)] = curve
        self._lengths[row] = len(curve)

    def view(self) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
        """The rows in use, shape ``(n, width)``, and their lengths (views: copy to keep)."""
        return self._values[: self.n], self._lengths[: self.n]
