"""Bad input of every kind ends with status 2 and one plain line naming the file.

The corpus is tests/malformed/ and its README table (file, problem, key phrase
of the expected message), which this module reads. The installed console
script runs as a subprocess for ``analyze`` (what users and outside checks
call); ``info`` and ``analyze --json`` run in-process through ``cli.main``,
where warnings are errors (pyproject), which is stricter still.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from balance_mon import cli

CORPUS = Path(__file__).parent / "malformed"
README = CORPUS / "README.md"
NOT_CORPUS = {"README.md", "make_corpus.py", "__pycache__"}


def _readme_tables() -> list[list[tuple[str, str, str]]]:
    """The README's tables as (file, problem, key phrase) rows."""
    tables: list[list[tuple[str, str, str]]] = []
    current: list[tuple[str, str, str]] | None = None
    for line in README.read_text(encoding="utf-8").splitlines():
        if not line.startswith("|"):
            current = None
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells[0] == "file":
            current = []
            tables.append(current)
            continue
        if current is None or set(cells[0]) <= {"-"}:
            continue
        phrase = re.fullmatch(r"`(.+)`", cells[-1])
        assert phrase, f"README row for {cells[0]} has no `key phrase`"
        current.append((cells[0], cells[1], phrase.group(1)))
    return tables


TABLES = _readme_tables()
CASES = {name: phrase for name, _, phrase in TABLES[0]}
MADE_AT_TEST_TIME = {name: phrase for name, _, phrase in TABLES[1]}


def _console_script() -> str:
    """The installed ``balance-mon`` next to this interpreter, else on PATH."""
    here = Path(sys.executable).parent / "balance-mon"
    found = str(here) if here.exists() else shutil.which("balance-mon")
    if found is None:
        pytest.fail("the balance-mon console script is not installed (pip install -e .)")
    return found


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_console_script(), *args], capture_output=True, text=True, timeout=120, check=False
    )


def assert_one_line_failure(code: int, out: str, err: str, name: str, phrase: str) -> None:
    """Status 2, nothing on stdout, one stderr line naming ``name`` with ``phrase``."""
    assert "Traceback" not in err, err
    assert code == 2, (code, err)
    assert out == "", out
    assert err.endswith("\n") and err.count("\n") == 1, repr(err)
    assert name in err, f"{name!r} not named in {err!r}"
    assert phrase in err, f"{phrase!r} not in {err!r}"


def test_readme_lists_exactly_the_corpus() -> None:
    on_disk = {p.name for p in CORPUS.iterdir()} - NOT_CORPUS
    assert on_disk == set(CASES), (
        f"not in README: {sorted(on_disk - set(CASES))}; "
        f"listed but missing: {sorted(set(CASES) - on_disk)}"
    )
    assert len(CASES) >= 25
    assert set(MADE_AT_TEST_TIME) == {"folder.csv", "does_not_exist.csv", "big_backwards.csv"}


