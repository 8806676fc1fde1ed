"""The audit trail is tamper-evident: edits made directly in the DuckDB file are found."""
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from hitlgov import audit, checkpoint, store
from hitlgov.mapping import Mapping

LOG = """case_id,ts,model_decision,reviewer_id,human_decision,rationale,region
a,2026-01-01,approve,r1,approve,ok,north
a,2026-01-01,approve,r2,decline,doubt,north
b,2026-01-02,decline,r1,decline,,south
c,2026-01-03,approve,,,,south
d,not-a-date,approve,,,,east
"""
MAPPING = Mapping(sensitive=["region"], positive_label="approve")


@pytest.fixture
def db(make_store, tmp_path, monkeypatch):
    monkeypatch.delenv("HITLGOV_SIGNING_KEY", raising=False)
    monkeypatch.delenv("HITLGOV_PUBLIC_KEY", raising=False)
    monkeypatch.delenv("HITLGOV_CHECKPOINTS", raising=False)
    path = make_store(LOG, mapping=MAPPING)
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
    # one event per ingestion run: the rows are committed to by Merkle roots, not per-review events
    assert result["chain"]["events"] == 2
    assert result["checkpoint"]["tree_size"] == 2


def test_changed_review_row_is_found(db):
    tamper(db, "UPDATE reviews SET human_decision = 'approve' WHERE case_id = 'a' AND reviewer_id = 'r2'")
    result = check(db)
    assert not result["ok"] and result["chain"]["ok"]
    assert result["problems"] == ["reviews: row default/a/r2 of ingestion run 1 changed after it was stored"]


def test_deleted_and_inserted_reviews_are_found(db):
    tamper(db, "DELETE FROM reviews WHERE case_id = 'b'")
    tamper(db, "INSERT INTO reviews (system, case_id, reviewer_id, human_decision, run_id, source_row) "
               "VALUES ('default','c','r9','approve',1,4)")
    problems = check(db)["problems"]
    assert "reviews: row default/b/r1 of ingestion run 1 deleted after it was stored" in problems
    assert "reviews: row default/c/r9 of ingestion run 1 inserted after it was stored" in problems


def test_changed_case_is_found(db):
    tamper(db, "UPDATE cases SET model_decision = 'decline' WHERE case_id = 'c'")
    problems = check(db)["problems"]
    assert problems == ["cases: row default/c of ingestion run 1 changed after it was stored"]


def test_changed_event_breaks_chain_at_that_event(db):
    tamper(db, "UPDATE audit_events SET subject = 'x' WHERE seq = 1")
    chain = check(db)["chain"]
    assert (chain["ok"], chain["broken_at"]) == (False, 1) and "changed" in chain["problem"]


def test_deleted_event_breaks_chain(db):
    tamper(db, "DELETE FROM audit_events WHERE seq = 1")
    chain = check(db)["chain"]
    assert (chain["ok"], chain["broken_at"]) == (False, 2) and "deleted" in chain["problem"]


def test_inserted_event_breaks_chain(db):
    with duckdb.connect(str(db)) as con:
        row = con.execute("SELECT * FROM audit_events WHERE seq = 1").fetchone()
        con.execute("UPDATE audit_events SET seq = seq + 1 WHERE seq >= 2")
        con.execute("INSERT INTO audit_events VALUES (2, ?, 'forged', NULL, NULL, '{}', ?, ?)", [row[1], row[7], "f" * 64])
    chain = check(db)["chain"]
    assert (chain["ok"], chain["broken_at"]) == (False, 2)


def test_record_event_extends_chain(db):
    head = audit.record_event(db, kind="report_generated", subject="report.pdf", detail={"digest": "abc"})
    result = check(db)
    assert result["ok"] and result["chain"]["head"] == head and result["chain"]["events"] == 3
    assert result["checkpoint"]["head"] == head  # the appended event was checkpointed


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


# -- a motivated insider: rows, leaves, roots and the chain rewritten consistently -------------------

