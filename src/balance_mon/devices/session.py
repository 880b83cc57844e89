"""Live streaming from a Bluetooth LE sensor to disk, with reconnection.

Architecture (docs/streaming.md has the long version)::

    bleak callback --(host receive time, bytes)--> asyncio.Queue --> consumer task
        stamp + enqueue only                                       |- capture file (raw)
    session task: scan, connect, handshake,                        |- StreamProcessor
        battery, reconnect --(session events)--> same queue        |    decode, align,
                                                                   |    count losses
                                                                   |- CSV v1 (flushed 4x/s,
                                                                        fsynced every 1 s)

- :func:`scan` lists the supported sensors in range; :func:`find_device` finds one
  by address or name.
- :class:`StreamSession` runs one recording: it scans, connects (a fresh
  :class:`bleak.BleakClient` on the ``BLEDevice``, with timeouts), runs the
  model's handshake, reads the battery, streams, and after a drop re-scans and
  reconnects with exponential back-off until ``ReconnectPolicy.give_up_after_s``.
- Everything the recording holds is computed by :class:`StreamProcessor` from
  the sequence of queue items alone (notifications with their receive times,
  session events), which is exactly what the capture file stores:
  :func:`replay_capture` feeds a capture through the same processor and writes
  the same bytes.

The same code drives real sensors and the simulated ones of
:mod:`balance_mon.devices.virtual` (bleak's ``backend=`` argument); host time
comes from a :class:`balance_mon.devices.clock.Clock`, so simulated sessions
may run on simulated time.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as _dt
import logging
import math
import os
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .. import __version__
from ..errors import BalanceMonError, DecodeError, DeviceError, HandshakeError, RecordingError
from ..io.capture import CaptureRecord, CaptureWriter, iter_capture
from ..io.csv_v1 import CsvWriter, read_csv_v1, write_csv_v1
from .clock import Clock, HostTimeMapper, clock_for_loop
from .frames import SampleBatch
from .models import DeviceModel, StreamCodec, StreamConfig, StreamSettings, get_model, identify

__all__ = [
    "FoundDevice",
    "Link",
    "ReconnectPolicy",
    "SampleBlock",
    "SessionResult",
    "SessionStatus",
    "StreamProcessor",
    "StreamSession",
    "StreamStats",
    "find_device",
    "replay_capture",
    "scan",
]

log = logging.getLogger(__name__)

FloatArray = NDArray[np.float64]

#: Seconds between writes of received samples to the output (a killed process
#: loses at most this much, plus what is still in the queue).
FLUSH_INTERVAL_S = 0.25
#: Seconds between fsyncs (a power cut loses at most about this much).
SYNC_INTERVAL_S = 1.0
#: Seconds between battery reads while streaming.
BATTERY_INTERVAL_S = 60.0


class _TransientError(DeviceError):
    """A connection attempt failed in a way a later attempt may not (timeouts, radio)."""


# ---------------------------------------------------------------------------
# scanning
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class FoundDevice:
    """A supported sensor seen advertising."""

    address: str
    name: str | None
    rssi: int
    model: DeviceModel
    device: Any  #: the bleak BLEDevice (pass it to BleakClient, never the address)

    def describe(self) -> str:
        return f"{self.name or '(no name)'} ({self.address})"


def _scanner_kwargs(backend: type | None) -> dict[str, Any]:
    return {} if backend is None else {"backend": backend}


async def scan(timeout_s: float = 5.0, *, scanner_backend: type | None = None) -> list[FoundDevice]:
    """Supported sensors advertising within ``timeout_s``, strongest signal first."""
    from bleak import BleakScanner
    from bleak.exc import BleakError

    try:
        found = await BleakScanner.discover(
            timeout=timeout_s, return_adv=True, **_scanner_kwargs(scanner_backend)
        )
    except (BleakError, OSError) as exc:
        raise _radio_error(exc) from None
    out = []
    for dev, adv in found.values():
        name = adv.local_name or dev.name
        model = identify(name, adv.service_uuids)
        if model is not None:
            out.append(FoundDevice(dev.address, name, int(adv.rssi), model, dev))
    out.sort(key=lambda f: -f.rssi)
    return out


def _radio_error(exc: BaseException) -> DeviceError:
    text = str(exc) or type(exc).__name__
    if isinstance(exc, OSError) and not getattr(exc, "filename", None):
        text += " (is Bluetooth switched on and its system service running? Linux: BlueZ, D-Bus)"
    return DeviceError(f"cannot scan for Bluetooth devices: {text}")


def _matches(target: str, address: str, name: str | None) -> bool:
    t = target.strip().lower()
    return address.lower() == t or (name is not None and (name.lower() == t or t in name.lower()))


async def find_device(
    target: str,
    *,
    timeout_s: float = 10.0,
    model: DeviceModel | None = None,
    scanner_backend: type | None = None,
) -> FoundDevice | None:
    """The first advertising sensor whose address or name matches ``target``.

    ``target`` is an address (``AA:BB:...``, or a UUID on macOS), a full name,
    or part of a name (``"H10"``). Only supported models are considered unless
    ``model`` is given, in which case any device matching ``target`` is taken
    to be that model.
    """
    from bleak import BleakScanner
    from bleak.exc import BleakError

    hit: dict[str, Any] = {}

    def accept(dev: Any, adv: Any) -> bool:
        name = adv.local_name or dev.name
        if not _matches(target, dev.address, name):
            return False
        m = model or identify(name, adv.service_uuids)
        if m is None:
            return False
        hit.update(name=name, rssi=int(adv.rssi), model=m)
        return True

    try:
        dev = await BleakScanner.find_device_by_filter(
            accept, timeout=timeout_s, **_scanner_kwargs(scanner_backend)
        )
    except (BleakError, OSError) as exc:
        raise _radio_error(exc) from None
    if dev is None:
        return None
    return FoundDevice(dev.address, hit["name"], hit["rssi"], hit["model"], dev)


# ---------------------------------------------------------------------------
# the link a handshake talks through
# ---------------------------------------------------------------------------

#: Queue items: ("N", t_ns, uuid, bytes) or ("E", t_ns, {event fields}) or _STOP.
_STOP = ("STOP",)


class Link:
    """One connection as the model handshakes see it (wraps a connected BleakClient).

    The notification callback does nothing but stamp the host receive time and
    enqueue ``(t, uuid, bytes)``; the consumer task hands answers to
    :meth:`request` / :meth:`wait_indication` waiters after writing them to the
    capture, so handshake traffic is recorded like everything else.
    """

    def __init__(self, client: Any, queue: asyncio.Queue, clock: Clock, waiters: list) -> None:  # type: ignore[type-arg]
        self.client = client
        self._q = queue
        self._now = clock.now_ns
        self._waiters = waiters
        self.name: str = client.name
        self.address: str = client.address
        #: event-loop time of the ``started`` event (the stream's first moment)
        self.started_at: float | None = None

    # -- the bleak callback: stamp and enqueue, nothing else ---------------------------

    def _callback(self, char: Any, data: bytearray) -> None:
        self._q.put_nowait(("N", self._now(), char.uuid, bytes(data)))

    # -- helpers ------------------------------------------------------------------------

    def event(self, name: str, **fields: Any) -> None:
        """Record a session event now (goes through the queue, in order with notifications)."""
        self._q.put_nowait(("E", self._now(), {"event": name, **fields}))
        if name == "started":
            self.started_at = asyncio.get_running_loop().time()

    def has(self, uuid: str) -> bool:
        try:
            return self.client.services.get_characteristic(uuid) is not None
        except Exception:
            return False

    def _bleak_error(self, what: str, exc: Exception) -> DeviceError:
        from bleak.exc import BleakGATTProtocolError

        text = str(exc) or type(exc).__name__
        if isinstance(exc, BleakGATTProtocolError):
            return HandshakeError(f"{self.name}: {what} failed ({text})")
        return _TransientError(f"{self.name}: {what} failed ({text})")

    async def subscribe(self, uuid: str) -> None:
        if not self.has(uuid):
            raise HandshakeError(
                f"{self.name} has no characteristic {uuid}; is it really this sensor model?"
            )
        try:
            await self.client.start_notify(uuid, self._callback)
        except Exception as exc:
            raise self._bleak_error(f"enabling notifications on {uuid}", exc) from None

    async def read(self, uuid: str) -> bytes:
        try:
            return bytes(await self.client.read_gatt_char(uuid))
        except Exception as exc:
            raise self._bleak_error(f"reading {uuid}", exc) from None

    async def write(self, uuid: str, data: bytes, *, response: bool | None = None) -> None:
        if response is None:
            char = self.client.services.get_characteristic(uuid)
            response = char is not None and "write" in char.properties
        try:
            await self.client.write_gatt_char(uuid, data, response=response)
        except Exception as exc:
            raise self._bleak_error(f"writing {data.hex(' ')} to {uuid}", exc) from None

    async def wait_indication(
        self, uuid: str, match: Callable[[bytes], bool], *, timeout_s: float = 5.0
    ) -> bytes:
        fut: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        entry = (uuid, match, fut)
        self._waiters.append(entry)
        try:
            async with asyncio.timeout(timeout_s):
                return await fut
        except TimeoutError:
            raise _TransientError(f"{self.name} did not answer within {timeout_s:g} s") from None
        finally:
            with contextlib.suppress(ValueError):
                self._waiters.remove(entry)

    async def request(
        self,
        write_uuid: str,
        data: bytes,
        resp_uuid: str,
        match: Callable[[bytes], bool],
        *,
        timeout_s: float = 5.0,
    ) -> bytes:
        """Write a command and wait for the notification/indication that answers it."""
        fut: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        entry = (resp_uuid, match, fut)
        self._waiters.append(entry)
        try:
            await self.write(write_uuid, data)
            async with asyncio.timeout(timeout_s):
                return await fut
        except TimeoutError:
            raise _TransientError(
                f"{self.name} did not answer the command {data.hex(' ')} within {timeout_s:g} s"
            ) from None
        finally:
            with contextlib.suppress(ValueError):
                self._waiters.remove(entry)


def _dispatch(waiters: list, uuid: str, data: bytes) -> None:  # type: ignore[type-arg]
    for w_uuid, match, fut in list(waiters):
        if w_uuid == uuid and not fut.done():
            try:
                ok = match(data)
            except Exception:
                ok = False
            if ok:
                fut.set_result(data)
                return


# ---------------------------------------------------------------------------
# the processor: a pure function of the capture
# ---------------------------------------------------------------------------


@dataclass
class SampleBlock:
    """Samples handed to analysis: host times (s since session start), SI values."""

    time_s: FloatArray
    acc_mps2: FloatArray
    gyr_dps: FloatArray | None
    rx_ns: int  #: host receive time of the notification that carried them


@dataclass
class StreamStats:
    """Counters of one session (progress display, metadata, tests)."""

    samples: int = 0
    notifications: int = 0
    lost_packets: int = 0  #: sequence or timestamp gaps (incl. rejected notifications)
    lost_samples: int = 0  #: samples missing inside connections
    rejected_packets: int = 0  #: malformed notifications (DecodeError)
    resyncs: int = 0  #: protocols without framing errors: times garbage was skipped
    samples_before_start: int = 0
    disconnects: int = 0
    reconnects: int = 0
    outage_s: float = 0.0  #: time without data between connections
    outage_samples: int = 0
    battery: dict[str, Any] = field(default_factory=dict)
    events: list[tuple[float, str]] = field(default_factory=list)
    connected: bool = False
    gave_up: bool = False

    @property
    def loss_fraction(self) -> float:
        total = self.samples + self.lost_samples
        return self.lost_samples / total if total else 0.0


class CsvSink:
    """Where the processor's samples go: CSV v1, written continuously.

    The file is created on the first samples; :meth:`append` buffers,
    :meth:`flush` writes the buffer (called every :data:`FLUSH_INTERVAL_S` by
    the live session), :meth:`sync` fsyncs (every :data:`SYNC_INTERVAL_S`).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._writer: CsvWriter | None = None
        self._pending: list[tuple[FloatArray, FloatArray, FloatArray | None]] = []
        self._sync_fd: int | None = None
        self.opened = False

    def open(
        self, *, fs_hz: float, with_gyro: bool, placement: str, metadata: dict[str, str]
    ) -> None:
        self._writer = CsvWriter(
            self.path,
            fs_nominal_hz=fs_hz,
            placement=placement,
            metadata=metadata,
            with_gyro=with_gyro,
        )
        self._sync_fd = os.open(self.path, os.O_WRONLY | getattr(os, "O_BINARY", 0))
        self.opened = True

    def append(self, t: FloatArray, acc: FloatArray, gyr: FloatArray | None) -> None:
        self._pending.append((t, acc, gyr))

    def flush(self) -> None:
        if not self._pending or self._writer is None:
            return
        t = np.concatenate([p[0] for p in self._pending])
        acc = np.concatenate([p[1] for p in self._pending])
        gyr = None
        if self._pending[0][2] is not None:
            gyr = np.concatenate([p[2] for p in self._pending])  # type: ignore[misc]
        self._pending.clear()
        self._writer.append(t, acc, gyr)

    def sync_fd(self) -> int | None:
        return self._sync_fd

    def close(self) -> None:
        self.flush()
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self._sync_fd is not None:
            os.close(self._sync_fd)
            self._sync_fd = None


