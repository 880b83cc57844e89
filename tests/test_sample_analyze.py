"""`balance-mon analyze` on every recording in sample_data/ exits 0 with a valid quality block."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from balance_mon.analysis.registry import AUTO_TESTS
from balance_mon.cli import main

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = sorted((ROOT / "sample_data").rglob("*.csv"))
QUALITY_KEYS = {"valid", "reasons", "gaps", "dropped_samples", "clipped_samples"}


def test_there_are_samples_for_every_use_case():
    tests = set()
    for p in SAMPLES:
        with open(p, encoding="utf-8") as fh:
            for line in fh:
                if not line.startswith("#"):
                    break
                if line.startswith("# test:"):
                    tests.add(line.split(":", 1)[1].strip())
    for needed in ("four-stage", "chair-stand", "tug", "romberg", "ctsib", "home-session", "reps"):
        assert needed in tests, needed
    assert len(SAMPLES) >= 40


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: str(p.relative_to(ROOT / "sample_data")))
def test_analyze_auto_exits_0_with_valid_quality(path, capsys):
    assert main(["analyze", str(path), "--test", "auto", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["schema"] == "balance_mon.analysis/1"
    assert set(out["quality"]) >= QUALITY_KEYS
    assert out["quality"]["valid"] is True, out["quality"]["reasons"]
    assert out["auto"]["tests"], "no analysis ran"
    test = None
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("# test:"):
                test = line.split(":", 1)[1].strip()
            if not line.startswith("#"):
                break
    if test in AUTO_TESTS:
        assert out["auto"]["from_metadata"] is True


def test_simulated_samples_regenerate_byte_for_byte(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "make_sample_data", ROOT / "scripts" / "make_sample_data.py"
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    written = mod.make_simulated(tmp_path)
    committed = ROOT / "sample_data" / "simulated"
    fresh = {p.relative_to(tmp_path / "simulated").as_posix() for p in written}
    assert fresh == {
        p.relative_to(committed).as_posix() for p in committed.rglob("*") if p.is_file()
    }
    for rel in sorted(fresh):
        assert (tmp_path / "simulated" / rel).read_bytes() == (committed / rel).read_bytes(), rel
