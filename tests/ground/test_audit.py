"""The audit trail is tamper-evident: edits made directly in the DuckDB file are found."""
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from hitlgov import audit, store

LOG = """case_id,ts,model_decision,reviewer_id,human_decision,rationale
a,2026-01-01,approve,r1,approve,ok
a,2026-01-01,approve,r2,decline,doubt
b,2026-01-02,decline,r1,decline,
c,2026-01-03,approve,,,
"""


@pytest.fixture
def db(make_store, tmp_path):
    path = make_store(LOG)
    (tmp_path / "more.csv").write_text("case_id,ts,model_decision,reviewer_id,human_decision\nd,2026-01-04,decline,r3,approve\n")
    from hitlgov.ingest.pipeline import ingest_path
    with store.connect(path) as con:
        ingest_path(con, tmp_path / "more.csv")
    return path


def check(db):
    with store.connect(db, read_only=True) as con:
        return audit.verify_store(con)


def tamper(db, sql):
    with duckdb.connect(str(db)) as con:
        con.execute(sql)


def test_untouched_store_verifies(db):
    result = check(db)
    assert result["ok"], result
    # 2 ingestion runs + 4 stored reviews, chained in order
    assert result["chain"]["events"] == 6


def test_changed_review_row_is_found(db):
    tamper(db, "UPDATE reviews SET human_decision = 'approve' WHERE case_id = 'a' AND reviewer_id = 'r2'")
    result = check(db)
    assert not result["ok"] and result["chain"]["ok"]
    assert result["problems"] == ["review changed after it was stored: default/a/r2"]


def test_deleted_and_inserted_reviews_are_found(db):
    tamper(db, "DELETE FROM reviews WHERE case_id = 'b'")
    tamper(db, "INSERT INTO reviews (system, case_id, reviewer_id, human_decision, run_id, source_row) "
               "VALUES ('default','c','r9','approve',1,4)")
    problems = check(db)["problems"]
    assert "review deleted (its audit event has no row): default/b/r1" in problems
    assert "review inserted without an audit event: default/c/r9" in problems


def test_changed_case_is_found(db):
    tamper(db, "UPDATE cases SET model_decision = 'decline' WHERE case_id = 'c'")
    problems = check(db)["problems"]
    assert problems and problems[0].startswith("cases stored by ingestion run 1 changed")


def test_changed_event_breaks_chain_at_that_event(db):
    tamper(db, "UPDATE audit_events SET subject = 'x' WHERE seq = 3")
    chain = check(db)["chain"]
    assert (chain["ok"], chain["broken_at"]) == (False, 3) and "changed" in chain["problem"]


def test_deleted_event_breaks_chain(db):
    tamper(db, "DELETE FROM audit_events WHERE seq = 2")
    chain = check(db)["chain"]
    assert (chain["ok"], chain["broken_at"]) == (False, 3) and "deleted" in chain["problem"]


def test_inserted_event_breaks_chain(db):
    with duckdb.connect(str(db)) as con:
        row = con.execute("SELECT * FROM audit_events WHERE seq = 2").fetchone()
        con.execute("UPDATE audit_events SET seq = seq + 1 WHERE seq >= 3")
        con.execute("INSERT INTO audit_events VALUES (3, ?, 'forged', NULL, NULL, '{}', ?, ?)", [row[1], row[7], "f" * 64])
    chain = check(db)["chain"]
    assert (chain["ok"], chain["broken_at"]) == (False, 3)


def test_record_event_extends_chain(db):
    head = audit.record_event(db, kind="report_generated", subject="report.pdf", detail={"digest": "abc"})
    result = check(db)
    assert result["ok"] and result["chain"]["head"] == head and result["chain"]["events"] == 7


def test_cli_verify_exit_codes(db):
    exe = str(Path(sys.executable).with_name("hitlgov"))
    ok = subprocess.run([exe, "verify", "--db", str(db)], capture_output=True, text=True)
    assert ok.returncode == 0 and "OK" in ok.stdout
    tamper(db, "UPDATE reviews SET rationale = 'edited' WHERE case_id = 'a' AND reviewer_id = 'r1'")
    bad = subprocess.run([exe, "verify", "--db", str(db)], capture_output=True, text=True)
    assert bad.returncode == 1 and "default/a/r1" in bad.stdout


def test_duplicated_review_row_is_found(db):
    # A copy of an existing review has the same content hash as its event, so only the key check sees it.
    tamper(db, "INSERT INTO reviews SELECT * FROM reviews WHERE case_id = 'a' AND reviewer_id = 'r1'")
    problems = check(db)["problems"]
    assert "duplicate row in reviews (2 copies): default/a/r1" in problems


