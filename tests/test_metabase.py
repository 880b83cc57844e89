"""MetaBase CSV exports: layout, accelerometer + gyroscope merging, timing, errors.

The fixture pair in tests/data/metabase/ follows MetaBase's real export layout:
header, row format and file naming from MetaBase's source
(mbientlab/MetaWear-Android-MetaBase-App: DataHandler.java writes
``"%d,%s,%.3f,%.3f,%.3f,%.3f%n"`` under
``epoch (ms),time (<offset>),elapsed (s),x-axis (g),y-axis (g),z-axis (g)``,
StreamMonitorFragment.java names files
``<session>_<device>_<YYYY-MM-DDTHH.MM.SS.mmm>_<MAC>_<Sensor>_<%.3f>Hz_<firmware>.csv``),
checked against exports published with the "MetaMotion" barbell data set
(``A-bench-heavy_MetaWear_2019-01-14T14.22.49.165_C42732BE255C_Accelerometer_12.500Hz_1.4.4.csv``,
first row ``1547473786995,2019-01-14T14:49:46.995,0.000,-0.290,0.887,-0.102``,
header ``time (01:00)``). Repeated timestamps: samples packed in one BLE
notification share its time (mbientlab/MetaWear-SDK-iOS-macOS-tvOS issue 1).
tests/data/metabase/make_fixture.py wrote the pair and documents its contents.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from balance_mon.cli import main
from balance_mon.consts import GRAVITY_MPS2
from balance_mon.errors import FileFormatError
from balance_mon.io import detect_format, load_recording
from balance_mon.io.binary import read_binary
from balance_mon.io.csv_v1 import read_csv_v1
from balance_mon.io.metabase import parse_metabase_name, read_metabase, retime_batches

DATA = Path(__file__).parent / "data" / "metabase"
PREFIX = "balance-demo_MetaWear_2019-01-18T14.17.09.453_E4FB7B2E5A20"
ACC = DATA / f"{PREFIX}_Accelerometer_12.500Hz_1.4.5.csv"
GYR = DATA / f"{PREFIX}_Gyroscope_25.000Hz_1.4.5.csv"
E0_MS = 1547839029453  # 2019-01-18T19:17:09.453Z, first accelerometer stamp
HEADER_G = "epoch (ms),time (-05:00),elapsed (s),x-axis (g),y-axis (g),z-axis (g)"
HEADER_DPS = "epoch (ms),time (-05:00),elapsed (s),x-axis (deg/s),y-axis (deg/s),z-axis (deg/s)"


def _rows(path: Path) -> np.ndarray:
    """The fixture's numbers (epoch, x, y, z) read independently of the reader."""
    lines = path.read_text().splitlines()[1:]
    return np.array(
        [[float(v) for i, v in enumerate(ln.split(",")) if i not in (1, 2)] for ln in lines]
    )


def _mb(epochs, values, header=HEADER_G) -> str:
    rows = [header]
    for e, (x, y, z) in zip(epochs, values, strict=True):
        rows.append(
            f"{e},2019-01-18T14:17:09.453,{(e - epochs[0]) / 1000:.3f},{x:.3f},{y:.3f},{z:.3f}"
        )
    return "\n".join(rows) + "\n"


@pytest.fixture
def session(tmp_path: Path) -> tuple[Path, Path]:
    acc, gyr = tmp_path / ACC.name, tmp_path / GYR.name
    shutil.copy(ACC, acc)
    shutil.copy(GYR, gyr)
    return acc, gyr


# ---------------------------------------------------------------------------
# The real-layout fixture pair
# ---------------------------------------------------------------------------


def test_fixture_is_sniffed_as_metabase():
    assert detect_format(ACC) == "metabase"
    assert detect_format(GYR) == "metabase"


def test_file_name_parts():
    name = parse_metabase_name(ACC)
    assert name is not None
    assert (name.prefix, name.sensor, name.rate_hz, name.firmware) == (
        PREFIX,
        "Accelerometer",
        12.5,
        "1.4.5",
    )
    assert parse_metabase_name(GYR).rate_hz == 25.0
    assert parse_metabase_name("walk.csv") is None
    assert parse_metabase_name(ACC.with_suffix(".txt")) is None


