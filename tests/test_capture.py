"""Raw capture files (balance_mon.io.capture): format, round trip, damage."""

from __future__ import annotations

import pytest

from balance_mon.errors import FileFormatError
from balance_mon.io.capture import (
    CAPTURE_FORMAT_LINE,
    CaptureRecord,
    CaptureWriter,
    read_capture,
)

UUID = "FB005C82-02E7-F387-1CAD-8ACD2D8DF0C8"


def _write(path, records, header=None):
    with CaptureWriter(path, header or {"model": "polar-h10", "t0_ns": 5}) as w:
        for r in records:
            w.write(r)


def test_round_trip_keeps_every_byte_and_time(tmp_path):
    path = tmp_path / "c.cap"
    recs = [
        CaptureRecord.make_event(10, "connected", device_name="Polar H10 1", address="AA"),
        CaptureRecord.notification(11, UUID, b"\x02\x00\xff"),
        CaptureRecord.notification(11, UUID, b""),
        CaptureRecord.make_event(12, "battery", battery_pct=80),
    ]
    _write(path, recs, {"model": "polar-h10", "t0_ns": 5, "unknown_key": [1, 2]})
    cap = read_capture(path)
    assert cap.header == {"model": "polar-h10", "t0_ns": 5, "unknown_key": [1, 2]}
    assert not cap.truncated
    assert cap.records[0].event == {
        "event": "connected",
        "device_name": "Polar H10 1",
        "address": "AA",
    }
    assert cap.records[1] == CaptureRecord("N", 11, UUID.lower(), b"\x02\x00\xff", None)
    assert cap.records[2].data == b""
    assert [r.t_ns for r in cap.records] == [10, 11, 11, 12]


def test_documented_layout(tmp_path):
    path = tmp_path / "c.cap"
    _write(path, [CaptureRecord.notification(1234, UUID, b"\x0f\x05")], {"model": "x"})
    lines = path.read_text().splitlines()
    assert lines == [
        CAPTURE_FORMAT_LINE,
        'H {"model":"x"}',
        f"N 1234 {UUID.lower()} 0f05",
    ]


def test_line_cut_short_by_a_crash_is_dropped_and_flagged(tmp_path):
    path = tmp_path / "c.cap"
    _write(path, [CaptureRecord.notification(i, UUID, b"\x01\x02") for i in range(3)])
    text = path.read_text()
    path.write_text(text[:-4])  # the last record loses its end (and newline)
    cap = read_capture(path)
    assert cap.truncated
    assert len(cap.records) == 2


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("N abc uuid 00", "line 3: time 'abc' is not an integer"),
        (f"N 5 {UUID} zz", "line 3: notification bytes are not hex"),
        ("E 5 {not json", "line 3: event is not JSON"),
        ('E 5 {"x": 1}', "line 3: event has no 'event' name"),
        ("X 5 whatever", "line 3: unknown record type 'X'"),
    ],
)
def test_malformed_lines_name_the_line(tmp_path, line, message):
    path = tmp_path / "c.cap"
    path.write_text(f'{CAPTURE_FORMAT_LINE}\nH {{"model": "x"}}\n{line}\n')
    with pytest.raises(FileFormatError, match=message):
        read_capture(path)


def test_time_going_backwards_is_refused(tmp_path):
    path = tmp_path / "c.cap"
    path.write_text(f"{CAPTURE_FORMAT_LINE}\nH {{}}\nN 5 {UUID} 00\nN 4 {UUID} 00\n")
    with pytest.raises(FileFormatError, match="line 4: time goes backwards"):
        read_capture(path)
    with (
        pytest.raises(FileFormatError, match="must not decrease"),
        CaptureWriter(tmp_path / "d.cap", {}) as w,
    ):
        w.write(CaptureRecord.notification(5, UUID, b""))
        w.write(CaptureRecord.notification(4, UUID, b""))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"time_s,acc_x_mps2\n1,2\n", "not a balance_mon capture"),
        (b"", "not a balance_mon capture"),
        (b"\xff\xfe\x00", "not UTF-8|not a balance_mon capture"),
        (CAPTURE_FORMAT_LINE.encode() + b"\nN 1 u 00\n", "line 2 must be the capture header"),
        (CAPTURE_FORMAT_LINE.encode() + b"\nH [1]\n", "header must be a JSON object"),
    ],
)
def test_not_a_capture(tmp_path, content, message):
    path = tmp_path / "c.cap"
    path.write_bytes(content)
    with pytest.raises(FileFormatError, match=message):
        read_capture(path)


def test_missing_file(tmp_path):
    with pytest.raises(FileFormatError, match="no such file"):
        read_capture(tmp_path / "nope.cap")
