"""Integer case keys and wide attributes (issue 16, migration 9, hitlgov.case_keys).

Hand-computed keys on small logs; the demo store written before migration 9 upgrades to the very
same keys and ``metrics --json`` document; attribute names are data, never identifiers; verify
catches a tampered key or wide value.
"""
from __future__ import annotations

import json

import duckdb
import pytest

from conftest import copy_into_version
from hitlgov import audit, case_keys, demo, store
from hitlgov.ingest.pipeline import ingest_path
from hitlgov.mapping import Mapping, load_mapping

#: the version a store had before this change: the migration list up to (not including) migration 9
BEFORE = store.MIGRATIONS.index(store._migration_9)

LOG_A = """case_id,ts,model_decision,model_score,reviewer_id,human_decision,review_seconds,region
c1,2026-01-05T09:00:00,approve,0.9,,,,north
c2,2026-01-10T09:00:00,decline,0.3,r1,approve,120,south
c2,2026-01-10T09:00:00,decline,0.3,r2,decline,100,south
c3,2026-01-20T09:00:00,decline,0.4,r1,decline,60,
"""
# c2 again (a new review, and a new attribute for a stored case), c4 and c5 new; c1 repeated
LOG_B = """case_id,ts,model_decision,model_score,reviewer_id,human_decision,review_seconds,region,channel
c4,2026-02-01T09:00:00,approve,0.8,r1,approve,30,east,web
c2,2026-01-10T09:00:00,decline,0.3,r3,approve,90,south,phone
c1,2026-01-05T09:00:00,approve,0.9,,,,north,
c5,2026-02-02T09:00:00,decline,0.2,,,,west,
"""


def _keys(con, table="cases"):
    return con.execute(f"SELECT case_id, case_key FROM {table} ORDER BY case_id, case_key").fetchall()


def test_keys_follow_row_order_stay_put_and_are_never_handed_out_twice(tmp_path):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_text(LOG_A)
    b.write_text(LOG_B)
    with store.connect(tmp_path / "s.duckdb") as con:
        ingest_path(con, a)
        assert _keys(con) == [("c1", 1), ("c2", 2), ("c3", 3)]
        ingest_path(con, b)
        # stored cases keep their keys; new ones continue in row order (c4 is row 1, c5 row 4)
        assert _keys(con) == [("c1", 1), ("c2", 2), ("c3", 3), ("c4", 4), ("c5", 5)]
        assert con.execute("SELECT next_key FROM case_key_counter").fetchall() == [(6,)]
        # every review and attribute carries its case's key
        assert con.execute("SELECT reviewer_id, case_key FROM reviews ORDER BY case_key, reviewer_id").fetchall() == [
            ("r1", 2), ("r2", 2), ("r3", 2), ("r1", 3), ("r1", 4)]
        assert con.execute("SELECT count(*) FROM case_attributes a JOIN cases c USING (system, case_id) "
                           "WHERE a.case_key <> c.case_key").fetchall() == [(0,)]
        # the wide table: one column per attribute; c2 gained `channel` from the second file
        cat = case_keys.columns(con)
        assert cat == {"region": "a1", "channel": "a2"}
        wide = con.execute("SELECT case_key, a1, a2 FROM case_attributes_wide ORDER BY case_key").fetchall()
        assert wide == [(1, "north", None), (2, "south", "phone"), (4, "east", "web"), (5, "west", None)]
        # ingesting the same file again stores nothing and takes no key
        ingest_path(con, b)
        assert con.execute("SELECT next_key FROM case_key_counter").fetchall() == [(6,)]
        assert case_keys.key_problems(con) == [] and case_keys.wide_problems(con) == []


def test_a_rolled_back_ingestion_takes_no_key(tmp_path, monkeypatch):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_text(LOG_A)
    b.write_text(LOG_B)
    with store.connect(tmp_path / "s.duckdb") as con:
        ingest_path(con, a)

        def boom(*_a, **_k):
            raise RuntimeError("disk full")

        monkeypatch.setattr(audit, "commit_run", boom)  # fails after the rows are inserted
        with pytest.raises(RuntimeError):
            ingest_path(con, b)
        monkeypatch.undo()
        assert con.execute("SELECT next_key FROM case_key_counter").fetchall() == [(4,)]
        ingest_path(con, b)
        assert _keys(con)[-2:] == [("c4", 4), ("c5", 5)]


