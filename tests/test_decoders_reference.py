"""Reference-sensor codec against hand-written byte vectors, round trips and stream logic.

Vectors (``tests/vectors/reference_*.json``) were typed from the protocol in
``firmware_notes/reference_sensor.md``, with CRCs from an independent bitwise
CRC-16/CCITT-FALSE; they are not output of the encoder under test.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from balance_mon.consts import MG_TO_MPS2
from balance_mon.devices import reference as ref
from balance_mon.errors import DecodeError, DeviceError

VECTORS = Path(__file__).parent / "vectors"
PACKETS = json.loads((VECTORS / "reference_packets.json").read_text())
STREAM = json.loads((VECTORS / "reference_stream.json").read_text())


def bitwise_crc(data: bytes) -> int:
    """Independent CRC-16/CCITT-FALSE, bit by bit."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    return crc


def test_crc_catalogue_check_value() -> None:
    assert ref.crc16_ccitt(b"123456789") == 0x29B1 == bitwise_crc(b"123456789")


@pytest.mark.parametrize("vec", PACKETS["valid"], ids=lambda v: v["name"])
def test_packet_vectors(vec: dict) -> None:
    raw = bytes.fromhex(vec["hex"])
    pkt = ref.decode_packet(raw)
    exp = vec["expected"]
    assert pkt.seq == exp["seq"] and pkt.timestamp_us == exp["timestamp_us"]
    assert pkt.n_samples == exp["n_samples"] and pkt.fs_hz == exp["fs_hz"]
    assert ref.ACC_RANGES_G[pkt.acc_range_code] == exp["acc_range_g"]
    assert ref.GYR_RANGES_DPS[pkt.gyr_range_code] == exp["gyr_range_dps"]
    assert pkt.fifo_overflow == exp["fifo_overflow"]
    assert pkt.acc_counts.tolist() == exp["acc_counts"]
    np.testing.assert_allclose(
        pkt.acc_mps2, np.array(exp["acc_mg"]) * MG_TO_MPS2, rtol=1e-12, atol=1e-15
    )
    if exp["gyr_counts"] is None:
        assert pkt.gyr_counts is None and pkt.gyr_dps is None
    else:
        assert pkt.gyr_counts.tolist() == exp["gyr_counts"]
        np.testing.assert_allclose(pkt.gyr_dps, exp["gyr_dps"], rtol=1e-12, atol=1e-15)
    assert bitwise_crc(raw[:-2]) == int.from_bytes(raw[-2:], "little")


@pytest.mark.parametrize("vec", PACKETS["valid"], ids=lambda v: v["name"])
def test_encoder_reproduces_vectors(vec: dict) -> None:
    exp = vec["expected"]
    pkt = ref.decode_packet(bytes.fromhex(vec["hex"]))
    again = ref.encode_packet_counts(
        exp["seq"],
        exp["timestamp_us"],
        exp["acc_counts"],
        exp["gyr_counts"],
        rate_code=pkt.rate_code,
        acc_range_code=pkt.acc_range_code,
        gyr_range_code=pkt.gyr_range_code,
        fifo_overflow=exp["fifo_overflow"],
    )
    assert again == bytes.fromhex(vec["hex"])


@pytest.mark.parametrize("vec", PACKETS["malformed"], ids=lambda v: v["why"])
def test_malformed_packets(vec: dict) -> None:
    raw = bytes.fromhex(vec["hex"])
    if vec.get("append_crc"):
        raw += bitwise_crc(raw).to_bytes(2, "little")
    with pytest.raises(DecodeError, match="reference sensor"):
        ref.decode_packet(raw)


@pytest.mark.parametrize("vec", PACKETS["config"], ids=lambda v: v["what"])
def test_config_vectors(vec: dict) -> None:
    cfg = ref.decode_config(bytes.fromhex(vec["hex"]))
    exp = vec["expected"]
    got = {
        "streaming": cfg.streaming,
        "gyro_enabled": cfg.gyro_enabled,
        "rate_hz": cfg.rate_hz,
        "acc_range_g": cfg.acc_range_g,
        "gyr_range_dps": cfg.gyr_range_dps,
        "samples_per_packet": cfg.samples_per_packet,
    }
    assert got == exp
    assert ref.encode_config(cfg) == bytes.fromhex(vec["hex"])


@pytest.mark.parametrize("vec", PACKETS["config_malformed"], ids=lambda v: v["why"])
def test_config_malformed(vec: dict) -> None:
    with pytest.raises(DecodeError):
        ref.decode_config(bytes.fromhex(vec["hex"]))


def test_config_from_si() -> None:
    cfg = ref.ReferenceConfig.from_si(rate_hz=52, acc_range_g=4, gyro_enabled=False)
    assert ref.encode_config(cfg) == bytes.fromhex("01 01 02 01 03 00")
    with pytest.raises(DeviceError, match="rate 100"):
        ref.ReferenceConfig.from_si(rate_hz=100)
    with pytest.raises(DeviceError):
        ref.ReferenceConfig(samples_per_packet=20)
    assert ref.ReferenceConfig(gyro_enabled=False, samples_per_packet=38).samples_per_packet == 38


def test_packet_size_arithmetic() -> None:
    assert ref.MAX_SAMPLES_GYRO == 19 and ref.MAX_SAMPLES_ACC == 38
    full = ref.encode_packet_counts(0, 0, np.zeros((19, 3)), np.zeros((19, 3)))
    assert len(full) == 240 <= ref.MAX_PAYLOAD_BYTES
    full = ref.encode_packet_counts(0, 0, np.zeros((38, 3)))
    assert len(full) == 240
    with pytest.raises(ValueError):
        ref.encode_packet_counts(0, 0, np.zeros((20, 3)), np.zeros((20, 3)))


