"""The protocol runner: a pure state machine walked through whole tests."""

from __future__ import annotations

import pytest

from balance_mon.protocols import Patient, ProtocolError, ProtocolRunner, get_protocol

SWAY = {"sway": {"rms_mps2": 0.05, "norm_path_mps3": 0.3, "ellipse_area_m2ps4": 0.02}}


def kinds(actions):
    return [a.kind for a in actions]


def recording_actions(actions, kind):
    return [(a.condition, a.attempt) for a in actions if a.kind == kind]


class Clock:
    """Drive a runner with a clock; collect every action."""

    def __init__(self, runner):
        self.r = runner
        self.t = 0.0
        self.actions = []

    def __call__(self, method, *args, dt=0.0, **kw):
        self.t += dt
        if method in ("on_trial_result", "on_analysis_failed"):
            out = getattr(self.r, method)(*args, self.t, **kw)
        else:
            out = getattr(self.r, method)(self.t, *args, **kw)
        self.actions += out
        return out

    def ready_and_hold(self, hold_s):
        """Patient in position (auto start), countdown, hold ``hold_s`` (ticks)."""
        assert self.r.state.phase == "position"
        self("on_ready", dt=1.0)
        assert self.r.state.phase == "countdown" and self.r.state.countdown_s == 3.0
        self("tick", dt=1.0)
        assert self.r.state.countdown_s == pytest.approx(2.0)
        out = self("tick", dt=2.0)
        assert "start_recording" in kinds(out) and self.r.state.phase == "perform"
        if hold_s is not None:
            self("tick", dt=hold_s)


def test_four_stage_with_a_failure_in_tandem():
    r = ProtocolRunner(get_protocol("steadi_four_stage"), Patient(age_years=76, sex="female"))
    c = Clock(r)
    assert r.state.phase == "idle"
    c("start")
    assert r.state.phase == "setup" and "lower back" in r.state.instruction
    c("confirm", dt=5.0)
    st = r.state
    assert (st.phase, st.condition, st.attempt, st.condition_index) == (
        "position",
        "feet_together",
        1,
        0,
    )
    assert "feet side by side" in st.instruction and st.cue == "Feet side by side"
    assert c.actions[-1].kind == "say" and c.actions[-1].text == "Feet side by side"
    # stance 1 and 2 held 10 s
    for name in ("feet_together", "semi_tandem"):
        assert r.state.condition == name
        c.ready_and_hold(None)
        c("tick", dt=4.0)
        assert r.state.elapsed_s == pytest.approx(4.0) and r.state.countdown_s == pytest.approx(6)
        out = c("tick", dt=6.0)
        assert kinds(out) == ["say", "stop_recording"]
        assert out[1].analysis == "sway" and out[1].reason == "duration"
        assert r.state.phase == "analysing"
        c("on_trial_result", SWAY, dt=0.5)
    # tandem: balance lost at 6.2 s
    assert r.state.condition == "tandem" and "heel touching toe" in r.state.instruction
    c.ready_and_hold(6.2)
    out = c("on_balance_lost")
    assert kinds(out) == ["stop_recording"] and out[0].reason == "event"
    # late events after the trial stopped are ignored
    assert c("on_support_used", dt=0.1) == []
    out = c("on_trial_result", SWAY, dt=0.5)
    assert kinds(out) == ["say", "done"] and r.done
    assert recording_actions(c.actions, "start_recording") == [
        ("feet_together", 1),
        ("semi_tandem", 1),
        ("tandem", 1),
    ]
    res = r.result()
    assert res.complete and res.stopped_reason.startswith("stopped after tandem")
    assert res.scores["stages_held"] == 2
    assert res.scores["tandem_hold_s"] == pytest.approx(6.2)
    assert res.scores["tandem_10s"] is False
    assert res.conditions["single_leg"].status == "not_attempted"
    tandem = res.trials_of("tandem")[0]
    assert tandem.status == "failed" and tandem.reasons[0].code == "balance_lost"
    assert tandem.reasons[0].time_s == pytest.approx(6.2)
    assert set(res.flags) == {"at_risk:tandem_under_10s", "stopped_early"}
    assert "6.2 s" in res.norms[0].message
    assert "sway_rms_mps2:steadi_four_stage/feet_together" in res.measures
    # nothing more happens once done
    assert c("tick", dt=100) == [] and c("confirm") == []


