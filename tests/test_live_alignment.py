"""Live trunk-alignment feedback: the estimator, its warnings, the per-patient limit, the view."""

from __future__ import annotations

import math
import os
from types import SimpleNamespace

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pytest

from balance_mon.analysis.posture import LiveTrunkInclination
from balance_mon.app.live import LiveStream
from balance_mon.devices.session import SampleBlock
from balance_mon.protocols.home import (
    HomeProgramme,
    PlannedExercise,
    ProgrammeError,
    dump_programme,
    load_programme,
    loads_programme,
    save_programme,
)
from balance_mon.sim import simulate_lifts

G = 9.81
FS = 100.0


def _pitched(angles_deg: np.ndarray, seed: int = 0, noise: float = 0.02) -> np.ndarray:
    """Measured acceleration (gravity pointing up) of a sensor pitched forward by
    ``angles_deg`` about its y axis (x forward, z up when upright)."""
    th = np.radians(angles_deg)
    acc = G * np.column_stack([-np.sin(th), np.zeros_like(th), np.cos(th)])
    return acc + np.random.default_rng(seed).normal(0.0, noise, acc.shape)


def _bend_profile(bends: list[tuple[float, float, float]], duration_s: float) -> np.ndarray:
    """Flexion angle per sample: each bend (onset_s, peak_deg, length_s) a smooth
    raised cosine from 0 up to peak and back."""
    t = np.arange(int(duration_s * FS)) / FS
    ang = np.zeros_like(t)
    for onset, peak, length in bends:
        m = (t >= onset) & (t <= onset + length)
        ang[m] = peak * 0.5 * (1 - np.cos(2 * np.pi * (t[m] - onset) / length))
    return ang


def _push(est: LiveTrunkInclination, acc: np.ndarray, gyr: np.ndarray | None = None, block=20):
    angles, warnings = [], []
    for i in range(0, acc.shape[0], block):
        g = None if gyr is None else gyr[i : i + block]
        t = np.arange(i, min(i + block, acc.shape[0])) / FS
        _, a, w = est.push(acc[i : i + block], g, time_s=t)
        angles.append(a)
        warnings += w
    return np.concatenate(angles), warnings


# -- estimator --------------------------------------------------------------------------------


@pytest.mark.parametrize("pitch", [10.0, 25.0, 45.0, 70.0])
def test_estimator_reads_the_pitch_of_a_held_lean(pitch):
    ang = np.concatenate([np.zeros(int(3 * FS)), np.full(int(6 * FS), pitch)])
    est = LiveTrunkInclination(FS)
    angles, _ = _push(est, _pitched(ang))
    assert np.isnan(angles[0])  # no upright yet
    assert est.reference_ is not None
    assert est.angle_deg_ == pytest.approx(pitch, abs=1.0)
    # with the forward direction known: the signed sagittal angle
    est = LiveTrunkInclination(FS, forward=[1.0, 0.0, 0.0])
    _push(est, _pitched(ang))
    assert est.angle_deg_ == pytest.approx(pitch, abs=1.0)
    est = LiveTrunkInclination(FS, forward=[1.0, 0.0, 0.0])
    _push(est, _pitched(-ang))
    assert est.angle_deg_ == pytest.approx(-pitch, abs=1.0)  # leaning back


def test_upright_waits_for_quiet_and_can_be_set_by_hand():
    rng = np.random.default_rng(1)
    moving = _pitched(np.zeros(int(3 * FS))) + rng.normal(0, 2.0, (int(3 * FS), 3))
    est = LiveTrunkInclination(FS)
    angles, _ = _push(est, moving)
    assert est.reference_ is None and np.isnan(angles).all()
    # "Set upright" while leaning 20 deg: that lean becomes zero
    est = LiveTrunkInclination(FS)
    _push(est, _pitched(np.full(int(3 * FS), 20.0)))
    est.set_upright()
    _push(est, _pitched(np.full(int(4 * FS), 50.0)))
    assert est.angle_deg_ == pytest.approx(30.0, abs=1.5)


