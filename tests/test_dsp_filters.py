"""Shared filters (dsp.filters): the same numbers as scipy and numpy, edge cases."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from balance_mon.dsp.filters import (
    block_mean,
    highpass_zero_phase,
    lowpass_zero_phase,
    moving_mean,
    moving_sd,
    working_factor,
)
from balance_mon.errors import RecordingError


@pytest.mark.parametrize("n", [2, 3, 7, 27, 28, 500, 70_001])
@pytest.mark.parametrize(("shape", "axis"), [((None,), 0), ((None, 3), 0), ((3, None), 1)])
def test_zero_phase_filters_equal_scipy_sosfiltfilt(n, shape, axis) -> None:
    """The cached initial conditions change nothing, nor does filtering a long
    series piece by piece (70 001 samples: two whole pieces and a part): bit-identical
    to scipy."""
    rng = np.random.default_rng(n)
    x = rng.normal(size=tuple(n if s is None else s for s in shape))
    for kind, fn, cutoff, order in (
        ("lowpass", lowpass_zero_phase, 1.5, 4),
        ("highpass", highpass_zero_phase, 0.25, 2),
    ):
        sos = signal.butter(order, cutoff, btype=kind, fs=25.0, output="sos")
        padlen = min(3 * (2 * sos.shape[0] + 1), n - 1)
        ref = signal.sosfiltfilt(sos, x, axis=axis, padlen=padlen)
        got = fn(x, 25.0, cutoff_hz=cutoff, order=order, axis=axis)
        assert got.shape == ref.shape
        assert np.array_equal(got, ref)


@pytest.mark.parametrize("n", [5, 500, 70_001])
def test_public_filter_loop_gives_the_same_numbers(n, monkeypatch) -> None:
    """Without scipy's compiled loop (a scipy that moved it) the public function runs."""
    from balance_mon.dsp import filters

    x = np.random.default_rng(n).normal(size=(n, 3))
    fast = lowpass_zero_phase(x, 25.0, cutoff_hz=1.5)
    monkeypatch.setattr(filters, "_sosfilt_compiled", None)
    slow = lowpass_zero_phase(x, 25.0, cutoff_hz=1.5)
    sos = signal.butter(4, 1.5, fs=25.0, output="sos")
    ref = signal.sosfiltfilt(sos, x, axis=0, padlen=min(15, n - 1))
    assert np.array_equal(slow, fast) and np.array_equal(slow, ref)


def test_zero_phase_filter_edge_cases() -> None:
    one = np.array([[1.0, 2.0, 3.0]])
    out = lowpass_zero_phase(one, 100.0, cutoff_hz=5.0)
    assert np.array_equal(out, one) and out is not one
    with pytest.raises(RecordingError, match="sampling rate above"):
        lowpass_zero_phase(np.zeros(10), 8.0, cutoff_hz=5.0)


def test_moving_sd_and_mean_exact() -> None:
    x = np.array([0.0, 0.0, 3.0, 0.0, 0.0, 0.0])
    # centred 3-sample windows, edges repeated: the 3 is in windows 1-3
    assert np.allclose(moving_mean(x, 3), [0, 1, 1, 1, 0, 0])
    assert np.allclose(moving_sd(x, 3), [0, np.sqrt(2), np.sqrt(2), np.sqrt(2), 0, 0])
    xy = np.column_stack([x, 2 * x])  # columns summed in quadrature
    assert np.allclose(moving_sd(xy, 3), np.sqrt(5) * moving_sd(x, 3))
    assert np.array_equal(moving_sd(xy, 1), np.zeros(6))
    const = np.full((50, 3), 9.81)
    assert np.all(moving_sd(const, 10) < 1e-6)


def test_block_mean_and_working_factor() -> None:
    x = np.arange(22, dtype=float).reshape(11, 2)
    out = block_mean(x, 4)  # the partial last block is dropped
    assert out.shape == (2, 2)
    assert np.allclose(out, x[:8].reshape(2, 4, 2).mean(axis=1))
    assert np.array_equal(block_mean(x, 2), x[:10].reshape(5, 2, 2).mean(axis=1))
    assert block_mean(x, 1) is not None and np.array_equal(block_mean(x, 1), x)
    assert working_factor(100.0, 25.0) == 4
    assert working_factor(52.0, 25.0) == 2
    assert working_factor(25.0, 25.0) == 1
    assert working_factor(12.5, 25.0) == 1


def test_scipy_compiled_loop_used_only_when_it_gives_the_public_numbers(monkeypatch) -> None:
    import scipy.signal._sosfilt as private

    from balance_mon.dsp import filters

    assert filters._compiled_loop() is not None  # this scipy: its loop is used
    monkeypatch.setattr(private, "_sosfilt", lambda sos, x, zi: None)  # a changed loop
    assert filters._compiled_loop() is None
    monkeypatch.setattr(private, "_sosfilt", lambda sos, x: None)  # a changed signature
    assert filters._compiled_loop() is None
