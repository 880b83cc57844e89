"""Load time, file size and peak memory of the recording formats at 24 h, 100 Hz.

Builds one synthetic recording (default 24 h at 100 Hz = 8.64 M samples, with
gyroscope) in a temporary folder in each format -- CSV v1, binary ``.bmr`` and
a MetaBase accelerometer + gyroscope CSV pair -- and prints, per format:

- file size (both files for MetaBase);
- load time of :func:`balance_mon.io.load_recording`: "warm", best of
  ``--runs`` runs in this process with the file in the page cache (the
  parsing cost), and "cold", one run right after the file's pages were
  dropped from the page cache with ``posix_fadvise(DONTNEED)`` (parsing plus
  reading the disk);
- peak memory of a fresh subprocess that only imports balance_mon and loads
  the file: ``VmHWM`` from ``/proc/self/status`` (peak resident set, which
  counts file pages mapped into memory too; ``ru_maxrss`` is not used because
  Linux carries it over from the forking parent across ``exec``) and the
  ``tracemalloc`` peak of the load (Python and numpy allocations only), with
  the resident size just before the load for reference.

Usage::

    .venv/bin/python bench/bench_io.py [--hours 24] [--rate 100] [--runs 3] [--keep DIR]

The MetaBase files are written in MetaBase's exact text layout (checked
against Python's ``%d,%s,%.3f,...`` formatting on the first rows) by a
vectorised writer, since formatting 17 M rows one by one would dominate the run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from _machine import machine

from balance_mon.consts import GRAVITY_MPS2
from balance_mon.io import load_recording, save_recording
from balance_mon.recording import Recording

E0_MS = 1547839029453  # 2019-01-18T19:17:09.453Z, the fixtures' session start
UTC_OFFSET_MS = -5 * 3600 * 1000
PREFIX = "bench_MetaWear_2019-01-18T14.17.09.453_E4FB7B2E5A20"

_CHILD = r"""
import json, sys, time, tracemalloc
from balance_mon.io import load_recording
def status_mib(key):
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")
before = status_mib("VmRSS")
tracemalloc.start()
t0 = time.perf_counter()
rec = load_recording(sys.argv[1])
dt = time.perf_counter() - t0
_, peak = tracemalloc.get_traced_memory()
tracemalloc.stop()
print(json.dumps({
    "n": rec.n_samples,
    "rss_before_mib": before,
    "peak_rss_mib": status_mib("VmHWM"),
    "tracemalloc_peak_mib": peak / 2**20,
    "load_s_traced": dt,
}))
"""


# ---------------------------------------------------------------------------
# Synthetic data
# ---------------------------------------------------------------------------


def synth_milli(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Accelerometer (milli-g) and gyroscope (milli-deg/s) integer triplets.

    MetaBase writes three decimals, so the values are whole thousandths: a
    sensor upright on the lower back (about 1 g on y) with sway and walking-like
    bursts, and angular rates of a few deg/s.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(n) / 100.0
    walk = (np.sin(2 * np.pi * t / 600.0) > 0.6).astype(np.float64)
    acc = np.empty((n, 3), np.int64)
    acc[:, 0] = np.rint(-30 + 20 * rng.standard_normal(n) + 150 * walk * np.sin(2 * np.pi * t))
    acc[:, 1] = np.rint(990 + 15 * rng.standard_normal(n) + 250 * walk * np.sin(4 * np.pi * t))
    acc[:, 2] = np.rint(-100 + 20 * rng.standard_normal(n))
    gyr = np.rint(
        rng.standard_normal((n, 3)) * 3000 + 40000 * walk[:, None] * np.sin(2 * np.pi * t)[:, None]
    )
    return acc, gyr.astype(np.int64)


# ---------------------------------------------------------------------------
# MetaBase writer (vectorised, exact MetaBase text)
# ---------------------------------------------------------------------------


def _digits(a: np.ndarray, ndig: int) -> np.ndarray:
    out = np.empty((a.size, ndig), np.uint8)
    a = a.copy()
    for i in range(ndig - 1, -1, -1):
        out[:, i] = 48 + a % 10
        a //= 10
    return out


def _fixed3(k: np.ndarray, int_digits: int) -> np.ndarray:
    """'%.3f' of k/1000 as an (N, W) byte matrix; zero bytes are padding to drop."""
    neg = k < 0
    a = np.abs(k)
    ip, fp = a // 1000, a % 1000
    di = _digits(ip, int_digits)
    lead = np.ones(ip.size, bool)  # still in leading zeros
    for j in range(int_digits - 1):
        lead &= di[:, j] == 48
        di[lead, j] = 0
    sign = np.where(neg, ord("-"), 0).astype(np.uint8)[:, None]
    dot = np.full((k.size, 1), ord("."), np.uint8)
    return np.hstack([sign, di, dot, _digits(fp, 3)])


def _metabase_block(epoch: np.ndarray, e0: int, vals: np.ndarray, int_digits: int) -> bytes:
    n = epoch.size
    comma = np.full((n, 1), ord(","), np.uint8)
    nl = np.full((n, 1), ord("\n"), np.uint8)
    local = (epoch + UTC_OFFSET_MS).astype("datetime64[ms]")
    tstr = np.datetime_as_string(local, unit="ms").astype("S23").view(np.uint8).reshape(n, 23)
    parts = [_digits(epoch, 13), comma, tstr, comma, _fixed3(epoch - e0, 6)]
    for i in range(3):
        parts += [comma, _fixed3(vals[:, i], int_digits)]
    parts.append(nl)
    mat = np.hstack(parts).ravel()
    return mat[mat != 0].tobytes()


def write_metabase(path: Path, unit: str, epoch: np.ndarray, vals: np.ndarray) -> None:
    int_digits = 2 if unit == "g" else 4
    header = (
        f"epoch (ms),time (-05:00),elapsed (s),x-axis ({unit}),y-axis ({unit}),z-axis ({unit})\n"
    )
    e0 = int(epoch[0])
    check = "".join(
        f"{e},{np.datetime_as_string(np.datetime64(e + UTC_OFFSET_MS, 'ms'))},"
        f"{(e - e0) / 1000:.3f},{x / 1000:.3f},{y / 1000:.3f},{z / 1000:.3f}\n"
        for e, (x, y, z) in zip(epoch[:2000].tolist(), vals[:2000].tolist(), strict=True)
    )
    assert _metabase_block(epoch[:2000], e0, vals[:2000], int_digits).decode() == check
    with open(path, "wb") as fh:
        fh.write(header.encode())
        step = 500_000
        for s in range(0, epoch.size, step):
            fh.write(_metabase_block(epoch[s : s + step], e0, vals[s : s + step], int_digits))


# ---------------------------------------------------------------------------
# Measurements
# ---------------------------------------------------------------------------


def best_load(path: Path, runs: int) -> tuple[float, Recording]:
    best, rec = float("inf"), None
    for _ in range(runs):
        t0 = time.perf_counter()
        rec = load_recording(path)
        best = min(best, time.perf_counter() - t0)
        if runs > 1:
            del rec
            rec = None
    if rec is None:
        rec = load_recording(path)
    return best, rec


def evict(paths: list[Path]) -> None:
    """Drop the files' pages from the page cache (only theirs, nothing else)."""
    for p in paths:
        fd = os.open(p, os.O_RDONLY)
        try:
            os.fsync(fd)  # dirty pages cannot be dropped
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def cold_load(path: Path, files: list[Path]) -> float:
    evict(files)
    t0 = time.perf_counter()
    load_recording(path)
    return time.perf_counter() - t0


