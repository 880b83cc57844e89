"""Host clocks for streaming, a simulated-time event loop, and live host-time alignment.

Clocks
------
Every notification is stamped on arrival with :meth:`Clock.now_ns`, integer
nanoseconds of a monotonic host clock. :class:`MonotonicClock` is the real one
(``time.monotonic_ns``, the clock asyncio's own timers use). With
:class:`VirtualTimeLoop`, an asyncio event loop whose time jumps straight to
the next due timer whenever nothing is ready, the simulated sensors of
:mod:`balance_mon.devices.virtual` run a 60 s recording in a fraction of a
second and deterministically; :class:`LoopClock` reads that loop's time. The
streaming code does not know which clock it runs on: it sleeps with asyncio
and stamps with the clock it is given (:func:`clock_for_loop` picks it).

Alignment
---------
:class:`HostTimeMapper` turns each notification's samples into host times in
seconds, online (every sample is timed when its notification is decoded, never
revised), strictly increasing, and as a pure function of the sequence of
(sensor times or sample counts, host receive time) it is fed:

- sensor clock present (Polar, reference sensor): the sensor clock gives the
  spacing; the offset to the host clock is the minimum over a sliding window
  of (receive time - sensor time of the last sample), the minimum-delay filter
  of :class:`balance_mon.devices.frames.ClockAligner`; the offset applied
  follows that estimate at a bounded rate (``max_slew``, a fraction of elapsed
  time, spread linearly over the samples of a notification) so that a new
  minimum, the window sliding past one, or clock drift never make a step in the
  sample times;
- no sensor clock (WitMotion): the same with a synthetic sensor clock that
  advances one nominal sample interval per sample; a receive time later than
  the mapping predicts by more than ``gap_s`` is taken as lost samples and the
  synthetic clock jumps forward by the whole number of intervals missing.
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from .frames import ClockAligner

__all__ = [
    "VIRTUAL_EPOCH_NS",
    "Clock",
    "HostTimeMapper",
    "LoopClock",
    "MonotonicClock",
    "VirtualTimeLoop",
    "clock_for_loop",
    "run_virtual",
]

FloatArray = NDArray[np.float64]

#: Wall-clock time (Unix ns) at virtual time zero: 2025-01-01T00:00:00Z, so that
#: simulated sessions carry reproducible start times.
VIRTUAL_EPOCH_NS = 1_735_689_600 * 1_000_000_000


class Clock(Protocol):
    """Where the streaming code gets host time from."""

    def now_ns(self) -> int:
        """Monotonic host time in integer nanoseconds (any origin)."""
        ...

    def wall_ns(self) -> int:
        """Unix time in nanoseconds (for the recording's start time only)."""
        ...


class MonotonicClock:
    """The real host clock: ``time.monotonic_ns`` (asyncio's timer clock)."""

    def now_ns(self) -> int:
        return time.monotonic_ns()

    def wall_ns(self) -> int:
        return time.time_ns()


class LoopClock:
    """The time of a :class:`VirtualTimeLoop` (simulated seconds), as a Clock."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def now_ns(self) -> int:
        return round(self._loop.time() * 1e9)

    def wall_ns(self) -> int:
        return VIRTUAL_EPOCH_NS + self.now_ns()


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """An asyncio event loop on simulated time.

    ``time()`` starts at 0 and advances only when the loop would otherwise
    wait: if no callback is ready and no I/O is pending, time jumps to the
    next scheduled timer. ``asyncio.sleep``, ``asyncio.timeout`` and
    ``call_later`` therefore keep their meaning while costing no wall time.
    Real I/O and threads still work (the loop blocks for real only when it has
    no timer at all). Use it through :func:`run_virtual`, or
    ``asyncio.Runner(loop_factory=VirtualTimeLoop)``.
    """

    def __init__(self) -> None:
        super().__init__()
        self._virtual_s = 0.0
        selector = self._selector  # type: ignore[attr-defined]
        real_select = selector.select

        def select(timeout: float | None = None) -> list:  # type: ignore[type-arg]
            events = real_select(0)
            if events:
                return events
            if timeout is None:  # nothing scheduled: wait for I/O or threads for real
                return real_select(None)
            if timeout > 0:
                self._virtual_s += timeout
            return events

        selector.select = select

    def time(self) -> float:
        return self._virtual_s


def clock_for_loop(loop: asyncio.AbstractEventLoop | None = None) -> Clock:
    """:class:`LoopClock` on a :class:`VirtualTimeLoop`, else :class:`MonotonicClock`."""
    loop = loop or asyncio.get_running_loop()
    return LoopClock(loop) if isinstance(loop, VirtualTimeLoop) else MonotonicClock()


def run_virtual(coro):  # type: ignore[no-untyped-def]
    """Run ``coro`` to completion on a fresh :class:`VirtualTimeLoop`."""
    with asyncio.Runner(loop_factory=VirtualTimeLoop) as runner:
        return runner.run(coro)


# ---------------------------------------------------------------------------
# Live alignment of sample times onto the host clock
# ---------------------------------------------------------------------------


@dataclass
class _Segment:
    aligner: ClockAligner
    applied_s: float  # offset applied to the last sample mapped
    last_dev_s: float  # sensor time of the last sample mapped


@dataclass
class _Held:
    token: int
    rx_s: float
    n: int
    late_s: float  # lateness assuming no samples were lost


class HostTimeMapper:
    """Per-sample host times of a live stream (see the module docstring).

    :meth:`map` takes one notification's samples and returns the host times
    of the notifications it can place now, as ``(token, times)`` pairs in
    order (the token is the number of the call, from 0). With a sensor clock
    that is always the notification just given. Without one, a notification
    arriving more than ``gap_s`` late is held back until the next ones tell
    whether samples were lost (they keep arriving just as late: a gap of that
    many intervals is inserted before the first late one) or the link stalled
    and then delivered its backlog (their lateness falls back: no gap); the
    decision is taken when lateness falls back or after ``decide_s``.
    :meth:`release` places whatever is held (at the end of a connection).

    Parameters
    ----------
    fs_hz : float
        Nominal sampling rate (spacing without a sensor clock, gap sizes).
    window_s : float
        Sliding window of the minimum-delay filter, host seconds. Default 8 s:
        it holds some 40 notifications even for a Polar H10 at 200 Hz (one per
        about 0.18 s), whose smallest delay is within a millisecond of the
        true minimum; drift of 100 ppm moves the offset 0.8 ms within it.
    max_slew : float
        Largest rate of change of the applied offset, seconds per second of
        stream (default 0.01: the sample spacing changes by at most 1 %, far
        inside the 1.5-interval gap threshold of
        :func:`balance_mon.recording.estimate_rate`; a 50 ms error of the first
        offset estimate is worked off in 5 s; drift up to 10,000 ppm is followed).
    gap_s : float
        Without a sensor clock: lateness beyond the minimum-delay estimate that
        makes a notification suspect (default 0.1 s, a few connection intervals
        of a working link; jitter below it is absorbed by the filter).
    decide_s : float
        Without a sensor clock: how long a suspect notification waits for the
        decision (default 1 s: a stalled link delivers its backlog within a few
        connection events of recovering).
    reset_s : float
        A sensor-clock step of more than this between consecutive samples, beyond
        what the host clock saw pass, is a sensor clock reset: the mapping
        restarts (default 2 s).

    Attributes
    ----------
    inserted_gap_samples_ : int
        Without a sensor clock: samples declared missing from receive times.
    stalls_ : int
        Without a sensor clock: late deliveries recognised as stalls (no gap).
    clock_resets_ : int
        Sensor clock resets seen.
    """

    def __init__(
        self,
        *,
        fs_hz: float,
        window_s: float = 8.0,
        max_slew: float = 0.01,
        gap_s: float = 0.1,
        decide_s: float = 1.0,
        reset_s: float = 2.0,
    ) -> None:
        self.fs_hz = fs_hz
        self.window_s = window_s
        self.max_slew = max_slew
        self.gap_s = gap_s
        self.decide_s = decide_s
        self.reset_s = reset_s
        self._seg: _Segment | None = None
        self._last_t_s = -math.inf
        self._last_rx_s = -math.inf
        self._count = 0  # synthetic sensor clock, in samples (no sensor clock)
        self._token = -1
        self._held: list[_Held] = []
        self.inserted_gap_samples_ = 0
        self.stalls_ = 0
        self.clock_resets_ = 0

    @property
    def last_time_s(self) -> float:
        """Host time of the last sample mapped (-inf before any)."""
        return self._last_t_s

    @property
    def holding(self) -> int:
        """Notifications held back for a decision."""
        return len(self._held)

    def new_segment(self) -> list[tuple[int, FloatArray]]:
        """A new connection: re-anchor on the next notification; returns what was held."""
        out = self.release()
        self._seg = None
        return out

    def release(self) -> list[tuple[int, FloatArray]]:
        """Place every held notification without a gap (end of a connection)."""
        held, self._held = self._held, []
        if held:
            self.stalls_ += 1
        return [(h.token, self._place(h.rx_s, h.n, None)) for h in held]

    def map(
        self, rx_s: float, n: int, device_time_s: FloatArray | None
    ) -> list[tuple[int, FloatArray]]:
        """Times of the notifications placed now (see the class docstring)."""
        self._token += 1
        token = self._token
        if device_time_s is not None:
            if n == 0:
                return [(token, np.empty(0))]
            return [(token, self._place(rx_s, n, np.asarray(device_time_s, dtype=np.float64)))]
        seg = self._seg
        if n == 0:
            return [] if self._held else [(token, np.empty(0))]
        if seg is None or seg.aligner.offset_s_ is None:
            if self._held:  # cannot happen: holding needs an anchored segment
                return [*self.release(), (token, self._place(rx_s, n, None))]
            return [(token, self._place(rx_s, n, None))]
        dt = 1.0 / self.fs_hz
        pending = sum(h.n for h in self._held)
        last_dev = (self._count + pending + n) * dt
        late = rx_s - (last_dev + seg.aligner.offset_s_)
        if not self._held:
            if late <= self.gap_s:
                return [(token, self._place(rx_s, n, None))]
            self._held.append(_Held(token, rx_s, n, late))
            return []
        self._held.append(_Held(token, rx_s, n, late))
        if late <= self.gap_s:  # lateness fell back: the link stalled, nothing lost
            return self.release()
        if rx_s - self._held[0].rx_s < self.decide_s:
            return []
        # still late after decide_s: samples were lost before the first late one
        missing = int(round(min(h.late_s for h in self._held) / dt))
        held, self._held = self._held, []
        self._count += missing
        self.inserted_gap_samples_ += missing
        return [(h.token, self._place(h.rx_s, h.n, None)) for h in held]

    def _place(self, rx_s: float, n: int, dev: FloatArray | None) -> FloatArray:
        """Map one notification now (the slewed minimum-delay mapping)."""
        dt = 1.0 / self.fs_hz
        host_only = dev is None
        if dev is None:
            dev = (self._count + np.arange(1, n + 1, dtype=np.float64)) * dt
        seg = self._seg
        if seg is not None:
            step = dev[0] - seg.last_dev_s
            host_step = max(rx_s - self._last_rx_s, 0.0)
            if step <= 0 or step > host_step + self.reset_s:
                self.clock_resets_ += 1
                seg = None
        if seg is None:
            seg = self._start_segment(rx_s, dev, dt)
        target = seg.aligner.update(float(dev[-1]), rx_s)
        span = float(dev[-1] - seg.last_dev_s)
        limit = self.max_slew * span
        new = seg.applied_s + min(max(target - seg.applied_s, -limit), limit)
        frac = (dev - seg.last_dev_s) / span if span > 0 else np.ones(n)
        t = dev + seg.applied_s + (new - seg.applied_s) * frac
        if t[0] <= self._last_t_s:  # never happens within a segment; guards a re-anchor
            t = t + (self._last_t_s - t[0] + dt)
            new = float(t[-1] - dev[-1])
        seg.applied_s = new
        seg.last_dev_s = float(dev[-1])
        self._seg = seg
        if host_only:
            self._count += n
        self._last_t_s = float(t[-1])
        self._last_rx_s = max(rx_s, self._last_rx_s)
        return t

    def _start_segment(self, rx_s: float, dev: FloatArray, dt: float) -> _Segment:
        aligner = ClockAligner(window_s=self.window_s, max_jump_s=math.inf)
        # the mapping starts one interval before the first sample, at the offset seen
        offset = rx_s - float(dev[-1])
        return _Segment(aligner=aligner, applied_s=offset, last_dev_s=float(dev[0]) - dt)
