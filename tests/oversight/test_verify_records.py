"""``hitlgov verify`` covers the continuous-oversight records and the accounts (issues 13 and 18).

Each record table is written by a named action whose audit event commits to the rows it wrote
(``rows`` in the event: the leaf hash of each row). A direct edit, delete or insert in the
DuckDB file -- findings history, alert deliveries, remediation, incidents, attestations, the
reviewer register and its loads, the accounts -- is named by ``verify`` with table and key; a
later, legitimate action (an item resolved after a report) is not a mismatch as of the report's
checkpoint.
"""
from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from hitlgov import accounts, audit, store
from hitlgov.metrics.policy import load_policy
from hitlgov.oversight import alerts, attestation, incidents, remediation
from hitlgov.oversight import monitor as mon
from hitlgov.oversight.register import load_register

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def _log(n: int = 60, overridden: int = 30) -> str:
    rows = [f"c{i},2026-11-{1 + i // 24:02d}T{i % 24:02d}:00:00,s1,approve,0.9,r{i % 3},"
            f"{'deny' if i < overridden else 'approve'},60" for i in range(n)]
    return "case_id,ts,system,model_decision,model_score,reviewer_id,human_decision,review_seconds\n" + "\n".join(rows) + "\n"


def _build(folder: Path) -> dict:
    from conftest import build_store

    with pytest.MonkeyPatch.context() as mp:
        for env in ("HITLGOV_SIGNING_KEY", "HITLGOV_PUBLIC_KEY", "HITLGOV_CHECKPOINTS"):
            mp.delenv(env, raising=False)
        db = build_store(folder, _log())
        policy = folder / "policy.yaml"
        policy.write_text("name: t\nrules:\n  - metric: oversight.override_rate\n    title: override rate\n"
                          "    fail_above: 0.2\n")
        mon.run_monitor(db, policy=load_policy(policy), channels=alerts.channels_from(files=[folder / "a.jsonl"]),
                        actor="alice")
        item = remediation.assign(db, system="s1", metric="oversight.override_rate", owner="frank",
                                  due=dt.date(2026, 12, 10), actor="grace", now=NOW)
        remediation.acknowledge(db, item["item_id"], actor="frank", now=NOW)
        inc = incidents.record(db, category="other", aware="2026-11-20T09:00", zone_name="Europe/Berlin",
                               title="wrong denials", system="s1", cases=["c1"], actor="grace", now=NOW)
        incidents.mark_reported(db, inc["incident_id"], actor="grace", now=NOW)
        (folder / "reg.csv").write_text("reviewer_id,name,role,authority,training,training_completed,training_expires,systems\n"
                                        "r0,Ana,analyst,approve,t1,2026-01-01,2027-01-01,s1\n"
                                        "r1,Ben,analyst,approve,t1,2026-01-01,2027-01-01,s1\n")
        load_register(db, folder / "reg.csv", actor="grace")
        audit.record_event(db, kind="report_generated", subject="r.pdf", detail={"digest": "d" * 64})
        (folder / "r.pdf").write_bytes(b"%PDF-1.7 not really\n")
        att = attestation.attest(db, report_file=folder / "r.pdf", evidence_digest="d" * 64, parameters={},
                                 name="Carla", role="Compliance officer", actor="carla")
        accounts.add_user(db, "carla", "compliance", "correct horse battery staple")
    return {"db": db, "item": item["item_id"], "incident": inc["incident_id"], "attestation": att["attestation_id"]}


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    return _build(tmp_path_factory.mktemp("records"))


@pytest.fixture
def db(site, tmp_path):
    copy = tmp_path / "store.duckdb"
    shutil.copy(site["db"], copy)
    shutil.copytree(str(site["db"]) + ".checkpoints", str(copy) + ".checkpoints")
    return copy


def problems(db) -> list[str]:
    with store.connect(db, read_only=True) as con:
        result = audit.verify_store(con, checkpoints=False)
    return result["problems"]


def tamper(db, sql, params=None):
    with duckdb.connect(str(db)) as con:
        con.execute(sql, params or [])


def test_intact_store_with_every_record_verifies(db):
    with store.connect(db, read_only=True) as con:
        result = audit.verify_store(con)
        counts = {t: con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0] for t in audit.RECORD_TABLES}
    assert result["ok"], result["problems"]
    assert all(counts.values()), counts  # every record table holds a row the tests below can tamper with


@pytest.mark.parametrize("sql, want", [
    ("UPDATE findings_history SET status = 'pass' WHERE metric = 'oversight.override_rate'",
     "findings_history: row {run}/s1/oversight.override_rate changed"),
    ("UPDATE alert_deliveries SET delivered = false", "alert_deliveries: row {run}/file/{sink} changed"),
    ("UPDATE remediation SET due = DATE '2027-06-30'", "remediation: row {item} changed"),
    ("UPDATE incidents SET category = 'death'", "incidents: row {incident} changed"),
    ("UPDATE attestations SET statement = 'I attest nothing'", "attestations: row {attestation} changed"),
    ("UPDATE reviewer_register SET training_expires = DATE '2099-01-01' WHERE reviewer_id = 'r1'",
     "reviewer_register: row 1/r1/2 changed"),
    ("UPDATE reviewer_register_loads SET sha256 = 'x'", "reviewer_register_loads: row 1 changed"),
    ("UPDATE users SET role = 'admin'", "users: row carla changed"),
])
def test_a_direct_edit_is_named(site, db, sql, want):
    tamper(db, sql)
    found = problems(db)
    assert any(p.startswith(_fill(want, site, db)) for p in found), found


