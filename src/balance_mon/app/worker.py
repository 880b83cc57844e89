"""The Bluetooth side of the program: a thread owning its own asyncio loop.

Everything that talks to bleak (scanning, connecting, the
:class:`~balance_mon.devices.session.StreamSession` of each connected sensor,
its reconnection with back-off) runs as tasks of one asyncio event loop in a
worker thread, never on the GUI's time (devices.md: "a worker thread owning
its own asyncio loop that hands data to the GUI through queued Qt signals").

Hand-over to the GUI:

- state changes (connected, battery, disconnected, reconnecting, lost) and
  scan results go through Qt signals of :class:`DeviceWorker`, emitted from
  the worker thread and therefore delivered queued into the GUI thread;
- sample blocks, which come at up to a few hundred per second with several
  sensors, are appended to a per-connection ``deque`` (thread-safe in
  CPython) that the GUI drains once per frame. One signal per block would
  flood the GUI's event queue; a frame-rate pull costs nothing when idle and
  adds at most one frame of latency.

The GUI never blocks on the worker: every request is posted with
``asyncio.run_coroutine_threadsafe`` and answered by a signal.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as _dt
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from ..devices.models import StreamSettings
from ..devices.session import FoundDevice, ReconnectPolicy, SampleBlock, StreamSession, scan
from ..errors import BalanceMonError
from .clock import AppClock

__all__ = ["Connection", "DeviceStatus", "DeviceWorker", "signal_quality"]

log = logging.getLogger(__name__)

#: Real seconds between status checks of each connection.
STATUS_INTERVAL_S = 0.05


@dataclass(frozen=True)
class DeviceStatus:
    """What the device panel shows about one sensor (immutable snapshot)."""

    key: str
    name: str
    address: str
    model: str
    state: str = "connecting"  #: connecting, streaming, reconnecting, lost, stopped, error
    rssi_dbm: int | None = None
    battery: dict[str, Any] = field(default_factory=dict)
    samples: int = 0
    rate_hz: float = 0.0
    fs_hz: float | None = None
    lost_samples: int = 0
    loss_fraction: float = 0.0
    recent_loss: float = 0.0  #: loss fraction over the last few seconds
    disconnects: int = 0
    reconnects: int = 0
    outage_s: float = 0.0
    last_drop_s: float | None = None  #: stream time of the last link drop
    last_reconnect_s: float | None = None  #: stream time of the last reconnection
    message: str = ""
    simulated: bool = False

    @property
    def battery_text(self) -> str:
        if "battery_pct" in self.battery:
            return f"{self.battery['battery_pct']} %"
        if "battery_v" in self.battery:
            return f"{self.battery['battery_v']:.2f} V"
        return "–"

    @property
    def quality(self) -> str:
        return signal_quality(self.rssi_dbm, self.recent_loss, self.state)


def signal_quality(rssi_dbm: int | None, recent_loss: float, state: str) -> str:
    """ "good", "fair", "poor" or "none" from the last scan's RSSI and recent packet loss.

    Thresholds: loss under 1 % and RSSI above -80 dBm is good; loss under 5 %
    and RSSI above -90 dBm is fair (BLE links typically hold down to about
    -90 dBm; above a few % loss the sway measures degrade visibly).
    """
    if state != "streaming":
        return "none"
    rssi = -60 if rssi_dbm is None else rssi_dbm
    if recent_loss < 0.01 and rssi > -80:
        return "good"
    if recent_loss < 0.05 and rssi > -90:
        return "fair"
    return "poor"


class Connection:
    """One sensor being streamed: its session task, its block queue, its status."""

    def __init__(self, key: str, found: FoundDevice, session: StreamSession) -> None:
        self.key = key
        self.found = found
        self.session = session
        self.blocks: deque[SampleBlock] = deque()
        self.task: asyncio.Task[Any] | None = None
        self.t0_ns: int | None = None
        self.fs_hz: float | None = None
        self.has_gyro = False
        self.status = DeviceStatus(
            key=key,
            name=found.name or found.address,
            address=found.address,
            model=found.model.key,
            rssi_dbm=found.rssi,
        )
        self._history: deque[tuple[float, int, int]] = deque(maxlen=64)

    def on_block(self, block: SampleBlock) -> None:  # worker thread, in the session's consumer
        self.blocks.append(block)

    def drain(self) -> list[SampleBlock]:
        """Every block received since the last call (GUI thread)."""
        out = []
        pop = self.blocks.popleft
        try:
            while True:
                out.append(pop())
        except IndexError:
            pass
        return out

    def stream_now_s(self, clock: AppClock) -> float | None:
        """``now`` on this connection's recording time axis (None before the stream)."""
        if self.t0_ns is None:
            return None
        return (clock.now_ns() - self.t0_ns) / 1e9


