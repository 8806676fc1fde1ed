"""The dashboard's data layer and the store's result cache (issue 16, dashboard at 10M).

What must hold: a figure is keyed by the *data* version, so caching a result (which writes the
store file) keeps every cached figure, while an ingestion computes new numbers; figures
computed once are read back from the store by a new server (or after the warm-up); what JSON
cannot represent exactly, and what reads the audit trail, is never stored there; a damaged entry
is a miss, never a wrong number or an error.
"""
from __future__ import annotations

import json
import math
import os

import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from dashboard_helpers import APP_FILE
from hitlgov import result_cache, store
from hitlgov.dashboard import data, warmup
from hitlgov.metrics import inventory, oversight
from hitlgov.metrics.source import Filter
from hitlgov.ingest.pipeline import ingest_path
from hitlgov.mapping import Mapping
from conftest import CACHE_LOG as LOG, CACHE_MORE as MORE, ingest_text as ingest



def forbid(monkeypatch, module, name):
    """Make ``module.name`` raise when called, under its own name (the cache key stays the same)."""
    def boom(*a, **k):
        raise AssertionError(f"{name} recomputed although the store holds the figure")

    boom.__module__, boom.__name__ = module.__name__, name
    monkeypatch.setattr(module, name, boom)


def dashboard_entries(db) -> dict[str, str]:
    with store.connect(db, read_only=True) as con:
        if not result_cache.has_table(con):
            return {}
        return dict(con.execute("SELECT kind, value FROM result_cache WHERE kind LIKE 'dashboard:%'").fetchall())


@pytest.fixture
def db(tmp_path):
    st.cache_data.clear()
    data._versions.clear()
    path = tmp_path / "s.duckdb"
    ingest(path, tmp_path, "a.csv", LOG)
    yield path
    st.cache_data.clear()
    data._versions.clear()


def test_caching_a_result_keeps_the_version_token_and_an_ingestion_changes_it(db, tmp_path):
    before_files, before = data.store_token(str(db)), data.version_token(str(db))
    assert data.try_call(inventory.counts, Filter(), db=str(db))["cases"] == 4
    assert "dashboard:hitlgov.metrics.inventory.counts" in dashboard_entries(db)  # the write happened...
    assert data.store_token(str(db)) != before_files  # ...and changed the file
    assert data.version_token(str(db)) == before  # but not the data version: the server's cache stays
    ingest(db, tmp_path, "b.csv", MORE)
    assert data.version_token(str(db)) != before


def test_ingest_view_ingest_again_new_numbers(db, tmp_path):
    """The end-to-end promise: numbers cached in the server and in the store are never stale."""
    s = data.try_call(oversight.oversight_summary, Filter(), db=str(db))
    assert (s["cases"], s["reviewed_cases"]) == (4, 3)
    assert data.try_call(oversight.oversight_summary, Filter(), db=str(db)) == s  # served again
    ingest(db, tmp_path, "b.csv", MORE)
    s2 = data.try_call(oversight.oversight_summary, Filter(), db=str(db))
    assert (s2["cases"], s2["reviewed_cases"]) == (6, 4)
    assert s2["override_rate"] == pytest.approx(3 / 4)  # c2, c4, c6 overridden of c2, c3, c4, c6
    st.cache_data.clear()  # a new server on the new data: the store's entry is the new one
    assert data.try_call(oversight.oversight_summary, Filter(), db=str(db)) == s2


def test_a_new_server_reads_figures_from_the_store(db, monkeypatch):
    first = data.try_call(oversight.oversight_summary, Filter(), db=str(db))
    st.cache_data.clear()  # a restarted server: nothing in memory
    data._versions.clear()
    forbid(monkeypatch, oversight, "oversight_summary")
    assert data.try_call(oversight.oversight_summary, Filter(), db=str(db)) == first


def test_a_damaged_store_entry_is_recomputed_not_shown(db):
    good = data.try_call(oversight.oversight_summary, Filter(), db=str(db))
    for value in ("not json", json.dumps({"served": "from a stranger"}), json.dumps([1, 2])):
        with store.connect(db) as con:
            con.execute("UPDATE result_cache SET value = ? WHERE kind = ?",
                        [value, "dashboard:hitlgov.metrics.oversight.oversight_summary"])
        st.cache_data.clear()
        assert data.try_call(oversight.oversight_summary, Filter(), db=str(db)) == good


