"""Simulated Polar H10: PMD service, control-point handshake, int16 ACC frames."""

from __future__ import annotations

import struct

import numpy as np
from bleak.exc import BleakGATTProtocolError
from bleak.uuids import normalize_uuid_str

from ...consts import MG_TO_MPS2
from ...errors import DecodeError
from .. import polar
from ._backend import CharSpec, ServiceSpec
from ._peripheral import FloatArray, VirtualPeripheral

__all__ = ["VirtualPolarH10"]

#: Sensor time (ns since 2000-01-01) at the virtual epoch 2025-01-01T00:00:00Z.
_SENSOR_TIME_2025_NS = 789_004_800 * 1_000_000_000
_R = normalize_uuid_str


class VirtualPolarH10(VirtualPeripheral):
    """A Polar H10 as seen over GATT (firmware 3.x behaviour, see devices.md).

    - advertises ``Polar H10 XXXXXXXX`` with the heart-rate service;
    - control point: the features read answers ``0F 05 00`` (ECG + ACC); get
      settings, start and stop answer by indication ``F0 op type status more
      params`` (start answers the factor 1.0 as a type-5 setting), with the
      H10's status codes for a bad rate (8), range (9), resolution (7), a stream
      already running (6), an unknown opcode (1) or type (3); commands written
      before indications are enabled fail with ATT error 0xFD;
    - data: raw int16 mG frames (frame type 1) of 36 samples, the most a 232-byte
      MTU carries, timestamped with the sensor clock at the last sample; values
      saturate at the range.
    """

    model = "polar-h10"
    mtu = 232
    advertised_uuids = (polar.HEART_RATE_SERVICE_UUID, _R("feee"))
    up_axis = 0
    up_sign = 1
    samples_per_frame = 36

    def __init__(self, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(**kwargs)
        self.clock0_ns = _SENSOR_TIME_2025_NS + int(self._rng.integers(0, 10**12))
        self.range_g = 8
        self.features = b"\x0f\x05\x00"
        #: a strap on its charger refuses to measure (status 13)
        self.in_charger = False

    def default_name(self, suffix: int) -> str:
        return f"Polar H10 {suffix:08X}"

    @property
    def data_uuid(self) -> str:
        return polar.PMD_DATA_UUID

    def gatt(self) -> list[ServiceSpec]:
        return [
            ServiceSpec(
                _R("1800"), (CharSpec(_R("2a00"), ("read",)), CharSpec(_R("2a01"), ("read",)))
            ),
            ServiceSpec(
                _R("180a"),
                tuple(CharSpec(_R(u), ("read",)) for u in ("2a29", "2a24", "2a25", "2a26", "2a28")),
            ),
            ServiceSpec(
                polar.HEART_RATE_SERVICE_UUID,
                (
                    CharSpec(polar.HEART_RATE_MEASUREMENT_UUID, ("notify",)),
                    CharSpec(_R("2a38"), ("read",)),
                ),
            ),
            ServiceSpec(
                polar.BATTERY_SERVICE_UUID,
                (CharSpec(polar.BATTERY_LEVEL_UUID, ("read", "notify")),),
            ),
            ServiceSpec(
                polar.PMD_SERVICE_UUID,
                (
                    CharSpec(polar.PMD_CONTROL_POINT_UUID, ("read", "write", "indicate")),
                    CharSpec(polar.PMD_DATA_UUID, ("notify",)),
                ),
            ),
        ]

    def on_read(self, uuid: str) -> bytes:
        table = {
            _R("2a00"): self.name.encode(),
            _R("2a01"): b"\x00\x00",
            _R("2a29"): b"Polar Electro Oy",
            _R("2a24"): b"H10",
            _R("2a25"): self.name.split()[-1].encode(),
            _R("2a26"): b"3.1.1",
            _R("2a28"): b"3.1.1",
            _R("2a38"): b"\x01",
            polar.BATTERY_LEVEL_UUID: bytes((self.battery_pct,)),
            polar.PMD_CONTROL_POINT_UUID: self.features,
        }
        if uuid not in table:
            raise BleakGATTProtocolError(0x02)
        return table[uuid]

    def _respond(self, op: int, mtype: int, status: int, params: bytes = b"") -> None:
        head = bytes((polar.RESPONSE_CODE, op, mtype, status))
        body = head + (b"\x00" + params if status == 0 else b"")
        self.indicate(polar.PMD_CONTROL_POINT_UUID, body)

    def on_write(self, uuid: str, data: bytes) -> None:
        if uuid != polar.PMD_CONTROL_POINT_UUID:
            raise BleakGATTProtocolError(0x03)
        if not self.subscribed(polar.PMD_CONTROL_POINT_UUID):
            raise BleakGATTProtocolError(0xFD)  # CCCD improperly configured
        if len(data) < 2:
            self._respond(data[0] if data else 0, 0, 4)
            return
        op, mtype = data[0], data[1]
        if op not in (polar.OP_GET_SETTINGS, polar.OP_START, polar.OP_STOP):
            self._respond(op, mtype, 1)
        elif mtype != polar.ACC and op != polar.OP_GET_SETTINGS:
            self._respond(op, mtype, 3)
        elif op == polar.OP_GET_SETTINGS:
            if mtype == polar.ACC:
                params = (
                    b"\x00\x04"
                    + struct.pack("<4H", *polar.H10_RATES_HZ)
                    + b"\x01\x01"
                    + struct.pack("<H", 16)
                    + b"\x02\x03"
                    + struct.pack("<3H", *polar.H10_RANGES_G)
                )
            elif mtype == 0:  # ECG: 130 Hz, 14 bit
                params = b"\x00\x01" + struct.pack("<H", 130) + b"\x01\x01" + struct.pack("<H", 14)
            else:
                self._respond(op, mtype, 3)
                return
            self._respond(op, mtype, 0, params)
        elif op == polar.OP_START:
            self._start(mtype, data[2:])
        else:  # stop
            if not self.streaming:
                self._respond(op, mtype, 6)
                return
            self.stop_stream()
            self._respond(op, mtype, 0)

    def _start(self, mtype: int, raw: bytes) -> None:
        op = polar.OP_START
        try:
            s = polar.parse_settings(raw)
        except DecodeError:
            self._respond(op, mtype, 4)
            return
        rate = s.get("sample_rate_hz", (None,))[0]
        rng = s.get("range_g", (None,))[0]
        res = s.get("resolution_bits", (16,))[0]
        if self.streaming:
            self._respond(op, mtype, 6)
        elif self.in_charger:
            self._respond(op, mtype, 13)
        elif not self.subscribed(polar.PMD_DATA_UUID):
            self._respond(op, mtype, 12)
        elif res != 16:
            self._respond(op, mtype, 7)
        elif rate not in polar.H10_RATES_HZ:
            self._respond(op, mtype, 8)
        elif rng not in polar.H10_RANGES_G:
            self._respond(op, mtype, 9)
        else:
            self.range_g = int(rng)  # type: ignore[arg-type]
            self._respond(op, mtype, 0, b"\x05\x01" + struct.pack("<f", 1.0))
            self.start_stream(float(rate))  # type: ignore[arg-type]

    def samples_per_packet(self, rate_hz: float) -> int:
        return self.samples_per_frame

    def encode(
        self, k0: int, acc_mps2: FloatArray, gyr_dps: FloatArray, rate_hz: float
    ) -> list[bytes]:
        lim = self.range_g * 1000.0
        acc_mg = np.clip(acc_mps2 / MG_TO_MPS2, -lim, lim - 1)
        ts = self.device_time_ns(k0 + acc_mps2.shape[0] - 1, rate_hz)
        return [polar.encode_acc_frame(acc_mg, ts, frame_type=1)]

    def corrupt(self, data: bytes, rng: np.random.Generator) -> bytes:
        # an unknown frame type or a payload cut mid-sample: both rejected by the decoder
        if rng.random() < 0.5:
            return data[:9] + b"\x7f" + data[10:]
        return data[: polar.HEADER_BYTES + 6 * int(rng.integers(0, 30)) + 4]
