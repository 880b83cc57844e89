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

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import signal

from ..errors import RecordingError

__all__ = ["highpass_zero_phase", "lowpass_zero_phase"]


def _sos(kind: str, cutoff_hz: float, fs_hz: float, order: int) -> NDArray[np.float64]:
    # a copy: the cached design is shared, and scipy wants a writable array
    return _design(kind, float(cutoff_hz), float(fs_hz), int(order)).copy()


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


def _apply(sos: NDArray[np.float64], x: ArrayLike, axis: int) -> NDArray[np.float64]:
    a = np.asarray(x, dtype=np.float64)
    n = a.shape[axis]
    # sosfiltfilt pads by 3 x (2 x sections + 1) samples by default; shorter input
    # gets the largest padding it can take.
    padlen = min(3 * (2 * sos.shape[0] + 1), max(n - 1, 0))
    if n < 2:
        return a.copy()
    return signal.sosfiltfilt(sos, a, axis=axis, padlen=padlen)


def lowpass_zero_phase(
    x: ArrayLike, fs_hz: float, *, cutoff_hz: float, order: int = 4, axis: int = 0
) -> NDArray[np.float64]:
    """Zero-phase Butterworth low-pass of ``x`` along ``axis`` (input not modified)."""
    return _apply(_sos("lowpass", cutoff_hz, fs_hz, order), x, axis)


def highpass_zero_phase(
    x: ArrayLike, fs_hz: float, *, cutoff_hz: float, order: int = 4, axis: int = 0
) -> NDArray[np.float64]:
    """Zero-phase Butterworth high-pass of ``x`` along ``axis`` (input not modified)."""
    return _apply(_sos("highpass", cutoff_hz, fs_hz, order), x, axis)
