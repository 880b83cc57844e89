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

With ``--live`` every set is also streamed through
:class:`~balance_mon.analysis.reps.LiveRepCounter` (the default counter's
hints) in 0.1 s chunks, and the report is extended by: whether the final live
count equals the offline one; the sets with a provisional count taken back
(``corrections_``); and, per repetition, the reporting latency -- the end of
the chunk whose ``push`` reported the k-th repetition minus the true end of
the k-th repetition (the simulator's ``end_s``, the return to the starting
posture) -- and how many were reported *early*, before the true repetition's
midpoint (its ``peak_s``, the extreme posture: a count before the movement is
done is wrong too). Latencies are taken on the sets whose offline count is
exact (elsewhere the k-th report need not be the k-th repetition); the late
and early ones are listed with ``--verbose``.

Usage: python bench/validate_reps.py [--sets N] [--seed S] [--verbose] [--unhinted-first] [--live]
"""

from __future__ import annotations

import argparse
import collections
import time
from datetime import UTC, datetime

import numpy as np

from balance_mon import sim
from balance_mon.analysis.reps import LiveRepCounter, RepCounter
from balance_mon.dsp.gaps import uniform_segments

RATES = (12.5, 25.0, 50.0, 100.0, 200.0, 416.0, 1000.0)
CHUNK_S = 0.1  # live: samples arrive in 0.1 s chunks
LATE_S = 1.0  # live: a repetition must be reported within 1 s of its end


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


def run_live(rec):
    """Stream ``rec`` through the live counter (the default counter's hints).

    Every gap-free stretch goes to a fresh counter at the rate estimated from
    its time stamps, as ``count_recording`` counts it (the simulator's nominal
    rate can differ from that estimate in the last bits; since RepCounter 2.1
    that no longer changes a count, docs/reps.md "Sample counts and ties").
    Returns the live counters and, per reported repetition in order, the time
    it was reported (end of the chunk whose ``push`` or ``close`` returned it;
    ``close`` at the end of the data).
    """
    counter = RepCounter(exercise=rec.metadata.get("exercise"), placement=rec.placement)
    lives = []
    reported: list[float] = []
    for seg in uniform_segments(rec):
        fs = seg.fs_hz
        t = np.asarray(seg.time_s)
        acc = np.asarray(seg.acc_mps2)
        gyr = None if seg.gyr_dps is None else np.asarray(seg.gyr_dps)
        live = LiveRepCounter(fs, counter=counter, t0_s=float(t[0]))
        chunk = max(1, int(round(CHUNK_S * fs)))
        for i in range(0, acc.shape[0], chunk):
            j = min(i + chunk, acc.shape[0])
            new = live.push(acc[i:j], None if gyr is None else gyr[i:j])
            reported += [float(t[j - 1]) + 1.0 / fs] * len(new)
        reported += [float(t[-1]) + 1.0 / fs] * len(live.close())
        lives.append(live)
    return lives, reported


def live_stats(rows, verbose: bool) -> None:
    """Live final count, take-backs, reporting latency and early reports."""
    n = len(rows)
    same = sum(r["live"] == r["default"] for r in rows)
    back = [r for r in rows if r["corrections"] > 0]
    exact = [r for r in rows if r["default"] == r["true"]]
    lat = np.array([x for r in exact for x in r["latency"]])
    early = np.array([e for r in exact for e in r["early"]])
    print(
        f"live counter (LiveRepCounter, the default counter's hints, {CHUNK_S:g} s chunks), "
        f"{n} sets:"
    )
    print(f"  final live count == offline count: {same}/{n} sets")
    print(
        f"  provisional count taken back: {len(back)}/{n} sets "
        f"({sum(r['corrections'] for r in rows)} repetitions)"
    )
    if lat.size == 0:
        return
    q = np.percentile(lat, [50, 95])
    print(
        f"  on the {len(exact)} sets counted exactly offline, {lat.size} repetitions: "
        f"reported within {LATE_S:g} s of their end {100 * np.mean(lat <= LATE_S):.1f} % "
        f"({int(np.sum(lat > LATE_S))} late); latency (report - true end) median {q[0]:+.2f} s, "
        f"p95 {q[1]:+.2f} s, max {lat.max():+.2f} s, min {lat.min():+.2f} s"
    )
    print(
        f"  reported before the true repetition's midpoint (peak_s): {int(early.sum())} "
        f"({100 * early.mean():.1f} %); more than 1 s before its end: "
        f"{int(np.sum(lat < -LATE_S))} ({100 * np.mean(lat < -LATE_S):.1f} %)"
    )
    late = lat[lat > LATE_S]
    print(
        f"  late ones: {int(np.sum(late <= 1.5))} by at most 1.5 s, "
        f"{int(np.sum((late > 1.5) & (late <= 3)))} by 1.5-3 s, {int(np.sum(late > 3))} by more"
    )
    by = collections.defaultdict(list)
    for r in exact:
        for k, (x, e) in enumerate(zip(r["latency"], r["early"], strict=True)):
            by[r["exercise"]].append((x, e))
            by["  at " + r["placement"]].append((x, e))
            by[f"  {r['fs']:g} Hz"].append((x, e))
            by["  " + ("first rep" if k == 0 else "second rep" if k == 1 else "later reps")].append(
                (x, e)
            )
    print(f"  {'group':20s} {'reps':>5s} {'late':>5s} {'early':>6s} {'median s':>9s} {'max s':>7s}")
    order = {"  first rep": 0, "  second rep": 1, "  later reps": 2}
    for k in sorted(
        by, key=lambda k: (k.startswith("  "), k in order, k.endswith("Hz"), order.get(k, 0), k)
    ):
        a = np.array(by[k])
        print(
            f"  {k:20s} {a.shape[0]:5d} {int(np.sum(a[:, 0] > LATE_S)):5d} "
            f"{int(a[:, 1].sum()):6d} {np.median(a[:, 0]):+9.2f} {a[:, 0].max():+7.2f}"
        )
    if verbose:
        for r in rows:
            bad = [
                f"#{k + 1}:{x:+.2f}{'E' if e else ''}"
                for k, (x, e) in enumerate(zip(r["latency"], r["early"], strict=True))
                if x > LATE_S or e
            ]
            if bad or r["corrections"] or r["live"] != r["default"]:
                print(
                    f"  live: {r['name']} true={r['true']} offline={r['default']} "
                    f"live={r['live']} taken back={r['corrections']} " + " ".join(bad)
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
    ap.add_argument(
        "--live", action="store_true", help="also stream every set through LiveRepCounter"
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
        if args.live:
            true_reps = res.truth["reps"]
            lives, reported = run_live(res.recording)
            m = min(len(reported), len(true_reps))
            row.update(
                live=sum(x.count_ for x in lives),
                corrections=sum(x.corrections_ for x in lives),
                fs=s.fs_hz,
                name=f"{spec['exercise']}/{spec['variant']} {s.placement} {s.fs_hz:g} Hz "
                f"gyro={s.gyro} tempo={spec['tempo_s']:.2f} s pauses={spec['pauses']} "
                f"seed={spec['seed']}",
                latency=[reported[k] - true_reps[k]["end_s"] for k in range(m)],
                early=[reported[k] < true_reps[k]["peak_s"] for k in range(m)],
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
    if args.live:
        live_stats(rows, args.verbose)
        print()
    print(
        f"simulation {t_sim:.1f} s (wall), counting {t_count:.1f} s CPU per counter "
        f"({1000 * t_count / max(len(rows), 1):.0f} ms per set)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
