"""Polar PMD decoder against byte-exact vectors: Polar's own unit tests and our spec vectors.

``tests/vectors/polar_acc_sdk.json`` holds the frames and asserted values of the
Polar SDK's ``AccDataTest.kt`` (raw type 1, compressed types 0 and 1);
``polar_acc_spec.json`` frames packed by hand from devices.md;
``polar_control_sdk.json`` control-point, settings and feature vectors.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from balance_mon.consts import MG_TO_MPS2
from balance_mon.devices import polar
from balance_mon.devices.frames import SampleBatch
from balance_mon.errors import BalanceMonError, DecodeError, DeviceError

VECTORS = Path(__file__).parent / "vectors"
SDK = json.loads((VECTORS / "polar_acc_sdk.json").read_text())
SPEC = json.loads((VECTORS / "polar_acc_spec.json").read_text())
CONTROL = json.loads((VECTORS / "polar_control_sdk.json").read_text())


def hexbytes(text: str) -> bytes:
    return bytes.fromhex(text)


# --- Polar SDK vectors ----------------------------------------------------------


@pytest.mark.parametrize("vec", SDK["frames"], ids=lambda v: v["name"])
def test_sdk_vectors(vec: dict) -> None:
    frame = hexbytes(vec["frame_hex"])
    factor = float(np.float32(vec["factor_f32"]))
    times, acc = polar.decode_pmd_frame(
        frame,
        factor=factor,
        previous_timestamp_ns=vec["previous_timestamp_ns"],
        sample_rate_hz=vec["sample_rate_hz"],
    )
    exp = vec["expected"]
    assert times.dtype == np.int64 and acc.dtype == np.float64
    assert acc.shape == (exp["n_samples"], 3)
    assert times.shape == (exp["n_samples"],)
    for i, mg in exp.get("samples_mg", {}).items():
        assert acc[int(i)].tolist() == mg
    for i, mg in exp.get("samples_mg_truncated", {}).items():
        assert np.trunc(acc[int(i)]).astype(int).tolist() == mg
    for i, c in exp.get("counts", {}).items():
        np.testing.assert_allclose(acc[int(i)], np.array(c) * factor * 1000.0, rtol=1e-12)
    if "first_timestamp_ns" in exp:
        assert times[0] == exp["first_timestamp_ns"]
    if "last_timestamp_ns" in exp:
        assert times[-1] == exp["last_timestamp_ns"]
    if "timestamps_ns" in exp:
        assert times.tolist() == exp["timestamps_ns"]
    if exp.get("all_within_range"):
        assert np.all(np.abs(acc) <= vec["range_g"] * 1000)


def test_sdk_raw_type1_all_samples_match_the_bytes() -> None:
    """Every sample of the SDK's raw frame equals the int16 triplets read independently."""
    frame = hexbytes(SDK["frames"][0]["frame_hex"])
    _, acc = polar.decode_pmd_frame(frame, sample_rate_hz=52)
    direct = struct.unpack(f"<{(len(frame) - 10) // 2}h", frame[10:])
    assert acc.ravel().tolist() == list(direct)


def test_sdk_raw_type1_timestamps_match_sdk_formula() -> None:
    """Without a previous timestamp the spacing is 1e9/52 ns back from the last sample."""
    frame = hexbytes(SDK["frames"][0]["frame_hex"])
    times, _ = polar.decode_pmd_frame(frame, sample_rate_hz=52)
    step = 1e9 / 52
    first = 2_000_000_000 - step * 35
    expected = [round(first + step * i) for i in range(35)] + [2_000_000_000]
    assert times.tolist() == expected


# --- spec vectors ---------------------------------------------------------------


SPEC_CASES = [(v, c) for v in SPEC["valid"] for c in v["cases"]]


@pytest.mark.parametrize(
    ("vec", "case"), SPEC_CASES, ids=[f"{v['name']}-{i}" for i, (v, _) in enumerate(SPEC_CASES)]
)
def test_spec_vectors(vec: dict, case: dict) -> None:
    times, acc = polar.decode_pmd_frame(
        hexbytes(vec["frame_hex"]),
        factor=case["factor"],
        previous_timestamp_ns=case["previous_timestamp_ns"],
        sample_rate_hz=case["sample_rate_hz"],
    )
    assert acc.tolist() == case["acc_mg"]
    assert times.tolist() == case["timestamps_ns"]


@pytest.mark.parametrize("vec", SPEC["malformed"], ids=lambda v: v["why"])
def test_malformed_frames_raise_decode_error(vec: dict) -> None:
    frame = hexbytes(vec["frame_hex"])
    with pytest.raises(DecodeError) as info:
        polar.decode_pmd_frame(frame, previous_timestamp_ns=0, sample_rate_hz=100)
    assert isinstance(info.value, ValueError) and isinstance(info.value, BalanceMonError)
    assert "Polar PMD" in str(info.value)