def child_memory(path: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, str(path)], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hours", type=float, default=24.0)
    ap.add_argument(
        "--rate", type=float, default=100.0, help="Hz (the MetaBase writer needs 1000/rate whole)"
    )
    ap.add_argument("--runs", type=int, default=3, help="load runs per format (best is kept)")
    ap.add_argument("--keep", type=Path, default=None, help="write the files here and keep them")
    args = ap.parse_args(argv)

    n = int(round(args.hours * 3600 * args.rate))
    dt_ms = 1000.0 / args.rate
    if dt_ms != int(dt_ms):
        ap.error("--rate must divide 1000 ms evenly (MetaBase stamps whole milliseconds)")
    dt_ms = int(dt_ms)
    folder = args.keep or Path(tempfile.mkdtemp(prefix="bench_io_"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"balance_mon I/O benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(f"machine: {machine(full=True)}")
    print(
        f"data: {args.hours:g} h at {args.rate:g} Hz = {n:,} samples with gyroscope; "
        f"folder {folder}"
    )

    t0 = time.perf_counter()
    acc_k, gyr_k = synth_milli(n, 1)
    # MetaBase session: accelerometer stamps in packets of two (both samples carry
    # the second one's time, as packed BLE streaming does), gyroscope 5 ms later.
    idx = np.arange(n)
    acc_epoch = E0_MS + dt_ms * (idx | 1).clip(max=n - 1)
    gyr_epoch = E0_MS + 5 + dt_ms * idx
    mb_acc = folder / f"{PREFIX}_Accelerometer_{args.rate:.3f}Hz_1.7.3.csv"
    mb_gyr = folder / f"{PREFIX}_Gyroscope_{args.rate:.3f}Hz_1.7.3.csv"
    write_metabase(mb_acc, "g", acc_epoch, acc_k)
    write_metabase(mb_gyr, "deg/s", gyr_epoch, gyr_k)
    t_mb = time.perf_counter() - t0

    rec = Recording(
        time_s=idx / args.rate,
        acc_mps2=acc_k / 1000.0 * GRAVITY_MPS2,
        gyr_dps=gyr_k / 1000.0,
        fs_nominal_hz=args.rate,
        placement="lower_back",
        metadata={"device": "bench", "subject": "synthetic"},
    )
    del acc_k, gyr_k, idx, acc_epoch, gyr_epoch
    csv_path, bmr_path = folder / "bench.csv", folder / "bench.bmr"
    t0 = time.perf_counter()
    save_recording(rec, bmr_path)
    t_bmr = time.perf_counter() - t0
    t0 = time.perf_counter()
    save_recording(rec, csv_path)
    t_csv = time.perf_counter() - t0
    del rec
    print(
        f"written in: MetaBase pair {t_mb:.1f} s (vectorised bench writer), binary {t_bmr:.2f} s,"
        f" CSV v1 {t_csv:.1f} s (write_csv_v1)"
    )

    rows = []
    for label, path, files in (
        ("binary .bmr", bmr_path, [bmr_path]),
        ("CSV v1", csv_path, [csv_path]),
        ("MetaBase pair", mb_acc, [mb_acc, mb_gyr]),
    ):
        cold_s = cold_load(path, files)
        warm_s, loaded = best_load(path, args.runs)
        n_loaded = loaded.n_samples
        del loaded
        mem = child_memory(path)
        size = sum(p.stat().st_size for p in files)
        rows.append((label, size, warm_s, cold_s, mem, n_loaded))
        print(f"  {label}: done", flush=True)

    print()
    print(
        f"{'format':<14}{'size MiB':>9}{'B/sample':>9}{'warm s':>8}{'cold s':>8}{'samples':>11}"
        f"{'peak RSS':>10}{'RSS before':>11}{'tracemalloc':>12}"
    )
    for label, size, warm_s, cold_s, mem, n_loaded in rows:
        print(
            f"{label:<14}{size / 2**20:>9.1f}{size / n:>9.1f}{warm_s:>8.3f}{cold_s:>8.3f}"
            f"{n_loaded:>11,}{mem['peak_rss_mib']:>10.0f}{mem['rss_before_mib']:>11.0f}"
            f"{mem['tracemalloc_peak_mib']:>12.0f}"
        )
    print()
    print(
        f"warm s: best of {args.runs} runs of balance_mon.io.load_recording in this process, "
        "file(s) in the page cache.\n"
        "cold s: one run after dropping the file(s) from the page cache (posix_fadvise).\n"
        "peak RSS (MiB): VmHWM (high-water resident set, /proc/self/status) of a fresh\n"
        "  subprocess that imports balance_mon and loads the file; includes the interpreter\n"
        "  and imports ('RSS before') and any file pages mapped into memory.\n"
        "tracemalloc (MiB): peak of Python/numpy allocations during the load in that subprocess.\n"
        f"In-memory size of the loaded arrays: {n * 7 * 8 / 2**20:.0f} MiB (7 float64 columns)."
    )
    if args.keep is None:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
