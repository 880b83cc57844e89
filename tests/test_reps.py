"""Repetition counter: exact counts on synthetic sets, edge cases, live == offline."""

from __future__ import annotations

import numpy as np
import pytest

from balance_mon.analysis.reps import LiveRepCounter, RepCounter
from balance_mon.errors import RecordingError
from balance_mon.recording import Recording


def synthetic_set(
    n_reps, tempo_s, fs, seed, *, tilt=True, pause_at=None, sets=1, idle_s=3.0, with_truth=False
):
    """Trunk sensor during squats: forward tilt (optional) and vertical motion per rep."""
    rng = np.random.default_rng(seed)
    durs = [tempo_s * (1 + 0.12 * rng.normal(size=n_reps)) for _ in range(sets)]
    total = idle_s + sum(d.sum() + 20 for d in durs) + (6 if pause_at is not None else 0)
    n = int(total * fs)
    t = np.arange(n) / fs
    th, z = np.zeros(n), np.zeros(n)
    start = idle_s
    ends = []
    for dd in durs:
        for k, d in enumerate(dd):
            if pause_at is not None and k == pause_at:
                start += 6
            m = (t >= start) & (t < start + d)
            prof = (1 - np.cos(2 * np.pi * (t[m] - start) / d)) / 2
            amp = 1 + 0.1 * rng.normal()
            th[m] = np.radians(35) * prof * amp if tilt else 0.0
            z[m] = -0.4 * prof * amp
            start += d
            ends.append(start)
        start += 20
    az = np.gradient(np.gradient(z, 1 / fs), 1 / fs)
    acc = np.column_stack([(9.81 + az) * np.cos(th), (9.81 + az) * np.sin(th), np.zeros(n)])
    acc = acc + 0.02 * rng.normal(size=(n, 3))
    return (acc, np.array(ends)) if with_truth else acc


@pytest.mark.parametrize("fs", [12.5, 50.0, 200.0, 1000.0])
@pytest.mark.parametrize("tilt", [True, False])
def test_counts_a_set_exactly(fs, tilt):
    acc = synthetic_set(10, 2.5, fs, seed=1, tilt=tilt, pause_at=4)
    rc = RepCounter().count(acc, fs)
    assert rc.count_ == 10
    assert len(rc.sets_) == 1
    assert rc.sets_[0].period_s == pytest.approx(2.5, rel=0.2)


def test_two_sets_are_two_bouts_and_times_are_ordered():
    acc = synthetic_set(8, 2.0, 100.0, seed=2, sets=2)
    rc = RepCounter().count(acc, 100.0)
    assert [s.count for s in rc.sets_] == [8, 8]
    assert np.all(np.diff(rc.times_s_) > 0)


def test_quiet_standing_has_no_reps():
    rng = np.random.default_rng(0)
    acc = np.column_stack([np.full(3000, 9.81), np.zeros(3000), np.zeros(3000)])
    acc += 0.02 * rng.normal(size=acc.shape)
    assert RepCounter().count(acc, 100.0).count_ == 0


def test_too_short_and_wrong_shape():
    assert RepCounter().count(np.ones((5, 3)) * 9.81, 100.0).count_ == 0
    with pytest.raises(RecordingError):
        RepCounter().count(np.ones((50, 2)), 100.0)


def test_input_not_mutated():
    acc = synthetic_set(5, 2.0, 50.0, seed=3)
    before = acc.copy()
    RepCounter().count(acc, 50.0)
    np.testing.assert_array_equal(acc, before)


def test_recording_with_gap_counts_each_side():
    fs = 50.0
    acc = synthetic_set(8, 2.0, fs, seed=4, sets=2)
    t = np.arange(acc.shape[0]) / fs
    keep = np.ones(t.size, bool)
    keep[1400:1500] = False  # 2 s gap at 28-30 s, in the rest between the sets
    rec = Recording(time_s=t[keep], acc_mps2=acc[keep])
    assert RepCounter().count_recording(rec).count_ == 16


@pytest.mark.parametrize("fs", [25.0, 200.0])
@pytest.mark.parametrize("seed", [0, 1])
def test_live_counter_agrees_with_offline_and_reports_promptly(fs, seed):
    acc, ends = synthetic_set(10, 2.0, fs, seed=seed, sets=2, pause_at=3, with_truth=True)
    offline = RepCounter().count(acc, fs)
    live = LiveRepCounter(fs)
    chunk = max(1, int(fs / 10))  # 0.1 s notifications
    reported = []
    for i in range(0, acc.shape[0], chunk):
        now = (i + chunk) / fs
        reported += [now] * len(live.push(acc[i : i + chunk]))
    live.close()
    assert live.count_ == offline.count_ == 20
    # every rep reported while the set runs, within 1 s of its true completion
    assert len(reported) == 20
    delays = np.array(reported) - ends
    assert delays.max() <= 1.0, delays.round(2)
