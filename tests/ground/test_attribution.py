"""Attribution: every audit event names who acted, and says what was done with which parameters.

A whole CLI session (ingest, a system configuration change, metrics under two policies, a
report, an account) is run as OS user and as ``--actor``; afterwards no event in the store may
lack an actor, and each kind carries its parameters: a report's filter and the SHA-256 of the PDF
written (recomputed here from the file), a policy change's old and new digest (recomputed here
from the policy files' bytes).
"""
from __future__ import annotations

import getpass
import hashlib
import json
from importlib import resources

import duckdb
import pytest
from typer.testing import CliRunner

from hitlgov.cli import app

pytestmark = pytest.mark.xdist_group("reports")

LOG = """case_id,ts,model_decision,model_score,reviewer_id,human_decision,review_seconds,outcome,gender
c1,2026-01-05T09:00:00,approve,0.9,,,,approve,F
c2,2026-01-10T09:00:00,decline,0.3,r1,approve,40,approve,M
c3,2026-01-20T09:00:00,decline,0.4,r1,decline,60,decline,F
c4,2026-02-03T09:00:00,approve,0.6,r2,decline,30,approve,M
c5,2026-02-10T09:00:00,decline,0.2,r2,decline,20,decline,F
c5,2026-02-10T09:00:00,decline,0.2,r1,decline,50,decline,F
"""


def run(*args, input: str | None = None):
    result = CliRunner().invoke(app, list(args), input=input)
    assert result.exit_code == 0, result.output
    return result


def events(db) -> list[dict]:
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute("SELECT kind, actor, subject, CAST(detail AS VARCHAR) FROM audit_events ORDER BY seq").fetchall()
    return [{"kind": k, "actor": a, "subject": s, "detail": json.loads(d)} for k, a, s, d in rows]


@pytest.mark.slow  # about a minute on a shared 2-core machine: metrics twice and a PDF
def test_every_event_of_a_cli_session_names_its_actor(tmp_path):
    db = tmp_path / "s.duckdb"
    log = tmp_path / "log.csv"
    log.write_text(LOG)
    me = getpass.getuser()
    run("ingest", str(log), "--sensitive", "gender", "--positive-label", "approve", "--db", str(db))
    log2 = tmp_path / "log2.csv"
    log2.write_text(LOG.replace("c1,", "c9,"))
    run("ingest", str(log2), "--positive-label", "decline", "--actor", "steward-sam", "--db", str(db))
    run("metrics", "--json", "--no-drift", "--db", str(db))
    policy = tmp_path / "strict.yaml"
    shipped = resources.files("hitlgov.metrics").joinpath("default_policy.yaml")
    policy.write_text(shipped.read_text(encoding="utf-8").replace("\n", "\n# stricter\n", 1))
    run("metrics", "--json", "--no-drift", "--policy", str(policy), "--actor", "officer-olga", "--db", str(db))
    pdf = tmp_path / "r.pdf"
    run("report", "--kind", "executive", "--system", "default", "--from", "2026-01-01", "--to", "2026-02-28",
        "--out", str(pdf), "--actor", "auditor-al", "--db", str(db))
    run("user", "add", "alice", "--role", "admin", "--password-stdin", "--db", str(db),
        input="correct horse battery staple\n")

    evs = events(db)
    assert evs and all(e["actor"] for e in evs), [e for e in evs if not e["actor"]]
    by_kind = {}
    for e in evs:
        by_kind.setdefault(e["kind"], []).append(e)
    # reviews are committed to by the run's Merkle roots (one ingestion event), not an event each
    assert {"ingestion", "config_changed", "policy_changed", "report_generated",
            "user_added"} <= set(by_kind), sorted(by_kind)
    first, second = by_kind["ingestion"]
    assert first["actor"] == me and second["actor"] == "steward-sam"
    [config] = by_kind["config_changed"]
    assert config["actor"] == "steward-sam" and config["detail"]["positive_label"] == ["approve", "decline"]

    # a policy change: old and new digest of the policy's bytes, and who evaluated under it
    default_sha = hashlib.sha256(shipped.read_bytes()).hexdigest()
    strict_sha = hashlib.sha256(policy.read_bytes()).hexdigest()
    changes = [(e["actor"], e["detail"]["previous_sha256"], e["detail"]["sha256"]) for e in by_kind["policy_changed"]]
    assert changes[:2] == [(me, None, default_sha), ("officer-olga", default_sha, strict_sha)]

    # the report: its filter, and the SHA-256 of the very file written
    [rep] = by_kind["report_generated"]
    assert rep["actor"] == "auditor-al" and rep["subject"] == "r.pdf"
    assert rep["detail"]["pdf_sha256"] == hashlib.sha256(pdf.read_bytes()).hexdigest()
    f = rep["detail"]["filter"]
    assert f["system"] == "default" and str(f["from"]).startswith("2026-01-01") and str(f["to"]).startswith("2026-02-28")
    assert by_kind["user_added"][0]["actor"] == me


def test_in_place_registration_names_its_actor(tmp_path):
    pa = pytest.importorskip("pyarrow.csv")
    import pyarrow.parquet as pq

    log = tmp_path / "log.csv"
    log.write_text(LOG)
    (tmp_path / "lake").mkdir()
    pq.write_table(pa.read_csv(log), tmp_path / "lake" / "part.parquet")
    db = tmp_path / "s.duckdb"
    run("ingest", "--in-place", str(tmp_path / "lake" / "part.parquet"), "--actor", "lake-bot", "--db", str(db))
    evs = events(db)
    assert evs and {e["actor"] for e in evs} == {"lake-bot"}


def test_dashboard_export_records_actor_search_and_rows(tmp_path, monkeypatch):
    """exports.csv_download: the actor it is given (captured when the page drew the button), the
    search, the row count and the SHA-256 of the CSV bytes handed to the browser."""
    import pandas as pd

    from hitlgov import store
    from hitlgov.dashboard import exports

    db = tmp_path / "s.duckdb"
    with store.connect(db):
        pass
    monkeypatch.setenv("HITLGOV_DB", str(db))
    monkeypatch.setattr("sys.argv", ["app.py"])
    frame = pd.DataFrame({"case_id": ["c1", "c2", "c3"], "reviewer_id": ["r1", "r2", "r1"]})
    payload = exports.csv_download(frame, what="audit trail cases", file_name="x.csv", actor="local:al",
                                   search={"text": "income", "reviewer": None, "overridden": True})
    [e] = events(db)
    assert e["kind"] == "export_downloaded" and e["actor"] == "local:al"
    assert e["detail"]["rows"] == 3 and e["detail"]["search"] == {"text": "income", "overridden": True}
    assert e["detail"]["sha256"] == hashlib.sha256(payload).hexdigest()
