"""SampleBatch, bytes coercion and the sensor-to-host clock aligner."""

from __future__ import annotations

import numpy as np
import pytest

from balance_mon.devices.frames import ClockAligner, SampleBatch, as_bytes
from balance_mon.errors import DecodeError


def test_sample_batch_defaults() -> None:
    b = SampleBatch(acc_mps2=np.zeros((4, 3)), gyr_dps=None, device_time_s=None, seq=None)
    assert b.lost_packets == 0 and b.n_samples == 4
    with pytest.raises(AttributeError):
        b.seq = 3  # type: ignore[misc]


def test_as_bytes() -> None:
    assert as_bytes(bytearray(b"ab"), "x") == b"ab"
    assert as_bytes(memoryview(b"ab"), "x") == b"ab"
    with pytest.raises(DecodeError, match="thing: expected bytes"):
        as_bytes("ab", "thing")
    strided = memoryview(np.arange(6, dtype=np.uint8))[::2]
    assert as_bytes(strided, "x") == bytes([0, 2, 4])


def test_min_delay_filter_recovers_offset() -> None:
    """Delays are >= 0; the minimum over the window is offset + smallest delay."""
    rng = np.random.default_rng(1)
    offset = 1234.5
    al = ClockAligner(window_s=30.0)
    device = np.arange(0, 60, 0.1)
    delay = 0.005 + rng.exponential(0.02, device.size)
    delay[::50] = 0.005  # a fast notification every 5 s
    for d, lag in zip(device, delay, strict=True):
        al.update(d, d + offset + lag)
    assert al.offset_s_ == pytest.approx(offset + 0.005, abs=1e-9)
    assert al.to_host([0.0, 1.0]).tolist() == pytest.approx([offset + 0.005, offset + 1.005])
    assert al.n_updates_ == device.size and al.n_resets_ == 0


def test_window_forgets_old_minimum() -> None:
    al = ClockAligner(window_s=10.0)
    al.update(0.0, 100.0)  # offset 100
    for t in np.arange(1.0, 30.0, 1.0):
        al.update(t, t + 100.5)  # everything later 0.5 s slower
    assert al.offset_s_ == pytest.approx(100.5)


def test_clock_reset_clears_the_window() -> None:
    al = ClockAligner(max_jump_s=2.0)
    for t in range(10):
        al.update(1000.0 + t, 5000.0 + t)
    al.update(0.5, 5010.0)  # sensor clock restarted near zero
    assert al.n_resets_ == 1 and al.offset_s_ == pytest.approx(5009.5)


def test_aligner_errors() -> None:
    al = ClockAligner()
    with pytest.raises(DecodeError, match="no notification"):
        al.to_host([1.0])
    with pytest.raises(DecodeError):
        al.update(float("nan"), 1.0)
