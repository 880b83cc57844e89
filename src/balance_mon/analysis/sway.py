"""Postural sway from one trunk accelerometer.

:func:`sway_metrics` is the stable interface (interfaces.md section 3): it takes
already aligned and filtered horizontal acceleration and applies the formulas
of the clinical reference (section 1) with no further filtering.
:class:`SwayAnalyzer` goes from a raw :class:`~balance_mon.recording.Recording`
to those metrics: axis mapping, tilt correction (Moe-Nilssen 1998), zero-phase
low-pass, mean removal.

Sources: Prieto et al. 1996 (IEEE TBME 43:956) for path, mean frequency and
the spectral measures; Mancini et al. 2012 (J NeuroEng Rehabil 9:59, "ISway")
for jerk and the pipeline; Schubert & Kirchner 2014 (Gait Posture 39:518) for
the 95 % prediction ellipse.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy import integrate, signal

from ..dsp.filters import lowpass_zero_phase
from ..dsp.gaps import uniform_segments
from ..dsp.tilt import tilt_correct, vertical_axis_guess
from ..errors import RecordingError, TooShortError
from ..recording import AxisMap, Recording

__all__ = ["SWAY_KEYS", "SwayAnalyzer", "main_sway_direction_deg", "sway_metrics"]

#: The keys of :func:`sway_metrics`, in contract order.
SWAY_KEYS = (
    "rms_mps2",
    "rms_ap_mps2",
    "rms_ml_mps2",
    "range_ap_mps2",
    "range_ml_mps2",
    "path_mps2",
    "norm_path_mps3",
    "jerk_m2ps5",
    "mean_velocity_mps",
    "ellipse_area_m2ps4",
    "mean_freq_hz",
    "total_power_m2ps4",
    "f50_hz",
    "f95_hz",
    "centroid_freq_hz",
    "freq_dispersion",
)

#: chi-square(2 dof) 95 % quantile: the 95 % prediction ellipse scale.
CHI2_95_2DOF = 5.991464547107979


def _linear_detrend(v: np.ndarray) -> np.ndarray:
    n = np.arange(v.size, dtype=np.float64)
    a, b = np.polyfit(n, v, 1)
    return v - (a * n + b)


def sway_metrics(acc_ap: ArrayLike, acc_ml: ArrayLike, fs_hz: float) -> dict[str, float]:
    """Sway measures of horizontal trunk acceleration (clinical.md section 1).

    Parameters
    ----------
    acc_ap, acc_ml : equal-length 1-D arrays of aligned, filtered
        antero-posterior and medio-lateral acceleration, m/s^2.
    fs_hz : sampling rate in Hz.

    Returns
    -------
    dict with exactly the keys of :data:`SWAY_KEYS`. Spectral measures are NaN
    when the trial is too short to have a frequency bin between 0.1 and 10 Hz;
    ``mean_freq_hz`` is NaN for a signal with no sway at all.
    """
    ap = np.asarray(acc_ap, dtype=np.float64)
    ml = np.asarray(acc_ml, dtype=np.float64)
    if ap.ndim != 1 or ml.ndim != 1 or ap.shape != ml.shape:
        raise RecordingError("sway_metrics needs two 1-D arrays of equal length")
    if ap.size < 2:
        raise TooShortError("sway_metrics needs at least two samples")
    if not (np.all(np.isfinite(ap)) and np.all(np.isfinite(ml))):
        raise RecordingError("sway_metrics: acceleration contains NaN or infinite values")
    fs = float(fs_hz)
    if not (math.isfinite(fs) and fs > 0):
        raise RecordingError(f"sway_metrics: sampling rate must be positive, got {fs_hz}")
    n = ap.size
    dt = 1.0 / fs
    t_total = n * dt
    ap = ap - ap.mean()
    ml = ml - ml.mean()
    r = np.sqrt(ap**2 + ml**2)
    dap, dml = np.diff(ap), np.diff(ml)
    path = float(np.sum(np.sqrt(dap**2 + dml**2)))
    jerk = float(0.5 * np.sum(((dap / dt) ** 2 + (dml / dt) ** 2) * dt))
    v_ap = _linear_detrend(integrate.cumulative_trapezoid(ap, dx=dt, initial=0.0))
    v_ml = _linear_detrend(integrate.cumulative_trapezoid(ml, dx=dt, initial=0.0))
    cov = np.cov(np.vstack([ap, ml]), ddof=1)
    det = max(float(np.linalg.det(cov)), 0.0)
    mean_r = float(r.mean())
    out: dict[str, float] = {
        "rms_mps2": float(np.sqrt(np.mean(ap**2 + ml**2))),
        "rms_ap_mps2": float(np.sqrt(np.mean(ap**2))),
        "rms_ml_mps2": float(np.sqrt(np.mean(ml**2))),
        "range_ap_mps2": float(ap.max() - ap.min()),
        "range_ml_mps2": float(ml.max() - ml.min()),
        "path_mps2": path,
        "norm_path_mps3": path / t_total,
        "jerk_m2ps5": jerk,
        "mean_velocity_mps": float(np.mean(np.sqrt(v_ap**2 + v_ml**2))),
        "ellipse_area_m2ps4": float(math.pi * CHI2_95_2DOF * math.sqrt(det)),
        "mean_freq_hz": path / (2 * math.pi * mean_r * t_total) if mean_r > 0 else math.nan,
    }
    out.update(_spectral(ap, ml, fs))
    return out


def _spectral(ap: np.ndarray, ml: np.ndarray, fs: float) -> dict[str, float]:
    nan = {
        "total_power_m2ps4": math.nan,
        "f50_hz": math.nan,
        "f95_hz": math.nan,
        "centroid_freq_hz": math.nan,
        "freq_dispersion": math.nan,
    }
    n = ap.size
    nperseg = min(n, round(10 * fs))
    if nperseg < 2:
        return nan
    kw = dict(
        fs=fs,
        window="hann",
        nperseg=nperseg,
        noverlap=nperseg // 2,
        detrend="constant",
        scaling="density",
    )
    f, p_ap = signal.welch(ap, **kw)
    _, p_ml = signal.welch(ml, **kw)
    p = p_ap + p_ml
    keep = (f >= 0.1) & (f <= min(10.0, fs / 2))
    if not keep.any() or f.size < 2:
        return nan
    df = float(f[1] - f[0])
    fk, pk = f[keep], p[keep]
    total = float(pk.sum())
    if total <= 0:
        return {**nan, "total_power_m2ps4": 0.0}
    cum = np.cumsum(pk)
    f50 = float(fk[np.argmax(cum >= 0.5 * total)])
    f95 = float(fk[np.argmax(cum >= 0.95 * total)])
    m1 = float(np.sum(fk * pk))
    m2 = float(np.sum(fk**2 * pk))
    return {
        "total_power_m2ps4": total * df,
        "f50_hz": f50,
        "f95_hz": f95,
        "centroid_freq_hz": math.sqrt(m2 / total),
        "freq_dispersion": math.sqrt(max(0.0, 1.0 - m1 * m1 / (total * m2))),
    }


def main_sway_direction_deg(acc_ap: ArrayLike, acc_ml: ArrayLike) -> float:
    """Direction of the 95 % ellipse's major axis, degrees from AP towards ML, in [-90, 90)."""
    cov = np.cov(np.vstack([np.asarray(acc_ap, float), np.asarray(acc_ml, float)]), ddof=1)
    w, v = np.linalg.eigh(cov)
    major = v[:, int(np.argmax(w))]
    ang = math.degrees(math.atan2(major[1], major[0]))
    return (ang + 90.0) % 180.0 - 90.0


