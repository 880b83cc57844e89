"""Live streaming end to end: session -> bleak public API -> simulated sensors.

Every test drives :class:`balance_mon.devices.session.StreamSession` through
bleak's ``BleakScanner`` / ``BleakClient`` with the simulated backend of
:mod:`balance_mon.devices.virtual`, on simulated time (a 60 s recording takes
well under a second), and checks what lands on disk against what the
simulated sensor says it did (its ``SimLog``).
"""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from bleak import BleakClient, BleakScanner
from bleak.backends.client import BaseBleakClient
from bleak.backends.scanner import BaseBleakScanner

from balance_mon.consts import MG_TO_MPS2
from balance_mon.devices import polar
from balance_mon.devices.clock import run_virtual
from balance_mon.devices.models import StreamSettings
from balance_mon.devices.session import ReconnectPolicy, StreamSession, replay_capture, scan
from balance_mon.devices.virtual import VirtualAir, make_peripheral, parse_faults
from balance_mon.errors import DeviceError
from balance_mon.io import load_recording
from balance_mon.io.capture import read_capture
from balance_mon.recording import Recording, quality_report

MODELS = ["polar-h10", "reference", "witmotion"]
#: rate used per model, and samples per notification the simulated sensor sends
RATE = {"polar-h10": 200.0, "reference": 104.0, "witmotion": 100.0}
PER_PACKET = {"polar-h10": 36, "reference": 19, "witmotion": 1}


def record(
    tmp_path,
    model,
    *,
    duration=60.0,
    faults=(),
    source=None,
    seed=0,
    settings=None,
    reconnect=None,
    out_name=None,
    setup=None,
):
    """Record a simulated sensor; returns (peripheral, result, out path, capture path)."""
    p = make_peripheral(model, faults=parse_faults(list(faults)), seed=seed, source=source)
    if setup is not None:
        setup(p)
    air = VirtualAir([p])
    out = tmp_path / (out_name or f"{model}.csv")
    cap = tmp_path / f"{model}.cap"
    if settings is None:
        settings = StreamSettings(rate_hz=RATE[model])
    session = StreamSession(
        p.name,
        out,
        capture=cap,
        settings=settings,
        scanner_backend=air.scanner_backend,
        client_backend=air.client_backend,
        reconnect=reconnect or ReconnectPolicy(),
    )
    result = run_virtual(session.run(duration))
    return p, result, out, cap


@pytest.mark.parametrize("model", MODELS)
def test_sixty_seconds_arrive_complete(tmp_path, model):
    p, res, out, _ = record(tmp_path, model)
    rec = load_recording(out)
    fs = RATE[model]
    assert abs(rec.n_samples - 60 * fs) < PER_PACKET[model]
    assert res.stats.samples == rec.n_samples
    assert res.stats.lost_samples == res.stats.lost_packets == 0
    assert p.log.packets_lost == 0
    q = quality_report(rec)
    assert q.gaps == () and q.valid, q.problems
    assert rec.fs_nominal_hz == fs
    assert rec.has_gyro == (model != "polar-h10")
    np.testing.assert_allclose(np.diff(rec.time_s), 1 / fs, rtol=0.011)  # at most the slew
    assert rec.metadata["device_model"] == model
    assert rec.metadata["device"] == p.name
    assert rec.metadata["stream_lost_samples"] == "0"
    assert rec.metadata["stream_reconnects"] == "0"
    assert ("battery_pct" if model != "witmotion" else "battery_v") in rec.metadata


