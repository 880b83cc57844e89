"""balance_mon open reference sensor: GATT profile, packet codec, stream decoder.

The profile is specified in ``firmware_notes/reference_sensor.md`` (the
normative text; this module follows it) and implemented by the sketch in
``firmware_notes/reference_firmware/``. Summary::

    service  0ff00001-d764-4aa2-a34d-0c598f475247
      data   0ff00002-...  notify       one packet per notification (below)
      config 0ff00003-...  read, write  6 bytes (encode_config / decode_config)
    battery 0x180F / 0x2A19, device information 0x180A

    data packet, little-endian
    off size  field
    0   1     version = 1
    1   1     flags: bit 0 gyroscope present, bit 1 sensor FIFO overflowed before
              this packet; bits 2-7 reserved (sent 0, ignored on receipt)
    2   2     sequence number, u16, +1 per packet, wraps 65535 -> 0
    4   4     device time of the FIRST sample, u32 microseconds, wraps every 2**32 us
    8   1     n samples: 1..19 with gyroscope, 1..38 without
    9   1     config: bits 0-2 rate code, bits 3-4 accelerometer range code,
              bits 5-6 gyroscope range code, bit 7 reserved
    10  n*S   samples, S = 12 (ax ay az gx gy gz) or 6 (ax ay az), int16 LE each
    ..  2     CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF) of all bytes before it

    rate codes  0..5 -> 12.5, 26, 52, 104, 208, 416 Hz (LSM6DS3 output data rates)
    acc ranges  0..3 -> +/-2, 4, 8, 16 g   at 0.061, 0.122, 0.244, 0.488 mG per count
    gyr ranges  0..3 -> +/-250, 500, 1000, 2000 deg/s at 8.75, 17.5, 35, 70 mdeg/s per count
"""

from __future__ import annotations

import binascii
import struct
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..consts import MG_TO_MPS2
from ..errors import DecodeError, DeviceError
from .frames import SampleBatch, as_bytes

__all__ = [
    "ACC_LSB_MG",
    "ACC_RANGES_G",
    "BATTERY_LEVEL_UUID",
    "BATTERY_SERVICE_UUID",
    "CONFIG_CHAR_UUID",
    "DATA_CHAR_UUID",
    "DEVICE_INFO_SERVICE_UUID",
    "GYR_LSB_MDPS",
    "GYR_RANGES_DPS",
    "RATES_HZ",
    "SERVICE_UUID",
    "ReferenceConfig",
    "ReferencePacket",
    "ReferenceStreamDecoder",
    "crc16_ccitt",
    "decode_config",
    "decode_packet",
    "encode_config",
    "encode_packet",
    "encode_packet_counts",
    "sort_packets",
]

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]

# --- GATT -------------------------------------------------------------------

SERVICE_UUID = "0ff00001-d764-4aa2-a34d-0c598f475247"
DATA_CHAR_UUID = "0ff00002-d764-4aa2-a34d-0c598f475247"
CONFIG_CHAR_UUID = "0ff00003-d764-4aa2-a34d-0c598f475247"
BATTERY_SERVICE_UUID = "0000180f-0000-1000-8000-00805f9b34fb"
BATTERY_LEVEL_UUID = "00002a19-0000-1000-8000-00805f9b34fb"
DEVICE_INFO_SERVICE_UUID = "0000180a-0000-1000-8000-00805f9b34fb"
MANUFACTURER_NAME_UUID = "00002a29-0000-1000-8000-00805f9b34fb"
MODEL_NUMBER_UUID = "00002a24-0000-1000-8000-00805f9b34fb"
FIRMWARE_REVISION_UUID = "00002a26-0000-1000-8000-00805f9b34fb"

# --- protocol constants -----------------------------------------------------

VERSION = 1
HEADER_BYTES = 10
CRC_BYTES = 2
#: Largest notification payload at the ATT MTU of 247 the firmware negotiates.
MAX_PAYLOAD_BYTES = 244
MAX_SAMPLES_GYRO = (MAX_PAYLOAD_BYTES - HEADER_BYTES - CRC_BYTES) // 12  # 19
MAX_SAMPLES_ACC = (MAX_PAYLOAD_BYTES - HEADER_BYTES - CRC_BYTES) // 6  # 38
RATES_HZ = (12.5, 26.0, 52.0, 104.0, 208.0, 416.0)
ACC_RANGES_G = (2, 4, 8, 16)
ACC_LSB_MG = (0.061, 0.122, 0.244, 0.488)
GYR_RANGES_DPS = (250, 500, 1000, 2000)
GYR_LSB_MDPS = (8.75, 17.5, 35.0, 70.0)
CONFIG_BYTES = 6