@settings(max_examples=200, deadline=None)
@given(
    seq=st.integers(0, 65535),
    t=st.integers(0, 2**32 - 1),
    n=st.integers(1, 19),
    gyro=st.booleans(),
    rate=st.integers(0, 5),
    acc_code=st.integers(0, 3),
    gyr_code=st.integers(0, 3),
    overflow=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_round_trip(
    seq: int,
    t: int,
    n: int,
    gyro: bool,
    rate: int,
    acc_code: int,
    gyr_code: int,
    overflow: bool,
    seed: int,
) -> None:
    rng = np.random.default_rng(seed)
    acc = rng.integers(-32768, 32768, size=(n, 3))
    gyr = rng.integers(-32768, 32768, size=(n, 3)) if gyro else None
    raw = ref.encode_packet_counts(
        seq,
        t,
        acc,
        gyr,
        rate_code=rate,
        acc_range_code=acc_code,
        gyr_range_code=gyr_code,
        fifo_overflow=overflow,
    )
    pkt = ref.decode_packet(raw)
    assert (pkt.seq, pkt.timestamp_us, pkt.rate_code, pkt.acc_range_code) == (
        seq,
        t,
        rate,
        acc_code,
    )
    assert pkt.gyr_range_code == gyr_code and pkt.fifo_overflow == overflow
    assert pkt.acc_counts.tolist() == acc.tolist()
    assert (pkt.gyr_counts is None) == (gyr is None)
    if gyr is not None:
        assert pkt.gyr_counts.tolist() == gyr.tolist()
    # SI encoder: decode(encode(x)) == x within half a count
    si = ref.encode_packet(
        seq,
        t,
        pkt.acc_mps2,
        pkt.gyr_dps,
        rate_code=rate,
        acc_range_code=acc_code,
        gyr_range_code=gyr_code,
        fifo_overflow=overflow,
    )
    assert si == raw


def test_si_encoder_rounds_and_saturates() -> None:
    lsb = ref.ACC_LSB_MG[2] * MG_TO_MPS2
    raw = ref.encode_packet(1, 2, [[0.4 * lsb, 0.6 * lsb, 1e6]], [[1e9, -1e9, 0.0]])
    pkt = ref.decode_packet(raw)
    assert pkt.acc_counts.tolist() == [[0, 1, 32767]]
    assert pkt.gyr_counts.tolist() == [[32767, -32768, 0]]


def test_stream_vectors() -> None:
    dec = ref.ReferenceStreamDecoder()
    for step in STREAM["steps"]:
        out = dec.feed(bytes.fromhex(step["hex"]))
        exp = step["expected"]
        assert len(out) == exp["batches"], step["what"]
        if out:
            (b,) = out
            assert b.seq == exp["seq"] and b.lost_packets == exp["lost_packets"]
            np.testing.assert_allclose(b.device_time_s, exp["device_time_s"], rtol=0, atol=1e-9)
            assert b.acc_mps2.shape == (len(exp["device_time_s"]), 3) and b.gyr_dps is None
    tot = STREAM["expected_totals"]
    assert dec.packets_ == tot["packets"]
    assert dec.lost_packets_ == tot["lost_packets"]
    assert dec.duplicate_packets_ == tot["duplicate_packets"]
    assert dec.late_packets_ == tot["late_packets"]
    assert dec.fifo_overflows_ == tot["fifo_overflows"]
    assert dec.timing_anomalies_ == tot["timing_anomalies"]


def test_stream_follows_device_clock_and_flags_anomalies() -> None:
    dec = ref.ReferenceStreamDecoder()
    acc = np.zeros((10, 3))
    period = 1e6 / 104
    step = period * 1.01  # the IMU runs 1 % slow
    t = 1000.0
    for seq in range(3):
        (b,) = dec.feed(ref.encode_packet_counts(seq, round(t), acc))
        t += 10 * step
    np.testing.assert_allclose(np.diff(b.device_time_s), step * 1e-6, rtol=1e-3)
    assert dec.timing_anomalies_ == 0
    dec.feed(ref.encode_packet_counts(3, round(t + 10 * period), acc))  # a 100 ms jump
    assert dec.timing_anomalies_ == 1


def test_stream_rejects_bad_packet_without_losing_state() -> None:
    dec = ref.ReferenceStreamDecoder()
    dec.feed(ref.encode_packet_counts(10, 0, np.zeros((1, 3))))
    bad = bytearray(ref.encode_packet_counts(11, 80000, np.zeros((1, 3))))
    bad[-1] ^= 0xFF
    with pytest.raises(DecodeError):
        dec.feed(bytes(bad))
    assert dec.rejected_packets_ == 1
    (b,) = dec.feed(ref.encode_packet_counts(11, 9615, np.zeros((1, 3))))
    assert b.lost_packets == 0 and dec.packets_ == 2
    dec.reset()
    assert dec.packets_ == 0


def test_sort_packets_reorders_across_wrap_and_drops_duplicates() -> None:
    raws = [
        ref.encode_packet_counts(s, t, np.zeros((1, 3)))
        for s, t in ((65534, 2**32 - 200), (1, 100), (65535, 2**32 - 100), (0, 0), (1, 100))
    ]
    pkts = [ref.decode_packet(r) for r in raws]
    assert [p.seq for p in ref.sort_packets(pkts)] == [65534, 65535, 0, 1]
    assert ref.sort_packets([]) == []