def forge(db, sql):
    """What an insider with write access to the DuckDB file does to hide an edit: change rows,
    re-hash every leaf, recompute every run's Merkle roots and configuration commitment, and
    re-chain every event from the first one on. Only the external checkpoints still disagree."""
    import json

    with duckdb.connect(str(db)) as con:
        con.execute(sql)
        con.execute("DELETE FROM audit_leaves")
        events = con.execute("SELECT seq, event_at, kind, actor, subject, CAST(detail AS VARCHAR) FROM audit_events "
                             "ORDER BY seq").fetchall()
        con.execute("DELETE FROM audit_events")
        prev = audit.GENESIS
        for seq, at, kind, actor, subject, detail in events:
            d = json.loads(detail)
            if kind == "ingestion":
                d.update(audit.commit_run(con, d["run_id"]))
            body = audit._canonical(d)
            digest = audit._digest(seq, at.isoformat(timespec="microseconds"), kind, actor, subject, body, prev)
            con.execute("INSERT INTO audit_events VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        [seq, at, kind, actor, subject, body, prev, digest])
            prev = digest


def unanchored(db):
    with store.connect(db, read_only=True) as con:
        return audit.verify_store(con, checkpoints=False)


@pytest.mark.parametrize("sql", [
    "UPDATE reviews SET human_decision = 'approve' WHERE case_id = 'a' AND reviewer_id = 'r2'",
    "DELETE FROM reviews WHERE case_id = 'b'",
    # (a complete forgery also deletes the case's row of the wide attributes, which verify checks
    # against case_attributes)
    "DELETE FROM case_attributes_wide WHERE case_key = (SELECT case_key FROM cases WHERE case_id = 'c'); "
    "DELETE FROM cases WHERE case_id = 'c'; DELETE FROM case_attributes WHERE case_id = 'c'",
])
def test_consistent_rewrite_of_rows_and_chain_is_caught_by_the_checkpoint(db, sql):
    forge(db, sql)
    assert unanchored(db)["ok"], "the forgery must be complete: only the external anchor can catch it"
    problems = check(db)["problems"]
    assert problems and all("checkpoint" in p for p in problems), problems
    # the forger re-chained from event 1 on: neither checkpoint's log is the stored one any more
    assert len(problems) == 2 and all("the whole chain was rewritten" in p for p in problems), problems


def test_truncating_the_last_event_is_caught(db):
    tamper(db, "DELETE FROM audit_events WHERE seq = 2")
    assert unanchored(db)["chain"]["ok"]  # a shorter chain is still a valid chain
    problems = check(db)["problems"]
    assert any("records 2 events, the store holds 1" in p and "truncation" in p for p in problems), problems


def test_changed_case_attribute_is_found(db):
    tamper(db, "UPDATE case_attributes SET value = 'east' WHERE case_id = 'a' AND name = 'region'")
    # a case's attributes share one leaf: the case is named
    assert check(db)["problems"] == ["case_attributes: row default/a of ingestion run 1 changed after it was stored"]


def test_changed_positive_label_is_found(db):
    tamper(db, "UPDATE systems SET positive_label = 'decline' WHERE system = 'default'")
    assert check(db)["problems"] == ["systems: row default changed since it was committed (event 2)"]


def test_deleted_attribute_role_is_found(db):
    tamper(db, "DELETE FROM attribute_roles")
    assert check(db)["problems"] == ["attribute_roles: row default/region/sensitive deleted since it was committed (event 2)"]


def test_deleted_quarantine_row_is_found(db):
    with duckdb.connect(str(db)) as con:
        assert con.execute("SELECT count(*) FROM quarantine").fetchall() == [(1,)]
    tamper(db, "DELETE FROM quarantine")
    problems = check(db)["problems"]
    assert "quarantine: ingestion run 1 stored 1 rows, 0 are left" in problems
    assert "quarantine: row row 5 ts of ingestion run 1 deleted after it was stored" in problems


def test_edited_and_deleted_ingestion_runs_are_found(db):
    tamper(db, "UPDATE ingestion_runs SET sha256 = repeat('0', 64) WHERE run_id = 1")
    tamper(db, "DELETE FROM ingestion_runs WHERE run_id = 2")
    assert check(db)["problems"] == ["ingestion_runs: run 1 changed after it was recorded (event 1)",
                                     "ingestion_runs: run 2 deleted (its ingestion event 2 remains)"]


def test_rehashed_leaves_do_not_match_the_chained_root(db):
    tamper(db, "UPDATE reviews SET rationale = 'edited' WHERE case_id = 'a' AND reviewer_id = 'r1'")
    cols = ", ".join(f'"{c}"' for c in ("system", "case_id", "reviewer_id"))
    with duckdb.connect(str(db)) as con:
        leaf = audit.leaf_sql(audit.table_columns(con, "reviews"))
        con.execute(f"UPDATE audit_leaves SET leaf = (SELECT {leaf} FROM reviews WHERE case_id = 'a' AND reviewer_id = 'r1') "
                    "WHERE tbl = 'reviews' AND row_key = 'default/a/r1'")
    problems = check(db)["problems"]
    assert len(problems) == 1 and problems[0].startswith("reviews of ingestion run 1: the stored row hashes (3) no "
                                                         "longer match the Merkle root chained in event 1"), (problems, cols)


def test_rolled_back_write_leaves_no_checkpoint(db):
    before = sorted(p.name for p in Path(str(db) + ".checkpoints").iterdir())
    with store.connect(db) as con, pytest.raises(RuntimeError):
        with store.transaction(con):
            audit.append_event(con, kind="report_generated", subject="x.pdf")
            raise RuntimeError("disk full")
    assert sorted(p.name for p in Path(str(db) + ".checkpoints").iterdir()) == before
    assert check(db)["ok"]


def test_missing_table_is_a_problem_not_a_traceback(db):
    tamper(db, "DROP TABLE attribute_roles")
    result = check(db)
    assert not result["ok"] and result["problems"] == ["table attribute_roles is missing from the store"]


# -- the Merkle tree is RFC 6962's ---------------------------------------------------------------------

# RFC 6962 test vectors as published by certificate-transparency-go (merkle/rfc6962 and
# testonly/hashers): the eight leaf inputs and the tree hash of each prefix of them.
RFC6962_LEAVES = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                  "606162636465666768696a6b6c6d6e6f"]
RFC6962_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def test_sql_merkle_tree_matches_the_rfc6962_reference_vectors():
    con = duckdb.connect()
    con.execute("CREATE TABLE v (i INTEGER, d BLOB)")
    con.executemany("INSERT INTO v VALUES (?, unhex(?))", list(enumerate(RFC6962_LEAVES)))
    sql = ("SELECT n AS g, i, sha256('\\x00'::BLOB || d) AS h FROM v, range(1, 9) r(n) WHERE i < n")
    roots = audit.merkle_roots(con, sql)
    assert [roots[n] for n in range(1, 9)] == [(r, n) for n, r in enumerate(RFC6962_ROOTS, 1)]
    assert audit.EMPTY_ROOT == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


