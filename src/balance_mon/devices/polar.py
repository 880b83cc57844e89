"""Polar Measurement Data (PMD) protocol: accelerometer of the H10, Verity Sense, OH1.

Sources: ``/work/shared/reference/devices.md`` (Polar PMD section) and the
Polar BLE SDK (github.com/polarofficial/polar-ble-sdk, Android library files
``BlePMDClient.kt``, ``PmdDataFrame.kt``, ``model/AccData.kt``,
``model/PmdTimeStampUtils.kt``, ``PmdSetting.kt``, ``PmdControlPointResponse.kt``,
``PmdMeasurementType.kt``). Written from the protocol description; no SDK code
is copied. Byte-exact vectors from the SDK's ``AccDataTest.kt`` and our own are in
``tests/vectors/polar_acc_*.json``.

GATT handshake (the I/O is done by the streaming session)::

    enable indications on PMD_CONTROL_POINT_UUID and notifications on PMD_DATA_UUID
    read PMD_CONTROL_POINT_UUID             -> parse_features()      (H10: 0F 05 ...)
    write build_get_settings_command()      -> indication -> parse_control_point_response()
                                               -> parse_settings(response.params)
    write build_start_command(200, 8)       -> indication: status must be 0; its params may
                                               carry the factor: parse_settings(params)
    notifications on PMD_DATA_UUID          -> PolarAccStreamDecoder(factor, fs).feed()
    write build_stop_command()

Data frame (one notification)::

    byte 0      measurement type (ACC = 2)
    bytes 1-8   u64 LE timestamp of the LAST sample, ns since 2000-01-01T00:00 sensor time
    byte 9      frame type: bit 7 = delta-compressed, bits 0-6 = type
    bytes 10-   raw:        type 0: 3 x int8, 1: 3 x int16 LE (H10), 2: 3 x int24 LE
                compressed: reference sample (3 x int16 LE), then blocks
                            [W: u8][N: u8][ceil(N * W * 3 / 8) bytes], W-bit two's
                            complement deltas packed LSB first, sample = previous + delta

Units: raw frames are mG (the SDK applies no factor to them); compressed type 0
values times ``factor`` are g (x 1000 for mG); compressed type 1 values times
``factor`` are mG.

Decisions where the SDK is silent or lenient (all tested):

- A frame with no samples, a payload that is not a whole number of samples, a
  truncated delta block, a lone trailing byte, a block with bit width 0 but
  samples, or bit width over 32 is malformed: :class:`DecodeError`.
  A block with N = 0 is an empty block and is accepted.
- 1-bit deltas are two's complement (0 or -1), as the protocol says; the SDK's
  sign mask would turn a set bit into +2**31 - 1.
- Timestamps are computed exactly in integers: with the previous frame's
  timestamp ``prev``, sample ``k`` (1..n) sits at ``prev + round((ts - prev) * k
  / n)``, rounding half to even (as Kotlin's ``round`` that the SDK uses); the
  last sample is ``ts`` exactly. Without ``prev``, sample ``i`` (0..n-1) sits at
  ``ts - round((n - 1 - i) * 1e9 / rate)``. The SDK computes the same in float64
  on absolute times, which quantises to 128 ns at present-day timestamps.
- Sample times before the sensor epoch come out negative instead of being
  rejected (the SDK throws); a frame that holds one sample needs neither the
  previous timestamp nor the rate; a frame that holds more needs one of them.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..consts import MG_TO_MPS2
from ..errors import DecodeError, DeviceError
from .frames import SampleBatch, as_bytes

__all__ = [
    "ACC",
    "BATTERY_LEVEL_UUID",
    "BATTERY_SERVICE_UUID",
    "HEART_RATE_MEASUREMENT_UUID",
    "HEART_RATE_SERVICE_UUID",
    "PMD_CONTROL_POINT_UUID",
    "PMD_DATA_UUID",
    "PMD_SERVICE_UUID",
    "ControlPointResponse",
    "PolarAccStreamDecoder",
    "build_get_settings_command",
    "build_start_command",
    "build_stop_command",
    "decode_pmd_frame",
    "encode_acc_frame",
    "join_responses",
    "parse_control_point_response",
    "parse_features",
    "parse_measurement_stopped",
    "parse_settings",
]

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]

# --- GATT -------------------------------------------------------------------

PMD_SERVICE_UUID = "fb005c80-02e7-f387-1cad-8acd2d8df0c8"
PMD_CONTROL_POINT_UUID = "fb005c81-02e7-f387-1cad-8acd2d8df0c8"  # read, write, indicate
PMD_DATA_UUID = "fb005c82-02e7-f387-1cad-8acd2d8df0c8"  # notify
HEART_RATE_SERVICE_UUID = "0000180d-0000-1000-8000-00805f9b34fb"
HEART_RATE_MEASUREMENT_UUID = "00002a37-0000-1000-8000-00805f9b34fb"
BATTERY_SERVICE_UUID = "0000180f-0000-1000-8000-00805f9b34fb"
BATTERY_LEVEL_UUID = "00002a19-0000-1000-8000-00805f9b34fb"

# --- protocol constants -----------------------------------------------------

#: Measurement type of the accelerometer.
ACC = 2
#: Sensor epoch: sensor time 0 is 2000-01-01T00:00:00; Unix time = sensor time + this.
SENSOR_EPOCH_UNIX_S = 946_684_800

OP_GET_SETTINGS = 0x01
OP_START = 0x02
OP_STOP = 0x03
RESPONSE_CODE = 0xF0
FEATURES_CODE = 0x0F
#: First byte of a control-point indication by which the sensor stops a stream itself.
MEASUREMENT_STOPPED_CODE = 0x01

HEADER_BYTES = 10
#: Bits of the reference sample of compressed ACC frames (the SDK uses 16 for both types).
COMPRESSED_REFERENCE_BITS = 16
_MAX_DELTA_BITS = 32
_CHANNELS = 3
_RAW_BYTES = {0: 1, 1: 2, 2: 3}  # raw frame type -> bytes per channel value
_COMPRESSED_TYPES = (0, 1)
_MAX_TIMESTAMP = 2**63 - 1

STATUS_TEXT = {
    0: "success",
    1: "invalid op code",
    2: "invalid measurement type",
    3: "not supported",
    4: "invalid length",
    5: "invalid parameter",
    6: "already in state",
    7: "invalid resolution",
    8: "invalid sample rate",
    9: "invalid range",
    10: "invalid MTU",
    11: "invalid number of channels",
    12: "invalid state",
    13: "device in charger",
    14: "disk full",
}

#: Feature bits of the control-point read: (byte index, mask) -> name.
FEATURE_BITS = {
    (1, 0x01): "ecg",
    (1, 0x02): "ppg",
    (1, 0x04): "acc",
    (1, 0x08): "ppi",
    (1, 0x20): "gyro",
    (1, 0x40): "mag",
    (1, 0x80): "skin_temp",
    (2, 0x02): "sdk_mode",
    (2, 0x04): "location",
    (2, 0x08): "pressure",
    (2, 0x10): "temperature",
    (2, 0x20): "offline_recording",
    (2, 0x40): "offline_hr",
}

#: Setting types: id -> (name, field size in bytes, struct format).
SETTING_TYPES = {
    0: ("sample_rate_hz", 2, "<H"),
    1: ("resolution_bits", 2, "<H"),
    2: ("range_g", 2, "<H"),
    3: ("range_milliunit", 4, "<i"),
    4: ("channels", 1, "<B"),
    5: ("factor", 4, "<f"),
}

#: What the H10 offers (devices.md): rates in Hz and ranges in g.
H10_RATES_HZ = (25, 50, 100, 200)
H10_RANGES_G = (2, 4, 8)


# --- commands and responses -------------------------------------------------


def build_get_settings_command(measurement_type: int = ACC) -> bytes:
    """Control-point command asking which settings a measurement offers (``01 02``)."""
    return bytes((OP_GET_SETTINGS, _u8(measurement_type, "measurement type")))


def build_start_command(
    fs_hz: int,
    range_g: int,
    resolution: int = 16,
    *,
    channels: int | None = None,
    measurement_type: int = ACC,
) -> bytes:
    """Control-point command starting a stream.

    ``build_start_command(200, 8)`` is the H10's 200 Hz / 16 bit / +/-8 g
    ``02 02 00 01 C8 00 01 01 10 00 02 01 08 00``. ``channels`` adds the channels
    setting (type 4) that the Verity Sense's SDK mode needs. Values must fit the
    setting's field (u16; u8 for channels), else :class:`DeviceError`.
    """
    out = bytearray((OP_START, _u8(measurement_type, "measurement type")))
    for kind, value in ((0, fs_hz), (1, resolution), (2, range_g)):
        name = SETTING_TYPES[kind][0]
        if not isinstance(value, int | np.integer) or not 0 < int(value) <= 0xFFFF:
            raise DeviceError(f"Polar PMD start command: {name} must be 1..65535, got {value!r}")
        out += bytes((kind, 1)) + struct.pack("<H", int(value))
    if channels is not None:
        out += bytes((4, 1, _u8(channels, "channels")))
    return bytes(out)


def build_stop_command(measurement_type: int = ACC) -> bytes:
    """Control-point command stopping a stream (``03 02``)."""
    return bytes((OP_STOP, _u8(measurement_type, "measurement type")))


def _u8(value: object, name: str) -> int:
    if not isinstance(value, int | np.integer) or not 0 <= int(value) <= 0xFF:
        raise DeviceError(f"Polar PMD command: {name} must be 0..255, got {value!r}")
    return int(value)


@dataclass(frozen=True)
class ControlPointResponse:
    """A control-point indication ``F0, opcode, type, status, more, params...``."""

    opcode: int
    measurement_type: int
    status: int
    status_text: str
    more: bool  #: continuation indications follow (join them with :func:`join_responses`)
    params: bytes

    @property
    def ok(self) -> bool:
        """True when the sensor reports success."""
        return self.status == 0


def parse_control_point_response(data: bytes) -> ControlPointResponse:
    """Parse a control-point indication (an answer to a command).

    As in the SDK, ``more`` and ``params`` are only read from a successful
    response; an error response carries neither. Sensor-initiated "measurement
    stopped" indications (first byte 0x01) are not responses: see
    :func:`parse_measurement_stopped`.
    """
    raw = as_bytes(data, "Polar PMD control point")
    if len(raw) < 4:
        raise DecodeError(
            f"Polar PMD control point: response of {len(raw)} bytes, needs at least 4 "
            "(F0, opcode, type, status)"
        )
    if raw[0] != RESPONSE_CODE:
        raise DecodeError(
            f"Polar PMD control point: first byte 0x{raw[0]:02X} is not the response code 0xF0"
        )
    status = raw[3]
    ok = status == 0
    return ControlPointResponse(
        opcode=raw[1],
        measurement_type=raw[2],
        status=status,
        status_text=STATUS_TEXT.get(status, f"unknown status {status}"),
        more=ok and len(raw) > 4 and raw[4] != 0,
        params=raw[5:] if ok else b"",
    )


def join_responses(responses: list[ControlPointResponse]) -> ControlPointResponse:
    """One response from a first indication and its continuations (params concatenated)."""
    if not responses:
        raise DecodeError("Polar PMD control point: no response to join")
    first = responses[0]
    for nxt in responses[1:]:
        if nxt.opcode != first.opcode:
            raise DecodeError(
                f"Polar PMD control point: continuation for opcode {nxt.opcode} "
                f"does not follow opcode {first.opcode}"
            )
    params = b"".join(r.params for r in responses)
    return replace(first, params=params, more=responses[-1].more)


def parse_measurement_stopped(data: bytes) -> tuple[int, ...] | None:
    """Measurement types the sensor reports it stopped by itself, or None.

    A control-point indication ``01 [types...]`` (not a response) means the
    sensor ended those streams (e.g. the H10 left the strap).
    """
    raw = as_bytes(data, "Polar PMD control point")
    if not raw or raw[0] != MEASUREMENT_STOPPED_CODE:
        return None
    return tuple(b & 0x3F for b in raw[1:])


def parse_features(data: bytes) -> set[str]:
    """Measurement types a sensor offers, from reading the control point.

    An H10 answers ``0F 05 ...``: ``{"ecg", "acc"}``.
    """
    raw = as_bytes(data, "Polar PMD features")
    if len(raw) < 2 or raw[0] != FEATURES_CODE:
        raise DecodeError(
            "Polar PMD features: expected 0x0F followed by a bitmask, got "
            + (raw[:4].hex(" ") or "nothing")
        )
    return {name for (i, mask), name in FEATURE_BITS.items() if i < len(raw) and raw[i] & mask}


def parse_settings(params: bytes) -> dict[str, tuple[int | float, ...]]:
    """Settings from a get-settings or start response: ``[type][count][values LE]...``.

    Returns e.g. ``{"sample_rate_hz": (25, 50, 100, 200), "resolution_bits": (16,),
    "range_g": (2, 4, 8)}``; ``"factor"`` values are float32 read as floats. Value
    order is kept. Empty params give ``{}``.
    """
    raw = as_bytes(params, "Polar PMD settings")
    out: dict[str, tuple[int | float, ...]] = {}
    pos = 0
    while pos < len(raw):
        if pos + 2 > len(raw):
            raise DecodeError(f"Polar PMD settings: truncated setting header at byte {pos}")
        kind, count = raw[pos], raw[pos + 1]
        pos += 2
        if kind not in SETTING_TYPES:
            raise DecodeError(f"Polar PMD settings: unknown setting type {kind} at byte {pos - 2}")
        name, size, fmt = SETTING_TYPES[kind]
        end = pos + count * size
        if end > len(raw):
            raise DecodeError(
                f"Polar PMD settings: {name} announces {count} values of {size} bytes "
                f"but only {len(raw) - pos} bytes remain"
            )
        values = tuple(struct.unpack_from(fmt, raw, pos + i * size)[0] for i in range(count))
        if kind == 5:
            values = tuple(float(v) for v in values)
        out[name] = out.get(name, ()) + values
        pos = end
    return out


# --- data frames ------------------------------------------------------------


def decode_pmd_frame(
    frame: bytes,
    *,
    factor: float = 1.0,
    previous_timestamp_ns: int | None = None,
    sample_rate_hz: float | None = None,
) -> tuple[IntArray, FloatArray]:
    """Decode one Polar PMD accelerometer data notification.

    Parameters
    ----------
    frame : bytes
        The notification (header and payload), raw or delta-compressed.
    factor : float
        The ``factor`` setting from the start response (1.0 when the sensor sends
        none). Applies to compressed frames only, as in the Polar SDK.
    previous_timestamp_ns : int, optional
        Timestamp of the previous frame of the same stream; samples are then
        spread evenly between it and this frame's timestamp.
    sample_rate_hz : float, optional
        Nominal rate, used to space samples when the previous timestamp is unknown.

    Returns
    -------
    timestamps_ns : ndarray of int64, shape (n,)
        Sensor time of each sample in ns since 2000-01-01; the last equals the
        frame's timestamp.
    acc_mg : ndarray of float64, shape (n, 3)
        Acceleration in mG.

    Raises
    ------
    DecodeError
        (a ``ValueError``) for a malformed frame, a frame that is not ACC, a
        timestamp not after ``previous_timestamp_ns``, or a frame of several
        samples with neither ``previous_timestamp_ns`` nor ``sample_rate_hz``.
    """
    raw = as_bytes(frame, "Polar PMD frame")
    ts, compressed, ftype = _parse_header(raw)
    scale = _check_factor(factor) if compressed else 1.0
    if compressed:
        counts = _decode_compressed(raw, HEADER_BYTES)
        if ftype == 0:
            scale *= 1000.0  # type 0 values x factor are g
    else:
        counts = _decode_raw(raw, HEADER_BYTES, ftype)
    with np.errstate(all="ignore"):
        acc_mg = counts.astype(np.float64) * scale
    if not np.all(np.isfinite(acc_mg)):
        raise DecodeError(f"Polar PMD frame: factor {factor!r} gives non-finite accelerations")
    times = _sample_times(ts, counts.shape[0], previous_timestamp_ns, sample_rate_hz)
    return times, acc_mg


def _parse_header(raw: bytes) -> tuple[int, bool, int]:
    if len(raw) < HEADER_BYTES:
        raise DecodeError(
            f"Polar PMD frame: {len(raw)} bytes, shorter than the {HEADER_BYTES}-byte header"
        )
    if raw[0] != ACC:
        raise DecodeError(
            f"Polar PMD frame: measurement type {raw[0]} is not the accelerometer ({ACC})"
        )
    (ts,) = struct.unpack_from("<Q", raw, 1)
    if ts > _MAX_TIMESTAMP:
        raise DecodeError(f"Polar PMD frame: timestamp {ts} ns is beyond any sensor clock")
    compressed = bool(raw[9] & 0x80)
    ftype = raw[9] & 0x7F
    known = _COMPRESSED_TYPES if compressed else tuple(_RAW_BYTES)
    if ftype not in known:
        kind = "compressed" if compressed else "raw"
        raise DecodeError(
            f"Polar PMD frame: unknown {kind} ACC frame type {ftype} (frame type byte "
            f"0x{raw[9]:02X}); known {kind} types are {', '.join(map(str, known))}"
        )
    return ts, compressed, ftype


def _check_factor(factor: object) -> float:
    try:
        value = float(factor)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise DecodeError(f"Polar PMD frame: factor {factor!r} is not a number") from None
    if not math.isfinite(value):
        raise DecodeError(f"Polar PMD frame: factor {factor!r} is not finite")
    return value


def _decode_raw(raw: bytes, start: int, ftype: int) -> IntArray:
    width = _RAW_BYTES[ftype]
    payload = len(raw) - start
    step = width * _CHANNELS
    if payload == 0 or payload % step:
        raise DecodeError(
            f"Polar PMD frame: raw type {ftype} payload of {payload} bytes is not a whole, "
            f"non-zero number of {step}-byte samples"
        )
    if width == 1:
        vals = np.frombuffer(raw, dtype=np.int8, offset=start)
    elif width == 2:
        vals = np.frombuffer(raw, dtype="<i2", offset=start)
    else:
        b = np.frombuffer(raw, dtype=np.uint8, offset=start).reshape(-1, 3).astype(np.int64)
        vals = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        vals = vals - ((vals & 0x800000) << 1)
    return vals.astype(np.int64).reshape(-1, _CHANNELS)


def _decode_compressed(raw: bytes, start: int) -> IntArray:
    ref_bytes = _CHANNELS * (COMPRESSED_REFERENCE_BITS // 8)
    if len(raw) - start < ref_bytes:
        raise DecodeError(
            f"Polar PMD frame: compressed payload of {len(raw) - start} bytes is shorter "
            f"than its {ref_bytes}-byte reference sample"
        )
    ref = np.frombuffer(raw, dtype="<i2", count=_CHANNELS, offset=start).astype(np.int64)
    pos = start + ref_bytes
    deltas: list[IntArray] = []
    while pos < len(raw):
        if pos + 2 > len(raw):
            raise DecodeError(
                f"Polar PMD frame: lone byte at offset {pos} where a delta block header "
                "(bit width, count) should start"
            )
        width, count = raw[pos], raw[pos + 1]
        pos += 2
        if count == 0:
            continue
        if not 1 <= width <= _MAX_DELTA_BITS:
            raise DecodeError(
                f"Polar PMD frame: delta block at offset {pos - 2} has bit width {width} "
                f"(must be 1..{_MAX_DELTA_BITS}) for {count} samples"
            )
        n_bits = width * count * _CHANNELS
        n_bytes = (n_bits + 7) // 8
        if pos + n_bytes > len(raw):
            raise DecodeError(
                f"Polar PMD frame: delta block at offset {pos - 2} needs {n_bytes} bytes "
                f"({count} samples x {width} bits x {_CHANNELS}) but {len(raw) - pos} remain"
            )
        bits = np.unpackbits(
            np.frombuffer(raw, dtype=np.uint8, count=n_bytes, offset=pos), bitorder="little"
        )[:n_bits].reshape(-1, width)
        weights = np.left_shift(np.int64(1), np.arange(width, dtype=np.int64))
        fields = bits.astype(np.int64) @ weights
        fields -= (fields >> (width - 1)) << width  # two's complement of a width-bit field
        deltas.append(fields.reshape(count, _CHANNELS))
        pos += n_bytes
    if not deltas:
        return ref.reshape(1, _CHANNELS)
    steps = np.concatenate(deltas, axis=0)
    return np.vstack((ref, ref + np.cumsum(steps, axis=0)))


def _sample_times(
    ts: int, n: int, previous_timestamp_ns: int | None, sample_rate_hz: float | None
) -> IntArray:
    if previous_timestamp_ns is not None:
        try:
            prev = int(previous_timestamp_ns)
        except (TypeError, ValueError):
            raise DecodeError(
                f"Polar PMD frame: previous timestamp {previous_timestamp_ns!r} is not an integer"
            ) from None
        if prev != previous_timestamp_ns or not 0 <= prev <= _MAX_TIMESTAMP:
            raise DecodeError(
                f"Polar PMD frame: previous timestamp {previous_timestamp_ns!r} is not an "
                "integer in 0..2**63-1 ns"
            )
        if ts <= prev:
            raise DecodeError(
                f"Polar PMD frame: timestamp {ts} ns is not after the previous frame's {prev} ns "
                "(sensor clock reset?)"
            )
        return prev + _round_div_half_even(ts - prev, n)
    if n == 1:
        return np.array([ts], dtype=np.int64)
    if sample_rate_hz is None:
        raise DecodeError(
            f"Polar PMD frame: {n} samples but neither the previous frame's timestamp nor "
            "the sample rate is known, so the samples cannot be placed in time"
        )
    try:
        rate = float(sample_rate_hz)
    except (TypeError, ValueError):
        raise DecodeError(
            f"Polar PMD frame: sample rate {sample_rate_hz!r} is not a number"
        ) from None
    if not (math.isfinite(rate) and rate > 0):
        raise DecodeError(f"Polar PMD frame: sample rate {sample_rate_hz!r} Hz must be positive")
    step_ns = 1e9 / rate
    if not step_ns * (n - 1) < 2**62:
        raise DecodeError(f"Polar PMD frame: sample rate {rate} Hz is implausibly low")
    back = np.rint(np.arange(n - 1, -1, -1, dtype=np.float64) * step_ns)
    return ts - back.astype(np.int64)


def _round_div_half_even(offset: int, n: int) -> IntArray:
    """``round(offset * k / n)`` for k = 1..n, exactly, ties to even."""
    if offset < (2**62) // n:
        num = np.arange(1, n + 1, dtype=np.int64) * offset
        q, r = np.divmod(num, n)
        up = (2 * r > n) | ((2 * r == n) & (q % 2 == 1))
        return q + up
    out = []
    for k in range(1, n + 1):
        q, r = divmod(offset * k, n)
        out.append(q + (2 * r > n or (2 * r == n and q % 2 == 1)))
    return np.array(out, dtype=np.int64)


# --- encoder (simulated sensors) --------------------------------------------


def encode_acc_frame(
    acc_mg: ArrayLike,
    timestamp_ns: int,
    *,
    frame_type: int = 1,
    compressed: bool = False,
    factor: float = 1.0,
    block_samples: int = 255,
) -> bytes:
    """Encode accelerometer samples as one PMD data notification.

    Parameters
    ----------
    acc_mg : array_like, shape (n, 3)
        Acceleration in mG. Values are converted to the frame's counts (rounded;
        compressed type 0 divides by ``factor * 1000``, type 1 by ``factor``) and
        saturate at the type's limits like a real sensor (the compressed reference
        sample at int16).
    timestamp_ns : int
        Sensor time of the last sample, ns since 2000-01-01.
    frame_type : int
        0, 1 or 2 for raw frames (int8, int16, int24); 0 or 1 when compressed.
    compressed : bool
        Write a delta-compressed frame: each block of up to ``block_samples``
        deltas uses the smallest bit width that holds them.
    factor : float
        The stream's factor (compressed frames only).

    ``decode_pmd_frame(encode_acc_frame(x, ts, ...), factor=...)`` returns ``x``
    exactly for integer counts within range.
    """
    acc = np.asarray(acc_mg, dtype=np.float64)
    if acc.ndim != 2 or acc.shape[1] != _CHANNELS or acc.shape[0] == 0:
        raise ValueError(f"acc_mg must have shape (n, 3) with n >= 1, got {acc.shape}")
    if not 0 <= int(timestamp_ns) <= _MAX_TIMESTAMP:
        raise ValueError(f"timestamp_ns must be 0..2**63-1, got {timestamp_ns}")
    header = bytes((ACC,)) + struct.pack("<Q", int(timestamp_ns))
    if not compressed:
        if frame_type not in _RAW_BYTES:
            raise ValueError(f"raw frame_type must be 0, 1 or 2, got {frame_type}")
        width = _RAW_BYTES[frame_type]
        lim = 2 ** (8 * width - 1)
        counts = np.clip(np.rint(acc), -lim, lim - 1).astype(np.int64).ravel()
        payload = (counts & ((1 << (8 * width)) - 1)).astype("<u4").view(np.uint8)
        payload = payload.reshape(-1, 4)[:, :width].tobytes()
        return header + bytes((frame_type,)) + payload
    if frame_type not in _COMPRESSED_TYPES:
        raise ValueError(f"compressed frame_type must be 0 or 1, got {frame_type}")
    if not 1 <= block_samples <= 255:
        raise ValueError(f"block_samples must be 1..255, got {block_samples}")
    unit = factor * 1000.0 if frame_type == 0 else factor
    counts = np.rint(acc / unit).astype(np.int64)
    counts[0] = np.clip(counts[0], -(2**15), 2**15 - 1)
    # Keep every delta within 32 bits (the widest block), as a real sensor would.
    counts = np.clip(counts, -(2**30), 2**30 - 1)
    out = bytearray(header + bytes((0x80 | frame_type,)))
    out += counts[0].astype("<i2").tobytes()
    deltas = np.diff(counts, axis=0)
    for i in range(0, deltas.shape[0], block_samples):
        block = deltas[i : i + block_samples]
        width = max(_bits_needed(int(block.min())), _bits_needed(int(block.max())))
        out += bytes((width, block.shape[0])) + _pack_fields(block.ravel(), width)
    return bytes(out)


def _bits_needed(v: int) -> int:
    """Smallest two's complement width (>= 1) that holds ``v``."""
    return max(1, (v.bit_length() if v >= 0 else (~v).bit_length()) + 1) if v else 1


