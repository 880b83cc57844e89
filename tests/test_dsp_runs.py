"""Runs of a mask (dsp.runs): exact ranges, edges, empty input."""

from __future__ import annotations

import numpy as np

from balance_mon.dsp.gaps import Segment
from balance_mon.dsp.runs import run_bounds, true_runs


def test_runs_at_both_edges_and_inside() -> None:
    m = np.array([1, 1, 0, 0, 1, 0, 1, 1, 1], dtype=bool)
    assert true_runs(m) == [(0, 2), (4, 5), (6, 9)]
    starts, stops = run_bounds(m)
    assert starts.tolist() == [0, 4, 6] and stops.tolist() == [2, 5, 9]


def test_runs_of_empty_all_false_all_true() -> None:
    assert true_runs(np.zeros(0, dtype=bool)) == []
    assert true_runs(np.zeros(5, dtype=bool)) == []
    assert true_runs(np.ones(5, dtype=bool)) == [(0, 5)]


def test_segment_time_stamps_built_on_demand() -> None:
    seg = Segment(t0_s=10.0, acc_mps2=np.zeros((4, 3)), gyr_dps=None, fs_hz=2.0)
    assert seg.n_samples == 4 and seg.duration_s == 2.0
    assert seg.time_s.tolist() == [10.0, 10.5, 11.0, 11.5]
    assert seg.time_s is seg.time_s  # built once