@pytest.mark.parametrize("n", [1, 2, 3, 1000, 1025])
def test_sql_merkle_tree_matches_a_recursive_python_rfc6962(n):
    """A second implementation: RFC 6962 §2.1's recursive definition (split at the largest power
    of two below n), in plain Python."""
    import hashlib

    def mth(leaves):
        if len(leaves) == 1:
            return leaves[0]
        k = 1 << ((len(leaves) - 1).bit_length() - 1)
        return hashlib.sha256(b"\x01" + mth(leaves[:k]) + mth(leaves[k:])).digest()

    data = [f"row-{i}".encode() for i in range(n)]
    con = duckdb.connect()
    con.execute("CREATE TABLE v (i INTEGER, d VARCHAR)")
    con.executemany("INSERT INTO v VALUES (?, ?)", [[i, d.decode()] for i, d in enumerate(data)])
    got = audit.merkle_roots(con, "SELECT 'x' AS g, i, sha256('\\x00'::BLOB || encode(d)) AS h FROM v")
    want = mth([hashlib.sha256(b"\x00" + d).digest() for d in data]).hex()
    assert got == {"x": (want, n)}


# -- signed checkpoints ----------------------------------------------------------------------------------

@pytest.fixture
def signed(make_store, tmp_path, monkeypatch):
    monkeypatch.delenv("HITLGOV_PUBLIC_KEY", raising=False)
    monkeypatch.delenv("HITLGOV_CHECKPOINTS", raising=False)
    key, pub, fp = checkpoint.keygen(tmp_path / "site.key")
    monkeypatch.setenv("HITLGOV_SIGNING_KEY", str(key))
    return make_store(LOG, mapping=MAPPING), fp


def checkpoint_files(db):
    return sorted(Path(str(db) + ".checkpoints").glob("*.json"))


def test_checkpoints_are_signed_with_the_site_key(signed):
    import base64
    import json

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    db, fp = signed
    (file,) = checkpoint_files(db)
    cp = json.loads(file.read_text())
    assert cp["tree_size"] == 1 and cp["key"]["fingerprint"] == fp
    # the signature verifies with the raw public key over the documented note, independently of our code
    pub = Ed25519PublicKey.from_public_bytes(base64.b64decode(cp["key"]["public_key"]))
    pub.verify(base64.b64decode(cp["signature"]),
               f"hitlgov-checkpoint/1\n{cp['origin']}\n1\n{cp['head']}\n{cp['time']}\n".encode())
    result = check(db)
    assert result["ok"] and not result["notes"], result


def test_edited_checkpoint_fails_its_signature(signed):
    import json

    db, _fp = signed
    (file,) = checkpoint_files(db)
    cp = json.loads(file.read_text())
    cp["time"] = "2030-01-01T00:00:00Z"
    file.write_text(json.dumps(cp))
    assert any("signature invalid" in p for p in check(db)["problems"])


def test_checkpoint_from_another_key_or_unsigned_is_refused(signed, tmp_path, monkeypatch):
    import json

    db, _fp = signed
    (file,) = checkpoint_files(db)
    cp = json.loads(file.read_text())
    other = checkpoint.load_private_key(checkpoint.keygen(tmp_path / "other.key")[0])
    (file.parent / "forged.json").write_text(json.dumps(checkpoint.make(cp["origin"], 1, cp["head"], key=other)))
    (file.parent / "stripped.json").write_text(json.dumps(checkpoint.make(cp["origin"], 1, cp["head"])))
    problems = check(db)["problems"]
    assert any("forged.json: signed by key" in p and "not the site's key" in p for p in problems), problems
    assert any("stripped.json: unsigned, but a signing key is configured" in p for p in problems), problems


def test_verify_since_a_kept_checkpoint_catches_a_rewrite_after_the_directory_was_wiped(db, tmp_path):
    import shutil

    kept = tmp_path / "auditor-copy.json"
    shutil.copy(checkpoint_files(db)[-1], kept)
    shutil.rmtree(str(db) + ".checkpoints")
    forge(db, "UPDATE reviews SET human_decision = 'approve' WHERE case_id = 'a' AND reviewer_id = 'r2'")
    with store.connect(db, read_only=True) as con:
        result = audit.verify_store(con, since=[{**checkpoint.read(kept), "file": str(kept)}])
    assert any("no checkpoint in" in p for p in result["problems"])
    assert any("auditor-copy.json: the chain's first event is no longer the one checkpointed" in p
               for p in result["problems"]), result


