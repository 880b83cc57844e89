"""Per-repetition trunk alignment: which bend of the trunk belongs to which repetition.

The repetition counter (:mod:`.reps`) finds each repetition's cycle between two
extreme postures of the signal it counts, and which extreme that is (top or
bottom of a squat) depends on the sensor's orientation and the exercise: a
repetition's window can run from one bend's deepest point to the next one's.
Taking the largest trunk flexion inside each window would then give a
repetition its neighbour's bend. So the flexion of each repetition is taken
from the trunk's own bends (excursions of forward flexion beyond
``bend_min_deg``, from :class:`.posture.TrunkPosture` offline or
:class:`BendTracker` live):

* when a set has as many bends as repetitions, they are paired in order (one
  bend per repetition: the usual case for squats, lifts, hinges, lunges);
* otherwise each bend goes to the repetition whose window holds its deepest
  moment, and a repetition without a bend takes the largest flexion inside its
  window (exercises that hardly move the trunk, such as heel raises or band
  rows, stay below ``bend_min_deg`` and never meet this ambiguity).

The result reads "rep 4: trunk flexed 52 degrees"
(:func:`.posture.rep_alignment_text`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["BendPeak", "BendTracker", "pair_bends"]


@dataclass(frozen=True)
class BendPeak:
    """One excursion of flexion: its start, deepest moment and end (s) and peak (deg)."""

    start_s: float
    peak_s: float
    end_s: float
    peak_deg: float


def pair_bends(
    windows: Sequence[tuple[float, float]], bends: Sequence[BendPeak]
) -> list[BendPeak | None]:
    """The bend of each repetition window ``(start_s, end_s)`` (None: no bend).

    Only bends overlapping the set (its first window's start minus half a
    repetition to its last window's end plus half a repetition) are used.
    """
    if not windows:
        return []
    dur = float(np.median([b - a for a, b in windows]))
    lo, hi = windows[0][0] - 0.5 * dur, windows[-1][1] + 0.5 * dur
    inside = sorted((b for b in bends if b.end_s > lo and b.start_s < hi), key=lambda b: b.peak_s)
    if len(inside) == len(windows):
        return list(inside)
    out: list[BendPeak | None] = [None] * len(windows)
    starts = np.array([a for a, _ in windows])
    for b in inside:
        i = int(np.searchsorted(starts, b.peak_s, side="right")) - 1
        if 0 <= i < len(windows) and b.peak_s <= windows[i][1]:
            cur = out[i]
            if cur is None or b.peak_deg > cur.peak_deg:
                out[i] = b
    return out


class BendTracker:
    """Bends of a live inclination trace (hysteresis), for :func:`pair_bends`.

    Parameters
    ----------
    bend_min_deg : flexion that starts a bend (default 15 deg, as
        :class:`.posture.TrunkPosture`: above the 2-8 deg the trunk and pelvis
        pitch in walking).
    release_deg : the bend ends when flexion falls below ``bend_min_deg``
        minus this (default 5 deg, so noise near the threshold does not split
        one bend in two).

    Attributes
    ----------
    bends_ : completed bends, oldest first.
    current_ : the bend in progress (its end is the latest sample), or None.
    """

    def __init__(self, *, bend_min_deg: float = 15.0, release_deg: float = 5.0) -> None:
        self.bend_min_deg = float(bend_min_deg)
        self.release_deg = float(release_deg)
        self.bends_: list[BendPeak] = []
        self.current_: BendPeak | None = None

    def reset(self) -> None:
        self.bends_ = []
        self.current_ = None

    def push(self, time_s: ArrayLike, angle_deg: ArrayLike) -> BendTracker:
        """Add samples (NaN angles, before the upright is known, are skipped)."""
        t = np.asarray(time_s, dtype=np.float64).ravel()
        a = np.asarray(angle_deg, dtype=np.float64).ravel()
        on, off = self.bend_min_deg, self.bend_min_deg - self.release_deg
        cur = self.current_
        for ti, ai in zip(t.tolist(), a.tolist(), strict=True):
            if not math.isfinite(ai):
                continue
            if cur is None:
                if ai >= on:
                    cur = BendPeak(ti, ti, ti, ai)
            elif ai < off:
                self.bends_.append(cur)
                cur = None
            elif ai > cur.peak_deg:
                cur = BendPeak(cur.start_s, ti, ti, ai)
            else:
                cur = BendPeak(cur.start_s, cur.peak_s, ti, cur.peak_deg)
        self.current_ = cur
        return self

    def all_bends(self) -> list[BendPeak]:
        """Completed bends plus the one in progress."""
        return self.bends_ + ([self.current_] if self.current_ is not None else [])
