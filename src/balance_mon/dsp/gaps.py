"""Gap-aware processing: split a recording at its gaps and put each piece on a uniform grid.

Filters and integrals assume evenly spaced samples. A BLE recording has
jitter (samples slightly off the grid) and gaps (packets lost). Each gap-free
segment is processed on its own, after linear interpolation onto a uniform
grid at the recording's estimated rate; nothing is ever filtered across a gap.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..recording import Recording

__all__ = ["Segment", "gap_free_segments", "on_grid", "resample_uniform", "uniform_segments"]


@dataclass(frozen=True)
class Segment:
    """A gap-free stretch on a uniform grid: ``time_s[k] = t0_s + k / fs_hz``.

    The time stamps are built when first asked for (most analyses need only
    ``t0_s``; a day at 100 Hz is 69 MB of them).
    """

    t0_s: float
    acc_mps2: NDArray[np.float64]
    gyr_dps: NDArray[np.float64] | None
    fs_hz: float

    @property
    def n_samples(self) -> int:
        return int(self.acc_mps2.shape[0])

    @property
    def duration_s(self) -> float:
        return self.n_samples / self.fs_hz

    @functools.cached_property
    def time_s(self) -> NDArray[np.float64]:
        """``t0_s + k / fs_hz`` for each sample k."""
        t = np.arange(self.n_samples, dtype=np.float64)  # built in place
        t /= self.fs_hz
        t += self.t0_s
        return t


def gap_free_segments(rec: Recording) -> list[tuple[int, int]]:
    """Half-open index ranges ``[start, stop)`` between the recording's gaps."""
    bounds = [0] + [g.index + 1 for g in rec.rate.gaps] + [rec.n_samples]
    return [(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True) if b > a]


def resample_uniform(
    time_s: ArrayLike, x: ArrayLike, fs_hz: float
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Linear interpolation of ``x`` (N or N x k) onto ``t0 + k / fs_hz`` within the span."""
    t = np.asarray(time_s, dtype=np.float64)
    a = np.asarray(x, dtype=np.float64)
    n = int(np.floor((t[-1] - t[0]) * fs_hz + 1e-9)) + 1
    tu = t[0] + np.arange(n) / fs_hz
    if a.ndim == 1:
        return tu, np.interp(tu, t, a)
    return tu, np.column_stack([np.interp(tu, t, a[:, j]) for j in range(a.shape[1])])


def on_grid(time_s: ArrayLike, fs_hz: float, *, tolerance: float = 0.01) -> bool:
    """Whether samples already sit on ``t0 + k / fs_hz`` within ``tolerance`` of an interval."""
    t = np.asarray(time_s, dtype=np.float64)
    if t.size < 2:
        return True
    # the largest |t - t[0] - k / fs| in chunks: the same numbers without day-long temporaries
    t0, limit, step = t[0], tolerance / fs_hz, 1 << 16
    for a in range(0, t.size, step):
        d = np.arange(a, min(a + step, t.size), dtype=np.float64)
        d /= fs_hz
        np.subtract(t[a : a + step] - t0, d, out=d)
        if not float(np.max(np.abs(d, out=d))) <= limit:  # NaN fails, as the single max did
            return False
    return True


def uniform_segments(rec: Recording, *, min_samples: int = 2) -> list[Segment]:
    """The recording's gap-free segments, each on a uniform grid.

    A segment whose samples already lie on the grid to within 1 % of a sample
    interval (device-timed streams, files written at a fixed rate) is used as
    it is, without interpolation or copies; others are linearly interpolated.
    """
    fs = rec.fs_est_hz
    out = []
    for a, b in gap_free_segments(rec):
        if b - a < min_samples:
            continue
        t = rec.time_s[a:b]
        if on_grid(t, fs):
            acc, gyr = rec.acc_mps2[a:b], None if rec.gyr_dps is None else rec.gyr_dps[a:b]
        else:
            # (the grid resample_uniform uses is the segment's time_s)
            _, acc = resample_uniform(t, rec.acc_mps2[a:b], fs)
            gyr = None
            if rec.gyr_dps is not None:
                _, gyr = resample_uniform(t, rec.gyr_dps[a:b], fs)
        out.append(Segment(t0_s=float(t[0]), acc_mps2=acc, gyr_dps=gyr, fs_hz=fs))
    return out
