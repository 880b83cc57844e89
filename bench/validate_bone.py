"""Posture and impact-loading accuracy on simulated recordings (docs/bone.md).

Three experiments, each over randomly drawn simulator settings (placement,
rate, gyroscope or not, mounting tilt, noise, bias, body height, tempo):

1. lifts: squat vs stoop, neutral vs flexed spine; each set is classified by
   the majority of its bends; reports the share of sets classified right and
   the bend timing / peak errors against the truth;
2. bends: forward bends with random onset, end and peak; reports the share
   found with onset and end within 0.3 s and peak within 5 deg;
3. impacts: walking, jogging, stairs, jumps and heel drops with random peaks
   (kept 0.15 g away from the 2 and 4 g thresholds) and sensor ranges of 4,
   8 or 16 g; reports counts over 2 g and 4 g against the truth.

Usage: python bench/validate_bone.py [--n N] [--seed S] [--verbose] [--plot DIR]
"""

from __future__ import annotations

import argparse
import collections
import time

import numpy as np

from balance_mon import sim
from balance_mon.analysis.loading import ImpactLoading
from balance_mon.analysis.posture import TrunkPosture

RATES = (25.0, 50.0, 100.0, 200.0)


def _sensor(rng: np.random.Generator, placement: str, **kw) -> sim.SensorSpec:
    return sim.SensorSpec(
        placement=placement,
        fs_hz=float(rng.choice(kw.pop("rates", RATES))),
        gyro=bool(rng.random() < 0.6),
        tilt_deg=tuple(float(x) for x in rng.uniform(-20, 20, 3)),
        noise_mps2=float(rng.uniform(0.01, 0.05)),
        **kw,
    )


def _subject(rng: np.random.Generator) -> sim.Subject:
    return sim.Subject(height_m=float(rng.uniform(1.5, 1.85)))


