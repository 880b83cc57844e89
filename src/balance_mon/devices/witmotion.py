"""WitMotion WT901BLECL / BWT901BLECL (Bluetooth 5.0) IMU: frames, commands, stream decoder.

Sources: ``/work/shared/reference/devices.md`` (Other devices); WitMotion's
own Python and Android examples (github.com/WITMOTION/WitBluetooth_BWT901BLE5_0:
``Python/BWT901BLE5.0_python_sdk/device_model.py``, ``Android_Java/.../
Bwt901bleResolver.java`` and ``Bwt901bleProcessor.java``) and the register map
of the ESPHome component that cites the WT901BLECL datasheet v23-0420
(github.com/rubenmuehlhans/esphome-witmotion). Written from those descriptions;
no code copied. Vectors: ``tests/vectors/witmotion_frames.json``.

Notifications on ``NOTIFY_UUID`` carry 20-byte frames, back to back; a frame may
be split across notifications or several may share one::

    0x55 0x61  ax ay az  gx gy gz  roll pitch yaw     9 x int16 LE, no checksum
               acc = raw / 32768 * 16 g, gyro = raw / 32768 * 2000 deg/s,
               angle = raw / 32768 * 180 deg
    0x55 0x71  regL regH  8 x int16 LE                answer to a register read: the
               values of registers reg, reg+1, ... reg+7

Commands are 5 bytes written to ``WRITE_UUID``: ``FF AA reg valueL valueH``;
writes that change settings are preceded by the unlock ``FF AA 69 88 B5`` and
followed by the save ``FF AA 00 00 00``; a register read is ``FF AA 27 reg 00``.
Registers read here: 0x3A-0x3C magnetometer (raw), 0x40 temperature (0.01 deg C),
0x51-0x54 quaternion (/32768), 0x64 battery voltage (0.01 V), 0x2E version.

There is no timestamp and no sequence number: samples are timed by the host
clock and the nominal rate (``device_time_s`` is None), and lost frames cannot
be detected. Resynchronisation: bytes are skipped up to the next 0x55 that is
followed by a known flag (0x61, 0x71); each such skip counts as one resync.
A 0x55 0x61 inside data can only be mistaken for a header while searching, not
once aligned, since aligned frames are consumed 20 bytes at a time.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..consts import GRAVITY_MPS2
from ..errors import DecodeError, DeviceError
from .frames import SampleBatch, as_bytes

__all__ = [
    "NOTIFY_UUID",
    "RATE_CODES",
    "SERVICE_UUID",
    "WRITE_UUID",
    "WitFrame",
    "WitMotionStreamDecoder",
    "build_rate_commands",
    "build_read_register",
    "build_save",
    "build_unlock",
    "build_write_register",
    "decode_frame",
    "decode_register_frame",
    "encode_frame",
    "encode_frame_raw",
    "encode_register_frame",
]

FloatArray = NDArray[np.float64]

# Note the 9a34fb base: these are not Bluetooth SIG UUIDs (devices.md).
SERVICE_UUID = "0000ffe5-0000-1000-8000-00805f9a34fb"
NOTIFY_UUID = "0000ffe4-0000-1000-8000-00805f9a34fb"
WRITE_UUID = "0000ffe9-0000-1000-8000-00805f9a34fb"

SYNC = 0x55
FLAG_DATA = 0x61
FLAG_REGISTER = 0x71
FRAME_BYTES = 20
ACC_FULL_SCALE_G = 16.0
GYR_FULL_SCALE_DPS = 2000.0
ANGLE_FULL_SCALE_DEG = 180.0
_ACC_LSB_MPS2 = ACC_FULL_SCALE_G / 32768.0 * GRAVITY_MPS2
_GYR_LSB_DPS = GYR_FULL_SCALE_DPS / 32768.0
_ANGLE_LSB_DEG = ANGLE_FULL_SCALE_DEG / 32768.0

REG_SAVE = 0x00
REG_CALSW = 0x01
REG_RATE = 0x03
REG_VERSION = 0x2E
REG_MAG_X = 0x3A
REG_TEMPERATURE = 0x40
REG_QUATERNION = 0x51
REG_BATTERY = 0x64
REG_UNLOCK = 0x69
READ_COMMAND = 0x27
UNLOCK_VALUE = 0xB588

#: Output rate (Hz) -> value of the rate register 0x03.
RATE_CODES = {
    0.2: 0x01,
    0.5: 0x02,
    1.0: 0x03,
    2.0: 0x04,
    5.0: 0x05,
    10.0: 0x06,
    20.0: 0x07,
    50.0: 0x08,
    100.0: 0x09,
    200.0: 0x0A,
}
#: Output rate after a factory reset.
DEFAULT_RATE_HZ = 10.0


# --- commands -----------------------------------------------------------------


def build_write_register(register: int, value: int) -> bytes:
    """``FF AA reg valueL valueH`` (value as u16 or int16)."""
    if not 0 <= register <= 0xFF:
        raise DeviceError(f"WitMotion command: register 0x{register:X} is not 0..0xFF")
    if not -0x8000 <= value <= 0xFFFF:
        raise DeviceError(f"WitMotion command: value {value} does not fit 16 bits")
    return bytes((0xFF, 0xAA, register)) + struct.pack("<H", value & 0xFFFF)


def build_unlock() -> bytes:
    """``FF AA 69 88 B5``: must precede writes that change settings."""
    return build_write_register(REG_UNLOCK, UNLOCK_VALUE)


def build_save() -> bytes:
    """``FF AA 00 00 00``: keep the current settings across power cycles."""
    return build_write_register(REG_SAVE, 0)


def build_read_register(register: int) -> bytes:
    """``FF AA 27 reg 00``: the sensor answers with a 0x55 0x71 frame."""
    return build_write_register(READ_COMMAND, register)


def build_rate_commands(rate_hz: float) -> list[bytes]:
    """Unlock, set the output rate, save: write these in order, about 100 ms apart."""
    code = RATE_CODES.get(float(rate_hz))
    if code is None:
        raise DeviceError(
            f"WitMotion: output rate {rate_hz} Hz is not offered; choose one of "
            + ", ".join(f"{r:g}" for r in RATE_CODES)
        )
    return [build_unlock(), build_write_register(REG_RATE, code), build_save()]


# --- frames -------------------------------------------------------------------


@dataclass(frozen=True)
class WitFrame:
    """One 0x55 0x61 frame in SI units."""

    acc_mps2: FloatArray  #: (3,)
    gyr_dps: FloatArray  #: (3,)
    angle_deg: FloatArray  #: (3,) roll, pitch, yaw


def decode_frame(frame: bytes) -> WitFrame:
    """Decode exactly one 20-byte 0x55 0x61 frame."""
    raw = as_bytes(frame, "WitMotion frame")
    if len(raw) != FRAME_BYTES or raw[0] != SYNC or raw[1] != FLAG_DATA:
        raise DecodeError(
            f"WitMotion frame: expected 20 bytes starting 55 61, got {len(raw)} bytes "
            f"starting {raw[:2].hex(' ') or 'nothing'}"
        )
    v = np.frombuffer(raw, dtype="<i2", offset=2).astype(np.float64)
    return WitFrame(
        acc_mps2=v[0:3] * _ACC_LSB_MPS2,
        gyr_dps=v[3:6] * _GYR_LSB_DPS,
        angle_deg=v[6:9] * _ANGLE_LSB_DEG,
    )


def decode_register_frame(frame: bytes) -> tuple[int, tuple[int, ...]]:
    """``(first register, 8 int16 values)`` from a 20-byte 0x55 0x71 frame."""
    raw = as_bytes(frame, "WitMotion register frame")
    if len(raw) != FRAME_BYTES or raw[0] != SYNC or raw[1] != FLAG_REGISTER:
        raise DecodeError(
            f"WitMotion register frame: expected 20 bytes starting 55 71, got {len(raw)} "
            f"bytes starting {raw[:2].hex(' ') or 'nothing'}"
        )
    (register,) = struct.unpack_from("<H", raw, 2)
    return register, struct.unpack_from("<8h", raw, 4)


def encode_frame_raw(values: ArrayLike) -> bytes:
    """A 0x55 0x61 frame from 9 int16 counts (acc, gyro, angle)."""
    v = np.asarray(values)
    if v.shape != (9,) or np.any(v != np.rint(v)) or np.any(v < -32768) or np.any(v > 32767):
        raise ValueError("expected 9 integer counts in -32768..32767")
    return bytes((SYNC, FLAG_DATA)) + v.astype("<i2").tobytes()


def encode_frame(
    acc_mps2: ArrayLike, gyr_dps: ArrayLike, angle_deg: ArrayLike = (0.0, 0.0, 0.0)
) -> bytes:
    """A 0x55 0x61 frame from SI values, rounded to counts and saturated like the sensor."""
    counts = np.concatenate(
        (
            np.asarray(acc_mps2, dtype=np.float64).reshape(3) / _ACC_LSB_MPS2,
            np.asarray(gyr_dps, dtype=np.float64).reshape(3) / _GYR_LSB_DPS,
            np.asarray(angle_deg, dtype=np.float64).reshape(3) / _ANGLE_LSB_DEG,
        )
    )
    return encode_frame_raw(np.clip(np.rint(counts), -32768, 32767).astype(np.int64))


def encode_register_frame(register: int, values: ArrayLike) -> bytes:
    """A 0x55 0x71 answer: ``register`` and 8 int16 values (pad with zeros)."""
    v = np.zeros(8, dtype=np.int64)
    given = np.asarray(values, dtype=np.int64).ravel()
    if given.size > 8 or np.any(given < -32768) or np.any(given > 32767):
        raise ValueError("expected up to 8 values in -32768..32767")
    v[: given.size] = given
    return bytes((SYNC, FLAG_REGISTER)) + struct.pack("<H", register) + v.astype("<i2").tobytes()


# --- stream decoder -------------------------------------------------------------


class WitMotionStreamDecoder:
    """Reassemble and decode WitMotion frames from notifications of any size.

    ``feed`` returns one :class:`SampleBatch` holding every 0x55 0x61 frame
    completed by this notification (``[]`` if none); register answers update
    ``registers_``. Garbage never raises: it is skipped and counted.

    Attributes
    ----------
    frames_ : int
        Data frames decoded.
    register_frames_ : int
        Register answers (0x55 0x71) decoded.
    resyncs_ : int
        Times the decoder had to skip bytes to find a frame start.
    skipped_bytes_ : int
        Bytes skipped while resynchronising.
    dropped_partial_frames_ : int
        Partial frames discarded because the next notification began a new frame
        (the rest was lost; a continuation that happens to begin with 55 61 or
        55 71, odds about 3 in 100,000 per split frame, is dropped the same way).
    registers_ : dict[int, int]
        Latest raw int16 value of each register read.
    last_angle_deg_ : ndarray, shape (n, 3)
        Roll, pitch, yaw of the frames in the last batch.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self._searching = False
        self.frames_ = 0
        self.register_frames_ = 0
        self.resyncs_ = 0
        self.skipped_bytes_ = 0
        self.dropped_partial_frames_ = 0
        self.registers_: dict[int, int] = {}
        self.last_angle_deg_: FloatArray = np.zeros((0, 3))

    def feed(self, data: bytes) -> list[SampleBatch]:
        raw = as_bytes(data, "WitMotion notification")
        if (
            len(self._buf) >= 2
            and len(raw) >= 2
            and raw[0] == SYNC
            and raw[1] in (FLAG_DATA, FLAG_REGISTER)
        ):
            # A partial frame is waiting but this notification starts a new frame:
            # the rest of the partial frame was lost. Completing it with these bytes
            # would decode a frame made of two halves, so drop it.
            self.dropped_partial_frames_ += 1
            self.skipped_bytes_ += len(self._buf)
            self._buf.clear()
        self._buf += raw
        buf = self._buf
        frames: list[bytes] = []
        pos = 0
        while len(buf) - pos >= 2:
            if buf[pos] == SYNC and buf[pos + 1] in (FLAG_DATA, FLAG_REGISTER):
                if len(buf) - pos < FRAME_BYTES:
                    break
                frame = bytes(buf[pos : pos + FRAME_BYTES])
                pos += FRAME_BYTES
                self._searching = False
                if frame[1] == FLAG_DATA:
                    frames.append(frame)
                else:
                    self._take_register_frame(frame)
                continue
            # Not a frame start: skip to the next sync byte.
            if not self._searching:
                self.resyncs_ += 1
                self._searching = True
            nxt = buf.find(SYNC, pos + 1)
            end = len(buf) if nxt < 0 else nxt
            self.skipped_bytes_ += end - pos
            pos = end
        if len(buf) - pos == 1 and buf[pos] != SYNC:
            if not self._searching:
                self.resyncs_ += 1
                self._searching = True
            self.skipped_bytes_ += 1
            pos += 1
        del buf[:pos]
        if not frames:
            return []
        v = np.frombuffer(b"".join(f[2:] for f in frames), dtype="<i2").reshape(-1, 9)
        v = v.astype(np.float64)
        self.frames_ += len(frames)
        self.last_angle_deg_ = v[:, 6:9] * _ANGLE_LSB_DEG
        return [
            SampleBatch(
                acc_mps2=v[:, 0:3] * _ACC_LSB_MPS2,
                gyr_dps=v[:, 3:6] * _GYR_LSB_DPS,
                device_time_s=None,
                seq=None,
            )
        ]

    def _take_register_frame(self, frame: bytes) -> None:
        register, values = decode_register_frame(frame)
        for i, val in enumerate(values):
            self.registers_[(register + i) & 0xFFFF] = val
        self.register_frames_ += 1

    @property
    def battery_v(self) -> float | None:
        """Battery voltage from register 0x64 (read it with ``build_read_register(0x64)``)."""
        v = self.registers_.get(REG_BATTERY)
        return None if v is None else v / 100.0

    @property
    def temperature_c(self) -> float | None:
        """Temperature from register 0x40, deg C."""
        v = self.registers_.get(REG_TEMPERATURE)
        return None if v is None else v / 100.0

    @property
    def magnetometer_raw(self) -> tuple[int, int, int] | None:
        """Raw magnetometer registers 0x3A-0x3C (the unit depends on the chip, register 0x72)."""
        vals = [self.registers_.get(REG_MAG_X + i) for i in range(3)]
        if any(v is None for v in vals):
            return None
        return (vals[0], vals[1], vals[2])  # type: ignore[return-value]