def test_attribute_names_are_data_never_identifiers(tmp_path):
    hostile = ['Region', 'a1"; DROP TABLE cases; --', "<b>x</b>", "case_key"]
    header = "case_id,ts,model_decision," + ",".join('"' + h.replace('"', '""') + '"' for h in hostile)
    a = tmp_path / "a.csv"
    a.write_text(header + "\nc1,2026-01-05T09:00:00,approve,n,v1,v2,v3\nc2,2026-01-06T09:00:00,decline,s,w1,w2,w3\n")
    b = tmp_path / "b.csv"  # the same name in another case: another attribute
    b.write_text("case_id,ts,model_decision,region\nc3,2026-01-07T09:00:00,approve,x\n")
    with store.connect(tmp_path / "s.duckdb") as con:
        ingest_path(con, a)
        ingest_path(con, b)
        cat = case_keys.columns(con)
        assert sorted(cat) == sorted(hostile + ["region"])
        assert sorted(cat.values()) == ["a1", "a2", "a3", "a4", "a5"]
        assert con.execute("SELECT count(*) FROM cases").fetchall() == [(3,)]
    from hitlgov.metrics.source import Filter, Source

    with Source.open(tmp_path / "s.duckdb") as src:
        w, col = src.attributes(hostile + ["region", "never seen"])
        df = w.to_pandas().set_index("case_key").sort_index()
        assert df[col['a1"; DROP TABLE cases; --']].tolist() == ["v1", "w1", None]
        assert df[col["case_key"]].tolist() == ["v3", "w3", None]
        assert df[col["region"]].tolist() == [None, None, "x"]
        assert df[col["never seen"]].isna().all()
        seg = src.cases(Filter(segment=("<b>x</b>", "w2"))).to_pandas()
        assert seg["case_id"].tolist() == ["c2"]


def test_verify_names_a_tampered_key_or_wide_value(tmp_path):
    a = tmp_path / "a.csv"
    a.write_text(LOG_A)
    db = tmp_path / "s.duckdb"
    with store.connect(db) as con:
        ingest_path(con, a)
        assert audit.verify_store(con, checkpoints=False)["ok"]
        con.execute("UPDATE case_attributes_wide SET a1 = 'west' WHERE case_key = 1")
        problems = audit.verify_store(con, checkpoints=False)["problems"]
        assert any("case key 1 attribute 'region' differs" in p for p in problems), problems
        con.execute("UPDATE case_attributes_wide SET a1 = 'north' WHERE case_key = 1")
        con.execute("UPDATE cases SET case_key = 1 WHERE case_id = 'c3'")
        # a run ingested since migration 9 commits to its keys: the changed row is the finding
        problems = audit.verify_store(con, checkpoints=False)["problems"]
        assert any(p.startswith("cases: row default/c3 of ingestion run 1 changed") for p in problems), problems
        # (keys migration 9 gave to rows committed before it are covered by the consistency check)
        assert "cases: case key 1 is held by 2 cases" in case_keys.key_problems(con)
        assert any("reviews: a row of case default/c3 carries case key 3, the case's key is 1" in p
                   for p in case_keys.key_problems(con))


def _wide_by_name(con) -> dict:
    cat = case_keys.columns(con)
    rows = con.execute("SELECT * FROM case_attributes_wide").fetchdf().set_index("case_key")
    return {k: {n: row[c] for n, c in cat.items() if row[c] is not None} for k, row in rows.iterrows()}


def test_the_demo_store_before_migration_9_upgrades_to_the_same_keys_and_metrics(tmp_path):
    from hitlgov.metrics.source import Filter, Source
    from hitlgov.metrics.summary import compute_metrics, resolve_period

    data = tmp_path / "demo"
    demo.generate(data, cases=1500, seed=0)
    fresh = tmp_path / "fresh.duckdb"
    mapping = load_mapping(data / "mapping.yaml")
    with store.connect(fresh) as con:  # two runs: keys must follow run, then row order
        ingest_path(con, data / "decisions.csv", mapping=mapping)
        ingest_path(con, data / "decisions.parquet", mapping=mapping)
    old = tmp_path / "old.duckdb"
    copy_into_version(fresh, old, BEFORE)
    with store.connect(old) as con:  # a read-write open upgrades
        assert store.current_version(con) == store.SCHEMA_VERSION
        assert case_keys.key_problems(con) == [] and case_keys.wide_problems(con) == []

    def document(db):
        with Source.open(db) as src:
            return json.dumps(compute_metrics(src, resolve_period(src, Filter())), sort_keys=True, default=str)

    with duckdb.connect(str(fresh), read_only=True) as a, duckdb.connect(str(old), read_only=True) as b:
        for table in ("cases", "reviews", "case_attributes"):
            q = f"SELECT system, case_id, case_key FROM {table} ORDER BY ALL"
            assert a.execute(q).fetchall() == b.execute(q).fetchall(), table
        assert _wide_by_name(a) == _wide_by_name(b)  # columns may be numbered differently; names agree
    assert document(old) == document(fresh)


