"""Repetition counting accuracy on simulated sets (exercises x placements x rates x tempos).

Draws sets at random (exercises cycled; placements where the movement reaches
the sensor -- the simulator's 'weak' combinations, e.g. an arm raise seen from
the thigh, are left out; 12.5-1000 Hz; with or without gyroscope; sensor
mounting tilted up to 30 deg per axis; tempo x0.7-1.4 of the exercise's usual;
5-15 repetitions; a 2-6 s pause inside 40 % of the sets; sensor noise
0.01-0.05 m/s^2) and counts each with two counters:

- **default**: ``RepCounter().count_recording(rec)``, as the app runs it: it
  reads the recording's ``exercise`` metadata, which the simulator writes (as
  a home-programme runner would); the hint only changes stair climbing seen
  from a thigh (steps of both legs, two per thigh cycle);
- **unhinted**: ``RepCounter(use_metadata=False)``: the same counter told
  nothing but the data.

The first table (the default counter) has the layout bench/validate.py reads:
``name  sets  within%  MAE``, exercises unindented, placements indented, then
``ALL``. The other tables (exact counts, the unhinted counter, every exercise x
placement) are written so that they do not match that layout.

Usage: python bench/validate_reps.py [--sets N] [--seed S] [--verbose] [--unhinted-first]
"""

from __future__ import annotations

import argparse
import collections
import time
from datetime import UTC, datetime

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


def _groups(rows, col):
    """Errors (counted - true) per exercise, per placement and per exercise x placement."""
    by = collections.defaultdict(list)
    for r in rows:
        err = r[col] - r["true"]
        by[("ex", r["exercise"])].append(err)
        by[("pl", r["placement"])].append(err)
        by[("xp", f"{r['exercise']} @ {r['placement']}")].append(err)
    return by


def _stats(errs):
    e = np.asarray(errs)
    a = np.abs(e)
    return e.size, 100 * np.mean(a <= 1), 100 * np.mean(a == 0), a.mean(), e.mean()


def parsed_table(rows, col, exercises, placements):
    """The table bench/validate.py reads: name, sets, within +/-1 %, MAE."""
    by = _groups(rows, col)
    print(f"{'exercise / placement':28s} {'sets':>5s} {'within +/-1':>12s} {'MAE (reps)':>11s}")
    for ex in exercises:
        n, within, _, mae, _ = _stats(by[("ex", ex)])
        print(f"{ex:28s} {n:5d} {within:11.1f}% {mae:11.2f}")
    for pl in placements:
        n, within, _, mae, _ = _stats(by[("pl", pl)])
        print(f"{'  at ' + pl:28s} {n:5d} {within:11.1f}% {mae:11.2f}")
    n, within, _, mae, _ = _stats([r[col] - r["true"] for r in rows])
    print(f"{'ALL':28s} {n:5d} {within:11.1f}% {mae:11.2f}")


def detail_table(title, rows, col, keys):
    """Within +/-1, exact and MAE per group, in a layout validate.py does not read."""
    by = _groups(rows, col)
    print(title)
    print(
        f"  {'group':32s} {'sets':>5s} {'within +/-1':>12s} {'exact':>8s} {'MAE':>6s} {'bias':>6s}"
    )
    for kind, key in keys:
        if (kind, key) not in by:
            continue
        n, within, exact, mae, bias = _stats(by[(kind, key)])
        print(f"  {key:32s} {n:5d} {within:10.1f} % {exact:6.1f} % {mae:6.2f} {bias:+6.2f}")
    n, within, exact, mae, bias = _stats([r[col] - r["true"] for r in rows])
    print(f"  {'all sets':32s} {n:5d} {within:10.1f} % {exact:6.1f} % {mae:6.2f} {bias:+6.2f}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sets", type=int, default=240)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--verbose", action="store_true", help="list the sets missed by more than 1")
    ap.add_argument(
        "--unhinted-first",
        action="store_true",
        help="put the unhinted counter in the first (machine-read) table",
    )
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
        t1 = time.process_time()
        default = RepCounter().count_recording(res.recording)
        unhinted = RepCounter(use_metadata=False).count_recording(res.recording)
        t_count += (time.process_time() - t1) / 2
        t_sim += time.perf_counter() - t0
        s = spec["sensor"]
        row = dict(
            exercise=spec["exercise"],
            placement=s.placement,
            true=len(res.truth["reps"]),
            default=default.count_,
            unhinted=unhinted.count_,
        )
        rows.append(row)
        if (
            args.verbose
            and max(abs(row["default"] - row["true"]), abs(row["unhinted"] - row["true"])) > 1
        ):
            print(
                f"  miss: {spec['exercise']}/{spec['variant']} {s.placement} {s.fs_hz:g} Hz "
                f"gyro={s.gyro} tempo={spec['tempo_s']:.2f} s pauses={spec['pauses']} "
                f"true={row['true']} default={row['default']} unhinted={row['unhinted']} "
                + " ".join(f"[{x.signal} T={x.period_s:.2f} s n={x.count}]" for x in default.sets_)
            )
    first, second = ("unhinted", "default") if args.unhinted_first else ("default", "unhinted")
    exercises = list(dict.fromkeys(r["exercise"] for r in rows))
    placements = sorted({r["placement"] for r in rows})
    names = {
        "default": "default counter (RepCounter(); reads the recording's `exercise` metadata)",
        "unhinted": "unhinted counter (RepCounter(use_metadata=False); told nothing)",
    }
    print(
        f"Repetition counting, {len(rows)} simulated sets, seed {args.seed}, "
        f"{datetime.now(UTC):%Y-%m-%d}; counts within +/-1 of the truth and mean absolute error"
    )
    print(f"{names[first]}:")
    parsed_table(rows, first, exercises, placements)
    print()
    keys = [("ex", e) for e in exercises] + [("pl", p) for p in placements]
    detail_table(f"{names[first]}, with the share of exact counts and the bias:", rows, first, keys)
    print()
    detail_table(f"{names[second]}:", rows, second, keys)
    print()
    xp = sorted({f"{r['exercise']} @ {r['placement']}" for r in rows})
    detail_table(
        f"every exercise x placement, {names[first].split(' (')[0]}:",
        rows,
        first,
        [("xp", k) for k in xp],
    )
    print()
    print(
        f"simulation {t_sim:.1f} s (wall), counting {t_count:.1f} s CPU per counter "
        f"({1000 * t_count / max(len(rows), 1):.0f} ms per set)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
