"""Runs of a boolean mask: where a condition holds, as index ranges."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["index_runs", "longest_run", "run_bounds", "true_runs"]


def run_bounds(mask: ArrayLike) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """Starts and stops (half-open) of the runs of True in a 1-D ``mask``.

    The edges come from one padded int8 copy of the mask (a day of 25 Hz
    samples is 2 MB of it, not the 17 MB an int64 one would be).
    """
    m = np.asarray(mask, dtype=bool)
    pad = np.zeros(m.size + 2, dtype=np.int8)
    pad[1:-1] = m
    edges = np.diff(pad)
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


def true_runs(mask: ArrayLike) -> list[tuple[int, int]]:
    """Half-open ``[start, stop)`` index ranges where ``mask`` is True, in order."""
    starts, stops = run_bounds(mask)
    return list(zip(starts.tolist(), stops.tolist(), strict=True))


def index_runs(idx: ArrayLike) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """Starts and stops (half-open) of the runs of consecutive values in sorted
    indices ``idx`` (``np.flatnonzero`` of a mask: its runs without a mask-long copy)."""
    i = np.asarray(idx, dtype=np.intp)
    if not i.size:
        return i, i
    cut = np.flatnonzero(np.diff(i) != 1) + 1
    return i[np.concatenate(([0], cut))], i[np.concatenate((cut - 1, [i.size - 1]))] + 1


def longest_run(mask: ArrayLike) -> int:
    """Length of the longest run of True in a 1-D ``mask`` (0 without one)."""
    m = np.asarray(mask, dtype=bool)
    off = np.flatnonzero(~m)
    if not off.size:
        return int(m.size)
    return int(max(off[0], m.size - 1 - off[-1], int(np.diff(off).max(initial=1)) - 1))
