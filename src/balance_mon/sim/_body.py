"""The simulated person: :class:`Subject` and the body geometry derived from height.

Segment lengths and landmark heights are fractions of body height H from
Winter, *Biomechanics and Motor Control of Human Movement* (4th ed. 2009,
table 4.1, after Drillis & Contini 1966): hip (greater trochanter) 0.530 H,
knee 0.285 H, ankle 0.039 H, shoulder 0.818 H, upper arm 0.186 H, forearm
0.146 H, shoulder width 0.259 H, hip width 0.191 H. The whole-body centre of
mass is put at 0.55 H, the lower-back (L4/L5) sensor at 0.575 H and the
sternum sensor at 0.72 H; skin-surface offsets (back 0.06 H, chest 0.06 H,
front of thigh 0.05 H) are rough estimates.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from ..consts import GRAVITY_MPS2
from ..errors import SimulationError

__all__ = ["Body", "Subject"]


@dataclass(frozen=True, kw_only=True)
class Subject:
    """Who is simulated.

    Parameters
    ----------
    subject_id : written to the recording's ``subject`` metadata.
    height_m, mass_kg : body size; every length scales with height.
    age_years, sex : descriptive only (kept in the ground truth).
    sway_scale : multiplies the postural sway amplitude of every stance
        (1.0 = a healthy older adult; 1.5 = clearly unsteady).
    gait_speed_mps : comfortable walking speed (older adults about 0.9-1.3).
    cadence_spm : comfortable cadence, steps per minute (about 100-120).
    sts_rise_s : duration of one sit-to-stand (trunk-lean onset to upright),
        about 1.3-2.1 s in older adults (Baer & Ashburn 1995, mean 1.67 s).
    sts_sit_s : duration of one stand-to-sit.
    trunk_flexion_deg : peak forward trunk lean in a sit-to-stand.
    """

    subject_id: str = "sim01"
    height_m: float = 1.65
    mass_kg: float = 68.0
    age_years: float = 72.0
    sex: str = "female"
    sway_scale: float = 1.0
    gait_speed_mps: float = 1.15
    cadence_spm: float = 110.0
    sts_rise_s: float = 1.6
    sts_sit_s: float = 1.7
    trunk_flexion_deg: float = 40.0

    def __post_init__(self) -> None:
        checks = {
            "height_m": (1.2, 2.2),
            "mass_kg": (30.0, 200.0),
            "sway_scale": (0.1, 10.0),
            "gait_speed_mps": (0.2, 2.0),
            "cadence_spm": (50.0, 150.0),
            "sts_rise_s": (0.6, 5.0),
            "sts_sit_s": (0.6, 5.0),
            "trunk_flexion_deg": (5.0, 70.0),
        }
        for name, (lo, hi) in checks.items():
            v = getattr(self, name)
            if not (isinstance(v, int | float) and math.isfinite(v) and lo <= v <= hi):
                raise SimulationError(
                    f"subject {name} must be a number between {lo:g} and {hi:g}, got {v!r}"
                )
        if not re_ok(self.subject_id):
            raise SimulationError(
                f"subject_id {self.subject_id!r} must be non-empty text without line breaks"
            )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def re_ok(text: str) -> bool:
    return isinstance(text, str) and bool(text.strip()) and "\n" not in text and "\r" not in text


@dataclass(frozen=True)
class Body:
    """Lengths (m) and masses derived from a :class:`Subject`."""

    height: float
    mass: float
    l_shank: float
    l_thigh: float
    ankle_h: float
    hip_h: float
    lumbar_h: float  # lower-back sensor height / lumbar pivot
    sternum_h: float
    shoulder_h: float
    com_h: float
    l_upper_arm: float
    l_forearm: float
    half_shoulder: float
    half_hip: float
    back_depth: float
    chest_depth: float
    thigh_depth: float
    pend_mass: float  # mass above the ankles
    pend_h: float  # CoM height above the ankle joint
    pend_inertia: float  # about the ankle axis

    @classmethod
    def of(cls, s: Subject) -> Body:
        h = s.height_m
        pend_mass = s.mass_kg * (1.0 - 2 * 0.0145)  # minus both feet (Winter table 4.1)
        pend_h = (0.55 - 0.039) * h
        return cls(
            height=h,
            mass=s.mass_kg,
            l_shank=(0.285 - 0.039) * h,
            l_thigh=(0.530 - 0.285) * h,
            ankle_h=0.039 * h,
            hip_h=0.530 * h,
            lumbar_h=0.575 * h,
            sternum_h=0.72 * h,
            shoulder_h=0.818 * h,
            com_h=0.55 * h,
            l_upper_arm=0.186 * h,
            l_forearm=0.146 * h,
            half_shoulder=0.259 * h / 2.0,
            half_hip=0.191 * h / 4.0,  # hip joint centres sit about a quarter width out
            back_depth=0.06 * h,
            chest_depth=0.06 * h,
            thigh_depth=0.05 * h,
            pend_mass=pend_mass,
            pend_h=pend_h,
            # A distributed body has J about 1.25 m h^2 (published single-pendulum
            # parameter sets use J = 66 kg m^2 for m = 75 kg, h = 0.83 m: ratio 1.28).
            pend_inertia=1.25 * pend_mass * pend_h**2,
        )

    @property
    def mgh(self) -> float:
        return self.pend_mass * GRAVITY_MPS2 * self.pend_h
