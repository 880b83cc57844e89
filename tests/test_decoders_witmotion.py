"""WitMotion WT901BLECL frames, stream resynchronisation and commands against byte vectors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from balance_mon.consts import GRAVITY_MPS2
from balance_mon.devices import witmotion as wit
from balance_mon.errors import DecodeError, DeviceError

VECTORS = json.loads((Path(__file__).parent / "vectors" / "witmotion_frames.json").read_text())
FRAMES = {f["name"]: bytes.fromhex(f["hex"]) for f in VECTORS["frames"]}


@pytest.mark.parametrize("vec", VECTORS["frames"], ids=lambda v: v["name"])
def test_frame_vectors(vec: dict) -> None:
    f = wit.decode_frame(bytes.fromhex(vec["hex"]))
    exp = vec["expected"]
    np.testing.assert_allclose(f.acc_mps2, np.array(exp["acc_g"]) * GRAVITY_MPS2, rtol=1e-15)
    assert f.gyr_dps.tolist() == exp["gyr_dps"]
    assert f.angle_deg.tolist() == exp["angle_deg"]


@pytest.mark.parametrize("vec", VECTORS["register_frames"], ids=lambda v: v["what"])
def test_register_frame_vectors(vec: dict) -> None:
    raw = bytes.fromhex(vec["hex"])
    assert wit.decode_register_frame(raw) == (vec["register"], tuple(vec["values"]))
    assert wit.encode_register_frame(vec["register"], vec["values"][:3]) == raw


@pytest.mark.parametrize(
    "bad",
    [b"", FRAMES["level_1g"][:19], FRAMES["level_1g"] + b"\x00", b"\x55\x71" + bytes(18)],
)
def test_decode_frame_rejects(bad: bytes) -> None:
    with pytest.raises(DecodeError, match="WitMotion"):
        wit.decode_frame(bad)


def test_decode_register_frame_rejects() -> None:
    with pytest.raises(DecodeError):
        wit.decode_register_frame(FRAMES["level_1g"])


def test_stream_vectors() -> None:
    dec = wit.WitMotionStreamDecoder()
    for note in VECTORS["stream"]["notifications"]:
        out = dec.feed(bytes.fromhex(note["hex"]))
        exp = note["expected"]
        n = sum(b.n_samples for b in out)
        assert n == exp["samples"], note["what"]
        assert dec.resyncs_ == exp["resyncs"], note["what"]
        if "acc_g" in exp:
            (b,) = out
            np.testing.assert_allclose(b.acc_mps2, np.array(exp["acc_g"]) * GRAVITY_MPS2)
            assert b.device_time_s is None and b.seq is None and b.gyr_dps.shape == (n, 3)
        if "battery_v" in exp:
            assert dec.battery_v == exp["battery_v"]
        if "dropped_partial_frames" in exp:
            assert dec.dropped_partial_frames_ == exp["dropped_partial_frames"]
    assert dec.frames_ == 5 and dec.register_frames_ == 1


def test_register_properties() -> None:
    dec = wit.WitMotionStreamDecoder()
    assert dec.battery_v is None and dec.temperature_c is None and dec.magnetometer_raw is None
    # An answer holds 8 registers: the magnetometer's (0x3A..0x41) covers 0x40 too,
    # so feed it first and let the temperature answer (0x40..) come after.
    for vec in reversed(VECTORS["register_frames"]):
        assert dec.feed(bytes.fromhex(vec["hex"])) == []
    assert dec.battery_v == 4.0 and dec.temperature_c == 25.34
    assert dec.magnetometer_raw == (300, -300, 4096)


@settings(max_examples=200, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_frames=st.integers(1, 30),
    cuts=st.lists(st.integers(0, 600), max_size=20),
)
def test_any_split_gives_the_same_samples(seed: int, n_frames: int, cuts: list[int]) -> None:
    """Frames split or concatenated at arbitrary notification boundaries decode identically."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(-32768, 32768, size=(n_frames, 9))
    # No 0x55 inside the data: a continuation beginning 55 61 would (by design,
    # see dropped_partial_frames_) be taken for a new frame after a lost one.
    has_sync = ((counts & 0xFF) == 0x55) | (((counts >> 8) & 0xFF) == 0x55)
    counts[has_sync] = 0
    stream = b"".join(wit.encode_frame_raw(c) for c in counts)
    bounds = sorted({c for c in cuts if 0 < c < len(stream)})
    dec = wit.WitMotionStreamDecoder()
    acc = []
    for a, b in zip([0, *bounds], [*bounds, len(stream)], strict=True):
        acc += [x.acc_mps2 for x in dec.feed(stream[a:b])]
    got = np.vstack(acc)
    np.testing.assert_allclose(got, counts[:, :3] * (16 / 32768 * GRAVITY_MPS2))
    assert dec.resyncs_ == 0 and dec.frames_ == n_frames
    np.testing.assert_allclose(dec.last_angle_deg_[-1], counts[-1, 6:] * (180 / 32768))


