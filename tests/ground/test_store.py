"""Store versions: every older store upgrades forward with its rows intact; a newer one is refused."""
from __future__ import annotations

import duckdb
import pytest

from hitlgov import store
from hitlgov.errors import HitlgovError
from hitlgov.ingest.pipeline import ingest_path

LOG = """case_id,ts,model_decision,model_score,reviewer_id,human_decision,review_seconds
c1,2026-01-05T09:00:00,approve,0.9,,,
c2,2026-01-10T09:00:00,decline,0.3,r1,approve,120
c3,2026-01-20T09:00:00,decline,0.4,r1,decline,60
"""


def _store_at(path, version: int) -> duckdb.DuckDBPyConnection:
    """A store as a release with only the first ``version`` migrations would have left it."""
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE schema_version (version INTEGER NOT NULL, applied_at TIMESTAMP NOT NULL)")
    store.migrate(con, to=version)  # an entry may be SQL or a function of the connection (migration 9)
    return con


@pytest.mark.parametrize("version", range(1, store.SCHEMA_VERSION + 1))
def test_an_older_store_upgrades_and_keeps_its_data(tmp_path, version):
    fresh = tmp_path / "fresh.duckdb"
    log = tmp_path / "log.csv"
    log.write_text(LOG)
    with store.connect(fresh) as con:
        ingest_path(con, log)
    old = tmp_path / "old.duckdb"
    con = _store_at(old, version)
    # the rows a version-1 store would hold: copy the canonical tables' common columns
    con.execute(f"ATTACH '{fresh}' AS f (READ_ONLY)")
    for table in ("ingestion_runs", "cases", "reviews", "audit_events"):
        cols = [r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()]
        shared = [c for c in cols if c in {r[0] for r in con.execute(f"DESCRIBE f.{table}").fetchall()}]
        con.execute(f"INSERT INTO {table} ({', '.join(shared)}) SELECT {', '.join(shared)} FROM f.{table}")
    con.execute("DETACH f")
    con.close()
    with store.connect(old) as con:  # a read-write open migrates
        assert store.current_version(con) == store.SCHEMA_VERSION
        assert con.execute("SELECT count(*) FROM cases").fetchall()[0][0] == 3
        assert con.execute("SELECT count(*) FROM reviews").fetchall()[0][0] == 2
        applied = [v for (v,) in con.execute("SELECT version FROM schema_version ORDER BY version").fetchall()]
    assert applied == list(range(1, store.SCHEMA_VERSION + 1))
    with store.connect(old, read_only=True) as con:  # and opens read-only afterwards
        assert con.execute("SELECT sum(review_seconds) FROM reviews").fetchall()[0][0] == 180


def test_a_store_from_a_newer_hitlgov_is_refused_in_one_line(tmp_path):
    db = tmp_path / "new.duckdb"
    with store.connect(db):
        pass
    con = duckdb.connect(str(db))
    con.execute("INSERT INTO schema_version VALUES (?, now()::TIMESTAMP)", [store.SCHEMA_VERSION + 1])
    con.close()
    with pytest.raises(HitlgovError, match="newer than this hitlgov"):
        with store.connect(db):
            pass
    with pytest.raises(HitlgovError, match="hitlgov migrate"):
        with store.connect(db, read_only=True):
            pass


def test_an_old_store_opened_read_only_says_to_migrate(tmp_path):
    db = tmp_path / "old.duckdb"
    _store_at(db, 0).close()
    with pytest.raises(HitlgovError, match="not a hitlgov store|hitlgov migrate"):
        with store.connect(db, read_only=True):
            pass


def test_transaction_rolls_back_on_error(tmp_path):
    with store.connect(tmp_path / "t.duckdb") as con:
        with pytest.raises(RuntimeError):
            with store.transaction(con):
                con.execute("INSERT INTO systems (system) VALUES ('s')")
                raise RuntimeError("boom")
        assert con.execute("SELECT count(*) FROM systems").fetchall()[0][0] == 0
        with store.transaction(con):
            con.execute("INSERT INTO systems (system) VALUES ('s')")
        assert con.execute("SELECT count(*) FROM systems").fetchall()[0][0] == 1
