"""Regenerate the malformed-input corpus of this folder (deterministic).

Run ``.venv/bin/python tests/malformed/make_corpus.py`` from the repository
root. Every file is a valid 6 s, 25 Hz standing recording (150 rows) with one
defect, so that the defect alone decides the outcome; README.md lists each
file with its problem and the key phrase of the expected error message.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
FS_HZ = 25
N = 150
HEADER = "time_s,acc_x_mps2,acc_y_mps2,acc_z_mps2"
META = [
    "# balance_mon: recording v1",
    f"# fs_hz: {FS_HZ}",
    "# placement: lower_back",
    "# axes: x=v y=ml z=ap",
]


def _base_rows(scale: float = 1.0, gravity: float = 9.80665) -> list[str]:
    """Quiet standing: gravity on x plus small sway on y and z."""
    rng = np.random.default_rng(20240601)
    t = np.arange(N) / FS_HZ
    x = gravity + 0.02 * rng.standard_normal(N)
    y = 0.05 * np.sin(2 * np.pi * 0.4 * t) + 0.01 * rng.standard_normal(N)
    z = 0.08 * np.sin(2 * np.pi * 0.3 * t + 1.0) + 0.01 * rng.standard_normal(N)
    return [
        f"{ti:.2f},{xi * scale:.4f},{yi * scale:.4f},{zi * scale:.4f}"
        for ti, xi, yi, zi in zip(t, x, y, z, strict=True)
    ]


def _csv(meta: list[str], header: str, rows: list[str], eol: str = "\n") -> str:
    return eol.join([*meta, header, *rows]) + eol


def _write(name: str, content: str | bytes) -> None:
    data = content.encode("utf-8") if isinstance(content, str) else content
    (HERE / name).write_bytes(data)


def _replace_field(row: str, col: int, value: str) -> str:
    fields = row.split(",")
    fields[col] = value
    return ",".join(fields)


def _bmr(rows: list[str]) -> bytes:
    """A valid .bmr file of the base recording (same layout as io/binary.py)."""
    data = np.array([[float(v) for v in r.split(",")] for r in rows])
    n = data.shape[0]
    head = {
        "format": "balance_mon binary recording",
        "version": 1,
        "n_samples": n,
        "fs_nominal_hz": float(FS_HZ),
        "placement": "lower_back",
        "axes": "x=v y=ml z=ap",
        "metadata": {},
        "columns": [
            {"name": "time_s", "dtype": "<f8", "shape": [n], "offset": 0},
            {"name": "acc_mps2", "dtype": "<f8", "shape": [n, 3], "offset": 0},
        ],
    }
    magic = b"\x89BMR\r\n\x1a\n"
    hlen = 512 - len(magic) - 4
    start = 512
    head["columns"][0]["offset"] = start
    head["columns"][1]["offset"] = start + ((n * 8 + 63) // 64) * 64
    raw = json.dumps(head).encode()
    raw += b" " * (hlen - len(raw))
    out = bytearray(magic + struct.pack("<I", hlen) + raw)
    out += data[:, 0].astype("<f8").tobytes()
    out += b"\0" * (head["columns"][1]["offset"] - len(out))
    out += np.ascontiguousarray(data[:, 1:4]).astype("<f8").tobytes()
    return bytes(out)


def main() -> None:
    rows = _base_rows()
    m = META

    _write("empty.csv", b"")
    _write("header_only.csv", _csv(m, HEADER, []))
    _write("metadata_only.csv", "\n".join(m) + "\n")
    _write(
        "missing_acc_z.csv",
        _csv(m, "time_s,acc_x_mps2,acc_y_mps2", [r.rsplit(",", 1)[0] for r in rows]),
    )
    _write("no_header.csv", _csv(m[:1], rows[0], rows[1:]))
    _write("misspelled_time.csv", _csv(m, HEADER.replace("time_s", "tme_s"), rows))
    _write("semicolon_separated.csv", _csv(m, HEADER, rows).replace(",", ";"))
    _write("tab_separated.csv", _csv(m, HEADER, rows).replace(",", "\t"))

    r = list(rows)
    r[3] = _replace_field(r[3], 1, "9.8l")
    _write("text_in_number.csv", _csv(m, HEADER, r))
    r = list(rows)
    r[3] = _replace_field(r[3], 2, "NaN")
    _write("nan_value.csv", _csv(m, HEADER, r))
    r = list(rows)
    r[3] = _replace_field(r[3], 3, "inf")
    _write("inf_value.csv", _csv(m, HEADER, r))
    r = list(rows)
    r[3] = _replace_field(r[3], 2, "")
    _write("empty_field.csv", _csv(m, HEADER, r))
    r = list(rows)
    r[4] = _replace_field(r[4], 0, r[3].split(",")[0])
    _write("duplicate_times.csv", _csv(m, HEADER, r))
    r = list(rows)
    r[3], r[4] = r[4], r[3]
    _write("decreasing_times.csv", _csv(m, HEADER, r))
    _write("one_sample.csv", _csv(m, HEADER, rows[:1]))
    _write("truncated_row.csv", _csv(m, HEADER, rows)[:-12])
    r = list(rows)
    r[3] += ",0.5"
    _write("extra_value.csv", _csv(m, HEADER, r))
    r = list(rows)
    r[3] = r[3].rsplit(",", 1)[0]
    _write("missing_value.csv", _csv(m, HEADER, r))
    r = list(rows)
    r.insert(3, "   ")
    _write("spaces_only_line.csv", _csv(m, HEADER, r))

    # not text at all
    rng = np.random.default_rng(7)
    _write("garbage_random.csv", rng.integers(0, 256, 512, dtype=np.uint8).tobytes())
    good = _csv(m, HEADER, rows).encode()
    _write("nul_bytes.csv", good[:-300] + b"\0" * 300)  # zero-filled tail after a crash
    _write("utf16.csv", _csv(m, HEADER, rows).encode("utf-16"))  # with byte-order mark
    _write("utf16_no_bom.csv", _csv(m, HEADER, rows).encode("utf-16-le"))
    _write(
        "latin1_metadata.csv",
        _csv([*m, "# subject: José Muñoz"], HEADER, rows).encode("latin-1"),
    )

    # wrong units (well-formed files, caught by the quality report)
    _write("g_as_mps2.csv", _csv(m, HEADER, _base_rows(scale=1 / 9.80665)))
    _write("mg_as_mps2.csv", _csv(m, HEADER, _base_rows(scale=1000 / 9.80665)))
    _write(
        "mps2_in_g_columns.csv",
        _csv(m, HEADER.replace("_mps2", "_g"), rows),
    )
    _write("gravity_removed.csv", _csv(m, HEADER, _base_rows(gravity=0.0)))
    r = list(rows)
    r[3] = _replace_field(r[3], 1, "9.81e7")
    _write("impossible_value.csv", _csv(m, HEADER, r))
    ms_rows = [_replace_field(x, 0, f"{i * 1000 // FS_HZ}") for i, x in enumerate(rows)]
    _write("time_in_ms.csv", _csv([x for x in m if "fs_hz" not in x], HEADER, ms_rows))
    ns_rows = [
        _replace_field(x, 0, f"{1_717_230_000_000_000_000 + i * 40_000_000}")
        for i, x in enumerate(rows)
    ]
    _write("time_in_ns.csv", _csv([x for x in m if "fs_hz" not in x], HEADER, ns_rows))
    _write("fs_hz_mismatch.csv", _csv([x.replace("25", "250") for x in m], HEADER, rows))

    # metadata and header
    _write("bad_fs_hz.csv", _csv([x.replace("25", "fast") for x in m], HEADER, rows))
    _write("negative_fs_hz.csv", _csv([x.replace("25", "-25") for x in m], HEADER, rows))
    _write(
        "unknown_placement.csv",
        _csv([x.replace("lower_back", "ankle") for x in m], HEADER, rows),
    )
    _write(
        "bad_axes.csv",
        _csv([x.replace("x=v y=ml z=ap", "up forward left") for x in m], HEADER, rows),
    )
    _write(
        "axes_repeated.csv",
        _csv([x.replace("x=v y=ml z=ap", "x=v y=v z=ap") for x in m], HEADER, rows),
    )
    _write(
        "duplicate_columns.csv",
        _csv(m, "time_s,acc_x_mps2,acc_y_mps2,acc_y_mps2", rows),
    )
    _write(
        "unsupported_version.csv",
        _csv([x.replace("recording v1", "recording v2") for x in m], HEADER, rows),
    )
    _write(
        "partial_gyro.csv",
        _csv(m, HEADER + ",gyr_x_dps", [x + ",0.5" for x in rows]),
    )
    _write(
        "acc_in_both_units.csv",
        _csv(m, HEADER + ",acc_x_g", [x + ",1.0" for x in rows]),
    )

    # binary recordings
    bmr = _bmr(rows)
    _write("truncated.bmr", bmr[: len(bmr) - 1000])
    _write("bad_magic.bmr", b"\x89BMX" + bmr[4:])
    head_end = bmr.index(b"}") + 1
    bumped = bmr[:head_end].replace(b'"version": 1', b'"version": 9') + bmr[head_end:]
    _write("future_version.bmr", bumped)


if __name__ == "__main__":
    main()
