"""Accuracy of the analyses, measured in one run: prints every figure and writes docs/validation.md.

Sections (each figure is measured in the run that writes the document):

a. ``sway_metrics`` against the independent loop-based implementation of
   tests/test_sway.py (``reference_metrics``) on random inputs.
b. Sensor tilt: the same stance with the sensor rotated by up to 30 deg about
   any horizontal axis (BDS force-plate trials rotated numerically; simulated
   stances with the sensor physically tilted on the body), with and without
   the ``axes`` metadata; and mounts that include a rotation about the
   vertical (yaw).
c. BDS force-plate trials: RMS and 95 % ellipse area, eyes closed vs open and
   foam vs firm per person.
d. Repetition counting: bench/validate_reps.py (its ``main`` is called and its
   printed table captured; that script is maintained with reps.py).
e. Sit-to-stand / stand-to-sit detection: precision and recall on simulated
   sessions (bench/bench_sit2stand.py's ``score``) and the real recordings'
   hand counts.
f. Timed Up and Go phases and four-stage hold times against simulated truth.

A summary of targets vs measured values (PASS / FAIL per line) is printed at
the end and placed at the top of the document. An existing ``## Speed``
section of the document (written from bench/bench_analysis.py and
bench/bench_live.py) is kept.

Usage::

    .venv/bin/python bench/validate.py              # full run, writes docs/validation.md
    .venv/bin/python bench/validate.py --quick      # smaller grids, a smoke test
    .venv/bin/python bench/validate.py --no-write   # print only
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import math
import os
import re
import sys
import time
import traceback
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from _machine import machine
from scipy.spatial.transform import Rotation

from balance_mon import sim
from balance_mon.analysis.balance import FourStageAnalyzer
from balance_mon.analysis.sway import SWAY_KEYS, SwayAnalyzer, sway_metrics
from balance_mon.analysis.transitions import KINDS, TransitionDetector
from balance_mon.analysis.tug import TUG_PHASES, TugAnalyzer
from balance_mon.io import load_recording

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT / "sample_data" / "real"
BDS = REAL / "bds"
DOC = ROOT / "docs" / "validation.md"

#: Hand counts of the real recordings (tests/test_transitions.py module docstring and
#: the snapshot tests there; docs/transitions.md "Validation"): (kind, time_s).
HAND_COUNTS = {
    "sit2standpy/sit2standpy_sample.csv": [
        ("stand_to_sit", 7.5),
        ("sit_to_stand", 24.0),
        ("stand_to_sit", 31.0),
        ("sit_to_stand", 37.5),
        ("stand_to_sit", 69.0),
        ("sit_to_stand", 82.5),
        ("stand_to_sit", 88.7),
    ],
    "mobgap/mobgap_ha001_test11_daily_living.csv": [
        ("sit_to_stand", 4.5),
        ("stand_to_sit", 52.0),
        ("sit_to_stand", 76.5),
        ("stand_to_sit", 136.0),
    ],
    # straight walking: no transfer
    "mobgap/mobgap_ha001_test5_straight_walk.csv": [],
    "mobgap/mobgap_ms001_test5_straight_walk.csv": [],
}
#: A hand-counted transfer matches a detected one of the same kind whose span,
#: widened by this much, contains the hand time (the snapshot tests' rule).
HAND_SLACK_S = 0.5


def load_module(name: str, path: Path):
    """Import a module (a test or a bench script) from its path."""
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


# ---------------------------------------------------------------------------
# Output: every line goes to stdout and to the document
# ---------------------------------------------------------------------------


class Report:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.checks: list[tuple[str, str, str, str]] = []

    def out(self, text: str = "") -> None:
        print(text, flush=True)
        self.lines.append(text)

    def h2(self, title: str) -> None:
        self.out()
        self.out(f"## {title}")
        self.out()

    def h3(self, title: str) -> None:
        self.out()
        self.out(f"### {title}")
        self.out()

    def table(self, headers: list[str], rows: list[list]) -> None:
        self.out("| " + " | ".join(headers) + " |")
        self.out("|" + "|".join("---" for _ in headers) + "|")
        for r in rows:
            self.out("| " + " | ".join(str(c) for c in r) + " |")
        self.out()

    def check(self, what: str, target: str, measured: str, ok: bool | None) -> None:
        """One summary line; ``ok`` None means reported without a target."""
        status = "INFO" if ok is None else ("PASS" if ok else "FAIL")
        self.checks.append((what, target, measured, status))


def pct(x: float, digits: int = 1) -> str:
    return "n/a" if not math.isfinite(x) else f"{100 * x:.{digits}f} %"


def rel_err(a: float, b: float) -> float:
    """|a / b - 1|, or |a - b| when b is 0; NaN on both sides counts as equal."""
    if math.isnan(a) and math.isnan(b):
        return 0.0
    if b == 0:
        return abs(a - b)
    return abs(a / b - 1.0)


# ---------------------------------------------------------------------------
# a. sway_metrics against the reference implementation
# ---------------------------------------------------------------------------


def random_sway(rng: np.random.Generator, n: int, fs: float) -> tuple[np.ndarray, np.ndarray]:
    """Horizontal acceleration of one of three kinds, with an offset and a random scale."""
    kind = int(rng.integers(3))
    t = np.arange(n) / fs
    if kind == 0:  # random walk plus white noise (as tests/test_sway.py)
        ap = (
            np.cumsum(rng.normal(size=n)) * 0.01 * math.sqrt(100.0 / fs) + rng.normal(size=n) * 0.02
        )
        ml = rng.normal(size=n) * 0.03 + rng.uniform(-1, 1) * ap
    elif kind == 1:  # a few random sinusoids in the sway band, plus noise
        ap = np.zeros(n)
        ml = np.zeros(n)
        for _ in range(4):
            f = rng.uniform(0.1, min(3.0, 0.4 * fs))
            ap += rng.uniform(0.01, 0.1) * np.sin(2 * np.pi * f * t + rng.uniform(0, 6.3))
            ml += rng.uniform(0.01, 0.1) * np.sin(2 * np.pi * f * 1.3 * t + rng.uniform(0, 6.3))
        ap += rng.normal(size=n) * 0.01
        ml += rng.normal(size=n) * 0.01
    else:  # white noise
        ap = rng.normal(size=n) * rng.uniform(0.01, 0.5)
        ml = rng.normal(size=n) * rng.uniform(0.01, 0.5)
    scale = 10 ** rng.uniform(-1, 1)
    return scale * ap + rng.normal(), scale * ml + rng.normal()


def section_sway_reference(rep: Report, n_inputs: int, seed: int) -> None:
    rep.h2("a. sway_metrics against an independent implementation")
    ts = load_module("_val_test_sway", ROOT / "tests" / "test_sway.py")
    rng = np.random.default_rng(seed)
    worst = dict.fromkeys(SWAY_KEYS, 0.0)
    worst_at: dict[str, str] = {}
    rates, lengths = [], []
    t0 = time.perf_counter()
    for i in range(n_inputs):
        if i == 0:
            fs = 12.5
        elif i == 1:
            fs = 1000.0
        else:
            fs = float(math.exp(rng.uniform(math.log(12.5), math.log(1000.0))))
        dur = 3.0 if i == 2 else (60.0 if i == 3 else float(rng.uniform(3.0, 60.0)))
        n = int(round(dur * fs))
        ap, ml = random_sway(rng, n, fs)
        got = sway_metrics(ap, ml, fs)
        want = ts.reference_metrics(ap, ml, fs)
        for k in SWAY_KEYS:
            e = rel_err(got[k], want[k])
            if e > worst[k] or k not in worst_at:
                worst_at[k] = f"{fs:.1f} Hz, {n / fs:.1f} s"
            worst[k] = max(worst[k], e)
        rates.append(fs)
        lengths.append(n / fs)
    dt = time.perf_counter() - t0
    rep.out(
        f"{n_inputs} random inputs (random walks, sinusoid mixtures and white noise, random "
        f"scale and offset; seed {seed}): rates {min(rates):.1f}-{max(rates):.1f} Hz "
        f"(log-uniform), lengths {min(lengths):.1f}-{max(lengths):.1f} s; "
        f"`balance_mon.analysis.sway.sway_metrics` against `reference_metrics` of "
        f"tests/test_sway.py (a loop-based transcription of the formulas sharing no code; "
        f"it calls scipy's Welch estimator for the spectrum). {dt:.1f} s."
    )
    rep.out()
    rep.table(
        ["measure", "max relative error", "worst input"],
        [[k, f"{worst[k]:.2e}", worst_at[k]] for k in SWAY_KEYS],
    )
    m = max(worst.values())
    rep.check(
        "sway_metrics vs reference, max rel. error (16 keys)", "<= 1e-9", f"{m:.1e}", m <= 1e-9
    )


# ---------------------------------------------------------------------------
# b. sensor tilt
# ---------------------------------------------------------------------------


def sim_tilt_for(placement: str, r_seg: np.ndarray) -> tuple[float, float, float]:
    """SensorSpec.tilt_deg (roll, pitch, yaw) that rotates the sensor by ``r_seg``.

    ``r_seg`` is a rotation in the body segment's frame (x forward, y left, z up);
    the simulator's mount is ``M_nominal @ Rz(yaw) Ry(pitch) Rx(roll)``, so the
    tilt is ``M^T r_seg M`` written as intrinsic z-y-x angles.
    """
    m = sim.SensorSpec(placement=placement).mount()
    rt = m.T @ r_seg @ m
    yaw, pitch, roll = Rotation.from_matrix(rt).as_euler("ZYX", degrees=True)
    tilt = (float(roll), float(pitch), float(yaw))
    got = sim.SensorSpec(placement=placement, tilt_deg=tilt).mount()
    if not np.allclose(got, r_seg @ m, atol=1e-9):
        raise AssertionError("tilt conversion does not reproduce the rotation")
    return tilt


def horizontal_axes(n_az: int, angles, n_random: int, rng) -> list[tuple[float, float]]:
    """(azimuth, angle) pairs: a grid of azimuths x angles, plus random ones."""
    out = [(az, ang) for az in np.arange(0.0, 360.0, 360.0 / n_az) for ang in angles]
    out += [(float(rng.uniform(0, 360)), float(rng.uniform(0, 30))) for _ in range(n_random)]
    return out


def section_tilt(rep: Report, quick: bool, seed: int) -> None:
    rep.h2("b. Sensor tilt")
    tt = load_module("_val_test_sway_tilt", ROOT / "tests" / "test_sway_tilt.py")
    per_axis, direction_free = tt.PER_AXIS, tt.DIRECTION_FREE
    rng = np.random.default_rng(seed)
    angles = (5, 10, 15, 20, 25, 30)
    pure = horizontal_axes(12 if quick else 24, angles, 8 if quick else 32, rng)
    files = sorted(BDS.glob("*.csv"))
    t0 = time.perf_counter()

    # -- BDS: the recorded specific force rotated numerically (test_sway_tilt.tilted) --
    bds_pure = {m: dict.fromkeys(SWAY_KEYS, 0.0) for m in ("axes", "none")}
    bds_yaw = {m: dict.fromkeys(SWAY_KEYS, 0.0) for m in ("axes", "none")}
    yaw_mounts = tt.EULER_TILTS  # (yaw, pitch, roll), body frame, all contain a yaw or a tilt
    yaw_mounts = [t for t in yaw_mounts if t[0] != 0]  # those with a rotation about v
    for f in files:
        rec = load_recording(f)
        fs = rec.fs_hz
        for mode in ("axes", "none"):
            ax = rec.axes if mode == "axes" else None
            base = SwayAnalyzer().analyze(rec.acc_mps2, fs, axes=ax).metrics_
            for az, ang in pure:
                h = (0.0, math.cos(math.radians(az)), math.sin(math.radians(az)))  # (v, ml, ap)
                acc = tt.tilted(rec.acc_mps2, rec.axes, tt.axis_angle(h, ang))
                m = SwayAnalyzer().analyze(acc, fs, axes=ax).metrics_
                for k in SWAY_KEYS:
                    bds_pure[mode][k] = max(bds_pure[mode][k], rel_err(m[k], base[k]))
            for yaw, pitch, roll in yaw_mounts:
                acc = tt.tilted(rec.acc_mps2, rec.axes, tt.rot_zyx(yaw, pitch, roll))
                m = SwayAnalyzer().analyze(acc, fs, axes=ax).metrics_
                for k in SWAY_KEYS:
                    bds_yaw[mode][k] = max(bds_yaw[mode][k], rel_err(m[k], base[k]))
    t_bds = time.perf_counter() - t0

    # -- simulator: the sensor physically tilted on the body (SensorSpec.tilt_deg) --
    t0 = time.perf_counter()
    stances = ("feet_together", "tandem") if quick else ("feet_together", "tandem", "single_leg")
    placements = ("lower_back", "sternum")
    sim_pure_axes = horizontal_axes(8 if quick else 12, (10, 20, 30), 0 if quick else 6, rng)
    yaw_sim = [(yaw, az, ang) for yaw in (-30, 15, 30) for az, ang in ((0, 0), (45, 20), (200, 30))]
    sim_pure = {
        (noise, mode): dict.fromkeys(SWAY_KEYS, 0.0)
        for noise in (0.0, 0.02)
        for mode in ("axes", "none")
    }
    sim_yaw = {m: dict.fromkeys(SWAY_KEYS, 0.0) for m in ("axes", "none")}
    worst_case: dict[tuple[str, str], tuple] = {}  # (kind, key) -> (stance, placement, tilt)
    n_sim = 0
    for stance in stances:
        for pl in placements:
            for noise in (0.0, 0.02):
                if noise and stance != "feet_together":
                    continue  # the noisy case is shown on one stance (see the text)

                def run(tilt, noise=noise, pl=pl, stance=stance):
                    spec = sim.SensorSpec(placement=pl, noise_mps2=noise, tilt_deg=tilt)
                    return sim.simulate_stance(stance, duration_s=30, seed=3, sensor=spec).recording

                rec0 = run((0.0, 0.0, 0.0))
                base = {
                    "axes": SwayAnalyzer().analyze_recording(rec0).metrics_,
                    "none": SwayAnalyzer().analyze_recording(rec0.replace(axes=None)).metrics_,
                }
                mounts = [
                    (
                        "pure",
                        tt.axis_angle(
                            (math.cos(math.radians(az)), math.sin(math.radians(az)), 0.0), ang
                        ),
                    )
                    for az, ang in sim_pure_axes
                ]
                if noise == 0.0:
                    mounts += [
                        (
                            "yaw",
                            tt.axis_angle((0, 0, 1), yaw)
                            @ tt.axis_angle(
                                (math.cos(math.radians(az)), math.sin(math.radians(az)), 0.0), ang
                            ),
                        )
                        for yaw, az, ang in yaw_sim
                    ]
                for kind, r_seg in mounts:
                    tilt = sim_tilt_for(pl, r_seg)
                    rec = run(tilt)
                    n_sim += 1
                    for mode in ("axes", "none"):
                        r = rec if mode == "axes" else rec.replace(axes=None)
                        m = SwayAnalyzer().analyze_recording(r).metrics_
                        target = sim_pure[(noise, mode)] if kind == "pure" else sim_yaw[mode]
                        for k in SWAY_KEYS:
                            e = rel_err(m[k], base[mode][k])
                            if e > target[k]:
                                target[k] = e
                                if noise == 0.0:
                                    worst_case[(kind, k)] = (stance, pl, tilt, base[mode][k], m[k])
    t_sim = time.perf_counter() - t0

    rep.out(
        "Rotations of the sensor by up to 30 deg about **any horizontal axis** (azimuth "
        "0-360 deg): "
        f"BDS: each of the 8 force-plate trials rotated numerically "
        f"(`tilted()` of tests/test_sway_tilt.py) about {len(pure)} axes/angles "
        f"({12 if quick else 24} azimuths x {len(angles)} angles 5-30 deg, plus "
        f"{len(pure) - (12 if quick else 24) * len(angles)} random), compared with the same "
        "trial untilted. Simulator: `simulate_stance` (30 s, seed 3; stances "
        f"{', '.join(stances)}; lower back and sternum) with the sensor physically tilted on "
        f"the body (`SensorSpec.tilt_deg` set so that the mounting is the rotation about the "
        f"body's horizontal axis; {len(sim_pure_axes)} axes/angles, 10-30 deg), compared with "
        "the same seed untilted. 'axes' = analysed with the recording's `axes` metadata; "
        "'no axes' = metadata removed (`SwayAnalyzer` then takes the sensor axis closest to "
        "gravity as vertical and the other two in sensor order, so AP/ML labels are not "
        "guaranteed: on the BDS files (x=ap y=ml z=v) they come out swapped, and the BDS "
        "per-axis columns trade places), compared with the untilted trial analysed the same "
        "way. "
        f"BDS {t_bds:.0f} s, simulator {n_sim} runs {t_sim:.0f} s."
    )
    rep.out()
    rows = []
    for k in SWAY_KEYS:
        rows.append(
            [
                k + (" (per-axis)" if k in per_axis else ""),
                pct(bds_pure["axes"][k], 2),
                pct(bds_pure["none"][k], 2),
                pct(sim_pure[(0.0, "axes")][k], 2),
                pct(sim_pure[(0.0, "none")][k], 2),
                pct(sim_pure[(0.02, "axes")][k], 2),
                pct(sim_pure[(0.02, "none")][k], 2),
            ]
        )
    rep.out("Max relative difference from untilted, rotation about a horizontal axis:")
    rep.out()
    rep.table(
        [
            "measure",
            "BDS axes",
            "BDS no axes",
            "sim axes",
            "sim no axes",
            "sim+noise axes",
            "sim+noise no axes",
        ],
        rows,
    )
    rep.out(
        "'sim' is noise-free (bias and 16-bit quantisation on); 'sim+noise' has the default "
        "0.02 m/s^2 white sensor noise (feet together only). The noise is added in the "
        "sensor frame, so each mounting sees a different projection of it (a different "
        "noise realisation in the body frame, not a tilt error); jerk, the most "
        "noise-sensitive measure, moves most. The target is judged on the noise-free "
        "simulation and the BDS trials, which isolate the effect of the tilt."
    )
    for label, d in (
        ("BDS, axes", bds_pure["axes"]),
        ("BDS, no axes", bds_pure["none"]),
        ("simulated, axes", sim_pure[(0.0, "axes")]),
        ("simulated, no axes", sim_pure[(0.0, "none")]),
    ):
        k = max(d, key=d.get)
        rep.check(
            f"tilt <= 30 deg about any horizontal axis, all 16 measures ({label})",
            "<= 2 %",
            f"{pct(d[k], 2)} ({k})",
            d[k] <= 0.02,
        )
    for mode in ("axes", "none"):
        d = sim_pure[(0.02, mode)]
        k = max(d, key=d.get)
        rep.check(
            "same, simulated with 0.02 m/s^2 sensor noise "
            f"({'axes' if mode == 'axes' else 'no axes'})",
            "(<= 2 %)",
            f"{pct(d[k], 2)} ({k})",
            None,
        )

    rep.h3("Mounts including a rotation about the vertical (yaw)")
    rep.out(
        f"BDS: the {len(yaw_mounts)} mounts of tests/test_sway_tilt.py's `EULER_TILTS` that "
        "contain a yaw (yaw, pitch, roll in {-30, -15, 0, 15, 30} deg, at least one at 30 deg). "
        f"Simulator: {len(yaw_sim)} mounts, yaw -30/15/30 deg combined with no tilt, "
        "20 deg and 30 deg tilts, noise-free. "
        f"Direction-free measures: {', '.join(direction_free)}. "
        f"Per-axis measures: {', '.join(per_axis)}."
    )
    rep.out()
    rows = []
    for k in SWAY_KEYS:
        rows.append(
            [
                k + (" (per-axis)" if k in per_axis else ""),
                pct(bds_yaw["axes"][k], 2),
                pct(bds_yaw["none"][k], 2),
                pct(sim_yaw["axes"][k], 2),
                pct(sim_yaw["none"][k], 2),
            ]
        )
    rep.table(["measure", "BDS axes", "BDS no axes", "sim axes", "sim no axes"], rows)
    rep.out(
        "The per-axis (AP/ML) measures **cannot be recovered** when the mounting contains a "
        "yaw: in quiet standing gravity is the only direction an accelerometer senses, and a "
        "rotation about the vertical leaves it unchanged, so tilt correction cannot see or "
        "undo it and the AP and ML signals come out rotated into each other by the yaw angle "
        "(tests/test_sway_tilt.py shows they are exactly the untilted ones rotated about the "
        "vertical). Only a heading reference from the same session (e.g. the direction of "
        "walking or of trunk flexion in a sit-to-stand) could restore them. The "
        "direction-free measures are unaffected."
    )
    # a direction-free measure beyond 2 % on the simulator: the same two runs again with
    # the 16-bit quantisation switched off, to tell a tilt error from quantisation noise
    diag = []
    for (kind, k), (stance, pl, tilt, v0, v1) in sorted(worst_case.items()):
        if k not in direction_free or rel_err(v1, v0) <= 0.02:
            continue

        def run_q(t, stance=stance, pl=pl):
            spec = sim.SensorSpec(placement=pl, noise_mps2=0.0, tilt_deg=t, resolution_bits=None)
            return sim.simulate_stance(stance, duration_s=30, seed=3, sensor=spec).recording

        q0 = SwayAnalyzer().analyze_recording(run_q((0.0, 0.0, 0.0))).metrics_[k]
        q1 = SwayAnalyzer().analyze_recording(run_q(tilt)).metrics_[k]
        diag.append((kind, k, stance, pl, tilt, v0, v1, q0, q1))
    if diag:
        rep.out()
        rep.out(
            "Direction-free measures beyond 2 % on the simulator, re-run with the 16-bit "
            "quantisation off (`resolution_bits=None`), same seed and mounting:"
        )
        rep.out()
        rep.table(
            [
                "mount",
                "measure",
                "stance, placement, tilt_deg",
                "untilted",
                "tilted",
                "untilted, no quantisation",
                "tilted, no quantisation",
            ],
            [
                [
                    kind,
                    k,
                    f"{st}, {pl}, ({', '.join(f'{a:.1f}' for a in t)})",
                    f"{v0:.4g}",
                    f"{v1:.4g}",
                    f"{q0:.4g}",
                    f"{q1:.4g}",
                ]
                for kind, k, st, pl, t, v0, v1, q0, q1 in diag
            ],
        )
        rep.out(
            "`f50_hz` and `f95_hz` are Welch bin frequencies (10 s segments: 0.1 Hz bins), so "
            "they move in steps of 0.1 Hz (7 % at 1.4 Hz) when the cumulative power sits near "
            "the 50 / 95 % mark; quantisation noise, which differs per mounting, is enough to "
            "move it by one bin."
        )
    worst_df = max(
        max(d[k] for k in direction_free)
        for d in (bds_yaw["axes"], bds_yaw["none"], sim_yaw["axes"], sim_yaw["none"])
    )
    worst_pa = max(
        max(d[k] for k in per_axis)
        for d in (bds_yaw["axes"], bds_yaw["none"], sim_yaw["axes"], sim_yaw["none"])
    )
    rep.check(
        "mounts with yaw: 12 direction-free measures (BDS + sim, axes / no axes)",
        "<= 2 %",
        pct(worst_df, 2),
        worst_df <= 0.02,
    )
    for kind, k, _st, _pl, _t, v0, v1, q0, q1 in diag:
        if kind == "yaw":
            rep.check(
                f"  same, {k} worst case re-run without quantisation",
                "<= 2 %",
                f"{pct(rel_err(v1, v0), 2)} -> {pct(rel_err(q1, q0), 2)}",
                rel_err(q1, q0) <= 0.02,
            )
    rep.check(
        "mounts with yaw: 4 AP/ML measures (not recoverable from gravity)",
        "none",
        pct(worst_pa, 1),
        None,
    )


# ---------------------------------------------------------------------------
# c. BDS force-plate trials
# ---------------------------------------------------------------------------


def section_bds(rep: Report) -> None:
    rep.h2("c. BDS force-plate trials (two people, eyes open/closed, firm/foam)")
    vals: dict[tuple[str, str, str], dict[str, float]] = {}
    rows = []
    for f in sorted(BDS.glob("*.csv")):
        m = re.match(r"bds_(s\d+)_eyes_(open|closed)_(firm|foam)\.csv", f.name)
        subj, eyes, surf = m.groups()
        sw = SwayAnalyzer().analyze_recording(load_recording(f))
        vals[(subj, eyes, surf)] = sw.metrics_
        rows.append(
            [
                f.name,
                f"{sw.metrics_['rms_mps2']:.4f}",
                f"{sw.metrics_['rms_ap_mps2']:.4f}",
                f"{sw.metrics_['rms_ml_mps2']:.4f}",
                f"{sw.metrics_['ellipse_area_m2ps4']:.2e}",
            ]
        )
    rep.out(
        "`SwayAnalyzer` with default parameters (axes from the files' metadata, 3.5 Hz "
        "low-pass), 60 s trials of sample_data/real/bds. Nothing was tuned to these trials."
    )
    rep.out()
    rep.table(["trial", "RMS m/s^2", "RMS AP", "RMS ML", "95 % ellipse area m^2/s^4"], rows)
    rows = []
    n_yes = n_all = 0
    unexpected: list[str] = []
    for subj in sorted({k[0] for k in vals}):
        comps = [
            ("eyes closed > open, firm", ("closed", "firm"), ("open", "firm")),
            ("eyes closed > open, foam", ("closed", "foam"), ("open", "foam")),
            ("foam > firm, eyes open", ("open", "foam"), ("open", "firm")),
            ("foam > firm, eyes closed", ("closed", "foam"), ("closed", "firm")),
        ]
        for label, hi, lo in comps:
            a, b = vals[(subj, *hi)], vals[(subj, *lo)]
            r_rms = a["rms_mps2"] / b["rms_mps2"]
            r_area = a["ellipse_area_m2ps4"] / b["ellipse_area_m2ps4"]
            n_yes += (r_rms > 1) + (r_area > 1)
            n_all += 2
            for name, r in (("RMS", r_rms), ("ellipse area", r_area)):
                if r <= 1:
                    unexpected.append(
                        f"{subj} {label.split(',')[0].replace('>', 'not >')},"
                        f"{label.split(',')[1]} ({name} ratio {r:.2f})"
                    )
            rows.append(
                [
                    subj,
                    label,
                    f"{r_rms:.2f} ({'yes' if r_rms > 1 else 'NO'})",
                    f"{r_area:.2f} ({'yes' if r_area > 1 else 'NO'})",
                ]
            )
    rep.out("Orderings (ratio of the two conditions; 'yes' when the expected one sways more):")
    rep.out()
    rep.table(["person", "comparison", "RMS ratio", "ellipse area ratio"], rows)
    rep.out(
        "Not as expected in these trials: "
        + ("; ".join(unexpected) if unexpected else "none")
        + ". These are single 60 s trials of two people, reported as they are (nothing was "
        "tuned); one trial per condition cannot separate a condition effect from "
        "trial-to-trial variation, and a Romberg ratio below 1 on firm ground is not unusual "
        "in healthy adults."
    )
    rep.check(
        "BDS orderings EC>EO and foam>firm (RMS and area, 2 people)",
        "reported as is",
        f"{n_yes}/{n_all} as expected",
        None,
    )


# ---------------------------------------------------------------------------
# d. repetitions (bench/validate_reps.py)
# ---------------------------------------------------------------------------

_REPS_ROW = re.compile(r"^(\s*)(\S.*?)\s+(\d+)\s+([\d.]+)%\s+([\d.]+)\s*$")


def section_reps(rep: Report, n_sets: int, seed: int) -> None:
    rep.h2("d. Repetition counting (simulated sets)")
    path = ROOT / "bench" / "validate_reps.py"
    args = ["--sets", str(n_sets), "--seed", str(seed)]
    buf = io.StringIO()
    t0 = time.perf_counter()
    try:
        vr = load_module("_val_validate_reps", path)
        with contextlib.redirect_stdout(buf):
            vr.main(args)
    except Exception:  # reported; the other sections go on
        rep.out("bench/validate_reps.py failed:")
        rep.out("```")
        rep.out(traceback.format_exc().rstrip())
        rep.out("```")
        rep.check("repetitions: sets within +/-1", ">= 97 %", "error", False)
        return
    dt = time.perf_counter() - t0
    text = buf.getvalue().rstrip()
    rep.out(
        f"`bench/validate_reps.py {' '.join(args)}` (its `main()`, output captured; the set "
        "specifications come from its `draw_sets`: exercises cycled, placements where the "
        "movement reaches the sensor, 12.5-1000 Hz, with/without gyroscope, mounting tilt up "
        f"to 30 deg per axis, tempo x0.7-1.4, pauses in 40 % of sets). {dt:.0f} s. Its output:"
    )
    rep.out()
    rep.out("```")
    for line in text.splitlines():
        rep.out(line)
    rep.out("```")
    rows = {}
    for line in text.splitlines():
        m = _REPS_ROW.match(line)
        if m and not line.lstrip().startswith("exercise"):
            indent, key, n, within, mae = m.groups()
            rows[key.strip()] = (bool(indent), int(n), float(within) / 100, float(mae))
    if "ALL" not in rows:
        rep.out("Could not read the overall line of the output above.")
        rep.check("repetitions: sets within +/-1", ">= 97 %", "unreadable output", False)
        return
    _, n, within, mae = rows["ALL"]
    rep.check(f"repetitions: sets within +/-1 ({n} sets)", ">= 97 %", pct(within), within >= 0.97)
    rep.check("repetitions: MAE", "<= 0.2 reps", f"{mae:.2f}", mae <= 0.2)
    exercises = {k: v for k, v in rows.items() if k != "ALL" and not v[0]}
    places = {k: v for k, v in rows.items() if k != "ALL" and v[0]}
    for label, group in (("exercise", exercises), ("placement", places)):
        if not group:
            continue
        kw = min(group, key=lambda k: group[k][2])
        km = max(group, key=lambda k: group[k][3])
        ok = all(v[2] >= 0.97 and v[3] <= 0.2 for v in group.values())
        rep.check(
            f"repetitions: every {label} (worst within / worst MAE)",
            ">= 97 % / <= 0.2",
            f"{pct(group[kw][2])} ({kw}) / {group[km][3]:.2f} ({km})",
            ok,
        )


# ---------------------------------------------------------------------------
# e. sit-to-stand detection
# ---------------------------------------------------------------------------


def section_transitions(rep: Report, quick: bool) -> None:
    rep.h2("e. Sit-to-stand and stand-to-sit detection")
    bs = load_module("_val_bench_sit2stand", ROOT / "bench" / "bench_sit2stand.py")
    rates = (25.0, 50.0, 100.0, 200.0)
    seeds = (0, 1) if quick else (0, 1, 2, 3, 4)
    tilts = ((0.0, 0.0, 0.0), (10.0, -15.0, 20.0))
    groups: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # tp, found, true
    t0 = time.perf_counter()
    n_sessions = 0
    for pl in ("lower_back", "sternum"):
        for fs in rates:
            for gyro in (True, False):
                for ti, tilt in enumerate(tilts):
                    for seed in seeds:
                        noise = 0.02 if (seed + ti) % 2 == 0 else 0.05
                        spec = sim.SensorSpec(
                            placement=pl, fs_hz=fs, gyro=gyro, noise_mps2=noise, tilt_deg=tilt
                        )
                        rng = np.random.default_rng(1000 + seed)
                        subj = sim.Subject(
                            sts_rise_s=float(rng.uniform(1.2, 3.0)),
                            sts_sit_s=float(rng.uniform(1.3, 3.0)),
                            trunk_flexion_deg=float(rng.uniform(25.0, 50.0)),
                        )
                        sessions = (
                            (
                                "single transfers",
                                sim.simulate_sit_to_stand(
                                    standing_s=float(rng.uniform(3, 15)),
                                    sensor=spec,
                                    subject=subj,
                                    seed=seed,
                                ),
                            ),
                            (
                                "30 s chair stand",
                                sim.simulate_chair_stand(
                                    stands=int(rng.integers(6, 15)),
                                    sensor=spec,
                                    subject=subj,
                                    seed=seed,
                                ),
                            ),
                            ("TUG", sim.simulate_tug(sensor=spec, subject=subj, seed=seed)),
                        )
                        for scen, res in sessions:
                            n_sessions += 1
                            det = TransitionDetector().detect_recording(res.recording)
                            for kind in KINDS:
                                found = [
                                    (e.start_s, e.end_s) for e in det.transitions_ if e.kind == kind
                                ]
                                true = [
                                    (p["start_s"], p["end_s"])
                                    for p in res.truth["phases"]
                                    if p["name"] == kind
                                ]
                                tp, nf, nt, _, _ = bs.score(found, true)
                                for key in (
                                    "all",
                                    f"scenario: {scen}",
                                    f"placement: {pl}",
                                    f"rate: {fs:g} Hz",
                                    f"gyroscope: {'yes' if gyro else 'no'}",
                                    f"kind: {kind}",
                                ):
                                    g = groups[key]
                                    g[0] += tp
                                    g[1] += nf
                                    g[2] += nt
    dt = time.perf_counter() - t0
    rep.out(
        f"{n_sessions} simulated sessions: one sit-to-stand + stand-to-sit, a 30 s chair stand "
        "(6-14 stands) and a TUG, for each of lower back / sternum x 25, 50, 100, 200 Hz x "
        f"with / without gyroscope x mounting tilt 0 or (10, -15, 20) deg x seeds {seeds}; "
        "sensor noise 0.02 or 0.05 m/s^2; rise/sit durations 1.2-3 s and trunk flexion "
        "25-50 deg drawn per seed. A detected transfer matches a true one of the same kind "
        f"that it overlaps, one to one (`score` of bench/bench_sit2stand.py). {dt:.0f} s."
    )
    rep.out()
    rows = []
    for key in sorted(groups, key=lambda k: (k != "all", k)):
        tp, nf, nt = groups[key]
        rows.append([key, nt, nf, tp, pct(tp / nf if nf else math.nan, 2), pct(tp / nt, 2)])
    rep.table(["group", "true", "detected", "matched", "precision", "recall"], rows)
    tp, nf, nt = groups["all"]
    rep.check(
        "sit-to-stand/stand-to-sit precision (simulated)",
        ">= 97 %",
        pct(tp / nf, 2),
        tp / nf >= 0.97,
    )
    rep.check(
        "sit-to-stand/stand-to-sit recall (simulated)", ">= 97 %", pct(tp / nt, 2), tp / nt >= 0.97
    )

    # a long recording: sessions separated by quiet sitting (bench_sit2stand.build)
    hours = 0.5 if quick else 2.0
    t0 = time.perf_counter()
    rec, truth = bs.build(hours, 100.0)
    det = TransitionDetector().detect_recording(rec)
    rows = []
    tot = [0, 0, 0]
    for kind in KINDS:
        found = [(e.start_s, e.end_s) for e in det.transitions_ if e.kind == kind]
        true = [(a, b) for k, a, b in truth if k == kind]
        tp, nf, nt, p, r = bs.score(found, true)
        tot = [tot[0] + tp, tot[1] + nf, tot[2] + nt]
        rows.append([kind, nt, nf, tp, pct(p, 2), pct(r, 2)])
    rep.out(
        f"A {hours:g} h recording at 100 Hz (lower back, gyroscope) of the sessions of "
        "`bench_sit2stand.build` (24 simulated sessions cycled, 20-240 s of quiet sitting "
        f"between them), {time.perf_counter() - t0:.0f} s:"
    )
    rep.out()
    rep.table(["kind", "true", "detected", "matched", "precision", "recall"], rows)
    rep.check(
        f"transfers in a {hours:g} h concatenated recording, precision / recall",
        ">= 97 %",
        f"{pct(tot[0] / tot[1], 2)} / {pct(tot[0] / tot[2], 2)}",
        tot[0] / tot[1] >= 0.97 and tot[0] / tot[2] >= 0.97,
    )

    # the real recordings against the hand counts
    rows = []
    all_ok = True
    summary = []
    for rel, hand in HAND_COUNTS.items():
        rec = load_recording(REAL / rel)
        for gyro in (True, False) if rec.has_gyro else (False,):
            det = TransitionDetector(use_gyro=gyro).detect_recording(rec)
            found = list(det.transitions_)
            used: set[int] = set()
            tp = 0
            for kind, t in hand:
                for i, e in enumerate(found):
                    if (
                        i not in used
                        and e.kind == kind
                        and e.start_s - HAND_SLACK_S <= t <= e.end_s + HAND_SLACK_S
                    ):
                        used.add(i)
                        tp += 1
                        break
            fp = len(found) - tp
            fn = len(hand) - tp
            all_ok &= fp == 0 and fn == 0
            summary.append((tp, fp, fn))
            rows.append(
                [
                    rel + ("" if not rec.has_gyro else (" (gyro)" if gyro else " (acc only)")),
                    len(hand),
                    len(found),
                    tp,
                    fp,
                    fn,
                    ", ".join(
                        f"{'up' if e.kind == 'sit_to_stand' else 'down'} "
                        f"{e.start_s:.1f}-{e.end_s:.1f}"
                        for e in found
                    )
                    or "-",
                ]
            )
    rep.out(
        "Real recordings against the hand counts (tests/test_transitions.py, "
        f"docs/transitions.md): a detection matches a hand-counted transfer of the same kind "
        f"whose time lies in its span widened by {HAND_SLACK_S} s."
    )
    rep.out()
    rep.table(
        ["recording", "hand count", "detected", "matched", "false", "missed", "detected spans (s)"],
        rows,
    )
    tp = sum(s[0] for s in summary)
    fp = sum(s[1] for s in summary)
    fn = sum(s[2] for s in summary)
    rep.check(
        "real recordings vs hand counts (sit2standpy, mobgap)",
        "= hand count",
        f"{tp} matched, {fp} false, {fn} missed",
        all_ok,
    )


# ---------------------------------------------------------------------------
# f. TUG and four-stage
# ---------------------------------------------------------------------------


def default_tug_draws(
    variants: tuple[tuple[str, dict], ...], rates: tuple[float, ...], seeds: tuple[int, ...]
):
    """The default subject's TUGs: every placement, rate, gyroscope, variant and seed.

    Yields (info, sensor, simulate_tug keywords, seed) for :func:`tug_trials`;
    the mounting tilt alternates between none and (10, -15, 20) deg, the noise
    is 0.05 m/s^2 for the third variant, else 0.02.
    """
    for pl in ("lower_back", "sternum"):
        for fs in rates:
            for gyro in (True, False):
                for vi, (_vname, kw) in enumerate(variants):
                    for seed in seeds:
                        tilt = (10.0, -15.0, 20.0) if (vi + seed) % 2 else (0.0, 0.0, 0.0)
                        noise = 0.05 if vi == 2 else 0.02
                        spec = sim.SensorSpec(
                            placement=pl, fs_hz=fs, gyro=gyro, tilt_deg=tilt, noise_mps2=noise
                        )
                        yield {"pl": pl, "fs": fs, "gyro": gyro}, spec, kw, seed


def random_tug_draws(n: int, rates: tuple[float, ...]):
    """TUGs of ``n`` random simulated subjects, each with and without gyroscope.

    The subject, sensor and test of draw ``i`` come from numpy seed 40250 + i.
    Yields (info, sensor, simulate_tug keywords, seed) for :func:`tug_trials`;
    ``info`` carries the draw's index, placement, rate and the subject's
    simulated rise and sit durations (0.9 of its own, as the simulator's TUG).
    """
    for i in range(n):
        rng = np.random.default_rng(40250 + i)
        subject = sim.Subject(
            height_m=float(rng.uniform(1.5, 1.9)),
            gait_speed_mps=float(rng.uniform(0.5, 1.4)),
            cadence_spm=float(rng.uniform(90.0, 125.0)),
            sts_rise_s=float(rng.uniform(1.2, 3.0)),
            sts_sit_s=float(rng.uniform(1.3, 3.0)),
            trunk_flexion_deg=float(rng.uniform(25.0, 50.0)),
            sway_scale=float(rng.uniform(0.7, 1.5)),
        )
        pl = ("lower_back", "sternum")[i % 2]
        fs = rates[(i // 2) % len(rates)]
        tilt = (0.0, 0.0, 0.0)
        if rng.random() < 0.5:
            tilt = tuple(float(x) for x in rng.uniform(-20.0, 20.0, 3))
        noise = float(rng.choice([0.02, 0.05]))
        kw = {
            "turn_s": float(rng.uniform(1.2, 3.5)),
            "turn_direction": str(rng.choice(["left", "right"])),
            "walk_distance_m": float(rng.choice([3.0, 3.0, 4.0])),
            "seat_height_m": float(rng.uniform(0.42, 0.5)),
            "reaction_s": float(rng.uniform(0.2, 0.5)),
            "subject": subject,
        }
        seed = int(rng.integers(0, 10000))
        for gyro in (True, False):
            spec = sim.SensorSpec(
                placement=pl, fs_hz=fs, gyro=gyro, tilt_deg=tilt, noise_mps2=noise
            )
            info = {
                "i": i,
                "pl": pl,
                "fs": fs,
                "gyro": gyro,
                "rise_s": 0.9 * subject.sts_rise_s,
                "sit_s": 0.9 * subject.sts_sit_s,
            }
            yield info, spec, kw, seed


def tug_trials(tt, draws):
    """Simulate, analyse and score one TUG per draw of ``draws``.

    ``draws`` yields (info, sensor, simulate_tug keywords, seed)
    (:func:`default_tug_draws`, :func:`random_tug_draws`); ``tt`` is
    tests/test_tug.py, whose ``_errors`` scores a TUG against the simulator's
    truth. Yields ``info`` with ``missing`` (phases not found), ``errs``
    (``_errors``, empty without a total time), ``true`` (rises and sits
    simulated), ``missed`` (of those, found by no transfer of the same kind
    overlapping them) and ``false`` (transfers overlapping none).
    """
    for info, spec, kw, seed in draws:
        res = sim.simulate_tug(sensor=spec, seed=seed, **kw)
        tug = TugAnalyzer().analyze_recording(res.recording)
        true = [p for p in res.truth["phases"] if p["name"] in KINDS]
        hit = [
            any(
                e.kind == p["name"] and e.start_s < p["end_s"] and e.end_s > p["start_s"]
                for e in tug.transitions_
            )
            for p in true
        ]
        false = sum(
            not any(
                e.kind == p["name"] and e.start_s < p["end_s"] and e.end_s > p["start_s"]
                for p in true
            )
            for e in tug.transitions_
        )
        yield {
            **info,
            "missing": [p for p in TUG_PHASES if p not in tug.phases_],
            "errs": tt._errors(tug, res) if tug.total_s_ is not None else {},
            "true": len(true),
            "missed": len(true) - sum(hit),
            "false": false,
        }


def section_tug(rep: Report, quick: bool) -> None:
    rep.h2("f. Timed Up and Go phases and four-stage hold times")
    tt = load_module("_val_test_tug", ROOT / "tests" / "test_tug.py")
    variants = (
        ("default", {}),
        ("16 s turning right", {"total_s": 16.0, "turn_direction": "right"}),
        ("turn_s 3 s", {"turn_s": 3.0}),
        ("gait 0.6 m/s", {"gait_speed_mps": 0.6}),
    )
    rates = (25.0, 50.0, 100.0, 200.0)
    seeds = (1,) if quick else (1, 2, 3, 4)
    rows_by: dict[tuple, list[dict]] = defaultdict(list)
    t0 = time.perf_counter()
    for it in tug_trials(tt, default_tug_draws(variants, rates, seeds)):
        rows_by[(it["pl"], it["fs"], it["gyro"])].append(it)
    dt = time.perf_counter() - t0

    def agg(items: list[dict]) -> tuple[int, int, float, float, float, float]:
        n = len(items)
        complete = [it for it in items if not it["missing"] and it["errs"]]
        tot = [abs(it["errs"]["total"]) for it in complete]
        bnd = [max(abs(v) for k, v in it["errs"].items() if k != "total") for it in complete]
        all_within = sum(1 for it in complete if max(abs(v) for v in it["errs"].values()) <= 0.3)
        return (
            n,
            len(complete),
            max(tot) if tot else math.nan,
            max(bnd) if bnd else math.nan,
            all_within / n,
            float(np.median(bnd)) if bnd else math.nan,
        )

    rep.out(
        f"{sum(len(v) for v in rows_by.values())} simulated TUGs: lower back / sternum x "
        f"25, 50, 100, 200 Hz x with / without gyroscope x {len(variants)} variants "
        f"({', '.join(v for v, _ in variants)}) x seeds {seeds}; mounting tilt 0 or "
        "(10, -15, 20) deg alternating; noise 0.02 (0.05 with turn_s 3 s). Errors against "
        "the simulator's truth as in tests/test_tug.py (`_errors`: total, and the start and "
        f"end of each of the 6 phases). {dt:.0f} s."
    )
    rep.out()
    rows = []
    for gyro in (True, False):
        for pl in ("lower_back", "sternum"):
            for fs in rates:
                n, nc, mt, mb, frac, medb = agg(rows_by[(pl, fs, gyro)])
                rows.append(
                    [
                        "yes" if gyro else "no",
                        pl,
                        f"{fs:g}",
                        n,
                        nc,
                        f"{mt:.2f}",
                        f"{medb:.2f}",
                        f"{mb:.2f}",
                        pct(frac, 0),
                    ]
                )
    rep.table(
        [
            "gyro",
            "placement",
            "Hz",
            "trials",
            "all 6 phases found",
            "max abs total error s",
            "median of worst boundary s",
            "max abs boundary error s",
            "trials with every error <= 0.3 s",
        ],
        rows,
    )
    for gyro in (True, False):
        items = [it for (pl, fs, g), v in rows_by.items() if g == gyro for it in v]
        n, nc, mt, mb, frac, _ = agg(items)
        label = "with gyroscope" if gyro else "without gyroscope"
        rep.check(
            f"TUG total time error, {label} ({n} trials)",
            "<= 0.3 s",
            f"max {mt:.2f} s; phases found {nc}/{n}",
            nc == n and mt <= 0.3,
        )
        rep.check(
            f"TUG phase boundary errors, {label}",
            "<= 0.3 s",
            f"max {mb:.2f} s; all within 0.3 s in {pct(frac, 0)} of trials",
            nc == n and mb <= 0.3,
        )

    # TUGs of random simulated subjects, a held-out set: no constant was tuned on
    # these seeds (the methods were developed on other draws of the same ranges;
    # a first held-out draw, seeds 20250 + i, showed the resting-offset failure
    # that TransitionDetector 1.1 then fixed, so this is a second, fresh draw)
    n_rand = 16 if quick else 64
    rand_by: dict[bool, list[dict]] = {True: [], False: []}
    t0 = time.perf_counter()
    for it in tug_trials(tt, random_tug_draws(n_rand, rates)):
        rand_by[it["gyro"]].append(it)
    dt = time.perf_counter() - t0
    rep.out()
    rep.out(
        f"Random subjects, a held-out set ({n_rand} TUGs, each with and without gyroscope; "
        "numpy seeds 40250 + i, not used while developing): per TUG a simulated subject "
        "with height 1.5-1.9 m, gait speed 0.5-1.4 m/s, cadence 90-125 steps/min, "
        "sit-to-stand 1.2-3 s and stand-to-sit 1.3-3 s (the simulator's TUG takes 0.9 of "
        "these: 1.1-2.7 s and 1.2-2.7 s), trunk lean 25-50 deg, sway 0.7-1.5; turns of "
        "1.2-3.5 s left or right, 3 or 4 m, seat 0.42-0.50 m, reaction 0.2-0.5 s; "
        "lower back and sternum alternating, 25-200 Hz in turn, mounting tilt up to "
        f"+/- 20 deg per axis in half of them, noise 0.02 or 0.05 m/s^2. {dt:.0f} s."
    )
    rep.out()
    rows = []
    for gyro in (True, False):
        for pl in ("lower_back", "sternum"):
            items = [it for it in rand_by[gyro] if it["pl"] == pl]
            n, nc, mt, mb, frac, medb = agg(items)
            rows.append(
                [
                    "yes" if gyro else "no",
                    pl,
                    n,
                    nc,
                    f"{sum(it['true'] - it['missed'] for it in items)}/"
                    f"{sum(it['true'] for it in items)}",
                    sum(it["false"] for it in items),
                    f"{mt:.2f}",
                    f"{medb:.2f}",
                    f"{mb:.2f}",
                    pct(frac, 0),
                ]
            )
    rep.table(
        [
            "gyro",
            "placement",
            "trials",
            "all 6 phases found",
            "rises and sits found",
            "false transfers",
            "max abs total error s",
            "median of worst boundary s",
            "max abs boundary error s",
            "trials with every error <= 0.3 s",
        ],
        rows,
    )
    for gyro in (True, False):
        items = rand_by[gyro]
        over = [
            f"#{it['i']} {it['pl']} {it['fs']:g} Hz (rise {it['rise_s']:.1f} s, sit "
            f"{it['sit_s']:.1f} s): "
            + (
                ", ".join(f"{k} {v:+.2f}" for k, v in it["errs"].items() if abs(v) > 0.3)
                or "phases missing: " + ", ".join(it["missing"])
            )
            for it in items
            if it["missing"] or not it["errs"] or max(abs(v) for v in it["errs"].values()) > 0.3
        ]
        label = "with gyroscope" if gyro else "without gyroscope"
        rep.out(f"Over 0.3 s {label}: " + ("; ".join(over) if over else "none") + ".")
        rep.out()
        n, nc, mt, mb, frac, _ = agg(items)
        missed = sum(it["missed"] for it in items)
        false = sum(it["false"] for it in items)
        n_true = sum(it["true"] for it in items)
        rep.check(
            f"TUG transfers found, random subjects ({label}, {n} trials)",
            "every rise and sit, none false",
            f"{n_true - missed}/{n_true} found, {false} false",
            missed == 0 and false == 0,
        )
        rep.check(
            f"TUG total time error, random subjects ({label}, {n} trials)",
            "<= 0.3 s",
            f"max {mt:.2f} s; phases found {nc}/{n}",
            nc == n and mt <= 0.3,
        )
        rep.check(
            f"TUG phase boundary errors, random subjects ({label}, {n} trials)",
            "<= 0.3 s",
            f"max {mb:.2f} s; all within 0.3 s in {pct(frac, 0)} of trials",
            nc == n and mb <= 0.3,
        )

    # four-stage hold times
    tb = load_module("_val_test_balance", ROOT / "tests" / "test_balance.py")
    cases = [(seed, fs_, at, sc, "lower_back") for seed, fs_, at, sc in tb.ACCEPTANCE]
    rng = np.random.default_rng(7)
    extra = 8 if quick else 72
    fails = (None, "semi_tandem", "tandem", "single_leg")
    for i in range(extra):
        cases.append(
            (
                10 + i,
                fails[i % 4],
                float(rng.uniform(2.0, 8.0)),
                float(rng.uniform(0.7, 1.5)),
                ("lower_back", "sternum")[(i // 4) % 2],
            )
        )
    t0 = time.perf_counter()
    errs = []
    n_stances = n_match_held = n_bad_list = 0
    per_stance: dict[str, list[float]] = defaultdict(list)
    per_place: dict[str, list[int]] = defaultdict(
        lambda: [0, 0, 0, 0]
    )  # tests, lists ok, verdicts ok, stances
    problems = []
    for seed, fail, at, scale, pl in cases:
        res = sim.simulate_four_stage(
            seed=seed,
            fail_stance=fail,
            fail_at_s=at,
            subject=sim.Subject(sway_scale=scale),
            sensor=sim.SensorSpec(placement=pl),
        )
        fsa = FourStageAnalyzer().analyze_recording(res.recording)
        truth = res.truth["conditions"]
        pp = per_place[pl]
        pp[0] += 1
        list_ok = [s["stance"] for s in fsa.stances_] == [c["stance"] for c in truth]
        n_bad_list += not list_ok
        pp[1] += list_ok
        bad = []
        for s, c in zip(fsa.stances_, truth, strict=False):
            e = s["hold_s"] - c["held_s"]
            errs.append(e)
            per_stance[c["stance"]].append(e)
            n_stances += 1
            pp[3] += 1
            ok = s["held_10s"] is c["passed"]
            n_match_held += ok
            pp[2] += ok
            if not ok or abs(e) > 0.3:
                bad.append(
                    f"{c['stance']}: held {s['hold_s']:.2f} s (true {c['held_s']:.2f}), "
                    f"{'held' if s['held_10s'] else 'failed'} (true "
                    f"{'held' if c['passed'] else 'failed'}), start {s['start_s']:.2f} s "
                    f"(true {c['start_s']:.2f}), loss of balance "
                    + (
                        "none"
                        if s["loss_of_balance_s"] is None
                        else f"{s['loss_of_balance_s']:.2f} s"
                    )
                )
        if not list_ok:
            bad.append(f"{len(fsa.stances_)} stances reported, {len(truth)} in the truth")
        if bad:
            problems.append(
                f"seed {seed}, {pl}, failing stance {fail or 'none'}"
                + (f" at {at:.1f} s" if fail else "")
                + f", sway scale {scale:.2f}: "
                + "; ".join(bad)
            )
    dt = time.perf_counter() - t0
    errs_a = np.abs(np.array(errs))
    rep.out(
        f"Four-stage test: {len(cases)} simulated tests (the 8 cases of tests/test_balance.py's "
        f"`ACCEPTANCE`, lower back, plus {extra} drawn: failing stance none / semi-tandem / "
        "tandem / single leg, failure 2-8 s into it, sway scale 0.7-1.5, lower back and "
        f"sternum), 100 Hz, stances found from the movement (no metadata). {dt:.0f} s."
    )
    rep.out()
    rows = [
        [
            st,
            len(v),
            f"{np.mean(v):+.3f}",
            f"{np.max(np.abs(v)):.3f}",
        ]
        for st, v in per_stance.items()
    ]
    rows.append(["all", len(errs), f"{np.mean(errs):+.3f}", f"{errs_a.max():.3f}"])
    rep.table(["stance (compared)", "stances", "mean hold error s", "max abs hold error s"], rows)
    rep.table(
        ["placement", "tests", "stance list as in truth", "held-10-s verdicts right"],
        [[pl, v[0], f"{v[1]}/{v[0]}", f"{v[2]}/{v[3]}"] for pl, v in per_place.items()],
    )
    rep.out(
        "Hold errors are over the stances reported and present in the truth; a stance the "
        "analysis never reaches (the test stopped early after a wrong failure) has no error "
        "but counts against the stance list."
    )
    if problems:
        rep.out()
        rep.out("Tests with a wrong verdict, a hold error above 0.3 s or a wrong stance list:")
        rep.out()
        for p in problems:
            rep.out(f"- {p}")
    rep.out()
    rep.check(
        f"four-stage hold time error ({n_stances} stances)",
        "<= 0.3 s",
        f"max {errs_a.max():.2f} s; verdicts {n_match_held}/{n_stances}; "
        f"stance lists {len(cases) - n_bad_list}/{len(cases)}",
        errs_a.max() <= 0.3 and n_bad_list == 0,
    )


# ---------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------


def write_doc(rep: Report, header: list[str], path: Path) -> None:
    keep = ""
    if path.exists():
        old = path.read_text()
        i = old.find("\n## Speed")
        if i >= 0:
            keep = old[i + 1 :]
    summary = ["## Summary: targets and measured values", ""]
    summary += ["| measure | target | measured | |", "|---|---|---|---|"]
    summary += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rep.checks]
    body = "\n".join([*header, "", *summary, *rep.lines]).rstrip() + "\n"
    if keep:
        body += "\n" + keep.rstrip() + "\n"
    path.write_text(body)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="smaller grids (a smoke test)")
    ap.add_argument("--no-write", action="store_true", help="print only")
    ap.add_argument("--out", type=Path, default=DOC)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    t_start = time.perf_counter()
    started = datetime.now(UTC)
    py = (
        os.path.relpath(sys.executable, ROOT)
        if sys.executable.startswith(str(ROOT))
        else sys.executable
    )
    script = os.path.relpath(Path(__file__).resolve(), ROOT)
    command = " ".join([py, script, *(sys.argv[1:] if argv is None else argv)])
    header = [
        "# Validation: measured accuracy of the analyses",
        "",
        "Written by `bench/validate.py`, which measures every figure below in one run and "
        "prints it; do not edit by hand (the `## Speed` section at the end is kept across "
        "runs and holds the figures printed by `bench/bench_analysis.py` and "
        "`bench/bench_live.py`).",
        "",
        f"- date: {started:%Y-%m-%d %H:%M} UTC",
        f"- machine: {machine(full=True)}",
        f"- command (from the repository root): `{command}`",
        f"- balance_mon simulator version {sim.SIM_VERSION}",
    ]
    for line in header:
        print(line)
    rep = Report()
    n_sway = 20 if args.quick else 100
    n_sets = 48 if args.quick else 480
    steps = [
        lambda: section_sway_reference(rep, n_sway, args.seed),
        lambda: section_tilt(rep, args.quick, args.seed),
        lambda: section_bds(rep),
        lambda: section_reps(rep, n_sets, args.seed),
        lambda: section_transitions(rep, args.quick),
        lambda: section_tug(rep, args.quick),
    ]
    for step in steps:
        step()
    elapsed = time.perf_counter() - t_start
    header.append(f"- run time: {elapsed / 60:.1f} min")
    print()
    print("## Summary: targets and measured values")
    print()
    w = max(len(c[0]) for c in rep.checks)
    for what, target, measured, status in rep.checks:
        print(f"{status:4s}  {what:<{w}s}  target {target:<18s} measured {measured}")
    print(f"\nrun time {elapsed / 60:.1f} min")
    if not args.no_write:
        write_doc(rep, header, args.out)
        print(f"wrote {os.path.relpath(args.out, ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