def test_policy_change_is_recorded_once_per_change(db):
    assert audit.record_policy_use(db, sha256="a" * 64, source="default", name="default")
    assert not audit.record_policy_use(db, sha256="a" * 64, source="default", name="default")
    assert audit.record_policy_use(db, sha256="b" * 64, source="strict.yaml", name="strict")
    with store.connect(db, read_only=True) as con:
        rows = con.execute("SELECT subject, json_extract_string(detail, '$.previous_sha256') FROM audit_events "
                           "WHERE kind = 'policy_changed' ORDER BY seq").fetchall()
    assert rows == [("default", None), ("strict.yaml", "a" * 64)]
    assert check(db)["ok"]


def test_cli_metrics_records_the_policy_once_and_again_when_it_changes(db, tmp_path):
    exe = Path(sys.executable).with_name("hitlgov")
    strict = tmp_path / "strict.yaml"
    strict.write_text("name: strict\nrules:\n  - metric: oversight.override_rate\n    fail_above: 0.1\n")
    for extra in ([], [], ["--policy", str(strict)]):
        run = subprocess.run([str(exe), "metrics", "--json", "--no-drift", "--db", str(db), *extra],
                             capture_output=True, text=True)
        assert run.returncode == 0, run.stderr
    with store.connect(db, read_only=True) as con:
        rows = con.execute("SELECT subject FROM audit_events WHERE kind = 'policy_changed' ORDER BY seq").fetchall()
    assert rows == [("default",), (str(strict),)]
    assert check(db)["ok"]


@pytest.mark.parametrize("n", [0, 1, 5000])
def test_multiset_digest_is_the_documented_two_level_merkle_tree(n):
    """The run digests' definition, recomputed in plain Python: rows' SHA-256 bucketed by their
    first three hex digits, each bucket's sorted hashes concatenated and hashed, then the bucket
    hashes concatenated in bucket order and hashed (independent of row order)."""
    import hashlib
    import random
    from collections import defaultdict

    rng = random.Random(n)
    values = [f"case-{rng.randrange(10**9)}|{rng.choice('ab')}" for _ in range(n)]
    con = duckdb.connect()
    con.execute("CREATE TABLE t (v VARCHAR)")
    if values:
        con.executemany("INSERT INTO t VALUES (?)", [[v] for v in values])
    got = audit._multiset_digest(con, "SELECT sha256(v) AS h FROM t WHERE v <> ?", [""])

    buckets = defaultdict(list)
    for v in values:
        h = hashlib.sha256(v.encode()).hexdigest()
        buckets[h[:3]].append(h)
    tops = "".join(hashlib.sha256("".join(sorted(hs)).encode()).hexdigest() for _b, hs in sorted(buckets.items()))
    assert got == (hashlib.sha256(tops.encode()).hexdigest(), n)
    assert con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'hitlgov_digest_rows'").fetchall() == [(0,)]


def test_review_events_chained_in_batches_are_the_same_events(tmp_path, monkeypatch):
    """Batching the review events (to bound memory) keeps one event per review, in source-row
    order, and a chain that verifies."""
    from conftest import build_store

    log = "case_id,ts,model_decision,reviewer_id,human_decision\n" + "".join(
        f"c{i},2026-01-01,approve,r{j},{'decline' if (i + j) % 3 == 0 else 'approve'}\n"
        for i in range(20) for j in range(1, 3))

    def events(path):
        with duckdb.connect(str(path), read_only=True) as con:
            return con.execute("SELECT kind, subject, CAST(detail AS VARCHAR) FROM audit_events "
                               "WHERE kind = 'review_stored' ORDER BY seq").fetchall()

    (tmp_path / "whole").mkdir()
    (tmp_path / "batched").mkdir()
    whole = build_store(tmp_path / "whole", log)
    calls = []
    real_append = audit.append_events
    monkeypatch.setattr(audit, "append_events", lambda con, ev, **kw: calls.append(len(ev)) or real_append(con, ev, **kw))
    monkeypatch.setattr(audit.record_review_events, "__kwdefaults__", {"rows_per_batch": 3})
    batched = build_store(tmp_path / "batched", log)
    assert len(events(whole)) == 40
    assert events(batched) == events(whole)
    assert sum(c for c in calls if c < 40) >= 40 and max(calls) <= 6  # really in batches of 3 rows x 2 reviews
    assert check(batched)["ok"]
