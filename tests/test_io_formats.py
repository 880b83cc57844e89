"""Round trips between the recording formats, and the binary reader on damaged files.

CSV v1 -> Recording -> binary -> Recording -> CSV v1 must lose nothing: float64
arrays bit for bit (negative zero, subnormals, the largest finite values,
17-digit values), metadata, placement, axes, nominal rate, gyroscope or not,
and acceleration given in g columns. The binary reader must answer every
damaged file with FileFormatError and nothing else.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import struct
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from balance_mon.cli import main
from balance_mon.consts import GRAVITY_MPS2, PLACEMENTS
from balance_mon.errors import FileFormatError
from balance_mon.io import detect_format, load_recording
from balance_mon.io.binary import MAGIC, read_binary, write_binary
from balance_mon.io.csv_v1 import read_csv_v1, write_csv_v1
from balance_mon.recording import MAX_ABS_TIME_S, AxisMap, Recording

OWN_KEYS = ("fs_hz", "placement", "axes", "balance_mon")


def bits(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.float64).view(np.uint64)


def same_bits(a: np.ndarray | None, b: np.ndarray | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return a.shape == b.shape and np.array_equal(bits(a), bits(b))


# ---------------------------------------------------------------------------
# Strategies
# ---------------------------------------------------------------------------

finite = st.floats(allow_nan=False, allow_infinity=False)
awkward = st.one_of(
    finite,
    st.sampled_from(
        [
            0.0,
            -0.0,
            5e-324,
            -5e-324,
            2.2250738585072014e-308,
            1.7976931348623157e308,
            -1.7976931348623157e308,
            0.1,
            1 / 3,
            9.80665,
            123456789.12345679,
            1e-300,
            1e300,
        ]
    ),
)
# Recording accepts times within MAX_ABS_TIME_S (1e10 s) of their origin.
times = st.floats(-MAX_ABS_TIME_S, MAX_ABS_TIME_S) | st.sampled_from(
    [-0.0, 5e-324, 1e-300, 1 / 3, MAX_ABS_TIME_S, -MAX_ABS_TIME_S, 1547839029.453]
)
axis_maps = st.builds(
    AxisMap,
    body=st.permutations(["v", "ml", "ap"]).map(tuple),
    sign=st.tuples(*[st.sampled_from([1, -1])] * 3),
)
meta_keys = st.from_regex(r"[A-Za-z0-9_.\-]{1,12}", fullmatch=True).filter(
    lambda k: k not in OWN_KEYS
)
# Values are single-line text without surrounding whitespace (the CSV header
# trims it, as documented); anything else must survive: non-ASCII, control
# characters, Unicode line and paragraph separators.
meta_values = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n\x00"), max_size=20
).filter(lambda v: v == v.strip())


@st.composite
def recordings(draw, *, acc_values=awkward, with_gyro=None):
    n = draw(st.integers(2, 25))
    t = sorted(draw(st.lists(times, min_size=n, max_size=n, unique=True)))
    acc = draw(st.lists(st.tuples(acc_values, acc_values, acc_values), min_size=n, max_size=n))
    gyro = draw(st.booleans()) if with_gyro is None else with_gyro
    gyr = (
        draw(st.lists(st.tuples(awkward, awkward, awkward), min_size=n, max_size=n))
        if gyro
        else None
    )
    return Recording(
        time_s=np.array(t),
        acc_mps2=np.array(acc, dtype=np.float64),
        gyr_dps=None if gyr is None else np.array(gyr, dtype=np.float64),
        fs_nominal_hz=draw(st.none() | st.floats(1e-300, 1e300)),
        placement=draw(st.sampled_from(PLACEMENTS)),
        axes=draw(st.none() | axis_maps),
        metadata=draw(st.dictionaries(meta_keys, meta_values, max_size=4)),
    )


def hand_written_csv(rec: Recording, *, in_g: bool = False) -> str:
    """CSV v1 text written here, independently of write_csv_v1."""
    lines = ["# balance_mon: recording v1"]
    if rec.fs_nominal_hz is not None:
        lines.append(f"# fs_hz: {rec.fs_nominal_hz!r}")
    lines.append(f"# placement: {rec.placement}")
    if rec.axes is not None:
        lines.append(f"# axes: {rec.axes.format()}")
    lines += [f"# {k}: {v}" for k, v in rec.metadata.items()]
    unit = "g" if in_g else "mps2"
    cols = ["time_s"] + [f"acc_{a}_{unit}" for a in "xyz"]
    if rec.has_gyro:
        cols += [f"gyr_{a}_dps" for a in "xyz"]
    lines.append(",".join(cols))
    block = [rec.time_s[:, None], rec.acc_mps2] + ([rec.gyr_dps] if rec.has_gyro else [])
    for row in np.hstack(block).tolist():
        lines.append(",".join(repr(v) for v in row))
    return "\n".join(lines) + "\n"


def assert_same(a: Recording, b: Recording) -> None:
    assert same_bits(a.time_s, b.time_s)
    assert same_bits(a.acc_mps2, b.acc_mps2)
    assert same_bits(a.gyr_dps, b.gyr_dps)
    assert a.fs_nominal_hz == b.fs_nominal_hz
    assert a.placement == b.placement
    assert a.axes == b.axes
    assert dict(a.metadata) == dict(b.metadata)


def csv_binary_csv(folder: Path, text: str) -> tuple[Recording, Recording, str]:
    src, bmr, out = folder / "in.csv", folder / "mid.bmr", folder / "out.csv"
    src.write_text(text, encoding="utf-8")
    first = read_csv_v1(src)
    write_binary(first, bmr)
    second = read_binary(bmr)
    write_csv_v1(second, out)
    return first, second, out.read_text(encoding="utf-8")


# ---------------------------------------------------------------------------
# Round trips
# ---------------------------------------------------------------------------


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rec=recordings())
@example(
    rec=Recording(
        time_s=np.array([-0.0, 5e-324, MAX_ABS_TIME_S]),
        acc_mps2=np.array([[-0.0, 5e-324, -1.7976931348623157e308]] * 3),
        gyr_dps=np.array([[0.1, 1 / 3, 2.2250738585072014e-308]] * 3),
        fs_nominal_hz=5e-324,
        placement="lower_back",
        axes=AxisMap.parse("x=-v y=ml z=-ap"),
        metadata={
            "subject": "Zoë 42 : x",
            "empty": "",
            "test": "# not a comment",
            "odd": "a\x85b\u2028c\x0bd\x1ce\tf",
        },
    )
)
def test_csv_binary_csv_is_lossless(rec: Recording):
    with tempfile.TemporaryDirectory() as d:
        text = hand_written_csv(rec)
        first, second, out_text = csv_binary_csv(Path(d), text)
    assert_same(first, rec)
    assert_same(second, rec)
    assert out_text == text


@settings(max_examples=75, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rec=recordings(acc_values=awkward.filter(lambda v: abs(v) < 1e300)))
def test_g_columns_convert_once_then_round_trip(rec: Recording):
    # (values small enough that multiplying by g stays finite)
    with tempfile.TemporaryDirectory() as d:
        first, second, out_text = csv_binary_csv(Path(d), hand_written_csv(rec, in_g=True))
        assert same_bits(first.acc_mps2, rec.acc_mps2 * GRAVITY_MPS2)
        assert_same(second, first)
        again = Path(d) / "again.csv"
        again.write_text(out_text, encoding="utf-8")
        assert_same(read_csv_v1(again), first)
    assert "acc_x_mps2" in out_text and "acc_x_g" not in out_text


def test_csv_writer_keeps_metadata_on_one_readable_line(tmp_path: Path):
    rec = Recording(
        time_s=np.array([0.0, 0.01]),
        acc_mps2=np.zeros((2, 3)),
        metadata={"note": "one\ntwo\r\nthree", "nul": "a\x00b"},
    )
    write_csv_v1(rec, tmp_path / "r.csv")
    back = read_csv_v1(tmp_path / "r.csv")
    assert dict(back.metadata) == {"note": "one two  three", "nul": "a b"}


def test_binary_round_trip_keeps_metadata_text_exactly(tmp_path: Path):
    rec = Recording(
        time_s=np.array([0.0, 0.01]),
        acc_mps2=np.zeros((2, 3)),
        metadata={"note": "line one\nline two", "padded": "  x  ", "uni": "\u00e9\u4e2d\U0001f600"},
    )
    write_binary(rec, tmp_path / "r.bmr")
    assert dict(read_binary(tmp_path / "r.bmr").metadata) == dict(rec.metadata)


def _sample_recording(gyro: bool = True) -> Recording:
    t = np.arange(500) / 100.0
    rng = np.random.default_rng(3)
    return Recording(
        time_s=t,
        acc_mps2=rng.normal(0, 0.3, (t.size, 3)) + np.array([9.80665, 0, 0]),
        gyr_dps=rng.normal(0, 5, (t.size, 3)) if gyro else None,
        fs_nominal_hz=100.0,
        placement="lower_back",
        axes=AxisMap.parse("x=v y=ml z=ap"),
        metadata={"subject": "S01", "device": "test"},
    )


@pytest.mark.parametrize("gyro", [True, False])
def test_convert_both_ways_via_cli(tmp_path: Path, gyro: bool, capsys):
    rec = _sample_recording(gyro)
    src = tmp_path / "a.csv"
    write_csv_v1(rec, src)
    bmr, back = tmp_path / "b.bmr", tmp_path / "c.csv"
    assert main(["convert", str(src), str(bmr)]) == 0
    assert detect_format(bmr) == "binary"
    assert main(["convert", str(bmr), str(back)]) == 0
    assert back.read_bytes() == src.read_bytes()
    assert_same(load_recording(bmr), rec)
    # explicit --to, and refusing to overwrite
    other = tmp_path / "d.data"
    assert main(["convert", str(back), str(other), "--to", "binary"]) == 0
    assert detect_format(other) == "binary"
    assert main(["convert", str(src), str(bmr)]) == 2
    assert main(["convert", str(src), str(bmr), "--force"]) == 0
    err = capsys.readouterr().err
    assert "already exists" in err and "wrote" in err


def test_convert_bad_binary_is_one_line(tmp_path: Path, capsys):
    bad = tmp_path / "bad.bmr"
    bad.write_bytes(MAGIC + b"\x10\x00\x00\x00{not json}")
    assert main(["convert", str(bad), str(tmp_path / "x.csv")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(bad) in err


# ---------------------------------------------------------------------------
# Binary reader robustness
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def good_bmr(tmp_path_factory) -> bytes:
    p = tmp_path_factory.mktemp("bmr") / "good.bmr"
    rec = Recording(
        time_s=np.arange(6) / 10.0,
        acc_mps2=np.ones((6, 3)),
        gyr_dps=np.zeros((6, 3)),
        fs_nominal_hz=10.0,
        placement="sternum",
        axes=AxisMap.parse("x=v y=ml z=ap"),
        metadata={"subject": "S1"},
    )
    write_binary(rec, p)
    return p.read_bytes()


def _header(raw: bytes) -> tuple[dict, int]:
    (hlen,) = struct.unpack("<I", raw[8:12])
    return json.loads(raw[12 : 12 + hlen]), hlen


def _with_header(raw: bytes, head: object, *, text: bytes | None = None) -> bytes:
    _, hlen = _header(raw)
    body = text if text is not None else json.dumps(head).encode()
    assert len(body) <= hlen
    return raw[:12] + body.ljust(hlen) + raw[12 + hlen :]


def _read(tmp_path: Path, data: bytes):
    p = tmp_path / "x.bmr"
    p.write_bytes(data)
    return read_binary(p)


def test_good_binary_reads(tmp_path: Path, good_bmr: bytes):
    rec = _read(tmp_path, good_bmr)
    assert rec.n_samples == 6 and rec.placement == "sternum" and rec.has_gyro


def test_every_truncation_is_a_file_format_error(tmp_path: Path, good_bmr: bytes):
    head, hlen = _header(good_bmr)
    data_end = max(c["offset"] + 8 * 3 * head["n_samples"] for c in head["columns"])
    # (cutting only the alignment padding after the last column leaves a valid file)
    cuts = list(range(0, 12 + hlen + 2)) + list(range(12 + hlen + 2, data_end, 5))
    for cut in cuts:
        with pytest.raises(FileFormatError) as err:
            _read(tmp_path, good_bmr[:cut])
        assert str(tmp_path / "x.bmr") in str(err.value)


@pytest.mark.parametrize("i", range(len(MAGIC)))
def test_bad_magic(tmp_path: Path, good_bmr: bytes, i: int):
    raw = bytearray(good_bmr)
    raw[i] ^= 0x20
    with pytest.raises(FileFormatError, match="bad signature"):
        _read(tmp_path, bytes(raw))


def test_text_file_is_not_binary(tmp_path: Path):
    with pytest.raises(FileFormatError, match="bad signature"):
        _read(tmp_path, b"time_s,acc_x_mps2,acc_y_mps2,acc_z_mps2\n0,1,2,3\n")


def test_empty_and_folder(tmp_path: Path):
    with pytest.raises(FileFormatError, match="empty"):
        _read(tmp_path, b"")
    with pytest.raises(FileFormatError, match="is a folder"):
        read_binary(tmp_path)
    with pytest.raises(FileFormatError, match="no such file"):
        read_binary(tmp_path / "missing.bmr")


@pytest.mark.parametrize("version", [2, 0, "1", None])
def test_wrong_version(tmp_path: Path, good_bmr: bytes, version):
    head, _ = _header(good_bmr)
    head["version"] = version
    with pytest.raises(FileFormatError, match=r"version .* is not supported"):
        _read(tmp_path, _with_header(good_bmr, head))


def _damage(head: dict, path: tuple, value) -> dict:
    head = json.loads(json.dumps(head))
    node = head
    for k in path[:-1]:
        node = node[k]
    if value is _DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return head


_DELETE = object()
DAMAGES = [
    (("n_samples",), -3),
    (("n_samples",), 7),
    (("n_samples",), 2.5),
    (("n_samples",), "6"),
    (("n_samples",), True),
    (("n_samples",), 10**30),
    (("n_samples",), _DELETE),
    (("columns",), _DELETE),
    (("columns",), 5),
    (("columns",), [1, 2]),
    (("columns",), [{"name": ["x"]}]),
    (("columns", 0, "offset"), -8),
    (("columns", 0, "offset"), 10**12),
    (("columns", 0, "offset"), 64.0),
    (("columns", 0, "offset"), "64"),
    (("columns", 1, "offset"), _DELETE),
    (("columns", 1, "dtype"), "<f4"),
    (("columns", 1, "dtype"), "not a dtype"),
    (("columns", 1, "dtype"), {"x": 1}),
    (("columns", 0, "name"), "t"),
    (("fs_nominal_hz",), "fast"),
    (("fs_nominal_hz",), [100]),
    (("fs_nominal_hz",), -1),
    (("placement",), "ankle"),
    (("placement",), 5),
    (("axes",), 5),
    (("axes",), "x=v y=v z=ap"),
    (("metadata",), [1, 2]),
    (("metadata",), "text"),
]


@pytest.mark.parametrize(("path", "value"), DAMAGES, ids=[f"{p}={v!r}"[:40] for p, v in DAMAGES])
def test_damaged_header_fields(tmp_path: Path, good_bmr: bytes, path, value):
    head, _ = _header(good_bmr)
    with pytest.raises(FileFormatError):
        _read(tmp_path, _with_header(good_bmr, _damage(head, path, value)))


@pytest.mark.parametrize(
    "text",
    [
        b"",
        b"{",
        b"[]",
        b"5",
        b"null",
        b'"x"',
        b"\xff\xfe",
        b"[" * 200 + b"]" * 200,
        b'{"version": 1}',
        b"NaN",
        b'{"version": 1, "n_samples": NaN}',
        b'{"version": 1, "n_samples": 1e400}',
    ],
)
def test_unparsable_header(tmp_path: Path, good_bmr: bytes, text: bytes):
    with pytest.raises(FileFormatError):
        _read(tmp_path, _with_header(good_bmr, None, text=text))


def test_header_length_field_damaged(tmp_path: Path, good_bmr: bytes):
    for hlen in (0, 1, 2**31, 2**32 - 1, len(good_bmr)):
        raw = good_bmr[:8] + struct.pack("<I", hlen) + good_bmr[12:]
        with pytest.raises(FileFormatError):
            _read(tmp_path, raw)


def test_nan_in_data_is_a_file_format_error(tmp_path: Path, good_bmr: bytes):
    head, _ = _header(good_bmr)
    off = head["columns"][1]["offset"]
    raw = good_bmr[:off] + struct.pack("<d", float("nan")) + good_bmr[off + 8 :]
    with pytest.raises(FileFormatError, match="not a finite number"):
        _read(tmp_path, raw)


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_random_corruption_reads_or_raises_file_format_error(good_bmr: bytes, data):
    raw = bytearray(good_bmr)
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] = data.draw(st.integers(0, 255))
    with tempfile.TemporaryDirectory() as d:
        try:
            rec = _read(Path(d), bytes(raw))
        except FileFormatError:
            return
    assert isinstance(rec, Recording)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)


@settings(max_examples=200, deadline=None)
@given(
    key=st.sampled_from(
        ["n_samples", "columns", "fs_nominal_hz", "placement", "axes", "metadata", "version"]
    ),
    value=json_values,
)
def test_any_json_in_a_header_field(good_bmr: bytes, key: str, value):
    head, hlen = _header(good_bmr)
    head[key] = value
    body = json.dumps(head).encode()
    assume(len(body) <= hlen)
    with tempfile.TemporaryDirectory() as d, contextlib.suppress(FileFormatError):
        _read(Path(d), _with_header(good_bmr, head))


def test_all_column_permutations_of_offsets_still_read(tmp_path: Path, good_bmr: bytes):
    # the reader follows the offsets in the header, whatever the column order
    head, _ = _header(good_bmr)
    for perm in itertools.permutations(head["columns"]):
        h = dict(head, columns=list(perm))
        assert _read(tmp_path, _with_header(good_bmr, h)).n_samples == 6


def test_deeply_nested_header_json(tmp_path: Path):
    body = b"[" * 100_000 + b"]" * 100_000
    with pytest.raises(FileFormatError, match="damaged"):
        _read(tmp_path, MAGIC + struct.pack("<I", len(body)) + body)
