"""Quiet standing as a feedback-controlled inverted pendulum.

Model (Peterka 2002, J Neurophysiol 88:1097; Maurer & Peterka 2005, J
Neurophysiol 93:189), one pendulum per direction (AP and ML), body angle
theta about the ankles::

    J theta'' = m g h sin(theta) - Kpas theta - Bpas theta'
                - Kp theta(t - tau) - Kd theta'(t - tau) + T_noise(t)

with a passive (undelayed) stiffness and damping, an active PD controller
acting after the sensorimotor delay tau, and a coloured (first-order
low-passed) noise torque. Gains are given as multiples of m g h (stiffness,
1/rad) and m g h s (damping); the controller must exceed gravity's
destabilising stiffness (Kp + Kpas > 1) to stand.

The equation is linearised (sin theta = theta; sway stays under a few degrees)
and discretised by central differences at 200 Hz (:data:`SWAY_DT_S`); the
resulting linear recurrence with delay taps is an IIR filter run by
:func:`scipy.signal.lfilter` (no Python loop), then interpolated onto the fine
grid with a C2 cubic spline.

Amplitude is *calibrated*, not emergent: the noise level is set so that the
stationary standard deviation of theta equals the condition's target (computed
exactly from the filter's impulse response), so trials vary around the target
as real trials do. Conditions change both the target and the dynamics (lower
stiffness for foam and narrow stances slows and enlarges sway).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from scipy.interpolate import CubicSpline
from scipy.signal import lfilter

from ..errors import SimulationError
from ._body import Body

__all__ = ["STANCES", "PendulumParams", "stance_params"]

#: Stances from easiest to hardest; "feet_together" is STEADI's "side by side".
STANCES = ("feet_apart", "feet_together", "semi_tandem", "tandem", "single_leg")
EYES = ("open", "closed")
SURFACES = ("firm", "foam")


@dataclass(frozen=True)
class PendulumParams:
    """One direction of the sway model (gains relative to m g h)."""

    kp: float  # active stiffness / mgh  (1/rad)
    kd: float  # active damping / mgh    (s/rad)
    kpas: float  # passive stiffness / mgh
    bpas: float  # passive damping / mgh
    delay_s: float
    noise_tau_s: float  # noise low-pass time constant
    target_deg: float  # stationary SD of the body angle

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# Baseline: healthy older adult, feet apart, eyes open, firm floor.
# Target body-angle SDs (tuned) give a lower-back horizontal acceleration RMS
# of about 0.06 m/s^2 (mean removed); no trustworthy norm in m/s^2 exists, so
# verify against your own data (docs/simulator.md section 2).
_BASE_AP_DEG = 0.14
_BASE_ML_DEG = 0.06

# Per stance: (AP amplitude factor, ML amplitude factor, ML passive stiffness,
# ML active stiffness, AP active stiffness). A wide base gives the ML direction
# a large instantaneous (load/unload) stiffness (Winter et al. 1996, 1998);
# narrowing the base removes it and ML sway grows fastest.
_STANCE = {
    "feet_apart": (1.00, 1.00, 1.60, 0.90, 1.50),
    "feet_together": (1.10, 2.00, 0.60, 1.20, 1.50),
    "semi_tandem": (1.35, 3.00, 0.40, 1.25, 1.45),
    "tandem": (1.70, 4.00, 0.25, 1.30, 1.40),
    "single_leg": (2.30, 5.50, 0.10, 1.45, 1.35),
}
# Eyes closed / foam: amplitude factors and stiffness factors (sensory
# reweighting lowers the usable feedback gain; foam also removes passive
# ankle stiffness). Romberg ratios of about 1.3-2 are typical of older adults.
_EYES = {"open": (1.0, 1.0), "closed": (1.55, 0.93)}
_SURFACE = {"firm": (1.0, 1.0), "foam": (1.9, 0.93)}
_FOAM_EC_INTERACTION = 1.25  # foam + eyes closed is worse than the product


def stance_params(
    stance: str, eyes: str, surface: str, sway_scale: float
) -> tuple[PendulumParams, PendulumParams]:
    """(AP, ML) pendulum parameters of a standing condition."""
    if stance not in _STANCE:
        raise SimulationError(f"unknown stance {stance!r}; use one of {', '.join(STANCES)}")
    if eyes not in _EYES:
        raise SimulationError(f"eyes must be 'open' or 'closed', got {eyes!r}")
    if surface not in _SURFACE:
        raise SimulationError(f"surface must be 'firm' or 'foam', got {surface!r}")
    f_ap, f_ml, kpas_ml, kp_ml, kp_ap = _STANCE[stance]
    e_amp, e_k = _EYES[eyes]
    s_amp, s_k = _SURFACE[surface]
    amp = e_amp * s_amp * (_FOAM_EC_INTERACTION if (eyes, surface) == ("closed", "foam") else 1.0)
    k = e_k * s_k
    foam = surface == "foam"
    ap = PendulumParams(
        kp=max(kp_ap * k, 1.15),
        kd=0.40,
        kpas=0.0 if foam else 0.10,
        bpas=0.02,
        delay_s=0.15,
        noise_tau_s=0.15,
        target_deg=_BASE_AP_DEG * f_ap * amp * sway_scale,
    )
    ml = PendulumParams(
        kp=max(kp_ml * k, 0.6),
        kd=0.35,
        kpas=kpas_ml * (0.6 if foam else 1.0),
        bpas=0.03,
        delay_s=0.15,
        noise_tau_s=0.15,
        target_deg=_BASE_ML_DEG * f_ml * amp * sway_scale,
    )
    return ap, ml


def _filter_coeffs(p: PendulumParams, body: Body, dt: float) -> tuple[np.ndarray, np.ndarray, int]:
    """IIR coefficients theta <- u (u = noise torque / mgh)."""
    j_over = body.pend_inertia / body.mgh  # s^2
    d = max(int(round(p.delay_s / dt)), 1)
    c = dt * dt / j_over
    # theta[m] = 2 th[m-1] - th[m-2] + c (th[m-1] - kpas th[m-1] - bpas (th[m-1]-th[m-2])/dt
    #            - kp th[m-1-d] - kd (th[m-1-d] - th[m-2-d])/dt + u[m-1])
    a = np.zeros(d + 3)
    a[0] = 1.0
    a[1] -= 2.0 + c * (1.0 - p.kpas) - c * p.bpas / dt
    a[2] += 1.0 - c * p.bpas / dt
    a[1 + d] += c * (p.kp + p.kd / dt)
    a[2 + d] -= c * p.kd / dt
    b = np.array([0.0, c])
    return b, a, d


def _noise_ar(p: PendulumParams, dt: float) -> float:
    return math.exp(-dt / p.noise_tau_s)


@lru_cache(maxsize=256)
def stationary_gain(p: PendulumParams, body: Body, dt: float) -> float:
    """SD of theta (rad) per unit SD of the white input driving the noise filter."""
    b, a, _ = _filter_coeffs(p, body, dt)
    rho = _noise_ar(p, dt)
    n = int(round(60.0 / dt))
    imp = np.zeros(n)
    imp[0] = 1.0
    h = lfilter([1.0], [1.0, -rho], imp)
    h = lfilter(b, a, h)
    if not np.all(np.isfinite(h)) or abs(h[-1]) > 1e-3 * np.abs(h).max():
        raise SimulationError(
            f"sway model is unstable for these parameters ({p}); "
            "the controller stiffness must exceed gravity's (kp + kpas > 1)"
        )
    return float(np.sqrt(np.sum(h * h)))


#: Step of the pendulum simulation; the result is interpolated onto the fine
#: grid with a C2 cubic spline (sway has no content near 100 Hz).
SWAY_DT_S = 0.005


def simulate_angle(
    p: PendulumParams, body: Body, t: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Body angle (rad) at times ``t`` (s, from 0), after a 30 s warm-up."""
    dt = SWAY_DT_S
    span = float(t[-1] - t[0]) if t.size else 0.0
    n = int(math.ceil(span / dt)) + 4
    warm = int(round(30.0 / dt))
    white = rng.standard_normal(n + warm)
    gain = stationary_gain(p, body, dt)
    scale = math.radians(p.target_deg) / gain
    rho = _noise_ar(p, dt)
    u = lfilter([1.0], [1.0, -rho], white * scale)
    b, a, _ = _filter_coeffs(p, body, dt)
    theta = lfilter(b, a, u)[warm:]
    tc = float(t[0]) + dt * (np.arange(n) - 1)
    return CubicSpline(tc, theta)(t)
