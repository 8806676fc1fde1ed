"""Sign-off of a generated report: recorded with the chain, shown by ``report --verify``."""
from __future__ import annotations

import datetime as dt
import json
import shutil

import pytest
from typer.testing import CliRunner

from hitlgov import store
from hitlgov.cli import app
from hitlgov.errors import HitlgovError
from hitlgov.oversight import attestation
from hitlgov.reports import build_report
from hitlgov.reports.verify import read_evidence

LOG = "case_id,ts,system,model_decision,model_score,reviewer_id,human_decision,review_seconds\n" + "\n".join(
    f"c{i},2026-11-{1 + i % 28:02d}T10:00:00,s1,approve,0.8,r{i % 3},{'deny' if i % 5 == 0 else 'approve'},60"
    for i in range(120)) + "\n"


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    from conftest import build_store

    folder = tmp_path_factory.mktemp("attest")
    db = build_store(folder, LOG)
    pdf = folder / "board.pdf"
    build_report(db=db, start=dt.date(2026, 11, 1), end=dt.date(2026, 11, 30), system="s1", kind="executive",
                 out_file=pdf)
    return db, pdf


def test_sign_off_is_recorded_and_shown_by_verify(made):
    db, pdf = made
    r = CliRunner().invoke(app, ["attest", str(pdf), "--db", str(db), "--name", "Hana Ito", "--role",
                                 "compliance officer", "--statement", "Reviewed; fair.", "--json", "--actor", "hana"])
    assert r.exit_code == 0, r.output
    a = json.loads(r.output)
    assert a["file_sha256"] == attestation.file_sha256(pdf)
    assert a["evidence_digest"] == read_evidence(pdf)[0]["digest"]["value"]
    with store.connect(db, read_only=True) as con:
        [(kind, actor, detail)] = con.execute("SELECT kind, actor, CAST(detail AS VARCHAR) FROM audit_events "
                                              "WHERE kind = 'report_attested'").fetchall()
    assert actor == "hana" and json.loads(detail)["attestation_id"] == a["attestation_id"]
    v = CliRunner().invoke(app, ["report", "--verify", str(pdf), "--db", str(db)])
    assert v.exit_code == 0, v.output
    assert "signed off by Hana Ito (compliance officer)" in v.output and "this file" in v.output
    assert '"Reviewed; fair."' in v.output


def test_a_copy_with_other_bytes_is_named_as_such(made, tmp_path):
    db, pdf = made
    doc = read_evidence(pdf)[0]
    attestation.attest(db, report_file=pdf, evidence_digest=doc["digest"]["value"], parameters=doc["parameters"],
                       name="Ida", role="compliance officer")
    copy = tmp_path / "copy.pdf"
    shutil.copy(pdf, copy)
    with copy.open("ab") as fh:
        fh.write(b"\n% appended\n")
    v = CliRunner().invoke(app, ["report", "--verify", str(copy), "--db", str(db)])
    assert "another copy of the same figures (file hash differs)" in v.output


def test_only_reports_of_this_store_can_be_signed(made, tmp_path):
    from conftest import build_store

    _, pdf = made
    other = build_store(tmp_path, LOG)
    with pytest.raises(HitlgovError, match="no record of generating this report"):
        attestation.attest(other, report_file=pdf, evidence_digest=read_evidence(pdf)[0]["digest"]["value"],
                           parameters={}, name="x", role="y")
    with store.connect(other, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM attestations").fetchall() == [(0,)]


@pytest.mark.parametrize("args,message", [
    (["--name", "", "--role", "r"], "--name"),
    (["--name", "a\nb", "--role", "r"], "--name"),
    (["--name", "n", "--role", "r" * 300], "--role"),
    (["--name", "n", "--role", "r", "--statement", "x" * 5000], "--statement"),
])
def test_bad_sign_off_input(made, args, message):
    db, pdf = made
    r = CliRunner().invoke(app, ["attest", str(pdf), "--db", str(db), *args])
    assert r.exit_code == 1 and message in r.output and "Traceback" not in r.output


def test_a_file_that_is_not_a_report(made, tmp_path):
    db, _ = made
    junk = tmp_path / "junk.pdf"
    junk.write_bytes(b"%PDF-1.4 not really")
    r = CliRunner().invoke(app, ["attest", str(junk), "--db", str(db), "--name", "n", "--role", "r"])
    assert r.exit_code == 1 and "Traceback" not in r.output