class SwayAnalyzer:
    """Sway of one quiet-standing trial from a raw trunk recording.

    Pipeline: (1) body axes from the recording's ``axes`` metadata, or else
    the sensor axis most aligned with gravity as vertical and the other two
    as they come (direction-free measures stay right, AP/ML labels are then
    not guaranteed); (2) tilt correction to the trial's mean gravity direction
    (Moe-Nilssen 1998); (3) zero-phase Butterworth low-pass, order
    ``filter_order``, at ``cutoff_hz`` (3.5 Hz, the cut-off quoted for ISway,
    Mancini 2012); (4) mean removal; (5) :func:`sway_metrics`. A recording
    with gaps is analysed on its longest gap-free stretch, resampled onto a
    uniform grid at the estimated rate; it is never filtered across a gap.

    Parameters
    ----------
    cutoff_hz : low-pass cut-off (default 3.5 Hz).
    filter_order : Butterworth design order (default 4, run forwards and backwards).
    trim_s : seconds dropped at each end after filtering (default 0).

    Attributes
    ----------
    metrics_ : dict of the sway keys.
    direction_deg_ : main sway direction, degrees from AP towards ML.
    axes_known_ : whether AP and ML are named by the recording's axis mapping.
    analysed_s_ : duration actually analysed.
    acc_ap_mps2_, acc_ml_mps2_ : the processed horizontal signals.
    fs_hz_ : their rate.
    """

    version = "1.0"

    def __init__(self, *, cutoff_hz: float = 3.5, filter_order: int = 4, trim_s: float = 0.0):
        self.cutoff_hz = cutoff_hz
        self.filter_order = filter_order
        self.trim_s = trim_s

    def get_params(self) -> dict[str, Any]:
        return {
            "cutoff_hz": self.cutoff_hz,
            "filter_order": self.filter_order,
            "trim_s": self.trim_s,
        }

    def analyze(
        self, acc_mps2: ArrayLike, fs_hz: float, *, axes: AxisMap | None = None
    ) -> SwayAnalyzer:
        """Analyse evenly sampled (N, 3) sensor-frame acceleration at ``fs_hz``."""
        acc = np.asarray(acc_mps2, dtype=np.float64)
        if acc.ndim != 2 or acc.shape[1] != 3:
            raise RecordingError("sway analysis needs (N, 3) acceleration")
        if acc.shape[0] < 2:
            raise TooShortError("sway analysis needs at least two samples")
        fs = float(fs_hz)
        if axes is not None:
            vhh = axes.to_body(acc)  # columns v, ml, ap
            self.axes_known_ = True
        else:
            i, sign = vertical_axis_guess(acc)
            others = [j for j in range(3) if j != i]
            vhh = np.column_stack([sign * acc[:, i], acc[:, others]])
            self.axes_known_ = False
        corrected, _ = tilt_correct(vhh)
        horiz = lowpass_zero_phase(
            corrected[:, 1:], fs, cutoff_hz=self.cutoff_hz, order=self.filter_order
        )
        k = int(round(self.trim_s * fs))
        if k and horiz.shape[0] > 2 * k + 2:
            horiz = horiz[k:-k]
        ml = horiz[:, 0] - horiz[:, 0].mean()
        ap = horiz[:, 1] - horiz[:, 1].mean()
        self.acc_ap_mps2_, self.acc_ml_mps2_ = ap, ml
        self.fs_hz_ = fs
        self.analysed_s_ = ap.size / fs
        self.metrics_ = sway_metrics(ap, ml, fs)
        self.direction_deg_ = main_sway_direction_deg(ap, ml)
        return self

    def analyze_recording(self, rec: Recording) -> SwayAnalyzer:
        """Analyse a recording's longest gap-free stretch (resampled onto a uniform grid)."""
        segs = uniform_segments(rec)
        if not segs:
            raise TooShortError(f"{rec.source or 'recording'}: no gap-free stretch to analyse")
        seg = max(segs, key=lambda s: s.n_samples)
        return self.analyze(seg.acc_mps2, seg.fs_hz, axes=rec.axes)

    def result(self) -> dict[str, Any]:
        """The metrics plus direction, provenance and algorithm version, for JSON."""
        return {
            **self.metrics_,
            "direction_deg": self.direction_deg_,
            "axes_known": self.axes_known_,
            "analysed_s": self.analysed_s_,
            "algorithm": {"name": "SwayAnalyzer", "version": self.version, **self.get_params()},
        }