def test_merged_session_shape_rate_and_metadata():
    rec = load_recording(ACC)
    # samples 0, 38 and 39 lie outside the gyroscope's span and are trimmed
    assert rec.n_samples == 37
    assert rec.has_gyro
    assert rec.fs_nominal_hz == 12.5
    assert rec.placement == "other"
    meta = dict(rec.metadata)
    assert meta["start_unix_s"] == repr((E0_MS + 81) / 1000)  # sample 1, stamped E0 + 81 ms
    assert meta["metabase_trimmed_samples"] == "3"
    assert meta["metabase_retimed_samples"] == "4"  # two packets of three
    assert meta["metabase_gyro_retimed_samples"] == "1"
    assert meta["metabase_gyroscope_file"] == GYR.name
    assert meta["metabase_utc_offset"] == "-05:00"
    assert meta["gyro_fs_nominal_hz"] == "25.0"
    assert meta["firmware"] == "1.4.5"
    assert meta["device_mac"] == "E4FB7B2E5A20"
    assert rec.time_s[0] == 0.0
    assert np.all(np.diff(rec.time_s) > 0)


def test_packed_samples_are_retimed_back_from_their_stamp():
    rec = load_recording(ACC)
    t_ms = rec.time_s * 1000 + 81  # ms after E0
    # samples 9..16 are due at 80 k ms; 10-12 and 13-15 were stamped 960 and 1200
    np.testing.assert_allclose(t_ms[8:16], 80.0 * np.arange(9, 17), rtol=0, atol=1e-9)


def test_acceleration_is_converted_from_g_exactly():
    rec = load_recording(ACC)
    g = _rows(ACC)[1:38, 1:4]
    assert np.array_equal(rec.acc_mps2, g * GRAVITY_MPS2)


def test_gyroscope_is_interpolated_onto_accelerometer_times():
    rec = load_recording(ACC)
    t_ms = rec.time_s * 1000 + 81  # ms after E0
    k = (t_ms - 50) / 40  # gyroscope sample index (fractional)
    expected = np.column_stack([2 * k, 30 - 1.5 * k, np.full_like(k, 0.125)])
    np.testing.assert_allclose(rec.gyr_dps, expected, rtol=0, atol=1e-9)


def test_accelerometer_alone_keeps_every_sample(tmp_path: Path):
    acc = tmp_path / ACC.name
    shutil.copy(ACC, acc)
    rec = read_metabase(acc)
    assert rec.n_samples == 40
    assert not rec.has_gyro
    assert rec.metadata["start_unix_s"] == repr(E0_MS / 1000)
    assert "metabase_trimmed_samples" not in rec.metadata
    assert np.array_equal(rec.acc_mps2, _rows(ACC)[:, 1:4] * GRAVITY_MPS2)


def test_gyroscope_file_alone_is_refused_naming_the_accelerometer_file():
    with pytest.raises(FileFormatError) as err:
        load_recording(GYR)
    msg = str(err.value)
    assert str(GYR) in msg and "accelerometer file is needed" in msg and ACC.name in msg


def test_gyroscope_without_its_accelerometer(tmp_path: Path):
    gyr = tmp_path / GYR.name
    shutil.copy(GYR, gyr)
    with pytest.raises(FileFormatError, match=r"accelerometer file is needed.*no accelerometer"):
        read_metabase(gyr)


def test_other_session_gyroscope_is_ignored(session):
    acc, gyr = session
    gyr.rename(gyr.with_name(gyr.name.replace("E4FB7B2E5A20", "C42732BE255C")))
    assert not read_metabase(acc).has_gyro


def test_crlf_and_byte_order_mark_read_the_same(session):
    acc, gyr = session
    for p in (acc, gyr):
        p.write_bytes(b"\xef\xbb\xbf" + p.read_bytes().replace(b"\n", b"\r\n"))
    a, b = read_metabase(acc), read_metabase(ACC)
    assert np.array_equal(a.time_s, b.time_s)
    assert np.array_equal(a.acc_mps2, b.acc_mps2)
    assert np.array_equal(a.gyr_dps, b.gyr_dps)


def test_renamed_file_reads_without_rate_or_gyroscope(session):
    acc, _ = session
    plain = acc.with_name("walk.csv")
    acc.rename(plain)
    rec = load_recording(plain)
    assert rec.fs_nominal_hz is None and not rec.has_gyro and rec.n_samples == 40


# ---------------------------------------------------------------------------
# Timestamps
# ---------------------------------------------------------------------------


