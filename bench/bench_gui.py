"""Desktop program: start-up time, live-view frame rate and notification-to-screen delay.

Usage::

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/bench_gui.py [--seconds 20] [--sensors 4]

1. Start-up: a fresh interpreter imports the program, builds the main window
   (therapist mode, no sensor) and runs the event loop until the window is
   exposed and has processed its first events: "start-up to usable window".
2. Streaming: the demo program with ``--sensors`` simulated Polar H10s at
   200 Hz, all connected through the real BLE worker thread (bleak API,
   device protocol, decoder, clock alignment, session writing each stream to
   its file), every stream processed by the live pipeline (ring buffers,
   live sway, live repetition counter) and the current one drawn on the live
   page. The frame timer asks for 30 Hz; each frame paints synchronously
   (``sync_paint``) so that the time to pixels is measured:

   - frame rate: frames drawn per second;
   - frame cost: time spent in the frame (drain, process, setData, paint);
   - notification-to-screen delay: from the host receiving a notification
     (its timestamp in the BLE callback) to the end of the painted frame that
     first shows its samples (median and 99th percentile);
   - samples per second received per sensor, and CPU use of the process.

Targets (docs/gui.md): >= 30 fps with 4 sensors; delay well under 100 ms.
Numbers depend on the machine; offscreen rendering uses the CPU raster engine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("BALANCE_MON_SPEECH", "off")

STARTUP_SNIPPET = r"""
import time
t0 = time.perf_counter()
import os, sys, tempfile
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("BALANCE_MON_SPEECH", "off")
from balance_mon.app.launch import LaunchOptions, build_app, shutdown
t_import = time.perf_counter()
from PySide6.QtCore import QEventLoop
app, win = build_app(LaunchOptions(demo=False, data_dir=tempfile.mkdtemp(), speech=False))
while not win.isVisible() or not win.windowHandle() or not win.windowHandle().isExposed():
    app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 5)
app.processEvents()
t_ready = time.perf_counter()
print(f"{t_import - t0:.3f} {t_ready - t0:.3f}")
shutdown(win)
"""


def bench_startup(runs: int) -> None:
    vals = []
    for _ in range(runs):
        t0 = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-c", STARTUP_SNIPPET],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
        )
        wall = time.perf_counter() - t0
        imp, ready = (float(x) for x in out.stdout.split()[-2:])
        vals.append((imp, ready, wall))
    imp = statistics.median(v[0] for v in vals)
    ready = statistics.median(v[1] for v in vals)
    wall = statistics.median(v[2] for v in vals)
    print(
        f"start-up to usable window: {ready:.2f} s (median of {runs}; imports {imp:.2f} s; "
        f"interpreter start to exit incl. shutdown {wall:.2f} s)"
    )


def bench_stream(seconds: float, sensors: int, rate_hz: float) -> None:
    from PySide6.QtCore import QEventLoop

    from balance_mon.app.launch import LaunchOptions, build_app, shutdown

    opts = LaunchOptions(
        demo=True,
        data_dir=tempfile.mkdtemp(prefix="bench_gui_"),
        speech=False,
        history=False,
        sensors=sensors,
        rate_hz=rate_hz,
        page="live",
    )
    app, win = build_app(opts)
    win.ctx.auto_connect = False
    win.scan_timer.stop()

    def pump(cond, timeout):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 10)
            if cond():
                return True
        return False

    found: list = []
    win.worker.scanned.connect(lambda f: found.extend(f))
    win.worker.request_scan(1.0)
    pump(lambda: len(found) >= sensors, 10)
    for f in found[:sensors]:
        win.worker.request_connect(f)
    ok = pump(
        lambda: (
            sum(s.state == "streaming" for s in win.statuses.values()) >= sensors
            and len(win.lives) >= sensors
        ),
        20,
    )
    if not ok:
        print("could not connect every simulated sensor", file=sys.stderr)
    win.current_key = next(iter(win.worker.connections))
    win.show_page(2)
    win.sync_paint = True
    pump(lambda: False, 2.0)  # warm up
    win.stats.frames.clear()
    win.stats.frame_ms.clear()
    win.stats.latency_ms.clear()
    samples0 = {k: live.samples for k, live in win.lives.items()}
    frames0 = 0
    t0 = time.perf_counter()
    c0 = time.process_time()
    n_frames = 0
    lat: list[float] = []
    cost: list[float] = []
    end = t0 + seconds
    while time.perf_counter() < end:
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 5)
        if len(win.stats.frame_ms) >= 200:
            n_frames += len(win.stats.frame_ms)
            cost += list(win.stats.frame_ms)
            lat += list(win.stats.latency_ms)
            win.stats.frame_ms.clear()
            win.stats.latency_ms.clear()
    n_frames += len(win.stats.frame_ms) + frames0
    cost += list(win.stats.frame_ms)
    lat += list(win.stats.latency_ms)
    wall = time.perf_counter() - t0
    cpu = time.process_time() - c0
    rates = [(win.lives[k].samples - samples0[k]) / wall for k in samples0]
    lat.sort()
    cost.sort()
    print(
        f"live view, {sensors} simulated Polar H10 at {rate_hz:g} Hz for {wall:.0f} s "
        f"(received {', '.join(f'{r:.0f}' for r in rates)} samples/s):"
    )
    print(f"  redraw frame rate: {n_frames / wall:.1f} fps (timer asks 30 Hz; target >= 30)")
    print(
        f"  frame cost: median {statistics.median(cost):.1f} ms, "
        f"p99 {cost[int(0.99 * (len(cost) - 1))]:.1f} ms (drain, process 4 streams, draw, paint)"
    )
    print(
        f"  notification-to-screen delay: median {statistics.median(lat):.1f} ms, "
        f"p99 {lat[int(0.99 * (len(lat) - 1))]:.1f} ms ({len(lat)} notifications)"
    )
    print(f"  CPU: {100 * cpu / wall:.0f} % of one core (GUI + BLE worker + simulated sensors)")
    shutdown(win)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--sensors", type=int, default=4)
    ap.add_argument("--rate", type=float, default=200.0)
    ap.add_argument("--startup-runs", type=int, default=3)
    args = ap.parse_args()
    bench_startup(args.startup_runs)
    bench_stream(args.seconds, args.sensors, args.rate)


if __name__ == "__main__":
    main()
