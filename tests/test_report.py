"""PDF reports, CSV and FHIR R4 exports, de-identification."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from pathlib import Path

import numpy as np
import pytest

from balance_mon.report import CSV_COLUMNS, fhir_bundle, result_rows, to_csv
from balance_mon.report.charts import ellipse95, nice_ticks
from balance_mon.report.codes import LOCAL_SYSTEM, LOINC
from balance_mon.report.pdf import longitudinal_report, session_report
from balance_mon.store import Store, plan_import, run_import

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_data"
HISTORY = SAMPLES / "simulated" / "history"
NOTE = "NOTE-7f3a lives at 12 Sample Street"
CODE = "PX-4821"


def _sample_files() -> list[Path]:
    out = []
    for sub in (
        "simulated/clinic",
        "simulated/home",
        "real/bds",
        "real/mobgap",
        "real/sit2standpy",
    ):
        out += sorted((SAMPLES / sub).glob("*.csv"))
    return out


@pytest.fixture(scope="module")
def samples_db(tmp_path_factory) -> Path:
    """Every sample recording as its own session (one per day), one patient."""
    path = tmp_path_factory.mktemp("samples") / "bm.sqlite3"
    with Store(path, create=True) as st:
        p = st.add_patient(
            CODE, birth_year=1953, sex="female", height_m=1.62, notes=NOTE, home_consent=True
        )
        day = dt.date(2024, 1, 1)
        for i, f in enumerate(_sample_files()):
            setting = "home" if "/home/" in f.as_posix() else "clinic"
            items = plan_import(
                st, p, [f], protocol="auto", date=(day + dt.timedelta(days=i)).isoformat()
            )
            run_import(st, p, items, setting=setting)
    return path


@pytest.fixture(scope="module")
def history_db(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("history") / "bm.sqlite3"
    files = sorted(HISTORY.glob("*_chair_stand.csv")) + sorted(HISTORY.glob("*_tug.csv"))
    files += sorted(HISTORY.glob("*_stance.csv"))[:8]
    with Store(path, create=True) as st:
        p = st.add_patient(CODE, birth_year=1953, sex="female", notes=NOTE)
        run_import(st, p, plan_import(st, p, files, protocol="auto"))
    return path


def test_every_sample_session_renders(samples_db: Path, tmp_path: Path) -> None:
    pypdfium2 = pytest.importorskip("pypdfium2")
    with Store(samples_db) as st:
        p = st.patient(CODE)
        sessions = st.sessions(p)
        assert len(sessions) == len(_sample_files())
        for s in sessions:
            out = session_report(st, p, s, tmp_path / f"s{s.id}.pdf")
            assert out.read_bytes().startswith(b"%PDF-")
            pdf = pypdfium2.PdfDocument(out)
            try:
                assert len(pdf) == 1, s.id  # one page per session
                text = pdf[0].get_textpage().get_text_range()
            finally:
                pdf.close()
            assert CODE in text and "Results" in text
            assert NOTE not in text  # notes never printed


def _ink(img) -> float:
    a = np.asarray(img.convert("L"), dtype=np.float64)
    return float((a < 200).mean())


def test_report_pages_are_not_blank(history_db: Path, tmp_path: Path) -> None:
    pypdfium2 = pytest.importorskip("pypdfium2")
    with Store(history_db) as st:
        p = st.patient(CODE)
        first = st.sessions(p)[0]  # chair stand, TUG and a sway trial
        sess = session_report(st, p, first, tmp_path / "s.pdf", invariant=True)
        longi = longitudinal_report(st, p, tmp_path / "l.pdf", invariant=True)
    for path in (sess, longi):
        pdf = pypdfium2.PdfDocument(path)
        try:
            for i in range(len(pdf)):
                img = pdf[i].render(scale=1.0).to_pil()
                assert img.size[0] > 500
                ink = _ink(img)
                assert 0.01 < ink < 0.6, (path.name, i, ink)  # text and charts, not solid
                # the middle of the first page (sway chart, trend charts) has ink too
                if i == 0:
                    w, h = img.size
                    assert _ink(img.crop((0, h // 4, w, 3 * h // 4))) > 0.005
        finally:
            pdf.close()
    # reproducible output (invariant mode) and small
    with Store(history_db) as st:
        p = st.patient(CODE)
        again = longitudinal_report(st, p, tmp_path / "l2.pdf", invariant=True)
    assert again.read_bytes() == longi.read_bytes()
    assert longi.stat().st_size < 200_000 and sess.stat().st_size < 200_000


def test_longitudinal_report_shows_flags_and_trends(history_db: Path, tmp_path: Path) -> None:
    pypdfium2 = pytest.importorskip("pypdfium2")
    with Store(history_db) as st:
        p = st.patient(CODE)
        flags = st.flags(p)
        out = longitudinal_report(st, p, tmp_path / "l.pdf")
    assert flags  # the 12-week decline is flagged
    pdf = pypdfium2.PdfDocument(out)
    try:
        text = "".join(pdf[i].get_textpage().get_text_range() for i in range(len(pdf)))
    finally:
        pdf.close()
    assert "TUG time" in text and "30-s chair stands" in text
    assert "MDC95" in text and "Flags" in text
    assert flags[0].reason[:30] in text.replace("\r\n", " ").replace("\n", " ")


def test_fhir_bundle_validates_and_uses_confirmed_loinc_only(history_db: Path) -> None:
    Bundle = pytest.importorskip("fhir.resources.R4B.bundle").Bundle
    with Store(history_db) as st:
        p = st.patient(CODE)
        b = fhir_bundle(st, p)
        n_results = len(result_rows(st, p))
    model = Bundle.model_validate(b)
    assert model.type == "collection"
    obs = [e["resource"] for e in b["entry"] if e["resource"]["resourceType"] == "Observation"]
    assert len(obs) == n_results
    loinc = {c["code"] for o in obs for c in o["code"]["coding"] if c["system"] == LOINC}
    assert loinc == {"89423-8", "66247-8"}
    for o in obs:
        systems = [c["system"] for c in o["code"]["coding"]]
        assert LOCAL_SYSTEM in systems  # every measure has its local code
        if "89423-8" in [c["code"] for c in o["code"]["coding"]]:
            assert o["valueQuantity"]["code"] == "s"
        assert o["subject"]["reference"] == b["entry"][0]["fullUrl"]
    flagged = [o for o in obs if "interpretation" in o]
    assert flagged and all(o["note"] for o in flagged)
    pat = b["entry"][0]["resource"]
    assert pat["identifier"][0]["value"] == CODE and pat["birthDate"] == "1953"
    # ids are unique and every fullUrl is a urn:uuid
    urls = [e["fullUrl"] for e in b["entry"]]
    assert len(set(urls)) == len(urls) and all(u.startswith("urn:uuid:") for u in urls)


def test_deidentified_exports_hold_no_identifying_data(history_db: Path) -> None:
    Bundle = pytest.importorskip("fhir.resources.R4B.bundle").Bundle
    with Store(history_db) as st:
        p = st.patient(CODE)
        plain = json.dumps(fhir_bundle(st, p)) + to_csv(result_rows(st, p))
        fhir = fhir_bundle(st, p, deidentify=True)
        text = json.dumps(fhir) + to_csv(result_rows(st, p, deidentify=True))
        again = json.dumps(fhir_bundle(st, p, deidentify=True))
    Bundle.model_validate(fhir)
    assert CODE in plain  # the plain export does name the patient (so this test can fail)
    for secret in (CODE, NOTE, "sim-patient-01", "aged 72", "balance_mon.sim"):
        assert secret not in text, secret
    pat = fhir["entry"][0]["resource"]
    assert set(pat) <= {"resourceType", "id", "identifier", "gender"}  # no birth date
    cells = {c for row in csv.reader(io.StringIO(text.split("\n", 1)[1])) for c in row}
    assert "1953" not in cells and "72" not in cells  # no birth year, no exact age
    # every date is shifted: by one offset of 1-365 days for all of the patient's rows
    with Store(history_db) as st:
        p = st.patient(CODE)
        orig = {s.id: dt.date.fromisoformat(s.started[:10]) for s in st.sessions(p)}
        rows = result_rows(st, p, deidentify=True)
    offsets = {orig[r["session"]] - dt.date.fromisoformat(r["date"]) for r in rows}
    assert len(offsets) == 1 and 1 <= next(iter(offsets)).days <= 365
    pid = fhir["entry"][0]["resource"]["identifier"][0]["value"]
    assert re.fullmatch(r"anon-[0-9a-f]{16}", pid)
    assert pid in again  # stable pseudonym within one database


def test_csv_export_has_every_result_with_its_algorithm(history_db: Path) -> None:
    with Store(history_db) as st:
        p = st.patient(CODE)
        rows = result_rows(st, p)
        text = to_csv(rows)
        n = sum(len(st.results(t)) for t in st.all_trials(p))
    parsed = list(csv.DictReader(io.StringIO(text)))
    assert tuple(parsed[0]) == CSV_COLUMNS
    assert len(parsed) == n == len(rows)
    tug = [r for r in parsed if r["metric"] == "tug_s"]
    assert tug and all(r["algorithm"] and r["algorithm_version"] for r in tug)
    assert all(float(r["value"]) > 5 for r in tug)
    json.loads(tug[0]["parameters"])
    assert any(r["flags"] for r in tug)


def test_chart_helpers() -> None:
    t = nice_ticks(0.013, 0.087, 5)
    assert t[0] <= 0.013 and t[-1] >= 0.087 and 4 <= len(t) <= 8
    rng = np.random.default_rng(1)
    ap = rng.normal(0, 2.0, 20000)
    ml = rng.normal(0, 1.0, 20000)
    a, b, _ang, area = ellipse95(ap, ml)
    # 95 % ellipse of independent N(0, 2^2) and N(0, 1): semi-axes sqrt(5.991)*(2, 1)
    assert a == pytest.approx(2 * 5.991464547107979**0.5, rel=0.03)
    assert b == pytest.approx(5.991464547107979**0.5, rel=0.03)
    inside = (ml / b) ** 2 + (ap / a) ** 2 <= 1
    assert inside.mean() == pytest.approx(0.95, abs=0.01)
    assert area == pytest.approx(np.pi * a * b)