def test_timestamp_not_after_previous_raises() -> None:
    frame = hexbytes(SPEC["valid"][0]["frame_hex"])
    ts = 946833049921875000
    with pytest.raises(DecodeError, match="not after"):
        polar.decode_pmd_frame(frame, previous_timestamp_ns=ts)
    with pytest.raises(DecodeError, match="not after"):
        polar.decode_pmd_frame(frame, previous_timestamp_ns=ts + 1)


def test_several_samples_need_a_previous_timestamp_or_a_rate() -> None:
    frame = hexbytes(SPEC["valid"][0]["frame_hex"])
    with pytest.raises(DecodeError, match="neither"):
        polar.decode_pmd_frame(frame)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"sample_rate_hz": 0},
        {"sample_rate_hz": -5},
        {"sample_rate_hz": float("nan")},
        {"sample_rate_hz": float("inf")},
        {"sample_rate_hz": "fast"},
        {"sample_rate_hz": 1e-300},
        {"previous_timestamp_ns": 1.5},
        {"previous_timestamp_ns": -1},
        {"previous_timestamp_ns": "x"},
        {"previous_timestamp_ns": 2**64},
    ],
)
def test_bad_arguments_raise_decode_error(kwargs: dict) -> None:
    frame = hexbytes(SPEC["valid"][0]["frame_hex"])
    with pytest.raises(DecodeError):
        polar.decode_pmd_frame(frame, **kwargs)


@pytest.mark.parametrize("factor", [float("nan"), float("inf"), "big", None, 1e308])
def test_bad_factor_on_compressed_frame_raises(factor: object) -> None:
    frame = hexbytes(SPEC["valid"][4]["frame_hex"])
    with pytest.raises(DecodeError):
        polar.decode_pmd_frame(frame, factor=factor, sample_rate_hz=100)  # type: ignore[arg-type]


@pytest.mark.parametrize("frame", [None, 123, "02 00", [2, 0, 0]])
def test_non_bytes_raise_decode_error(frame: object) -> None:
    with pytest.raises(DecodeError):
        polar.decode_pmd_frame(frame, sample_rate_hz=100)  # type: ignore[arg-type]


def test_bytearray_and_memoryview_accepted() -> None:
    frame = hexbytes(SPEC["valid"][4]["frame_hex"])
    a = polar.decode_pmd_frame(bytearray(frame), sample_rate_hz=100)
    b = polar.decode_pmd_frame(memoryview(frame), sample_rate_hz=100)
    assert a[0].tolist() == b[0].tolist() and a[1].tolist() == b[1].tolist()


def test_one_bit_deltas_are_twos_complement() -> None:
    """W=1 fields are 0 or -1 (the SDK's sign mask would give +2**31-1)."""
    ref = struct.pack("<3h", 0, 0, 0)
    frame = b"\x02" + struct.pack("<Q", 10**9) + b"\x81" + ref + bytes((1, 1, 0b101))
    _, acc = polar.decode_pmd_frame(frame, sample_rate_hz=100)
    assert acc.tolist() == [[0, 0, 0], [-1, 0, -1]]


def test_large_timestamps_are_exact() -> None:
    """Integer arithmetic: no float64 quantisation at present-day sensor times."""
    ts = 7 * 10**17 + 123_456_789
    prev = ts - 10_000_003
    frame = polar.encode_acc_frame(np.zeros((7, 3)), ts)
    times, _ = polar.decode_pmd_frame(frame, previous_timestamp_ns=prev)
    expected = [prev + round(10_000_003 * k / 7) for k in range(1, 8)]
    assert times.tolist() == expected
    assert times[-1] == ts


# --- encoder round trips ----------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(
    n=st.integers(1, 60),
    ftype=st.sampled_from([0, 1, 2]),
    seed=st.integers(0, 2**32 - 1),
    ts=st.integers(10**9, 2**63 - 1),
)
def test_raw_round_trip(n: int, ftype: int, seed: int, ts: int) -> None:
    rng = np.random.default_rng(seed)
    lim = 2 ** (8 * (ftype + 1) - 1)
    x = rng.integers(-lim, lim, size=(n, 3))
    frame = polar.encode_acc_frame(x, ts, frame_type=ftype)
    times, acc = polar.decode_pmd_frame(frame, sample_rate_hz=200)
    assert acc.tolist() == x.tolist()
    assert times[-1] == ts and len(frame) == 10 + n * 3 * (ftype + 1)


