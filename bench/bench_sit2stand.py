"""Benchmark: our TransitionDetector against scikit-digital-health's Sit2Stand.

Builds a long recording (default 24 h at 100 Hz) by concatenating simulated
sessions (single sit-to-stands with various speeds and trunk leans, 30 s chair
stands, Timed Up and Go tests; lower-back sensor, with gyroscope) separated by
quiet seated periods, writes it in the binary ``.bmr`` format, reads it back,
and times both detectors on the same data. Then it scores both against the
simulator's ground truth. scikit-digital-health finds sit-to-stand transfers
only, so both are scored on those; ours is also scored on stand-to-sit.

Needs the benchmark extra: ``.venv/bin/pip install -e '.[bench]'``.

    .venv/bin/python bench/bench_sit2stand.py            # 24 h
    .venv/bin/python bench/bench_sit2stand.py --hours 1  # quicker

Timing is measured here, never asserted in tests (docs/CONTRIBUTING.md).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from balance_mon.analysis.transitions import TransitionDetector
from balance_mon.consts import GRAVITY_MPS2
from balance_mon.io import load_recording, save_recording
from balance_mon.recording import Recording
from balance_mon.sim import (
    SensorSpec,
    Subject,
    simulate_chair_stand,
    simulate_sit_to_stand,
    simulate_tug,
)

KINDS = ("sit_to_stand", "stand_to_sit")
#: 2019-09-09 00:00:00 UTC: skdh wants Unix time stamps.
UNIX_T0 = 1567987200.0


def session_pool(fs_hz: float, n: int, seed: int = 0) -> list:
    """Simulated sessions that start and end seated."""
    rng = np.random.default_rng(seed)
    pool = []
    for i in range(n):
        spec = SensorSpec(placement="lower_back", fs_hz=fs_hz, noise_mps2=0.02)
        subj = Subject(
            sts_rise_s=float(rng.uniform(1.2, 3.0)),
            sts_sit_s=float(rng.uniform(1.3, 3.0)),
            trunk_flexion_deg=float(rng.uniform(25.0, 50.0)),
            gait_speed_mps=float(rng.uniform(0.7, 1.3)),
        )
        kind = i % 4
        if kind in (0, 1):
            res = simulate_sit_to_stand(
                standing_s=float(rng.uniform(3, 20)), sensor=spec, subject=subj, seed=i
            )
        elif kind == 2:
            res = simulate_tug(sensor=spec, subject=subj, seed=i)
        else:
            res = simulate_chair_stand(
                stands=int(rng.integers(6, 14)), partial=0.0, sensor=spec, subject=subj, seed=i
            )
        pool.append(res)
    return pool


def build(hours: float, fs_hz: float, pool_size: int = 24, seed: int = 0):
    """One long recording and its truth (transitions with times on its axis)."""
    rng = np.random.default_rng(seed)
    pool = session_pool(fs_hz, pool_size, seed)
    total_n = int(round(hours * 3600 * fs_hz))
    acc = np.empty((total_n, 3))
    gyr = np.empty((total_n, 3))
    truth: list[tuple[str, float, float]] = []
    pos = 0
    k = 0
    prev_end = pool[0].recording.acc_mps2[0]
    while pos < total_n:
        res = pool[k % len(pool)]
        k += 1
        quiet_n = int(rng.uniform(20, 240) * fs_hz)
        q = min(quiet_n, total_n - pos)
        start = res.recording.acc_mps2[: int(fs_hz)].mean(axis=0)
        w = np.linspace(0.0, 1.0, q)[:, None]
        acc[pos : pos + q] = (1 - w) * prev_end + w * start + rng.normal(0, 0.02, (q, 3))
        gyr[pos : pos + q] = rng.normal(0, 0.1, (q, 3))
        pos += q
        n = res.recording.n_samples
        m = min(n, total_n - pos)
        if m <= 0:
            break
        acc[pos : pos + m] = res.recording.acc_mps2[:m]
        gyr[pos : pos + m] = res.recording.gyr_dps[:m]
        t_off = pos / fs_hz
        for p in res.truth["phases"]:
            if p["name"] in KINDS and p["end_s"] + 1.0 < m / fs_hz:
                truth.append((p["name"], t_off + p["start_s"], t_off + p["end_s"]))
        prev_end = res.recording.acc_mps2[m - 1]
        pos += m
    rec = Recording(
        time_s=np.arange(total_n) / fs_hz,
        acc_mps2=acc,
        gyr_dps=gyr,
        fs_nominal_hz=fs_hz,
        placement="lower_back",
        metadata={"test": "sit-to-stand", "subject": "bench (simulated)"},
    )
    return rec, truth


def score(found: list[tuple[float, float]], truth: list[tuple[float, float]]):
    """Precision, recall (a found event matches a true one it overlaps, one to one)."""
    found = sorted(found)
    used = set()
    tp = 0
    j0 = 0
    for a, b in sorted(truth):
        while j0 < len(found) and found[j0][1] < a - 5.0:
            j0 += 1
        for j in range(j0, len(found)):
            fa, fb = found[j]
            if fa > b:
                break
            if j not in used and fa < b and fb > a:
                used.add(j)
                tp += 1
                break
    prec = tp / len(found) if found else float("nan")
    rec = tp / len(truth) if truth else float("nan")
    return tp, len(found), len(truth), prec, rec


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hours", type=float, default=24.0)
    ap.add_argument("--fs", type=float, default=100.0)
    ap.add_argument("--skip-skdh", action="store_true")
    args = ap.parse_args(argv)

    t = time.perf_counter()
    rec, truth = build(args.hours, args.fs)
    print(
        f"built {args.hours:g} h at {args.fs:g} Hz: {rec.n_samples} samples, "
        f"{sum(1 for k, *_ in truth if k == 'sit_to_stand')} sit-to-stand and "
        f"{sum(1 for k, *_ in truth if k == 'stand_to_sit')} stand-to-sit "
        f"({time.perf_counter() - t:.1f} s)"
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.bmr"
        save_recording(rec, path)
        size = path.stat().st_size / 1e6
        t = time.perf_counter()
        rec = load_recording(path)
        t_load = time.perf_counter() - t
    print(f"binary file {size:.0f} MB, loaded in {t_load:.2f} s")

    t = time.perf_counter()
    det = TransitionDetector().detect_recording(rec)
    t_ours = time.perf_counter() - t
    ours = {k: [(e.start_s, e.end_s) for e in det.transitions_ if e.kind == k] for k in KINDS}
    print(f"\nours (TransitionDetector {det.version}): {t_ours:.2f} s")

    true = {k: [(a, b) for kk, a, b in truth if kk == k] for k in KINDS}
    for k in KINDS:
        tp, nf, nt, p, r = score(ours[k], true[k])
        print(
            f"  {k:13s} found {nf:5d} true {nt:5d} matched {tp:5d}  "
            f"precision {100 * p:.2f} %  recall {100 * r:.2f} %"
        )

    if args.skip_skdh:
        return 0
    try:
        from skdh.sit2stand import Sit2Stand
    except ImportError:
        print("\nscikit-digital-health is not installed: pip install -e '.[bench]'")
        return 1
    time_unix = UNIX_T0 + np.asarray(rec.time_s)
    acc_g = np.asarray(rec.acc_mps2) / GRAVITY_MPS2
    results = {}
    for still in (True, False):
        s2s = Sit2Stand(stillness_constraint=still, gravity=GRAVITY_MPS2, day_window=None)
        t = time.perf_counter()
        out = s2s.predict(time=time_unix, accel=acc_g)
        results[still] = (time.perf_counter() - t, out)
    print()
    for still, (t_skdh, out) in results.items():
        found = list(
            zip(
                np.asarray(out["STS Start"]) - UNIX_T0,
                np.asarray(out["STS End"]) - UNIX_T0,
                strict=True,
            )
        )
        tp, nf, nt, p, r = score(found, true["sit_to_stand"])
        print(
            f"skdh Sit2Stand (stillness_constraint={still}): {t_skdh:.2f} s "
            f"= {t_skdh / t_ours:.1f} x ours"
        )
        print(
            f"  sit_to_stand  found {nf:5d} true {nt:5d} matched {tp:5d}  "
            f"precision {100 * p:.2f} %  recall {100 * r:.2f} %"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
