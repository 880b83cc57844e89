"""Simulated balance_mon reference sensor: configuration characteristic, batched packets."""

from __future__ import annotations

import numpy as np
from bleak.exc import BleakGATTProtocolError
from bleak.uuids import normalize_uuid_str

from ...errors import DecodeError
from .. import reference as ref
from ._backend import CharSpec, ServiceSpec
from ._peripheral import FloatArray, VirtualPeripheral

__all__ = ["VirtualReferenceSensor"]

_R = normalize_uuid_str


class VirtualReferenceSensor(VirtualPeripheral):
    """The reference sensor of ``devices/reference.py`` as the firmware behaves.

    Writing the configuration with the streaming flag starts notifications of
    packets holding the most samples that fit (19 with gyroscope, 38 without)
    unless the configuration fixes the number; the sequence number counts every
    packet made since power-on (so lost ones leave a gap); the device time is
    microseconds since power-on (u32, wrapping); a dropped link stops streaming.
    """

    model = "reference"
    mtu = 247
    advertised_uuids = (ref.SERVICE_UUID,)
    up_axis = 2
    up_sign = 1

    def __init__(self, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(**kwargs)
        self.clock0_ns = int(self._rng.integers(1, 600)) * 1_000_000_000
        self.config = ref.ReferenceConfig()
        self._seq = int(self._rng.integers(0, 2**16))

    def default_name(self, suffix: int) -> str:
        return f"BM-REF-{suffix & 0xFFFF:04X}"

    @property
    def data_uuid(self) -> str:
        return ref.DATA_CHAR_UUID

    def gatt(self) -> list[ServiceSpec]:
        return [
            ServiceSpec(_R("1800"), (CharSpec(_R("2a00"), ("read",)),)),
            ServiceSpec(
                ref.DEVICE_INFO_SERVICE_UUID,
                (
                    CharSpec(ref.MANUFACTURER_NAME_UUID, ("read",)),
                    CharSpec(ref.MODEL_NUMBER_UUID, ("read",)),
                    CharSpec(ref.FIRMWARE_REVISION_UUID, ("read",)),
                ),
            ),
            ServiceSpec(
                ref.BATTERY_SERVICE_UUID, (CharSpec(ref.BATTERY_LEVEL_UUID, ("read", "notify")),)
            ),
            ServiceSpec(
                ref.SERVICE_UUID,
                (
                    CharSpec(ref.DATA_CHAR_UUID, ("notify",)),
                    CharSpec(ref.CONFIG_CHAR_UUID, ("read", "write")),
                ),
            ),
        ]

    def on_read(self, uuid: str) -> bytes:
        table = {
            _R("2a00"): self.name.encode(),
            ref.MANUFACTURER_NAME_UUID: b"balance_mon",
            ref.MODEL_NUMBER_UUID: b"BM-REF-1",
            ref.FIRMWARE_REVISION_UUID: b"1.0.0",
            ref.BATTERY_LEVEL_UUID: bytes((self.battery_pct,)),
            ref.CONFIG_CHAR_UUID: ref.encode_config(self.config),
        }
        if uuid not in table:
            raise BleakGATTProtocolError(0x02)
        return table[uuid]

    def on_write(self, uuid: str, data: bytes) -> None:
        if uuid != ref.CONFIG_CHAR_UUID:
            raise BleakGATTProtocolError(0x03)
        try:
            cfg = ref.decode_config(data)
        except DecodeError:
            raise BleakGATTProtocolError(0x13) from None  # value not allowed
        was = self.config
        self.config = cfg
        if cfg.streaming and self.streaming and cfg != was:
            self.stop_stream()
        if cfg.streaming and not self.streaming:
            self.start_stream(cfg.rate_hz)
        elif not cfg.streaming:
            self.stop_stream()

    def on_disconnect(self) -> None:
        self.config = ref.ReferenceConfig(
            streaming=False,
            gyro_enabled=self.config.gyro_enabled,
            rate_code=self.config.rate_code,
            acc_range_code=self.config.acc_range_code,
            gyr_range_code=self.config.gyr_range_code,
            samples_per_packet=self.config.samples_per_packet,
        )

    def samples_per_packet(self, rate_hz: float) -> int:
        c = self.config
        most = ref.MAX_SAMPLES_GYRO if c.gyro_enabled else ref.MAX_SAMPLES_ACC
        return c.samples_per_packet or most

    def encode(
        self, k0: int, acc_mps2: FloatArray, gyr_dps: FloatArray, rate_hz: float
    ) -> list[bytes]:
        c = self.config
        t_us = self.device_time_ns(k0, rate_hz) // 1000
        seq = self._seq
        self._seq = (self._seq + 1) % 2**16
        return [
            ref.encode_packet(
                seq,
                t_us,
                acc_mps2,
                gyr_dps if c.gyro_enabled else None,
                rate_code=c.rate_code,
                acc_range_code=c.acc_range_code,
                gyr_range_code=c.gyr_range_code,
            )
        ]

    def corrupt(self, data: bytes, rng: np.random.Generator) -> bytes:
        i = int(rng.integers(ref.HEADER_BYTES, len(data) - ref.CRC_BYTES))
        return data[:i] + bytes((data[i] ^ 0x5A,)) + data[i + 1 :]  # the CRC no longer matches
