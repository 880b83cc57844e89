"""The supported sensors: how to recognise them, configure them and decode their stream.

Each :class:`DeviceModel` knows

- how the sensor advertises (name prefixes, service UUIDs) so that a scan can
  list it (:func:`identify`);
- which rates and ranges it offers (:meth:`DeviceModel.resolve_settings`);
- its GATT handshake (:meth:`DeviceModel.start`), run by the streaming session
  over a :class:`balance_mon.devices.session.Link`, and how to stop it;
- how to turn its notifications into samples (:meth:`DeviceModel.codec`): a
  :class:`StreamCodec` per connection, a pure function of the notifications
  (and session events) it is fed, so that a capture replays to the same bytes.

Registry: :data:`MODELS`, keyed ``polar-h10``, ``reference``, ``witmotion``.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import DecodeError, DeviceError
from . import polar, reference, witmotion
from .frames import SampleBatch

if TYPE_CHECKING:
    from .session import Link

__all__ = [
    "MODELS",
    "DeviceModel",
    "PolarH10",
    "ReferenceSensor",
    "StreamCodec",
    "StreamSettings",
    "WitMotionWT901",
    "get_model",
    "identify",
]


@dataclass(frozen=True)
class StreamSettings:
    """What the user asked for (None: the model's default)."""

    rate_hz: float | None = None
    range_g: float | None = None


@dataclass(frozen=True)
class StreamConfig:
    """What a connection streams with (the ``configured`` session event)."""

    rate_hz: float
    range_g: float | None
    gyro: bool
    extra: dict[str, Any] = field(default_factory=dict)

    def as_event(self) -> dict[str, Any]:
        return {"rate_hz": self.rate_hz, "range_g": self.range_g, "gyro": self.gyro, **self.extra}

    @classmethod
    def from_event(cls, ev: dict[str, Any]) -> StreamConfig:
        extra = {k: v for k, v in ev.items() if k not in ("event", "rate_hz", "range_g", "gyro")}
        return cls(float(ev["rate_hz"]), ev.get("range_g"), bool(ev.get("gyro")), extra)


class StreamCodec:
    """Decodes one connection's notifications into :class:`SampleBatch` lists.

    ``started`` turns True when the sensor is known to stream with the
    configuration (a ``started`` session event, or a model-specific sign);
    data before that is not recorded. Counters for the quality report:
    ``rejected`` notifications (malformed, DecodeError) and ``resyncs``
    (protocols that skip garbage instead of raising).
    """

    def __init__(self, config: StreamConfig) -> None:
        self.config = config
        self.started = False
        self.stopped_by_sensor = False
        self.rejected = 0

    def feed(self, uuid: str, data: bytes) -> list[SampleBatch]:
        raise NotImplementedError

    @property
    def resyncs(self) -> int:
        return 0


class DeviceModel:
    """A kind of sensor (subclasses fill in the class attributes and the handshake)."""

    key: str = ""
    label: str = ""
    name_prefixes: tuple[str, ...] = ()
    service_uuids: tuple[str, ...] = ()
    rates_hz: tuple[float, ...] = ()
    default_rate_hz: float = 0.0
    ranges_g: tuple[float, ...] = ()
    default_range_g: float | None = None
    has_gyro: bool = False
    #: "sensor" if notifications carry sensor-clock times, else "host"
    time_source: str = "sensor"
    #: how lost notifications show: "sequence", "timestamps" or "none"
    loss_detection: str = "none"
    data_uuid: str = ""

    def matches(self, name: str | None, service_uuids: list[str] | tuple[str, ...]) -> bool:
        """Whether an advertisement looks like this model."""
        uuids = {u.lower() for u in service_uuids}
        if any(u in uuids for u in self.service_uuids):
            return True
        return bool(name) and any(name.startswith(p) for p in self.name_prefixes)  # type: ignore[union-attr]

    def resolve_settings(self, s: StreamSettings, device: str = "") -> StreamSettings:
        """Fill in defaults and check the values are offered; else DeviceError."""
        rate = self.default_rate_hz if s.rate_hz is None else float(s.rate_hz)
        rng = self.default_range_g if s.range_g is None else float(s.range_g)
        who = device or self.label
        if self.rates_hz and rate not in self.rates_hz:
            raise DeviceError(
                f"{who}: rate {rate:g} Hz is not offered; choose one of "
                + ", ".join(f"{r:g}" for r in self.rates_hz)
                + " Hz"
            )
        if s.range_g is not None and self.ranges_g and rng not in self.ranges_g:
            raise DeviceError(
                f"{who}: range +/-{rng:g} g is not offered; choose one of "
                + ", ".join(f"{r:g}" for r in self.ranges_g)
                + " g"
            )
        if s.range_g is not None and not self.ranges_g:
            raise DeviceError(f"{who}: the range cannot be set on this sensor")
        return StreamSettings(rate, rng)

    async def start(self, link: Link, settings: StreamSettings) -> StreamConfig:
        """Run the GATT handshake until the sensor streams; return what it streams with."""
        raise NotImplementedError

    async def stop(self, link: Link) -> None:
        """Ask the sensor to stop streaming (best effort, before disconnecting)."""
        return None

    def codec(self, config: StreamConfig) -> StreamCodec:
        raise NotImplementedError

    async def read_battery(self, link: Link) -> dict[str, Any] | None:
        """Battery state as event fields (``battery_pct``), or None if unknown."""
        if not link.has(polar.BATTERY_LEVEL_UUID):
            return None
        try:
            data = await link.read(polar.BATTERY_LEVEL_UUID)
        except DeviceError:
            return None
        return {"battery_pct": int(data[0])} if data else None


# ---------------------------------------------------------------------------
# Polar H10
# ---------------------------------------------------------------------------


def _polar_refusal(name: str, what: str, resp: polar.ControlPointResponse) -> DeviceError:
    return DeviceError(
        f"{name} refused {what}: Polar error {resp.status} ({resp.status_text})"
        + (
            "; take the sensor off its charger"
            if resp.status == 13
            else "; choose another rate or range"
            if resp.status in (5, 7, 8, 9)
            else ""
        )
    )


class _PolarCodec(StreamCodec):
    """Polar PMD: the factor comes in the start response, seen in the stream itself."""

    def __init__(self, config: StreamConfig) -> None:
        super().__init__(config)
        self._decoder: polar.PolarAccStreamDecoder | None = None

    def feed(self, uuid: str, data: bytes) -> list[SampleBatch]:
        if uuid == polar.PMD_CONTROL_POINT_UUID:
            if polar.parse_measurement_stopped(data) is not None:
                if polar.ACC in (polar.parse_measurement_stopped(data) or ()):
                    self.stopped_by_sensor = True
                return []
            try:
                resp = polar.parse_control_point_response(data)
            except DecodeError:
                return []
            if resp.opcode == polar.OP_START and resp.measurement_type == polar.ACC and resp.ok:
                factor = 1.0
                with contextlib.suppress(DecodeError):
                    factor = float(polar.parse_settings(resp.params).get("factor", (1.0,))[0])
                self._decoder = polar.PolarAccStreamDecoder(factor, self.config.rate_hz)
                self.started = True
            return []
        if uuid != polar.PMD_DATA_UUID or self._decoder is None:
            return []
        try:
            return self._decoder.feed(data)
        except DecodeError:
            self.rejected += 1
            raise


class PolarH10(DeviceModel):
    key = "polar-h10"
    label = "Polar H10"
    name_prefixes = ("Polar H10",)
    service_uuids = (polar.PMD_SERVICE_UUID,)
    rates_hz = tuple(float(r) for r in polar.H10_RATES_HZ)
    default_rate_hz = 200.0
    ranges_g = tuple(float(r) for r in polar.H10_RANGES_G)
    default_range_g = 8.0
    has_gyro = False
    time_source = "sensor"
    loss_detection = "timestamps"
    data_uuid = polar.PMD_DATA_UUID

    async def _command(self, link: Link, cmd: bytes) -> polar.ControlPointResponse:
        opcode = cmd[0]

        def is_answer(data: bytes) -> bool:
            return len(data) >= 2 and data[0] == polar.RESPONSE_CODE and data[1] == opcode

        first = await link.request(
            polar.PMD_CONTROL_POINT_UUID, cmd, polar.PMD_CONTROL_POINT_UUID, is_answer
        )
        parts = [polar.parse_control_point_response(first)]
        while parts[-1].more:
            nxt = await link.wait_indication(polar.PMD_CONTROL_POINT_UUID, is_answer)
            parts.append(polar.parse_control_point_response(nxt))
        return polar.join_responses(parts)

    async def start(self, link: Link, settings: StreamSettings) -> StreamConfig:
        name = link.name
        await link.subscribe(polar.PMD_CONTROL_POINT_UUID)
        await link.subscribe(polar.PMD_DATA_UUID)
        try:
            features = polar.parse_features(await link.read(polar.PMD_CONTROL_POINT_UUID))
        except DecodeError as exc:
            raise DeviceError(f"{name}: unexpected answer to the features read ({exc})") from None
        if "acc" not in features:
            raise DeviceError(
                f"{name} does not offer accelerometer streaming (it offers "
                f"{', '.join(sorted(features)) or 'nothing'})"
            )
        resp = await self._command(link, polar.build_get_settings_command(polar.ACC))
        if not resp.ok:
            raise _polar_refusal(name, "to list its accelerometer settings", resp)
        offered = polar.parse_settings(resp.params)
        rates = tuple(float(r) for r in offered.get("sample_rate_hz", self.rates_hz))
        ranges = tuple(float(r) for r in offered.get("range_g", self.ranges_g))
        rate = float(settings.rate_hz or self.default_rate_hz)
        rng = float(settings.range_g or self.default_range_g or 8.0)
        if rate not in rates:
            raise DeviceError(
                f"{name}: rate {rate:g} Hz is not offered; choose one of "
                + ", ".join(f"{r:g}" for r in rates)
                + " Hz"
            )
        if rng not in ranges:
            raise DeviceError(
                f"{name}: range +/-{rng:g} g is not offered; choose one of "
                + ", ".join(f"{r:g}" for r in ranges)
                + " g"
            )
        config = StreamConfig(rate, rng, False, {"resolution_bits": 16})
        link.event("configured", **config.as_event())
        cmd = polar.build_start_command(int(rate), int(rng))
        resp = await self._command(link, cmd)
        if resp.status == 6:  # already streaming (an earlier session did not stop it)
            await self._command(link, polar.build_stop_command(polar.ACC))
            resp = await self._command(link, cmd)
        if not resp.ok:
            raise _polar_refusal(
                name, f"to start the accelerometer at {rate:g} Hz, +/-{rng:g} g", resp
            )
        link.event("started")
        return config

    async def stop(self, link: Link) -> None:
        await self._command(link, polar.build_stop_command(polar.ACC))

    def codec(self, config: StreamConfig) -> StreamCodec:
        return _PolarCodec(config)


# ---------------------------------------------------------------------------
# balance_mon reference sensor
# ---------------------------------------------------------------------------


class _ReferenceCodec(StreamCodec):
    def __init__(self, config: StreamConfig) -> None:
        super().__init__(config)
        self._decoder = reference.ReferenceStreamDecoder()

    def feed(self, uuid: str, data: bytes) -> list[SampleBatch]:
        if uuid != reference.DATA_CHAR_UUID:
            return []
        try:
            return self._decoder.feed(data)
        except DecodeError:
            self.rejected += 1
            raise


class ReferenceSensor(DeviceModel):
    key = "reference"
    label = "balance_mon reference sensor"
    name_prefixes = ("BM-REF",)
    service_uuids = (reference.SERVICE_UUID,)
    rates_hz = reference.RATES_HZ
    default_rate_hz = 104.0
    ranges_g = tuple(float(r) for r in reference.ACC_RANGES_G)
    default_range_g = 8.0
    has_gyro = True
    time_source = "sensor"
    loss_detection = "sequence"
    data_uuid = reference.DATA_CHAR_UUID

    async def start(self, link: Link, settings: StreamSettings) -> StreamConfig:
        name = link.name
        rate = float(settings.rate_hz or self.default_rate_hz)
        rng = int(settings.range_g or self.default_range_g or 8)
        try:
            want = reference.ReferenceConfig.from_si(
                rate_hz=rate, acc_range_g=rng, gyr_range_dps=2000, streaming=True
            )
        except DeviceError as exc:
            raise DeviceError(f"{name}: {exc}") from None
        await link.subscribe(reference.DATA_CHAR_UUID)
        config = StreamConfig(
            rate, float(rng), True, {"gyr_range_dps": 2000, "samples_per_packet": "auto"}
        )
        link.event("configured", **config.as_event())
        await link.write(reference.CONFIG_CHAR_UUID, reference.encode_config(want))
        try:
            got = reference.decode_config(await link.read(reference.CONFIG_CHAR_UUID))
        except DecodeError as exc:
            raise DeviceError(
                f"{name}: unreadable configuration after writing it ({exc})"
            ) from None
        if (
            got.rate_code != want.rate_code
            or got.acc_range_code != want.acc_range_code
            or not got.streaming
        ):
            raise DeviceError(
                f"{name} refused the configuration {rate:g} Hz, +/-{rng} g "
                f"(it reports {got.rate_hz:g} Hz, +/-{got.acc_range_g} g, "
                f"{'streaming' if got.streaming else 'not streaming'})"
            )
        link.event("started")
        return config

    async def stop(self, link: Link) -> None:
        await link.write(
            reference.CONFIG_CHAR_UUID, reference.encode_config(reference.ReferenceConfig())
        )

    def codec(self, config: StreamConfig) -> StreamCodec:
        return _ReferenceCodec(config)


# ---------------------------------------------------------------------------
# WitMotion WT901BLE
# ---------------------------------------------------------------------------


class _WitMotionCodec(StreamCodec):
    def __init__(self, config: StreamConfig) -> None:
        super().__init__(config)
        self._decoder = witmotion.WitMotionStreamDecoder()

    def feed(self, uuid: str, data: bytes) -> list[SampleBatch]:
        if uuid != witmotion.NOTIFY_UUID:
            return []
        return self._decoder.feed(data)

    @property
    def resyncs(self) -> int:
        return self._decoder.resyncs_ + self._decoder.dropped_partial_frames_


_WIT_RATE_BY_CODE = {code: rate for rate, code in witmotion.RATE_CODES.items()}


class WitMotionWT901(DeviceModel):
    key = "witmotion"
    label = "WitMotion WT901BLE"
    name_prefixes = ("WT901", "BWT901")
    service_uuids = (witmotion.SERVICE_UUID,)
    rates_hz = tuple(witmotion.RATE_CODES)
    default_rate_hz = 100.0
    ranges_g = ()
    default_range_g = None
    has_gyro = True
    time_source = "host"
    loss_detection = "none"
    data_uuid = witmotion.NOTIFY_UUID

    def resolve_settings(self, s: StreamSettings, device: str = "") -> StreamSettings:
        if s.rate_hz is None:  # keep the sensor's own rate (read at connection)
            if s.range_g is not None:
                raise DeviceError(f"{device or self.label}: the range cannot be set on this sensor")
            return s
        return super().resolve_settings(s, device)

    async def _read_register(self, link: Link, register: int) -> int | None:
        marker = bytes((witmotion.SYNC, witmotion.FLAG_REGISTER)) + register.to_bytes(2, "little")

        def is_answer(data: bytes) -> bool:
            return marker in data

        try:
            data = await link.request(
                witmotion.WRITE_UUID,
                witmotion.build_read_register(register),
                witmotion.NOTIFY_UUID,
                is_answer,
                timeout_s=1.0,
            )
        except DeviceError:
            return None
        i = data.find(marker)
        frame = bytes(data[i : i + witmotion.FRAME_BYTES])
        if len(frame) < witmotion.FRAME_BYTES:
            return None
        _, values = witmotion.decode_register_frame(frame)
        return values[0]

    async def start(self, link: Link, settings: StreamSettings) -> StreamConfig:
        await link.subscribe(witmotion.NOTIFY_UUID)
        extra: dict[str, Any] = {}
        if settings.rate_hz is not None:
            rate = float(settings.rate_hz)
            for cmd in witmotion.build_rate_commands(rate):
                await link.write(witmotion.WRITE_UUID, cmd)
                await asyncio.sleep(0.1)
        else:
            code = await self._read_register(link, witmotion.REG_RATE)
            if code is None or code not in _WIT_RATE_BY_CODE:
                raise DeviceError(
                    f"{link.name} did not report its output rate; give it with --rate "
                    "(" + ", ".join(f"{r:g}" for r in witmotion.RATE_CODES) + " Hz)"
                )
            rate = _WIT_RATE_BY_CODE[code]
            extra["rate_from"] = "sensor register"
        config = StreamConfig(rate, 16.0, True, {"gyr_range_dps": 2000, **extra})
        link.event("configured", **config.as_event())
        link.event("started")
        return config

    def codec(self, config: StreamConfig) -> StreamCodec:
        return _WitMotionCodec(config)

    async def read_battery(self, link: Link) -> dict[str, Any] | None:
        raw = await self._read_register(link, witmotion.REG_BATTERY)
        return None if raw is None else {"battery_v": raw / 100.0}


# ---------------------------------------------------------------------------
# registry
# ---------------------------------------------------------------------------

MODELS: dict[str, DeviceModel] = {
    m.key: m for m in (PolarH10(), ReferenceSensor(), WitMotionWT901())
}


def get_model(key: str) -> DeviceModel:
    """The model registered under ``key``; unknown keys raise DeviceError."""
    try:
        return MODELS[key]
    except KeyError:
        raise DeviceError(f"unknown sensor model {key!r}; supported: {', '.join(MODELS)}") from None


def identify(name: str | None, service_uuids: list[str] | tuple[str, ...]) -> DeviceModel | None:
    """The supported model an advertisement belongs to, or None."""
    for m in MODELS.values():
        if m.matches(name, service_uuids):
            return m
    return None
