"""Simulated time and live host-time alignment (balance_mon.devices.clock)."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest

from balance_mon.devices.clock import HostTimeMapper, LoopClock, VirtualTimeLoop, run_virtual


def test_virtual_loop_runs_timers_without_waiting():
    async def main():
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        await asyncio.sleep(3600.0)
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(5.0):
                await asyncio.sleep(10.0)
        return loop.time() - t0, LoopClock(loop).now_ns()

    wall = time.perf_counter()
    elapsed, now_ns = run_virtual(main())
    assert time.perf_counter() - wall < 1.0
    assert elapsed == pytest.approx(3605.0, abs=1e-6)
    assert now_ns == pytest.approx(3605e9, abs=1e3)


def test_virtual_loop_still_serves_threads():
    async def main():
        return await asyncio.to_thread(lambda: 42)

    with asyncio.Runner(loop_factory=VirtualTimeLoop) as r:
        assert r.run(main()) == 42


def _feed_sensor_clock(mapper, dev_last, n, fs, rx):
    out = []
    for d, r in zip(dev_last, rx, strict=True):
        dev = d - np.arange(n - 1, -1, -1) / fs
        ((_, t),) = mapper.map(r, n, dev)
        out.append(t)
    return np.concatenate(out)


def test_sensor_clock_spacing_kept_and_offset_is_the_smallest_delay():
    fs, n = 200.0, 36
    rng = np.random.default_rng(1)
    k = np.arange(1, 301)
    dev_last = 1000.0 + k * n / fs  # sensor clock, arbitrary origin
    offset = -990.0  # host = sensor + offset
    delay = 0.004 + rng.uniform(0, 0.015, k.size)  # a connection event away, never early
    delay[0] = 0.019  # the first one is late: the mapping must slew it out
    t = _feed_sensor_clock(HostTimeMapper(fs_hz=fs), dev_last, n, fs, dev_last + offset + delay)
    d = np.diff(t)
    assert np.all(d > 0)
    assert np.all(np.abs(d * fs - 1.0) <= 0.0101)  # at most the 1 % slew
    # after the first window the samples sit at sensor time + offset + the minimum delay
    last = dev_last[-1] + offset
    assert t[-1] - last == pytest.approx(delay[-40:].min(), abs=2e-4)


@pytest.mark.parametrize("ppm", [200.0, -200.0])
def test_sensor_clock_drift_is_followed(ppm):
    fs, n = 100.0, 20
    k = np.arange(1, 1501)  # 300 s
    dev_last = k * n / fs
    rx = dev_last * (1 + ppm * 1e-6) + 0.005  # the sensor clock runs slow (fast) by 200 ppm
    t = _feed_sensor_clock(HostTimeMapper(fs_hz=fs), dev_last, n, fs, rx)
    rate = (t.size - 1) / (t[-1] - t[0])
    assert (fs / rate - 1) * 1e6 == pytest.approx(ppm, abs=10)
    # the constant 5 ms delay is part of the offset (it cannot be told from it); a
    # rising offset is seen with the lag of the 8 s window: drift x 8 s = 1.6 ms
    lag = max(ppm, 0) * 1e-6 * 8.0
    assert t[-1] == pytest.approx(rx[-1] - lag, abs=2e-4)


def test_sensor_clock_reset_reanchors_without_going_back():
    fs, n = 50.0, 10
    m = HostTimeMapper(fs_hz=fs)
    t1 = _feed_sensor_clock(m, 500.0 + np.arange(1, 11) * 0.2, n, fs, 10.0 + np.arange(1, 11) * 0.2)
    # the sensor clock restarts near zero
    t2 = _feed_sensor_clock(m, np.arange(1, 11) * 0.2, n, fs, 12.5 + np.arange(1, 11) * 0.2)
    assert m.clock_resets_ == 1
    assert t2[0] > t1[-1]
    assert t2[-1] == pytest.approx(14.5, abs=1e-6)


def _feed_host(mapper, rx, n=1):
    placed = []
    for r in rx:
        placed += mapper.map(r, n, None)
    placed += mapper.release()
    tokens = [tok for tok, _ in placed]
    assert tokens == sorted(tokens)
    return np.concatenate([t for _, t in placed])


def test_host_clock_stall_is_not_a_gap():
    fs = 100.0
    rx = np.arange(1, 2001) / fs + 0.003
    rx[500:540] = rx[540]  # a 0.4 s stall, then the backlog arrives at once
    m = HostTimeMapper(fs_hz=fs)
    t = _feed_host(m, rx)
    assert m.inserted_gap_samples_ == 0
    assert m.stalls_ == 1
    assert t.size == 2000
    np.testing.assert_allclose(np.diff(t), 1 / fs, rtol=0.011)


def test_host_clock_loss_inserts_the_missing_intervals_before_the_first_late_sample():
    fs = 100.0
    k = np.concatenate((np.arange(1, 501), np.arange(531, 2001)))  # samples 501..530 lost
    rx = k / fs + 0.003
    m = HostTimeMapper(fs_hz=fs)
    t = _feed_host(m, rx)
    assert m.inserted_gap_samples_ == 30
    gaps = np.flatnonzero(np.diff(t) > 1.5 / fs)
    assert gaps.tolist() == [499]
    assert t[500] - t[499] == pytest.approx(31 / fs, rel=0.01)


def test_host_clock_isolated_loss_cannot_be_seen():
    fs = 100.0
    k = np.delete(np.arange(1, 1001), [100, 300, 700])  # three single samples lost
    m = HostTimeMapper(fs_hz=fs)
    t = _feed_host(m, k / fs + 0.003)
    assert m.inserted_gap_samples_ == 0  # one interval is within delivery jitter
    assert np.all(np.diff(t) < 1.5 / fs)
