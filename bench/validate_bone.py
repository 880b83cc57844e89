"""Posture and impact-loading accuracy on simulated recordings (docs/bone.md).

Four experiments; 1, 2 and 4 over randomly drawn simulator settings (placement,
rate, gyroscope or not, mounting tilt, noise, bias, body height, tempo):

1. lifts: squat vs stoop, neutral vs flexed spine; each set is classified by
   the majority of its bends; reports the share of sets classified right and
   the bend timing / peak errors against the truth;
2. bends: forward bends with random onset, end and peak; reports the share
   found with onset and end within 0.3 s and peak within 5 deg; the bends of
   1 and 2 are then broken down (gyroscope or not, sampling rate, flexion
   events only: truth peak >= 30 deg) with the 95th percentile and largest
   errors, and every bend outside the tolerance is listed;
3. shapes (not the simulator): synthetic bends whose rotation is not
   minimum-jerk (raised cosine; velocity peak at 40 % of the movement) and
   squat-like bends whose hip shift follows another time course than the
   trunk's (its square; a sine), with and without a gyroscope: how much the
   timing depends on the minimum-jerk model;
4. impacts: walking, jogging, stairs, jumps and heel drops with random peaks
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

#: The acceptance tolerance: onset and end within 0.3 s, peak within 5 deg.
TOL_S, TOL_DEG = 0.3, 5.0


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
    rows: list[dict] = []
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
            row = _row("lift", res.recording, t, near[0] if near else None)
            row["case"] = f"lifts #{i} {style}/{spine}"
            rows.append(row)
            if near:
                on.append(row["onset"])
                off.append(row["end"])
                pk.append(row["peak"])
        if verbose and got != style:
            print("  wrong:", key, res.recording, [round(b.hip_drop_m or 0, 3) for b in p.bends_])
    return {"ok": ok, "tot": tot, "onset": on, "end": off, "peak": pk, "rows": rows}


def bends(n: int, seed: int, verbose: bool) -> dict:
    rng = np.random.default_rng(seed + 1)
    found = within = total = 0
    on, off, pk = [], [], []
    rows: list[dict] = []
    for i in range(n):
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
            row = _row("bend", res.recording, tb, near[0] if near else None)
            row["case"] = f"bends #{i}"
            rows.append(row)
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
    return {
        "total": total,
        "found": found,
        "within": within,
        "onset": on,
        "end": off,
        "peak": pk,
        "rows": rows,
    }


def _row(exp: str, rec, truth: dict, b) -> dict:
    """One truth bend and the bend found for it (None: not found)."""
    row = {
        "exp": exp,
        "gyro": rec.gyr_dps is not None,
        "fs": float(rec.fs_hz),
        "placement": rec.placement,
        "truth_peak": float(truth["peak_inclination_deg"]),
        "found": b is not None,
        "duration": float(truth["end_s"] - truth["onset_s"]),
        "hold": float(truth["return_s"] - truth["bottom_s"]),
    }
    if b is not None:
        row.update(
            onset=b.start_s - truth["onset_s"],
            end=b.end_s - truth["end_s"],
            peak=b.peak_deg - truth["peak_inclination_deg"],
        )
        row["within"] = (
            abs(row["onset"]) <= TOL_S and abs(row["end"]) <= TOL_S and abs(row["peak"]) <= TOL_DEG
        )
    else:
        row["within"] = False
    return row


def _p95max(x: list[float]) -> str:
    a = np.abs(np.asarray(x, float))
    return f"{np.percentile(a, 95):.2f}/{a.max():.2f}" if a.size else "-"


def breakdown(rows: list[dict], min_deg: float = 15.0) -> None:
    """Within-tolerance share and p95/max errors per group of truth bends.

    Truth bends under ``min_deg`` (the analysis's ``bend_min_deg``: not bends
    by definition) count only when found; "missed" counts those reaching it.
    """
    groups: list[tuple[str, list[dict]]] = []
    for exp in ("lift", "bend"):
        for gyro in (True, False):
            sel = [r for r in rows if r["exp"] == exp and r["gyro"] == gyro]
            groups.append((f"{exp}s, {'gyroscope' if gyro else 'no gyroscope'}", sel))
    for exp in ("lift", "bend"):
        for fs in RATES:
            groups.append(
                (f"{exp}s, {fs:g} Hz", [r for r in rows if r["exp"] == exp and r["fs"] == fs])
            )
    for gyro in (True, False):
        sel = [r for r in rows if r["truth_peak"] >= 30.0 and r["gyro"] == gyro]
        groups.append((f"flexion events (>= 30 deg), {'gyro' if gyro else 'no gyro'}", sel))
    print(
        f"  {'group':40s} {'within':>12s} {'missed':>6s}  onset p95/max s  end p95/max s"
        "  peak p95/max deg"
    )
    for name, sel in groups:
        counted = [r for r in sel if r["found"] or r["truth_peak"] >= min_deg]
        found = [r for r in counted if r["found"]]
        n_in = sum(r["within"] for r in counted)
        print(
            f"  {name:40s} {n_in:5d}/{len(counted):<6d} {len(counted) - len(found):6d}  "
            f"{_p95max([r['onset'] for r in found]):>15s}  "
            f"{_p95max([r['end'] for r in found]):>13s}  "
            f"{_p95max([r['peak'] for r in found]):>16s}"
        )
    under = [r for r in rows if not r["found"] and r["truth_peak"] < min_deg]
    if under:
        print(
            f"  ({len(under)} truth bends under {min_deg:g} deg not found: not bends by definition)"
        )
    bad = [r for r in rows if (r["found"] or r["truth_peak"] >= min_deg) and not r["within"]]
    for r in sorted(bad, key=lambda r: -max(abs(r.get("onset", 9)), abs(r.get("end", 9)))):
        err = (
            f"onset {r['onset']:+.2f} s, end {r['end']:+.2f} s, peak {r['peak']:+.1f} deg"
            if r["found"]
            else "not found"
        )
        print(
            f"  outside: {r['case']}, {r['placement']}, {r['fs']:g} Hz, "
            f"{'gyro' if r['gyro'] else 'no gyro'}, truth peak {r['truth_peak']:.1f} deg, "
            f"{r['duration']:.2f} s (hold {r['hold']:.2f} s): {err}"
        )


def _profile(kind: str, u: np.ndarray) -> np.ndarray:
    """A 0 -> 1 step on u in [0, 1]: minimum-jerk, raised cosine, or asymmetric
    (velocity sin^2 rising to its peak at 40 % and falling over the remaining 60 %)."""
    u = np.clip(u, 0.0, 1.0)
    if kind == "minimum-jerk":
        return u**3 * (10.0 - 15.0 * u + 6.0 * u * u)
    if kind == "raised cosine":
        return 0.5 * (1.0 - np.cos(np.pi * u))
    grid = np.linspace(0.0, 1.0, 4001)
    v = np.where(
        grid < 0.4,
        np.sin(0.5 * np.pi * grid / 0.4) ** 2,
        np.cos(0.5 * np.pi * (grid - 0.4) / 0.6) ** 2,
    )
    c = np.cumsum(v)
    return np.interp(u, grid, c / c[-1])


def _synthetic_bend(
    fs: float,
    rot: str,
    side_s: float,
    peak_deg: float,
    *,
    lever_m: float = 0.1,
    shift_m: float = 0.0,
    shift: str = "minimum-jerk",
    hold_s: float = 0.6,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, float, float]:
    """A sensor ``lever_m`` above a pivot pitching forward by ``peak_deg`` (rotation
    profile ``rot``, each side ``side_s``) while the pivot moves back ``shift_m`` and
    down twice that (profile: the rotation's step, its square, or a sine of it).
    Sensor axes x = up, y = left, z = back; returns acc (m/s^2), gyro (deg/s), onset, end."""
    hi = 1000.0
    t = np.arange(0.0, 8.0 + 2 * side_s + hold_s, 1.0 / hi)
    t0 = 3.0
    s = _profile(rot, (t - t0) / side_s) - _profile(rot, (t - t0 - side_s - hold_s) / side_s)
    h = {"minimum-jerk": s, "square": s * s, "sine": np.sin(0.5 * np.pi * s)}[shift]
    th = np.radians(peak_deg) * s
    px = -shift_m * h + lever_m * np.sin(th)
    pz = -2.0 * shift_m * h + lever_m * np.cos(th)
    ax = np.gradient(np.gradient(px, 1.0 / hi), 1.0 / hi)
    az = np.gradient(np.gradient(pz, 1.0 / hi), 1.0 / hi) + 9.80665
    up = ax * np.sin(th) + az * np.cos(th)
    fwd = ax * np.cos(th) - az * np.sin(th)
    acc = np.column_stack([up, np.zeros_like(up), -fwd])
    gyr = np.column_stack(
        [np.zeros_like(up), np.degrees(np.gradient(th, 1.0 / hi)), np.zeros_like(up)]
    )
    k = int(round(hi / fs))
    rng = np.random.default_rng(seed)
    acc = acc[::k] + rng.normal(0.0, 0.02, acc[::k].shape)
    gyr = gyr[::k] + rng.normal(0.0, 0.3, gyr[::k].shape)
    return acc, gyr, t0, t0 + 2 * side_s + hold_s


def shapes(verbose: bool) -> list[dict]:
    """Timing and peak on the synthetic bends of :func:`_synthetic_bend`."""
    from balance_mon.recording import AxisMap

    axes = AxisMap.parse("x=v y=ml z=-ap")
    cases = [
        (f"rotation {rot}, {side:g} s per side", dict(rot=rot, side_s=side, peak_deg=50.0))
        for rot in ("minimum-jerk", "raised cosine", "asymmetric")
        for side in (0.6, 1.5, 3.0)
    ] + [
        (
            f"squat-like, hip shift {sh}",
            dict(rot="minimum-jerk", side_s=1.5, peak_deg=20.0, shift_m=0.15, shift=sh),
        )
        for sh in ("minimum-jerk", "square", "sine")
    ]
    out = []
    for name, kw in cases:
        for gyro in (True, False):
            errs = []
            for fs in (25.0, 100.0):
                for seed in range(3):
                    acc, gyr, on, off = _synthetic_bend(fs, seed=seed, **kw)
                    p = TrunkPosture(use_reps=False).analyze(
                        acc, fs, gyr_dps=gyr if gyro else None, axes=axes, placement="lower_back"
                    )
                    b = max(p.bends_, key=lambda x: x.peak_deg)
                    errs.append((b.start_s - on, b.end_s - off, b.peak_deg - kw["peak_deg"]))
            e = np.abs(np.array(errs))
            ok = int(np.sum((e[:, 0] <= TOL_S) & (e[:, 1] <= TOL_S) & (e[:, 2] <= TOL_DEG)))
            out.append({"case": name, "gyro": gyro, "within": ok, "n": len(errs), "max": e.max(0)})
    return out


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
    print("breakdown (lifts and bends):")
    breakdown(L["rows"] + B["rows"])
    print(
        "shapes (synthetic, 25 and 100 Hz, 3 noise draws each): within / max |onset|, |end|, |peak|"
    )
    for r in shapes(args.verbose):
        print(
            f"  {r['case']:42s} {'gyro   ' if r['gyro'] else 'no gyro'} {r['within']}/{r['n']}  "
            f"{r['max'][0]:.2f} s, {r['max'][1]:.2f} s, {r['max'][2]:.1f} deg"
        )
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
