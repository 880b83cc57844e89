"""Fuzz the device decoders: only DecodeError may ever escape.

Feeds random and mutated packets (bit flips, truncation, extension, random
bytes, interesting byte values, splices, CRC- and header-repaired mutations) of
valid Polar PMD frames, reference-sensor packets and WitMotion frames to the
stateless decoders and to long-lived stream decoders, and checks that every
input either decodes to well-formed output (right shapes and dtypes, finite
values) or raises :class:`balance_mon.errors.DecodeError` -- never any other
exception. Seeded, so a failure is reproducible.

Usage::

    .venv/bin/python bench/fuzz_decoders.py [-n 1000000] [--seed 20240611]

Prints the number of packets per decoder family, how many decoded and how many
were rejected, failures (if any, with the packet's hex) and the time taken.
``tests/test_decoders_fuzz.py`` runs the same harness on 50,000 packets (or
``BALANCE_MON_FUZZ_N``).
"""

from __future__ import annotations

import argparse
import json
import random
import struct
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from balance_mon.devices import polar, reference, witmotion
from balance_mon.errors import DecodeError

VECTORS = Path(__file__).resolve().parent.parent / "tests" / "vectors"
INTERESTING = (0x00, 0x01, 0x02, 0x03, 0x06, 0x0F, 0x20, 0x21, 0x55, 0x61, 0x71, 0x7F, 0x80,
               0x81, 0x83, 0xF0, 0xFE, 0xFF)  # fmt: skip


# --- corpora of valid inputs ------------------------------------------------------


def _vector_hex(name: str, *keys: str) -> list[bytes]:
    data = json.loads((VECTORS / name).read_text())
    out = []
    stack = [data]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for k, v in node.items():
                if k in keys and isinstance(v, str):
                    out.append(bytes.fromhex(v))
                else:
                    stack.append(v)
        elif isinstance(node, list):
            stack.extend(node)
    return out


def polar_corpus(rng: random.Random) -> list[bytes]:
    corpus = _vector_hex("polar_acc_sdk.json", "frame_hex")
    corpus += [f for f in _vector_hex("polar_acc_spec.json", "frame_hex") if len(f) > 10]
    nrng = np.random.default_rng(rng.getrandbits(32))
    for _ in range(200):
        n = int(nrng.integers(1, 80))
        ts = int(nrng.integers(10**9, 10**18))
        compressed = bool(nrng.integers(0, 2))
        ftype = int(nrng.integers(0, 2 if compressed else 3))
        spread = int(nrng.choice([0, 1, 5, 300, 30000]))
        start = nrng.integers(-2000, 2000, size=(1, 3))
        x = np.vstack((start, start + np.cumsum(nrng.integers(-spread, spread + 1, (n - 1, 3)), 0)))
        if not compressed:
            lim = 2 ** (8 * (ftype + 1) - 1)
            x = np.clip(x, -lim, lim - 1)
        corpus.append(
            polar.encode_acc_frame(
                x,
                ts,
                frame_type=ftype,
                compressed=compressed,
                block_samples=int(nrng.integers(1, 256)),
            )
        )
    return corpus


def reference_corpus(rng: random.Random) -> list[bytes]:
    corpus = [p for p in _vector_hex("reference_packets.json", "hex") if len(p) > 12] + _vector_hex(
        "reference_stream.json", "hex"
    )
    nrng = np.random.default_rng(rng.getrandbits(32))
    for i in range(200):
        gyro = bool(i % 2)
        n = int(nrng.integers(1, 20 if gyro else 39))
        acc = nrng.integers(-32768, 32768, (n, 3))
        gyr = nrng.integers(-32768, 32768, (n, 3)) if gyro else None
        corpus.append(
            reference.encode_packet_counts(
                i,
                int(nrng.integers(0, 2**32)),
                acc,
                gyr,
                rate_code=int(nrng.integers(0, 6)),
                acc_range_code=int(nrng.integers(0, 4)),
                gyr_range_code=int(nrng.integers(0, 4)),
                fifo_overflow=bool(nrng.integers(0, 2)),
            )
        )
    return corpus


def witmotion_corpus(rng: random.Random) -> list[bytes]:
    corpus = [f for f in _vector_hex("witmotion_frames.json", "hex") if f[:1] == b"\x55"]
    nrng = np.random.default_rng(rng.getrandbits(32))
    for _ in range(100):
        k = int(nrng.integers(1, 6))
        corpus.append(
            b"".join(witmotion.encode_frame_raw(nrng.integers(-32768, 32768, 9)) for _ in range(k))
        )
    return corpus