def test_audit_trail_figures_stay_out_of_the_store(db):
    from hitlgov.metrics import audit_trail

    data.try_call(audit_trail.chain_status, db=str(db))
    assert not data.persisted("hitlgov.metrics.audit_trail.chain_status")
    assert data.persisted("hitlgov.metrics.oversight.oversight_summary")
    assert not any("audit_trail" in k for k in dashboard_entries(db))


def test_no_cache_switch_leaves_the_store_alone(db, monkeypatch):
    monkeypatch.setenv(result_cache.ENV_DISABLE, "1")
    data.try_call(inventory.counts, Filter(), db=str(db))
    assert dashboard_entries(db) == {}


@pytest.mark.parametrize("value", [(1, 2), {1: "a"}, pd.DataFrame({"a": [1]}), {"x": {"y": (0,)}}, {"d": object()}])
def test_values_json_changes_are_not_stored(value):
    assert data.encode(value) is None


def test_values_json_keeps_are_stored_exactly():
    value = {"a": [1, 2.5, None, True, "t<b>"], "nan": math.nan, "inf": -math.inf, "n": {"k": 0.1 + 0.2}}
    back = json.loads(data.encode(value))["v"]
    assert back["n"]["k"] == 0.1 + 0.2 and math.isnan(back["nan"]) and back["inf"] == -math.inf
    assert back["a"] == value["a"] and type(back["a"][0]) is int


def test_policy_file_content_is_part_of_the_key(tmp_path):
    policy = tmp_path / "p.yaml"
    policy.write_text("rules: []\n")
    first = data.inputs_digest({"policy_path": str(policy)})
    policy.write_text("rules: [] # edited\n")
    assert data.inputs_digest({"policy_path": str(policy)}) != first
    assert data.inputs_digest({}) == ""
    assert data.inputs_digest({"policy_path": str(tmp_path / "missing.yaml")}) == "unreadable"
    fifo = tmp_path / "policy.fifo"
    os.mkfifo(fifo)
    assert data.inputs_digest({"policy_path": str(fifo)}) == "not a file"  # returns: never blocks on it


def test_version_token_survives_a_writer_holding_the_store(db):
    token = data.version_token(str(db))
    with store.connect(db):  # an ingestion holds the write lock (another process in real life)
        (db.parent / (db.name + ".wal")).write_bytes(b"")  # the files changed meanwhile
        assert data.version_token(str(db)) == token  # the last committed data's token, no error


