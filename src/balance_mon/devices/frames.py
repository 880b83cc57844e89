"""What every device decoder hands downstream, and how sensor time meets host time.

Device decoders (:mod:`.polar`, :mod:`.reference`, :mod:`.witmotion`) are the
only place in balance_mon where g, mG and raw counts exist. Each has a stateful
stream decoder whose ``feed(data: bytes) -> list[SampleBatch]`` takes one
Bluetooth LE notification and returns the samples it carried, in SI units:

- ``acc_mps2``: (n, 3) float64 specific force in the sensor frame, m/s^2
  (a sensor at rest reads about +9.81 m/s^2 on the axis pointing up);
- ``gyr_dps``: (n, 3) float64 angular rate in deg/s, or ``None``;
- ``device_time_s``: (n,) float64 per-sample times on the SENSOR clock in
  seconds (``None`` when the protocol has no clock, e.g. WitMotion);
- ``seq``: the packet sequence number when the protocol has one;
- ``lost_packets``: packets the protocol shows to be missing just before this
  one (sequence gap for the reference sensor, a timestamp gap for Polar, 0
  when the protocol cannot tell).

:class:`ClockAligner` maps sensor time onto the host clock from the arrival
times of notifications (minimum-delay filter, see its docstring).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..errors import DecodeError

__all__ = ["ClockAligner", "SampleBatch", "as_bytes"]

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class SampleBatch:
    """Samples decoded from one notification, in SI units (see module docstring)."""

    acc_mps2: FloatArray  #: (n, 3) float64, sensor frame, m/s^2
    gyr_dps: FloatArray | None  #: (n, 3) float64 deg/s, or None
    device_time_s: FloatArray | None  #: (n,) sensor-clock seconds, or None
    seq: int | None  #: packet sequence number, if the protocol has one
    lost_packets: int = 0  #: packets missing just before this one (0 if unknown)

    @property
    def n_samples(self) -> int:
        """Number of samples in the batch."""
        return int(self.acc_mps2.shape[0])


def as_bytes(data: object, what: str) -> bytes:
    """``data`` as ``bytes``; anything that is not bytes-like raises DecodeError."""
    if isinstance(data, bytes):
        return data
    if isinstance(data, bytearray | memoryview):
        try:
            return bytes(data)
        except (TypeError, ValueError) as exc:  # e.g. a non-contiguous memoryview
            raise DecodeError(f"{what}: cannot read the data as bytes ({exc})") from None
    raise DecodeError(f"{what}: expected bytes, got {type(data).__name__}")


class ClockAligner:
    """Map times on a sensor's clock onto the host clock.

    Each notification gives one observation ``host_rx_s - device_time_s`` (host
    arrival time minus the sensor time of the notification's LAST sample). That
    difference is the clock offset plus a transport delay that is never
    negative (sensor buffering, the wait for the next connection event, radio
    retries, the host's Bluetooth stack): so the smallest difference seen in a
    recent window is the best estimate of the offset (a minimum-delay filter,
    as in NTP's clock filter, Mills 1991, doi:10.1109/26.103043). The estimate
    keeps the minimum transport delay as a constant bias (typically a few ms,
    at least one connection event); relative timing is unaffected.

    Parameters
    ----------
    window_s : float
        Length of the sliding window, in host seconds, over which the minimum
        is taken. Long enough to contain several undelayed notifications
        (default 30 s), short enough that clock drift within it stays small
        (50 ppm over 30 s is 1.5 ms).
    max_jump_s : float
        An observation that differs from the current estimate by more than this
        means the sensor clock was reset (a Polar H10 that left the strap, a
        reboot): the window is cleared and estimation starts again. Default 2 s,
        far above any BLE delay that still delivers data.

    Attributes
    ----------
    offset_s_ : float or None
        Current estimate of ``host_time - sensor_time`` (None before the first update).
    n_updates_ : int
        Observations taken.
    n_resets_ : int
        Clock resets detected.

    Notes
    -----
    Use the sensor clock for sample spacing and this offset only to anchor the
    stream on the host clock: when the window slides past its minimum the
    estimate can step by a millisecond or so, so map a whole recording with one
    offset (e.g. the final one) when strictly increasing host times matter.
    """

    def __init__(self, *, window_s: float = 30.0, max_jump_s: float = 2.0) -> None:
        self.window_s = window_s
        self.max_jump_s = max_jump_s
        self._window: deque[tuple[float, float]] = deque()  # (host time, difference), increasing
        self.offset_s_: float | None = None
        self.n_updates_ = 0
        self.n_resets_ = 0

    def update(self, device_time_s: float, host_rx_s: float) -> float:
        """Take one observation; returns the updated offset estimate in seconds."""
        if not (math.isfinite(device_time_s) and math.isfinite(host_rx_s)):
            raise DecodeError(
                f"clock alignment: times must be finite, got device {device_time_s}, "
                f"host {host_rx_s}"
            )
        diff = host_rx_s - device_time_s
        if self.offset_s_ is not None and abs(diff - self.offset_s_) > self.max_jump_s:
            self._window.clear()
            self.n_resets_ += 1
        # Monotonic deque: entries with a difference >= the new one can never be
        # the minimum again, so the front is always the window's minimum.
        while self._window and self._window[-1][1] >= diff:
            self._window.pop()
        self._window.append((host_rx_s, diff))
        while self._window and self._window[0][0] < host_rx_s - self.window_s:
            self._window.popleft()
        self.offset_s_ = self._window[0][1]
        self.n_updates_ += 1
        return self.offset_s_

    def to_host(self, device_time_s: ArrayLike) -> FloatArray:
        """Sensor times (seconds) mapped onto the host clock with the current offset."""
        if self.offset_s_ is None:
            raise DecodeError("clock alignment: no notification seen yet, offset unknown")
        return np.asarray(device_time_s, dtype=np.float64) + self.offset_s_