def test_a_store_at_the_version_before_opens_read_only_with_a_one_line_message(tmp_path):
    con = duckdb.connect(str(tmp_path / "old.duckdb"))
    store.migrate(con, to=BEFORE)
    con.close()
    from hitlgov.errors import HitlgovError

    with pytest.raises(HitlgovError, match="hitlgov migrate"):
        with store.connect(tmp_path / "old.duckdb", read_only=True):
            pass


def test_sources_without_the_key_join_on_system_and_case_id(tmp_path):
    """An engine whose lake has no case_key (a views file over other tables) gets the same
    numbers through the string key; the pivot of the long form stands in for the wide table."""
    from hitlgov.metrics import fairness
    from hitlgov.metrics.source import Filter, Source

    a = tmp_path / "a.csv"
    a.write_text(LOG_A)
    db = tmp_path / "s.duckdb"
    with store.connect(db) as con:
        ingest_path(con, a, mapping=Mapping(sensitive=["region"], positive_label="approve"))
    with Source.open(db) as src:
        assert src.key == ("case_key",)
        keyed = fairness.fairness_summary(src, Filter())
        keyed_cases = src.cases(Filter()).drop("case_key").to_pandas().sort_values("case_id").reset_index(drop=True)
    raw = duckdb.connect(str(db), read_only=True)
    import ibis

    backend = ibis.duckdb.from_connection(raw)
    for t in ("cases", "reviews", "case_attributes"):
        raw.execute(f"CREATE TEMP VIEW {t}_nokey AS SELECT * EXCLUDE (case_key) FROM {t}")

    class NoKey(Source):
        def table(self, name):
            if name in ("cases", "reviews", "case_attributes"):
                return super().table(name + "_nokey")
            return super().table(name)

    src = NoKey(backend, raw=None)
    assert src.key == ("system", "case_id")
    assert fairness.fairness_summary(src, Filter()) == keyed
    plain = src.cases(Filter()).to_pandas().sort_values("case_id").reset_index(drop=True)
    assert plain[keyed_cases.columns].equals(keyed_cases)
    raw.close()


@pytest.mark.parametrize("sql, found", [
    ("UPDATE case_attributes_wide SET a1 = 'North' WHERE case_key = 1", "case key 1 attribute 'region' differs"),
    ("UPDATE case_attributes_wide SET a1 = NULL WHERE case_key = 2", "case key 2 attribute 'region' differs"),
    ("UPDATE case_attributes_wide SET a2 = 'web' WHERE case_key = 1", "case key 1 attribute 'channel' differs"),
    ("DELETE FROM case_attributes_wide WHERE case_key = 4", "case key 4 attribute 'region' differs"),
    ("INSERT INTO case_attributes_wide SELECT * FROM case_attributes_wide WHERE case_key = 5",
     "case_attributes_wide: case key 5 has 2 rows (one per case)"),
    ("INSERT INTO case_attributes_wide (case_key, a1) VALUES (3, 'north')", "case key 3 attribute 'region' differs"),
])
def test_wide_problems_finds_each_tampered_wide_value(tmp_path, sql, found):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_text(LOG_A)
    b.write_text(LOG_B)
    with store.connect(tmp_path / "s.duckdb") as con:
        ingest_path(con, a)
        ingest_path(con, b)
        assert case_keys.wide_problems(con) == []
        con.execute(sql)
        con.execute("SET default_collation = 'nocase'")  # no setting makes 'North' equal 'north'
        problems = case_keys.wide_problems(con)
        assert any(found in p for p in problems), problems
        assert any(found in p for p in audit.verify_store(con, checkpoints=False)["problems"])


def test_wide_problems_names_an_attribute_the_catalogue_lacks(tmp_path):
    a = tmp_path / "a.csv"
    a.write_text(LOG_A)
    with store.connect(tmp_path / "s.duckdb") as con:
        ingest_path(con, a)
        con.execute("INSERT INTO case_attributes VALUES ('default', 'c1', 'Region', 'north', 1, 1)")
        assert case_keys.wide_problems(con) == [
            "case_attributes_wide: case key 1 attribute 'Region' differs from case_attributes (the committed record)"]
