"""The simulated peripheral: advertising, GATT, a sensor clock, paced notifications, faults.

A :class:`VirtualPeripheral` samples its signal on its own clock (which may
drift, ``FaultPlan.drift_ppm``), packs samples into notifications the way the
real device does (subclasses encode them with the device decoders' encoders),
and delivers them at Bluetooth LE connection events (every
``conn_interval_s``, at most ``max_per_event`` notifications per event, order
kept). All timing uses the running event loop's clock, so the same code runs
in real time or on the simulated time of
:class:`balance_mon.devices.clock.VirtualTimeLoop`.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from ...consts import GRAVITY_MPS2
from ...errors import SimulationError
from ...recording import Recording
from ._backend import ServiceSpec, VirtualBleakClient

__all__ = ["FaultPlan", "SignalSource", "SimLog", "VirtualPeripheral", "parse_faults"]

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class FaultPlan:
    """Faults a simulated sensor injects (all off by default; randomness seeded).

    Attributes
    ----------
    seed : int
        Seed of the fault generator (the same plan gives the same faults).
    loss : float
        Probability that a data notification is lost (never reaches the host).
    corrupt : float
        Probability that a data notification arrives damaged (its protocol
        header or length made invalid, so the decoder rejects it).
    disconnect_at_s : tuple of float
        Stream times (seconds after streaming first started) at which the link drops.
    down_s : float
        How long the sensor stays unreachable (not advertising) after a drop.
    burst_every_s, burst_s : float
        Bursty delivery: every ``burst_every_s`` the link stalls for ``burst_s``,
        then the backlog arrives at up to ``max_per_event`` per connection event.
    late_ms : float
        Late delivery: each notification waits an extra exponential delay of this
        mean (ms) before its connection event; order is kept, as on a real link.
    drift_ppm : float
        The sensor clock runs fast by this many parts per million (negative: slow).
    """

    seed: int = 0
    loss: float = 0.0
    corrupt: float = 0.0
    disconnect_at_s: tuple[float, ...] = ()
    down_s: float = 1.0
    burst_every_s: float = 0.0
    burst_s: float = 0.0
    late_ms: float = 0.0
    drift_ppm: float = 0.0

    def __post_init__(self) -> None:
        for name in ("loss", "corrupt"):
            v = getattr(self, name)
            if not 0.0 <= v < 1.0:
                raise SimulationError(f"fault {name} must be a probability in [0, 1), got {v}")
        for name in ("down_s", "burst_every_s", "burst_s", "late_ms"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v >= 0):
                raise SimulationError(f"fault {name} must be a non-negative number, got {v}")
        if self.burst_s and self.burst_s >= self.burst_every_s:
            raise SimulationError(
                f"fault burst: the stall ({self.burst_s} s) must be shorter than its period "
                f"({self.burst_every_s} s)"
            )
        if not (math.isfinite(self.drift_ppm) and abs(self.drift_ppm) < 100_000):
            raise SimulationError(f"fault drift must be within +/-100000 ppm, got {self.drift_ppm}")
        if any(not (math.isfinite(t) and t >= 0) for t in self.disconnect_at_s):
            raise SimulationError("fault disconnect times must be non-negative seconds")

    def describe(self) -> str:
        parts = []
        for name, default in (
            ("loss", 0.0),
            ("corrupt", 0.0),
            ("late_ms", 0.0),
            ("drift_ppm", 0.0),
        ):
            v = getattr(self, name)
            if v != default:
                parts.append(f"{name}={v:g}")
        if self.disconnect_at_s:
            times = "+".join(f"{t:g}" for t in self.disconnect_at_s)
            parts.append(f"disconnect={times} down={self.down_s:g}")
        if self.burst_s:
            parts.append(f"burst={self.burst_every_s:g}:{self.burst_s:g}")
        if parts:
            parts.append(f"seed={self.seed}")
        return " ".join(parts) or "none"


_FAULT_HELP = (
    "loss=P, corrupt=P, disconnect=S[+S...], down=S, burst=EVERY:STALL, late=MS, drift=PPM, seed=N"
)


def parse_faults(specs: list[str] | tuple[str, ...]) -> FaultPlan:
    """A :class:`FaultPlan` from ``KEY=VALUE`` texts (comma-separated or repeated).

    Keys: ``loss``, ``corrupt`` (probabilities), ``disconnect`` (seconds, several
    joined by ``+``), ``down`` (s), ``burst`` (``EVERY:STALL`` seconds), ``late``
    (ms), ``drift`` (ppm), ``seed``.
    """
    kw: dict[str, object] = {}
    for spec in specs:
        for item in spec.split(","):
            item = item.strip()
            if not item:
                continue
            key, sep, value = item.partition("=")
            key = key.strip().lower()
            if not sep:
                raise SimulationError(f"fault {item!r} needs a value ({_FAULT_HELP})")
            known = ("loss", "corrupt", "disconnect", "down", "burst", "late", "drift", "seed")
            if key not in known:
                raise SimulationError(f"unknown fault {key!r}; use {_FAULT_HELP}")
            try:
                if key in ("loss", "corrupt"):
                    kw[key] = float(value)
                elif key == "disconnect":
                    kw["disconnect_at_s"] = tuple(float(v) for v in value.split("+"))
                elif key == "down":
                    kw["down_s"] = float(value)
                elif key == "burst":
                    every, _, stall = value.partition(":")
                    kw["burst_every_s"] = float(every)
                    kw["burst_s"] = float(stall or 0.3)
                elif key == "late":
                    kw["late_ms"] = float(value.removesuffix("ms"))
                elif key == "drift":
                    kw["drift_ppm"] = float(value.removesuffix("ppm"))
                else:
                    kw["seed"] = int(value)
            except ValueError:
                raise SimulationError(f"fault {item!r}: {value!r} is not a number") from None
    return FaultPlan(**kw)  # type: ignore[arg-type]


@dataclass
class SimLog:
    """What a simulated sensor did (for tests and the bench; the host never sees it)."""

    packets_sent: int = 0
    samples_sent: int = 0
    packets_lost: int = 0
    samples_lost: int = 0
    packets_corrupted: int = 0
    samples_corrupted: int = 0
    disconnects: list[float] = field(default_factory=list)  #: stream times of link drops
    connections: int = 0


class SignalSource:
    """What the simulated sensor measures: a recording, or a synthetic standing subject.

    Parameters
    ----------
    recording : Recording, optional
        Played back (resampled by linear interpolation onto the sensor's sample
        grid, looped when shorter than the session).
    seed : int
        Phases and frequencies of the synthetic signal.
    up_axis, up_sign : int
        Sensor axis (0, 1, 2 for x, y, z) and sign that point up in the synthetic signal.
    """

    def __init__(
        self,
        recording: Recording | None = None,
        *,
        seed: int = 0,
        up_axis: int = 2,
        up_sign: int = 1,
    ) -> None:
        self.recording = recording
        rng = np.random.default_rng(seed)
        # postural sway: a few slow components per axis (0.1-1.5 Hz), body tremor and
        # sensor noise as faster, smaller ones; amplitudes in m/s^2 and deg/s
        self._freq = rng.uniform(0.1, 1.5, size=(3, 6))
        self._phase = rng.uniform(0, 2 * np.pi, size=(3, 6))
        self._amp = rng.uniform(0.02, 0.08, size=(3, 6))
        self._hf_freq = rng.uniform(4.0, 12.0, size=(3, 3))
        self._hf_phase = rng.uniform(0, 2 * np.pi, size=(3, 3))
        self._gyr_phase = rng.uniform(0, 2 * np.pi, size=(3, 6))
        self.up_axis = up_axis
        self.up_sign = up_sign

    def block(self, k0: int, n: int, fs_hz: float) -> tuple[FloatArray, FloatArray]:
        """Acceleration (m/s^2) and angular rate (deg/s), (n, 3) each, of samples k0..k0+n-1."""
        t = (k0 + np.arange(n, dtype=np.float64)) / fs_hz
        rec = self.recording
        if rec is not None:
            # the recording loops: its last sample is followed, one interval later, by its first
            tr = rec.time_s - rec.time_s[0]
            period = float(tr[-1]) * rec.n_samples / (rec.n_samples - 1)

            def play(x: FloatArray) -> FloatArray:
                return np.column_stack([np.interp(t, tr, x[:, i], period=period) for i in range(3)])

            acc = play(rec.acc_mps2)
            gyr = play(rec.gyr_dps) if rec.gyr_dps is not None else np.zeros((n, 3))
            return acc, gyr
        arg = 2 * np.pi * self._freq[None] * t[:, None, None] + self._phase[None]
        acc = (self._amp[None] * np.sin(arg)).sum(axis=2)
        hf = 2 * np.pi * self._hf_freq[None] * t[:, None, None] + self._hf_phase[None]
        acc += 0.01 * np.sin(hf).sum(axis=2)
        acc[:, self.up_axis] += self.up_sign * GRAVITY_MPS2
        garg = 2 * np.pi * self._freq[None] * t[:, None, None] + self._gyr_phase[None]
        gyr = (10.0 * self._amp[None] * np.sin(garg)).sum(axis=2)
        return acc, gyr


class VirtualPeripheral:
    """Base of the simulated sensors (see the module docstring).

    Subclasses define the GATT table (:meth:`gatt`), the answers to reads and
    writes, and how samples become notification bytes (:meth:`encode`).

    Parameters
    ----------
    name, address : str, optional
        Advertised name and Bluetooth address (defaults derived from ``seed``).
    source : Recording, optional
        Signal to send (else a synthetic standing signal).
    faults : FaultPlan, optional
        Faults to inject.
    seed : int
        Seeds the connection timing (connection-event phase, response delays)
        and the synthetic signal.
    """

    model: str = ""
    mtu: int = 247
    conn_interval_s: float = 0.015
    max_per_event: int = 6
    connect_delay_s: float = 0.12
    advertised_uuids: tuple[str, ...] = ()
    manufacturer_data: dict[int, bytes] = {}  # noqa: RUF012
    up_axis: int = 2
    up_sign: int = 1

    def __init__(
        self,
        *,
        name: str | None = None,
        address: str | None = None,
        source: Recording | None = None,
        faults: FaultPlan | None = None,
        seed: int = 0,
    ) -> None:
        rng = np.random.default_rng(seed)
        suffix = rng.integers(0, 2**32)
        self.address = address or "C0:DE:" + ":".join(
            f"{b:02X}" for b in int(suffix).to_bytes(4, "big")
        )
        self.name = name or self.default_name(int(suffix))
        self.faults = faults or FaultPlan()
        self.signal = SignalSource(source, seed=seed, up_axis=self.up_axis, up_sign=self.up_sign)
        self.log = SimLog()
        self.battery_pct = 87
        self._rng = np.random.default_rng([seed, 1])
        self._fault_rng = np.random.default_rng([self.faults.seed, 2])
        self._client: VirtualBleakClient | None = None
        self._down_until = -math.inf
        self._t_on: float | None = None
        self._first_stream_s: float | None = None
        self._stream_task: asyncio.Task[None] | None = None
        self._timers: list[asyncio.TimerHandle] = []
        self._ind_last = -math.inf
        #: sensor clock at power-on, ns (subclasses set their epoch)
        self.clock0_ns = 0

    # -- to override ---------------------------------------------------------------

    def default_name(self, suffix: int) -> str:
        return f"Virtual {suffix:08X}"

    def gatt(self) -> list[ServiceSpec]:
        raise NotImplementedError

    def on_read(self, uuid: str) -> bytes:
        from bleak.exc import BleakGATTProtocolError

        raise BleakGATTProtocolError(0x02)

    def on_write(self, uuid: str, data: bytes) -> None:
        from bleak.exc import BleakGATTProtocolError

        raise BleakGATTProtocolError(0x03)

    def on_subscribe(self, uuid: str, enabled: bool) -> None:
        return None

    def on_disconnect(self) -> None:
        """The link is gone (dropped or closed): forget per-connection state."""
        return None

    def samples_per_packet(self, rate_hz: float) -> int:
        return 1

    def encode(
        self, k0: int, acc_mps2: FloatArray, gyr_dps: FloatArray, rate_hz: float
    ) -> list[bytes]:
        """Notifications carrying samples ``k0 ..`` (one, usually)."""
        raise NotImplementedError

    def corrupt(self, data: bytes, rng: np.random.Generator) -> bytes:
        """A damaged copy of ``data`` that the protocol's decoder must reject."""
        return data[: int(rng.integers(1, max(len(data) // 2, 2)))]

    @property
    def data_uuid(self) -> str:
        raise NotImplementedError

    # -- used by the backend ---------------------------------------------------------

    def _now(self) -> float:
        now = asyncio.get_running_loop().time()
        if self._t_on is None:
            self._t_on = now
        return now

    @property
    def reachable(self) -> bool:
        return self._now() >= self._down_until

    @property
    def advertising(self) -> bool:
        return self._client is None and self.reachable

    def rssi(self) -> int:
        return int(-58 - self._rng.integers(0, 12))

    def att_delay_s(self) -> float:
        """A request's round trip: the next connection event or the one after."""
        ci = self.conn_interval_s
        return ci * (1.0 + float(self._rng.random()))

    def attach(self, client: VirtualBleakClient) -> None:
        if self._client is not None:
            raise RuntimeError(f"{self.name} is already connected")  # a real device refuses
        self._now()
        self._client = client
        self.log.connections += 1

    def detach(self, client: VirtualBleakClient) -> None:
        if self._client is client:
            self._close_link()

    def _close_link(self) -> None:
        self.stop_stream()
        self._client = None
        self.on_disconnect()

    def drop_link(self) -> None:
        """The link drops (radio lost): the client hears of it, the sensor goes quiet."""
        client = self._client
        if client is None:
            return
        now = self._now()
        self.log.disconnects.append(now - (self._first_stream_s or now))
        self._down_until = now + self.faults.down_s
        self._close_link()
        client.link_lost()

    # -- helpers for subclasses ------------------------------------------------------

    def subscribed(self, uuid: str) -> bool:
        return self._client is not None and self._client.subscribed(uuid)

    def indicate(self, uuid: str, data: bytes) -> None:
        """Send an indication at one of the next connection events (in order)."""
        loop = asyncio.get_running_loop()
        when = max(self._now() + self.att_delay_s(), self._ind_last + 1e-4)
        self._ind_last = when
        client = self._client

        def send() -> None:
            if self._client is client and client is not None:
                client.deliver(uuid, data)

        self._timers.append(loop.call_at(when, send))

    def sample_host_time(self, k: int, rate_hz: float) -> float:
        """Loop time at which sample ``k`` (counted from power-on) is taken."""
        assert self._t_on is not None
        return self._t_on + k / (rate_hz * (1.0 + self.faults.drift_ppm * 1e-6))

    def device_time_ns(self, k: int, rate_hz: float) -> int:
        """The sensor clock's reading at sample ``k``."""
        return self.clock0_ns + round(k * 1e9 / rate_hz)

    @property
    def streaming(self) -> bool:
        return self._stream_task is not None

    def start_stream(self, rate_hz: float) -> None:
        if self._stream_task is not None:
            return
        now = self._now()
        if self._first_stream_s is None:
            self._first_stream_s = now
            loop = asyncio.get_running_loop()
            for t in self.faults.disconnect_at_s:
                self._timers.append(loop.call_at(now + t, self.drop_link))
        self._stream_task = asyncio.get_running_loop().create_task(self._stream(rate_hz))

    def stop_stream(self) -> None:
        task, self._stream_task = self._stream_task, None
        if task is not None:
            task.cancel()

    # -- the streaming engine ------------------------------------------------------------

    def _next_event(self, t: float, phase: float) -> float:
        """First connection event at or after ``t``."""
        ci = self.conn_interval_s
        return phase + math.ceil((t - phase) / ci - 1e-9) * ci

    def _stalled_until(self, t: float) -> float | None:
        f = self.faults
        if not f.burst_s or self._first_stream_s is None:
            return None
        since = t - self._first_stream_s
        m = math.floor(since / f.burst_every_s)
        start = self._first_stream_s + m * f.burst_every_s
        if m >= 1 and start <= t < start + f.burst_s:
            return start + f.burst_s
        return None

    async def _stream(self, rate_hz: float) -> None:
        loop = asyncio.get_running_loop()
        f = self.faults
        spp = self.samples_per_packet(rate_hz)
        assert self._t_on is not None
        start = loop.time()
        speed = rate_hz * (1.0 + f.drift_ppm * 1e-6)
        k = math.floor((start - self._t_on) * speed) + 1
        phase = self._t_on + float(self._rng.uniform(0, self.conn_interval_s))
        tx: deque[tuple[float, bytes]] = deque()
        last_nb = -math.inf
        client = self._client
        send: Callable[[str, bytes], None] = client.deliver if client else (lambda u, d: None)
        uuid = self.data_uuid
        while True:
            now = loop.time()
            while self.sample_host_time(k + spp - 1, rate_hz) <= now:
                ready = self.sample_host_time(k + spp - 1, rate_hz)
                acc, gyr = self.signal.block(k, spp, rate_hz)
                for data in self.encode(k, acc, gyr, rate_hz):
                    if f.loss and self._fault_rng.random() < f.loss:
                        self.log.packets_lost += 1
                        self.log.samples_lost += spp
                        continue
                    if f.corrupt and self._fault_rng.random() < f.corrupt:
                        data = self.corrupt(data, self._fault_rng)
                        self.log.packets_corrupted += 1
                        self.log.samples_corrupted += spp
                    nb = ready
                    if f.late_ms:
                        nb += float(self._fault_rng.exponential(f.late_ms * 1e-3))
                    nb = max(nb, last_nb)
                    last_nb = nb
                    tx.append((nb, data))
                k += spp
            stall = self._stalled_until(now)
            if stall is None:
                sent = 0
                while tx and tx[0][0] <= now and sent < self.max_per_event:
                    _, data = tx.popleft()
                    self.log.packets_sent += 1
                    self.log.samples_sent += spp
                    send(uuid, data)
                    sent += 1
                    if self._stream_task is None:  # the callback stopped us
                        return
            # sleep until the connection event at which something can happen
            nxt = self.sample_host_time(k + spp - 1, rate_hz)
            if tx:
                nxt = min(nxt, max(tx[0][0], now + 1e-6))
            if stall is not None:
                nxt = max(nxt, stall)
            wake = self._next_event(max(nxt, now + 1e-6), phase)
            await asyncio.sleep(max(wake - loop.time(), 0.0))
