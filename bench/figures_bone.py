"""Figures of docs/bone.md (posture and impact loading on simulated and real data).

Usage: python bench/figures_bone.py [--out docs/figures]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from balance_mon import sim
from balance_mon.analysis.loading import ImpactLoading
from balance_mon.analysis.posture import TrunkPosture
from balance_mon.consts import GRAVITY_MPS2
from balance_mon.io import load_recording

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT / "sample_data" / "real"


def bends(out: Path) -> None:
    spec = [
        {"onset_s": 3.0, "end_s": 6.0, "peak_deg": 45.0},
        {"onset_s": 9.0, "end_s": 10.6, "peak_deg": 60.0, "hold_s": 0.1},
        {"onset_s": 14.0, "end_s": 19.0, "peak_deg": 25.0, "lateral_deg": 10.0},
        {"onset_s": 22.0, "end_s": 24.0, "peak_deg": 5.0, "twist_deg": 50.0},
    ]
    fig, axes = plt.subplots(2, 1, figsize=(10, 5.5), sharex=True)
    for ax, (place, gyro) in zip(axes, (("sternum", True), ("lower_back", False)), strict=True):
        res = sim.simulate_bends(
            spec,
            sensor=sim.SensorSpec(placement=place, gyro=gyro, tilt_deg=(8.0, -6.0, 15.0)),
            seed=4,
        )
        p = TrunkPosture().analyze_recording(res.recording)
        ax.plot(p.time_s_, p.flexion_deg_, color="0.2", lw=1, label="flexion (found)")
        ax.plot(p.time_s_, p.lateral_deg_, color="tab:green", lw=0.8, label="lateral lean (found)")
        ax.axhline(
            p.flexion_threshold_deg, color="tab:red", lw=0.8, ls=":", label="30 deg threshold"
        )
        for i, t in enumerate(res.truth["bends"]):
            ax.axvspan(
                t["onset_s"],
                t["end_s"],
                color="tab:blue",
                alpha=0.1,
                label="truth bend" if i == 0 else None,
            )
            ax.plot(
                t["peak_inclination_s"],
                t["peak_inclination_deg"],
                "b+",
                ms=9,
                label="truth peak" if i == 0 else None,
            )
        for i, b in enumerate(p.bends_):
            ax.plot(
                [b.start_s, b.end_s], [-6, -6], "r|-", lw=2, label="bend found" if i == 0 else None
            )
        ax.set_ylabel("deg")
        ax.set_title(
            f"{place} sensor, {'with' if gyro else 'without'} gyroscope, mounted 8/6/15 deg off"
        )
        ax.legend(fontsize=7, ncol=3, loc="upper right")
    axes[-1].set_xlabel("time (s)")
    fig.tight_layout()
    fig.savefig(out / "bone_bends_sim.png", dpi=90)


def lifts(out: Path) -> None:
    rng = np.random.default_rng(3)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    marks = {
        ("squat", "neutral"): "o",
        ("squat", "flexed"): "s",
        ("stoop", "neutral"): "^",
        ("stoop", "flexed"): "v",
    }
    for ax, place in zip(axes, ("lower_back", "sternum"), strict=True):
        for (style, spine), m in marks.items():
            xs, ys = [], []
            for _ in range(4):
                res = sim.simulate_lifts(
                    style,
                    spine=spine,
                    lifts=5,
                    tempo_s=float(rng.uniform(2.5, 6.0)),
                    sensor=sim.SensorSpec(
                        placement=place,
                        gyro=bool(rng.random() < 0.5),
                        fs_hz=float(rng.choice((25.0, 50.0, 100.0, 200.0))),
                        tilt_deg=tuple(float(x) for x in rng.uniform(-20, 20, 3)),
                    ),
                    subject=sim.Subject(height_m=float(rng.uniform(1.5, 1.85))),
                    seed=int(rng.integers(1 << 30)),
                )
                p = TrunkPosture().analyze_recording(res.recording)
                for b in p.bends_:
                    if b.hip_drop_m is not None:
                        xs.append(b.peak_deg)
                        ys.append(b.hip_drop_m / p.height_used_m_)
            color = "tab:blue" if style == "squat" else "tab:red"
            ax.scatter(
                xs, ys, marker=m, s=14, color=color, alpha=0.7, label=f"{style}, {spine} spine"
            )
        ax.axhline(0.06, color="k", ls="--", lw=0.8, label="squat / stoop boundary (0.06 H)")
        ax.set_xlabel(f"peak {'pelvis' if place == 'lower_back' else 'trunk'} flexion (deg)")
        ax.set_ylabel("hip drop / body height")
        ax.set_title(f"{place}: each lift")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "bone_lifts_sim.png", dpi=90)


def impacts(out: Path) -> None:
    acts = [
        {"kind": "walk", "steps": 12, "peak_g": 1.5},
        "rest",
        {"kind": "jog", "steps": 16, "peak_g": 3.0},
        "rest",
        {"kind": "jump", "count": 5, "peak_g": 5.5, "interval_s": 0.5},
        "rest",
        {"kind": "heel_drop", "count": 5, "peak_g": 2.6},
    ]
    fig, axes = plt.subplots(2, 1, figsize=(10, 5.5), sharex=True)
    for ax, rg in zip(axes, (16.0, 4.0), strict=True):
        res = sim.simulate_impacts(acts, sensor=sim.SensorSpec(range_g=rg), seed=8)
        rec = res.recording
        L = ImpactLoading().analyze_recording(rec)
        mag = np.linalg.norm(rec.acc_mps2, axis=1) / GRAVITY_MPS2
        ax.plot(rec.time_s, mag, color="0.35", lw=0.6, label="resultant (g)")
        ok = ~L.saturated_
        ax.plot(L.peaks_s_[ok], L.peaks_g_[ok], "k.", ms=4, label="peaks")
        ax.plot(L.peaks_s_[~ok], L.peaks_g_[~ok], "rx", ms=7, label="saturated: at least the range")
        tr = res.truth["impacts"]
        ax.plot(
            [x["peak_s"] for x in tr], [x["peak_g"] for x in tr], "b+", ms=7, label="truth impacts"
        )
        for th in (2.0, 4.0):
            ax.axhline(th, color="tab:orange", lw=0.8, ls=":")
        c = res.truth["counts"]
        r = L.result()
        ax.set_title(
            f"range {rg:g} g: over 2 g {r['impacts_over_2g']} (truth {c['impacts_over_2g']}), "
            f"over 4 g {r['impacts_over_4g']} (truth {c['impacts_over_4g']}), "
            f"saturated {r['saturated_peaks']}, steps {r['steps']} (truth {c['steps']})",
            fontsize=9,
        )
        ax.set_ylabel("g")
        ax.legend(fontsize=7, ncol=4, loc="upper left")
    axes[-1].set_xlabel("time (s)")
    fig.tight_layout()
    fig.savefig(out / "bone_impacts_sim.png", dpi=90)


def real_posture(out: Path) -> None:
    files = [
        REAL / "sit2standpy" / "sit2standpy_sample.csv",
        REAL / "mobgap" / "mobgap_ha001_test11_daily_living.csv",
    ]
    fig, axes = plt.subplots(len(files), 1, figsize=(10, 5.5))
    for ax, f in zip(axes, files, strict=True):
        rec = load_recording(f)
        p = TrunkPosture().analyze_recording(rec)
        ax.plot(p.time_s_, p.flexion_deg_, color="0.2", lw=0.8, label="pelvis flexion from upright")
        ax.axhline(30.0, color="tab:red", ls=":", lw=0.8, label="30 deg threshold")
        for i, e in enumerate(p.events_):
            ax.axvspan(
                e.start_s,
                e.end_s,
                color="tab:red",
                alpha=0.15,
                label="flexion event" if i == 0 else None,
            )
        gait = [b for b in ImpactLoading().analyze_recording(rec).bouts_ if b.gait]
        for i, b in enumerate(gait):
            ax.axvspan(
                b.start_s,
                b.end_s,
                color="tab:blue",
                alpha=0.08,
                label="walking" if i == 0 else None,
            )
        ax.set_title(
            f"{f.name}: reference {p.reference_source_}, forward {p.forward_source_}", fontsize=9
        )
        ax.set_ylabel("deg")
        ax.legend(fontsize=7, ncol=4, loc="upper left")
    axes[-1].set_xlabel("time (s)")
    fig.tight_layout()
    fig.savefig(out / "bone_posture_real.png", dpi=90)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(ROOT / "docs" / "figures"))
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    bends(out)
    lifts(out)
    impacts(out)
    real_posture(out)


if __name__ == "__main__":
    main()
