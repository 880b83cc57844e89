"""A bleak backend with no radio: scanner and client classes for simulated peripherals.

bleak's :class:`~bleak.BleakScanner` and :class:`~bleak.BleakClient` take a
``backend=`` class; :attr:`VirtualAir.scanner_backend` and
:attr:`VirtualAir.client_backend` are subclasses of bleak's
:class:`~bleak.backends.scanner.BaseBleakScanner` and
:class:`~bleak.backends.client.BaseBleakClient` bound to one simulated "air"
holding the peripherals. Everything above them (``find_device_by_filter``,
``discover``, ``connect``, ``read_gatt_char``, ``start_notify``, the
disconnected callback, service discovery with bleak's own GATT classes) is
bleak's public API, unchanged.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from bleak.args import SizedBuffer
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, BaseBleakScanner
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakDeviceNotFoundError, BleakError, BleakGATTProtocolError
from bleak.uuids import normalize_uuid_str

if TYPE_CHECKING:
    from ._peripheral import VirtualPeripheral

__all__ = [
    "CCCD_UUID",
    "CharSpec",
    "ServiceSpec",
    "VirtualAir",
    "VirtualBleakClient",
    "VirtualBleakScanner",
    "build_services",
]

CCCD_UUID = normalize_uuid_str("2902")


@dataclass(frozen=True)
class CharSpec:
    """A characteristic of a simulated peripheral: UUID and properties."""

    uuid: str
    properties: tuple[str, ...]


@dataclass(frozen=True)
class ServiceSpec:
    """A service of a simulated peripheral."""

    uuid: str
    characteristics: tuple[CharSpec, ...] = field(default_factory=tuple)


def build_services(specs: list[ServiceSpec], mtu: int) -> BleakGATTServiceCollection:
    """bleak's service collection for ``specs``, with handles numbered as a GATT server does.

    Every notifying or indicating characteristic gets a Client Characteristic
    Configuration descriptor (0x2902), as on a real device.
    """
    coll = BleakGATTServiceCollection()
    handle = 1
    for spec in specs:
        svc = BleakGATTService(spec, handle, normalize_uuid_str(spec.uuid))
        coll.add_service(svc)
        handle += 1
        for cs in spec.characteristics:
            handle += 1  # the characteristic declaration precedes the value handle
            char = BleakGATTCharacteristic(
                cs,
                handle,
                normalize_uuid_str(cs.uuid),
                list(cs.properties),  # type: ignore[arg-type]
                lambda: mtu - 3,
                svc,
            )
            coll.add_characteristic(char)
            handle += 1
            if "notify" in cs.properties or "indicate" in cs.properties:
                coll.add_descriptor(BleakGATTDescriptor(None, handle, CCCD_UUID, char))
                handle += 1
    return coll


class VirtualAir:
    """The simulated radio environment: the peripherals a virtual scanner can see."""

    def __init__(self, peripherals: list[VirtualPeripheral] | None = None) -> None:
        self.peripherals: dict[str, VirtualPeripheral] = {}
        for p in peripherals or []:
            self.add(p)
        self._scanner: type[VirtualBleakScanner] | None = None
        self._client: type[VirtualBleakClient] | None = None

    def add(self, peripheral: VirtualPeripheral) -> VirtualPeripheral:
        self.peripherals[peripheral.address.upper()] = peripheral
        return peripheral

    def lookup(self, address: str) -> VirtualPeripheral | None:
        return self.peripherals.get(address.upper())

    @property
    def scanner_backend(self) -> type[VirtualBleakScanner]:
        """Scanner backend class (``BleakScanner(backend=...)``) seeing this air."""
        if self._scanner is None:
            self._scanner = type("VirtualBleakScanner", (VirtualBleakScanner,), {"air": self})
        return self._scanner

    @property
    def client_backend(self) -> type[VirtualBleakClient]:
        """Client backend class (``BleakClient(backend=...)``) reaching this air."""
        if self._client is None:
            self._client = type("VirtualBleakClient", (VirtualBleakClient,), {"air": self})
        return self._client


class VirtualBleakScanner(BaseBleakScanner):
    """Scanner backend: reports each advertising peripheral every advertising interval."""

    air: ClassVar[VirtualAir]

    def __init__(
        self,
        detection_callback: Any,
        service_uuids: list[str] | None,
        scanning_mode: str = "active",
        **kwargs: Any,
    ) -> None:
        super().__init__(detection_callback, service_uuids)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.seen_devices = {}
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        # First advertisements come in after a short radio delay, then periodically.
        await asyncio.sleep(0.02)
        while True:
            for p in list(self.air.peripherals.values()):
                if not p.advertising:
                    continue
                adv = AdvertisementData(
                    local_name=p.name,
                    manufacturer_data=dict(p.manufacturer_data),
                    service_data={},
                    service_uuids=list(p.advertised_uuids),
                    tx_power=None,
                    rssi=p.rssi(),
                    platform_data=(p,),
                )
                if not self.is_allowed_uuid(adv.service_uuids):
                    continue
                device = self.create_or_update_device(p.address, p.address, p.name, p, adv)
                self.call_detection_callbacks(device, adv)
            await asyncio.sleep(0.1)


class VirtualBleakClient(BaseBleakClient):
    """Client backend talking to a :class:`VirtualPeripheral` instead of a radio."""

    air: ClassVar[VirtualAir]

    def __init__(
        self,
        address_or_ble_device: BLEDevice | str,
        *,
        disconnected_callback: Callable[[], None] | None = None,
        timeout: float = 10.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            address_or_ble_device, disconnected_callback=disconnected_callback, timeout=timeout
        )
        peer = None
        if isinstance(address_or_ble_device, BLEDevice):
            details = address_or_ble_device.details
            peer = details if _is_peripheral(details) else None
        if peer is None:
            peer = self.air.lookup(self.address)
        self._peer = peer
        self._connected = False
        self._callbacks: dict[str, NotifyCallback] = {}

    # -- connection ---------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._peer.name if self._peer is not None else self.address.replace(":", "-")

    @property
    def mtu_size(self) -> int:
        return self._peer.mtu if self._peer is not None else 23

    @property
    def is_connected(self) -> bool:
        return self._connected

    async def connect(self, pair: bool = False, **kwargs: Any) -> None:
        if self._peer is None:
            raise BleakDeviceNotFoundError(
                self.address, f"Device with address {self.address} was not found."
            )
        peer = self._peer
        if not peer.reachable:
            # an absent device: the OS keeps trying until the timeout
            await asyncio.sleep(self._timeout)
            raise TimeoutError(f"connection to {self.address} timed out")
        await asyncio.sleep(peer.connect_delay_s)
        if not peer.reachable:
            await asyncio.sleep(max(self._timeout - peer.connect_delay_s, 0.0))
            raise TimeoutError(f"connection to {self.address} timed out")
        peer.attach(self)
        self._connected = True
        await asyncio.sleep(peer.att_delay_s())  # service discovery
        self.services = build_services(peer.gatt(), peer.mtu)

    async def disconnect(self) -> None:
        if self._connected and self._peer is not None:
            self._peer.detach(self)
        self._connected = False
        self._callbacks.clear()

    def link_lost(self) -> None:
        """Called by the peripheral when the link drops (not asked for by this client)."""
        if not self._connected:
            return
        self._connected = False
        self._callbacks.clear()
        if self._disconnected_callback is not None:
            asyncio.get_running_loop().call_soon(self._disconnected_callback)

    async def pair(self, *args: Any, **kwargs: Any) -> None:
        return None

    async def unpair(self) -> None:
        return None

    # -- GATT ----------------------------------------------------------------------

    def _check(self) -> VirtualPeripheral:
        if not self._connected or self._peer is None:
            raise BleakError("Not connected")
        return self._peer

    async def read_gatt_char(
        self, characteristic: BleakGATTCharacteristic, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        peer = self._check()
        if "read" not in characteristic.properties:
            raise BleakGATTProtocolError(0x02)
        await asyncio.sleep(peer.att_delay_s())
        peer = self._check()
        return bytearray(peer.on_read(characteristic.uuid))

    async def read_gatt_descriptor(
        self, descriptor: BleakGATTDescriptor, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        self._check()
        if descriptor.uuid == CCCD_UUID:
            on = descriptor.characteristic_uuid in self._callbacks
            return bytearray(b"\x01\x00" if on else b"\x00\x00")
        raise BleakGATTProtocolError(0x02)

    async def write_gatt_char(
        self, characteristic: BleakGATTCharacteristic, data: SizedBuffer, response: bool
    ) -> None:
        peer = self._check()
        props = characteristic.properties
        if (
            "write" if response else "write-without-response"
        ) not in props and "write" not in props:
            raise BleakGATTProtocolError(0x03)
        if response:
            await asyncio.sleep(peer.att_delay_s())
            peer = self._check()
        peer.on_write(characteristic.uuid, bytes(data))

    async def write_gatt_descriptor(
        self, descriptor: BleakGATTDescriptor, data: SizedBuffer
    ) -> None:
        self._check()
        raise BleakGATTProtocolError(0x03)

    async def start_notify(
        self, characteristic: BleakGATTCharacteristic, callback: NotifyCallback, **kwargs: Any
    ) -> None:
        peer = self._check()
        props = characteristic.properties
        if "notify" not in props and "indicate" not in props:
            raise BleakError(f"Characteristic {characteristic.uuid} does not notify")
        await asyncio.sleep(peer.att_delay_s())  # the CCCD write
        self._check()
        self._callbacks[characteristic.uuid] = callback
        peer.on_subscribe(characteristic.uuid, True)

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        peer = self._check()
        self._callbacks.pop(characteristic.uuid, None)
        peer.on_subscribe(characteristic.uuid, False)

    # -- from the peripheral ------------------------------------------------------------

    def subscribed(self, uuid: str) -> bool:
        return uuid in self._callbacks

    def deliver(self, uuid: str, data: bytes) -> None:
        """A notification or indication arrives (runs the client's callback)."""
        cb = self._callbacks.get(uuid)
        if cb is not None and self._connected:
            cb(bytearray(data))


def _is_peripheral(obj: object) -> bool:
    from ._peripheral import VirtualPeripheral

    return isinstance(obj, VirtualPeripheral)
