"""CSV recording format v1 (interfaces.md section 1): reading, writing, live appending."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from balance_mon.consts import GRAVITY_MPS2
from balance_mon.errors import FileFormatError, RecordingError
from balance_mon.io import load_recording, save_recording
from balance_mon.io.csv_v1 import FORMAT_LINE, CsvWriter, read_csv_v1, write_csv_v1
from balance_mon.recording import AxisMap, Recording

#: The example of interfaces.md section 1, verbatim.
EXAMPLE = """\
# balance_mon: recording v1
# fs_hz: 100
# placement: lower_back
# axes: x=v y=ml z=ap
time_s,acc_x_mps2,acc_y_mps2,acc_z_mps2
0.00,9.79,0.02,-0.11
0.01,9.80,0.03,-0.10
"""

HEADER = "time_s,acc_x_mps2,acc_y_mps2,acc_z_mps2"


def _write(tmp_path: Path, text: str | bytes, name: str = "r.csv") -> Path:
    p = tmp_path / name
    if isinstance(text, str):
        text = text.encode("utf-8")
    p.write_bytes(text)
    return p


def test_reads_the_interfaces_example(tmp_path: Path) -> None:
    path = _write(tmp_path, EXAMPLE)
    rec = read_csv_v1(path)
    assert rec.time_s.tolist() == [0.0, 0.01]
    assert rec.acc_mps2.tolist() == [[9.79, 0.02, -0.11], [9.80, 0.03, -0.10]]
    assert rec.fs_nominal_hz == 100.0 and rec.fs_hz == 100.0
    assert rec.placement == "lower_back"
    assert rec.axes == AxisMap(body=("v", "ml", "ap"), sign=(1, 1, 1))
    assert rec.gyr_dps is None
    assert dict(rec.metadata) == {}
    assert rec.source == str(path)
    assert load_recording(path).acc_mps2.tolist() == rec.acc_mps2.tolist()


def test_minimal_file_needs_only_the_header(tmp_path: Path) -> None:
    rec = read_csv_v1(_write(tmp_path, f"{HEADER}\n0,9.8,0,0\n1,9.8,0,0\n"))
    assert rec.fs_nominal_hz is None and rec.placement == "other" and rec.axes is None
    assert rec.fs_hz == 1.0


def test_g_columns_are_converted_with_standard_gravity(tmp_path: Path) -> None:
    text = "time_s,acc_x_g,acc_y_g,acc_z_g\n0,1,0.5,-0.25\n0.01,-1,0,2\n"
    rec = read_csv_v1(_write(tmp_path, text))
    g = GRAVITY_MPS2
    assert g == 9.80665
    assert rec.acc_mps2.tolist() == [[g, 0.5 * g, -0.25 * g], [-g, 0.0, 2 * g]]


def test_gyro_columns_in_any_order(tmp_path: Path) -> None:
    text = (
        "gyr_z_dps,time_s,acc_z_mps2,gyr_x_dps,acc_x_mps2,gyr_y_dps,acc_y_mps2\n"
        "3,0,0.3,1,9.8,2,0.2\n"
        "6,0.01,0.6,4,9.9,5,0.5\n"
    )
    rec = read_csv_v1(_write(tmp_path, text))
    assert rec.has_gyro
    assert rec.time_s.tolist() == [0.0, 0.01]
    assert rec.acc_mps2.tolist() == [[9.8, 0.2, 0.3], [9.9, 0.5, 0.6]]
    assert rec.gyr_dps is not None
    assert rec.gyr_dps.tolist() == [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]


def test_gyro_stays_in_dps_with_g_columns(tmp_path: Path) -> None:
    text = (
        "time_s,acc_x_g,acc_y_g,acc_z_g,gyr_x_dps,gyr_y_dps,gyr_z_dps\n"
        "0,1,0,0,10,20,30\n1,1,0,0,1,2,3\n"
    )
    rec = read_csv_v1(_write(tmp_path, text))
    assert rec.gyr_dps is not None and rec.gyr_dps[0].tolist() == [10.0, 20.0, 30.0]


def test_unknown_metadata_is_kept(tmp_path: Path) -> None:
    text = (
        f"{FORMAT_LINE}\n# fs_hz: 50\n# device: Polar H10 (C1A2B3)\n# subject: José\n"
        "# test: sway\n# condition: eyes closed, foam\n# operator: A. B.\n"
        "# started: 2024-06-01T10:00:00+02:00\n# just a remark without key\n"
        f"{HEADER}\n0,9.8,0,0\n0.02,9.8,0,0\n"
    )
    rec = read_csv_v1(_write(tmp_path, text))
    assert dict(rec.metadata) == {
        "device": "Polar H10 (C1A2B3)",
        "subject": "José",
        "test": "sway",
        "condition": "eyes closed, foam",
        "operator": "A. B.",
        "started": "2024-06-01T10:00:00+02:00",
    }
    assert rec.fs_nominal_hz == 50.0


def test_empty_fs_hz_means_estimated(tmp_path: Path) -> None:
    rec = read_csv_v1(_write(tmp_path, f"# fs_hz:\n{HEADER}\n0,9.8,0,0\n0.04,9.8,0,0\n"))
    assert rec.fs_nominal_hz is None and rec.fs_hz == pytest.approx(25.0)


def test_extra_unknown_columns_are_ignored(tmp_path: Path) -> None:
    text = (
        "sample,time_s,acc_x_mps2,note,acc_y_mps2,acc_z_mps2,temp_c\n"
        "0,0,9.8,ok,0.1,0.2,31.5\n"
        "1,0.01,9.7,moved,0.3,0.4,\n"
    )
    rec = read_csv_v1(_write(tmp_path, text))
    assert rec.acc_mps2.tolist() == [[9.8, 0.1, 0.2], [9.7, 0.3, 0.4]]
    assert not rec.has_gyro


def test_comment_and_blank_lines_among_rows(tmp_path: Path) -> None:
    text = (
        f"# fs_hz: 100\n\n{HEADER}\n0,9.8,0,0\n# marker: eyes closed\n\n"
        "0.01,9.8,0,0  # inline note, with a comma\n0.02,9.8,0,0\n"
    )
    rec = read_csv_v1(_write(tmp_path, text))
    assert rec.time_s.tolist() == [0.0, 0.01, 0.02]
    assert "marker" not in rec.metadata  # metadata only come before the header


def test_error_line_numbers_count_skipped_lines(tmp_path: Path) -> None:
    text = f"# fs_hz: 100\n{HEADER}\n0,9.8,0,0\n\n# pause\n0.01,9.8,nan,0\n"
    with pytest.raises(RecordingError, match=r"line 6: acc_y_mps2 is nan"):
        read_csv_v1(_write(tmp_path, text))
    text = f"{HEADER}\n0,9.8,0,0\n# pause\n\n0.01,9.8,x,0\n"
    with pytest.raises(FileFormatError, match=r"line 5, column 3 \(acc_y_mps2\): 'x' is not"):
        read_csv_v1(_write(tmp_path, text))
    text = f"{HEADER}\n0,9.8,0,0\n\n0.01,9.8,0,0\n0.005,9.8,0,0\n"
    with pytest.raises(
        RecordingError, match=r"line 5: time goes backwards \(0.005 s after 0.01 s\)"
    ):
        read_csv_v1(_write(tmp_path, text))


@pytest.mark.parametrize("eol", ["\r\n", "\r"])
def test_crlf_and_cr_line_endings(tmp_path: Path, eol: str) -> None:
    rec = read_csv_v1(_write(tmp_path, EXAMPLE.replace("\n", eol)))
    assert rec.time_s.tolist() == [0.0, 0.01]
    assert rec.acc_mps2[1].tolist() == [9.80, 0.03, -0.10]
    assert rec.placement == "lower_back" and rec.axes is not None
    bad = EXAMPLE.replace("0.01,9.80,0.03,-0.10", "0.01,9.80,0.03,-0.10,7").replace("\n", eol)
    with pytest.raises(FileFormatError, match="line 7 has 5 values where the header has 4"):
        read_csv_v1(_write(tmp_path, bad))


def test_utf8_byte_order_mark(tmp_path: Path) -> None:
    rec = read_csv_v1(_write(tmp_path, b"\xef\xbb\xbf" + EXAMPLE.encode()))
    assert rec.fs_nominal_hz == 100.0 and rec.time_s.size == 2
    # a BOM right before the header (no metadata) too
    rec = read_csv_v1(_write(tmp_path, b"\xef\xbb\xbf" + f"{HEADER}\n0,1,2,3\n1,1,2,3\n".encode()))
    assert rec.acc_mps2[0].tolist() == [1.0, 2.0, 3.0]


def test_last_line_without_newline_and_number_forms(tmp_path: Path) -> None:
    text = " time_s , acc_x_mps2,acc_y_mps2 ,acc_z_mps2\n0,9.8E0,-1e-3,+2\n1.5,  10 ,.5,-0."
    rec = read_csv_v1(_write(tmp_path, text))
    assert rec.time_s.tolist() == [0.0, 1.5]
    assert rec.acc_mps2.tolist() == [[9.8, -0.001, 2.0], [10.0, 0.5, -0.0]]


# ---------------------------------------------------------------------------
# writing
# ---------------------------------------------------------------------------


def _random_recording(n: int = 500, gyro: bool = True, seed: int = 0) -> Recording:
    rng = np.random.default_rng(seed)
    t = 1234.5 + np.cumsum(rng.uniform(0.009, 0.011, n))
    return Recording(
        time_s=t,
        acc_mps2=rng.normal(0, 5, (n, 3)) + np.array([GRAVITY_MPS2, 0, 0]),
        gyr_dps=rng.normal(0, 50, (n, 3)) if gyro else None,
        fs_nominal_hz=100.0,
        placement="sternum",
        axes=AxisMap.parse("x=-v y=ap z=-ml"),
        metadata={"device": "MetaMotionS", "subject": "Ünal", "condition": "eyes: closed"},
    )


def _assert_same(a: Recording, b: Recording) -> None:
    assert a.time_s.tolist() == b.time_s.tolist()
    assert a.acc_mps2.tolist() == b.acc_mps2.tolist()
    if a.gyr_dps is None:
        assert b.gyr_dps is None
    else:
        assert b.gyr_dps is not None and a.gyr_dps.tolist() == b.gyr_dps.tolist()
    assert (a.fs_nominal_hz, a.placement, a.axes) == (b.fs_nominal_hz, b.placement, b.axes)
    assert dict(a.metadata) == dict(b.metadata)


@pytest.mark.parametrize("gyro", [True, False])
def test_writer_output_reads_back_identically(tmp_path: Path, gyro: bool) -> None:
    rec = _random_recording(gyro=gyro)
    path = tmp_path / "out.csv"
    write_csv_v1(rec, path, chunk_rows=77)  # several chunks
    back = read_csv_v1(path)
    _assert_same(rec, back)
    assert path.read_text(encoding="utf-8").startswith(FORMAT_LINE + "\n")
    assert not (tmp_path / "out.csv.part").exists()
    # and again: the file is a fixed point
    path2 = tmp_path / "again.csv"
    save_recording(back, path2)
    assert path2.read_bytes() == path.read_bytes()


def test_writer_puts_newlines_of_metadata_on_one_line(tmp_path: Path) -> None:
    rec = _random_recording(n=3).replace(metadata={"note": "line one\nline two\r\n"})
    path = tmp_path / "m.csv"
    write_csv_v1(rec, path)
    assert read_csv_v1(path).metadata["note"] == "line one line two"


def test_writer_rejects_unwritable_metadata_key(tmp_path: Path) -> None:
    rec = _random_recording(n=3).replace(metadata={"bad key": "x"})
    with pytest.raises(RecordingError, match="metadata key 'bad key' cannot be written"):
        write_csv_v1(rec, tmp_path / "k.csv")


finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)


@settings(max_examples=40, deadline=None)
@given(
    steps=hnp.arrays(np.float64, st.integers(2, 40), elements=st.floats(1e-6, 10.0)),
    start=finite,
    data=st.data(),
)
def test_round_trip_is_lossless(steps: np.ndarray, start: float, data: st.DataObject) -> None:
    t = start + np.cumsum(steps)
    if not np.all(np.diff(t) > 0):  # cumulated rounding at a large offset
        return
    acc = data.draw(hnp.arrays(np.float64, (t.size, 3), elements=finite))
    rec = Recording(time_s=t, acc_mps2=acc)
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "h.csv"
        write_csv_v1(rec, path)
        _assert_same(rec, read_csv_v1(path))


# ---------------------------------------------------------------------------
# live writing
# ---------------------------------------------------------------------------


def test_csv_writer_append_and_flush(tmp_path: Path) -> None:
    rec = _random_recording(n=300)
    path = tmp_path / "live.csv"
    with CsvWriter(
        path,
        fs_nominal_hz=rec.fs_nominal_hz,
        placement=rec.placement,
        axes=rec.axes,
        metadata=dict(rec.metadata),
        with_gyro=True,
    ) as w:
        w.append(rec.time_s[:100], rec.acc_mps2[:100], rec.gyr_dps[:100])
        w.append(rec.time_s[100:100], rec.acc_mps2[100:100], rec.gyr_dps[100:100])  # no-op
        w.flush()
        partial = read_csv_v1(path)  # readable while still open
        assert partial.n_samples == 100 and w.n_written == 100
        _assert_same(rec.slice_index(0, 100), partial)
        w.append(rec.time_s[100:], rec.acc_mps2[100:], rec.gyr_dps[100:])
        assert w.n_written == 300
    _assert_same(rec, read_csv_v1(path))


def test_csv_writer_refuses_bad_appends(tmp_path: Path) -> None:
    path = tmp_path / "live.csv"
    w = CsvWriter(path, fs_nominal_hz=100.0, with_gyro=True)
    acc = np.zeros((2, 3))
    w.append(np.array([0.0, 0.01]), acc, np.zeros((2, 3)))
    with pytest.raises(RecordingError, match="appended times must strictly increase"):
        w.append(np.array([0.01, 0.02]), acc, np.zeros((2, 3)))
    with pytest.raises(RecordingError, match="has gyroscope columns"):
        w.append(np.array([0.02, 0.03]), acc)
    w.close()
    w.close()  # idempotent
    with pytest.raises(RecordingError, match="writer is closed"):
        w.append(np.array([1.0, 2.0]), acc, np.zeros((2, 3)))
    rec = read_csv_v1(path)
    assert rec.time_s.tolist() == [0.0, 0.01]  # the refused rows were not written


def test_csv_writer_header_only_file_is_reported_as_empty(tmp_path: Path) -> None:
    path = tmp_path / "live.csv"
    with CsvWriter(path, placement="wrist"):
        pass
    with pytest.raises(FileFormatError, match="header but no data rows"):
        read_csv_v1(path)