_FLAG_GYRO = 0x01
_FLAG_OVERFLOW = 0x02
_U16 = 1 << 16
_U32 = 1 << 32


def crc16_ccitt(data: bytes) -> int:
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, no final xor).

    The catalogue check value: ``crc16_ccitt(b"123456789") == 0x29B1``.
    """
    return binascii.crc_hqx(data, 0xFFFF)


# --- configuration characteristic ---------------------------------------------


@dataclass(frozen=True)
class ReferenceConfig:
    """Contents of the configuration characteristic (6 bytes, read/write).

    ``samples_per_packet`` 0 lets the firmware choose the largest that fits.
    """

    streaming: bool = False
    gyro_enabled: bool = True
    rate_code: int = 3
    acc_range_code: int = 2
    gyr_range_code: int = 3
    samples_per_packet: int = 0

    def __post_init__(self) -> None:
        problem = _config_problem(
            self.rate_code,
            self.acc_range_code,
            self.gyr_range_code,
            self.samples_per_packet,
            self.gyro_enabled,
        )
        if problem:
            raise DeviceError(f"reference sensor configuration: {problem}")

    @property
    def rate_hz(self) -> float:
        return RATES_HZ[self.rate_code]

    @property
    def acc_range_g(self) -> int:
        return ACC_RANGES_G[self.acc_range_code]

    @property
    def gyr_range_dps(self) -> int:
        return GYR_RANGES_DPS[self.gyr_range_code]

    @classmethod
    def from_si(
        cls,
        *,
        rate_hz: float = 104.0,
        acc_range_g: int = 8,
        gyr_range_dps: int = 2000,
        gyro_enabled: bool = True,
        streaming: bool = True,
        samples_per_packet: int = 0,
    ) -> ReferenceConfig:
        """A configuration from rate and ranges; unsupported values raise DeviceError."""
        for name, value, table in (
            ("rate", rate_hz, RATES_HZ),
            ("accelerometer range", acc_range_g, ACC_RANGES_G),
            ("gyroscope range", gyr_range_dps, GYR_RANGES_DPS),
        ):
            if value not in table:
                raise DeviceError(
                    f"reference sensor: {name} {value} is not offered; choose one of "
                    + ", ".join(f"{v:g}" for v in table)
                )
        return cls(
            streaming=streaming,
            gyro_enabled=gyro_enabled,
            rate_code=RATES_HZ.index(rate_hz),
            acc_range_code=ACC_RANGES_G.index(acc_range_g),
            gyr_range_code=GYR_RANGES_DPS.index(gyr_range_dps),
            samples_per_packet=samples_per_packet,
        )


def _config_problem(rate: int, acc: int, gyr: int, per_packet: int, gyro: bool) -> str | None:
    if not 0 <= rate < len(RATES_HZ):
        return f"rate code {rate} unknown (0..{len(RATES_HZ) - 1})"
    if not 0 <= acc < len(ACC_RANGES_G):
        return f"accelerometer range code {acc} unknown (0..3)"
    if not 0 <= gyr < len(GYR_RANGES_DPS):
        return f"gyroscope range code {gyr} unknown (0..3)"
    most = MAX_SAMPLES_GYRO if gyro else MAX_SAMPLES_ACC
    if not 0 <= per_packet <= most:
        return f"{per_packet} samples per packet; at most {most} fit one notification"
    return None


def encode_config(config: ReferenceConfig) -> bytes:
    """The 6 bytes written to (or read from) the configuration characteristic."""
    flags = (1 if config.streaming else 0) | (2 if config.gyro_enabled else 0)
    return bytes(
        (
            VERSION,
            flags,
            config.rate_code,
            config.acc_range_code,
            config.gyr_range_code,
            config.samples_per_packet,
        )
    )


def decode_config(data: bytes) -> ReferenceConfig:
    """Parse the configuration characteristic; malformed contents raise DecodeError."""
    raw = as_bytes(data, "reference sensor configuration")
    if len(raw) != CONFIG_BYTES:
        raise DecodeError(
            f"reference sensor configuration: {len(raw)} bytes, expected {CONFIG_BYTES}"
        )
    if raw[0] != VERSION:
        raise DecodeError(f"reference sensor configuration: unknown version {raw[0]}")
    if raw[1] & ~0x03:
        raise DecodeError(
            f"reference sensor configuration: reserved flag bits set (0x{raw[1]:02X})"
        )
    gyro = bool(raw[1] & 2)
    problem = _config_problem(raw[2], raw[3], raw[4], raw[5], gyro)
    if problem:
        raise DecodeError(f"reference sensor configuration: {problem}")
    return ReferenceConfig(
        streaming=bool(raw[1] & 1),
        gyro_enabled=gyro,
        rate_code=raw[2],
        acc_range_code=raw[3],
        gyr_range_code=raw[4],
        samples_per_packet=raw[5],
    )


# --- data packets -------------------------------------------------------------


@dataclass(frozen=True)
class ReferencePacket:
    """One decoded data packet; counts as sent, SI values as properties."""

    seq: int
    timestamp_us: int  #: device time of the first sample, u32 (wrapping) microseconds
    rate_code: int
    acc_range_code: int
    gyr_range_code: int
    fifo_overflow: bool
    acc_counts: IntArray  #: (n, 3) int64
    gyr_counts: IntArray | None  #: (n, 3) int64 or None

    @property
    def n_samples(self) -> int:
        return int(self.acc_counts.shape[0])

    @property
    def fs_hz(self) -> float:
        return RATES_HZ[self.rate_code]

    @property
    def acc_mps2(self) -> FloatArray:
        return self.acc_counts * (ACC_LSB_MG[self.acc_range_code] * MG_TO_MPS2)

    @property
    def gyr_dps(self) -> FloatArray | None:
        if self.gyr_counts is None:
            return None
        return self.gyr_counts * (GYR_LSB_MDPS[self.gyr_range_code] / 1000.0)

    def config_byte(self) -> int:
        return self.rate_code | (self.acc_range_code << 3) | (self.gyr_range_code << 5)


def decode_packet(data: bytes) -> ReferencePacket:
    """Decode one data notification; any malformation raises DecodeError."""
    raw = as_bytes(data, "reference sensor packet")
    if len(raw) < HEADER_BYTES + CRC_BYTES:
        raise DecodeError(
            f"reference sensor packet: {len(raw)} bytes, shorter than header and CRC "
            f"({HEADER_BYTES + CRC_BYTES})"
        )
    if raw[0] != VERSION:
        raise DecodeError(
            f"reference sensor packet: protocol version {raw[0]}, this program reads {VERSION}"
        )
    flags, seq, t_us, n, cfg = raw[1], *struct.unpack_from("<HIBB", raw, 2)
    gyro = bool(flags & _FLAG_GYRO)
    size = 12 if gyro else 6
    most = MAX_SAMPLES_GYRO if gyro else MAX_SAMPLES_ACC
    if not 1 <= n <= most:
        raise DecodeError(f"reference sensor packet: sample count {n} outside 1..{most}")
    expected = HEADER_BYTES + n * size + CRC_BYTES
    if len(raw) != expected:
        raise DecodeError(
            f"reference sensor packet: {len(raw)} bytes, but {n} samples "
            f"{'with' if gyro else 'without'} gyroscope make {expected}"
        )
    (crc,) = struct.unpack_from("<H", raw, expected - CRC_BYTES)
    if crc != crc16_ccitt(raw[: expected - CRC_BYTES]):
        raise DecodeError(
            f"reference sensor packet {seq}: CRC mismatch (corrupted or not a data packet)"
        )
    rate, acc_code, gyr_code = cfg & 0x07, (cfg >> 3) & 0x03, (cfg >> 5) & 0x03
    if rate >= len(RATES_HZ) or cfg & 0x80:
        raise DecodeError(f"reference sensor packet {seq}: config byte 0x{cfg:02X} is invalid")
    vals = np.frombuffer(raw, dtype="<i2", count=n * size // 2, offset=HEADER_BYTES)
    vals = vals.astype(np.int64).reshape(n, size // 2)
    return ReferencePacket(
        seq=seq,
        timestamp_us=t_us,
        rate_code=rate,
        acc_range_code=acc_code,
        gyr_range_code=gyr_code,
        fifo_overflow=bool(flags & _FLAG_OVERFLOW),
        acc_counts=vals[:, :3],
        gyr_counts=vals[:, 3:] if gyro else None,
    )


def encode_packet_counts(
    seq: int,
    timestamp_us: int,
    acc_counts: ArrayLike,
    gyr_counts: ArrayLike | None = None,
    *,
    rate_code: int = 3,
    acc_range_code: int = 2,
    gyr_range_code: int = 3,
    fifo_overflow: bool = False,
) -> bytes:
    """Encode a packet from raw counts (int16 each); invalid input raises ValueError."""
    acc = np.asarray(acc_counts)
    gyro = gyr_counts is not None
    most = MAX_SAMPLES_GYRO if gyro else MAX_SAMPLES_ACC
    if acc.ndim != 2 or acc.shape[1] != 3 or not 1 <= acc.shape[0] <= most:
        raise ValueError(
            f"acc_counts must have shape (n, 3) with 1 <= n <= {most}, got {acc.shape}"
        )
    cols = [acc]
    if gyro:
        gyr = np.asarray(gyr_counts)
        if gyr.shape != acc.shape:
            raise ValueError(f"gyr_counts shape {gyr.shape} differs from acc_counts {acc.shape}")
        cols.append(gyr)
    block = np.hstack(cols)
    if np.any(block != np.rint(block)) or np.any(block < -(2**15)) or np.any(block >= 2**15):
        raise ValueError("counts must be integers in -32768..32767")
    if _config_problem(rate_code, acc_range_code, gyr_range_code, acc.shape[0], gyro):
        raise ValueError(
            "invalid rate or range code: "
            + str(_config_problem(rate_code, acc_range_code, gyr_range_code, acc.shape[0], gyro))
        )
    flags = (_FLAG_GYRO if gyro else 0) | (_FLAG_OVERFLOW if fifo_overflow else 0)
    cfg = rate_code | (acc_range_code << 3) | (gyr_range_code << 5)
    body = (
        struct.pack("<BBHIBB", VERSION, flags, seq % _U16, timestamp_us % _U32, acc.shape[0], cfg)
        + block.astype("<i2").tobytes()
    )
    return body + struct.pack("<H", crc16_ccitt(body))


def encode_packet(
    seq: int,
    timestamp_us: int,
    acc_mps2: ArrayLike,
    gyr_dps: ArrayLike | None = None,
    *,
    rate_code: int = 3,
    acc_range_code: int = 2,
    gyr_range_code: int = 3,
    fifo_overflow: bool = False,
) -> bytes:
    """Encode a packet from SI values, as the firmware would: round to counts, saturate.

    ``seq`` and ``timestamp_us`` are taken modulo 2**16 and 2**32 (they wrap).
    """
    acc_lsb = ACC_LSB_MG[acc_range_code] * MG_TO_MPS2
    acc = np.clip(np.rint(np.asarray(acc_mps2, dtype=np.float64) / acc_lsb), -32768, 32767)
    gyr = None
    if gyr_dps is not None:
        gyr_lsb = GYR_LSB_MDPS[gyr_range_code] / 1000.0
        gyr = np.clip(np.rint(np.asarray(gyr_dps, dtype=np.float64) / gyr_lsb), -32768, 32767)
    return encode_packet_counts(
        seq,
        timestamp_us,
        acc.astype(np.int64),
        None if gyr is None else gyr.astype(np.int64),
        rate_code=rate_code,
        acc_range_code=acc_range_code,
        gyr_range_code=gyr_range_code,
        fifo_overflow=fifo_overflow,
    )


def sort_packets(packets: Iterable[ReferencePacket]) -> list[ReferencePacket]:
    """Packets in sending order, exact duplicates dropped (offline reordering).

    Order is the sequence number unwrapped around the first packet's (valid while
    the packets span fewer than 32768 sequence numbers, about 50 min at 104 Hz and
    10 samples per packet), then the device time unwrapped the same way.
    """
    items = list(packets)
    if not items:
        return []
    s0, t0 = items[0].seq, items[0].timestamp_us

    def key(p: ReferencePacket) -> tuple[int, int]:
        ds = (p.seq - s0 + _U16 // 2) % _U16 - _U16 // 2
        dt = (p.timestamp_us - t0 + _U32 // 2) % _U32 - _U32 // 2
        return ds, dt

    out: list[ReferencePacket] = []
    seen: set[tuple[int, int]] = set()
    for p in sorted(items, key=key):
        k = (p.seq, p.timestamp_us)
        if k not in seen:
            seen.add(k)
            out.append(p)
    return out


# --- stream decoder -------------------------------------------------------------


class ReferenceStreamDecoder:
    """Stateful decoder of the reference sensor's data notifications.

    Loss detection: the u16 sequence number must advance by 1. A forward jump
    of ``d`` (computed modulo 2**16, ``1 <= d < 32768``) means ``d - 1`` packets
    were lost: the batch's ``lost_packets`` says so and ``lost_packets_`` adds
    up. ``d == 0`` is a duplicate and ``d >= 32768`` a packet older than the
    last one (late): both are dropped (``[]``) and counted.

    Time: the u32 microsecond device time is unwrapped by the forward difference
    modulo 2**32 from the previous accepted packet (valid while consecutive
    accepted packets are less than 2**31 us, 35.8 min, apart: a link is dropped
    long before). Sample ``i`` of a packet sits at ``t_first + i * step``;
    ``step`` is the mean spacing measured over the previous packet when it was
    contiguous, had the same configuration and is within 5 % of nominal (so the
    IMU's own clock error is followed), else ``1 / fs``. ``device_time_s`` is the
    unwrapped device clock in seconds: the first packet's raw u32 value plus
    2**32 us for every wrap since.

    A malformed packet raises :class:`DecodeError`, is counted in
    ``rejected_packets_`` and leaves the state unchanged.

    Attributes
    ----------
    packets_, lost_packets_, duplicate_packets_, late_packets_, rejected_packets_ : int
    fifo_overflows_ : int
        Packets flagged by the firmware as following a sensor FIFO overflow
        (samples lost inside the sensor, not on the radio).
    timing_anomalies_ : int
        Contiguous packets whose device-time step differs from the expected one
        by more than 25 % + 2 ms (clock trouble or a firmware bug).
    """

    def __init__(self) -> None:
        self._seq: int | None = None
        self._t_raw = 0
        self._t_unwrapped = 0
        self._prev_n = 0
        self._prev_cfg = -1
        self.packets_ = 0
        self.lost_packets_ = 0
        self.duplicate_packets_ = 0
        self.late_packets_ = 0
        self.rejected_packets_ = 0
        self.fifo_overflows_ = 0
        self.timing_anomalies_ = 0

    def reset(self) -> None:
        """Start afresh (after a reconnection or a device reboot)."""
        self.__init__()  # type: ignore[misc]

    def feed(self, data: bytes) -> list[SampleBatch]:
        try:
            pkt = decode_packet(data)
        except DecodeError:
            self.rejected_packets_ += 1
            raise
        nominal_us = 1e6 / pkt.fs_hz
        lost = 0
        step_us = nominal_us
        cfg = pkt.config_byte()
        if self._seq is None:
            t_unwrapped = pkt.timestamp_us
        else:
            d = (pkt.seq - self._seq) % _U16
            if d == 0:
                self.duplicate_packets_ += 1
                return []
            if d >= _U16 // 2:
                self.late_packets_ += 1
                return []
            lost = d - 1
            dt = (pkt.timestamp_us - self._t_raw) % _U32
            t_unwrapped = self._t_unwrapped + dt
            if lost == 0 and cfg == self._prev_cfg:
                measured = dt / self._prev_n
                expected = self._prev_n * nominal_us
                if abs(dt - expected) > 0.25 * expected + 2000:
                    self.timing_anomalies_ += 1
                if abs(measured - nominal_us) <= 0.05 * nominal_us:
                    step_us = measured
        self._seq = pkt.seq
        self._t_raw = pkt.timestamp_us
        self._t_unwrapped = t_unwrapped
        self._prev_n = pkt.n_samples
        self._prev_cfg = cfg
        self.packets_ += 1
        self.lost_packets_ += lost
        self.fifo_overflows_ += pkt.fifo_overflow
        times_us = t_unwrapped + step_us * np.arange(pkt.n_samples, dtype=np.float64)
        return [
            SampleBatch(
                acc_mps2=pkt.acc_mps2,
                gyr_dps=pkt.gyr_dps,
                device_time_s=times_us * 1e-6,
                seq=pkt.seq,
                lost_packets=lost,
            )
        ]
