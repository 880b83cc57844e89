"""Benchmark: CPU cost of live repetition counting for one sensor (target <= 1 % of a core).

Feeds :class:`balance_mon.analysis.reps.LiveRepCounter` with 0.1 s chunks
(20 samples at 200 Hz, acceleration and angular rate) of long simulated home
exercise sessions (squats, heel raises, arm raises, band rows with rests, and
a second program with lunges and stairs), as fast as it takes them, and
reports the process CPU time (``time.process_time``: user + system, all
threads) and the user CPU time (``resource.getrusage``) spent in ``push`` and
``close`` per second of data, as a percentage of one core. The data are
simulated before the clock starts. Also shown: the slowest single ``push``
(wall time; the counter re-counts the open bout every ``update_s`` = 0.25 s)
and the live count against the offline :class:`RepCounter` on the same samples
(they must agree: the live counter's final bouts are counted by the offline
code). For information, the same for the whole per-sensor live chain of the
app (:class:`balance_mon.app.live.LiveStream`: ring buffers for the plots, the
live sway path and the repetition counter).

    .venv/bin/python bench/bench_live.py                  # >= 20 min of data per placement
    .venv/bin/python bench/bench_live.py --minutes 10 --placements lower_back
    .venv/bin/python bench/bench_live.py --update-doc docs/validation.md

Timing is measured here, never asserted in tests (docs/CONTRIBUTING.md).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from _machine import machine

from balance_mon import sim
from balance_mon.analysis.reps import LiveRepCounter, RepCounter

ROOT = Path(__file__).resolve().parents[1]
TARGET_PCT = 1.0
PROGRAMS = (None, ["squat", "heel_raise", "lunge", "stair_climb"])


def session(minutes: float, fs_hz: float, placement: str, seed: int):
    """Home sessions at ``placement`` concatenated to at least ``minutes`` of data."""
    accs, gyrs, n_true = [], [], 0
    total = 0.0
    i = 0
    while total < minutes * 60:
        prog = PROGRAMS[i % len(PROGRAMS)]
        kw = {} if prog is None else {"exercises": prog}
        res = sim.simulate_home_session(
            sensor=sim.SensorSpec(placement=placement, fs_hz=fs_hz), seed=seed + i, **kw
        )
        accs.append(np.asarray(res.recording.acc_mps2))
        gyrs.append(np.asarray(res.recording.gyr_dps))
        n_true += len(res.truth["reps"])
        total += res.recording.n_samples / fs_hz
        i += 1
    return np.concatenate(accs), np.concatenate(gyrs), n_true, i


def cpu_user() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_utime


def feed_counter(acc, gyr, fs: float, chunk: int, placement: str):
    counter = LiveRepCounter(fs, counter=RepCounter(placement=placement))
    worst = 0.0
    c0, u0, w0 = time.process_time(), cpu_user(), time.perf_counter()
    for i in range(0, acc.shape[0], chunk):
        t = time.perf_counter()
        counter.push(acc[i : i + chunk], None if gyr is None else gyr[i : i + chunk])
        worst = max(worst, time.perf_counter() - t)
    counter.close()
    return counter, time.process_time() - c0, cpu_user() - u0, time.perf_counter() - w0, worst


def feed_stream(acc, gyr, fs: float, chunk: int):
    from balance_mon.app.live import LiveStream
    from balance_mon.devices.session import SampleBlock

    stream = LiveStream(fs, has_gyro=gyr is not None)
    stream.start_reps()
    t_all = np.arange(acc.shape[0]) / fs
    blocks = [
        SampleBlock(
            time_s=t_all[i : i + chunk],
            acc_mps2=acc[i : i + chunk],
            gyr_dps=None if gyr is None else gyr[i : i + chunk],
            rx_ns=0,
        )
        for i in range(0, acc.shape[0], chunk)
    ]
    worst = 0.0
    c0, u0, w0 = time.process_time(), cpu_user(), time.perf_counter()
    for b in blocks:
        t = time.perf_counter()
        stream.push([b])
        worst = max(worst, time.perf_counter() - t)
    n = stream.stop_reps()
    return n, time.process_time() - c0, cpu_user() - u0, time.perf_counter() - w0, worst


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=20.0, help="data per placement (>= 10)")
    ap.add_argument("--fs", type=float, default=200.0)
    ap.add_argument("--chunk-s", type=float, default=0.1)
    ap.add_argument("--placements", nargs="+", default=["lower_back", "wrist", "thigh"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--update-doc", type=Path, default=None)
    args = ap.parse_args(argv)
    chunk = max(int(round(args.chunk_s * args.fs)), 1)
    out: list[str] = []

    def say(s: str = "") -> None:
        print(s, flush=True)
        out.append(s)

    command = " ".join(
        [os.path.relpath(sys.executable, ROOT), os.path.relpath(Path(__file__).resolve(), ROOT)]
        + (sys.argv[1:] if argv is None else argv)
    )
    say(f"bench_live, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {machine()}")
    say(f"command: `{command}`; load average before: {os.getloadavg()[0]:.2f}")
    say(
        f"LiveRepCounter fed {chunk}-sample chunks ({chunk / args.fs:g} s) at {args.fs:g} Hz, "
        "acceleration + angular rate, as fast as it takes them; CPU per second of data as a "
        "% of one core."
    )
    say()
    say(
        "| placement | data min | sessions | CPU s (process_time) | % of a core | user CPU s | "
        "user % | wall s | slowest push ms | live count | offline count | true reps |"
    )
    say("|---|---|---|---|---|---|---|---|---|---|---|---|")
    worst_pct = 0.0
    agree = True
    info = []
    for pl in args.placements:
        acc, gyr, n_true, n_sess = session(args.minutes, args.fs, pl, args.seed)
        dur = acc.shape[0] / args.fs
        live, cpu, user, wall, slow = feed_counter(acc, gyr, args.fs, chunk, pl)
        offline = RepCounter(placement=pl).count(acc, args.fs, gyr_dps=gyr).count_
        p_cpu = 100 * cpu / dur
        worst_pct = max(worst_pct, p_cpu)
        agree &= live.count_ == offline
        say(
            f"| {pl} | {dur / 60:.1f} | {n_sess} | {cpu:.2f} | {p_cpu:.3f} | {user:.2f} | "
            f"{100 * user / dur:.3f} | {wall:.2f} | {1000 * slow:.1f} | {live.count_} | "
            f"{offline} | {n_true} |"
        )
        n, cpu2, user2, _wall2, slow2 = feed_stream(acc, gyr, args.fs, chunk)
        info.append((pl, dur, cpu2, user2, slow2, n))
    say()
    say(
        "'true reps' counts every repetition of the sessions, including exercises the "
        "placement sees weakly or not at all (arm raises and band rows at the trunk or thigh; "
        "docs/simulator.md), so it is not an accuracy figure (see the repetition section "
        "above); the live and offline counts must agree."
    )
    say()
    say(
        "For information, the app's whole per-sensor live chain (`LiveStream.push`: ring "
        "buffers, live sway path, LiveRepCounter), same data and chunks:"
    )
    say()
    say("| placement | CPU s | % of a core | user % | slowest push ms | live count |")
    say("|---|---|---|---|---|---|")
    for pl, dur, cpu2, user2, slow2, n in info:
        say(
            f"| {pl} | {cpu2:.2f} | {100 * cpu2 / dur:.3f} | {100 * user2 / dur:.3f} | "
            f"{1000 * slow2:.1f} | {n} |"
        )
    say()
    say(
        f"{'PASS' if worst_pct <= TARGET_PCT else 'FAIL'}  LiveRepCounter CPU, worst placement: "
        f"{worst_pct:.3f} % of one core per sensor at {args.fs:g} Hz; target <= {TARGET_PCT:g} %"
    )
    say(
        f"{'PASS' if agree else 'FAIL'}  live final count equals the offline count on the same "
        "samples"
    )
    say(f"load average after: {os.getloadavg()[0]:.2f}")
    if args.update_doc is not None:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from bench_analysis import update_speed_section

        update_speed_section(
            args.update_doc,
            "bench_live",
            ["### Live repetition counting (bench/bench_live.py)", "", *out],
        )
        print(f"updated {args.update_doc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
