"""Repetition counts do not depend on the last bits of the sampling rate.

A rate estimated from time stamps is off by units in the last place
(50.00000000000001 Hz for 50 Hz); durations times rates that are whole or half
numbers of samples (0.25 s at 50 Hz: 12.5 samples) then rounded either way and
could change a count (bench/validate_reps.py, seed 1, set 100184: 11 or 12).
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

from balance_mon import sim
from balance_mon.analysis.reps import LiveRepCounter, RepCounter, decimation_factor


def ulp_rates(fs: float) -> list[float]:
    """``fs`` and rates a float rounding away from it."""
    return [
        fs,
        float(np.nextafter(fs, np.inf)),
        float(np.nextafter(fs, 0.0)),
        fs * (1 + 1e-15),
        fs * (1 - 1e-15),
    ]


def simulated(exercise, fs, seed, *, reps=8, tempo_s=None, placement="wrist", **sensor):
    res = sim.simulate_exercise_set(
        exercise,
        reps=reps,
        tempo_s=tempo_s,
        sensor=sim.SensorSpec(placement=placement, fs_hz=fs, **sensor),
        seed=seed,
    )
    rec = res.recording
    gyr = None if rec.gyr_dps is None else np.asarray(rec.gyr_dps)
    counter = RepCounter(exercise=rec.metadata.get("exercise"), placement=rec.placement)
    return rec, np.asarray(rec.acc_mps2), gyr, counter


def counts_at(counter, acc, gyr, rates):
    out = []
    for fs in rates:
        rc = counter.count(acc, fs, gyr_dps=gyr)
        out.append((rc.count_, np.array(rc.times_s_), [s.signal for s in rc.sets_]))
    return out


def assert_same(results):
    count, times, views = results[0]
    for c, t, v in results[1:]:
        assert c == count, [r[0] for r in results]
        assert v == views
        np.testing.assert_allclose(t, times, rtol=0, atol=1e-9)


@functools.cache
def squat_set_100184():
    """bench/validate_reps.py --seed 1, set 100184: squats at the wrist, 50 Hz, gyroscope."""
    return simulated(
        "squat",
        50.0,
        100184,
        reps=12,
        tempo_s=2.328946646300662,
        gyro=True,
        tilt_deg=(-4.156019006248556, -3.307195984583309, -15.80295370733557),
        noise_mps2=0.04240053806592425,
    )


def test_squat_set_at_50_hz_counts_the_same_one_ulp_away():
    # 0.25 s is 12.5 samples: it was rounded to 12 at 50.0 Hz and to 13 at
    # 50.00000000000001 Hz (the rate count_recording estimates from the time stamps),
    # which moved the end of the exercise posture and the count from 11 to 12
    rec, acc, gyr, counter = squat_set_100184()
    results = counts_at(counter, acc, gyr, ulp_rates(50.0))
    assert_same(results)
    assert counter.count_recording(rec).count_ == results[0][0]


@pytest.mark.parametrize(
    ("exercise", "placement", "fs", "seed"),
    [
        ("squat", "lower_back", 12.5, 3),
        ("sit_to_stand", "thigh", 25.0, 4),
        ("band_row", "wrist", 100.0, 5),
        ("arm_raise", "wrist", 200.0, 6),
        ("heel_raise", "sternum", 1000.0, 7),
    ],
)
def test_counts_do_not_depend_on_the_last_bit_of_the_rate(exercise, placement, fs, seed):
    # (at 100 Hz and above the rate just below a multiple of 50 Hz was averaged over
    # one sample fewer: 99.99999999999999 // 50 == 1)
    _, acc, gyr, counter = simulated(exercise, fs, seed, placement=placement, gyro=True)
    assert_same(counts_at(counter, acc, gyr, ulp_rates(fs)))


def test_decimation_factor_of_rates_estimated_from_time_stamps():
    for fs, k in [(50.0, 1), (100.0, 2), (200.0, 4), (416.0, 8), (1000.0, 20), (12.5, 1)]:
        assert {decimation_factor(f) for f in ulp_rates(fs)} == {k}


def test_live_count_does_not_depend_on_the_last_bit_of_the_rate():
    # streamed in 0.1 s chunks, the final live count is the offline count at every rate
    _, acc, gyr, counter = squat_set_100184()
    finals = []
    for fs in ulp_rates(50.0)[:3]:
        live = LiveRepCounter(fs, counter=counter)
        for i in range(0, acc.shape[0], 5):
            live.push(acc[i : i + 5], gyr[i : i + 5])
        live.close()
        finals.append((live.count_, counter.count(acc, fs, gyr_dps=gyr).count_))
    assert len(set(finals)) == 1 and finals[0][0] == finals[0][1], finals