def test_four_stage_all_held_and_early_failure():
    r = ProtocolRunner(get_protocol("steadi_four_stage"))
    c = Clock(r)
    c("start")
    c("confirm")
    for _ in range(4):
        c.ready_and_hold(10.0)
        c("on_trial_result", SWAY)
    assert r.done
    res = r.result()
    assert res.scores["stages_held"] == 4 and res.scores["tandem_10s"] is True
    assert res.at_risk is False and res.flags == ()
    # failing semi-tandem: tandem cannot be held, so the STEADI risk applies
    r = ProtocolRunner(get_protocol("steadi_four_stage"))
    c = Clock(r)
    c("start")
    c("confirm")
    c.ready_and_hold(10.0)
    c("on_trial_result", SWAY)
    c.ready_and_hold(3.0)
    c("on_support_used")
    c("on_trial_result", SWAY)
    res = r.result()
    assert r.done and res.scores["stages_held"] == 1 and res.scores["tandem_hold_s"] == 0.0
    assert res.at_risk is True and res.scores["tandem_attempted"] is False
    assert res.norms[0].message.startswith("Tandem stance was not attempted")


def test_chair_stand_walk_through():
    r = ProtocolRunner(get_protocol("chair_stand_30s"), Patient(age_years=72, sex="female"))
    c = Clock(r)
    c("start")
    assert r.state.step == "sensor"
    c("confirm")
    assert r.state.step == "chair" and "43 cm" in r.state.instruction
    c("confirm")
    assert r.state.phase == "position" and "arms crossed" in r.state.instruction
    c("confirm", dt=2)  # the examiner starts instead of the signal
    out = c("tick", dt=3.0)
    assert [a.text for a in out if a.kind == "say"] == ["Go"]
    assert r.state.countdown_s == 30.0
    assert c("on_arms_used", dt=10.0) == []  # recorded; the trial goes on
    assert r.state.phase == "perform"
    out = c("tick", dt=25.0)  # past 30 s: stops at 30 s exactly
    assert [a.text for a in out if a.kind == "say"] == ["Stop"]
    assert out[-1].analysis == "chair-stand"
    out = c("on_trial_result", {"chair_stand": {"count": 12}})
    assert r.done and kinds(out) == ["say", "done"]
    res = r.result()
    t = res.trials[0]
    assert t.status == "failed" and t.value == 0.0 and t.reasons[0].code == "arms_used"
    assert res.scores["stands"] == 0.0 and res.norms[0].at_risk is True
    assert res.norms[0].threshold == 10


def test_chair_stand_with_practice_attempt_and_rest():
    r = ProtocolRunner(
        get_protocol("chair_stand_30s", practice_attempts=1), Patient(age_years=72, sex="female")
    )
    c = Clock(r)
    c("start")
    c("confirm")
    c("confirm")
    c.ready_and_hold(30.0)
    c("on_trial_result", {"chair_stand": {"count": 9}})
    assert r.state.phase == "rest" and r.state.countdown_s == 60.0
    c("tick", dt=30.0)
    assert r.state.phase == "rest" and r.state.countdown_s == pytest.approx(30.0)
    c("tick", dt=30.0)
    assert r.state.phase == "position" and r.state.attempt == 2
    c.ready_and_hold(30.0)
    c("on_trial_result", {"chair_stand": {"count": 10}})
    assert r.done
    res = r.result()
    assert [(t.attempt, t.practice, t.scored) for t in res.trials] == [
        (1, True, False),
        (2, False, True),
    ]
    assert res.scores["stands"] == 10 and res.norms[0].at_risk is False


