"""Simulated WitMotion WT901BLE: one 20-byte frame per sample, register commands."""

from __future__ import annotations

import numpy as np
from bleak.exc import BleakGATTProtocolError

from .. import witmotion as wit
from ._backend import CharSpec, ServiceSpec
from ._peripheral import FloatArray, VirtualPeripheral

__all__ = ["VirtualWitMotion"]

_RATE_BY_CODE = {code: rate for rate, code in wit.RATE_CODES.items()}


class VirtualWitMotion(VirtualPeripheral):
    """A WT901BLECL: streams 0x55 0x61 frames as soon as notifications are enabled.

    Commands ``FF AA reg lo hi`` on the write characteristic: unlock (0x69),
    rate (0x03, only after unlock), save (0x00), register read (0x27, answered
    by a 0x55 0x71 frame on the notify characteristic). Factory rate 10 Hz;
    there is no timestamp or sequence number. Battery: register 0x64 (0.01 V).
    """

    model = "witmotion"
    mtu = 247
    advertised_uuids = (wit.SERVICE_UUID,)
    up_axis = 2
    up_sign = 1

    def __init__(self, *, rate_hz: float = wit.DEFAULT_RATE_HZ, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(**kwargs)
        self.rate_hz = rate_hz
        self._unlocked = False

    def default_name(self, suffix: int) -> str:
        return f"WT901BLE{suffix & 0xFF:02X}"

    @property
    def data_uuid(self) -> str:
        return wit.NOTIFY_UUID

    def gatt(self) -> list[ServiceSpec]:
        return [
            ServiceSpec(
                wit.SERVICE_UUID,
                (
                    CharSpec(wit.NOTIFY_UUID, ("notify",)),
                    CharSpec(wit.WRITE_UUID, ("write-without-response", "write")),
                ),
            )
        ]

    def on_subscribe(self, uuid: str, enabled: bool) -> None:
        if uuid != wit.NOTIFY_UUID:
            return
        if enabled:
            self.start_stream(self.rate_hz)
        else:
            self.stop_stream()

    def on_disconnect(self) -> None:
        self._unlocked = False

    def on_write(self, uuid: str, data: bytes) -> None:
        if uuid != wit.WRITE_UUID:
            raise BleakGATTProtocolError(0x03)
        if len(data) != 5 or data[0] != 0xFF or data[1] != 0xAA:
            return  # the firmware ignores what it does not understand
        reg, value = data[2], data[3] | (data[4] << 8)
        if reg == wit.REG_UNLOCK:
            self._unlocked = value == wit.UNLOCK_VALUE
        elif reg == wit.REG_RATE and self._unlocked:
            rate = _RATE_BY_CODE.get(value)
            if rate is not None and rate != self.rate_hz:
                self.rate_hz = rate
                if self.streaming:
                    self.stop_stream()
                    self.start_stream(rate)
        elif reg == wit.REG_SAVE:
            self._unlocked = False
        elif reg == wit.READ_COMMAND:
            values = {
                wit.REG_RATE: [wit.RATE_CODES[self.rate_hz]],
                wit.REG_BATTERY: [392],
                wit.REG_VERSION: [0x1234],
            }.get(value, [0])
            if self.subscribed(wit.NOTIFY_UUID):
                self.indicate(wit.NOTIFY_UUID, wit.encode_register_frame(value, values))

    def encode(
        self, k0: int, acc_mps2: FloatArray, gyr_dps: FloatArray, rate_hz: float
    ) -> list[bytes]:
        return [wit.encode_frame(acc_mps2[0], gyr_dps[0])]

    def corrupt(self, data: bytes, rng: np.random.Generator) -> bytes:
        return data[: int(rng.integers(2, wit.FRAME_BYTES))]
