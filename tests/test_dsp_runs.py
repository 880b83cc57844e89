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


def test_longest_run_and_index_runs() -> None:
    from balance_mon.dsp.runs import index_runs, longest_run

    m = np.array([1, 1, 0, 1, 1, 1, 0, 0, 1], dtype=bool)
    assert longest_run(m) == 3
    assert longest_run(np.zeros(4, dtype=bool)) == 0 and longest_run(np.ones(4, dtype=bool)) == 4
    assert longest_run(np.zeros(0, dtype=bool)) == 0
    starts, stops = index_runs(np.flatnonzero(m))
    assert list(zip(starts.tolist(), stops.tolist(), strict=True)) == true_runs(m)
    assert index_runs(np.zeros(0, dtype=np.intp))[0].size == 0
    rng = np.random.default_rng(0)
    for _ in range(300):
        r = rng.random(int(rng.integers(0, 40))) < rng.random()
        assert longest_run(r) == max((b - a for a, b in true_runs(r)), default=0)