def test_ctsib_with_a_repeated_failed_condition_and_a_sensor_gap():
    r = ProtocolRunner(get_protocol("ctsib_m"))
    c = Clock(r)
    c("start")
    c("confirm")

    def rest():
        assert r.state.phase == "rest"
        c("confirm", dt=5.0)  # the examiner skips the rest

    # firm, eyes open: held
    c.ready_and_hold(30.0)
    c("on_trial_result", SWAY)
    rest()
    # firm, eyes closed: a sensor gap of 1 s at 8 s -> invalid, repeated (not counted)
    assert r.state.condition == "eyes_closed_firm"
    c.ready_and_hold(9.0)
    out = c("on_sensor_gap", 1.0)
    assert kinds(out) == ["stop_recording"] and out[0].analysis is None
    rest()
    assert (r.state.condition, r.state.attempt) == ("eyes_closed_firm", 2)
    c.ready_and_hold(30.0)
    c("on_trial_result", SWAY)
    rest()
    # foam, eyes open: a short gap is tolerated
    c.ready_and_hold(5.0)
    assert c("on_sensor_gap", 0.3) == []
    c("tick", dt=25.0)
    c("on_trial_result", SWAY)
    rest()
    # foam, eyes closed: fails twice (eyes open at 12 s, step at 20 s), held the third time
    assert r.state.condition == "eyes_closed_foam"
    c.ready_and_hold(12.0)
    c("on_eyes_opened")
    c("on_trial_result", SWAY)
    rest()
    assert r.state.attempt == 2
    c.ready_and_hold(20.0)
    c("on_balance_lost")
    c("on_trial_result", SWAY)
    rest()
    assert r.state.attempt == 3
    c.ready_and_hold(30.0)
    c("on_trial_result", SWAY)
    assert r.done
    res = r.result()
    assert [(t.condition, t.attempt, t.status) for t in res.trials] == [
        ("eyes_open_firm", 1, "completed"),
        ("eyes_closed_firm", 1, "invalid"),
        ("eyes_closed_firm", 2, "completed"),
        ("eyes_open_foam", 1, "completed"),
        ("eyes_closed_foam", 1, "failed"),
        ("eyes_closed_foam", 2, "failed"),
        ("eyes_closed_foam", 3, "completed"),
    ]
    assert res.trials[1].reasons[0].code == "sensor_gap"
    assert res.trials[1].reasons[0].time_s == pytest.approx(8.0)
    foam_ec = res.conditions["eyes_closed_foam"]
    assert foam_ec.value == pytest.approx((12 + 20 + 30) / 3) and foam_ec.n_scored == 3
    assert res.scores["total_s"] == pytest.approx(90 + 62 / 3)
    assert res.complete and res.flags == ()
    assert res.scores["vestibular_reliance_ellipse_area"] == pytest.approx(1.0)


def test_ctsib_three_failures_then_move_on():
    r = ProtocolRunner(get_protocol("ctsib_m"))
    c = Clock(r)
    c("start")
    c("confirm")
    for _ in range(3):
        assert r.state.condition == "eyes_open_firm"
        c.ready_and_hold(4.0)
        c("on_support_used")
        c("on_trial_result", SWAY)
        c("confirm")
    assert r.state.condition == "eyes_closed_firm"  # no fourth attempt; no stop on fail
    res = r.result()
    assert res.conditions["eyes_open_firm"].status == "failed"
    assert res.conditions["eyes_open_firm"].value == pytest.approx(4.0)
    assert not res.complete  # still running


