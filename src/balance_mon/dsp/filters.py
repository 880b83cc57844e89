"""Zero-phase filters.

The analyses filter with :func:`lowpass_zero_phase`: a Butterworth low-pass run
forwards and backwards (``scipy.signal.sosfiltfilt``), so events keep their
timing. Running an order-``n`` filter twice squares its magnitude response:
the -3 dB point of the pair sits slightly below ``cutoff_hz`` (at the design
order 4, at about 0.90 x cutoff); this is the usual convention of "zero-phase
4th-order Butterworth" in the sway literature and is kept for comparability.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import signal
from scipy.ndimage import uniform_filter1d

from ..errors import RecordingError

__all__ = [
    "SAMPLE_RTOL",
    "block_mean",
    "floor_samples",
    "highpass_zero_phase",
    "lowpass_zero_phase",
    "moving_mean",
    "moving_sd",
    "n_samples",
    "snap_half",
    "working_factor",
]


@functools.lru_cache(maxsize=256)
def _loop_sos(kind: str, cutoff_hz: float, fs_hz: float, order: int) -> NDArray[np.float64]:
    """A writable copy of the design for the filter loop (which wants one; it never writes)."""
    return _design(kind, cutoff_hz, fs_hz, order).copy()


@functools.lru_cache(maxsize=256)
def _zi(kind: str, cutoff_hz: float, fs_hz: float, order: int) -> NDArray[np.float64]:
    """Steady-state initial conditions of the design (cached: scipy solves for them per call)."""
    zi = signal.sosfilt_zi(_design(kind, cutoff_hz, fs_hz, order).copy())
    zi.flags.writeable = False
    return zi


@functools.lru_cache(maxsize=256)
def _design(kind: str, cutoff_hz: float, fs_hz: float, order: int) -> NDArray[np.float64]:
    """Butterworth design (cached: analyses filter many segments at the same rate)."""
    nyq = fs_hz / 2.0
    if not 0 < cutoff_hz < nyq:
        raise RecordingError(
            f"a {cutoff_hz:g} Hz {kind} filter needs a sampling rate above {2 * cutoff_hz:g} Hz "
            f"(this recording: {fs_hz:.4g} Hz); record at a higher rate"
        )
    sos = signal.butter(order, cutoff_hz, btype=kind, fs=fs_hz, output="sos")
    sos.flags.writeable = False  # shared between callers through the cache
    return sos


def _apply(kind: str, cutoff_hz: float, fs_hz: float, order: int, x: ArrayLike, axis: int):
    """``scipy.signal.sosfiltfilt`` with odd padding, same numbers, design and zi cached.

    The steps are scipy's (odd extension, forward pass from the steady state
    scaled by the first sample, backward pass from the last output's, trim);
    only the initial conditions come from a cache, so the many short stretches
    a day of data is cut into do not each solve for them. Each series is
    filtered alone along the last axis of one C-ordered work array
    (:func:`_sosfilt_rows`), so the numbers do not depend on the layout.
    """
    a = np.asarray(x, dtype=np.float64)
    n = a.shape[axis]
    if n < 2:
        return a.copy()
    sos = _loop_sos(kind, float(cutoff_hz), float(fs_hz), int(order))
    # sosfiltfilt pads by 3 x (2 x sections + 1) samples by default; shorter input
    # gets the largest padding it can take.
    p = min(3 * (2 * sos.shape[0] + 1), n - 1)
    v = np.moveaxis(a, axis, -1)
    shape = v.shape
    v = v.reshape(-1, n)  # (series, samples): a view when it can be
    zi = _zi(kind, float(cutoff_hz), float(fs_hz), int(order))
    if n > _LONG and a.ndim <= 2:
        return _apply_long(sos, zi, v, p, a.shape, axis)
    ext = np.empty((v.shape[0], n + 2 * p))
    ext[:, p : p + n] = v
    if p > 0:
        np.subtract(2 * v[:, :1], v[:, p:0:-1], out=ext[:, :p])
        np.subtract(2 * v[:, -1:], v[:, -2 : -p - 2 : -1], out=ext[:, p + n :])
    _sosfilt_rows(sos, ext, zi[None, :, :] * ext[:, :1, None])
    # backwards: the reversed forward output, from its first sample's steady state
    y = ext[:, ::-1].copy()
    _sosfilt_rows(sos, y, zi[None, :, :] * y[:, :1, None])
    y = y[:, ::-1][:, p : p + n].reshape(shape)
    return np.ascontiguousarray(np.moveaxis(y, -1, axis))


#: Series longer than this (samples) are filtered in pieces of this length: the
#: same numbers (the filter's state is carried from piece to piece), but no
#: day-long temporaries, only the result (a day at 25 Hz is 17 MB a series, and
#: fresh memory costs more than the filtering).
_LONG = 1 << 15


def _apply_long(
    sos: NDArray[np.float64],
    zi: NDArray[np.float64],
    v: NDArray[np.float64],
    p: int,
    out_shape: tuple[int, ...],
    axis: int,
) -> NDArray[np.float64]:
    """:func:`_apply`'s steps for long (series, samples) ``v``, piece by piece (1-D, 2-D)."""
    rows, n = v.shape
    res = np.empty(out_shape)
    out = np.moveaxis(res, axis, -1).reshape(rows, n)  # a view: written in place
    # the odd extensions at either end (small)
    head = np.ascontiguousarray(2 * v[:, :1] - v[:, p:0:-1])
    tail = np.ascontiguousarray(2 * v[:, -1:] - v[:, -2 : -p - 2 : -1])
    first = head[:, :1] if p > 0 else v[:, :1]
    z = zi[None, :, :] * first[:, :, None]
    if p > 0:
        _sosfilt_rows(sos, head, z)
    for c in range(0, n, _LONG):
        piece = np.ascontiguousarray(v[:, c : c + _LONG])
        _sosfilt_rows(sos, piece, z)
        out[:, c : c + _LONG] = piece
    if p > 0:
        _sosfilt_rows(sos, tail, z)
    # backwards from the forward output's last sample, through the tail and the pieces
    last = tail[:, -1:] if p > 0 else out[:, -1:]
    z = zi[None, :, :] * last[:, :, None]
    if p > 0:
        _sosfilt_rows(sos, np.ascontiguousarray(tail[:, ::-1]), z)
    for c in range(((n - 1) // _LONG) * _LONG, -1, -_LONG):
        piece = np.ascontiguousarray(out[:, c : c + _LONG][:, ::-1])
        _sosfilt_rows(sos, piece, z)
        out[:, c : c + _LONG] = piece[:, ::-1]
    return res


def _compiled_loop() -> Any:
    """scipy's compiled second-order-section loop, if this scipy has it as expected.

    It is private to scipy, so it is used only when it is there and gives the
    public ``sosfilt``'s numbers on a small case; otherwise None (the public
    function is used).
    """
    try:
        from scipy.signal._sosfilt import _sosfilt as loop

        sos = signal.butter(2, 0.2, output="sos")
        x = np.array([[1.0, -2.0, 3.0, 0.5, 0.0, 4.0]])
        zi = np.ascontiguousarray(np.full((1, sos.shape[0], 2), 0.25))
        want, _ = signal.sosfilt(sos, x, axis=-1, zi=np.moveaxis(zi, 1, 0))
        got = x.copy()
        loop(sos.copy(), got, zi)
        return loop if np.array_equal(got, want) else None
    except Exception:  # pragma: no cover - a scipy that moved or changed it
        return None


_sosfilt_compiled = _compiled_loop()


def _sosfilt_rows(
    sos: NDArray[np.float64], x: NDArray[np.float64], zi: NDArray[np.float64]
) -> None:
    """Filter each row of the C-ordered (M, N) ``x`` in place from states ``zi`` (M, S, 2),
    C-ordered, updated in place (so filtering can go on from them).

    The loop ``scipy.signal.sosfilt`` runs, called directly: its Python wrapper
    costs ~40 us a call (axis moves, checks), which a day cut into hundreds of
    short stretches pays thousands of times. Falls back to the public function
    (the same numbers, tested) where scipy no longer has it.
    """
    if _sosfilt_compiled is None:
        y, zf = signal.sosfilt(sos, x, axis=-1, zi=np.moveaxis(zi, 1, 0))
        x[...] = y
        zi[...] = np.moveaxis(zf, 0, 1)
        return
    _sosfilt_compiled(sos, x, zi)


def lowpass_zero_phase(
    x: ArrayLike, fs_hz: float, *, cutoff_hz: float, order: int = 4, axis: int = 0
) -> NDArray[np.float64]:
    """Zero-phase Butterworth low-pass of ``x`` along ``axis`` (input not modified)."""
    return _apply("lowpass", cutoff_hz, fs_hz, order, x, axis)


def highpass_zero_phase(
    x: ArrayLike, fs_hz: float, *, cutoff_hz: float, order: int = 4, axis: int = 0
) -> NDArray[np.float64]:
    """Zero-phase Butterworth high-pass of ``x`` along ``axis`` (input not modified)."""
    return _apply("highpass", cutoff_hz, fs_hz, order, x, axis)


def moving_mean(x: ArrayLike, n: int) -> NDArray[np.float64]:
    """Centred moving average over ``n`` samples along axis 0, edges padded with the edge value.

    The window of sample i is ``[i - n//2, i + n - 1 - n//2]`` (scipy.ndimage's
    origin-0 convention); ``n <= 1`` returns the input as float.
    """
    a = np.asarray(x, dtype=np.float64)
    if n <= 1:
        return a
    return uniform_filter1d(a, size=int(n), axis=0, mode="nearest")


def moving_sd(x: ArrayLike, n: int) -> NDArray[np.float64]:
    """Centred moving standard deviation over ``n`` samples, summed in quadrature over columns.

    ``sqrt(sum_c (mean(x_c^2) - mean(x_c)^2))`` with :func:`moving_mean`'s
    windows (running sums: cost independent of ``n``). One value per row of a
    1-D or (N, C) ``x``; zeros for ``n <= 1``.
    """
    a = np.asarray(x, dtype=np.float64)
    if a.ndim == 1:
        a = a[:, None]
    if n <= 1:
        return np.zeros(a.shape[0])
    n = int(n)
    out = np.empty(a.shape[0])
    # long series piece by piece, each with n samples of its neighbours on either
    # side (its windows' samples): temporaries that fit in the cache, no day-long ones
    halo = n + 1
    for c in range(0, a.shape[0], _LONG):
        lo, hi = max(c - halo, 0), min(c + _LONG + halo, a.shape[0])
        out[c : c + _LONG] = _moving_sd_piece(a[lo:hi], n)[c - lo : c - lo + _LONG]
    return out


def _moving_sd_piece(a: NDArray[np.float64], n: int) -> NDArray[np.float64]:
    """:func:`moving_sd` of an (N, C) array in one piece."""
    s = np.zeros(a.shape[0])
    m = np.empty(a.shape[0])
    m2 = np.empty(a.shape[0])
    for col in a.T:  # column by column, summed in the order of a row sum
        uniform_filter1d(col, size=n, mode="nearest", output=m)
        np.multiply(col, col, out=m2)
        uniform_filter1d(m2, size=n, mode="nearest", output=m2)
        np.multiply(m, m, out=m)
        np.subtract(m2, m, out=m2)
        np.maximum(m2, 0.0, out=m2)
        s += m2
    return np.sqrt(s, out=s)


#: Relative tolerance within which a number of samples (a duration times a rate) is
#: taken as a whole or half number: a rate estimated from time stamps, or a period
#: derived from a lag (``lag / fs * fs``), is off by units in the last place, which
#: must not move a sample count across a rounding boundary (nor change a result).
SAMPLE_RTOL = 1e-9


def snap_half(x: float) -> float:
    """``x``, or the nearest multiple of 1/2 when within ``SAMPLE_RTOL`` of it."""
    h = round(2.0 * x) / 2.0
    return h if abs(x - h) <= SAMPLE_RTOL * max(1.0, abs(x)) else x


def n_samples(x: float) -> int:
    """The whole number of samples nearest ``x`` (a duration times a rate).

    Float error does not decide: ``x`` within ``SAMPLE_RTOL`` of a half is that
    half, which rounds to even (as :func:`round`; 12.5 -> 12 at any rate within
    a part per billion of 50 Hz for 0.25 s).
    """
    return int(round(snap_half(x)))


def floor_samples(x: float) -> int:
    """The whole samples in ``x`` (floor), ``x`` within ``SAMPLE_RTOL`` of a whole number
    taken as that number."""
    return int(math.floor(snap_half(x)))


def working_factor(fs_hz: float, work_hz: float) -> int:
    """Samples averaged into one working sample: the working rate ``fs_hz / k`` stays
    at least ``work_hz`` (or is ``fs_hz`` when that is lower). A rate within
    ``SAMPLE_RTOL`` of a multiple of ``work_hz`` is that multiple (99.99999999999999 Hz,
    estimated from time stamps, is averaged as 100 Hz)."""
    return max(1, floor_samples(float(fs_hz) / float(work_hz)))


def block_mean(x: ArrayLike, k: int) -> NDArray[np.float64]:
    """Means of consecutive blocks of ``k`` rows (a trailing partial block is dropped).

    A block mean is a boxcar low-pass (first zero at the working rate) followed
    by decimation: enough before the analyses' own low-pass filters at a fifth
    of the working rate or less. The time of block j is the centre of its
    samples, ``t[j k] + (k - 1) / (2 fs)``. Summed with strided views (no
    reshaped copy): for k = 2 the same numbers as ``mean`` over the block.
    """
    a = np.asarray(x, dtype=np.float64)
    if k <= 1:
        return a
    m = a.shape[0] // k
    out = np.add(a[0 : m * k : k], a[1 : m * k : k])
    for i in range(2, k):
        out += a[i : m * k : k]
    out /= k
    return out
