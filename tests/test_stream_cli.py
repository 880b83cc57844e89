"""``balance-mon scan``, ``record`` and ``replay`` on simulated sensors."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest

from balance_mon import cli
from balance_mon.io import load_recording
from balance_mon.io.capture import read_capture


def test_record_then_replay_gives_the_same_bytes(tmp_path, capsys):
    out, cap, again = tmp_path / "w.csv", tmp_path / "w.cap", tmp_path / "again.csv"
    rc = cli.main(
        [
            "record",
            "--device", "virtual:witmotion",
            "--rate", "50",
            "--duration", "20",
            "--out", str(out),
            "--capture", str(cap),
            "--placement", "lower_back",
            "--fault", "loss=0.02,disconnect=8",
            "--fault", "seed=4",
            "--virtual-time",
        ]
    )  # fmt: skip
    assert rc == 0
    err = capsys.readouterr().err
    assert f"done: wrote {out}" in err and "1 reconnection" in err
    assert cli.main(["replay", str(cap), "--out", str(again)]) == 0
    assert again.read_bytes() == out.read_bytes()
    rec = load_recording(out)
    assert rec.placement == "lower_back"
    assert rec.fs_nominal_hz == 50.0
    assert rec.metadata["simulated"].startswith("virtual:witmotion faults: loss=0.02")


def test_scan_lists_simulated_sensors(capsys):
    assert cli.main(["scan", "--timeout", "0.5", "--virtual", "polar-h10", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["schema"] == "balance_mon.scan/1"
    (dev,) = out["devices"]
    assert dev["model"] == "polar-h10" and dev["name"].startswith("Polar H10 ")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--device", "virtual:nope"], "no simulated sensor 'nope'"),
        (["--device", "virtual:polar-h10", "--fault", "loss=2"], "must be a probability"),
        (["--device", "virtual:polar-h10", "--fault", "wobble=1"], "unknown fault 'wobble'"),
        (["--device", "virtual:polar-h10", "--rate", "33"], "rate 33 Hz is not offered"),
        (["--device", "virtual:polar-h10", "--range", "3"], "range +/-3 g is not offered"),
        (["--device", "AA:BB:CC:DD:EE:FF", "--fault", "loss=0.1"], "only apply to simulated"),
        (
            ["--device", "virtual:reference", "--duration", "-1"],
            "--duration must be a positive number",
        ),
    ],
)
def test_record_errors_are_one_line_exit_2(tmp_path, capsys, args, message):
    rc = cli.main(["record", "--out", str(tmp_path / "x.csv"), "--virtual-time", *args])
    assert rc == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err


def test_record_refuses_to_overwrite(tmp_path, capsys):
    out = tmp_path / "x.csv"
    out.write_text("keep me")
    rc = cli.main(["record", "--device", "virtual:reference", "--out", str(out), "--virtual-time"])
    assert rc == 2
    assert "already exists; use --force" in capsys.readouterr().err
    assert out.read_text() == "keep me"


def test_replay_of_something_else_is_a_clear_error(tmp_path, capsys):
    bad = tmp_path / "x.cap"
    bad.write_text("time_s,acc_x_mps2\n")
    assert cli.main(["replay", str(bad), "--out", str(tmp_path / "y.csv")]) == 2
    assert "not a balance_mon capture" in capsys.readouterr().err


def test_killed_recorder_leaves_all_but_the_last_second(tmp_path):
    """SIGKILL mid-recording (real time): the file is readable and misses at most 1 s."""
    out, cap = tmp_path / "k.csv", tmp_path / "k.cap"
    cmd = [sys.executable, "-m", "balance_mon.cli", "record", "--device", "virtual:reference",
           "--duration", "60", "--out", str(out), "--capture", str(cap), "--quiet"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        limit = time.monotonic() + 30.0
        while time.monotonic() < limit and proc.poll() is None:
            if out.exists() and out.read_text().count("\n") > 250:  # 2 s of data
                break
            time.sleep(0.05)
        time.sleep(1.3)
        killed_at = time.time()
        proc.kill()
    finally:
        proc.wait(timeout=10)
        proc.stderr.close()  # type: ignore[union-attr]
    assert proc.returncode == -9
    rec = load_recording(out)
    start = dt.datetime.fromisoformat(rec.metadata["start_utc"]).timestamp()
    last_sample_at = start + float(rec.time_s[-1])
    assert killed_at - 1.0 <= last_sample_at <= killed_at
    assert "stream_samples" not in rec.metadata  # it never got to finish
    capture = read_capture(cap)
    assert len(capture.records) > 10
    # the capture replays to at least what the recording holds
    replayed = tmp_path / "r.csv"
    assert cli.main(["replay", str(cap), "--out", str(replayed)]) == 0
    again = load_recording(replayed)
    assert again.n_samples >= rec.n_samples
    assert (again.time_s[: rec.n_samples] == rec.time_s).all()


@pytest.mark.skipif(os.name != "posix", reason="SIGTERM")
def test_sigterm_ends_the_recording_cleanly(tmp_path):
    out, cap = tmp_path / "t.csv", tmp_path / "t.cap"
    cmd = [sys.executable, "-m", "balance_mon.cli", "record", "--device", "virtual:polar-h10",
           "--out", str(out), "--capture", str(cap)]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    limit = time.monotonic() + 30.0
    while time.monotonic() < limit and not (out.exists() and out.stat().st_size > 2000):
        time.sleep(0.05)
    proc.terminate()
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "stopped early" in err
    rec = load_recording(out)
    assert "stop (interrupted)" in rec.metadata["stream_events"]
    assert cli.main(["replay", str(cap), "--out", str(tmp_path / "r.csv")]) == 0
    assert (tmp_path / "r.csv").read_bytes() == out.read_bytes()


def test_record_plays_a_source_file_or_the_simulator(tmp_path, capsys):
    sim_out, file_out = tmp_path / "sim.csv", tmp_path / "file.csv"
    common = ["record", "--device", "virtual:polar-h10", "--duration", "10", "--virtual-time"]
    assert cli.main([*common, "--source", "sim:tandem", "--out", str(sim_out)]) == 0
    played = load_recording(sim_out)
    assert played.metadata["simulated"].endswith("source: sim:tandem")
    mag = np.linalg.norm(played.acc_mps2, axis=1)
    assert np.median(mag) == pytest.approx(9.81, abs=0.2)
    # a recording file plays back the same way (here: the one just made)
    assert cli.main([*common, "--source", str(sim_out), "--out", str(file_out)]) == 0
    again = load_recording(file_out)
    assert np.median(np.linalg.norm(again.acc_mps2, axis=1)) == pytest.approx(9.81, abs=0.2)
    assert cli.main([*common, "--source", "sim:hopping", "--out", str(tmp_path / "x.csv")]) == 2
    assert "unknown simulated stance 'hopping'" in capsys.readouterr().err