@settings(max_examples=100, deadline=None)
@given(garbage=st.binary(max_size=40).filter(lambda g: b"\x55" not in g))
def test_garbage_before_frames_is_skipped(garbage: bytes) -> None:
    dec = wit.WitMotionStreamDecoder()
    (b,) = dec.feed(garbage + FRAMES["level_1g"] + FRAMES["extremes"])
    assert b.n_samples == 2
    assert dec.resyncs_ == (1 if garbage else 0) and dec.skipped_bytes_ == len(garbage)


def test_buffer_stays_bounded() -> None:
    dec = wit.WitMotionStreamDecoder()
    for _ in range(1000):
        dec.feed(b"\x55\x61" + bytes(10))
        dec.feed(b"\x00" * 7)
    assert len(dec._buf) < wit.FRAME_BYTES


@settings(max_examples=200, deadline=None)
@given(
    acc=st.lists(st.floats(-20 * 9.80665, 20 * 9.80665), min_size=3, max_size=3),
    gyr=st.lists(st.floats(-2500, 2500), min_size=3, max_size=3),
    ang=st.lists(st.floats(-180, 180), min_size=3, max_size=3),
)
def test_si_round_trip(acc: list[float], gyr: list[float], ang: list[float]) -> None:
    f = wit.decode_frame(wit.encode_frame(acc, gyr, ang))
    acc_lsb = 16 / 32768 * GRAVITY_MPS2
    clipped = np.clip(acc, -32768 * acc_lsb, 32767 * acc_lsb)
    assert np.all(np.abs(f.acc_mps2 - clipped) <= acc_lsb / 2 + 1e-12)
    clipped = np.clip(gyr, -2000, 32767 * 2000 / 32768)
    assert np.all(np.abs(f.gyr_dps - clipped) <= 2000 / 32768 / 2 + 1e-12)
    assert wit.encode_frame(f.acc_mps2, f.gyr_dps, f.angle_deg) == wit.encode_frame(acc, gyr, ang)


def test_encoders_reject_bad_input() -> None:
    with pytest.raises(ValueError):
        wit.encode_frame_raw([0] * 8)
    with pytest.raises(ValueError):
        wit.encode_frame_raw([40000] + [0] * 8)
    with pytest.raises(ValueError):
        wit.encode_register_frame(0x64, [0] * 9)


@pytest.mark.parametrize("vec", VECTORS["commands"], ids=lambda v: v["what"])
def test_command_vectors(vec: dict) -> None:
    raw = bytes.fromhex(vec["hex"])
    if "rate_hz" in vec:
        unlock, rate, save = wit.build_rate_commands(vec["rate_hz"])
        assert rate == raw and unlock == wit.build_unlock() and save == wit.build_save()
    elif vec["what"] == "unlock":
        assert wit.build_unlock() == raw
    elif vec["what"] == "save":
        assert wit.build_save() == raw
    else:
        assert wit.build_read_register(wit.REG_BATTERY) == raw


def test_command_errors() -> None:
    with pytest.raises(DeviceError, match="not offered"):
        wit.build_rate_commands(60)
    with pytest.raises(DeviceError):
        wit.build_write_register(0x100, 0)
    with pytest.raises(DeviceError):
        wit.build_write_register(0x03, 0x10000)
    assert wit.build_write_register(0x05, -1) == bytes.fromhex("FF AA 05 FF FF")


@pytest.mark.parametrize("data", [None, 5, "55 61", [0x55]])
def test_non_bytes_raise_decode_error(data: object) -> None:
    with pytest.raises(DecodeError):
        wit.WitMotionStreamDecoder().feed(data)  # type: ignore[arg-type]
