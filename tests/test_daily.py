"""A day of wear: transfers, repetition bouts and sway over quiet-standing bouts."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from balance_mon import sim
from balance_mon.analysis.daily import DailyActivity, standing_spans
from balance_mon.analysis.transitions import Transition
from balance_mon.io import save_recording
from balance_mon.recording import Recording


def _tr(kind: str, a: float, b: float) -> Transition:
    return Transition(
        kind=kind,
        start_s=a,
        end_s=b,
        peak_s=0.5 * (a + b),
        peak_velocity_mps=0.5,
        displacement_m=0.3,
        tilt_deg=30.0,
        fs_hz=50.0,
        position_m=(),
    )


def test_standing_spans_follow_the_transfers() -> None:
    ev = [_tr("sit_to_stand", 10, 12), _tr("stand_to_sit", 50, 52), _tr("sit_to_stand", 80, 82)]
    assert standing_spans(ev, 0.0, 100.0) == [(12, 50), (82, 100.0)]
    # standing at the start: up until the first sit
    assert standing_spans([_tr("stand_to_sit", 5, 7)], 0.0, 20.0) == [(0.0, 5)]
    assert standing_spans([], 0.0, 20.0) == []  # posture unknown


def test_quiet_standing_between_a_rise_and_a_sit_is_found_and_scored() -> None:
    res = sim.simulate_sit_to_stand(standing_s=30.0, seed=3)
    rec = res.recording
    d = DailyActivity().analyze_recording(rec)
    out = d.result()
    assert out["sit_to_stand_count"] == 1 and out["stand_to_sit_count"] == 1
    off = next(e["time_s"] for e in res.truth["events"] if e["name"] == "seat_off")
    on = next(e["time_s"] for e in res.truth["events"] if e["name"] == "seat_contact")
    (bout,) = out["quiet_standing_bouts"]
    assert off < bout["start_s"] < bout["end_s"] < on
    assert bout["end_s"] - bout["start_s"] >= 20.0  # 30 s standing minus rise, sit, margins
    assert 0 < bout["rms_mps2"] < 0.1
    assert out["algorithm"]["name"] == "DailyActivity"
    json.dumps(out, allow_nan=False)


def test_short_standing_gives_no_bout_and_input_is_not_modified() -> None:
    rec = sim.simulate_sit_to_stand(standing_s=8.0, seed=4).recording
    acc = rec.acc_mps2.copy()
    out = DailyActivity().analyze_recording(rec).result()
    assert out["quiet_standing_bouts"] == [] and out["quiet_standing_s"] == 0.0
    np.testing.assert_array_equal(rec.acc_mps2, acc)


def test_moving_while_standing_is_not_quiet() -> None:
    """Walking in the middle of a standing spell splits the quiet bout."""
    res = sim.simulate_sit_to_stand(standing_s=40.0, seed=5)
    rec = res.recording
    acc = rec.acc_mps2.copy()
    t = rec.time_s
    mid = (t > 18.0) & (t < 24.0)
    acc[mid, 1] += 2.0 * np.sin(2 * np.pi * 1.8 * t[mid])  # steps: 2 m/s^2 at 1.8 Hz
    moved = Recording(
        time_s=t, acc_mps2=acc, gyr_dps=None, fs_nominal_hz=rec.fs_nominal_hz, metadata={}
    )
    bouts = DailyActivity().analyze_recording(moved).quiet_bouts_
    assert bouts and all(b <= 18.0 or a >= 24.0 for a, b, _ in bouts)


@pytest.mark.parametrize("fmt", ["csv"])
def test_analyze_daily_json(tmp_path, fmt) -> None:
    rec = sim.simulate_sit_to_stand(standing_s=25.0, seed=6).recording
    path = tmp_path / f"day.{fmt}"
    save_recording(rec, path)
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "balance_mon.cli",
            "analyze",
            str(path),
            "--test",
            "daily",
            "--json",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    daily = json.loads(out.stdout)["daily"]
    assert daily["sit_to_stand_count"] == 1 and len(daily["quiet_standing_bouts"]) == 1
    assert {"steps", "impacts_over_2g", "impacts_over_4g", "osteogenic_index", "peak_g"} <= set(
        daily["loading"]
    )
    assert {"peak_flexion_deg", "mean_flexion_deg", "events"} <= set(daily["posture"])
    assert set(daily["algorithm"]["uses"]) == {"transitions", "reps", "loading", "posture"}


def test_day_bone_blocks_match_the_analyses_run_alone() -> None:
    """The day's loading and posture reuse its repetition sets and gait bouts and
    give what the analyses find on their own."""
    from balance_mon.analysis.loading import ImpactLoading
    from balance_mon.analysis.posture import TrunkPosture

    rec = sim.simulate_lifts("stoop", lifts=5, seed=8).recording
    day = DailyActivity().analyze_recording(rec)
    out = day.result()
    alone = ImpactLoading().analyze_recording(rec).result()
    assert out["loading"] == {k: v for k, v in alone.items() if k != "bouts"}
    post = TrunkPosture().analyze_recording(rec).result()
    assert out["posture"]["event_count"] == post["event_count"] == 5
    assert [e["peak_deg"] for e in out["posture"]["events"]] == pytest.approx(
        [e["peak_deg"] for e in post["events"]], abs=1e-9
    )
    assert "bends" not in out["posture"] and "bouts" not in out["loading"]
    off = DailyActivity(bone=False).analyze_recording(rec)
    assert off.loading_ is None and "loading" not in off.result()
