"""Migration 8 (systems.favourable_label): a store at migration 7 upgrades with its numbers and its
audit trail intact, and the favourable label is declared, recorded and overridable."""
from __future__ import annotations

import json

import duckdb
import pytest

from conftest import build_store, copy_into_version
from hitlgov import audit, store
from hitlgov.errors import MappingError
from hitlgov.ingest.pipeline import ingest_path
from hitlgov.mapping import Mapping, load_mapping
from hitlgov.metrics.source import Filter, Source
from hitlgov.metrics import fairness
from hitlgov.metrics.policy import evaluate, load_policy

# credit-like: approve is both the positive and the favourable decision
LOG = "case_id,ts,model_decision,reviewer_id,human_decision,outcome,grp\n" + "".join(
    f"c{i},2026-03-0{1 + i % 7}T10:00:00,{'approve' if i % 3 else 'deny'},"
    f"{'r1' if i % 2 else ''},{('deny' if i % 5 == 0 else 'approve') if i % 2 else ''},"
    f"{'approve' if i % 4 else 'deny'},{'ab'[i % 2] if i % 7 else 'c'}\n" for i in range(60))


def _numbers(db) -> dict:
    with Source.open(db) as src:
        fair = fairness.fairness_summary(src, Filter())
    findings, _ = evaluate(load_policy(), {"fairness": fair})
    return {"fairness": fair, "findings": [(f["metric"], f["value"], f["status"]) for f in findings]}


def _as_of_migration_7(db):
    """The store migration 7 left holding the rows of the fresh store ``db`` (no favourable_label
    column, no case keys), its configuration committed as it then was; returns its path."""
    old = db.with_name("at7.duckdb")
    copy_into_version(db, old, 7)
    con = duckdb.connect(str(old))
    try:
        with store.transaction(con):
            audit.commit_state(con, reason="as of migration 7")
    finally:
        con.close()
    return old


def test_store_at_migration_7_upgrades_with_unchanged_numbers_and_a_valid_trail(tmp_path):
    db = build_store(tmp_path, LOG, mapping=Mapping(sensitive=["grp"], positive_label="approve"))
    before = _numbers(db)
    db = _as_of_migration_7(db)
    with duckdb.connect(str(db)) as con:
        assert store.current_version(con) == 7
        assert "favourable_label" not in audit.table_columns(con, "systems")
    with store.connect(db) as con:  # a read-write open migrates
        assert store.current_version(con) == store.SCHEMA_VERSION >= 8
        assert con.execute("SELECT favourable_label FROM systems").fetchall() == [(None,)]
        result = audit.verify(con, directory_required=False)
        assert result["ok"], result["problems"]
        kinds = [k for (k,) in con.execute("SELECT kind FROM audit_events ORDER BY seq DESC LIMIT 1").fetchall()]
        assert kinds == ["config_committed"]
    after = _numbers(db)
    assert json.dumps(after, sort_keys=True) == json.dumps(before, sort_keys=True)
    ratio = after["fairness"]["grp"]["final_decision"]
    assert ratio["favourable_rate_ratio"] == ratio["demographic_parity_ratio"]  # favourable = positive
    with Source.open(db) as src:
        assert src.config(None).favourable_label == "approve"


def test_migration_never_launders_a_change_made_behind_the_trail(tmp_path):
    db = build_store(tmp_path, LOG, mapping=Mapping(sensitive=["grp"], positive_label="approve"))
    db = _as_of_migration_7(db)
    with duckdb.connect(str(db)) as con:  # tampered while at 7: the positive label flipped
        con.execute("UPDATE systems SET positive_label = 'deny'")
    with store.connect(db) as con:
        result = audit.verify(con, directory_required=False)
    assert not result["ok"]
    assert any(p.startswith("systems: row default changed since it was committed") for p in result["problems"])


def test_favourable_label_from_the_mapping_and_its_change_is_audited(tmp_path):
    db = build_store(tmp_path, LOG, mapping=Mapping(sensitive=["grp"], positive_label="approve"))
    log = tmp_path / "more.csv"
    log.write_text(LOG.splitlines()[0] + "\nz1,2026-03-02T10:00:00,deny,,,,a\n")
    with store.connect(db) as con:
        ingest_path(con, log, mapping=Mapping(favourable_label="deny"))
        row = con.execute("SELECT positive_label, favourable_label FROM systems").fetchall()
        event = con.execute("SELECT CAST(detail AS VARCHAR) FROM audit_events WHERE kind = 'config_changed'").fetchall()
    assert row == [("approve", "deny")]
    assert json.loads(event[-1][0]) == {"favourable_label": [None, "deny"]}


def test_mapping_file_reads_favourable_label(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text("positive_label: high\nfavourable_label: low\n")
    m = load_mapping(path)
    assert (m.positive_label, m.favourable_label) == ("high", "low")
    for bad in ("[low]", "{a: b}"):
        path.write_text(f"favourable_label: {bad}\n")
        with pytest.raises(MappingError, match=r"m\.yaml: 'favourable_label' must be one label"):
            load_mapping(path)
