"""Impact loading (analysis.loading): formulas, synthetic peaks, simulated truth, real walking."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from balance_mon.analysis.loading import (
    ImpactLoading,
    StepDetector,
    daily_impact_score,
    osteogenic_index,
)
from balance_mon.analysis.registry import run_analysis
from balance_mon.consts import GRAVITY_MPS2
from balance_mon.errors import RecordingError
from balance_mon.io import load_recording
from balance_mon.recording import Recording
from balance_mon.sim import SensorSpec, simulate_impacts

G = GRAVITY_MPS2
ROOT = Path(__file__).resolve().parents[1]
MOBGAP = ROOT / "sample_data" / "real" / "mobgap"


def test_osteogenic_index_and_daily_impact_score_exact() -> None:
    # bins of 0.1 g: 1.5 g x 3 peaks, 4.2 g x 1 peak -> 1.55 ln 4 + 4.25 ln 2
    peaks = [1.52, 1.55, 1.58, 4.21]
    assert osteogenic_index(peaks) == pytest.approx(1.55 * math.log(4) + 4.25 * math.log(2))
    assert osteogenic_index(peaks, min_g=4.0) == pytest.approx(4.25 * math.log(2))
    assert osteogenic_index([]) == 0.0
    assert daily_impact_score([2.0, 2.0]) == pytest.approx((2 * 16) ** 0.25)
    assert daily_impact_score([]) == 0.0
    # 60 landings at 4.5 g weigh as much as 5000 steps at 1.5 g (module docstring)
    assert daily_impact_score([4.5] * 60) == pytest.approx(12.5, abs=0.1)
    assert daily_impact_score([1.5] * 5000) == pytest.approx(12.6, abs=0.1)


def _pulses(peaks_g: list[float], fs: float = 100.0, range_g: float | None = None):
    """Standing still with vertical Gaussian pulses (sigma 20 ms) 1 s apart."""
    t = np.arange(0, len(peaks_g) + 2.0, 1 / fs)
    v = np.full(t.size, G)
    for i, p in enumerate(peaks_g):
        v += (p - 1.0) * G * np.exp(-0.5 * ((t - 1.0 - i) / 0.02) ** 2)
    acc = np.column_stack([v, np.zeros_like(v), np.zeros_like(v)])
    if range_g is not None:
        acc = np.clip(acc, -range_g * G, range_g * G)
    return t, acc


def test_peaks_counted_exactly_on_synthetic_pulses() -> None:
    peaks = [1.5, 2.5, 3.0, 4.5, 5.7, 1.9]
    _t, acc = _pulses(peaks)
    out = ImpactLoading().analyze(acc, 100.0).result()
    assert out["impacts_over_2g"] == 4
    assert out["impacts_over_4g"] == 2
    assert out["peak_g"] == pytest.approx(5.7, abs=1e-6)
    assert out["saturated_peaks"] == 0
    assert out["steps"] == 0  # isolated pulses are not gait
    assert out["osteogenic_index"] == pytest.approx(osteogenic_index(peaks), rel=1e-6)


def test_saturated_peaks_count_as_at_least_the_range() -> None:
    _t, acc = _pulses([2.5, 4.5, 6.0, 7.0], range_g=4.0)
    out = ImpactLoading().analyze(acc, 100.0).result()
    assert out["saturated_peaks"] == 3
    assert out["impacts_over_4g"] == 3  # clipped at 4 g: at least 4 g
    assert out["impacts_over_2g"] == 4
    assert out["peak_g"] == pytest.approx(4.0)
    assert out["peak_g_is_lower_bound"] is True
    assert out["saturated_range_g"] == pytest.approx(4.0)
    assert out["clipped_samples"] > 0


def test_bad_input() -> None:
    with pytest.raises(RecordingError):
        ImpactLoading().analyze(np.zeros((10, 2)), 100.0)
    with pytest.raises(RecordingError):
        ImpactLoading().analyze(np.zeros((10, 3)), -1.0)
    with pytest.raises(RecordingError):
        ImpactLoading().analyze(np.zeros((10, 3)), 100.0, time_s=np.arange(5))
    # too short for steps: still a valid, empty answer
    out = ImpactLoading().analyze(np.tile([G, 0, 0], (50, 1)), 100.0).result()
    assert out["steps"] == 0 and out["peaks"] == 0 and out["peak_g"] is None


@pytest.mark.parametrize(
    ("range_g", "fs"),
    [(16.0, 100.0), (4.0, 200.0), (8.0, 50.0)],
)
def test_simulated_impact_counts_within_5_percent(range_g: float, fs: float) -> None:
    acts = [
        {"kind": "walk", "steps": 24, "peak_g": 1.5},
        "rest",
        {"kind": "jog", "steps": 30, "peak_g": 3.0},
        "rest",
        {"kind": "jump", "count": 8, "peak_g": 5.5},
        "rest",
        {"kind": "heel_drop", "count": 8, "peak_g": 2.6},
    ]
    res = simulate_impacts(acts, sensor=SensorSpec(range_g=range_g, fs_hz=fs), seed=11)
    truth = res.truth["counts"]
    out = ImpactLoading().analyze_recording(res.recording).result()
    for key in ("impacts_over_2g", "impacts_over_4g"):
        assert abs(out[key] - truth[key]) <= 0.05 * max(truth[key], 1), (key, out[key], truth[key])
    assert abs(out["steps"] - truth["steps"]) <= 0.05 * truth["steps"]
    assert out["saturated_peaks"] == truth["saturated_impacts"]
    if range_g == 4.0:
        assert truth["saturated_impacts"] == 8  # the jumps
        assert out["peak_g_is_lower_bound"]


def test_stairs_and_hops_told_from_walking() -> None:
    acts = [
        {"kind": "stairs_up", "steps": 10},
        "rest",
        {"kind": "stairs_down", "steps": 10},
        "rest",
        {"kind": "heel_drop", "count": 10, "interval_s": 0.0},
    ]
    res = simulate_impacts(acts, seed=4)
    det = StepDetector().detect(res.recording.acc_mps2, res.recording.fs_hz)
    kinds = [b.kind for b in det.bouts_]
    assert kinds.count("stairs_up") == 1 and kinds.count("stairs_down") == 1
    up = next(b for b in det.bouts_ if b.kind == "stairs_up")
    assert up.elevation_m == pytest.approx(1.7, abs=0.3)
    assert up.steps == 10
    # heel drops land on both feet: contacts, not steps
    out = ImpactLoading().analyze_recording(res.recording).result()
    assert out["steps"] == 20
    assert out["stair_steps"] == 20


@pytest.mark.parametrize(
    ("name", "expected"),
    # counted by eye from the vertical acceleration (docs/figures/bone_steps_mobgap.png):
    # HA001 10 clear steps 5.1-10.6 s; MS001 11, the first a short gait-initiation step
    [("mobgap_ha001_test5_straight_walk", 10), ("mobgap_ms001_test5_straight_walk", 11)],
)
def test_real_walking_step_counts(name: str, expected: int) -> None:
    rec = load_recording(MOBGAP / f"{name}.csv")
    out = run_analysis("loading", rec)["loading"]
    assert abs(out["steps"] - expected) <= 1
    assert 90.0 <= out["cadence_spm"] <= 120.0
    assert out["impacts_over_4g"] == 0  # walking never reaches the osteogenic threshold
    assert [b["kind"] for b in out["bouts"]] == ["walk"]


def test_daily_living_snapshot() -> None:
    rec = load_recording(MOBGAP / "mobgap_ha001_test11_daily_living.csv")
    out = run_analysis("loading", rec)["loading"]
    assert 60 <= out["steps"] <= 90  # 8 walking bouts of 4-21 steps
    assert out["impacts_over_4g"] == 0
    assert out["peak_g"] < 4.0


def test_gapped_recording_peaks_from_raw_samples() -> None:
    t, acc = _pulses([2.5, 3.5, 4.5, 5.5])
    keep = (t < 2.4) | (t > 2.6)
    rec = Recording(time_s=t[keep], acc_mps2=acc[keep], fs_nominal_hz=100.0, placement="lower_back")
    out = ImpactLoading().analyze_recording(rec).result()
    assert out["impacts_over_2g"] == 4
    assert out["peak_g"] == pytest.approx(5.5)


def test_cli_analyze_loading_json() -> None:
    path = MOBGAP / "mobgap_ha001_test5_straight_walk.csv"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "balance_mon.cli",
            "analyze",
            str(path),
            "--test",
            "loading",
            "--json",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)["loading"]
    for key in ("steps", "impacts_over_2g", "impacts_over_4g", "osteogenic_index", "peak_g"):
        assert key in out
    assert out["steps"] == 10
