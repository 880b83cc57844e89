"""sway_metrics against a straightforward, independent implementation of clinical.md section 1."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import signal

from balance_mon.analysis.sway import SWAY_KEYS, SwayAnalyzer, main_sway_direction_deg, sway_metrics
from balance_mon.errors import RecordingError, TooShortError
from balance_mon.recording import AxisMap, Recording


def reference_metrics(ap, ml, fs):
    """Loop-based transcription of the reference formulas (no shared code)."""
    ap = [float(x) for x in ap]
    ml = [float(x) for x in ml]
    n = len(ap)
    dt = 1.0 / fs
    T = n * dt
    map_, mml = sum(ap) / n, sum(ml) / n
    ap = [x - map_ for x in ap]
    ml = [x - mml for x in ml]
    r = [math.hypot(a, m) for a, m in zip(ap, ml, strict=True)]
    path = sum(math.hypot(ap[i] - ap[i - 1], ml[i] - ml[i - 1]) for i in range(1, n))
    jerk = 0.5 * sum(
        (((ap[i] - ap[i - 1]) / dt) ** 2 + ((ml[i] - ml[i - 1]) / dt) ** 2) * dt
        for i in range(1, n)
    )

    def vel(x):
        v = [0.0]
        for i in range(1, n):
            v.append(v[-1] + 0.5 * (x[i] + x[i - 1]) * dt)
        # least-squares line over the sample index
        k = list(range(n))
        km, vm = sum(k) / n, sum(v) / n
        slope = sum((a - km) * (b - vm) for a, b in zip(k, v, strict=True)) / sum(
            (a - km) ** 2 for a in k
        )
        icpt = vm - slope * km
        return [b - (slope * a + icpt) for a, b in zip(k, v, strict=True)]

    vap, vml = vel(ap), vel(ml)
    mean_vel = sum(math.hypot(a, b) for a, b in zip(vap, vml, strict=True)) / n
    caa = sum(a * a for a in ap) / (n - 1)
    cmm = sum(m * m for m in ml) / (n - 1)
    cam = sum(a * m for a, m in zip(ap, ml, strict=True)) / (n - 1)
    area = math.pi * 5.991464547107979 * math.sqrt(caa * cmm - cam * cam)
    out = {
        "rms_mps2": math.sqrt(sum(a * a + m * m for a, m in zip(ap, ml, strict=True)) / n),
        "rms_ap_mps2": math.sqrt(sum(a * a for a in ap) / n),
        "rms_ml_mps2": math.sqrt(sum(m * m for m in ml) / n),
        "range_ap_mps2": max(ap) - min(ap),
        "range_ml_mps2": max(ml) - min(ml),
        "path_mps2": path,
        "norm_path_mps3": path / T,
        "jerk_m2ps5": jerk,
        "mean_velocity_mps": mean_vel,
        "ellipse_area_m2ps4": area,
        "mean_freq_hz": path / (2 * math.pi * (sum(r) / n) * T),
    }
    nperseg = min(n, round(10 * fs))
    f, pa = signal.welch(
        np.array(ap),
        fs,
        window="hann",
        nperseg=nperseg,
        noverlap=nperseg // 2,
        detrend="constant",
        scaling="density",
    )
    _, pm = signal.welch(
        np.array(ml),
        fs,
        window="hann",
        nperseg=nperseg,
        noverlap=nperseg // 2,
        detrend="constant",
        scaling="density",
    )
    df = f[1] - f[0]
    rows = [
        (fi, a + b) for fi, a, b in zip(f, pa, pm, strict=True) if 0.1 <= fi <= min(10.0, fs / 2)
    ]
    tot = sum(p for _, p in rows)
    acc = 0.0
    f50 = f95 = None
    for fi, p in rows:
        acc += p
        if f50 is None and acc >= 0.5 * tot:
            f50 = fi
        if f95 is None and acc >= 0.95 * tot:
            f95 = fi
    s1 = sum(fi * p for fi, p in rows)
    s2 = sum(fi * fi * p for fi, p in rows)
    out.update(
        total_power_m2ps4=tot * df,
        f50_hz=f50,
        f95_hz=f95,
        centroid_freq_hz=math.sqrt(s2 / tot),
        freq_dispersion=math.sqrt(1 - s1 * s1 / (tot * s2)),
    )
    return out


@pytest.mark.parametrize("seed", range(6))
def test_sway_metrics_match_reference_on_random_inputs(seed):
    rng = np.random.default_rng(seed)
    fs = float(rng.choice([25.0, 50.0, 100.0, 128.0, 200.0]))
    n = int(rng.integers(int(3 * fs), int(40 * fs)))
    ap = np.cumsum(rng.normal(size=n)) * 0.01 + rng.normal(size=n) * 0.02 + rng.normal()
    ml = rng.normal(size=n) * 0.03 + 0.5 * ap + rng.normal()
    got = sway_metrics(ap, ml, fs)
    want = reference_metrics(ap, ml, fs)
    assert tuple(got) == SWAY_KEYS
    for k in SWAY_KEYS:
        assert got[k] == pytest.approx(want[k], rel=1e-9, abs=1e-300), k


def test_exact_values_on_a_known_sinusoid():
    fs, n = 100.0, 6000  # 60 s, whole number of periods
    t = np.arange(n) / fs
    ap = 0.2 * np.sin(2 * np.pi * 0.5 * t)
    ml = np.zeros(n)
    m = sway_metrics(ap, ml, fs)
    assert m["rms_ap_mps2"] == pytest.approx(0.2 / math.sqrt(2), rel=1e-6)
    assert m["rms_ml_mps2"] == 0.0
    assert m["ellipse_area_m2ps4"] == 0.0  # a line has no area
    assert m["f50_hz"] == pytest.approx(0.5)
    assert m["centroid_freq_hz"] == pytest.approx(0.5, abs=0.02)
    # path of a sinusoid: 4 x amplitude per period, 30 periods
    assert m["path_mps2"] == pytest.approx(4 * 0.2 * 30, rel=1e-3)
    # mean frequency of a pure sinusoid: path / (2 pi mean|x| T) = 4A f / (2 pi 2A/pi) = f
    assert m["mean_freq_hz"] == pytest.approx(0.5, rel=1e-3)


def test_main_direction_follows_the_sway():
    rng = np.random.default_rng(3)
    x = rng.normal(size=4000)
    ang = math.radians(30)
    ap, ml = x * math.cos(ang), x * math.sin(ang) + 0.01 * rng.normal(size=4000)
    assert main_sway_direction_deg(ap, ml) == pytest.approx(30, abs=1)


@pytest.mark.parametrize(
    ("ap", "ml", "exc"),
    [
        (np.zeros(1), np.zeros(1), TooShortError),
        (np.zeros(10), np.zeros(9), RecordingError),
        (np.array([0.0, np.nan, 1.0]), np.zeros(3), RecordingError),
        (np.zeros((3, 2)), np.zeros((3, 2)), RecordingError),
    ],
)
def test_sway_metrics_rejects_bad_input(ap, ml, exc):
    with pytest.raises(exc):
        sway_metrics(ap, ml, 100.0)


def test_short_trial_has_no_spectral_measures_but_time_measures():
    rng = np.random.default_rng(0)
    m = sway_metrics(rng.normal(size=5), rng.normal(size=5), 100.0)
    assert math.isnan(m["f50_hz"]) and math.isnan(m["total_power_m2ps4"])
    assert m["rms_mps2"] > 0


def _stance(fs=100.0, n=3000, seed=0, rot=None):
    rng = np.random.default_rng(seed)
    t = np.arange(n) / fs
    ml = 0.05 * np.sin(2 * np.pi * 0.4 * t) + 0.01 * rng.normal(size=n)
    ap = 0.08 * np.sin(2 * np.pi * 0.25 * t + 1) + 0.01 * rng.normal(size=n)
    body = np.column_stack([np.full(n, 9.80665), ml, ap])  # v, ml, ap
    if rot is not None:
        body = body @ rot.T
    return t, body


def test_analyzer_uses_axes_and_undoes_mounting_tilt():
    t, body = _stance()
    rec = Recording(
        time_s=t, acc_mps2=body, fs_nominal_hz=100.0, axes=AxisMap.parse("x=v y=ml z=ap")
    )
    ref = SwayAnalyzer().analyze_recording(rec).metrics_
    # the same signals seen by a sensor pitched 20 degrees forward
    a = math.radians(20)
    rot = np.array([[math.cos(a), 0, -math.sin(a)], [0, 1, 0], [math.sin(a), 0, math.cos(a)]])
    tilted = body @ rot.T
    rec2 = rec.replace(acc_mps2=tilted)
    got = SwayAnalyzer().analyze_recording(rec2).metrics_
    for k in ("rms_mps2", "rms_ap_mps2", "rms_ml_mps2", "ellipse_area_m2ps4", "jerk_m2ps5"):
        assert got[k] == pytest.approx(ref[k], rel=0.02), k
    # filtering keeps the 0.25 and 0.4 Hz sway and removes most of the white noise
    assert ref["rms_ap_mps2"] == pytest.approx(0.08 / math.sqrt(2), rel=0.05)


def test_analyzer_without_axes_finds_vertical_and_keeps_direction_free_measures():
    t, body = _stance()
    with_axes = Recording(time_s=t, acc_mps2=body, axes=AxisMap.parse("x=v y=ml z=ap"))
    # sensor mounted upside down with axes permuted: z=-v x=ml y=ap
    raw = np.column_stack([body[:, 1], body[:, 2], -body[:, 0]])
    without = Recording(time_s=t, acc_mps2=raw)
    a = SwayAnalyzer().analyze_recording(with_axes).metrics_
    b = SwayAnalyzer().analyze_recording(without).metrics_
    for k in ("rms_mps2", "ellipse_area_m2ps4", "jerk_m2ps5", "path_mps2", "total_power_m2ps4"):
        assert b[k] == pytest.approx(a[k], rel=1e-6), k


def test_analyzer_does_not_filter_across_a_gap():
    t, body = _stance(n=4000)
    keep = np.ones(t.size, bool)
    keep[1000:1300] = False  # 3 s gap
    rec = Recording(time_s=t[keep], acc_mps2=body[keep], axes=AxisMap.parse("x=v y=ml z=ap"))
    sa = SwayAnalyzer().analyze_recording(rec)
    assert sa.analysed_s_ == pytest.approx(27.0, abs=0.02)


def test_analyzer_does_not_mutate_input():
    _t, body = _stance()
    before = body.copy()
    SwayAnalyzer().analyze(body, 100.0)
    np.testing.assert_array_equal(body, before)