def test_a_forward_bend_beyond_the_threshold_warns_once():
    # quiet, a 45 deg bend held ~1 s, quiet, a 20 deg bend: one warning
    ang = _bend_profile([(4.0, 45.0, 3.0), (12.0, 20.0, 3.0)], 18.0)
    est = LiveTrunkInclination(FS)
    angles, warnings = _push(est, _pitched(ang))
    assert [w.kind for w in warnings] == ["flexion"]
    assert 4.0 < warnings[0].time_s < 5.5
    assert np.nanmax(angles) == pytest.approx(45.0, abs=2.5)
    assert not est.warning_  # back upright


def test_no_warning_below_the_threshold_and_the_threshold_is_the_patients():
    ang = _bend_profile([(4.0, 25.0, 3.0), (10.0, 27.0, 3.0)], 15.0)
    _, warnings = _push(LiveTrunkInclination(FS), _pitched(ang))
    assert warnings == []
    _, warnings = _push(LiveTrunkInclination(FS, flexion_threshold_deg=20.0), _pitched(ang))
    assert len(warnings) == 2


def test_hysteresis_and_refractory_period_stop_nagging():
    # hovering around the threshold (30 +- 3 deg) for 10 s: one warning
    t = np.arange(int(14 * FS)) / FS
    ang = np.where(t < 3, 0.0, 30.0 + 3.0 * np.sin(2 * np.pi * 0.7 * t))
    _, warnings = _push(LiveTrunkInclination(FS), _pitched(ang))
    assert len(warnings) == 1
    # two bends 2 s apart: one warning; 7 s apart: two
    close = _bend_profile([(4.0, 45.0, 2.0), (8.0, 45.0, 2.0)], 12.0)
    _, warnings = _push(LiveTrunkInclination(FS), _pitched(close))
    assert len(warnings) == 1
    apart = _bend_profile([(4.0, 45.0, 2.0), (11.0, 45.0, 2.0)], 15.0)
    _, warnings = _push(LiveTrunkInclination(FS), _pitched(apart))
    assert len(warnings) == 2


def test_a_quick_twist_warns_from_the_gyroscope():
    n = int(8 * FS)
    acc = _pitched(np.zeros(n))
    gyr = np.zeros((n, 3))
    t = np.arange(n) / FS
    gyr[(t > 4) & (t < 5), 2] = 90.0  # 90 deg/s about the upright axis
    _, warnings = _push(LiveTrunkInclination(FS), acc, gyr)
    assert [w.kind for w in warnings] == ["twist"]
    gyr[:, 2] *= 0.3  # a slow turn
    _, warnings = _push(LiveTrunkInclination(FS), acc, gyr)
    assert warnings == []


# -- the patient's limit in the home programme ---------------------------------------------------

PROG = """\
format = "balance_mon.home_programme/1"
name = "Bone health"
{extra}
[[exercise]]
name = "squat"
sets = 2
reps = 8
"""


def test_programme_limit_round_trips_and_defaults_to_30(tmp_path):
    p = loads_programme(PROG.format(extra=""))
    assert p.trunk_flexion_limit_deg is None and p.flexion_limit_deg == 30.0
    assert "trunk_flexion_limit_deg" not in dump_programme(p)
    p = loads_programme(PROG.format(extra="trunk_flexion_limit_deg = 45"))
    assert p.flexion_limit_deg == 45.0
    path = save_programme(p, tmp_path / "p.toml")
    assert "trunk_flexion_limit_deg = 45" in path.read_text()
    assert load_programme(path) == p
    q = HomeProgramme(
        name="x",
        exercises=(PlannedExercise("squat", sets=1, reps=5),),
        trunk_flexion_limit_deg=22.5,
    )
    assert loads_programme(dump_programme(q)) == q


@pytest.mark.parametrize("bad", ["5", "95", '"thirty"', "true", "nan"])
def test_programme_limit_rejects_bad_values(bad):
    with pytest.raises(ProgrammeError, match="trunk_flexion_limit_deg"):
        loads_programme(PROG.format(extra=f"trunk_flexion_limit_deg = {bad}"))