def control_corpus(rng: random.Random) -> list[bytes]:
    corpus = _vector_hex("polar_control_sdk.json", "hex", "params_hex")
    corpus += _vector_hex("reference_packets.json", "hex")[-8:]
    corpus += [
        polar.build_start_command(200, 8),
        b"\x0f\x05\x00",
        bytes.fromhex("01 03 03 02 03 00"),
    ]
    return corpus


# --- mutations --------------------------------------------------------------------


def mutate(rng: random.Random, data: bytes, corpus: list[bytes]) -> bytes:
    op = rng.randrange(9)
    b = bytearray(data)
    if op == 0 and b:  # bit flips
        for _ in range(rng.randint(1, 8)):
            i = rng.randrange(len(b) * 8)
            b[i // 8] ^= 1 << (i % 8)
    elif op == 1:  # truncation
        del b[rng.randint(0, len(b)) :]
    elif op == 2:  # extension
        b += rng.randbytes(rng.randint(1, 64))
    elif op == 3:  # random bytes
        return rng.randbytes(rng.choice((rng.randint(0, 24), rng.randint(0, 300))))
    elif op == 4 and b:  # interesting values
        for _ in range(rng.randint(1, 4)):
            b[rng.randrange(len(b))] = rng.choice(INTERESTING)
    elif op == 5:  # splice with another corpus member
        other = rng.choice(corpus)
        b = b[: rng.randint(0, len(b))] + other[rng.randint(0, len(other)) :]
    elif op == 6 and b:  # duplicate a chunk
        i = rng.randrange(len(b))
        j = rng.randint(i, min(len(b), i + 40))
        b[i:i] = b[i:j]
    elif op == 7 and b:  # delete a chunk
        i = rng.randrange(len(b))
        del b[i : i + rng.randint(1, 16)]
    else:  # several mutations stacked
        for _ in range(rng.randint(2, 4)):
            b = bytearray(mutate(rng, bytes(b), corpus))
    return bytes(b)


def repair_polar_header(rng: random.Random, data: bytes) -> bytes:
    """Keep a mutated payload reachable: valid ACC header, known frame type."""
    b = bytearray(data.ljust(10, b"\x00"))
    b[0] = polar.ACC
    b[8] &= 0x7F  # timestamp below 2**63
    b[9] = rng.choice((0x00, 0x01, 0x02, 0x80, 0x81))
    return bytes(b)


def repair_reference_crc(data: bytes) -> bytes:
    if len(data) < 3:
        return data
    body = data[:-2]
    return body + struct.pack("<H", reference.crc16_ccitt(body))


# --- checks -----------------------------------------------------------------------


class Fuzzer:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.corpora = {
            "polar": polar_corpus(self.rng),
            "reference": reference_corpus(self.rng),
            "witmotion": witmotion_corpus(self.rng),
            "control": control_corpus(self.rng),
        }
        self.stats = {k: {"packets": 0, "decoded": 0, "rejected": 0} for k in self.corpora}
        self.failures: list[dict[str, str]] = []
        self._polar_stream = polar.PolarAccStreamDecoder(
            float(np.float32(2.44e-4)), sample_rate_hz=200
        )
        self._ref_stream = reference.ReferenceStreamDecoder()
        self._wit_stream = witmotion.WitMotionStreamDecoder()

    def _input(self, family: str) -> bytes:
        corpus = self.corpora[family]
        seed = self.rng.choice(corpus)
        r = self.rng.random()
        if r < 0.03:
            return seed
        data = mutate(self.rng, seed, corpus)
        if family == "polar" and r < 0.45:
            data = repair_polar_header(self.rng, data)
        if family == "reference" and r < 0.45:
            data = repair_reference_crc(data)
        return data

    def _run(self, family: str, what: str, fn: Callable[[], object], data: bytes) -> None:
        st = self.stats[family]
        try:
            fn()
        except DecodeError:
            st["rejected"] += 1
        except Exception as exc:  # anything else is what the fuzzer looks for
            if len(self.failures) < 20:
                self.failures.append(
                    {"decoder": what, "error": f"{type(exc).__name__}: {exc}", "hex": data.hex()}
                )
            st["failures"] = st.get("failures", 0) + 1
        else:
            st["decoded"] += 1

    # Each check raises AssertionError (a failure) when output is malformed.

    def _polar(self, data: bytes) -> None:
        rng = self.rng
        prev = rng.choice((None, None, 0, rng.getrandbits(62), rng.getrandbits(64) - 2**63))
        rate = rng.choice((None, 200, 52, 0.5, 1e-9, -1.0, float("nan")))
        factor = rng.choice((1.0, float(np.float32(2.44e-4)), 1e30, -3.0))

        def decode() -> None:
            t, a = polar.decode_pmd_frame(
                data, factor=factor, previous_timestamp_ns=prev, sample_rate_hz=rate
            )
            n = a.shape[0]
            assert n >= 1 and a.shape == (n, 3) and t.shape == (n,)
            assert t.dtype == np.int64 and a.dtype == np.float64 and np.all(np.isfinite(a))

        self._run("polar", "polar.decode_pmd_frame", decode, data)

        def stream() -> None:
            for b in self._polar_stream.feed(data):
                _check_batch(b)

        self._run("polar", "polar.PolarAccStreamDecoder.feed", stream, data)

    def _reference(self, data: bytes) -> None:
        def decode() -> None:
            p = reference.decode_packet(data)
            assert p.acc_mps2.shape == (p.n_samples, 3) and np.all(np.isfinite(p.acc_mps2))

        self._run("reference", "reference.decode_packet", decode, data)

        def stream() -> None:
            for b in self._ref_stream.feed(data):
                _check_batch(b)
                assert b.seq is not None and b.lost_packets >= 0

        self._run("reference", "reference.ReferenceStreamDecoder.feed", stream, data)

    def _witmotion(self, data: bytes) -> None:
        def stream() -> None:
            cut = self.rng.randint(0, len(data))
            for part in (data[:cut], data[cut:]):
                for b in self._wit_stream.feed(part):
                    _check_batch(b)
                    assert b.device_time_s is None
            assert len(self._wit_stream._buf) < witmotion.FRAME_BYTES

        self._run("witmotion", "witmotion.WitMotionStreamDecoder.feed", stream, data)
        self._run("witmotion", "witmotion.decode_frame", lambda: witmotion.decode_frame(data), data)

    def _control(self, data: bytes) -> None:
        for fn, name in (
            (polar.parse_control_point_response, "polar.parse_control_point_response"),
            (polar.parse_settings, "polar.parse_settings"),
            (polar.parse_features, "polar.parse_features"),
            (polar.parse_measurement_stopped, "polar.parse_measurement_stopped"),
            (reference.decode_config, "reference.decode_config"),
            (witmotion.decode_register_frame, "witmotion.decode_register_frame"),
        ):
            self._run("control", name, lambda fn=fn: fn(data), data)

    def run(self, n_packets: int) -> None:
        plan = (("polar", 0.40), ("reference", 0.30), ("witmotion", 0.20), ("control", 0.10))
        for family, share in plan:
            check = getattr(self, f"_{family}")
            for _ in range(round(n_packets * share)):
                data = self._input(family)
                self.stats[family]["packets"] += 1
                check(data)


def _check_batch(b: object) -> None:
    acc = b.acc_mps2  # type: ignore[attr-defined]
    n = acc.shape[0]
    assert n >= 1 and acc.shape == (n, 3) and acc.dtype == np.float64
    assert np.all(np.isfinite(acc))
    if b.gyr_dps is not None:  # type: ignore[attr-defined]
        assert b.gyr_dps.shape == (n, 3)  # type: ignore[attr-defined]
    if b.device_time_s is not None:  # type: ignore[attr-defined]
        assert b.device_time_s.shape == (n,)  # type: ignore[attr-defined]
        assert np.all(np.isfinite(b.device_time_s))  # type: ignore[attr-defined]


def run_fuzz(n_packets: int, seed: int = 20240611) -> Fuzzer:
    """Run the fuzzer over ``n_packets`` inputs in all; returns it (``stats``, ``failures``)."""
    fz = Fuzzer(seed)
    fz.run(n_packets)
    return fz


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", "--packets", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=20240611)
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    fz = run_fuzz(args.packets, args.seed)
    elapsed = time.perf_counter() - t0
    total = sum(s["packets"] for s in fz.stats.values())
    rate = total / elapsed
    print(f"fuzzed {total:,} packets in {elapsed:.1f} s ({rate:,.0f} packets/s), seed {args.seed}")
    for family, s in fz.stats.items():
        print(
            f"  {family:10s} {s['packets']:>10,} packets  {s['decoded']:>10,} decoder calls "
            f"decoded  {s['rejected']:>10,} rejected (DecodeError)  "
            f"{s.get('failures', 0)} failures"
        )
    for f in fz.failures:
        print(f"FAILURE {f['decoder']}: {f['error']}\n  input: {f['hex']}")
    return 1 if fz.failures else 0


if __name__ == "__main__":
    sys.exit(main())
