"""quality_report: wrong units, gaps, clipping, too short, drift, impossible values."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from balance_mon import cli
from balance_mon.consts import GRAVITY_MPS2
from balance_mon.io.csv_v1 import write_csv_v1
from balance_mon.recording import Recording, detect_clipping, quality_report

G = GRAVITY_MPS2


def standing(
    duration_s: float = 60.0,
    fs_hz: float = 100.0,
    *,
    scale: float = 1.0,
    gravity: float = G,
    nominal: float | None = 100.0,
    seed: int = 1,
) -> Recording:
    """Quiet standing: gravity on x, small sway and noise on all axes."""
    rng = np.random.default_rng(seed)
    n = round(duration_s * fs_hz)
    t = np.arange(n) / fs_hz
    acc = np.column_stack(
        [
            gravity + 0.03 * rng.standard_normal(n),
            0.1 * np.sin(2 * np.pi * 0.3 * t) + 0.02 * rng.standard_normal(n),
            0.15 * np.sin(2 * np.pi * 0.2 * t) + 0.02 * rng.standard_normal(n),
        ]
    )
    return Recording(time_s=t, acc_mps2=acc * scale, fs_nominal_hz=nominal, source="rec.csv")


def codes(q) -> list[str]:
    return [p.code for p in q.problems]


def test_clean_recording_is_valid() -> None:
    q = quality_report(standing())
    assert q.valid and q.problems == () and q.fatal == ()
    d = q.as_dict()
    assert d["valid"] is True and d["reasons"] == [] and d["warnings"] == []
    assert d["gaps"] == 0 and d["dropped_samples"] == 0 and d["clipped_samples"] == 0
    assert d["units_guess"] == "m/s^2"
    assert d["n_samples"] == 6000 and d["duration_s"] == pytest.approx(60.0)
    assert d["fs_est_hz"] == pytest.approx(100.0, rel=1e-9)
    assert d["median_magnitude_mps2"] == pytest.approx(G, rel=0.01)


def test_vigorous_movement_is_still_m_per_s2() -> None:
    rec = standing()
    t = rec.time_s
    acc = np.array(rec.acc_mps2)
    acc[:, 0] += 0.5 * G * np.sin(2 * np.pi * 2.0 * t)  # +-0.5 g bouncing
    q = quality_report(rec.replace(acc_mps2=acc))
    assert q.units_guess == "m/s^2" and q.valid


# ---------------------------------------------------------------------------
# units
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kw", "code", "guess", "phrase"),
    [
        ({"scale": 1 / G}, "units_g", "g", "looks like it is in g, not m/s^2"),
        ({"scale": 1000 / G}, "units_mg", "mG", "looks like it is in milli-g"),
        ({"scale": G}, "units_scaled_twice", "m/s^2 read as g", "declared in g"),
        ({"gravity": 0.0}, "no_gravity", "no gravity", "no gravity component"),
        ({"scale": 4.0}, "units_unknown", "unknown", "implausible for a body-worn sensor"),
    ],
)
def test_wrong_units_are_fatal(kw: dict, code: str, guess: str, phrase: str) -> None:
    q = quality_report(standing(**kw))
    assert q.units_guess == guess
    assert [p.code for p in q.fatal] == [code]
    assert not q.valid
    assert phrase in q.fatal[0].message
    assert q.as_dict()["reasons"] == [q.fatal[0].message]


def test_g_read_as_mps2_fails_analyze(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "in_g.csv"
    write_csv_v1(standing(scale=1 / G), path)
    code = cli.main(["analyze", str(path), "--test", "sway", "--json"])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err.count("\n") == 1
    assert str(path) in err and "looks like it is in g" in err and "acc_x_g" in err


# ---------------------------------------------------------------------------
# gaps and jitter
# ---------------------------------------------------------------------------


def test_two_second_gap_is_invalid() -> None:
    rec = standing()
    keep = np.ones(rec.n_samples, dtype=bool)
    keep[3000:3200] = False  # 2 s of samples lost
    rec = Recording(time_s=rec.time_s[keep], acc_mps2=rec.acc_mps2[keep], fs_nominal_hz=100)
    q = quality_report(rec)
    assert codes(q) == ["gap"]
    assert q.problems[0].severity == "invalid" and not q.valid and not q.fatal
    d = q.as_dict()
    assert d["gaps"] == 1
    assert d["dropped_samples"] == 200
    assert d["longest_gap_s"] == pytest.approx(2.0, abs=0.011)  # 29.99 s -> 32.00 s
    assert d["gap_list"][0]["start_s"] == pytest.approx(29.99)
    assert "1 gap in the data, 200 samples missing" in d["reasons"][0]
    assert d["fs_est_hz"] == pytest.approx(100.0, rel=1e-9)  # the gap does not bias the rate


def test_single_dropped_sample_is_found_but_only_a_warning() -> None:
    rec = standing()
    keep = np.ones(rec.n_samples, dtype=bool)
    keep[1234] = False
    q = quality_report(rec.replace(time_s=rec.time_s[keep], acc_mps2=rec.acc_mps2[keep]))
    assert q.dropped_samples == 1 and len(q.gaps) == 1
    assert q.gaps[0].index == 1233
    assert codes(q) == ["gap"] and q.problems[0].severity == "warning"
    assert q.valid and q.as_dict()["warnings"] == [q.problems[0].message]


def test_many_small_gaps_are_invalid() -> None:
    rec = standing()
    keep = np.ones(rec.n_samples, dtype=bool)
    keep[100::40] = False  # 2.5 % of the samples, each gap short
    q = quality_report(rec.replace(time_s=rec.time_s[keep], acc_mps2=rec.acc_mps2[keep]))
    assert q.dropped_samples == keep.size - keep.sum()
    assert max(g.duration_s for g in q.gaps) < 0.5
    assert q.problems[0].severity == "invalid" and not q.valid


def test_jitter_gives_no_false_gaps() -> None:
    rec = standing()
    rng = np.random.default_rng(11)
    t = rec.time_s + rng.normal(0.0, 0.1 * 0.01, rec.n_samples)  # 10 % of the interval
    assert np.all(np.diff(t) > 0)
    q = quality_report(rec.replace(time_s=t))
    assert q.gaps == () and q.dropped_samples == 0
    assert q.valid and q.problems == ()
    assert q.jitter_ms == pytest.approx(1.0 * np.sqrt(2), rel=0.1)


# ---------------------------------------------------------------------------
# clipping
# ---------------------------------------------------------------------------


def test_clipped_samples_are_counted_exactly() -> None:
    rec = standing()
    rng = np.random.default_rng(5)
    acc = np.array(rec.acc_mps2)
    t = rec.time_s
    burst = (t >= 20.0) & (t < 23.0)
    raw = acc[:, 1] + np.where(burst, 3.0 * G * np.sin(2 * np.pi * 1.5 * t), 0.0)
    raw += 0.01 * rng.standard_normal(raw.size)
    limit = 2.0 * G
    n_clipped = int(np.sum(np.abs(raw) >= limit))
    assert n_clipped > 50  # both signs clip, over several cycles
    acc[:, 1] = np.clip(raw, -limit, limit)
    q = quality_report(rec.replace(acc_mps2=acc))
    assert q.clipped_samples == n_clipped
    assert q.as_dict()["clipped_samples"] == n_clipped
    assert "clipped" in codes(q) and not q.valid
    assert f"{n_clipped} samples clipped" in q.reasons[-1]


def test_quiet_repeated_maximum_is_not_clipping() -> None:
    # 12-bit-like quantisation repeats the maximum of a quiet signal: not clipping
    acc = np.round(np.array(standing().acc_mps2) / 0.04) * 0.04
    assert detect_clipping(acc) == 0


def test_single_sample_at_extreme_is_not_clipping() -> None:
    acc = np.array(standing().acc_mps2)
    acc[100, 2] = 3 * G
    assert detect_clipping(acc) == 0
    acc[101, 2] = 3 * G
    # two equal samples at an arbitrary level: a flat quantised peak, not clipping
    assert detect_clipping(acc) == 0
    acc[102, 2] = 3 * G
    assert detect_clipping(acc) == 3


def test_two_samples_at_a_full_scale_are_clipping() -> None:
    acc = np.array(standing().acc_mps2)
    acc[200:202, 1] = 2 * G  # +/-2 g sensor
    assert detect_clipping(acc) == 2
    acc[300:302, 0] = -16 * G * 0.99995  # int16 full scale of a +/-16 g sensor
    assert detect_clipping(acc) == 4


# ---------------------------------------------------------------------------
# too short, rate, impossible values
# ---------------------------------------------------------------------------


def test_too_short_for_the_test() -> None:
    rec = standing(duration_s=3.0)
    assert quality_report(rec).valid  # fine when no length is asked for
    q = quality_report(rec, min_duration_s=5.0, purpose="the sway analysis")
    assert [p.code for p in q.fatal] == ["too_short"]
    assert q.fatal[0].message == (
        "recording is too short for the sway analysis: 3 s, at least 5 s needed"
    )


def test_too_short_fails_analyze(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "short.csv"
    write_csv_v1(standing(duration_s=3.0), path)
    assert cli.main(["analyze", str(path), "--test", "sway"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1
    assert str(path) in err and "too short for the sway analysis" in err


@pytest.mark.parametrize(
    ("fs_true", "expected"),
    [(100.0, []), (101.0, []), (95.0, ["drift"]), (105.0, ["drift"]), (10.0, ["rate_mismatch"])],
)
def test_rate_versus_nominal(fs_true: float, expected: list[str]) -> None:
    rec = standing(fs_hz=fs_true, nominal=100.0, duration_s=30.0)
    q = quality_report(rec)
    assert codes(q) == expected
    assert q.drift_ppm == pytest.approx((fs_true / 100.0 - 1) * 1e6, abs=1e-3)
    if expected == ["drift"]:
        assert q.valid and q.problems[0].severity == "warning"
        assert f"{(fs_true / 100 - 1) * 100:+.1f} % off the nominal 100 Hz" in q.warnings[0]
    if expected == ["rate_mismatch"]:
        assert q.fatal and "fs_hz says 100 Hz but the sample times say 10 Hz" in q.reasons[0]


def test_time_in_milliseconds_is_fatal() -> None:
    rec = standing(nominal=None)
    q = quality_report(rec.replace(time_s=rec.time_s * 1000.0))
    assert [p.code for p in q.fatal] == ["time_units"]
    assert "time_s must be in seconds (is it in milliseconds?)" in q.reasons[0]


@pytest.mark.parametrize(("value", "fatal"), [(400 * G, False), (2000 * G, True)])
def test_impossible_acceleration(value: float, fatal: bool) -> None:
    rec = standing()
    acc = np.array(rec.acc_mps2)
    acc[777, 1] = -value
    q = quality_report(rec.replace(acc_mps2=acc))
    assert ("impossible_value" in [p.code for p in q.fatal]) is fatal
    if fatal:
        assert "at sample 777 (t=7.77 s)" in q.fatal[0].message


def test_impossible_angular_rate() -> None:
    rec = standing()
    gyr = np.zeros((rec.n_samples, 3))
    gyr[5, 2] = 4000.0  # a fast sensor's full scale: fine
    assert quality_report(rec.replace(gyr_dps=gyr)).valid
    gyr[6, 0] = 1e6
    q = quality_report(rec.replace(gyr_dps=gyr))
    assert [p.code for p in q.fatal] == ["impossible_value"]
    assert "angular rate" in q.fatal[0].message


def test_report_does_not_mutate_or_depend_on_order() -> None:
    rec = standing()
    before = np.array(rec.acc_mps2)
    a = quality_report(rec).as_dict()
    b = quality_report(rec).as_dict()
    assert a == b
    np.testing.assert_array_equal(rec.acc_mps2, before)


def test_clipping_on_two_axes_counts_each_sample_once() -> None:
    acc = np.array(standing().acc_mps2)
    acc[10:15, 0] = 3 * G  # runs of 5 and 6 samples overlapping at 12-14
    acc[12:18, 1] = -3 * G
    acc[40:42, 2] = 3 * G  # two samples at an arbitrary level: not clipping
    acc[50:53, 2] = 3 * G  # three more at the same maximum: clipping
    assert detect_clipping(acc) == 8 + 3