def test_store_keeps_the_limit_when_the_exercises_change(tmp_path):
    from balance_mon.app.plans import ExerciseItem
    from balance_mon.app.store_adapter import AppStore

    store = AppStore(tmp_path / "db.sqlite")
    try:
        pat = SimpleNamespace(code="P1")
        assert store.trunk_flexion_limit(pat) == 30.0
        store.set_trunk_flexion_limit(pat, 40.0)
        assert store.trunk_flexion_limit(pat) == 40.0
        store.set_programme(pat, [ExerciseItem("squat", sets=1, reps=5, rest_s=30.0)])
        assert store.trunk_flexion_limit(pat) == 40.0
        with pytest.raises(ProgrammeError):
            store.set_trunk_flexion_limit(pat, 200.0)
        assert store.trunk_flexion_limit(pat) == 40.0  # the file was not touched
    finally:
        close = getattr(store, "close", None)
        if close is not None:
            close()


# -- the live path and the view ------------------------------------------------------------------


def _stream(live: LiveStream, rec, plots=None, block: int = 10):
    seen = []
    for i in range(0, rec.time_s.size, block):
        g = None if rec.gyr_dps is None else rec.gyr_dps[i : i + block]
        live.push([SampleBlock(rec.time_s[i : i + block], rec.acc_mps2[i : i + block], g, 0)])
        if plots is not None:
            plots.refresh(live)
            seen.append((plots.trunk_label.text(), plots.trunk_warning_shown))
    return seen


def test_live_view_shows_the_warning_during_a_simulated_stoop(qtbot):
    from balance_mon.app.live_view import LivePlots, configure_pyqtgraph

    configure_pyqtgraph()
    plots = LivePlots()
    qtbot.addWidget(plots)
    rec = simulate_lifts("stoop", lifts=3, seed=2).recording
    live = LiveStream(rec.fs_nominal_hz, has_gyro=rec.gyr_dps is not None)
    live.start_reps()
    seen = _stream(live, rec, plots)
    warn = [text for text, on in seen if on]
    assert warn and all("BACK BENT" in t and "bend at the hips and knees" in t for t in warn)
    assert any(t.startswith("✓ Trunk") for t, on in seen if not on)  # upright in between
    assert not plots.trunk_warning_shown  # standing again at the end
    assert len(live.take_alignment_warnings()) == 3  # one per lift (> 5 s apart)
    lines = plots.rep_alignment_label.text().splitlines()
    assert live.rep_count == 3 and len(lines) == 3
    assert lines[0].startswith("rep 1: trunk flexed ") and lines[0].endswith(" degrees")
    assert all(p > 30 for p in live.rep_peaks_deg)
    # the patient's limit above the lifts' flexion: no warning
    live = LiveStream(rec.fs_nominal_hz, has_gyro=rec.gyr_dps is not None, flexion_limit_deg=80)
    seen = _stream(live, rec, plots)
    assert not any(on for _t, on in seen) and live.take_alignment_warnings() == []
    assert all(math.isfinite(p) for p in live.rep_peaks_deg) or not live.rep_peaks_deg


@pytest.mark.parametrize(
    ("style", "placement", "gyro"),
    [
        ("stoop", "sternum", True),
        ("stoop", "lower_back", False),
        ("squat", "sternum", False),
        ("squat", "lower_back", True),
    ],
)
def test_each_live_rep_gets_its_own_bend(style, placement, gyro):
    """A repetition's window can run from one bend's deepest point to the next one's
    (the counter's phase depends on orientation): every rep must still report the
    flexion of its own bend, not its neighbour's."""
    from balance_mon.sim import SensorSpec

    res = simulate_lifts(
        style,
        lifts=5,
        variability=0.3,
        sensor=SensorSpec(placement=placement, gyro=gyro),
        seed=11,
    )
    rec = res.recording
    live = LiveStream(rec.fs_nominal_hz, has_gyro=gyro)
    live.start_reps()
    _stream(live, rec)
    truth = [b["peak_inclination_deg"] for b in res.truth["bends"]]
    assert live.rep_count == len(truth) == 5
    got = live.rep_peaks_deg
    assert len(got) == 5
    assert max(abs(g - t) for g, t in zip(got, truth, strict=True)) < 5.0, (got, truth)