def test_cli_keygen_and_verify_since(tmp_path, db):
    exe = str(Path(sys.executable).with_name("hitlgov"))
    made = subprocess.run([exe, "keygen", "--out", str(tmp_path / "k.pem")], capture_output=True, text=True)
    assert made.returncode == 0 and "SHA256:" in made.stdout, made.stderr
    again = subprocess.run([exe, "keygen", "--out", str(tmp_path / "k.pem")], capture_output=True, text=True)
    assert again.returncode == 1 and "already exists" in again.stderr and "Traceback" not in again.stderr
    kept = checkpoint_files(db)[-1]
    ok = subprocess.run([exe, "verify", "--db", str(db), "--since", str(kept)], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    tamper(db, "DELETE FROM audit_events WHERE seq = 2")
    bad = subprocess.run([exe, "verify", "--db", str(db), "--since", str(kept)], capture_output=True, text=True)
    assert bad.returncode == 1 and "truncation" in bad.stdout
    junk = tmp_path / "junk.json"
    junk.write_text("<b>not json")
    odd = subprocess.run([exe, "verify", "--db", str(db), "--since", str(junk)], capture_output=True, text=True)
    assert odd.returncode == 1 and "not a hitlgov checkpoint" in odd.stderr and "Traceback" not in odd.stderr


def test_rewrite_of_a_suffix_only_is_caught_at_the_checkpointed_head(db):
    """Re-chaining from event 2 on (the first event kept) is caught by the head at event 2."""
    import json

    with duckdb.connect(str(db)) as con:
        seq, at, kind, actor, subject, detail, prev = con.execute(
            "SELECT seq, event_at, kind, actor, subject, CAST(detail AS VARCHAR), prev_hash FROM audit_events "
            "WHERE seq = 2").fetchall()[0]
        d = json.loads(detail)
        d["rows_read"] = 0  # a "consistent" edit of the last event: rehashed and relinked
        body = audit._canonical(d)
        digest = audit._digest(seq, at.isoformat(timespec="microseconds"), kind, actor, subject, body, prev)
        con.execute("UPDATE audit_events SET detail = ?, hash = ? WHERE seq = 2", [body, digest])
    assert unanchored(db)["ok"]
    problems = check(db)["problems"]
    assert len(problems) == 1 and "event 2 is no longer the checkpointed head" in problems[0], problems


# -- stores written before the commitment format changed (format 1) still verify ------------------------

FORMAT1 = Path(__file__).parent / "fixtures" / "store_format1"


@pytest.fixture
def v1_store(tmp_path, monkeypatch):
    """The store in fixtures/store_format1 (written by the code before issue 16), rebuilt from its
    export and opened once read-write, as an upgrade does (migrations run)."""
    db = _rebuilt_store(FORMAT1, tmp_path / "v1.duckdb", monkeypatch)
    with store.connect(db):
        pass
    return db


def _rebuilt_store(folder: Path, db: Path, monkeypatch) -> Path:
    """A store exported as CSV in ``folder`` (schema.sql, load.sql, checkpoints/) loaded into ``db``,
    with no site signing key in the environment (the fixture's checkpoints carry their own)."""
    import shutil

    monkeypatch.delenv("HITLGOV_SIGNING_KEY", raising=False)
    monkeypatch.delenv("HITLGOV_PUBLIC_KEY", raising=False)
    monkeypatch.delenv("HITLGOV_CHECKPOINTS", raising=False)
    with duckdb.connect(str(db)) as con:
        con.execute((folder / "schema.sql").read_text())
        con.execute((folder / "load.sql").read_text().replace("{FIXTURE}", str(folder)))
    shutil.copytree(folder / "checkpoints", str(db) + ".checkpoints")
    return db


def _formats(db):
    import json

    with store.connect(db, read_only=True) as con:
        rows = con.execute("SELECT CAST(detail AS VARCHAR) FROM audit_events WHERE kind = 'ingestion' ORDER BY seq").fetchall()
    return [json.loads(d)["leaf_format"] for (d,) in rows]


def test_a_store_written_by_the_old_code_still_verifies(v1_store):
    assert _formats(v1_store) == [audit.LEAF_FORMAT_V1, audit.LEAF_FORMAT_V1]
    result = check(v1_store)
    assert result["ok"], result
    # the two ingestion events it was written with, plus the configuration re-committed by
    # migration 8 on opening (systems gained favourable_label), which signs a checkpoint of its own
    assert result["chain"]["events"] == 3 and result["checkpoint"]["tree_size"] == 3
    with store.connect(v1_store, read_only=True) as con:
        kinds = [k for (k,) in con.execute("SELECT kind FROM audit_events ORDER BY seq").fetchall()]
    assert kinds == ["ingestion", "ingestion", "config_committed"]


@pytest.mark.parametrize("sql, problems", [
    ("UPDATE reviews SET human_decision = 'approve' WHERE case_id = 'a' AND reviewer_id = 'r2'",
     ["reviews: row default/a/r2 of ingestion run 1 changed after it was stored"]),
    ("DELETE FROM reviews WHERE case_id = 'b'", ["reviews: ingestion run 1 stored 3 rows, 2 are left",
                                                 "reviews: row default/b/r1 of ingestion run 1 deleted after it was stored"]),
    ("UPDATE case_attributes SET value = 'east' WHERE case_id = 'a' AND name = 'region'",
     ["case_attributes: row default/a of ingestion run 1 changed after it was stored"]),
    ("UPDATE cases SET model_decision = 'approve' WHERE case_id = 'd'",
     ["cases: row default/d of ingestion run 2 changed after it was stored"]),
])
def test_a_store_written_by_the_old_code_still_names_a_changed_row(v1_store, sql, problems):
    tamper(v1_store, sql)
    assert check(v1_store)["problems"] == problems


def test_a_rehashed_format1_leaf_no_longer_matches_its_root(v1_store):
    tamper(v1_store, "UPDATE reviews SET rationale = 'edited' WHERE case_id = 'a' AND reviewer_id = 'r1'")
    with duckdb.connect(str(v1_store)) as con:
        cols = [c for c in audit.table_columns(con, "reviews") if c != "case_key"]  # the columns run 1 hashed
        leaf = audit.row_hashes_sql("reviews", cols, "case_id = 'a' AND reviewer_id = 'r1'")
        con.execute(f"UPDATE audit_leaves SET leaf = (SELECT h FROM ({leaf})) "
                    "WHERE tbl = 'reviews' AND row_key = 'default/a/r1'")
    problems = check(v1_store)["problems"]
    assert len(problems) == 1 and problems[0].startswith(
        "reviews of ingestion run 1: the stored row hashes (3) no longer match the Merkle root chained in event 1"), problems


def test_new_runs_on_an_old_store_use_the_new_format_and_both_verify(v1_store, tmp_path):
    from hitlgov.ingest.pipeline import ingest_path

    (tmp_path / "later.csv").write_text("case_id,ts,model_decision,reviewer_id,human_decision\n"
                                        "e,2026-01-05,approve,r1,decline\nf,2026-01-06,decline,,\n")
    with store.connect(v1_store) as con:
        ingest_path(con, tmp_path / "later.csv")
    assert _formats(v1_store) == [audit.LEAF_FORMAT_V1, audit.LEAF_FORMAT_V1, audit.LEAF_FORMAT]
    assert check(v1_store)["ok"]
    tamper(v1_store, "UPDATE reviews SET human_decision = 'approve' WHERE case_id = 'e'; "
                     "UPDATE reviews SET rationale = 'x' WHERE case_id = 'b'")
    assert check(v1_store)["problems"] == ["reviews: row default/b/r1 of ingestion run 1 changed after it was stored",
                                           "reviews: row default/e/r1 of ingestion run 3 changed after it was stored"]


# -- format 2: buckets of sorted row texts, hashed outside SQL ---------------------------------------

def _rfc6962(leaves):
    """RFC 6962 §2.1's recursive tree hash (split at the largest power of two below n)."""
    import hashlib

    if len(leaves) == 1:
        return leaves[0]
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return hashlib.sha256(b"\x01" + _rfc6962(leaves[:k]) + _rfc6962(leaves[k:])).digest()


def test_python_merkle_tree_matches_the_rfc6962_reference_vectors():
    import hashlib

    leaves = [hashlib.sha256(b"\x00" + bytes.fromhex(d)).digest() for d in RFC6962_LEAVES]
    assert [audit.mth(leaves[:n]).hex() for n in range(1, 9)] == RFC6962_ROOTS
    assert audit.mth([]).hex() == audit.EMPTY_ROOT


@pytest.mark.parametrize("rows, bucket", [(1, 4096), (4096, 4096), (70_001, 5000)])
def test_bucket_root_is_the_documented_hash_of_the_texts(rows, bucket):
    """A second implementation of format 2 in plain Python: buckets of ``bucket`` consecutive
    texts, each leaf SHA-256(0x00 || the texts' UTF-8 bytes), RFC 6962 over the leaves. 70,001
    rows cross DuckDB's Arrow batches (65,536 rows) in the middle of a bucket."""
    import hashlib

    con = duckdb.connect()
    con.execute(f"CREATE TABLE t AS SELECT i, '{{\"v\":\"' || repeat('é', i % 7) || i || '\"}}' AS t FROM range({rows}) r(i)")
    texts = [t for (t,) in con.execute("SELECT t FROM t ORDER BY i").fetchall()]
    want = _rfc6962([hashlib.sha256(b"\x00" + "".join(texts[j:j + bucket]).encode()).digest()
                     for j in range(0, len(texts), bucket)]).hex()
    assert audit.bucket_root(con, "SELECT t FROM t ORDER BY i", bucket_rows=bucket) == (want, rows)


def test_commitment_order_does_not_depend_on_storage_order_or_collation(make_store):
    """The same rows stored in another order, read under another default collation, give the same root."""
    con = duckdb.connect()
    con.execute("CREATE TABLE a AS SELECT 1 AS run_id, i AS source_row, 'x' || (i % 3) AS v FROM range(5000) r(i)")
    con.execute("CREATE TABLE b AS SELECT * FROM a ORDER BY v DESC, source_row DESC")
    con.execute("INSERT INTO a SELECT 1, 7, 'B'")
    con.execute("INSERT INTO b SELECT 1, 7, 'b'")  # a differing row differs
    roots = [audit.bucket_root(con, audit.texts_sql(t, ["run_id", "source_row", "v"], "run_id = 1", ["source_row"]))
             for t in ("a", "b")]
    assert roots[0] != roots[1]
    con.execute("UPDATE b SET v = 'B' WHERE v = 'b'")
    con.execute("SET default_collation = 'nocase'")
    assert audit.bucket_root(con, audit.texts_sql("b", ["run_id", "source_row", "v"], "run_id = 1", ["source_row"])) == roots[0]


def test_an_inserted_copy_of_a_row_is_found(db):
    tamper(db, "INSERT INTO cases SELECT * FROM cases WHERE case_id = 'c'")
    problems = check(db)["problems"]
    assert "cases: ingestion run 1 stored 3 rows, 4 are there now: a copy of a stored row was inserted" in problems
    assert "duplicate row in cases (2 copies): default/c" in problems


# -- format 3: a case's attributes are one text, ordered by the integer case key ---------------------

# attribute names whose binary order is not their order under a case- or accent-blind collation
# (``Region`` < ``channel`` < ``ete`` < ``zone`` < ``été`` in bytes); values likewise
ATTR_LOG = """case_id,ts,model_decision,reviewer_id,human_decision,zone,été,Region,ete,channel
a,2026-01-01,approve,r1,approve,1,y,north,x,web
b,2026-01-02,decline,r1,decline,2,e,South,é,phone
c,2026-01-03,approve,,,,,south,,web
"""
ATTR_MAPPING = Mapping(sensitive=["Region"], positive_label="approve")


@pytest.fixture
def attrs_db(make_store, monkeypatch):
    monkeypatch.delenv("HITLGOV_SIGNING_KEY", raising=False)
    monkeypatch.delenv("HITLGOV_PUBLIC_KEY", raising=False)
    monkeypatch.delenv("HITLGOV_CHECKPOINTS", raising=False)
    return make_store(ATTR_LOG, mapping=ATTR_MAPPING)


def _commitment(db, table, seq=1):
    import json

    with store.connect(db, read_only=True) as con:
        (detail,) = con.execute("SELECT CAST(detail AS VARCHAR) FROM audit_events WHERE seq = ?", [seq]).fetchall()[0]
    d = json.loads(detail)
    return d["leaf_format"], d["merkle"][table]


def test_a_format3_run_commits_one_text_per_case_and_verifies(attrs_db):
    fmt, ca = _commitment(attrs_db, "case_attributes")
    assert fmt == audit.LEAF_FORMAT == "rfc6962-sha256/sorted-json-buckets-3"
    assert (ca["rows"], ca["cases"]) == (12, 3) and ca["group"] == ["case_key", "run_id", "system", "case_id"]
    assert ca["columns"] == ["system", "case_id", "name", "value", "run_id", "case_key"]
    result = check(attrs_db)
    assert result["ok"], result
    # the texts are what the documentation says: one JSON object per case, rows sorted by their bytes
    with store.connect(attrs_db, read_only=True) as con:
        sql = audit.case_texts_sql("case_attributes", ca["columns"], "run_id = 1", ca["group"],
                                   audit.text_columns(con, "case_attributes"))
        texts = [t for (t,) in con.execute(sql).fetchall()]
    assert texts[2] == ('{"case_key":3,"run_id":1,"system":"default","case_id":"c","rows":'
                        '[{"name":"Region","value":"south"},{"name":"channel","value":"web"}]}')
    assert [r["name"] for r in __import__("json").loads(texts[0])["rows"]] == ["Region", "channel", "ete", "zone", "été"]


@pytest.mark.parametrize("sql, found", [
    ("UPDATE case_attributes SET value = 'North' WHERE case_id = 'a' AND name = 'Region'",
     "case_attributes: row default/a of ingestion run 1 changed after it was stored"),
    ("UPDATE case_attributes SET name = 'REGION' WHERE case_id = 'b' AND name = 'Region'",
     "case_attributes: row default/b of ingestion run 1 changed after it was stored"),
    ("DELETE FROM case_attributes WHERE case_id = 'c' AND name = 'channel'",
     "case_attributes: row default/c of ingestion run 1 changed after it was stored"),
    ("DELETE FROM case_attributes WHERE case_id = 'c'",
     "case_attributes: row default/c of ingestion run 1 deleted after it was stored"),
    ("INSERT INTO case_attributes SELECT system, case_id, 'age', '40', run_id, case_key FROM cases WHERE case_id = 'b'",
     "case_attributes: row default/b of ingestion run 1 changed after it was stored"),
    ("INSERT INTO case_attributes SELECT * FROM case_attributes WHERE case_id = 'a' AND name = 'ete'",
     "duplicate row in case_attributes (2 copies): default/a/ete"),
    # a row moved to another case: both cases are named
    ("UPDATE case_attributes SET case_id = 'c', case_key = 3 WHERE case_id = 'a' AND name = 'ete'",
     "case_attributes: row default/a of ingestion run 1 changed after it was stored"),
])
def test_format3_finds_each_change_to_a_case_attributes_row(attrs_db, sql, found):
    tamper(attrs_db, sql)
    problems = check(attrs_db)["problems"]
    assert found in problems, problems


def test_format3_a_duplicated_attribute_row_changes_the_root_and_names_the_case(attrs_db):
    tamper(attrs_db, "INSERT INTO case_attributes SELECT * FROM case_attributes WHERE case_id = 'a' AND name = 'ete'")
    assert check(attrs_db)["problems"] == [
        "case_attributes: row default/a of ingestion run 1 changed after it was stored",
        "duplicate row in case_attributes (2 copies): default/a/ete"]


@pytest.mark.parametrize("column, value", [
    ("system", "'other'"), ("case_id", "'z'"), ("name", "'regio'"), ("value", "'south '"), ("value", "NULL"),
    ("run_id", "2"), ("case_key", "99"), ("case_key", "NULL"),
])
def test_format3_root_covers_every_column_of_every_row(column, value):
    """A change to any committed column of any one row changes the root (unit: the text SQL alone)."""
    con = duckdb.connect()
    con.execute("CREATE TABLE ca (system VARCHAR, case_id VARCHAR, name VARCHAR, value VARCHAR, run_id BIGINT, case_key BIGINT)")
    con.execute("INSERT INTO ca SELECT 'default', 'c' || (i // 3), 'n' || (i % 3), 'v' || i, 1, i // 3 + 1 FROM range(30) r(i)")
    cols = audit.table_columns(con, "ca")

    def root(where="TRUE"):
        return audit.bucket_root(con, audit.case_texts_sql("ca", cols, where, list(audit.CASE_COLUMNS),
                                                           audit.text_columns(con, "ca")), bucket_rows=4)

    before = root()
    for i in range(0, 30, 7):
        con.execute(f"CREATE OR REPLACE TEMP TABLE keep AS SELECT * FROM ca")
        con.execute(f"UPDATE ca SET {column} = {value} WHERE value = 'v{i}'")
        assert root() != before, (column, value, i)
        con.execute("DELETE FROM ca; INSERT INTO ca SELECT * FROM keep")
        assert root() == before


def test_format3_root_does_not_depend_on_storage_order_or_connection_settings(attrs_db, tmp_path):
    """``list_sort`` follows default_collation and default_order: the commitment pins both, so the
    same rows, stored in another order and read under other settings, give the committed root."""
    _fmt, ca = _commitment(attrs_db, "case_attributes")
    shuffled = tmp_path / "shuffled.duckdb"
    with duckdb.connect(str(shuffled)) as con:
        con.execute(f"ATTACH '{attrs_db}' AS s (READ_ONLY)")
        con.execute("CREATE TABLE case_attributes AS SELECT * FROM s.case_attributes ORDER BY name DESC, value DESC, case_key DESC")
        for setting in ["SET default_collation = 'nocase'", "SET default_collation = 'noaccent'",
                        "SET default_collation = 'nocase.noaccent'", "SET default_order = 'desc'",
                        "SET default_null_order = 'nulls_first'"]:
            con.execute(setting)
            sql = audit.case_texts_sql("case_attributes", ca["columns"], "run_id = 1", ca["group"],
                                       audit.text_columns(con, "case_attributes"))
            assert audit.bucket_root(con, sql) == (ca["root"], ca["cases"]), setting
    with store.connect(attrs_db, read_only=True) as con:
        con.execute("SET default_collation = 'nocase.noaccent'")
        result = audit.verify_store(con)
        assert result["ok"], result
        in_force = con.execute("SELECT count(*) FROM case_attributes WHERE name = 'region'").fetchall()
        assert in_force == [(3,)]  # (the setting is in force: 'region' and 'Region' compare equal)


def test_duplicates_on_integer_keys_match_the_string_keys():
    """With keys and identities one to one, grouping on case_key is the same partition as on the
    identity strings, in binary collation (``A`` and ``a`` are two cases whatever the setting)."""
    con = duckdb.connect()
    con.execute("CREATE TABLE cases AS SELECT 'default' AS system, x AS case_id, i AS case_key "
                "FROM (VALUES ('a', 1), ('A', 2), ('b', 3)) v(x, i)")
    con.execute("CREATE TABLE reviews AS SELECT 'default' AS system, x AS case_id, r AS reviewer_id, k AS case_key "
                "FROM (VALUES ('a', 'r1', 1), ('a', 'r1', 1), ('A', 'r1', 2), ('z', 'r1', NULL), ('z', 'r1', NULL), "
                "('y', 'r1', NULL)) v(x, r, k)")
    con.execute("CREATE TABLE attribute_columns (name VARCHAR PRIMARY KEY, col VARCHAR NOT NULL UNIQUE)")
    con.execute("INSERT INTO attribute_columns VALUES ('g', 'a1'), ('G', 'a2')")
    # per case: a, g and G once each; b, g three times, G twice, h (no catalogue column) twice; q has no key
    con.execute("CREATE TABLE case_attributes AS SELECT 'default' AS system, x AS case_id, n AS name, 'v' AS value, "
                "k AS case_key FROM (VALUES ('a', 'g', 1), ('a', 'G', 1), ('b', 'g', 3), ('b', 'g', 3), ('b', 'g', 3), "
                "('b', 'G', 3), ('b', 'G', 3), ('b', 'h', 3), ('b', 'h', 3), ('q', 'g', NULL), ('q', 'g', NULL)) v(x, n, k)")
    want = ["duplicate row in reviews (2 copies): default/a/r1", "duplicate row in reviews (2 copies): default/z/r1",
            "duplicate row in case_attributes (2 copies): default/b/G",
            "duplicate row in case_attributes (3 copies): default/b/g",
            "duplicate row in case_attributes (2 copies): default/b/h",
            "duplicate row in case_attributes (2 copies): default/q/g"]
    assert audit._duplicates(con, 10) == want
    assert audit._duplicates(con, 10, keyed=True) == want
    con.execute("SET default_collation = 'nocase'")
    assert audit._duplicates(con, 10) == want and audit._duplicates(con, 10, keyed=True) == want
    con.execute("INSERT INTO cases VALUES ('default', 'b', 4)")  # an identity held twice: cases say so
    assert "duplicate row in cases (2 copies): default/b" in audit._duplicates(con, 10, keyed=True)


def test_a_duplicated_case_row_is_named_by_table_and_case(attrs_db):
    tamper(attrs_db, "INSERT INTO cases SELECT * FROM cases WHERE case_id = 'b'")
    problems = check(attrs_db)["problems"]
    assert "duplicate row in cases (2 copies): default/b" in problems, problems


# -- stores written in format 2 still verify --------------------------------------------------------

FORMAT2 = Path(__file__).parent / "fixtures" / "store_format2"


@pytest.fixture
def v2_store(tmp_path, monkeypatch):
    """The store in fixtures/store_format2 (written by the code before format 3), rebuilt from its export."""
    return _rebuilt_store(FORMAT2, tmp_path / "v2.duckdb", monkeypatch)


def test_a_format2_store_still_verifies(v2_store):
    assert _formats(v2_store) == [audit.LEAF_FORMAT_V2, audit.LEAF_FORMAT_V2]
    result = check(v2_store)
    assert result["ok"], result
    assert result["chain"]["events"] == 2 and result["checkpoint"]["tree_size"] == 2


@pytest.mark.parametrize("sql, problems", [
    ("UPDATE case_attributes SET value = 'east' WHERE case_id = 'a' AND name = 'region'",
     ["case_attributes: row default/a of ingestion run 1 changed after it was stored"]),
    ("DELETE FROM case_attributes WHERE case_id = 'b'",
     ["case_attributes: ingestion run 1 stored 3 rows, 2 are left",
      "case_attributes: row default/b of ingestion run 1 deleted after it was stored"]),
    ("UPDATE reviews SET human_decision = 'approve' WHERE case_id = 'a' AND reviewer_id = 'r2'",
     ["reviews: row default/a/r2 of ingestion run 1 changed after it was stored"]),
    ("UPDATE case_attributes_wide SET a1 = 'west' WHERE case_key = 1",
     ["case_attributes_wide: case key 1 attribute 'region' differs from case_attributes (the committed record)"]),
])
def test_a_format2_store_still_names_a_changed_row(v2_store, sql, problems):
    tamper(v2_store, sql)
    assert check(v2_store)["problems"] == problems


def test_new_runs_on_a_format2_store_use_format3_and_both_verify(v2_store, tmp_path):
    from hitlgov.ingest.pipeline import ingest_path

    (tmp_path / "later.csv").write_text("case_id,ts,model_decision,region\ne,2026-01-05,approve,west\n")
    with store.connect(v2_store) as con:
        ingest_path(con, tmp_path / "later.csv")
    assert _formats(v2_store) == [audit.LEAF_FORMAT_V2, audit.LEAF_FORMAT_V2, audit.LEAF_FORMAT]
    assert check(v2_store)["ok"]
    tamper(v2_store, "UPDATE case_attributes SET value = 'x' WHERE case_id IN ('a', 'e')")
    assert check(v2_store)["problems"] == ["case_attributes: row default/a of ingestion run 1 changed after it was stored",
                                           "case_attributes: row default/e of ingestion run 3 changed after it was stored"]


def test_an_unknown_commitment_format_is_reported_not_guessed(db):
    import json

    with duckdb.connect(str(db)) as con:  # (the chain breaks too; the format is named on its own)
        d = json.loads(con.execute("SELECT CAST(detail AS VARCHAR) FROM audit_events WHERE seq = 2").fetchall()[0][0])
        d["leaf_format"] = "rfc6962-sha256/something-9"
        con.execute("UPDATE audit_events SET detail = ? WHERE seq = 2", [json.dumps(d)])
    problems = check(db)["problems"]
    assert "cases: ingestion run 2 was committed in format 'rfc6962-sha256/something-9', which this hitlgov " \
           "cannot check (event 2)" in problems, problems


@pytest.mark.parametrize("bits", [0, 1, 3, 62])
def test_format3_blocks_of_case_keys_give_the_texts_of_one_statement(bits):
    """Cutting the texts into blocks of case keys (negative, NULL and huge keys included) is only
    how DuckDB is asked: the texts, their order and so the root are those of one statement."""
    con = duckdb.connect()
    con.execute("CREATE TABLE ca (system VARCHAR, case_id VARCHAR, name VARCHAR, value VARCHAR, run_id BIGINT, case_key BIGINT)")
    con.execute("INSERT INTO ca SELECT 'default', 'c' || (i // 3), 'n' || (i % 3), 'v' || i, 1, "
                "CASE WHEN i // 3 = 5 THEN NULL WHEN i // 3 = 6 THEN -7 WHEN i // 3 = 7 THEN 9223372036854775807 "
                "ELSE (i // 3) * 5 END FROM range(60) r(i) ORDER BY random()")
    cols = audit.table_columns(con, "ca")
    group = list(audit.CASE_COLUMNS)
    one = audit.case_texts_sql("ca", cols, "run_id = 1", group, audit.text_columns(con, "ca"))
    blocks = audit.case_texts_sqls(con, "ca", cols, "run_id = 1", group, block_bits=bits)
    assert len(blocks) > 1 or bits == 62
    texts = [t for sql in blocks for (t,) in con.execute(sql).fetchall()]
    assert texts == [t for (t,) in con.execute(one).fetchall()] and len(texts) == 20
    assert audit.bucket_root(con, blocks, bucket_rows=3) == audit.bucket_root(con, one, bucket_rows=3)
