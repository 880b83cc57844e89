"""Four simulated sensors streamed at once, in real time: loss, latency, CPU.

Runs one :class:`balance_mon.devices.session.StreamSession` per simulated
sensor (default: two Polar H10 at 200 Hz, a WitMotion at 200 Hz -- one
notification per sample, the hardest case -- and the reference sensor at
208 Hz), all in one asyncio event loop on the real clock, for ``--seconds``,
each writing its CSV v1 file and raw capture to a temporary folder (flushed
4x/s, fsynced every second, as in a real recording). Prints per sensor:

- samples recorded, the number the sensor sent, and samples lost;
- latency from the notification callback's host timestamp to the moment the
  decoded, time-aligned samples are put on the analysis queue (an
  ``asyncio.Queue`` fed by ``on_block``), median and 99th percentile over
  notifications (target p99 < 20 ms);
- CPU: the process CPU time of the whole run (sessions + simulators +
  file writes) minus that of a second run in which the same simulated sensors
  stream into a no-op client, divided by the number of sensors: the cost of
  the receiving side per sensor, as a percentage of one core.

Usage::

    .venv/bin/python bench/bench_stream.py [--seconds 25] [--sensors polar-h10:200,...]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _machine import machine

from balance_mon.devices.clock import MonotonicClock
from balance_mon.devices.models import StreamSettings
from balance_mon.devices.session import SampleBlock, StreamSession
from balance_mon.devices.virtual import VirtualAir, make_peripheral

DEFAULT_SENSORS = "polar-h10:200,polar-h10:200,witmotion:200,reference:208"


def _parse(spec: str) -> list[tuple[str, float]]:
    out = []
    for item in spec.split(","):
        model, _, rate = item.partition(":")
        out.append((model.strip(), float(rate)))
    return out


async def _sessions(sensors, seconds, folder):
    clock = MonotonicClock()
    peripherals = [make_peripheral(m, seed=10 + i) for i, (m, _) in enumerate(sensors)]
    air = VirtualAir(peripherals)
    analysis: asyncio.Queue[tuple[int, SampleBlock]] = asyncio.Queue()
    latencies: list[list[float]] = [[] for _ in sensors]

    def sink(i):
        def on_block(block: SampleBlock) -> None:
            now = clock.now_ns()
            analysis.put_nowait((i, block))
            latencies[i].append((now - block.rx_ns) / 1e6)

        return on_block

    async def drain():
        while True:
            await analysis.get()

    sessions = [
        StreamSession(
            p.name,
            folder / f"s{i}.csv",
            capture=folder / f"s{i}.cap",
            settings=StreamSettings(rate_hz=rate),
            scanner_backend=air.scanner_backend,
            client_backend=air.client_backend,
            clock=clock,
            on_block=sink(i),
        )
        for i, (p, (_, rate)) in enumerate(zip(peripherals, sensors, strict=True))
    ]
    drainer = asyncio.create_task(drain())
    cpu0, wall0 = time.process_time(), time.perf_counter()
    results = await asyncio.gather(*(s.run(seconds) for s in sessions))
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    drainer.cancel()
    return peripherals, results, latencies, cpu, wall


class _NullClient:
    """Receives a simulated sensor's notifications and does nothing with them."""

    def deliver(self, uuid, data):
        return None

    def subscribed(self, uuid):
        return True

    def link_lost(self):
        return None


async def _simulators_only(sensors, seconds):
    peripherals = [make_peripheral(m, seed=10 + i) for i, (m, _) in enumerate(sensors)]
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for p, (_, rate) in zip(peripherals, sensors, strict=True):
        p.attach(_NullClient())
        p.start_stream(rate)
    await asyncio.sleep(seconds)
    for p in peripherals:
        p.stop_stream()
    return time.process_time() - cpu0, time.perf_counter() - wall0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--seconds", type=float, default=25.0)
    ap.add_argument(
        "--sensors", default=DEFAULT_SENSORS, help="model:rate,... (default %(default)s)"
    )
    args = ap.parse_args(argv)
    sensors = _parse(args.sensors)
    with tempfile.TemporaryDirectory(prefix="bench_stream_") as tmp:
        peripherals, results, latencies, cpu, wall = asyncio.run(
            _sessions(sensors, args.seconds, Path(tmp))
        )
    sim_cpu, sim_wall = asyncio.run(_simulators_only(sensors, args.seconds))
    n = len(sensors)
    print(f"# bench_stream: {n} simulated sensors, {args.seconds:g} s, real time")
    print(f"# {machine(full=True)}")
    print(
        f"{'sensor':<22} {'rate':>6} {'recorded':>9} {'sent':>7} {'lost':>5} "
        f"{'notif':>6} {'lat_med_ms':>10} {'lat_p99_ms':>10} {'lat_max_ms':>10}"
    )
    all_lat = []
    for (model, rate), p, res, lat in zip(sensors, peripherals, results, latencies, strict=True):
        a = np.asarray(lat)
        all_lat.append(a)
        st = res.stats
        print(
            f"{model:<22} {rate:>6g} {st.samples:>9} {p.log.samples_sent:>7} {st.lost_samples:>5} "
            f"{a.size:>6} {np.median(a):>10.2f} {np.percentile(a, 99):>10.2f} {a.max():>10.2f}"
        )
    a = np.concatenate(all_lat)
    print(
        f"{'all':<22} {'':>6} {'':>9} {'':>7} {'':>5} {a.size:>6} {np.median(a):>10.2f} "
        f"{np.percentile(a, 99):>10.2f} {a.max():>10.2f}"
    )
    full = 100 * cpu / wall
    sim = 100 * sim_cpu / sim_wall
    print(
        f"# CPU, % of one core: full run {full:.1f} (sessions + simulators), "
        f"simulators alone {sim:.1f}; receiving side per sensor {(full - sim) / n:.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