class DeviceWorker(QObject):
    """Owns the BLE thread and its connections (see the module docstring).

    Parameters
    ----------
    clock : AppClock
        Shared with the GUI (accelerated in tests and the benchmark).
    data_dir : Path
        Where stream recordings are written (``streams/``).
    air : VirtualAir, optional
        Simulated sensors: scanning and connecting use its bleak backends.
    reconnect : ReconnectPolicy
    settings : StreamSettings
        Rate and range asked of every sensor (model defaults when None).
    """

    scanned = Signal(list)  #: list[FoundDevice]
    status = Signal(object)  #: DeviceStatus
    error = Signal(str)
    connected = Signal(str)  #: key of a new connection (data flows from now on)

    def __init__(
        self,
        clock: AppClock,
        data_dir: Path,
        *,
        air: Any = None,
        reconnect: ReconnectPolicy | None = None,
        settings: StreamSettings | None = None,
        placement: str = "lower_back",
    ) -> None:
        super().__init__()
        self.clock = clock
        self.data_dir = Path(data_dir)
        self.air = air
        self.reconnect = reconnect or ReconnectPolicy(give_up_after_s=120.0)
        self.settings = settings or StreamSettings()
        self.placement = placement
        self.connections: dict[str, Connection] = {}
        self._loop = clock.new_loop()
        self._thread = threading.Thread(
            target=self._run_loop, name="balance_mon BLE worker", daemon=True
        )
        self._started = False
        self._closing = False
        self.last_scan: list[FoundDevice] = []

    # -- thread ---------------------------------------------------------------------------

    def start(self) -> None:
        if not self._started:
            self._started = True
            self._thread.start()

    def _run_loop(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_forever()
        # drain what is left (sessions finalizing their files)
        pending = [t for t in asyncio.all_tasks(self._loop) if not t.done()]
        if pending:
            self._loop.run_until_complete(asyncio.wait(pending, timeout=10.0))
        self._loop.close()

    def submit(self, coro: Any) -> Any:
        """Run ``coro`` on the worker loop; returns a concurrent Future."""
        self.start()
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    def call_soon(self, fn: Callable[[], None]) -> None:
        self.start()
        self._loop.call_soon_threadsafe(fn)

    @property
    def simulated(self) -> bool:
        return self.air is not None

    # -- requests from the GUI ----------------------------------------------------------

    def request_scan(self, timeout_s: float = 4.0) -> None:
        """Scan for ``timeout_s`` (app seconds); answers with :attr:`scanned`."""
        self.submit(self._scan(timeout_s))

    async def _scan(self, timeout_s: float) -> None:
        backend = self.air.scanner_backend if self.air is not None else None
        try:
            found = await scan(timeout_s, scanner_backend=backend)
        except BalanceMonError as exc:
            self.error.emit(str(exc))
            found = []
        except Exception as exc:  # a radio stack failing in an unforeseen way
            self.error.emit(f"scanning failed: {exc}")
            found = []
        # sensors already streaming do not advertise: list them too
        seen = {f.address for f in found}
        for c in self.connections.values():
            if c.found.address not in seen and c.status.state in (
                "streaming",
                "connecting",
                "reconnecting",
            ):
                found.append(c.found)
        self.last_scan = found
        self.scanned.emit(list(found))

    def request_connect(self, found: FoundDevice) -> str:
        """Start streaming ``found``; returns the connection key at once."""
        key = found.address
        if key in self.connections and self.connections[key].status.state not in (
            "lost",
            "stopped",
            "error",
        ):
            return key
        self.data_dir.joinpath("streams").mkdir(parents=True, exist_ok=True)
        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        safe = "".join(ch if ch.isalnum() else "-" for ch in (found.name or found.address))
        out = self.data_dir / "streams" / f"{stamp}_{safe}.csv"
        n = 1
        while out.exists():
            n += 1
            out = out.with_name(f"{stamp}_{safe}_{n}.csv")
        kwargs: dict[str, Any] = {}
        if self.air is not None:
            kwargs.update(
                scanner_backend=self.air.scanner_backend,
                client_backend=self.air.client_backend,
                simulated=f"virtual:{found.model.key}",
            )
        conn_box: list[Connection] = []
        session = StreamSession(
            found.address,
            out,
            model=found.model.key,
            settings=self.settings,
            placement=self.placement,
            clock=self.clock,
            scan_timeout_s=10.0,
            reconnect=self.reconnect,
            on_block=lambda b: conn_box[0].on_block(b),
            **kwargs,
        )
        conn = Connection(key, found, session)
        conn.status = replace(conn.status, simulated=self.air is not None)
        conn_box.append(conn)
        self.connections[key] = conn
        self.status.emit(conn.status)
        self.submit(self._run_connection(conn))
        return key

    def request_disconnect(self, key: str) -> None:
        conn = self.connections.get(key)
        if conn is not None and conn.task is not None:
            self.call_soon(conn.task.cancel)

    def request_drop(self, key: str) -> None:
        """Simulated sensors only: make the radio link drop now (demo of a lost sensor)."""
        conn = self.connections.get(key)
        if conn is None or self.air is None:
            return
        peer = self.air.lookup(conn.found.address)
        if peer is not None:
            self.call_soon(peer.drop_link)

    # -- the connection task --------------------------------------------------------------

    async def _run_connection(self, conn: Connection) -> None:
        conn.task = asyncio.current_task()
        monitor = asyncio.create_task(self._monitor(conn))
        state, message = "stopped", "disconnected"
        try:
            result = await conn.session.run(None)
            message = f"stopped; recording in {result.out}"
        except asyncio.CancelledError:
            message = "disconnected"
        except BalanceMonError as exc:
            state, message = "lost", str(exc)
        except Exception as exc:  # pragma: no cover - a bug or a radio stack failure
            log.exception("stream session failed")
            state, message = "error", f"{type(exc).__name__}: {exc}"
        finally:
            monitor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await monitor
        self._publish(conn, state=state, message=message)
        if state in ("lost", "error"):
            self.error.emit(f"{conn.status.name}: {message}")

    async def _monitor(self, conn: Connection) -> None:
        """Turn the session's counters into :class:`DeviceStatus` snapshots."""
        announced = False
        last_emit = -1.0
        while True:
            await asyncio.sleep(STATUS_INTERVAL_S * self.clock.speed)
            proc = conn.session.processor
            if proc is None:
                continue
            if conn.t0_ns is None:
                conn.t0_ns = int(proc.header["t0_ns"])
            st = proc.stats
            if proc.config is not None and conn.fs_hz is None:
                conn.fs_hz = proc.config.rate_hz
                conn.has_gyro = bool(proc.config.gyro)
            if not announced and st.samples > 0:
                announced = True
                self.connected.emit(conn.key)
            conn._history.append((self.clock.now_s(), st.samples, st.lost_samples))
            if st.connected:
                state = "streaming" if st.samples > 0 else "connecting"
            elif st.disconnects > 0:
                state = "reconnecting"
            else:
                state = "connecting"
            now = time.monotonic()
            prev = conn.status
            if st.disconnects > prev.disconnects and state != "reconnecting":
                # dropped and back between two checks: the GUI must still hear of it
                self._publish(conn, state="reconnecting")
                prev = conn.status
            changed = (
                state != prev.state
                or st.battery != prev.battery
                or st.disconnects != prev.disconnects
                or st.reconnects != prev.reconnects
            )
            if changed or now - last_emit >= 0.5:
                last_emit = now
                self._publish(conn, state=state)

    def _publish(self, conn: Connection, *, state: str, message: str | None = None) -> None:
        proc = conn.session.processor
        st = proc.stats if proc is not None else None
        t_app = self.clock.now_s()
        kwargs: dict[str, Any] = {"state": state}
        if st is not None:
            window = [h for h in conn._history if t_app - h[0] <= 5.0]
            if len(window) < 2:
                window = list(conn._history)[-2:]
            rate = 0.0
            recent = 0.0
            if len(window) > 1 and window[-1][0] > window[0][0]:
                dt = window[-1][0] - window[0][0]
                got = window[-1][1] - window[0][1]
                lost = window[-1][2] - window[0][2]
                rate = got / dt
                recent = lost / (got + lost) if got + lost > 0 else 0.0
            kwargs.update(
                battery=dict(st.battery),
                samples=st.samples,
                rate_hz=rate,
                fs_hz=conn.fs_hz,
                lost_samples=st.lost_samples,
                loss_fraction=st.loss_fraction,
                recent_loss=recent,
                disconnects=st.disconnects,
                reconnects=st.reconnects,
                outage_s=st.outage_s,
                last_drop_s=_last_event(st.events, "disconnected"),
                last_reconnect_s=_last_event(st.events, "reconnected"),
            )
        if message is not None:
            kwargs["message"] = message
        elif state == "reconnecting":
            kwargs["message"] = "connection lost; reconnecting…"
        elif state == "streaming":
            kwargs["message"] = ""
        conn.status = replace(conn.status, **kwargs)
        self.status.emit(conn.status)

    # -- shutdown --------------------------------------------------------------------------

    def shutdown(self, timeout_s: float = 10.0) -> None:
        """Stop every session (files finalized) and the thread; blocks up to ``timeout_s``."""
        if not self._started or self._closing:
            return
        self._closing = True

        async def stop_all() -> None:
            tasks = [c.task for c in self.connections.values() if c.task and not c.task.done()]
            for t in tasks:
                t.cancel()
            if tasks:
                await asyncio.wait(tasks, timeout=timeout_s * self.clock.speed)

        fut = asyncio.run_coroutine_threadsafe(stop_all(), self._loop)
        with contextlib.suppress(Exception):
            fut.result(timeout_s)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout_s)


def _last_event(events: list[tuple[float, str]], prefix: str) -> float | None:
    """Stream time of the last session event starting with ``prefix``."""
    for t, what in reversed(events):
        if what.startswith(prefix):
            return float(t)
    return None
