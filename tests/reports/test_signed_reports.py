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


# -- an organisation's signing certificate and trust roots (issue 13) -------------------------------

def _pki(folder: Path, name: str = "Example Org Root CA"):
    """A root CA and a leaf certificate it issued (EC P-256 keys), written as PEM files."""
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5)
    ca_key, leaf_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now).not_valid_after(now + dt.timedelta(days=30))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                                       encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    leaf = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Compliance reporting, Example Org")]))
            .issuer_name(ca_name).public_key(leaf_key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + dt.timedelta(days=10))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ca.pem").write_bytes(ca.public_bytes(pem))
    (folder / "leaf.pem").write_bytes(leaf.public_bytes(pem))
    (folder / "leaf.key").write_bytes(leaf_key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                                             serialization.NoEncryption()))
    return {"ca": folder / "ca.pem", "leaf": folder / "leaf.pem", "key": folder / "leaf.key",
            "objects": (ca, leaf, leaf_key)}


def _verify_cli(db, pdf, *trust):
    exe = str(Path(sys.executable).with_name("hitlgov"))
    args = [exe, "report", "--db", str(db), "--verify", str(pdf)]
    for t in trust:
        args += ["--trust", str(t)]
    return subprocess.run(args, capture_output=True, text=True)


def test_self_signed_site_report_is_intact_but_not_trusted_by_an_organisation_root(site, tmp_path):
    pki = _pki(tmp_path / "pki")
    db = copy_store(site, tmp_path)
    r = _verify_cli(db, site["pdf"], pki["ca"])
    assert "Traceback" not in r.stdout + r.stderr
    assert "signature: integrity OK, signer not trusted: signer O=hitlgov,CN=hitlgov site key" in r.stdout, r.stdout
    assert "(a self-signed certificate)" in r.stdout and "matches:" in r.stdout  # the figures still match
    assert r.returncode == 1  # asked to trust that root: the signer does not chain to it
    plain = _verify_cli(db, site["pdf"])
    assert plain.returncode == 0 and "signature: integrity OK (signer O=hitlgov,CN=hitlgov site key" in plain.stdout


@pytest.mark.long  # a report and four full `report --verify` runs: `make test-slow` (CI runs it), not `make test`
def test_report_signed_with_an_organisation_certificate_chains_to_its_root(site, tmp_path, monkeypatch):
    pki, other = _pki(tmp_path / "pki"), _pki(tmp_path / "other", "Some Other Root")
    db = copy_store(site, tmp_path)
    monkeypatch.setenv("HITLGOV_REPORT_KEY", str(pki["key"]))
    monkeypatch.setenv("HITLGOV_REPORT_CERT", str(pki["leaf"]))
    pdf = tmp_path / "org.pdf"
    build_report(db=db, out_file=pdf, kind="executive")
    from pyhanko.pdf_utils.reader import PdfFileReader

    with open(pdf, "rb") as fh:
        [sig] = PdfFileReader(fh).embedded_signatures
        assert sig.signer_cert.subject.human_friendly == "Common Name: Compliance reporting, Example Org"
    ok = _verify_cli(db, pdf, pki["ca"])
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "signature: integrity OK, signer trusted: signer CN=Compliance reporting\\, Example Org chains to a " \
           "trusted root" in ok.stdout and "matches:" in ok.stdout
    wrong = _verify_cli(db, pdf, other["ca"])
    assert wrong.returncode == 1 and "signer not trusted" in wrong.stdout and "self-signed" not in wrong.stdout
    # without --trust, a site that signs its checkpoints with its own key sees another signer as a finding
    plain = _verify_cli(db, pdf)
    assert plain.returncode == 1 and "not by the site's key" in plain.stdout and "--trust CA.pem" in plain.stdout
    # a changed byte: integrity and trust both fail, named as a change
    data = bytearray(pdf.read_bytes())
    i = data.index(b"/Producer")
    data[i + 1] = ord("p")
    bad = tmp_path / "changed.pdf"
    bad.write_bytes(bytes(data))
    r = _verify_cli(db, bad, pki["ca"])
    assert r.returncode == 1 and "changed after it was signed" in r.stdout and "integrity FAILED" in r.stdout


def test_pkcs12_bundle_signs_and_chains(tmp_path, monkeypatch):
    """Key, certificate and chain from one PKCS#12 file with a passphrase (what most PKIs hand out)."""
    import io

    from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, pkcs12

    from hitlgov.reports import signature

    pki = _pki(tmp_path / "pki")
    ca, leaf, key = pki["objects"]
    bundle = tmp_path / "org.p12"
    bundle.write_bytes(pkcs12.serialize_key_and_certificates(b"org", key, leaf, [ca], BestAvailableEncryption(b"pw")))
    monkeypatch.delenv(checkpoint.ENV_KEY, raising=False)
    monkeypatch.delenv(checkpoint.ENV_PUBLIC, raising=False)
    monkeypatch.setenv("HITLGOV_REPORT_KEY", str(bundle))
    monkeypatch.delenv("HITLGOV_REPORT_CERT", raising=False)
    w = PdfWriter()
    w.add_blank_page(200, 200)
    buf = io.BytesIO()
    w.write(buf)
    monkeypatch.setenv("HITLGOV_REPORT_KEY_PASSWORD", "wrong")
    with pytest.raises(HitlgovError, match="cannot open the PKCS#12 file"):
        signature.sign_pdf(buf.getvalue())
    monkeypatch.setenv("HITLGOV_REPORT_KEY_PASSWORD", "pw")
    signed = tmp_path / "s.pdf"
    signed.write_bytes(signature.sign_pdf(buf.getvalue()))
    verdict, notes = {}, []
    assert signature.check_pdf(signed, notes, trust=[ca], verdict=verdict) == []
    assert verdict["integrity"] and verdict["trusted"], verdict
    verdict = {}
    assert signature.check_pdf(signed, notes, verdict=verdict) == [] and "trusted" not in verdict
    assert any("--trust CA.pem" in n for n in notes)   # no site key configured: a note, not a finding


def test_bad_signing_configuration_is_one_line(tmp_path, monkeypatch):
    from hitlgov.reports import signature

    pki, other = _pki(tmp_path / "pki"), _pki(tmp_path / "other")
    monkeypatch.setenv("HITLGOV_REPORT_KEY", str(pki["key"]))
    monkeypatch.setenv("HITLGOV_REPORT_CERT", str(other["leaf"]))           # a certificate for another key
    with pytest.raises(HitlgovError, match="the first certificate is not for the report signing key"):
        signature.organisation_signer()
    (tmp_path / "junk.pem").write_text("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    monkeypatch.setenv("HITLGOV_REPORT_CERT", str(tmp_path / "junk.pem"))
    with pytest.raises(HitlgovError, match="not a PEM certificate chain"):
        signature.organisation_signer()
    monkeypatch.setenv("HITLGOV_REPORT_CERT", str(tmp_path / "missing.pem"))
    with pytest.raises(HitlgovError, match="not found"):
        signature.organisation_signer()
    exe = str(Path(sys.executable).with_name("hitlgov"))
    r = subprocess.run([exe, "report", "--verify", str(tmp_path / "x.pdf"), "--trust", str(tmp_path / "junk.pem")],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "not a PEM trust root file" in r.stderr and "Traceback" not in r.stderr
