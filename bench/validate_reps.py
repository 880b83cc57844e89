"""Repetition counting accuracy on simulated sets (exercises x placements x rates x tempos).

Prints per-exercise and overall: sets within +/- 1 rep, mean absolute error.
Usage: python bench/validate_reps.py [--sets N] [--seed S] [--verbose]
"""

from __future__ import annotations

import argparse
import collections
import time

import numpy as np

from balance_mon import sim
from balance_mon.analysis.reps import RepCounter

RATES = (12.5, 25.0, 50.0, 100.0, 200.0, 416.0, 1000.0)


def draw_sets(n_sets: int, seed: int):
    """Set specifications drawn at random, cycling through the exercises."""
    rng = np.random.default_rng(seed)
    names = list(sim.EXERCISES)
    for i in range(n_sets):
        ex = names[i % len(names)]
        info = sim.EXERCISES[ex]
        # placements where the movement reaches the sensor ('weak' ones are not counted)
        placements = [p for p, q in info.signal.items() if q != "weak"]
        pl = placements[int(rng.integers(len(placements)))]
        variant = info.variants[int(rng.integers(len(info.variants)))]
        n = int(rng.integers(5, 16))
        pauses = []
        if rng.random() < 0.4:
            pauses = [(int(rng.integers(1, n - 1)), float(rng.uniform(2.0, 6.0)))]
        spec = sim.SensorSpec(
            placement=pl,
            fs_hz=float(rng.choice(RATES)),
            gyro=bool(rng.random() < 0.5),
            tilt_deg=tuple(float(x) for x in rng.uniform(-30, 30, 3)),
            noise_mps2=float(rng.uniform(0.01, 0.05)),
        )
        yield dict(
            exercise=ex,
            variant=variant,
            reps=n,
            tempo_s=info.tempo_s * float(rng.uniform(0.7, 1.4)),
            pauses=pauses,
            sensor=spec,
            seed=seed * 100_000 + i,
        )


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sets", type=int, default=240)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args(argv)
    rows = []
    t_sim = t_count = 0.0
    for spec in draw_sets(args.sets, args.seed):
        t0 = time.perf_counter()
        res = sim.simulate_exercise_set(
            spec["exercise"],
            reps=spec["reps"],
            tempo_s=spec["tempo_s"],
            pauses=spec["pauses"],
            variant=spec["variant"],
            sensor=spec["sensor"],
            seed=spec["seed"],
        )
        t1 = time.perf_counter()
        got = RepCounter().count_recording(res.recording).count_
        t2 = time.perf_counter()
        t_sim += t1 - t0
        t_count += t2 - t1
        true = len(res.truth["reps"])
        s = spec["sensor"]
        rows.append((spec["exercise"], s.placement, s.fs_hz, true, got))
        if args.verbose and abs(got - true) > 1:
            print(
                f"  miss: {spec['exercise']}/{spec['variant']} {s.placement} {s.fs_hz:g} Hz "
                f"gyro={s.gyro} tempo={spec['tempo_s']:.2f} s pauses={spec['pauses']} "
                f"true={true} counted={got}"
            )
    by = collections.defaultdict(list)
    for ex, pl, fs, true, got in rows:
        by[ex].append(abs(got - true))
        by[f"  at {pl}"].append(abs(got - true))
    print(f"{'exercise / placement':28s} {'sets':>5s} {'within +/-1':>12s} {'MAE (reps)':>11s}")
    for key in [k for k in by if not k.startswith(" ")] + sorted(
        k for k in by if k.startswith(" ")
    ):
        v = np.array(by[key])
        print(f"{key:28s} {v.size:5d} {100 * np.mean(v <= 1):11.1f}% {v.mean():11.2f}")
    v = np.array([abs(g - t) for *_, t, g in rows])
    print(f"{'ALL':28s} {v.size:5d} {100 * np.mean(v <= 1):11.1f}% {v.mean():11.2f}")
    print(f"simulation {t_sim:.1f} s, counting {t_count:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