def test_retime_exact_cases():
    t, n = retime_batches(np.array([0.0, 10, 40, 40, 40, 50]), 10.0)
    assert n == 2 and np.array_equal(t, [0, 10, 20, 30, 40, 50])
    # the previous stamp is too close for the nominal step: the packet is compressed
    t, n = retime_batches(np.array([0.0, 10, 12, 12, 12]), 10.0)
    np.testing.assert_allclose(t, [0, 10, 10 + 2 / 3, 10 + 4 / 3, 12], rtol=0, atol=1e-12)
    # a packet at the very start steps back by the nominal interval
    t, n = retime_batches(np.array([5.0, 5, 5, 20]), 10.0)
    assert n == 2 and np.array_equal(t, [-15, -5, 5, 20])
    t, n = retime_batches(np.array([1.0, 2, 4]), 10.0)
    assert n == 0 and np.array_equal(t, [1, 2, 4])


@settings(max_examples=300, deadline=None)
@given(
    steps=st.lists(st.integers(0, 40), min_size=1, max_size=60),
    dt=st.floats(0.1, 100),
)
def test_retime_always_strictly_increasing(steps, dt):
    stamps = np.cumsum([0, *steps]).astype(np.float64)
    t, n = retime_batches(stamps, dt)
    assert t.shape == stamps.shape
    assert np.all(np.diff(t) > 0)
    distinct = np.unique(stamps)
    assert n == stamps.size - distinct.size
    # each packet ends at its stamp and stays after the previous stamp
    last = np.r_[stamps[1:] != stamps[:-1], True]
    assert np.array_equal(t[last], distinct)
    for i, s in enumerate(distinct[1:], start=1):
        assert np.all(t[stamps == s] > distinct[i - 1])


def test_uneven_steps_are_kept(tmp_path: Path):
    p = tmp_path / f"{PREFIX}_Accelerometer_100.000Hz_1.4.5.csv"
    epochs = [E0_MS, E0_MS + 7, E0_MS + 31, E0_MS + 40, E0_MS + 52]
    p.write_text(_mb(epochs, [(0, 1, 0)] * 5))
    rec = read_metabase(p)
    np.testing.assert_allclose(rec.time_s, [0, 0.007, 0.031, 0.040, 0.052], rtol=0, atol=1e-12)
    assert rec.metadata["metabase_retimed_samples"] == "0"


def test_all_samples_in_one_stamp_without_a_rate(tmp_path: Path):
    p = tmp_path / "renamed.csv"
    p.write_text(_mb([E0_MS] * 3, [(0, 1, 0)] * 3))
    with pytest.raises(FileFormatError, match="same timestamp"):
        read_metabase(p)


# ---------------------------------------------------------------------------
# convert through the command line
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".csv", ".bmr"])
def test_convert_metabase(tmp_path: Path, suffix: str, capsys):
    out = tmp_path / f"session{suffix}"
    assert main(["convert", str(ACC), str(out)]) == 0
    assert "wrote" in capsys.readouterr().err
    rec = (read_binary if suffix == ".bmr" else read_csv_v1)(out)
    ref = read_metabase(ACC)
    for a, b in (
        (rec.time_s, ref.time_s),
        (rec.acc_mps2, ref.acc_mps2),
        (rec.gyr_dps, ref.gyr_dps),
    ):
        assert np.array_equal(a.view(np.uint64), b.view(np.uint64))
    assert dict(rec.metadata) == dict(ref.metadata)
    assert rec.fs_nominal_hz == 12.5


