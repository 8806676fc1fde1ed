"""Shared fixtures: build small stores from literal logs."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

# The dashboard refuses to run without a sign-in decision (hitlgov serve sets one). The suite's
# AppTests run in the explicit single-user mode unless a test sets another (tests/dashboard/test_access.py).
os.environ.setdefault("HITLGOV_AUTH", "none")
# `hitlgov serve` warms every page in a background process (hitlgov.dashboard.warmup); in the
# suite it would compete for the 2 cores and write to stores under test. Its own tests turn it on.
os.environ.setdefault("HITLGOV_NO_WARMUP", "1")

from hitlgov import store
from hitlgov.ingest.pipeline import ingest_path
from hitlgov.mapping import Mapping


def build_store(tmp_path: Path, text: str, *, name: str = "log.csv", mapping: Mapping | None = None) -> Path:
    """Write ``text`` as a log file, ingest it into a fresh store, return the store's path."""
    log = tmp_path / name
    log.write_text(text)
    db = tmp_path / "store.duckdb"
    with store.connect(db) as con:
        ingest_path(con, log, mapping=mapping)
    return db


def copy_into_version(fresh: Path, old: Path, version: int) -> None:
    """A store at schema ``version`` holding the rows ``fresh`` holds, in the columns that version
    has: what an older release left after ingesting the same files (for upgrade tests)."""
    import duckdb

    con = duckdb.connect(str(old))
    store.migrate(con, to=version)
    assert store.current_version(con) == version
    con.execute(f"ATTACH '{fresh}' AS f (READ_ONLY)")
    tables = [t for (t,) in con.execute("SELECT table_name FROM information_schema.tables WHERE table_catalog = "
                                        "current_database() AND table_schema = 'main' AND table_name <> 'schema_version'"
                                        ).fetchall()]
    for table in tables:
        cols = [r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()]
        have = {r[0] for r in con.execute(f"DESCRIBE f.{table}").fetchall()}
        shared = ", ".join(c for c in cols if c in have)
        con.execute(f"INSERT INTO {table} ({shared}) SELECT {shared} FROM f.{table}")
    con.execute("DETACH f")
    con.close()


@pytest.fixture
def make_store(tmp_path):
    def make(text: str, **kwargs) -> Path:
        return build_store(tmp_path, text, **kwargs)
    return make
