"""Issue 17's optional canonical fields: typed, stored where they belong, mappable, validated."""
from __future__ import annotations

import duckdb

from hitlgov import audit, store
from hitlgov.ingest.pipeline import ingest_path
from hitlgov.mapping import Mapping

HEADER = "case_id,ts,model_decision,reviewer_id,human_decision,human_initial_decision,canary,audit_sample,audit_probability\n"


def rows(db, sql):
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_fields_are_typed_and_stored_on_case_and_review(make_store):
    db = make_store(HEADER
                    + "a,2026-01-01,approve,r1,decline,decline,yes,0,\n"
                    + "a,2026-01-01,approve,r2,approve,decline,yes,0,\n"
                    + "b,2026-01-02,approve,r1,approve,,false,true,0.05\n"
                    + "c,2026-01-03,decline,,,,,,\n")
    assert rows(db, "SELECT case_id, canary, audit_sample, audit_probability FROM cases ORDER BY 1") == [
        ("a", True, False, None), ("b", False, True, 0.05), ("c", None, None, None)]
    assert rows(db, "SELECT case_id, reviewer_id, human_initial_decision FROM reviews ORDER BY 1, 2") == [
        ("a", "r1", "decline"), ("a", "r2", "decline"), ("b", "r1", None)]
    with store.connect(db, read_only=True) as con:
        assert audit.verify_store(con)["ok"]


def test_bad_values_are_quarantined_with_field_and_reason(make_store):
    db = make_store(HEADER
                    + "a,2026-01-01,approve,,,,maybe,,\n"
                    + "b,2026-01-01,approve,,,,,1,0\n"
                    + "c,2026-01-01,approve,,,,,1,1.5\n"
                    + "d,2026-01-01,approve,,,,,1,nan\n"
                    + "e,2026-01-01,approve,,,decline,,,\n"
                    + "f,2026-01-01,approve,,,,,sometimes,\n"
                    + "g,2026-01-01,approve,,,,,1,1\n")
    got = rows(db, "SELECT row_number, field, reason FROM quarantine ORDER BY 1")
    assert got == [
        (1, "canary", "not a boolean: 'maybe' (expected true/false, 1/0, yes/no)"),
        (2, "audit_probability", "not a probability in (0, 1]: '0'"),
        (3, "audit_probability", "not a probability in (0, 1]: '1.5'"),
        (4, "audit_probability", "not a probability in (0, 1]: 'nan'"),
        (5, "reviewer_id", "review fields given without reviewer_id"),
        (6, "audit_sample", "not a boolean: 'sometimes' (expected true/false, 1/0, yes/no)"),
    ]
    assert rows(db, "SELECT case_id, audit_probability FROM cases") == [("g", 1.0)]


def test_fields_are_mappable_with_labels(tmp_path):
    log = tmp_path / "log.csv"
    log.write_text("id,when,ai,who,final,first,planted\n1,2026-01-01,Y,ann,N,N,x\n")
    mapping = Mapping(columns={"case_id": "id", "ts": "when", "model_decision": "ai", "reviewer_id": "who",
                               "human_decision": "final", "human_initial_decision": "first"},
                      labels={"model_decision": {"Y": "approve", "N": "decline"},
                              "human_decision": {"Y": "approve", "N": "decline"},
                              "human_initial_decision": {"Y": "approve", "N": "decline"}},
                      attributes=[])
    db = tmp_path / "s.duckdb"
    with store.connect(db) as con:
        ingest_path(con, log, mapping=mapping)
    assert rows(db, "SELECT human_decision, human_initial_decision FROM reviews") == [("decline", "decline")]


def test_changed_canary_on_reingest_is_a_conflict_not_an_overwrite(tmp_path):
    db = tmp_path / "s.duckdb"
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    first.write_text("case_id,ts,model_decision,canary\nz,2026-01-01,approve,true\n")
    second.write_text("case_id,ts,model_decision,canary\nz,2026-01-01,approve,false\n")
    with store.connect(db) as con:
        ingest_path(con, first)
        ingest_path(con, second)
    assert rows(db, "SELECT canary FROM cases") == [(True,)]
    (reason,), = rows(db, "SELECT reason FROM quarantine")
    assert "canary 'true' vs 'false'" in reason


def test_tampering_with_a_canary_flag_is_detected(make_store):
    db = make_store("case_id,ts,model_decision,canary\nz,2026-01-01,approve,true\n")
    with duckdb.connect(str(db)) as con:
        con.execute("UPDATE cases SET canary = false")
    with store.connect(db, read_only=True) as con:
        result = audit.verify_store(con)
    assert not result["ok"]
