"""Signed reports and verification as of the report's checkpoint (issue 13).

One small signed report is made once; every test works on copies of the store (with its
checkpoint directory) or of the PDF, so the tests are independent of each other."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from pypdf import PdfReader, PdfWriter

from hitlgov import checkpoint, store
from hitlgov.errors import HitlgovError
from hitlgov.ingest.pipeline import ingest_path
from hitlgov.mapping import load_mapping
from hitlgov.reports.build import build_report
from hitlgov.reports.evidence import ATTACHMENT
from hitlgov.reports.verify import verify_report

pytestmark = pytest.mark.xdist_group("reports")
CASES = 1000


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A signed report on a 1,000-case demo store, with the site key configured."""
    from hitlgov import demo as gen

    folder = tmp_path_factory.mktemp("signed")
    with pytest.MonkeyPatch.context() as mp:
        for env in (checkpoint.ENV_PUBLIC, checkpoint.ENV_DIR, "HITLGOV_PSEUDONYM_KEY"):
            mp.delenv(env, raising=False)
        key, pub, fp = checkpoint.keygen(folder / "site.key")
        mp.setenv(checkpoint.ENV_KEY, str(key))
        gen.generate(folder / "data", cases=CASES, seed=1)
        db = folder / "store.duckdb"
        with store.connect(db) as con:
            ingest_path(con, folder / "data" / "decisions.csv", mapping=load_mapping(folder / "data" / "mapping.yaml"))
        pdf = folder / "report.pdf"
        result = build_report(db=db, out_file=pdf, kind="executive")
        yield {"folder": folder, "db": db, "pdf": pdf, "fingerprint": fp, "result": result, "mp": mp,
               "data": folder / "data"}


def copy_store(site, tmp_path) -> Path:
    db = tmp_path / "store.duckdb"
    shutil.copy(site["db"], db)
    shutil.copytree(str(site["db"]) + ".checkpoints", str(db) + ".checkpoints")
    return db


def test_report_embeds_the_checkpoint_and_prints_the_fingerprint(site):
    ev = site["result"].evidence["context"]["audit_chain"]
    assert ev["ok"] is True and ev["key_fingerprint"] == site["fingerprint"]
    assert ev["checkpoint"]["tree_size"] == ev["events"] == 1 and ev["checkpoint"]["signature"]
    text = " ".join(p.extract_text() for p in PdfReader(str(site["pdf"])).pages).replace("\n", " ")
    assert site["fingerprint"][:30] in text.replace(" ", "")


def test_signed_report_verifies(site):
    result = verify_report(site["pdf"], db=site["db"])
    assert result.ok, (result.problems, result.notes)


def test_one_changed_byte_is_reported_as_such(site, tmp_path):
    data = bytearray(site["pdf"].read_bytes())
    at = len(data) // 3
    data[at] ^= 0x01
    bad = tmp_path / "flipped.pdf"
    bad.write_bytes(bytes(data))
    try:
        result = verify_report(bad, db=site["db"])
        problems = result.problems
    except HitlgovError as exc:  # the flip may land in a structure pypdf cannot read any more
        problems = [str(exc)]
    assert any("changed after it was signed" in p or "signature cannot be read" in p for p in problems), problems


def test_swapped_visible_pages_with_the_original_attachment_are_caught(site, tmp_path):
    other = tmp_path / "other.pdf"
    from weasyprint import HTML

    HTML(string="<h1>Executive report</h1><p>All findings pass.</p>").write_pdf(other)
    forged = PdfWriter()
    for page in PdfReader(str(other)).pages:
        forged.add_page(page)
    original = PdfReader(str(site["pdf"]))
    forged.add_attachment(ATTACHMENT, original.attachments[ATTACHMENT][0])
    forged.add_metadata({k: v for k, v in (original.metadata or {}).items()})
    out = tmp_path / "swapped.pdf"
    with open(out, "wb") as fh:
        forged.write(fh)
    result = verify_report(out, db=site["db"])
    assert not result.ok and any("not signed, but this site signs its reports" in p for p in result.problems)


def test_later_ingestion_is_not_a_mismatch_but_a_changed_row_inside_the_checkpoint_is(site, tmp_path):
    db = copy_store(site, tmp_path)
    # late-arriving cases inside the report's period, for the same systems: legitimate, after the checkpoint
    lines = site["data"].joinpath("decisions.csv").read_text().splitlines()
    header, rows = lines[0], lines[1:40]
    late = tmp_path / "late.csv"
    late.write_text(header + "\n" + "\n".join("LATE-" + r for r in rows) + "\n")  # new case ids, same days
    with store.connect(db) as con:
        r = ingest_path(con, late, mapping=load_mapping(site["data"] / "mapping.yaml"))
    assert r.stored > 0
    ok = verify_report(site["pdf"], db=db)
    assert ok.ok, (ok.problems, ok.differences[:3])
    with duckdb.connect(str(db)) as con:
        case_id, reviewer = con.execute("SELECT case_id, reviewer_id FROM reviews WHERE run_id = 1 "
                                        "ORDER BY case_id LIMIT 1").fetchall()[0]
        con.execute("UPDATE reviews SET rationale = 'edited' WHERE case_id = ? AND reviewer_id = ?", [case_id, reviewer])
    bad = verify_report(site["pdf"], db=db)
    assert not bad.ok and any(f"/{case_id}/{reviewer} of ingestion run 1 changed" in p for p in bad.problems), bad.problems


def test_no_report_from_a_store_that_fails_verify(site, tmp_path):
    db = copy_store(site, tmp_path)
    with duckdb.connect(str(db)) as con:
        con.execute("UPDATE systems SET positive_label = 'decline'")
    out = tmp_path / "r.pdf"
    with pytest.raises(HitlgovError, match="refusing to report: the store fails `hitlgov verify`: systems: row"):
        build_report(db=db, out_file=out, kind="executive")
    assert not out.exists()


def test_duplicated_review_row_gives_one_line_errors_not_tracebacks(site, tmp_path):
    db = copy_store(site, tmp_path)
    with duckdb.connect(str(db)) as con:
        con.execute("INSERT INTO reviews SELECT * FROM reviews ORDER BY case_id LIMIT 1")
    exe = str(Path(sys.executable).with_name("hitlgov"))
    metrics = subprocess.run([exe, "metrics", "--no-drift", "--db", str(db)], capture_output=True, text=True)
    assert metrics.returncode == 1 and "Traceback" not in metrics.stderr
    assert "duplicate row in reviews" in metrics.stderr and len(metrics.stderr.strip().splitlines()) <= 2
    check = subprocess.run([exe, "report", "--db", str(db), "--verify", str(site["pdf"])], capture_output=True, text=True)
    assert check.returncode == 1 and "Traceback" not in check.stderr + check.stdout
    assert "duplicate row in reviews" in check.stdout