def test_convert_gyroscope_alone_fails_cleanly(tmp_path: Path, capsys):
    assert main(["convert", str(GYR), str(tmp_path / "x.csv")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "accelerometer file is needed" in err


# ---------------------------------------------------------------------------
# Malformed input: always FileFormatError naming the file
# ---------------------------------------------------------------------------

GOOD = [E0_MS, E0_MS + 80, E0_MS + 160]
VALS = [(0.1, 0.9, 0.2)] * 3


MALFORMED = {
    "empty": b"",
    "header only": HEADER_G + "\n",
    "one row": _mb(GOOD[:1], VALS[:1]),
    "not a number": _mb(GOOD, VALS).replace("0.900", "0.9x0", 1),
    "empty value": _mb(GOOD, VALS).replace(",0.200\n", ",\n", 1),
    "five values": _mb(GOOD, VALS).replace(",0.200\n", "\n", 2),
    "seven values": _mb(GOOD, VALS).replace(",0.200\n", ",0.200,1\n", 1),
    "nan": _mb(GOOD, VALS).replace("0.900", "nan", 1),
    "inf epoch": _mb(GOOD, VALS).replace(str(GOOD[1]), "inf", 1),
    "backwards": _mb([GOOD[0], GOOD[2], GOOD[1]], VALS),
    "euler angles": "epoch (ms),time (-05:00),elapsed (s),pitch (deg),roll (deg),yaw (deg),"
    + f" heading (deg)\n{E0_MS},x,0.000,1,2,3,4\n",
    "magnetometer": _mb(GOOD, VALS, HEADER_G.replace("(g)", "(T)")),
    "mixed units": _mb(GOOD, VALS, HEADER_G.replace("z-axis (g)", "z-axis (deg/s)")),
    "axes out of order": _mb(GOOD, VALS, HEADER_G.replace("x-axis", "q-axis")),
    "no elapsed": _mb(GOOD, VALS, HEADER_G.replace("elapsed (s)", "elapsed")),
    "utf16": "\ufeff".encode("utf-16-le") + _mb(GOOD, VALS).encode("utf-16-le"),
    "nul bytes": _mb(GOOD, VALS).encode().replace(b"0.900", b"0.\x0000", 1),
    "latin1": _mb(GOOD, VALS).replace("2019-01-18", "2019-01-18\xe9", 1).encode("latin-1"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_input(tmp_path: Path, case: str):
    p = tmp_path / f"{PREFIX}_Accelerometer_12.500Hz_1.4.5.csv"
    content = MALFORMED[case]
    p.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(FileFormatError) as err:
        read_metabase(p)
    assert str(p) in str(err.value)


@pytest.mark.parametrize(
    ("case", "pattern"),
    [
        ("not a number", "line 2, column 5: '0.9x0', not a number"),
        ("five values", "line 3 has 5 values"),
        ("seven values", "line 2 has 7 values"),
        ("backwards", "line 4: time goes backwards"),
        ("nan", "line 2: y-axis is nan"),
    ],
)
def test_malformed_messages_name_the_line(tmp_path: Path, case: str, pattern: str):
    p = tmp_path / "renamed.csv"
    p.write_text(MALFORMED[case])
    with pytest.raises(FileFormatError, match=pattern):
        read_metabase(p)


def test_derived_stream_is_refused(tmp_path: Path):
    p = tmp_path / f"{PREFIX}_Linear Acceleration_100.000Hz_1.4.5.csv"
    p.write_text(_mb(GOOD, VALS))
    with pytest.raises(FileFormatError, match="raw 'Accelerometer' export"):
        read_metabase(p)


def test_missing_file_and_folder(tmp_path: Path):
    with pytest.raises(FileFormatError, match="no such file"):
        read_metabase(tmp_path / "nope_Accelerometer_12.500Hz_1.4.5.csv")
    with pytest.raises(FileFormatError, match="is a folder"):
        read_metabase(tmp_path)


def test_gyroscope_outside_the_accelerometer_span(session):
    acc, gyr = session
    lines = gyr.read_text().splitlines()
    shifted = [lines[0]] + [
        str(int(ln.split(",", 1)[0]) + 3_600_000) + "," + ln.split(",", 1)[1] for ln in lines[1:]
    ]
    gyr.write_text("\n".join(shifted) + "\n")
    with pytest.raises(FileFormatError, match="does not overlap"):
        read_metabase(acc)


def test_two_overlapping_gyroscope_files(session):
    acc, gyr = session
    shutil.copy(gyr, gyr.with_name(gyr.name.replace("25.000Hz", "50.000Hz")))
    with pytest.raises(FileFormatError, match="several gyroscope files"):
        read_metabase(acc)


def test_malformed_gyroscope_is_named(session):
    acc, gyr = session
    gyr.write_text(gyr.read_text().replace("0.125", "x", 1))
    with pytest.raises(FileFormatError) as err:
        read_metabase(acc)
    assert str(gyr) in str(err.value)


def test_gyroscope_named_file_with_g_values(session):
    acc, gyr = session
    gyr.write_text(gyr.read_text().replace("deg/s", "g"))
    with pytest.raises(FileFormatError, match="not deg/s"):
        read_metabase(acc)


def test_renamed_file_retimes_packets_from_the_mean_interval(tmp_path: Path):
    p = tmp_path / "renamed.csv"
    stamps = [E0_MS + 10, E0_MS + 10, E0_MS + 30, E0_MS + 30, E0_MS + 50, E0_MS + 50]
    p.write_text(_mb(stamps, [(0, 1, 0)] * 6))
    rec = read_metabase(p)
    # mean interval 40 ms / 5 = 8 ms: each packet's first sample 8 ms before its stamp
    np.testing.assert_allclose(rec.time_s * 1000, [0, 8, 20, 28, 40, 48], rtol=0, atol=1e-9)
    assert rec.metadata["metabase_retimed_samples"] == "3"
    assert rec.metadata["start_unix_s"] == repr((E0_MS + 2) / 1000)
