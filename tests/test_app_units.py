"""Parts of the desktop program that need no window: buffers, live sway, clock, plans, speech."""

from __future__ import annotations

import asyncio
import json
import math
import os
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pytest

from balance_mon.analysis.sway import CHI2_95_2DOF, sway_metrics
from balance_mon.app.clock import AppClock, ScaledTimeLoop
from balance_mon.app.live import LiveStream, RingBuffer, SwayTracker, TrialCapture, ellipse_points
from balance_mon.app.plans import ExerciseItem, home_plan, plan_from_protocol
from balance_mon.app.runner import chair_stand_fallback
from balance_mon.app.simulated import ScriptedSource
from balance_mon.app.speech import CommandSpeaker, Speaker, make_speaker
from balance_mon.app.worker import signal_quality
from balance_mon.consts import GRAVITY_MPS2
from balance_mon.devices.session import SampleBlock
from balance_mon.protocols import get_protocol
from balance_mon.recording import Recording

SAMPLES = Path(__file__).resolve().parents[1] / "sample_data" / "simulated"


# -- ring buffer ---------------------------------------------------------------------------


def test_ring_buffer_keeps_the_last_rows_in_order_as_one_view():
    rb = RingBuffer(7, 1)
    seen: list[float] = []
    rng = np.random.default_rng(3)
    k = 0
    for _ in range(300):
        n = int(rng.integers(0, 12))
        v = np.arange(k, k + n, dtype=float)
        k += n
        seen += list(v)
        rb.extend(v)
        assert list(rb.view()[:, 0]) == seen[-7:]
    assert rb.count == k
    view = rb.view()
    assert view.base is not None  # a view into the buffer, no copy
    assert view.flags["C_CONTIGUOUS"]


def test_ring_buffer_wider_rows_and_oversized_blocks():
    rb = RingBuffer(4, 3)
    rb.extend(np.arange(30.0).reshape(10, 3))
    np.testing.assert_array_equal(rb.view(), np.arange(18.0, 30.0).reshape(4, 3))
    np.testing.assert_array_equal(rb.last(), [27.0, 28.0, 29.0])
    rb.clear()
    assert len(rb) == 0 and rb.last() is None


# -- live sway ---------------------------------------------------------------------------------


def test_ellipse_points_lie_on_the_95_percent_ellipse():
    mean = np.array([0.1, -0.2])
    cov = np.array([[0.04, 0.01], [0.01, 0.02]])
    pts = ellipse_points(mean, cov)
    d = pts - mean
    q = np.einsum("ij,jk,ik->i", d, np.linalg.inv(cov), d)
    np.testing.assert_allclose(q, CHI2_95_2DOF, rtol=1e-9)


def _standing(fs: float, seconds: float) -> np.ndarray:
    """Upright sensor (z up) with slow horizontal sway in x and y."""
    t = np.arange(int(seconds * fs)) / fs
    acc = np.zeros((t.size, 3))
    acc[:, 0] = 0.08 * np.sin(2 * np.pi * 0.4 * t) + 0.03 * np.sin(2 * np.pi * 0.9 * t + 1)
    acc[:, 1] = 0.05 * np.sin(2 * np.pi * 0.3 * t + 0.5)
    acc[:, 2] = GRAVITY_MPS2
    return acc


def test_live_sway_ellipse_matches_the_offline_measure():
    fs = 100.0
    acc = _standing(fs, 40.0)
    sw = SwayTracker(fs, settle_s=1.0, plot_hz=100.0)
    for i in range(0, acc.shape[0], 37):
        sw.push(acc[i : i + 37])
    # offline: the same signals, mean-removed, through sway_metrics
    ml, ap = acc[:, 0], acc[:, 1]
    offline = sway_metrics(ap, ml, fs)["ellipse_area_m2ps4"]
    assert sw.ready
    assert sw.ellipse_area_m2ps4() == pytest.approx(offline, rel=0.05)
    assert sw.axes_labels == ("ML (sensor x)", "AP (sensor y)")
    sw.reset()
    assert math.isnan(sw.ellipse_area_m2ps4())


def test_live_stream_traces_and_capture_from_blocks():
    fs = 50.0
    live = LiveStream(fs, trace_s=2.0)
    acc = _standing(fs, 6.0)
    t = np.arange(acc.shape[0]) / fs
    cap = live.start_capture(3.0)
    for i in range(0, acc.shape[0], 25):
        live.push([SampleBlock(t[i : i + 25], acc[i : i + 25], None, 0)])
    tw, _aw = live.trace_window()
    assert tw[-1] == pytest.approx(t[-1])
    assert tw[-1] - tw[0] <= 2.0
    rec = cap.recording(fs_hz=fs, placement="lower_back", metadata={"test": "sway"})
    assert rec.n_samples == 150
    assert rec.time_s[0] == 0.0
    np.testing.assert_array_equal(rec.acc_mps2, acc[150:])


def test_trial_capture_cuts_between_times():
    cap = TrialCapture(start_s=1.0)
    t = np.arange(0, 5, 0.5)
    cap.add(SampleBlock(t, np.ones((t.size, 3)), None, 0))
    tt, _, g = cap.arrays(2.0, 3.5)
    np.testing.assert_array_equal(tt, [2.0, 2.5, 3.0])
    assert g is None


# -- clock -----------------------------------------------------------------------------------


