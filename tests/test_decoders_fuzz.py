"""Fuzzing the device decoders: random and mutated packets may only raise DecodeError.

Runs the harness of ``bench/fuzz_decoders.py`` (seeded) on 50,000 packets in the
normal suite; set ``BALANCE_MON_FUZZ_N`` (e.g. 1000000) for a long run, or run
the script itself, which also prints counts and timing.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
from pathlib import Path

import pytest

from balance_mon.devices import polar, reference, witmotion
from balance_mon.errors import DecodeError

SCRIPT = Path(__file__).resolve().parent.parent / "bench" / "fuzz_decoders.py"


def load_harness():  # returns the harness module
    spec = importlib.util.spec_from_file_location("fuzz_decoders", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["fuzz_decoders"] = module
    spec.loader.exec_module(module)
    return module


def test_fuzz_only_decode_error_escapes() -> None:
    n = int(os.environ.get("BALANCE_MON_FUZZ_N", "50000"))
    fz = load_harness().run_fuzz(n, seed=int(os.environ.get("BALANCE_MON_FUZZ_SEED", "20240611")))
    assert fz.failures == []
    total = sum(s["packets"] for s in fz.stats.values())
    assert total == pytest.approx(n, abs=4)
    for family, s in fz.stats.items():
        # the corpus is good enough that some inputs decode and some are rejected
        assert s["decoded"] > 0 and s["rejected"] > 0, family


def test_harness_catches_a_foreign_exception(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fuzzer must be able to fail: a decoder raising IndexError is reported."""
    harness = load_harness()

    def broken(frame, **kwargs):
        raise IndexError("boom")

    monkeypatch.setattr(harness.polar, "decode_pmd_frame", broken)
    fz = harness.run_fuzz(200, seed=1)
    assert any(f["decoder"] == "polar.decode_pmd_frame" for f in fz.failures)


@pytest.mark.parametrize(
    "fn",
    [
        lambda d: polar.decode_pmd_frame(d, sample_rate_hz=100),
        polar.parse_control_point_response,
        polar.parse_settings,
        polar.parse_features,
        reference.decode_packet,
        reference.decode_config,
        witmotion.decode_frame,
        witmotion.decode_register_frame,
        lambda d: polar.PolarAccStreamDecoder(sample_rate_hz=100).feed(d),
        lambda d: reference.ReferenceStreamDecoder().feed(d),
    ],
)
@pytest.mark.parametrize("data", [b"", b"\x00", b"\xff" * 3, bytes(range(256)), b"\x02" * 600])
def test_edge_inputs(fn, data: bytes) -> None:
    """Degenerate inputs either decode or raise DecodeError (nothing else)."""
    with contextlib.suppress(DecodeError):
        fn(data)