@pytest.mark.parametrize("table, key", [
    ("findings_history", "{run}/s1/oversight.override_rate"), ("alert_deliveries", "{run}/file/{sink}"),
    ("remediation", "{item}"), ("incidents", "{incident}"), ("attestations", "{attestation}"),
    ("reviewer_register", "1/r0/1"), ("reviewer_register_loads", "1"), ("users", "carla"),
])
def test_a_deleted_row_is_named(site, db, table, key):
    key = _fill(key, site, db)
    with duckdb.connect(str(db)) as con:
        cols = audit.RECORD_TABLES[table]
        first = con.execute(f"SELECT {', '.join(cols)} FROM {table} ORDER BY ALL LIMIT 1").fetchall()[0]
        con.execute(f"DELETE FROM {table} WHERE {' AND '.join(f'{c} IS NOT DISTINCT FROM ?' for c in cols)}", list(first))
    found = problems(db)
    assert any(p.startswith(f"{table}: row {key} deleted since event") for p in found), found


@pytest.mark.parametrize("table, change, key", [
    ("remediation", "item_id = 'REM-FORGED'", "REM-FORGED"),
    ("incidents", "incident_id = 'INC-FORGED'", "INC-FORGED"),
    ("attestations", "attestation_id = 'ATT-FORGED'", "ATT-FORGED"),
    ("users", "name = 'mallory'", "mallory"),
    ("reviewer_register_loads", "version = 2", "2"),
    ("findings_history", "monitor_run = 'forged'", "forged/s1/oversight.override_rate"),
])
def test_an_inserted_row_is_named(db, table, change, key):
    with duckdb.connect(str(db)) as con:
        con.execute(f"CREATE TEMP TABLE x AS SELECT * FROM {table} LIMIT 1")
        con.execute(f"UPDATE x SET {change}")
        con.execute(f"INSERT INTO {table} SELECT * FROM x")
    found = problems(db)
    assert f"{table}: row {key} was inserted without an audit event committing to it" in found, found


def test_a_copied_row_is_named(db):
    tamper(db, "INSERT INTO reviewer_register SELECT * FROM reviewer_register WHERE reviewer_id = 'r0'")
    assert any(p.startswith("reviewer_register: row 1/r0/1 inserted a second time") for p in problems(db))


def test_a_legitimate_later_action_is_no_mismatch_as_of_an_earlier_checkpoint(site, db):
    with store.connect(db, read_only=True) as con:
        upto = audit.head(con)[0]
    remediation.resolve(db, site["item"], note="retrained", actor="frank", now=NOW)
    with store.connect(db, read_only=True) as con:
        assert audit.verify_store(con, checkpoints=False)["ok"]               # now: the resolution is committed
        assert audit.verify_store(con, checkpoints=False, upto=upto)["ok"]    # as of before it: not a mismatch
    tamper(db, "UPDATE incidents SET title = 'nothing happened'")          # ...but an edit still is
    with store.connect(db, read_only=True) as con:
        as_of = audit.verify_store(con, checkpoints=False, upto=upto)["problems"]
    assert any(p.startswith(f"incidents: row {site['incident']} changed") for p in as_of), as_of


def test_cli_verify_names_the_edit_in_one_line(site, db):
    tamper(db, "UPDATE remediation SET owner = 'nobody'")
    exe = str(Path(sys.executable).with_name("hitlgov"))
    r = subprocess.run([exe, "verify", "--db", str(db)], capture_output=True, text=True)
    assert r.returncode == 1 and "Traceback" not in r.stdout + r.stderr
    assert f"remediation: row {site['item']} changed since event" in r.stdout


def _fill(text: str, site, db) -> str:
    with duckdb.connect(str(db), read_only=True) as con:
        run = con.execute("SELECT any_value(monitor_run) FROM findings_history").fetchall()[0][0]
        sink = con.execute("SELECT any_value(target) FROM alert_deliveries").fetchall()[0][0]
    return text.format(run=run, sink=sink, item=site["item"], incident=site["incident"],
                       attestation=site["attestation"])


def test_rows_written_before_row_commitments_are_a_note_not_a_problem(tmp_path):
    """A store upgraded from a hitlgov that wrote remediation items with events but no ``rows``:
    its items are listed in a note; a row inserted into a table no event ever wrote is a problem."""
    from conftest import build_store

    db = build_store(tmp_path, _log(6, 3))
    with store.connect(db) as con, store.transaction(con):
        con.execute("INSERT INTO remediation VALUES ('REM-OLD', 's1', 'm', 'o', DATE '2026-12-01', NULL, 'open', "
                    "'x', TIMESTAMP '2026-11-01', TIMESTAMP '2026-11-01', NULL)")
        audit.append_event(con, kind="remediation_assigned", subject="REM-OLD", detail={"system": "s1"})
        con.execute("INSERT INTO attestations (attestation_id, report_file, file_sha256, evidence_digest, name, role, "
                    "statement, signed_at) VALUES ('ATT-X', 'r.pdf', 'a', 'b', 'n', 'r', 's', TIMESTAMP '2026-11-02')")
    with store.connect(db, read_only=True) as con:
        result = audit.verify_store(con)
    assert result["problems"] == ["attestations: row ATT-X was inserted without an audit event committing to it"]
    assert any(n.startswith("remediation: 1 row(s) were written by an older hitlgov") for n in result["notes"])