@settings(max_examples=150, deadline=None)
@given(
    n=st.integers(1, 300),
    ftype=st.sampled_from([0, 1]),
    seed=st.integers(0, 2**32 - 1),
    spread=st.sampled_from([0, 1, 3, 100, 2**14, 2**20]),
    block=st.integers(1, 255),
)
def test_compressed_round_trip(n: int, ftype: int, seed: int, spread: int, block: int) -> None:
    rng = np.random.default_rng(seed)
    factor = float(np.float32(0.000244)) if ftype == 0 else 1.0
    unit = factor * 1000.0 if ftype == 0 else factor
    counts = rng.integers(-(2**15), 2**15, size=(1, 3))
    steps = rng.integers(-spread, spread + 1, size=(n - 1, 3))
    counts = np.vstack((counts, counts + np.cumsum(steps, axis=0)))
    frame = polar.encode_acc_frame(
        counts * unit, 10**12, frame_type=ftype, compressed=True, factor=factor, block_samples=block
    )
    _, acc = polar.decode_pmd_frame(frame, factor=factor, sample_rate_hz=100)
    assert np.array_equal(acc, counts * unit)


def test_encoder_saturates_like_a_sensor() -> None:
    frame = polar.encode_acc_frame([[40000.4, -40000, 0.6]], 5)
    _, acc = polar.decode_pmd_frame(frame)
    assert acc.tolist() == [[32767, -32768, 1]]


def test_encoder_rejects_bad_shapes() -> None:
    with pytest.raises(ValueError):
        polar.encode_acc_frame(np.zeros((0, 3)), 1)
    with pytest.raises(ValueError):
        polar.encode_acc_frame(np.zeros((2, 2)), 1)
    with pytest.raises(ValueError):
        polar.encode_acc_frame(np.zeros((2, 3)), 1, frame_type=2, compressed=True)


# --- stream decoder ---------------------------------------------------------------


def test_stream_decoder_si_units_and_previous_timestamp() -> None:
    dec = polar.PolarAccStreamDecoder(1.0, 100)
    x = np.array([[0, 0, 1000]] * 10)
    t0 = 10**15
    b1 = dec.feed(polar.encode_acc_frame(x, t0))
    b2 = dec.feed(polar.encode_acc_frame(x, t0 + 100_000_000))
    assert len(b1) == 1 and len(b2) == 1
    batch = b2[0]
    assert isinstance(batch, SampleBatch)
    assert batch.gyr_dps is None and batch.seq is None and batch.lost_packets == 0
    np.testing.assert_allclose(batch.acc_mps2[:, 2], 1000 * MG_TO_MPS2)
    np.testing.assert_allclose(np.diff(b1[0].device_time_s), 0.01, rtol=1e-9)
    # second frame spaced from the first frame's timestamp
    np.testing.assert_allclose(batch.device_time_s - t0 * 1e-9, np.arange(1, 11) * 0.01, atol=1e-6)
    assert dec.frames_ == 2


def test_stream_decoder_follows_sensor_clock_not_nominal_rate() -> None:
    dec = polar.PolarAccStreamDecoder(sample_rate_hz=100)
    x = np.zeros((10, 3))
    dec.feed(polar.encode_acc_frame(x, 10**12))
    (b,) = dec.feed(polar.encode_acc_frame(x, 10**12 + 102_000_000))  # clock 2 % slow
    np.testing.assert_allclose(np.diff(b.device_time_s), 0.0102, rtol=1e-9)


def test_stream_decoder_gap_and_clock_reset() -> None:
    dec = polar.PolarAccStreamDecoder(sample_rate_hz=100)
    x = np.zeros((10, 3))
    dec.feed(polar.encode_acc_frame(x, 10**12))
    (gap,) = dec.feed(polar.encode_acc_frame(x, 10**12 + 300_000_000))  # two frames missing
    assert gap.lost_packets == 2 and dec.gaps_ == 1
    np.testing.assert_allclose(np.diff(gap.device_time_s), 0.01, rtol=1e-9)
    (reset,) = dec.feed(polar.encode_acc_frame(x, 5 * 10**9))  # clock went back
    assert dec.clock_resets_ == 1
    assert reset.device_time_s[-1] == pytest.approx(5.0)
    np.testing.assert_allclose(np.diff(reset.device_time_s), 0.01, rtol=1e-9)


def test_stream_decoder_skips_other_measurements_and_keeps_state_on_error() -> None:
    dec = polar.PolarAccStreamDecoder(sample_rate_hz=100)
    ecg = b"\x00" + struct.pack("<Q", 10**12) + b"\x00" + bytes(9)
    assert dec.feed(ecg) == [] and dec.skipped_frames_ == 1
    with pytest.raises(DecodeError):
        dec.feed(b"\x02" + struct.pack("<Q", 10**12) + b"\x01\x00")
    assert dec.frames_ == 0
    with pytest.raises(DecodeError):
        dec.feed(b"")