def test_warm_up_fills_the_store_and_the_first_visit_reads_it(db, monkeypatch):
    """Every page rendered once by the warm-up; a new server's first Oversight visit then
    computes nothing (the metric functions raise if called) and shows the same tiles."""
    monkeypatch.setenv("HITLGOV_DB", str(db))  # what run() sets is restored after the test
    monkeypatch.setenv("HITLGOV_AUTH", "none")
    monkeypatch.setattr(data, "SAVE_WAIT_SECONDS", data.SAVE_WAIT_SECONDS)
    out = warmup.run(db, pages=("oversight",), extra_choices=0)
    assert isinstance(out["oversight"], float), out
    kinds = dashboard_entries(db)
    assert "dashboard:hitlgov.metrics.oversight.oversight_summary" in kinds
    at = AppTest.from_file(str(APP_FILE), default_timeout=60)
    at.run()
    at.switch_page("views/oversight.py").run()
    expected = {m.label: m.value for m in at.metric}
    st.cache_data.clear()
    data._versions.clear()
    for name in ("oversight_summary", "high_risk_coverage", "trend", "by_model_version", "automation_bias"):
        forbid(monkeypatch, oversight, name)
    at = AppTest.from_file(str(APP_FILE), default_timeout=60)
    at.run()
    at.switch_page("views/oversight.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert not [e.value for e in at.error if "Unexpected error" in e.value]
    assert {m.label: m.value for m in at.metric} == expected and expected


def test_serve_starts_the_warm_up_on_a_store_only(tmp_path, monkeypatch, db):
    from hitlgov.dashboard import launch

    class Exec(Exception):
        """Stands for the process becoming Streamlit (os.execve does not return)."""

    def execve(*a):
        raise Exec

    started = []
    monkeypatch.delenv(warmup.ENV_DISABLE, raising=False)
    monkeypatch.setattr(launch, "start_warm_up", lambda path, env: started.append(path))
    monkeypatch.setattr(launch.os, "execve", execve)
    for kwargs in ({}, {"warm_up": False}, {"engine": "duckdb://"}):  # an engine has no store cache to fill
        with pytest.raises(Exec):
            launch.serve(db=db, no_auth=True, **kwargs)
    monkeypatch.setenv(warmup.ENV_DISABLE, "1")
    with pytest.raises(Exec):
        launch.serve(db=db, no_auth=True)
    assert started == [db.resolve()]


def test_warm_up_stops_when_the_server_is_gone(db, monkeypatch):
    import subprocess
    import sys

    monkeypatch.delenv(warmup.ENV_DISABLE, raising=False)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    run = subprocess.run([sys.executable, "-m", "hitlgov.dashboard.warmup", "--db", str(db), "--parent", str(gone.pid)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and "warm-up" not in run.stderr  # no page rendered
    assert dashboard_entries(db) == {}


# two model versions and a segment attribute: the sidebar offers v1, v2 and region=north/south
VERSIONED = """case_id,ts,model_version,region,model_decision,model_score,reviewer_id,human_decision,review_seconds,outcome
c1,2026-01-05T09:00:00,v1,north,approve,0.9,,,,approve
c2,2026-01-10T09:00:00,v1,south,decline,0.3,r1,approve,120,approve
c3,2026-02-20T09:00:00,v2,north,decline,0.4,r1,decline,60,decline
c4,2026-03-03T09:00:00,v2,south,approve,0.6,r2,decline,30,approve
"""


def test_warm_up_goes_through_the_sidebar_choices(tmp_path, monkeypatch):
    """After the default views the warm-up renders the pages for each choice the sidebar offers
    (each model version, each segment; no whole-log choice: this log covers no full quarter, so
    its default period is already the whole log); a visitor then choosing model version v2
    computes nothing and sees v2's own override rate (c3 kept, c4 overridden: 1 of 2)."""
    st.cache_data.clear()
    data._versions.clear()
    path = tmp_path / "v.duckdb"
    (tmp_path / "v.csv").write_text(VERSIONED)
    with store.connect(path) as con:
        ingest_path(con, tmp_path / "v.csv", mapping=Mapping(system="credit", sensitive=["region"]))
    offered = warmup.choices(path)
    system = "credit"
    assert offered == [{"system": system, "version": "v1"}, {"system": system, "version": "v2"},
                       {"system": system, "segment": "region=north"}, {"system": system, "segment": "region=south"}]
    assert warmup.choices(path, limit=1) == offered[:1] and warmup.choices(path, limit=0) == []
    monkeypatch.setenv("HITLGOV_DB", str(path))
    monkeypatch.setenv("HITLGOV_AUTH", "none")
    monkeypatch.setattr(data, "SAVE_WAIT_SECONDS", data.SAVE_WAIT_SECONDS)
    out = warmup.run(path, pages=("oversight",), extra_choices=2)
    assert list(out) == ["oversight", f"oversight?system={system}&version=v1", f"oversight?system={system}&version=v2"]
    assert all(isinstance(v, float) for v in out.values()), out
    st.cache_data.clear()
    data._versions.clear()
    for name in ("oversight_summary", "high_risk_coverage", "trend", "by_model_version", "automation_bias"):
        forbid(monkeypatch, oversight, name)
    at = AppTest.from_file(str(APP_FILE), default_timeout=60)
    at.query_params.update({"system": system, "version": "v2"})
    at.run()
    at.switch_page("views/oversight.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert not [e.value for e in at.error if "Unexpected error" in e.value]
    tiles = {m.label: m.value for m in at.metric}
    assert tiles.get("Override rate") == "50.0%", tiles


def test_warm_up_choices_setting(monkeypatch):
    monkeypatch.delenv(warmup.ENV_CHOICES, raising=False)
    assert warmup.max_choices() == warmup.MAX_CHOICES
    for text, want in (("0", 0), ("3", 3), ("-2", 0), ("lots", warmup.MAX_CHOICES), ("", warmup.MAX_CHOICES)):
        monkeypatch.setenv(warmup.ENV_CHOICES, text)
        assert warmup.max_choices() == want, text
