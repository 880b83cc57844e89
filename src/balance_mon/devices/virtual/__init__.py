"""Simulated Bluetooth LE sensors behind bleak's public API.

``virtual:polar-h10``, ``virtual:reference`` and ``virtual:witmotion`` are
peripherals living in a :class:`VirtualAir`; its ``scanner_backend`` and
``client_backend`` classes, passed to :class:`bleak.BleakScanner` /
:class:`bleak.BleakClient` as ``backend=``, make them appear to bleak like
radios would: they advertise (name, service UUIDs, RSSI), expose the model's
real services and characteristics (bleak's own GATT classes), answer the
handshake as the device does and notify with its packet layout and pacing.
Faults (:class:`FaultPlan`) are injected on the "radio". The streaming session
cannot tell them from real sensors.

Example::

    air = VirtualAir([make_peripheral("polar-h10", faults=parse_faults(["loss=0.05"]))])
    async with BleakClient(device, backend=air.client_backend) as client: ...
"""

from __future__ import annotations

from pathlib import Path

from ...errors import DeviceError
from ...recording import Recording
from ._backend import VirtualAir, VirtualBleakClient, VirtualBleakScanner, build_services
from ._peripheral import FaultPlan, SignalSource, SimLog, VirtualPeripheral, parse_faults
from ._polar import VirtualPolarH10
from ._reference import VirtualReferenceSensor
from ._witmotion import VirtualWitMotion

__all__ = [
    "VIRTUAL_MODELS",
    "FaultPlan",
    "SignalSource",
    "SimLog",
    "VirtualAir",
    "VirtualBleakClient",
    "VirtualBleakScanner",
    "VirtualPeripheral",
    "VirtualPolarH10",
    "VirtualReferenceSensor",
    "VirtualWitMotion",
    "build_services",
    "load_source",
    "make_peripheral",
    "parse_faults",
]

#: Model key -> simulated peripheral class.
VIRTUAL_MODELS: dict[str, type[VirtualPeripheral]] = {
    "polar-h10": VirtualPolarH10,
    "reference": VirtualReferenceSensor,
    "witmotion": VirtualWitMotion,
}


def load_source(path: str | Path, *, seed: int = 0) -> Recording:
    """A recording to play through a simulated sensor.

    ``path`` is a file in any format :func:`balance_mon.io.load_recording` reads,
    or ``sim:STANCE`` (``sim:feet_apart``, ``sim:tandem``, ...): two minutes of
    quiet standing from :func:`balance_mon.sim.simulate_stance` (sensor on the
    lower back, 200 Hz, no noise of its own: the simulated device adds its
    quantization), looped as long as needed.
    """
    text = str(path)
    if text.startswith("sim:"):
        from ...sim import STANCES, SensorSpec, simulate_stance

        stance = text[4:] or "feet_together"
        if stance not in STANCES:
            raise DeviceError(
                f"unknown simulated stance {stance!r}; use sim:" + ", sim:".join(STANCES)
            )
        spec = SensorSpec(fs_hz=200.0, resolution_bits=None, noise_mps2=0.0)
        return simulate_stance(stance, duration_s=120.0, sensor=spec, seed=seed).recording
    from ...io import load_recording

    return load_recording(path)


def make_peripheral(
    model: str,
    *,
    source: Recording | None = None,
    faults: FaultPlan | None = None,
    seed: int = 0,
    name: str | None = None,
    address: str | None = None,
    **kwargs: object,
) -> VirtualPeripheral:
    """A simulated sensor of ``model`` (``polar-h10``, ``reference`` or ``witmotion``)."""
    try:
        cls = VIRTUAL_MODELS[model]
    except KeyError:
        raise DeviceError(
            f"no simulated sensor {model!r}; use one of "
            + ", ".join(f"virtual:{m}" for m in VIRTUAL_MODELS)
        ) from None
    return cls(source=source, faults=faults, seed=seed, name=name, address=address, **kwargs)