@pytest.mark.parametrize("name", sorted(CASES))
def test_analyze_console_script(name: str) -> None:
    path = str(CORPUS / name)
    res = _run("analyze", path, "--test", "sway")
    assert_one_line_failure(res.returncode, res.stdout, res.stderr, path, CASES[name])


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize(
    "argv", [["info"], ["info", "--json"], ["analyze", "--test", "sway", "--json"]]
)
def test_in_process(name: str, argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    path = str(CORPUS / name)
    code = cli.main([argv[0], path, *argv[1:]])
    out, err = capsys.readouterr()
    assert_one_line_failure(code, out, err, path, CASES[name])


@pytest.mark.parametrize("which", ["folder.csv", "does_not_exist.csv"])
def test_not_a_file(which: str, tmp_path: Path) -> None:
    path = tmp_path / which
    if which == "folder.csv":
        path.mkdir()
    for argv in (["analyze", str(path), "--test", "sway"], ["info", str(path)]):
        res = _run(*argv)
        assert_one_line_failure(
            res.returncode, res.stdout, res.stderr, str(path), MADE_AT_TEST_TIME[which]
        )


def test_unknown_test_name_fails_before_reading(capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["analyze", str(CORPUS / "empty.csv"), "--test", "balance-beam"])
    out, err = capsys.readouterr()
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "unknown test 'balance-beam'" in err and "sway" in err


# ---------------------------------------------------------------------------
# the control: the corpus' base recording is valid
# ---------------------------------------------------------------------------


def _make_corpus_module():
    spec = importlib.util.spec_from_file_location("make_corpus", CORPUS / "make_corpus.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("suffix", [".csv", ".bmr"])
def test_corpus_base_recording_is_valid(
    suffix: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without its defect a corpus file is fine, so the defect alone makes it fail."""
    mc = _make_corpus_module()
    path = tmp_path / f"base{suffix}"
    rows = mc._base_rows()
    if suffix == ".csv":
        path.write_text(mc._csv(mc.META, mc.HEADER, rows), encoding="utf-8")
    else:
        path.write_bytes(mc._bmr(rows))
    assert cli.main(["info", str(path)]) == 0
    code = cli.main(["analyze", str(path), "--test", "sway", "--json"])
    _, err = capsys.readouterr()
    if code == 2 and "not available" in err:  # pragma: no cover - before sway existed
        return
    assert code == 0, err
    assert err == ""


# ---------------------------------------------------------------------------
# ten million rows, broken near the end
# ---------------------------------------------------------------------------

BIG_ROWS = 10_000_000
BIG_BAD_ROW = 9_999_990
BIG_HEADER = b"# balance_mon: recording v1\n# fs_hz: 100\ntime_s,acc_x_mps2,acc_y_mps2,acc_z_mps2\n"


def write_big_csv(path: Path, n: int = BIG_ROWS, bad_row: int = BIG_BAD_ROW) -> None:
    """A 100 Hz CSV of ``n`` fixed-width rows whose time goes back at ``bad_row``.

    Rows are built as a byte matrix (time digits computed with numpy), a
    million at a time: 10^7 rows (260 MB) take about 1.5 s.
    """
    tail = np.frombuffer(b",9.81,0.01,-0.02\n", dtype=np.uint8)
    width = 9 + tail.size  # "SSSSSS.CC" then the tail
    centi = np.arange(n, dtype=np.int64)
    centi[bad_row] = centi[bad_row - 2]  # 0.01 s before the previous row
    with open(path, "wb") as fh:
        fh.write(BIG_HEADER)
        for start in range(0, n, 1_000_000):
            c = centi[start : start + 1_000_000]
            sec, frac = np.divmod(c, 100)
            buf = np.empty((c.size, width), dtype=np.uint8)
            for k in range(6):
                buf[:, 5 - k] = 48 + (sec // 10**k) % 10
            buf[:, 6] = ord(".")
            buf[:, 7] = 48 + frac // 10
            buf[:, 8] = 48 + frac % 10
            buf[:, 9:] = tail
            fh.write(buf.tobytes())


def test_big_file_writer_is_right(tmp_path: Path) -> None:
    path = tmp_path / "small.csv"
    write_big_csv(path, n=1005, bad_row=1001)
    lines = path.read_bytes().decode().splitlines()
    assert len(lines) == 3 + 1005
    assert lines[3] == "000000.00,9.81,0.01,-0.02"
    assert lines[3 + 1000] == "000010.00,9.81,0.01,-0.02"
    assert lines[3 + 1001] == "000009.99,9.81,0.01,-0.02"
    assert lines[-1] == "000010.04,9.81,0.01,-0.02"


@pytest.mark.slow
def test_ten_million_rows_broken_near_the_end(tmp_path: Path) -> None:
    """Measured: about 1.5 s to write and 8 s to reject (bench, not asserted)."""
    path = tmp_path / "big_backwards.csv"
    write_big_csv(path)
    assert path.stat().st_size > 250_000_000
    res = _run("analyze", str(path), "--test", "sway")
    line = 3 + BIG_BAD_ROW + 1  # metadata and header lines, 1-based
    assert MADE_AT_TEST_TIME["big_backwards.csv"] == f"line {line}: time goes backwards"
    assert_one_line_failure(
        res.returncode, res.stdout, res.stderr, str(path), MADE_AT_TEST_TIME["big_backwards.csv"]
    )
    assert "(99999.88 s after 99999.89 s)" in res.stderr
