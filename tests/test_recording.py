"""The Recording model: validation, immutability, axis maps, rate estimation, slicing."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from balance_mon.consts import BODY_AXES, GRAVITY_MPS2, PLACEMENTS
from balance_mon.errors import BalanceMonError, RecordingError, TooShortError
from balance_mon.recording import AxisMap, Recording, estimate_rate


def _acc(n: int) -> np.ndarray:
    a = np.zeros((n, 3))
    a[:, 0] = GRAVITY_MPS2
    return a


def _rec(n: int = 100, fs: float = 100.0, **kw) -> Recording:
    return Recording(time_s=np.arange(n) / fs, acc_mps2=_acc(n), **kw)


# ---------------------------------------------------------------------------
# validation
# ---------------------------------------------------------------------------


def test_valid_recording_basic_properties() -> None:
    rec = _rec(500, fs_nominal_hz=100, placement="sternum", source="a.csv")
    assert rec.n_samples == 500
    assert rec.fs_hz == 100.0 and isinstance(rec.fs_nominal_hz, float)
    assert rec.fs_est_hz == pytest.approx(100.0, rel=1e-12)
    assert rec.duration_s == pytest.approx(5.0, rel=1e-12)  # 499 intervals + one
    assert not rec.has_gyro
    assert rec.acc_body_mps2() is None
    assert "a.csv" in repr(rec)


def test_fs_hz_is_estimated_without_nominal() -> None:
    rec = Recording(time_s=np.arange(50) / 52.0, acc_mps2=_acc(50))
    assert rec.fs_nominal_hz is None
    assert rec.fs_hz == pytest.approx(52.0, rel=1e-12)


@pytest.mark.parametrize(
    ("time", "acc", "message"),
    [
        (np.zeros((3, 1)), _acc(3), "time must be one-dimensional"),
        (np.arange(4.0), _acc(3), "acceleration must have shape (4, 3), got (3, 3)"),
        (np.arange(3.0), np.zeros((3, 2)), "acceleration must have shape (3, 3), got (3, 2)"),
        (np.arange(3.0), np.zeros(9), "acceleration must have shape (3, 3), got (9,)"),
    ],
)
def test_shapes_are_checked(time, acc, message: str) -> None:
    with pytest.raises(RecordingError) as ei:
        Recording(time_s=time, acc_mps2=acc, source="s.csv")
    assert str(ei.value) == f"s.csv: {message}"


def test_gyro_shape_checked() -> None:
    with pytest.raises(RecordingError, match=r"gyroscope must have shape \(3, 3\), got \(3,\)"):
        Recording(time_s=np.arange(3.0), acc_mps2=_acc(3), gyr_dps=np.zeros(3))


@pytest.mark.parametrize("n", [0, 1])
def test_too_few_samples(n: int) -> None:
    with pytest.raises(TooShortError) as ei:
        Recording(time_s=np.arange(float(n)), acc_mps2=_acc(n), source="x.csv")
    assert (
        str(ei.value)
        == f"x.csv: only {n} sample{'s' if n != 1 else ''}; a recording needs at least two"
    )
    assert isinstance(ei.value, BalanceMonError)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_time(bad: float) -> None:
    t = np.arange(5.0)
    t[2] = bad
    with pytest.raises(RecordingError, match=r"^r\.csv: time of sample 2 is not a finite number$"):
        Recording(time_s=t, acc_mps2=_acc(5), source="r.csv")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_acceleration_names_first_bad_sample(bad: float) -> None:
    acc = _acc(6)
    acc[4, 0] = bad
    acc[3, 2] = bad
    with pytest.raises(RecordingError) as ei:
        Recording(time_s=np.arange(6) * 0.5, acc_mps2=acc)
    assert str(ei.value) == "acceleration of sample 3 (t=1.5 s) is not a finite number"


def test_non_finite_gyro() -> None:
    gyr = np.zeros((4, 3))
    gyr[1, 1] = np.nan
    with pytest.raises(RecordingError, match=r"angular rate of sample 1 \(t=1 s\) is not a finite"):
        Recording(time_s=np.arange(4.0), acc_mps2=_acc(4), gyr_dps=gyr)


def test_time_repeating() -> None:
    t = np.array([0.0, 0.01, 0.02, 0.02, 0.03])
    with pytest.raises(RecordingError) as ei:
        Recording(time_s=t, acc_mps2=_acc(5), source="d.csv")
    assert str(ei.value) == (
        "d.csv: time repeats at sample 3 (0.02 s after 0.02 s); times must strictly increase"
    )


def test_time_going_backwards_keeps_full_precision() -> None:
    t = np.arange(10) / 100 + 99999.0
    t[7] = t[5]
    with pytest.raises(RecordingError) as ei:
        Recording(time_s=t, acc_mps2=_acc(10))
    assert str(ei.value) == (
        "time goes backwards at sample 7 (99999.05 s after 99999.06 s); "
        "times must strictly increase"
    )


@pytest.mark.parametrize("fs", [0.0, -100.0, np.nan, np.inf])
def test_nominal_rate_must_be_positive_and_finite(fs: float) -> None:
    with pytest.raises(RecordingError, match="nominal rate must be a positive number"):
        _rec(10, fs_nominal_hz=fs)


def test_placement_must_be_known() -> None:
    for p in PLACEMENTS:
        assert _rec(3, placement=p).placement == p
    with pytest.raises(RecordingError, match="unknown placement 'ankle'; use one of lower_back"):
        _rec(3, placement="ankle")


# ---------------------------------------------------------------------------
# immutability: read-only arrays, inputs never mutated
# ---------------------------------------------------------------------------


def test_arrays_are_read_only_and_inputs_untouched() -> None:
    t = np.arange(10) / 100.0
    acc = _acc(10)
    gyr = np.ones((10, 3))
    t0, acc0, gyr0 = t.copy(), acc.copy(), gyr.copy()
    meta = {"subject": "S01"}
    rec = Recording(time_s=t, acc_mps2=acc, gyr_dps=gyr, metadata=meta)
    for arr in (rec.time_s, rec.acc_mps2, rec.gyr_dps):
        assert not arr.flags.writeable
        with pytest.raises(ValueError, match="read-only"):
            arr[0] = 1.0
    # the caller's arrays keep their values and stay writeable
    np.testing.assert_array_equal(t, t0)
    np.testing.assert_array_equal(acc, acc0)
    np.testing.assert_array_equal(gyr, gyr0)
    assert t.flags.writeable and acc.flags.writeable and gyr.flags.writeable
    # metadata is a read-only copy
    with pytest.raises(TypeError):
        rec.metadata["subject"] = "other"  # type: ignore[index]
    meta["subject"] = "changed"
    assert rec.metadata["subject"] == "S01"
    with pytest.raises(AttributeError):
        rec.placement = "wrist"  # type: ignore[misc]


def test_integer_and_list_inputs_are_converted() -> None:
    rec = Recording(time_s=[0, 1, 2], acc_mps2=[[9, 0, 0], [10, 0, 0], [9, 1, 0]])
    assert rec.time_s.dtype == np.float64 and rec.acc_mps2.dtype == np.float64
    assert not rec.time_s.flags.writeable


def test_replace_validates_again() -> None:
    rec = _rec(10)
    assert rec.replace(placement="wrist").placement == "wrist"
    with pytest.raises(RecordingError, match="unknown placement"):
        rec.replace(placement="nose")
    with pytest.raises(RecordingError, match="shape"):
        rec.replace(acc_mps2=_acc(9))


# ---------------------------------------------------------------------------
# AxisMap
# ---------------------------------------------------------------------------

ALL_MAPS = [
    AxisMap(body=perm, sign=signs)  # type: ignore[arg-type]
    for perm in itertools.permutations(BODY_AXES)
    for signs in itertools.product((1, -1), repeat=3)
]


@pytest.mark.parametrize("amap", ALL_MAPS, ids=lambda m: m.format())
def test_axis_map_round_trip(amap: AxisMap) -> None:
    text = amap.format()
    assert AxisMap.parse(text) == amap
    assert AxisMap.parse(text).format() == text


def test_axis_map_round_trip_count() -> None:
    assert len({m.format() for m in ALL_MAPS}) == 48


@pytest.mark.parametrize(
    ("text", "body", "sign"),
    [
        ("x=v y=ml z=ap", ("v", "ml", "ap"), (1, 1, 1)),
        ("x=-v y=ml z=ap", ("v", "ml", "ap"), (-1, 1, 1)),
        ("z=ap, x=-v, y=-ml", ("v", "ml", "ap"), (-1, -1, 1)),
        ("  X = ML   Y = -AP  Z = V ", ("ml", "ap", "v"), (1, -1, 1)),
        ("x=ap,y=v,z=ml", ("ap", "v", "ml"), (1, 1, 1)),
    ],
)
def test_axis_map_parse_forms(text: str, body, sign) -> None:
    amap = AxisMap.parse(text)
    assert amap.body == body and amap.sign == sign


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("x=v y=ml", "must map all three sensor axes"),
        ("x=v x=ml z=ap", "names sensor axis x twice"),
        ("x=v y=v z=ap", "must name each of v, ml and ap exactly once"),
        ("x=v y=ml z=up", "cannot read axis mapping"),
        ("x=+v y=ml z=ap", "cannot read axis mapping"),
        ("w=v y=ml z=ap", "cannot read axis mapping"),
        ("up forward left", "cannot read axis mapping"),
        ("", "must map all three sensor axes"),
    ],
)
def test_axis_map_errors(text: str, message: str) -> None:
    with pytest.raises(RecordingError, match=message):
        AxisMap.parse(text)


def test_axis_map_constructor_checks() -> None:
    with pytest.raises(RecordingError, match="exactly once"):
        AxisMap(body=("v", "v", "ml"), sign=(1, 1, 1))
    with pytest.raises(RecordingError, match="signs must be"):
        AxisMap(body=("v", "ml", "ap"), sign=(1, 2, 1))  # type: ignore[arg-type]


def test_axis_map_to_body() -> None:
    xyz = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    out = AxisMap.parse("x=-ap y=v z=ml").to_body(xyz)
    # columns v, ml, ap
    np.testing.assert_array_equal(out, [[2.0, 3.0, -1.0], [5.0, 6.0, -4.0]])
    np.testing.assert_array_equal(xyz, [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])  # untouched
    rec = Recording(time_s=[0.0, 1.0], acc_mps2=xyz, axes=AxisMap.parse("x=-ap y=v z=ml"))
    np.testing.assert_array_equal(rec.acc_body_mps2(), out)


# ---------------------------------------------------------------------------
# estimate_rate
# ---------------------------------------------------------------------------


def test_rate_exact_with_two_gaps() -> None:
    t = np.arange(6000) / 100.0
    keep = np.ones(t.size, dtype=bool)
    keep[1000:1003] = False  # 3 dropped
    keep[4000:4050] = False  # 50 dropped
    r = estimate_rate(t[keep], nominal_hz=100.0)
    assert abs(r.fs_hz - 100.0) < 1e-9
    assert abs(r.dt_s - 0.01) < 1e-15
    assert len(r.gaps) == 2
    assert [g.missing_samples for g in r.gaps] == [3, 50]
    assert r.dropped_samples == 53
    g0, g1 = r.gaps
    assert g0.index == 999 and g0.start_s == t[999]
    assert g0.duration_s == pytest.approx(0.04, abs=1e-12)
    assert g1.index == 4000 - 3 - 1 and g1.duration_s == pytest.approx(0.51, abs=1e-12)
    assert r.drift_ppm is not None and abs(r.drift_ppm) < 1e-6
    assert r.jitter_s < 1e-12


def test_drift_of_a_clock_100_ppm_fast() -> None:
    # the sensor runs 100 ppm fast: in host time it delivers 100.01 samples per second
    t = np.arange(20_000) / (100.0 * (1 + 100e-6))
    r = estimate_rate(t, nominal_hz=100.0)
    assert r.drift_ppm == pytest.approx(100.0, abs=1e-6)
    assert r.fs_hz == pytest.approx(100.01, rel=1e-12)
    assert r.gaps == ()


def test_no_drift_without_nominal_rate() -> None:
    assert estimate_rate(np.arange(10) / 50.0).drift_ppm is None


def test_jitter_cancels_in_the_rate() -> None:
    rng = np.random.default_rng(3)
    n = 30_000
    t = np.arange(n) / 100.0 + rng.normal(0.0, 0.001, n)  # 10 % of the interval
    r = estimate_rate(t, nominal_hz=100.0)
    assert r.gaps == ()
    # the ends only move by the jitter of two samples: error ~ 1.4 ms / 300 s
    assert abs(r.fs_hz - 100.0) < 100.0 * 2e-5
    assert r.jitter_s == pytest.approx(0.001 * np.sqrt(2), rel=0.05)


def test_single_dropped_sample_is_a_gap() -> None:
    t = np.delete(np.arange(1000) / 100.0, 500)
    r = estimate_rate(t)
    assert len(r.gaps) == 1 and r.gaps[0].missing_samples == 1 and r.gaps[0].index == 499


@pytest.mark.parametrize("t", [[], [1.0], np.zeros((2, 2))])
def test_rate_needs_two_samples(t) -> None:
    with pytest.raises(TooShortError):
        estimate_rate(t)


@pytest.mark.parametrize("t", [[0.0, 0.0, 1.0], [0.0, 2.0, 1.0]])
def test_rate_needs_increasing_time(t) -> None:
    with pytest.raises(RecordingError, match="strictly increasing"):
        estimate_rate(t)


# ---------------------------------------------------------------------------
# slicing
# ---------------------------------------------------------------------------


def test_slice_time_is_half_open() -> None:
    rec = _rec(1000, fs_nominal_hz=100, placement="thigh", metadata={"k": "v"})
    part = rec.slice_time(1.0, 2.0)
    assert part.n_samples == 100
    assert part.time_s[0] == rec.time_s[100] and part.time_s[-1] == rec.time_s[199]
    assert part.placement == "thigh" and part.fs_nominal_hz == 100 and part.metadata == {"k": "v"}
    # exact sample times on both ends: start included, end excluded
    t = rec.time_s
    assert rec.slice_time(t[10], t[20]).time_s.tolist() == t[10:20].tolist()
    # adjacent slices partition the recording
    a, b = rec.slice_time(t[0], t[500]), rec.slice_time(t[500], t[-1] + 1)
    assert a.n_samples + b.n_samples == rec.n_samples
    assert a.time_s[-1] < b.time_s[0]


def test_slice_index_shares_read_only_arrays() -> None:
    rec = _rec(100)
    part = rec.slice_index(10, 20)
    assert np.shares_memory(part.acc_mps2, rec.acc_mps2)
    assert not part.acc_mps2.flags.writeable


def test_slice_too_short_raises() -> None:
    rec = _rec(100)
    with pytest.raises(TooShortError):
        rec.slice_time(0.105, 0.115)  # holds only t = 0.11


def test_time_out_of_range() -> None:
    with pytest.raises(RecordingError) as ei:
        Recording(time_s=[0.0, 1e300], acc_mps2=_acc(2), source="t.csv")
    assert str(ei.value) == (
        "t.csv: time of sample 1 (1e+300 s) is out of range (more than 1e10 s, about 300 "
        "years, from zero); time_s must be in seconds"
    )
    with pytest.raises(RecordingError, match=r"sample 0 .* out of range"):
        Recording(time_s=[-1e308, 1e308], acc_mps2=_acc(2))
    # Unix time in seconds is a fine origin
    rec = Recording(time_s=1.7e9 + np.arange(100) / 100.0, acc_mps2=_acc(100))
    assert rec.fs_hz == pytest.approx(100.0, rel=1e-6)


def test_estimate_rate_survives_absurd_intervals() -> None:
    # an interval 1e310 sample intervals long: no overflow, no warning
    r = estimate_rate(np.array([0.0, 1e-300, 2e-300, 1e10]))
    assert len(r.gaps) == 1 and r.gaps[0].missing_samples == 2**62 - 1