def test_tug_stops_on_the_signal():
    r = ProtocolRunner(get_protocol("tug"))
    c = Clock(r)
    c("start")
    c("confirm")
    c("confirm")
    c.ready_and_hold(None)
    assert r.state.countdown_s is None  # open-ended
    c("tick", dt=12.5)
    out = c("on_trial_end", dt=0.3)
    assert kinds(out) == ["stop_recording"] and out[0].reason == "signal"
    c("on_trial_result", {"tug": {"total_s": 12.6}})
    res = r.result()
    assert res.scores["tug_s"] == 12.6 and res.measures == {"tug_s": 12.6}
    assert res.flags == ("at_risk:tug_at_risk",)
    # without an analysis, the runner's own timing (Go to seated) is the time
    r = ProtocolRunner(get_protocol("tug"))
    c = Clock(r)
    c("start")
    c("confirm")
    c("confirm")
    c.ready_and_hold(11.0)
    c("on_trial_end")
    c("on_trial_result", None)
    assert r.result().scores["tug_s"] == pytest.approx(11.0)


def test_tug_time_limit_and_examiner_stop():
    r = ProtocolRunner(get_protocol("tug"))
    c = Clock(r)
    c("start")
    c("confirm")
    c("confirm")
    c.ready_and_hold(None)
    out = c("tick", dt=130.0)
    assert out[-1].kind == "stop_recording" and out[-1].reason == "timeout"
    c("on_analysis_failed", "no transitions found")
    t = r.trials[-1]
    assert t.status == "invalid" and t.reasons[0].code == "analysis_failed"
    assert (r.state.phase, r.state.attempt) == ("position", 2)  # repeated


def test_romberg_eyes_rules_and_invalid_limit():
    r = ProtocolRunner(get_protocol("romberg"))
    c = Clock(r)
    c("start")
    c("confirm")
    c.ready_and_hold(5.0)
    assert c("on_eyes_opened") == []  # eyes open condition: not a failure
    c("tick", dt=25.0)
    c("on_trial_result", SWAY)
    c("confirm")
    assert r.state.condition == "eyes_closed" and "close your eyes" in r.state.instruction
    # three technical failures: the condition cannot be scored
    for _ in range(3):
        c.ready_and_hold(2.0)
        c("on_sensor_gap", 2.0)
        if not r.done:
            c("confirm")
    assert r.done
    res = r.result()
    assert res.conditions["eyes_closed"].status == "invalid" and not res.complete
    assert res.scores["romberg_ratio_rms_mps2"] is None


def test_runner_input_checks_and_abort():
    r = ProtocolRunner(get_protocol("romberg"))
    r.start(10.0)
    with pytest.raises(ProtocolError, match="backwards"):
        r.tick(9.0)
    with pytest.raises(ProtocolError, match="already started"):
        r.start(11.0)
    with pytest.raises(ProtocolError, match="waiting for its result"):
        r.on_trial_result(SWAY, 11.0)
    assert r.on_ready(11.0) == []  # still in setup: the signal cannot skip it
    assert r.on_balance_lost(11.0) == []  # not recording: ignored
    r.confirm(12.0)
    r.confirm(13.0)
    r.tick(16.0)
    assert r.state.phase == "perform"
    out = r.abort(20.0, "patient tired")
    assert [a.kind for a in out] == ["stop_recording", "say", "done"]
    res = r.result()
    assert not res.complete and "aborted" in res.flags and res.stopped_reason == "patient tired"
    with pytest.raises(ProtocolError):
        r.on_sensor_gap(21.0, -1.0)


def test_single_leg_best_of_three():
    r = ProtocolRunner(get_protocol("single_leg_stance"), Patient(age_years=72, sex="female"))
    c = Clock(r)
    c("start")
    c("confirm")
    for hold in (3.0, 7.5, 5.0):
        c.ready_and_hold(hold)
        c("on_balance_lost")
        c("on_trial_result", SWAY)
        c("confirm")
    assert r.state.condition == "eyes_closed"
    c.ready_and_hold(45.0)
    c("on_trial_result", SWAY)
    res = r.result()
    assert r.done and res.scores["best_eyes_open_s"] == pytest.approx(7.5)
    assert res.scores["best_eyes_closed_s"] == 45.0
    eo = next(n for n in res.norms if n.measure.endswith("eyes_open"))
    assert eo.at_risk is True and eo.norm == 16.7
    assert [t.scored for t in res.trials_of("eyes_open")] == [False, True, False]