def lifts(n: int, seed: int, verbose: bool) -> dict:
    rng = np.random.default_rng(seed)
    ok = collections.Counter()
    tot = collections.Counter()
    on, off, pk = [], [], []
    for i in range(n):
        style = sim.LIFT_STYLES[i % 2]
        spine = sim.SPINE_STYLES[(i // 2) % 2]
        place = ("lower_back", "sternum")[(i // 4) % 2]
        res = sim.simulate_lifts(
            style,
            spine=spine,
            lifts=int(rng.integers(4, 9)),
            tempo_s=float(rng.uniform(2.5, 6.0)),
            sensor=_sensor(rng, place),
            subject=_subject(rng),
            seed=int(rng.integers(0, 2**31 - 1)),
        )
        p = TrunkPosture().analyze_recording(res.recording)
        kinds = [b.kind for b in p.bends_ if b.kind]
        got = "squat" if sum(k == "squat" for k in kinds) * 2 > len(kinds) else "stoop"
        key = (place, style, spine)
        tot[key] += 1
        ok[key] += got == style
        for t in res.truth["bends"]:
            near = [b for b in p.bends_ if abs(b.peak_s - t["peak_inclination_s"]) < 1.0]
            if near:
                b = near[0]
                on.append(b.start_s - t["onset_s"])
                off.append(b.end_s - t["end_s"])
                pk.append(b.peak_deg - t["peak_inclination_deg"])
        if verbose and got != style:
            print("  wrong:", key, res.recording, [round(b.hip_drop_m or 0, 3) for b in p.bends_])
    return {"ok": ok, "tot": tot, "onset": on, "end": off, "peak": pk}


def bends(n: int, seed: int, verbose: bool) -> dict:
    rng = np.random.default_rng(seed + 1)
    found = within = total = 0
    on, off, pk = [], [], []
    for _ in range(n):
        place = ("lower_back", "sternum")[int(rng.integers(2))]
        t = 3.0
        spec = []
        for _ in range(int(rng.integers(2, 5))):
            dur = float(rng.uniform(1.5, 6.0))
            spec.append(
                {
                    "onset_s": t,
                    "end_s": t + dur,
                    "peak_deg": float(rng.uniform(20.0, 80.0 if place == "sternum" else 60.0)),
                    "hold_s": float(rng.uniform(0.0, 0.4)) * dur,
                    "lateral_deg": float(rng.uniform(-10, 10)),
                }
            )
            t += dur + float(rng.uniform(2.5, 6.0))
        res = sim.simulate_bends(
            spec,
            sensor=_sensor(rng, place),
            subject=_subject(rng),
            seed=int(rng.integers(0, 2**31 - 1)),
        )
        p = TrunkPosture().analyze_recording(res.recording)
        for tb in res.truth["bends"]:
            total += 1
            near = [
                b for b in p.bends_ if b.start_s - 0.5 < tb["peak_inclination_s"] < b.end_s + 0.5
            ]
            if not near:
                if verbose:
                    print("  missed:", tb)
                continue
            b = near[0]
            found += 1
            e = (
                b.start_s - tb["onset_s"],
                b.end_s - tb["end_s"],
                b.peak_deg - tb["peak_inclination_deg"],
            )
            on.append(e[0])
            off.append(e[1])
            pk.append(e[2])
            good = abs(e[0]) <= 0.3 and abs(e[1]) <= 0.3 and abs(e[2]) <= 5.0
            within += good
            if verbose and not good:
                print("  off:", np.round(e, 2), res.recording, round(tb["peak_inclination_deg"], 1))
    return {"total": total, "found": found, "within": within, "onset": on, "end": off, "peak": pk}


def _peak(rng: np.random.Generator, lo: float, hi: float) -> float:
    while True:
        v = float(rng.uniform(lo, hi))
        if min(abs(v - 2.0), abs(v - 4.0)) >= 0.15:
            return v


def impacts(n: int, seed: int, verbose: bool) -> dict:
    rng = np.random.default_rng(seed + 2)
    rows = []
    for _ in range(n):
        acts = [
            {"kind": "walk", "steps": int(rng.integers(10, 40)), "peak_g": _peak(rng, 1.2, 1.8)},
            "rest",
            {"kind": "jog", "steps": int(rng.integers(10, 40)), "peak_g": _peak(rng, 2.2, 3.8)},
            "rest",
            {"kind": "stairs_up", "steps": int(rng.integers(6, 14))},
            "rest",
            {"kind": "jump", "count": int(rng.integers(3, 15)), "peak_g": _peak(rng, 4.2, 7.0)},
            "rest",
            {
                "kind": "heel_drop",
                "count": int(rng.integers(3, 15)),
                "peak_g": _peak(rng, 2.2, 3.5),
            },
        ]
        rng.shuffle(acts)
        rg = float(rng.choice((4.0, 8.0, 16.0)))
        res = sim.simulate_impacts(
            acts,
            sensor=_sensor(rng, "lower_back", rates=(50.0, 100.0, 200.0), range_g=rg),
            subject=_subject(rng),
            seed=int(rng.integers(0, 2**31 - 1)),
        )
        out = ImpactLoading().analyze_recording(res.recording).result()
        c = res.truth["counts"]
        rows.append(
            {
                "range_g": rg,
                "fs": res.recording.fs_hz,
                "t2": c["impacts_over_2g"],
                "g2": out["impacts_over_2g"],
                "t4": c["impacts_over_4g"],
                "g4": out["impacts_over_4g"],
                "ts": c["saturated_impacts"],
                "gs": out["saturated_peaks"],
                "tsteps": c["steps"],
                "gsteps": out["steps"],
            }
        )
        if verbose:
            print("  ", rows[-1])
    return {"rows": rows}


def _stats(x: list[float]) -> str:
    a = np.abs(np.asarray(x))
    if not a.size:
        return "-"
    return (
        f"mean {np.mean(x):+.3f}, median |e| {np.median(a):.3f}, "
        f"95th |e| {np.percentile(a, 95):.3f}, max |e| {a.max():.3f}"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=80)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    t0 = time.time()
    L = lifts(args.n, args.seed, args.verbose)
    right = sum(L["ok"].values())
    print(f"lift sets classified right: {right}/{sum(L['tot'].values())}")
    for k in sorted(L["tot"]):
        print(f"  {k}: {L['ok'][k]}/{L['tot'][k]}")
    print("  onset error s:", _stats(L["onset"]))
    print("  end error s:  ", _stats(L["end"]))
    print("  peak error deg:", _stats(L["peak"]))
    B = bends(args.n, args.seed, args.verbose)
    print(
        f"bends: {B['found']}/{B['total']} found, {B['within']}/{B['total']} with onset/end "
        "within 0.3 s and peak within 5 deg"
    )
    print("  onset error s:", _stats(B["onset"]))
    print("  end error s:  ", _stats(B["end"]))
    print("  peak error deg:", _stats(B["peak"]))
    imp = impacts(max(args.n // 4, 5), args.seed, args.verbose)
    rows = imp["rows"]
    for key, lab in (("2", "over 2 g"), ("4", "over 4 g"), ("s", "saturated"), ("steps", "steps")):
        t = np.array([r["t" + key] for r in rows], float)
        g = np.array([r["g" + key] for r in rows], float)
        rel = np.abs(g - t) / np.maximum(t, 1)
        print(
            f"impacts {lab}: truth {int(t.sum())}, found {int(g.sum())}; recordings within 5 %: "
            f"{int(np.sum(rel <= 0.05))}/{len(rows)}; worst {rel.max() * 100:.1f} %"
        )
    print(f"({time.time() - t0:.0f} s)")


if __name__ == "__main__":
    main()
