"""Shared fixtures: build small stores from literal logs."""
from __future__ import annotations

import os
import sys
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


#: a hand-computed log for the result-cache tests (store and dashboard): 4 cases, 3 reviewed, 2 overridden
# the ROI log whose every money figure tests/metrics/test_roi_money.py computes by hand (January:
# a false positive and a false negative caught, one introduced; February: outcomes not yet known)
ROI_LOG = """case_id,ts,model_decision,reviewer_id,human_decision,review_seconds,outcome
c1,2026-01-10T09:00:00,approve,r1,decline,3600,decline
c2,2026-01-10T10:00:00,decline,r1,approve,3600,approve
c3,2026-01-10T11:00:00,approve,r2,decline,3600,approve
c4,2026-01-10T12:00:00,decline,,,,approve
d1,2026-02-10T09:00:00,approve,r1,decline,3600,
d2,2026-02-11T09:00:00,approve,,,,
"""
CACHE_LOG = """case_id,ts,model_decision,model_score,reviewer_id,human_decision,review_seconds,outcome
c1,2026-01-05T09:00:00,approve,0.9,,,,approve
c2,2026-01-10T09:00:00,decline,0.3,r1,approve,120,approve
c3,2026-02-20T09:00:00,decline,0.4,r1,decline,60,decline
c4,2026-03-03T09:00:00,approve,0.6,r2,decline,30,approve
"""
# two more cases, one overridden: 6 cases, 3 of 4 reviewed cases overridden (c2, c4, c6)
CACHE_MORE = """case_id,ts,model_decision,model_score,reviewer_id,human_decision,review_seconds,outcome
c5,2026-03-10T09:00:00,approve,0.8,,,,approve
c6,2026-03-12T09:00:00,approve,0.7,r2,decline,20,decline
"""


def ingest_text(db, tmp_path: Path, name: str, text: str) -> None:
    """Write ``text`` to ``tmp_path/name`` and ingest it into ``db``."""
    path = tmp_path / name
    path.write_text(text)
    with store.connect(db) as con:
        ingest_path(con, path)


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


def _scan_component_manifests_once() -> None:
    """Streamlit's AppTest scans every installed distribution's metadata for v2 components on
    each new ``AppTest`` (``BidiComponentManager.discover_and_register_components``): ~1 s per
    AppTest with this environment's 167 packages, a third of a cached page render, and it grows
    with every test dependency added. A server does it once at start-up; the installed packages
    cannot change during a test run, so the suite does it once per process too. Each AppTest
    still registers what the (one) scan found in its own component manager."""
    import functools

    if "streamlit.testing.v1" not in sys.modules:  # no AppTest in this process yet: nothing to patch
        return
    try:
        from streamlit.components.v2 import manifest_scanner as scanner
    except ImportError:  # a Streamlit without v2 components scans nothing
        return
    if getattr(scanner.scan_component_manifests, "_once_per_process", False):
        return
    original = scanner.scan_component_manifests
    found: list = []

    @functools.wraps(original)
    def once(max_workers=None):
        if not found:
            found.append(original(max_workers))
        return list(found[0])

    once._once_per_process = True
    scanner.scan_component_manifests = once


def pytest_runtest_setup(item) -> None:
    # AppTest modules import streamlit.testing at collection, or inside a test: patch before the
    # first test that follows (a dict lookup per test otherwise; streamlit is never imported here).
    _scan_component_manifests_once()


@pytest.fixture
def make_store(tmp_path):
    def make(text: str, **kwargs) -> Path:
        return build_store(tmp_path, text, **kwargs)
    return make


def _automation_bias_log() -> str:
    """The automation-bias finding by hand (metrics and report tests): r1 misses all 15 canaries,
    r5 all 11; r2 keeps all 40 wrong model decisions, r4 all 34; r3 keeps 36 of 40 and catches 5 of
    15 canaries (canary rows carry no outcome). Too few reviews for the peer comparison."""
    rows, i = [], 0

    def add(rid, n, *, kept, canary=False):
        nonlocal i
        for j in range(n):
            human = "approve" if j < kept else "decline"  # the model says approve
            outcome = "" if canary else "decline"  # the model is wrong on every non-canary row
            rows.append(f"k{i},2026-01-01,approve,{rid},{human},{outcome},{'true' if canary else ''}")
            i += 1

    add("r1", 15, kept=15, canary=True)
    add("r5", 11, kept=11, canary=True)
    add("r2", 40, kept=40)
    add("r4", 34, kept=34)
    add("r3", 40, kept=36)
    add("r3", 15, kept=10, canary=True)
    return "case_id,ts,model_decision,reviewer_id,human_decision,outcome,canary\n" + "\n".join(rows) + "\n"


AUTOMATION_BIAS_LOG = _automation_bias_log()