def test_scaled_loop_runs_app_time_faster_and_clock_agrees():
    clock = AppClock(40.0)
    loop = clock.new_loop()
    assert isinstance(loop, ScaledTimeLoop)

    async def sleep_one() -> tuple[float, float]:
        t0 = loop.time()
        await asyncio.sleep(2.0)
        return t0, loop.time()

    try:
        t0, t1 = loop.run_until_complete(sleep_one())
    finally:
        loop.close()
    assert t1 - t0 >= 2.0
    assert abs(clock.now_s() - loop.time()) < 1.0


def test_real_time_clock_is_the_monotonic_clock():
    import time

    clock = AppClock(1.0)
    assert not clock.scaled
    assert abs(clock.now_ns() - time.monotonic_ns()) < 50_000_000
    with pytest.raises(ValueError):
        AppClock(0.0)


# -- plans ---------------------------------------------------------------------------------


def test_four_stage_plan_has_the_protocol_steps_in_order():
    plan = plan_from_protocol(get_protocol("steadi_four_stage"))
    assert plan.stop_on_fail
    conds = [s.condition for s in plan.steps if s.kind == "perform"]
    assert conds == ["feet_together", "semi_tandem", "tandem", "single_leg"]
    kinds = [s.kind for s in plan.steps if s.condition == "tandem"]
    assert kinds == ["position", "countdown", "perform"]
    hold = next(s for s in plan.steps if s.kind == "perform")
    assert hold.duration_s == 10.0 and hold.monitor_balance
    assert "{" not in "".join(s.instruction for s in plan.steps)


def test_home_plan_alternates_introductions_sets_and_rests():
    plan = home_plan([ExerciseItem("squat", 2, 8, 20.0), ExerciseItem("heel_raise", 1, 10, 30.0)])
    kinds = [(s.kind, s.exercise, s.set_no) for s in plan.steps]
    assert kinds == [
        ("intro", "squat", 1),
        ("set", "squat", 1),
        ("rest", "squat", 1),
        ("intro", "squat", 2),
        ("set", "squat", 2),
        ("rest", "squat", 2),
        ("intro", "heel_raise", 3),
        ("set", "heel_raise", 3),
    ]
    sets = [s for s in plan.steps if s.kind == "set"]
    assert [s.target_reps for s in sets] == [8, 8, 10]
    assert plan.steps[2].duration_s == 20.0


# -- the simulated patient's signal ------------------------------------------------------------


def _ramp(seconds: float, fs: float, offset: float) -> Recording:
    t = np.arange(int(seconds * fs)) / fs
    acc = np.column_stack([t + offset, 2 * t, np.full(t.size, GRAVITY_MPS2)])
    return Recording(time_s=t, acc_mps2=acc, fs_nominal_hz=fs)


def test_scripted_source_switches_at_the_next_block_and_loops_idle():
    idle = _ramp(4.0, 10.0, 100.0)
    src = ScriptedSource(idle, idle_window=(1.0, 2.0))
    acc, gyr = src.block(0, 5, 10.0)  # idle window, looped
    np.testing.assert_allclose(acc[:, 0], 100.0 + np.array([1.0, 1.1, 1.2, 1.3, 1.4]))
    assert not gyr.any()
    script = _ramp(3.0, 10.0, 0.0)
    src.play(script, start_s=1.5)
    acc, _ = src.block(20, 4, 20.0)  # taken up at this block, resampled to 20 Hz
    np.testing.assert_allclose(acc[:, 0], [1.5, 1.55, 1.6, 1.65])
    acc, _ = src.block(46, 6, 20.0)  # past the script's end (2.9 s): the idle window
    np.testing.assert_allclose(acc[:3, 0], [2.8, 2.85, 2.9])
    np.testing.assert_allclose(acc[3:, 0], 100.0 + np.array([1.05, 1.1, 1.15]))
    assert src.switches == 1


# -- chair stand fallback, signal quality, speech -----------------------------------------------


def test_chair_stand_fallback_scores_the_simulated_test_like_steadi():
    from balance_mon.io import load_recording

    path = SAMPLES / "clinic" / "chair_stand_30s.csv"
    truth = json.loads(path.with_suffix(".truth.json").read_text())
    block = chair_stand_fallback(load_recording(path))["chair_stand"]
    assert block["count"] == truth["counts"]["score"]
    assert block["complete"]


def test_signal_quality_from_loss_and_rssi():
    assert signal_quality(-60, 0.0, "streaming") == "good"
    assert signal_quality(-85, 0.0, "streaming") == "fair"
    assert signal_quality(-60, 0.02, "streaming") == "fair"
    assert signal_quality(-60, 0.2, "streaming") == "poor"
    assert signal_quality(-60, 0.0, "reconnecting") == "none"


def test_speaker_records_and_silent_fallback(monkeypatch):
    monkeypatch.setenv("BALANCE_MON_SPEECH", "off")
    sp = make_speaker(True)
    assert type(sp) is Speaker
    sp.say("Go")
    sp.say("3", kind="count")
    sp.beep()
    assert sp.said() == ["Go", "3", ""]
    assert sp.said("count") == ["3"]


def test_command_speaker_drops_stale_counts(monkeypatch):
    spoken: list[str] = []
    import threading

    gate = threading.Event()

    def utter(self, text):  # first utterance blocks until released
        gate.wait(5)
        spoken.append(text)

    monkeypatch.setattr(CommandSpeaker, "_utter", utter)
    sp = CommandSpeaker(["true"])
    sp.say("Begin")
    for n in range(1, 6):
        sp.say(str(n), kind="count")
    gate.set()
    sp.close()
    sp._thread.join(5)
    assert spoken[0] == "Begin"
    assert spoken[-1] == "5"
    assert len(spoken) < 6  # counts 1-4 were replaced while waiting