def _iso_utc(unix_ns: int) -> str:
    t = _dt.datetime.fromtimestamp(unix_ns // 1_000_000_000, tz=_dt.UTC)
    t = t.replace(microsecond=(unix_ns // 1000) % 1_000_000)
    return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class StreamProcessor:
    """Turn the ordered stream of capture records into aligned samples on disk.

    Pure: the output depends only on the header and the records fed (never
    on the wall clock or on how records are batched), so :func:`replay_capture`
    reproduces a live recording byte for byte.

    Rules: a ``configured`` event starts a connection segment with a fresh
    codec (decoder state never crosses a reconnection); samples are recorded
    only once the codec knows the stream ``started``; a ``disconnected`` event
    ends the segment. Sample times come from :class:`HostTimeMapper` (sensor
    clock aligned to the host receive times, or receive times and nominal
    rate), in seconds since the header's ``t0_ns``, rounded to the microsecond.
    """

    def __init__(
        self,
        header: dict[str, Any],
        sink: CsvSink,
        *,
        on_block: Callable[[SampleBlock], None] | None = None,
    ) -> None:
        self.header = header
        self.model = get_model(header["model"])
        self.t0_ns = int(header["t0_ns"])
        self.sink = sink
        self.on_block = on_block
        self.stats = StreamStats()
        self.config: StreamConfig | None = None
        self._codec: StreamCodec | None = None
        self._mapper: HostTimeMapper | None = None
        self._seg_last_dev: float | None = None
        self._seg_first = False
        self._last_t = -math.inf
        self._inserted = 0
        self._rejected_codec = 0
        self._resync_base = 0
        self.sensor_stopped = False
        self._awaiting_reconnect = False
        self._token = -1
        self._held: dict[int, tuple[SampleBatch, int]] = {}
        self.last_rx_ns: int | None = None

    def _rel_s(self, t_ns: int) -> float:
        return (t_ns - self.t0_ns) / 1e9

    def _note(self, t_ns: int, what: str) -> None:
        self.stats.events.append((round(self._rel_s(t_ns), 3), what))

    def feed(self, rec: CaptureRecord) -> None:
        if rec.kind == "E":
            self._event(rec.t_ns, rec.event or {})
        else:
            self._notification(rec.t_ns, rec.uuid or "", rec.data or b"")

    # -- events ------------------------------------------------------------------

    def _event(self, t_ns: int, ev: dict[str, Any]) -> None:
        name = ev.get("event")
        st = self.stats
        if name == "configured":
            cfg = StreamConfig.from_event(ev)
            if self.config is None:
                self.config = cfg
                self._mapper = HostTimeMapper(fs_hz=cfg.rate_hz)
            elif cfg.rate_hz != self.config.rate_hz:
                raise DeviceError(
                    f"{self.header.get('device_name')}: the rate changed from "
                    f"{self.config.rate_hz:g} to {cfg.rate_hz:g} Hz on reconnection"
                )
            self._close_codec()
            self._release(new_segment=self.model.time_source == "host")
            self._codec = self.model.codec(cfg)
            self._seg_last_dev = None
            self._seg_first = True
        elif name == "started":
            if self._codec is not None:
                self._codec.started = True
            if self._awaiting_reconnect:
                self._awaiting_reconnect = False
                st.reconnects += 1
                self._note(t_ns, "reconnected")
        elif name == "connected":
            st.connected = True
        elif name == "disconnected":
            st.connected = False
            st.disconnects += 1
            self._awaiting_reconnect = True
            self._note(t_ns, "disconnected" + (f" ({ev['reason']})" if ev.get("reason") else ""))
            self._close_codec()
            self._release()
        elif name == "battery":
            st.battery = {k: v for k, v in ev.items() if k != "event"}
        elif name == "gave_up":
            st.gave_up = True
            self._note(t_ns, "gave up reconnecting")
        elif name == "stop":
            self._note(t_ns, "stop" + (f" ({ev['reason']})" if ev.get("reason") else ""))
            self._close_codec()
            self._release()

    def _close_codec(self) -> None:
        c = self._codec
        if c is not None:
            self._resync_base += c.resyncs
            self._codec = None

    # -- notifications -------------------------------------------------------------

    def _notification(self, t_ns: int, uuid: str, data: bytes) -> None:
        codec = self._codec
        if codec is None:
            return
        st = self.stats
        if uuid == self.model.data_uuid:
            st.notifications += 1
        try:
            batches = codec.feed(uuid, data)
        except DecodeError:
            st.rejected_packets += 1
            return
        st.resyncs = self._resync_base + codec.resyncs
        if codec.stopped_by_sensor and not self.sensor_stopped:
            self.sensor_stopped = True
            self._note(t_ns, "sensor stopped the measurement")
        if not batches:
            return
        if not codec.started:
            st.samples_before_start += sum(b.n_samples for b in batches)
            return
        assert self.config is not None and self._mapper is not None
        fs = self.config.rate_hz
        rx_s = self._rel_s(t_ns)
        self.last_rx_ns = t_ns
        for b in batches:
            n = b.n_samples
            if n == 0:
                continue
            st.lost_packets += int(b.lost_packets)
            dev = b.device_time_s
            if dev is not None and self._seg_last_dev is not None:
                missing = int(round((float(dev[0]) - self._seg_last_dev) * fs)) - 1
                if missing > 0:
                    st.lost_samples += missing
            if dev is not None:
                self._seg_last_dev = float(dev[-1])
            self._token += 1
            self._held[self._token] = (b, t_ns)
            self._emit_all(self._mapper.map(rx_s, n, dev))

    def finish(self) -> None:
        """End of the records: place whatever is still held back."""
        self._release()

    def _release(self, new_segment: bool = False) -> None:
        """Place what the mapper holds back (end of a connection)."""
        if self._mapper is None:
            return
        self._emit_all(self._mapper.new_segment() if new_segment else self._mapper.release())

    def _emit_all(self, placed: list[tuple[int, FloatArray]]) -> None:
        assert self._mapper is not None
        inserted = self._mapper.inserted_gap_samples_
        if inserted != self._inserted:
            self.stats.lost_samples += inserted - self._inserted
            self._inserted = inserted
        for token, t in placed:
            b, t_ns = self._held.pop(token)
            self._emit(b, t, t_ns)

    def _emit(self, b: SampleBatch, t: FloatArray, t_ns: int) -> None:
        st = self.stats
        assert self.config is not None
        fs = self.config.rate_hz
        t = np.round(t, 6)
        acc, gyr = b.acc_mps2, b.gyr_dps
        prev = np.concatenate(([self._last_t], t[:-1]))
        if not np.all(t > np.maximum.accumulate(prev)):
            # cannot happen with a sane mapper: never write time backwards
            keep = t > np.maximum.accumulate(prev)
            t, acc = t[keep], acc[keep]
            gyr = None if gyr is None else gyr[keep]
            if t.size == 0:
                return
        if not self.config.gyro:
            gyr = None
        elif gyr is None:
            gyr = np.zeros_like(acc)
        if self._seg_first:
            if self._last_t > -math.inf:
                gap = float(t[0] - self._last_t)
                st.outage_s += gap
                st.outage_samples += max(int(round(gap * fs)) - 1, 0)
            self._seg_first = False
        if not self.sink.opened:
            self.sink.open(
                fs_hz=fs,
                with_gyro=self.config.gyro,
                placement=str(self.header.get("placement", "other")),
                metadata=self.initial_metadata(),
            )
        self.sink.append(t, acc, gyr)
        self._last_t = float(t[-1])
        st.samples += int(t.size)
        if self.on_block is not None:
            self.on_block(SampleBlock(t, acc, gyr, t_ns))

    # -- metadata --------------------------------------------------------------------

    def initial_metadata(self) -> dict[str, str]:
        h = self.header
        cfg = self.config
        meta = {
            "device": str(h.get("device_name") or ""),
            "device_model": self.model.key,
            "device_address": str(h.get("device_address") or ""),
        }
        if cfg is not None and cfg.range_g is not None:
            meta["range_g"] = f"{cfg.range_g:g}"
        if cfg is not None and cfg.extra.get("gyr_range_dps"):
            meta["gyr_range_dps"] = f"{cfg.extra['gyr_range_dps']:g}"
        meta["start_utc"] = _iso_utc(int(h["start_unix_ns"]))
        meta["time_source"] = (
            "sensor clock aligned to host receive times"
            if self.model.time_source == "sensor"
            else "host receive times and nominal rate"
        )
        meta["recorder"] = str(h.get("program") or "")
        if h.get("simulated"):
            meta["simulated"] = str(h["simulated"])
        return meta

    def final_metadata(self) -> dict[str, str]:
        st = self.stats
        meta = {
            "stream_samples": str(st.samples),
            "stream_lost_packets": str(st.lost_packets + st.rejected_packets),
            "stream_lost_samples": str(st.lost_samples),
            "stream_rejected_packets": str(st.rejected_packets),
            "stream_loss_detection": self.model.loss_detection,
            "stream_disconnects": str(st.disconnects),
            "stream_reconnects": str(st.reconnects),
            "stream_outage_s": f"{st.outage_s:.3f}",
        }
        if st.resyncs:
            meta["stream_resyncs"] = str(st.resyncs)
        if st.events:
            meta["stream_events"] = "; ".join(f"{t:.3f} s {what}" for t, what in st.events[:50])
        for k, v in st.battery.items():
            meta[k] = str(v)
        return meta


def _finalize(csv_path: Path, out: Path, extra: dict[str, str]) -> int:
    """Add the end-of-session metadata; write ``out`` (CSV v1 or .bmr). Returns samples."""
    rec = read_csv_v1(csv_path)
    rec = rec.replace(metadata={**dict(rec.metadata), **extra}, source=None)
    if out.suffix.lower() == ".bmr":
        from ..io import save_recording

        save_recording(rec, out)
        if csv_path != out:
            csv_path.unlink()
    else:
        write_csv_v1(rec, out)
    return rec.n_samples


def _stream_path(out: Path) -> Path:
    """Where samples stream to: the output itself for CSV, a side file for .bmr."""
    return out if out.suffix.lower() != ".bmr" else out.with_name(out.name + ".stream.csv")


def replay_capture(capture: str | Path, out: str | Path) -> StreamStats:
    """Decode a capture through the same pipeline as the live session; write ``out``.

    The result is byte for byte what the live session wrote (for a complete
    capture; one cut short by a crash replays to what the crashed recording
    would have held, with its end-of-session metadata).
    """
    out = Path(out)
    header, records, _ = iter_capture(capture)
    if header.get("model") not in _model_keys():
        raise DeviceError(f"{capture}: capture of unknown sensor model {header.get('model')!r}")
    path = _stream_path(out)
    sink = CsvSink(path)
    proc = StreamProcessor(header, sink)
    try:
        for rec in records:
            proc.feed(rec)
        proc.finish()
    finally:
        sink.close()
    if not sink.opened:
        raise RecordingError(f"{capture}: the capture holds no samples")
    try:
        _finalize(path, out, proc.final_metadata())
    except RecordingError as exc:
        raise RecordingError(f"{capture}: {exc}") from None
    return proc.stats


def _model_keys() -> tuple[str, ...]:
    from .models import MODELS

    return tuple(MODELS)


# ---------------------------------------------------------------------------
# the live session
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ReconnectPolicy:
    """How the session reconnects after the link drops.

    Attempts wait ``first_delay_s``, then ``factor`` times longer each time up
    to ``max_delay_s`` (0.5, 1, 2, 4, 8, 8, ... s); each attempt re-scans (a
    sensor that rebooted may come back under another address on some systems)
    and connects with a new BleakClient. After ``give_up_after_s`` without a
    working connection the session ends with a DeviceError (data kept).
    """

    first_delay_s: float = 0.5
    factor: float = 2.0
    max_delay_s: float = 8.0
    give_up_after_s: float = 60.0
    scan_timeout_s: float = 5.0


@dataclass(frozen=True)
class SessionStatus:
    """Progress of a live session (sent to ``on_status`` about once a second)."""

    elapsed_s: float
    samples: int
    rate_hz: float
    lost_samples: int
    loss_fraction: float
    battery: dict[str, Any]
    state: str  #: "connecting", "streaming", "reconnecting", "stopping"


@dataclass
class SessionResult:
    """What a finished session produced."""

    out: Path
    capture: Path | None
    stats: StreamStats
    duration_s: float
    interrupted: bool
    device: str


class StreamSession:
    """Record one sensor to a file (see the module docstring).

    Parameters
    ----------
    target : str
        Address or (part of the) name of the sensor.
    out : path
        Output recording: CSV v1 (written continuously) or ``.bmr`` (written
        at the end from a side CSV, ``OUT.stream.csv``, that survives a crash).
    model : str, optional
        Model key, when the advertisement does not say (e.g. a renamed sensor).
    settings : StreamSettings
        Rate and range (model defaults when None).
    capture : path, optional
        Also write every raw notification with its receive time (io.capture).
    placement : str
        Sensor placement written to the recording.
    scanner_backend, client_backend : type, optional
        bleak backends (``backend=``); None uses the platform's radio.
    clock : Clock, optional
        Host clock (default: :func:`balance_mon.devices.clock.clock_for_loop`).
    scan_timeout_s, connect_timeout_s, handshake_timeout_s : float
        How long to look for the sensor, to connect, and to configure it.
    reconnect : ReconnectPolicy
    on_block : callable, optional
        Receives every :class:`SampleBlock` as it is decoded (live analysis).
    on_status : callable, optional
        Receives a :class:`SessionStatus` about once a second.
    simulated : str, optional
        Description of a simulated sensor, stored in the metadata.
    """

    def __init__(
        self,
        target: str,
        out: str | Path,
        *,
        model: str | None = None,
        settings: StreamSettings = StreamSettings(),  # noqa: B008
        capture: str | Path | None = None,
        placement: str = "other",
        scanner_backend: type | None = None,
        client_backend: type | None = None,
        clock: Clock | None = None,
        scan_timeout_s: float = 10.0,
        connect_timeout_s: float = 20.0,
        handshake_timeout_s: float = 15.0,
        reconnect: ReconnectPolicy = ReconnectPolicy(),
        on_block: Callable[[SampleBlock], None] | None = None,
        on_status: Callable[[SessionStatus], None] | None = None,
        simulated: str | None = None,
    ) -> None:
        self.target = target
        self.out = Path(out)
        self.model_key = model
        self.settings = settings
        self.capture_path = Path(capture) if capture else None
        self.placement = placement
        self.scanner_backend = scanner_backend
        self.client_backend = client_backend
        self.clock = clock
        self.scan_timeout_s = scan_timeout_s
        self.connect_timeout_s = connect_timeout_s
        self.handshake_timeout_s = handshake_timeout_s
        self.reconnect = reconnect
        self.on_block = on_block
        self.on_status = on_status
        self.simulated = simulated
        self.processor: StreamProcessor | None = None
        self._client: Any = None
        self._link: Link | None = None
        self._state = "connecting"

    # -- helpers -----------------------------------------------------------------------

    def _event(self, name: str, **fields: Any) -> None:
        self._q.put_nowait(("E", self._clk.now_ns(), {"event": name, **fields}))
        log.info("%s: %s %s", self.target, name, fields or "")

    def _on_disconnect(self, client: Any) -> None:
        if client is self._client:
            self._q.put_nowait(("E", self._clk.now_ns(), {"event": "disconnected"}))
            self._dropped.set()
            log.warning("%s: connection lost", self.target)

    async def _find(self, timeout_s: float) -> FoundDevice | None:
        model = get_model(self.model_key) if self.model_key else None
        return await find_device(
            self.target, timeout_s=timeout_s, model=model, scanner_backend=self.scanner_backend
        )

    async def _disconnect(self) -> None:
        client, self._client, self._link = self._client, None, None
        if client is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(5.0):
                    await client.disconnect()

    async def _connect_and_start(self, found: FoundDevice, attempt: int) -> StreamConfig:
        from bleak import BleakClient

        kwargs = {} if self.client_backend is None else {"backend": self.client_backend}
        self._event("connecting", attempt=attempt, address=found.address)
        client = BleakClient(
            found.device,
            disconnected_callback=self._on_disconnect,
            timeout=self.connect_timeout_s,
            **kwargs,
        )
        self._dropped.clear()
        self._client = client
        try:
            async with asyncio.timeout(self.connect_timeout_s + 1.0):
                await client.connect()
        except (Exception, TimeoutError) as exc:
            self._client = None
            text = str(exc) or type(exc).__name__
            raise _TransientError(f"could not connect to {found.describe()}: {text}") from None
        link = Link(client, self._q, self._clk, self._waiters)
        self._link = link
        self._event("connected", device_name=link.name, address=link.address)
        model = self._model
        try:
            async with asyncio.timeout(self.handshake_timeout_s):
                config = await model.start(link, self._settings)
                battery = await model.read_battery(link)
        except TimeoutError:
            await self._disconnect()
            raise _TransientError(
                f"{found.describe()} did not complete the {model.label} handshake "
                f"within {self.handshake_timeout_s:g} s"
            ) from None
        except DeviceError:
            await self._disconnect()
            raise
        except Exception as exc:  # bleak errors from a link that dropped mid-handshake
            await self._disconnect()
            raise _TransientError(f"{found.describe()}: handshake failed ({exc})") from None
        if battery:
            self._event("battery", **battery)
        self._state = "streaming"
        return config

    # -- consumer and ticker ------------------------------------------------------------

    async def _consume(self) -> None:
        q = self._q
        proc = self.processor
        assert proc is not None
        cap = self._capture
        waiters = self._waiters
        while True:
            item = await q.get()
            items = [item]
            while not q.empty() and len(items) < 512:
                items.append(q.get_nowait())
            for it in items:
                if it is _STOP:
                    return
                if it[0] == "N":
                    rec = CaptureRecord("N", it[1], it[2], it[3], None)
                else:
                    rec = CaptureRecord("E", it[1], None, None, it[2])
                if cap is not None:
                    cap.write(rec)
                proc.feed(rec)
                if rec.kind == "N" and waiters:
                    _dispatch(waiters, rec.uuid or "", rec.data or b"")
            if proc.sensor_stopped and not self._dropped.is_set() and self._state == "streaming":
                self._sensor_stop_reason = "the sensor stopped the measurement"
                self._dropped.set()

    async def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        proc = self.processor
        assert proc is not None
        last_sync = last_status = last_battery = loop.time()
        history: deque[tuple[float, int]] = deque(maxlen=32)
        while True:
            await asyncio.sleep(FLUSH_INTERVAL_S)
            now = loop.time()
            proc.sink.flush()
            if self._capture is not None:
                self._capture.flush()
            if now - last_sync >= SYNC_INTERVAL_S:
                last_sync = now
                fds = [proc.sink.sync_fd()]
                if self._capture is not None:
                    self._capture.flush()
                    fds.append(self._capture_fd)
                for fd in fds:
                    if fd is not None:
                        await asyncio.to_thread(_fsync_quietly, fd)
            if now - last_battery >= BATTERY_INTERVAL_S and self._state == "streaming":
                last_battery = now
                link = self._link
                if link is not None:
                    self._battery_task = asyncio.create_task(self._read_battery(link))
            if self.on_status is not None and now - last_status >= 1.0:
                last_status = now
                st = proc.stats
                history.append((now, st.samples))
                t_old, n_old = history[0] if len(history) > 1 else (now, st.samples)
                window = [h for h in history if now - h[0] <= 5.0]
                if len(window) > 1:
                    t_old, n_old = window[0]
                rate = (st.samples - n_old) / (now - t_old) if now > t_old else 0.0
                self.on_status(
                    SessionStatus(
                        elapsed_s=now - self._t_start,
                        samples=st.samples,
                        rate_hz=rate,
                        lost_samples=st.lost_samples,
                        loss_fraction=st.loss_fraction,
                        battery=dict(st.battery),
                        state=self._state,
                    )
                )

    async def _read_battery(self, link: Link) -> None:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(5.0):
                b = await self._model.read_battery(link)
            if b and link is self._link:
                self._event("battery", **b)

    # -- main --------------------------------------------------------------------------

    async def run(self, duration_s: float | None = None) -> SessionResult:
        """Record until ``duration_s`` seconds of streaming have passed (None: until cancelled).

        Cancellation (Ctrl-C) stops cleanly: the sensor is told to stop, every
        sample received is written and the file finalized; the result then has
        ``interrupted`` set. Raises DeviceError when the sensor is not found,
        cannot be connected or configured, or is lost and not recovered (in the
        last case after writing what was received).
        """
        loop = asyncio.get_running_loop()
        self._clk = self.clock or clock_for_loop(loop)
        self._q: asyncio.Queue = asyncio.Queue()  # type: ignore[type-arg]
        self._waiters: list = []  # type: ignore[type-arg]
        self._dropped = asyncio.Event()
        self._sensor_stop_reason: str | None = None
        self._battery_task: asyncio.Task[None] | None = None
        self._t_start = loop.time()
        t0_ns = self._clk.now_ns()
        wall_ns = self._clk.wall_ns()

        found = await self._find(self.scan_timeout_s)
        if found is None:
            raise DeviceError(
                f"no supported sensor matching {self.target!r} found in "
                f"{self.scan_timeout_s:g} s of scanning; is it switched on, in range and "
                "not connected to another app (phone, watch)? ('balance-mon scan' lists "
                "what is in range)"
            )
        model = get_model(self.model_key) if self.model_key else found.model
        self._model = model
        self._settings = model.resolve_settings(self.settings, found.describe())
        header = {
            "model": model.key,
            "device_name": found.name,
            "device_address": found.address,
            "settings": {"rate_hz": self._settings.rate_hz, "range_g": self._settings.range_g},
            "placement": self.placement,
            "t0_ns": t0_ns,
            "start_unix_ns": wall_ns,
            "program": f"balance_mon {__version__}",
        }
        if self.simulated:
            header["simulated"] = self.simulated
        self._capture: CaptureWriter | None = None
        self._capture_fd: int | None = None
        if self.capture_path is not None:
            self._capture = CaptureWriter(self.capture_path, header)
            self._capture_fd = os.open(self.capture_path, os.O_WRONLY | getattr(os, "O_BINARY", 0))
        stream_path = _stream_path(self.out)
        sink = CsvSink(stream_path)
        self.processor = StreamProcessor(header, sink, on_block=self.on_block)
        consumer = asyncio.create_task(self._consume(), name="balance_mon stream consumer")
        ticker = asyncio.create_task(self._tick(), name="balance_mon stream ticker")
        interrupted = False
        error: BaseException | None = None
        t_stream: float | None = None
        try:
            await self._first_connection(found)
            t_stream = loop.time()
            if self._link is not None and self._link.started_at is not None:
                t_stream = self._link.started_at
            deadline = None if duration_s is None else t_stream + duration_s
            while True:
                if not await self._wait_drop(deadline, consumer):
                    break  # time is up
                self._state = "reconnecting"
                if self._sensor_stop_reason and self._client is not None:
                    self._event("disconnected", reason=self._sensor_stop_reason)
                    self._sensor_stop_reason = None
                    self.processor.sensor_stopped = False
                await self._disconnect()
                if not await self._reconnect(deadline, consumer):
                    break
        except asyncio.CancelledError:
            interrupted = True
        except BaseException as exc:
            error = exc
        t_end = loop.time()
        # -- stop cleanly, whatever happened ---------------------------------------------
        self._state = "stopping"
        try:
            await self._shutdown(consumer, ticker, interrupted)
        except asyncio.CancelledError:
            interrupted = True
            await self._shutdown(consumer, ticker, True)
        n = 0
        if sink.opened:
            try:
                n = _finalize(stream_path, self.out, self.processor.final_metadata())
            except BalanceMonError as exc:
                if error is None:
                    error = exc
        elif stream_path.exists():
            stream_path.unlink()
        if error is not None:
            if isinstance(error, DeviceError) and sink.opened and n:
                raise DeviceError(f"{error} (the {n} samples received are in {self.out})") from None
            raise error
        if not sink.opened:
            if interrupted:
                raise asyncio.CancelledError
            raise DeviceError(f"{found.describe()} sent no samples")
        duration = 0.0 if t_stream is None else t_end - t_stream
        return SessionResult(
            out=self.out,
            capture=self.capture_path,
            stats=self.processor.stats,
            duration_s=duration,
            interrupted=interrupted,
            device=found.describe(),
        )

    async def _first_connection(self, found: FoundDevice) -> None:
        delay = self.reconnect.first_delay_s
        for attempt in range(1, 4):
            try:
                await self._connect_and_start(found, attempt)
                return
            except _TransientError:
                if attempt == 3:
                    raise
                self._event("reconnect_wait", delay_s=delay, attempt=attempt)
                await asyncio.sleep(delay)
                delay = min(delay * self.reconnect.factor, self.reconnect.max_delay_s)
                again = await self._find(self.reconnect.scan_timeout_s)
                found = again or found

    async def _wait_drop(self, deadline: float | None, consumer: asyncio.Task[None]) -> bool:
        """True when the link dropped, False when the time is up."""
        loop = asyncio.get_running_loop()
        waiter = asyncio.create_task(self._dropped.wait())
        try:
            timeout = None if deadline is None else max(deadline - loop.time(), 0.0)
            done, _ = await asyncio.wait(
                {waiter, consumer}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            waiter.cancel()
        if consumer in done:
            consumer.result()  # raises what killed it
            raise RuntimeError("stream consumer ended early")
        return waiter in done

    async def _reconnect(self, deadline: float | None, consumer: asyncio.Task[None]) -> bool:
        """Reconnect with back-off; False if the time ran out first; DeviceError if lost."""
        loop = asyncio.get_running_loop()
        pol = self.reconnect
        lost_at = loop.time()
        delay = pol.first_delay_s
        attempt = 0
        last_error = "not found"
        while True:
            now = loop.time()
            if deadline is not None and now >= deadline:
                return False
            if now - lost_at >= pol.give_up_after_s:
                self._event("gave_up", attempts=attempt, last_error=last_error)
                raise DeviceError(
                    f"lost the connection to {self.target} and could not reconnect in "
                    f"{pol.give_up_after_s:g} s ({attempt} attempts; last: {last_error})"
                )
            wait = delay if deadline is None else min(delay, max(deadline - now, 0.0))
            self._event("reconnect_wait", delay_s=round(wait, 3), attempt=attempt + 1)
            await asyncio.sleep(wait)
            if consumer.done():
                consumer.result()
            if deadline is not None and loop.time() >= deadline:
                return False
            attempt += 1
            try:
                found = await self._find(pol.scan_timeout_s)
                if found is None:
                    last_error = "not found by scanning"
                    raise _TransientError(last_error)
                await self._connect_and_start(found, attempt)
                return True
            except _TransientError as exc:
                last_error = str(exc)
                self._event("reconnect_failed", attempt=attempt, error=last_error)
            delay = min(delay * pol.factor, pol.max_delay_s)

    async def _shutdown(
        self, consumer: asyncio.Task[None], ticker: asyncio.Task[None], quick: bool
    ) -> None:
        if self._battery_task is not None:
            self._battery_task.cancel()
        # nothing received from here on is recorded: the duration is exact
        self._event("stop", reason="interrupted" if quick else "end")
        link = self._link
        if link is not None and self._client is not None and self._client.is_connected:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(1.0 if quick else 3.0):
                    await self._model.stop(link)
        await self._disconnect()
        self._q.put_nowait(_STOP)
        if not consumer.done():
            await asyncio.wait({consumer})
        ticker.cancel()
        await asyncio.wait({ticker})
        assert self.processor is not None
        try:
            self.processor.sink.close()
        finally:
            self._close_capture()
        if not consumer.cancelled() and consumer.exception() is not None:
            raise consumer.exception()  # type: ignore[misc]

    def _close_capture(self) -> None:
        if self._capture is not None:
            self._capture.close()
            self._capture = None
        if self._capture_fd is not None:
            os.close(self._capture_fd)
            self._capture_fd = None


def _fsync_quietly(fd: int) -> None:
    with contextlib.suppress(OSError):
        os.fsync(fd)