def test_stream_decoder_first_frame_needs_rate() -> None:
    dec = polar.PolarAccStreamDecoder()
    with pytest.raises(DecodeError):
        dec.feed(polar.encode_acc_frame(np.zeros((3, 3)), 10**12))


# --- control point ----------------------------------------------------------------


@pytest.mark.parametrize("vec", CONTROL["settings"], ids=lambda v: v["sdk_test"])
def test_settings_vectors(vec: dict) -> None:
    got = polar.parse_settings(hexbytes(vec["params_hex"]))
    assert {k: list(v) for k, v in got.items()} == vec["expected"]


def test_settings_factor_and_errors() -> None:
    params = bytes((5, 1)) + struct.pack("<f", 2.44e-4)
    (factor,) = polar.parse_settings(params)["factor"]
    assert factor == float(np.float32(2.44e-4))
    assert polar.parse_settings(b"") == {}
    for bad in (b"\x00", b"\x06\x01\x00", b"\x00\x02\x34\x00\x01", b"\x05\x01\x00\x00"):
        with pytest.raises(DecodeError):
            polar.parse_settings(bad)


@pytest.mark.parametrize("vec", CONTROL["responses"], ids=lambda v: v["sdk_test"])
def test_response_vectors(vec: dict) -> None:
    r = polar.parse_control_point_response(hexbytes(vec["hex"]))
    exp = vec["expected"]
    assert (r.opcode, r.measurement_type, r.status, r.more) == (
        exp["opcode"],
        exp["measurement_type"],
        exp["status"],
        exp["more"],
    )
    assert r.params == hexbytes(exp["params_hex"])
    assert r.ok == (exp["status"] == 0)
    if "status_text" in exp:
        assert r.status_text == exp["status_text"]


def test_response_continuation_and_errors() -> None:
    first = polar.parse_control_point_response(bytes.fromhex("F0 01 02 00 01 00 01 34 00"))
    nxt = polar.parse_control_point_response(bytes.fromhex("F0 01 02 00 00 01 01 10 00"))
    assert first.more and not nxt.more
    joined = polar.join_responses([first, nxt])
    assert not joined.more
    assert polar.parse_settings(joined.params) == {
        "sample_rate_hz": (52,),
        "resolution_bits": (16,),
    }
    for bad in (b"", b"\xf0\x01\x02", b"\x01\x02\x00\x00\x00"):
        with pytest.raises(DecodeError):
            polar.parse_control_point_response(bad)
    other = polar.parse_control_point_response(bytes.fromhex("F0 02 02 00 00"))
    with pytest.raises(DecodeError):
        polar.join_responses([first, other])
    with pytest.raises(DecodeError):
        polar.join_responses([])
    unknown = polar.parse_control_point_response(bytes.fromhex("F0 02 02 63"))
    assert unknown.status_text == "unknown status 99" and not unknown.ok


def test_measurement_stopped_indication() -> None:
    assert polar.parse_measurement_stopped(bytes.fromhex("01 02")) == (2,)
    assert polar.parse_measurement_stopped(bytes.fromhex("01")) == ()
    assert polar.parse_measurement_stopped(bytes.fromhex("F0 02 02 00 00")) is None


@pytest.mark.parametrize("vec", CONTROL["features"], ids=lambda v: v["what"])
def test_feature_vectors(vec: dict) -> None:
    assert polar.parse_features(hexbytes(vec["hex"])) == set(vec["expected"])


def test_features_all_bits_and_errors() -> None:
    assert polar.parse_features(b"\x0f\xff\xff") == set(polar.FEATURE_BITS.values())
    assert polar.parse_features(b"\x0f\x24") == {"acc", "gyro"}
    for bad in (b"", b"\x0f", b"\x0e\x05"):
        with pytest.raises(DecodeError):
            polar.parse_features(bad)


def test_commands() -> None:
    start, stop = CONTROL["commands"]
    assert polar.build_start_command(**start["args"]) == hexbytes(start["hex"])
    assert polar.build_start_command(200, 8) == hexbytes(start["hex"])
    assert polar.build_stop_command() == hexbytes(stop["hex"])
    assert polar.build_get_settings_command() == b"\x01\x02"
    assert polar.build_start_command(52, 8, channels=3).endswith(b"\x04\x01\x03")
    for args in ((0, 8), (200, 70000), (200.0, 8), (200, -2)):
        with pytest.raises(DeviceError):
            polar.build_start_command(*args)  # type: ignore[arg-type]
    with pytest.raises(DeviceError):
        polar.build_start_command(200, 8, channels=300)