def _cyclic_source(fs, n, lsb_mps2, seed):
    """A recording whose values are exact multiples of the sensor's resolution."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(-300, 300, size=(n, 3))
    counts[:, 0] += round(9.80665 / lsb_mps2)
    acc = counts * lsb_mps2
    return Recording(time_s=np.arange(n) / fs, acc_mps2=acc, fs_nominal_hz=fs), acc


@pytest.mark.parametrize(
    ("model", "lsb_mps2"),
    [("polar-h10", MG_TO_MPS2), ("reference", 0.244 * MG_TO_MPS2)],
)
def test_source_recording_arrives_value_exact(tmp_path, model, lsb_mps2):
    fs = RATE[model]
    src, acc = _cyclic_source(fs, 997, lsb_mps2, seed=4)
    _, _, out, _ = record(tmp_path, model, duration=20.0, source=src)
    got = load_recording(out).acc_mps2
    # the sensor starts somewhere in the looping source: find where, then all must match
    first = np.flatnonzero(np.all(acc == got[0], axis=1))
    assert first.size == 1
    idx = (first[0] + np.arange(got.shape[0])) % acc.shape[0]
    np.testing.assert_array_equal(got, acc[idx])


@pytest.mark.parametrize("model", ["polar-h10", "reference"])
def test_packet_loss_is_detected_and_reported_exactly(tmp_path, model):
    p, res, out, _ = record(tmp_path, model, faults=["loss=0.05", "seed=7"])
    st = res.stats
    assert p.log.packets_lost > 10  # about 5 % of some 300 notifications
    # reference sensor: sequence numbers; Polar: frame timestamps
    assert st.lost_packets == p.log.packets_lost
    assert st.lost_samples == p.log.samples_lost
    assert st.samples == p.log.samples_sent
    rec = load_recording(out)
    q = quality_report(rec)
    assert q.dropped_samples == st.lost_samples
    assert rec.metadata["stream_lost_packets"] == str(p.log.packets_lost)
    assert rec.metadata["stream_loss_detection"] == (
        "timestamps" if model == "polar-h10" else "sequence"
    )


def test_witmotion_loss_is_only_estimated(tmp_path):
    """WitMotion frames carry no sequence number or timestamp.

    A lost notification leaves no trace in the data; only the receive times
    show it, once enough samples are missing that they arrive later than any
    delivery jitter (the mapper's ``gap_s``, 0.1 s = 10 samples at 100 Hz).
    Isolated single losses are invisible; runs of losses appear as time
    gaps. With 5 % random loss the estimate is close but not exact.
    """
    p, res, out, _ = record(tmp_path, "witmotion", faults=["loss=0.05", "seed=7"])
    st = res.stats
    assert p.log.packets_lost > 200
    assert st.samples == p.log.samples_sent - st.samples_before_start - _unrecorded(p, st)
    assert st.lost_packets == 0  # nothing in the protocol shows them
    assert st.lost_samples == pytest.approx(p.log.samples_lost, rel=0.15)
    assert load_recording(out).metadata["stream_loss_detection"] == "none"


def _unrecorded(p, st):
    # frames sent before the session configured the rate, which it does not record
    return p.log.samples_sent - st.samples_before_start - st.samples


@pytest.mark.parametrize("model", MODELS)
def test_disconnect_reconnects_and_marks_the_gap(tmp_path, model):
    p, res, out, _ = record(tmp_path, model, faults=["disconnect=20", "down=1.5"])
    st = res.stats
    assert p.log.disconnects == [20.0]
    assert p.log.connections == 2
    assert st.disconnects == 1 and st.reconnects == 1
    rec = load_recording(out)
    q = quality_report(rec)
    assert len(q.gaps) == 1
    gap = q.gaps[0]
    start = rec.time_s[0]
    assert gap.start_s - start == pytest.approx(20.0, abs=0.4)
    assert gap.duration_s == pytest.approx(st.outage_s + 1 / RATE[model], abs=0.02)
    assert 1.5 < gap.duration_s < 4.0  # down 1.5 s, then back-off, scan, connect, handshake
    assert rec.time_s[-1] - start == pytest.approx(60.0, abs=0.5)
    events = rec.metadata["stream_events"]
    assert "disconnected" in events and "reconnected" in events
    assert rec.metadata["stream_reconnects"] == "1"
    assert st.lost_samples == 0  # the outage is not packet loss


@pytest.mark.parametrize("model", MODELS)
def test_replay_of_a_capture_reproduces_the_recording(tmp_path, model):
    faults = ["loss=0.03", "corrupt=0.02", "disconnect=12", "burst=7:0.4", "late=5", "seed=3"]
    _, res, out, cap = record(tmp_path, model, duration=30.0, faults=faults)
    replayed = tmp_path / "replayed.csv"
    st = replay_capture(cap, replayed)
    assert replayed.read_bytes() == out.read_bytes()
    assert st.samples == res.stats.samples
    assert not read_capture(cap).truncated


@pytest.mark.parametrize("model", ["polar-h10", "reference"])
def test_corrupted_packets_are_rejected_and_counted(tmp_path, model):
    p, res, out, _ = record(tmp_path, model, duration=30.0, faults=["corrupt=0.05", "seed=2"])
    st = res.stats
    assert p.log.packets_corrupted > 3
    assert st.rejected_packets == p.log.packets_corrupted
    # each damaged notification shows as a gap before the next good one (so one
    # damaged at the very end of the recording would not)
    assert p.log.samples_corrupted - PER_PACKET[model] <= st.lost_samples
    assert st.lost_samples <= p.log.samples_corrupted
    assert quality_report(load_recording(out)).dropped_samples == st.lost_samples


def test_witmotion_corrupted_frames_are_skipped(tmp_path):
    p, res, _, _ = record(tmp_path, "witmotion", duration=20.0, faults=["corrupt=0.05", "seed=2"])
    assert p.log.packets_corrupted > 20
    assert res.stats.resyncs == p.log.packets_corrupted  # each cut frame is dropped, no crash


@pytest.mark.parametrize("model", MODELS)
def test_bursty_and_late_delivery_do_not_fake_gaps(tmp_path, model):
    _, res, out, _ = record(tmp_path, model, duration=30.0, faults=["burst=5:0.5", "late=20"])
    assert res.stats.lost_samples == 0
    q = quality_report(load_recording(out))
    assert q.gaps == ()


def test_clock_drift_shows_in_the_quality_report(tmp_path):
    _, _, out, _ = record(tmp_path, "polar-h10", faults=["drift=3000"])
    q = quality_report(load_recording(out))
    assert q.drift_ppm == pytest.approx(3000, abs=300)


def test_handshake_refusal_names_the_polar_error(tmp_path):
    def on_charger(p):
        p.in_charger = True

    with pytest.raises(
        DeviceError, match=r"refused to start .*Polar error 13 \(device in charger\)"
    ):
        record(tmp_path, "polar-h10", setup=on_charger)
    assert not (tmp_path / "polar-h10.csv").exists()


def test_unoffered_rate_is_refused_before_connecting(tmp_path):
    with pytest.raises(
        DeviceError, match="rate 300 Hz is not offered; choose one of 25, 50, 100, 200"
    ):
        record(tmp_path, "polar-h10", settings=StreamSettings(rate_hz=300.0))


def test_device_not_found(tmp_path):
    p = make_peripheral("polar-h10")
    air = VirtualAir([p])
    session = StreamSession(
        "Polar H10 NOSUCH",
        tmp_path / "x.csv",
        scanner_backend=air.scanner_backend,
        client_backend=air.client_backend,
    )
    with pytest.raises(DeviceError, match="no supported sensor matching 'Polar H10 NOSUCH' found"):
        run_virtual(session.run(5.0))
    assert not (tmp_path / "x.csv").exists()


def test_lost_and_not_recovered_keeps_the_data(tmp_path):
    policy = ReconnectPolicy(give_up_after_s=10.0)
    with pytest.raises(DeviceError, match="could not reconnect in 10 s") as err:
        record(tmp_path, "reference", faults=["disconnect=20", "down=1000"], reconnect=policy)
    assert "samples received are in" in str(err.value)
    rec = load_recording(tmp_path / "reference.csv")
    assert rec.time_s[-1] - rec.time_s[0] == pytest.approx(20.0, abs=0.3)
    assert "gave up reconnecting" in rec.metadata["stream_events"]


def test_cancellation_stops_cleanly_and_writes_everything(tmp_path):
    p = make_peripheral("polar-h10")
    air = VirtualAir([p])
    out, cap = tmp_path / "c.csv", tmp_path / "c.cap"
    session = StreamSession(
        p.name,
        out,
        capture=cap,
        scanner_backend=air.scanner_backend,
        client_backend=air.client_backend,
    )

    async def main():
        task = asyncio.create_task(session.run(None))
        await asyncio.sleep(10.0)
        task.cancel()
        return await task

    res = run_virtual(main())
    assert res.interrupted
    rec = load_recording(out)
    assert rec.n_samples == res.stats.samples == p.log.samples_sent
    assert "stop (interrupted)" in rec.metadata["stream_events"]
    replay_capture(cap, tmp_path / "r.csv")
    assert (tmp_path / "r.csv").read_bytes() == out.read_bytes()


def test_binary_output_is_written_at_the_end(tmp_path):
    _, res, out, _ = record(tmp_path, "reference", duration=10.0, out_name="r.bmr")
    rec = load_recording(out)
    assert rec.n_samples == res.stats.samples
    assert rec.metadata["device_model"] == "reference"
    assert sorted(f.name for f in tmp_path.iterdir()) == ["r.bmr", "reference.cap"]


def test_witmotion_rate_is_read_from_the_sensor_when_not_given(tmp_path):
    _, _, out, _ = record(
        tmp_path, "witmotion", duration=10.0, settings=StreamSettings(), setup=_rate_50
    )
    rec = load_recording(out)
    assert rec.fs_nominal_hz == 50.0
    assert abs(rec.n_samples - 500) <= 1


def _rate_50(p):
    p.rate_hz = 50.0


def test_scan_lists_supported_sensors_strongest_first():
    air = VirtualAir([make_peripheral(m, seed=i) for i, m in enumerate(MODELS)])
    found = run_virtual(scan(1.0, scanner_backend=air.scanner_backend))
    assert sorted(f.model.key for f in found) == sorted(MODELS)
    assert [f.rssi for f in found] == sorted((f.rssi for f in found), reverse=True)
    assert {f.address for f in found} == {p.address for p in air.peripherals.values()}


def test_simulated_backend_is_plain_bleak():
    """The simulated sensors are reached through bleak's own public API."""
    air = VirtualAir([make_peripheral("polar-h10", seed=5)])
    assert issubclass(air.scanner_backend, BaseBleakScanner)
    assert issubclass(air.client_backend, BaseBleakClient)

    async def main():
        dev = await BleakScanner.find_device_by_name(
            next(iter(air.peripherals.values())).name, backend=air.scanner_backend
        )
        assert dev is not None
        async with BleakClient(dev, backend=air.client_backend) as client:
            pmd = client.services.get_service(polar.PMD_SERVICE_UUID)
            props = {c.uuid: c.properties for c in pmd.characteristics}
            features = await client.read_gatt_char(polar.PMD_CONTROL_POINT_UUID)
            answers = []
            await client.start_notify(
                polar.PMD_CONTROL_POINT_UUID, lambda _c, d: answers.append(bytes(d))
            )
            await client.write_gatt_char(
                polar.PMD_CONTROL_POINT_UUID, polar.build_get_settings_command(), response=True
            )
            await asyncio.sleep(0.1)
            return props, bytes(features), answers

    props, features, answers = run_virtual(main())
    assert props[polar.PMD_CONTROL_POINT_UUID] == ["read", "write", "indicate"]
    assert props[polar.PMD_DATA_UUID] == ["notify"]
    assert polar.parse_features(features) == {"ecg", "acc"}
    resp = polar.parse_control_point_response(answers[0])
    assert resp.ok
    assert polar.parse_settings(resp.params)["sample_rate_hz"] == (25, 50, 100, 200)