def _pack_fields(fields: IntArray, width: int) -> bytes:
    acc = 0
    mask = (1 << width) - 1
    for i, f in enumerate(fields.tolist()):
        acc |= (f & mask) << (i * width)
    n_bytes = (fields.size * width + 7) // 8
    return acc.to_bytes(n_bytes, "little")


# --- stream decoder -----------------------------------------------------------


class PolarAccStreamDecoder:
    """Stateful decoder of one Polar ACC stream: notifications in, SI batches out.

    Parameters
    ----------
    factor : float
        The stream's factor from the start response (1.0 if none).
    sample_rate_hz : float, optional
        The rate the stream was started with. Needed to place the first frame's
        samples in time and to recognise gaps; without it the first frame of
        several samples raises DecodeError.
    max_step_ratio : float
        A frame whose mean sample spacing (from its timestamp and the previous
        frame's) exceeds ``max_step_ratio`` times the nominal spacing follows a
        gap (lost notifications): its samples are then spaced at the nominal
        rate back from its timestamp and ``lost_packets`` estimates the frames
        missed. Default 1.5 (an H10's clock is within a few percent of nominal).

    Attributes
    ----------
    frames_ : int
        ACC frames decoded.
    skipped_frames_ : int
        Notifications of other measurement types, ignored.
    clock_resets_ : int
        Frames whose timestamp was not after the previous one (sensor clock
        reset); their samples are placed by the nominal rate.
    gaps_ : int
        Gaps detected (see ``max_step_ratio``).

    Notes
    -----
    The previous timestamp is kept per frame type byte, as the Polar SDK does.
    A malformed ACC frame raises :class:`DecodeError` and leaves the state as
    it was, so the session can log it and carry on.
    """

    def __init__(
        self,
        factor: float = 1.0,
        sample_rate_hz: float | None = None,
        *,
        max_step_ratio: float = 1.5,
    ) -> None:
        self.factor = factor
        self.sample_rate_hz = sample_rate_hz
        self.max_step_ratio = max_step_ratio
        self._prev: dict[int, int] = {}
        self.frames_ = 0
        self.skipped_frames_ = 0
        self.clock_resets_ = 0
        self.gaps_ = 0

    def reset(self) -> None:
        """Forget the previous timestamps (after a stop or a reconnection)."""
        self._prev.clear()

    def feed(self, data: bytes) -> list[SampleBatch]:
        """Decode one notification; ``[]`` for a frame of another measurement type."""
        raw = as_bytes(data, "Polar PMD frame")
        if len(raw) >= 1 and raw[0] != ACC:
            self.skipped_frames_ += 1
            return []
        ts, _, _ = _parse_header(raw)
        key = raw[9]
        prev = self._prev.get(key)
        lost = 0
        reset = gap = False
        if prev is not None and ts <= prev:
            reset, prev = True, None
        times, acc_mg = decode_pmd_frame(
            raw, factor=self.factor, previous_timestamp_ns=prev, sample_rate_hz=self.sample_rate_hz
        )
        n = times.shape[0]
        if prev is not None and self.sample_rate_hz:
            nominal_ns = 1e9 / float(self.sample_rate_hz)
            if (ts - prev) / n > self.max_step_ratio * nominal_ns:
                gap = True
                missing = (ts - prev) / nominal_ns - n
                lost = max(1, round(missing / n))
                times, acc_mg = decode_pmd_frame(
                    raw, factor=self.factor, sample_rate_hz=self.sample_rate_hz
                )
        self._prev[key] = ts
        self.clock_resets_ += reset
        self.gaps_ += gap
        self.frames_ += 1
        return [
            SampleBatch(
                acc_mps2=acc_mg * MG_TO_MPS2,
                gyr_dps=None,
                device_time_s=times.astype(np.float64) * 1e-9,
                seq=None,
                lost_packets=lost,
            )
        ]
