"""One clock for the whole program: GUI timers, the BLE worker's event loop, sample times.

The protocol runner, the live view and the streaming session all read the
same :class:`AppClock`, so a step that starts "now" on the screen starts at a
known time on the recording's time axis. With ``speed`` 1 it is the real
monotonic clock (``time.monotonic_ns``, the clock asyncio and
:class:`balance_mon.devices.clock.MonotonicClock` use). With ``speed`` > 1 the
program runs on accelerated time: :class:`ScaledTimeLoop` is an asyncio event
loop whose ``time()`` is the app clock, so the simulated sensors sample, pace
notifications and drop their links ``speed`` times faster, and the protocol's
countdowns follow. Tests and the benchmark use it to run a 60 s balance test
in a few seconds without changing any code path.
"""

from __future__ import annotations

import asyncio
import time

__all__ = ["AppClock", "ScaledTimeLoop"]


class AppClock:
    """Monotonic host time, optionally accelerated (``speed`` x real time).

    Satisfies :class:`balance_mon.devices.clock.Clock` (``now_ns``,
    ``wall_ns``), so it is handed to :class:`~balance_mon.devices.session.StreamSession`.
    """

    def __init__(self, speed: float = 1.0) -> None:
        if not speed > 0:
            raise ValueError(f"clock speed must be positive, got {speed}")
        self.speed = float(speed)
        self._origin_ns = time.monotonic_ns()
        self._wall0_ns = time.time_ns()

    @property
    def scaled(self) -> bool:
        return self.speed != 1.0

    def now_ns(self) -> int:
        real = time.monotonic_ns()
        if self.speed == 1.0:
            return real
        return self._origin_ns + round((real - self._origin_ns) * self.speed)

    def now_s(self) -> float:
        return self.now_ns() / 1e9

    def wall_ns(self) -> int:
        """Unix time of ``now`` (accelerated along with the clock)."""
        return self._wall0_ns + (self.now_ns() - self._origin_ns)

    def real_s(self, app_s: float) -> float:
        """Real seconds that ``app_s`` seconds of app time take."""
        return app_s / self.speed

    def new_loop(self) -> asyncio.AbstractEventLoop:
        """An event loop on this clock (a plain one at speed 1)."""
        if self.speed == 1.0:
            return asyncio.new_event_loop()
        return ScaledTimeLoop(self)


class ScaledTimeLoop(asyncio.SelectorEventLoop):
    """An asyncio event loop whose ``time()`` is an accelerated :class:`AppClock`.

    Timers are due in app seconds; the selector waits the corresponding real
    time (``timeout / speed``), so ``asyncio.sleep(1)`` takes ``1 / speed`` s.
    """

    def __init__(self, clock: AppClock) -> None:
        super().__init__()
        self.app_clock = clock
        speed = clock.speed
        selector = self._selector  # type: ignore[attr-defined]
        real_select = selector.select

        def select(timeout: float | None = None) -> list:  # type: ignore[type-arg]
            if timeout is not None and timeout > 0:
                timeout = timeout / speed
            return real_select(timeout)

        selector.select = select

    def time(self) -> float:
        return self.app_clock.now_ns() / 1e9
