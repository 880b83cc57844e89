"""The simulated sensor: :class:`SensorSpec` and the measurement model.

What a real body-worn IMU adds to the true specific force and angular rate:
a low-pass (anti-alias) filter and sampling at the output rate, a constant
bias per axis, white noise, saturation at the full-scale range, quantization
to signed integers, and, on the Bluetooth side, timestamp jitter, a clock that
runs slightly fast or slow, and lost packets of consecutive samples.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from ..consts import GRAVITY_MPS2, PLACEMENTS
from ..errors import RecordingError, SimulationError
from ..recording import AxisMap
from ._core import FloatArray, rot_zyx

__all__ = ["DEFAULT_AXES", "SIM_PLACEMENTS", "SensorSpec"]

#: Placements the simulator can model.
SIM_PLACEMENTS = ("lower_back", "sternum", "thigh", "wrist")

#: How each placement's sensor is mounted, as sensor-axis -> body-axis mapping in
#: upright stance (body axes: v up, ml positive to the LEFT, ap forward).
#: lower back: z out of the skin (backwards); sternum and front of thigh: z out
#: of the skin (forwards); wrist (watch, arm hanging): x along the forearm
#: towards the hand, z out of the back of the wrist (laterally).
DEFAULT_AXES = {
    "lower_back": "x=v y=ml z=-ap",
    "sternum": "x=v y=-ml z=ap",
    "thigh": "x=v y=-ml z=ap",
    "wrist_left": "x=-v y=-ap z=ml",
    "wrist_right": "x=-v y=ap z=-ml",
}

_BODY_UNIT = {"v": (0.0, 0.0, 1.0), "ml": (0.0, 1.0, 0.0), "ap": (1.0, 0.0, 0.0)}


@dataclass(frozen=True, kw_only=True)
class SensorSpec:
    """The sensor and its radio link.

    Parameters
    ----------
    placement : ``"lower_back"``, ``"sternum"``, ``"thigh"`` or ``"wrist"``;
        None lets each scenario choose its usual placement.
    side : ``"left"`` or ``"right"`` (the thigh and the wrist carrying the sensor).
    fs_hz : output rate, 12.5 to 1000 Hz.
    noise_mps2 : white-noise standard deviation per axis, m/s^2 (MEMS parts at
        100 Hz: about 0.01-0.05).
    bias_mps2 : constant offset per axis; None draws each from
        N(0, ``bias_sd_mps2``) (the drawn values are in the truth).
    tilt_deg : (roll, pitch, yaw) rotation of the sensor on the body away from
        its nominal mounting, degrees (the ``axes`` metadata stays nominal).
    axes : nominal mounting as an ``axes`` mapping (e.g. ``"x=v y=ml z=-ap"``);
        None uses :data:`DEFAULT_AXES`. Must be right-handed.
    range_g : full scale, +/- g (2, 4, 8, 16 typical); values beyond are clipped.
    resolution_bits : signed integer resolution over the range (None: no quantization).
    gyro : simulate the gyroscope.
    gyro_noise_dps, gyro_bias_dps, gyro_bias_sd_dps, gyro_range_dps : the same for
        the angular rate, deg/s.
    jitter_s : standard deviation of timestamp jitter (kept below 0.45 sample
        intervals so time still increases).
    drift_ppm : the sensor clock runs fast by this many parts per million: the
        true rate is ``fs_hz * (1 + drift_ppm / 1e6)``.
    dropout_rate : fraction of packets lost (0 to 0.5).
    packet_samples : samples per BLE packet (a lost packet removes them all).
    dropout_burst_packets : mean number of consecutive packets lost together.
    device : written to the ``device`` metadata.
    """

    placement: str | None = None
    side: str = "left"
    fs_hz: float = 100.0
    noise_mps2: float = 0.02
    bias_mps2: tuple[float, float, float] | None = None
    bias_sd_mps2: float = 0.05
    tilt_deg: tuple[float, float, float] = (0.0, 0.0, 0.0)
    axes: str | None = None
    range_g: float = 16.0
    resolution_bits: int | None = 16
    gyro: bool = True
    gyro_noise_dps: float = 0.1
    gyro_bias_dps: tuple[float, float, float] | None = None
    gyro_bias_sd_dps: float = 0.5
    gyro_range_dps: float = 2000.0
    jitter_s: float = 0.0
    drift_ppm: float = 0.0
    dropout_rate: float = 0.0
    packet_samples: int = 12
    dropout_burst_packets: float = 1.0
    device: str = "balance_mon.sim"

    def __post_init__(self) -> None:
        def bad(msg: str) -> SimulationError:
            return SimulationError(f"sensor: {msg}")

        if self.placement is not None and self.placement not in SIM_PLACEMENTS:
            known = ", ".join(SIM_PLACEMENTS)
            extra = (
                " (the recording format knows it, but the simulator does not model it)"
                if self.placement in PLACEMENTS
                else ""
            )
            raise bad(f"unknown placement {self.placement!r}{extra}; use one of {known}")
        if self.side not in ("left", "right"):
            raise bad(f"side must be 'left' or 'right', got {self.side!r}")
        if not (_finite(self.fs_hz) and 12.5 <= self.fs_hz <= 1000.0):
            raise bad(f"fs_hz must be between 12.5 and 1000 Hz, got {self.fs_hz!r}")
        for name in ("noise_mps2", "bias_sd_mps2", "gyro_noise_dps", "gyro_bias_sd_dps"):
            v = getattr(self, name)
            if not (_finite(v) and v >= 0):
                raise bad(f"{name} must be a non-negative number, got {v!r}")
        for name in ("bias_mps2", "gyro_bias_dps", "tilt_deg"):
            v = getattr(self, name)
            if v is None and name != "tilt_deg":
                continue
            if not (isinstance(v, tuple | list) and len(v) == 3 and all(_finite(x) for x in v)):
                raise bad(f"{name} must be three numbers (x, y, z), got {v!r}")
        if not (_finite(self.range_g) and 1.0 <= self.range_g <= 400.0):
            raise bad(f"range_g must be between 1 and 400 g, got {self.range_g!r}")
        if not (_finite(self.gyro_range_dps) and self.gyro_range_dps >= 100.0):
            raise bad(f"gyro_range_dps must be at least 100, got {self.gyro_range_dps!r}")
        if self.resolution_bits is not None and not (
            isinstance(self.resolution_bits, int) and 8 <= self.resolution_bits <= 24
        ):
            raise bad(f"resolution_bits must be 8-24 or None, got {self.resolution_bits!r}")
        if not (_finite(self.jitter_s) and 0.0 <= self.jitter_s <= 0.2 / self.fs_hz):
            raise bad(
                f"jitter_s must be between 0 and 0.2 sample intervals "
                f"({0.2 / self.fs_hz:.3g} s at {self.fs_hz:g} Hz), got {self.jitter_s!r}"
            )
        if not (_finite(self.drift_ppm) and abs(self.drift_ppm) <= 50_000):
            raise bad(f"drift_ppm must be within +/-50000, got {self.drift_ppm!r}")
        if not (_finite(self.dropout_rate) and 0.0 <= self.dropout_rate <= 0.5):
            raise bad(f"dropout_rate must be between 0 and 0.5, got {self.dropout_rate!r}")
        if not (isinstance(self.packet_samples, int) and 1 <= self.packet_samples <= 1000):
            raise bad(f"packet_samples must be an integer 1-1000, got {self.packet_samples!r}")
        if not (_finite(self.dropout_burst_packets) and self.dropout_burst_packets >= 1.0):
            raise bad(
                f"dropout_burst_packets must be at least 1, got {self.dropout_burst_packets!r}"
            )
        if self.axes is not None:
            mount_matrix(self.axes)  # validates

    # -- helpers -------------------------------------------------------------

    def with_placement(self, default: str) -> SensorSpec:
        """This spec with ``placement`` filled in when it was None."""
        return self if self.placement is not None else replace(self, placement=default)

    @property
    def axes_text(self) -> str:
        if self.axes is not None:
            return self.axes
        if self.placement == "wrist":
            return DEFAULT_AXES[f"wrist_{self.side}"]
        return DEFAULT_AXES[self.placement or "lower_back"]

    def mount(self) -> FloatArray:
        """Sensor -> segment rotation: nominal mounting times the tilt."""
        roll, pitch, yaw = (math.radians(a) for a in self.tilt_deg)
        return mount_matrix(self.axes_text) @ rot_zyx(yaw, pitch, roll)

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["axes"] = self.axes_text
        return d


def _finite(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def mount_matrix(axes: str) -> FloatArray:
    """Rotation whose columns are the sensor x, y, z axes in the segment frame."""
    try:
        amap = AxisMap.parse(axes)
    except RecordingError as exc:
        raise SimulationError(f"sensor axes: {exc}") from None
    m = np.empty((3, 3))
    for i, (b, s) in enumerate(zip(amap.body, amap.sign, strict=True)):
        m[:, i] = s * np.asarray(_BODY_UNIT[b])
    if np.linalg.det(m) < 0:
        raise SimulationError(
            f"sensor axes {axes!r} describe a left-handed frame; a real sensor's axes "
            "are right-handed (negate one axis)"
        )
    return m


# ---------------------------------------------------------------------------
# Measurement
# ---------------------------------------------------------------------------


@dataclass
class Measured:
    time_s: FloatArray
    acc_mps2: FloatArray
    gyr_dps: FloatArray | None
    kept: np.ndarray  # bool mask over the nominal samples
    gaps: list[dict[str, Any]]
    bias_mps2: tuple[float, float, float]
    gyro_bias_dps: tuple[float, float, float] | None


def _quantize(x: FloatArray, full_scale: float, bits: int | None) -> FloatArray:
    x = np.clip(x, -full_scale, full_scale)
    if bits is None:
        return x
    half = 2 ** (bits - 1)
    lsb = full_scale / half
    codes = np.clip(np.round(x / lsb), -half, half - 1)
    return codes * lsb


def measure(
    t_true: FloatArray,
    acc_true: FloatArray,
    gyr_true: FloatArray,
    spec: SensorSpec,
    rng: np.random.Generator,
) -> Measured:
    """Turn true (already band-limited, output-rate) signals into what the host receives."""
    n = t_true.size
    if spec.bias_mps2 is None:
        bias = rng.normal(0.0, spec.bias_sd_mps2, 3)
    else:
        bias = np.asarray(spec.bias_mps2, dtype=np.float64)
    acc = acc_true + bias + rng.normal(0.0, 1.0, (n, 3)) * spec.noise_mps2
    acc = _quantize(acc, spec.range_g * GRAVITY_MPS2, spec.resolution_bits)
    gyr = None
    gbias = None
    if spec.gyro:
        if spec.gyro_bias_dps is None:
            gb = rng.normal(0.0, spec.gyro_bias_sd_dps, 3)
        else:
            gb = np.asarray(spec.gyro_bias_dps, dtype=np.float64)
        gyr = gyr_true + gb + rng.normal(0.0, 1.0, (n, 3)) * spec.gyro_noise_dps
        gyr = _quantize(gyr, spec.gyro_range_dps, spec.resolution_bits)
        gbias = tuple(float(v) for v in gb)

    time_s = t_true.copy()
    if spec.jitter_s > 0:
        dt = 1.0 / spec.fs_hz
        time_s = time_s + np.clip(rng.normal(0.0, spec.jitter_s, n), -0.45 * dt, 0.45 * dt)

    kept = np.ones(n, dtype=bool)
    if spec.dropout_rate > 0:
        kept = _dropouts(n, spec, rng)
    idx = np.flatnonzero(kept)
    gaps = []
    missing = np.flatnonzero(np.diff(idx) > 1)
    for j in missing:
        a, b = int(idx[j]), int(idx[j + 1])
        gaps.append(
            {
                "index": int(j),
                "start_s": float(time_s[a]),
                "duration_s": float(time_s[b] - time_s[a]),
                "missing_samples": b - a - 1,
                "first_missing_s": float(t_true[a + 1]),
                "last_missing_s": float(t_true[b - 1]),
            }
        )
    return Measured(
        time_s=time_s[kept],
        acc_mps2=acc[kept],
        gyr_dps=None if gyr is None else gyr[kept],
        kept=kept,
        gaps=gaps,
        bias_mps2=(float(bias[0]), float(bias[1]), float(bias[2])),
        gyro_bias_dps=gbias,  # type: ignore[arg-type]
    )


def _dropouts(n: int, spec: SensorSpec, rng: np.random.Generator) -> np.ndarray:
    """Lost packets: bursts start with probability q, last a geometric number of packets.

    q is chosen so that the long-run lost fraction is ``dropout_rate``:
    f = L / (L + 1/q) for mean burst length L, so q = f / (L (1 - f)).
    The first and last packets are always kept, so the recording's span is unchanged.
    """
    p = spec.packet_samples
    n_packets = -(-n // p)
    f = spec.dropout_rate
    mean_len = spec.dropout_burst_packets
    q = min(f / (mean_len * (1.0 - f)), 1.0)
    lost = np.zeros(n_packets, dtype=bool)
    starts = rng.random(n_packets) < q
    lengths = rng.geometric(1.0 / mean_len, n_packets)
    i = 1
    while i < n_packets - 1:
        if starts[i]:
            end = min(i + int(lengths[i]), n_packets - 1)
            lost[i:end] = True
            i = end + 1  # a kept packet separates two bursts
        else:
            i += 1
    kept = np.repeat(~lost, p)[:n]
    return kept
