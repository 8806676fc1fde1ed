"""The store's result cache (hitlgov.result_cache): reused on unchanged data, never stale after a change."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from hitlgov import result_cache, store
from hitlgov.metrics.policy import Policy, load_policy
from hitlgov.metrics.source import Filter, Source
from hitlgov.metrics.summary import compute_metrics
from conftest import CACHE_LOG as LOG, CACHE_MORE as MORE, ingest_text as ingest



def metrics(db, **kwargs):
    with Source.open(db) as src:
        return compute_metrics(src, Filter(), include_drift=False, n_boot=0, **kwargs)


def entries(db):
    with store.connect(db, read_only=True) as con:
        if not result_cache.has_table(con):
            return []
        return con.execute("SELECT key, kind, value FROM result_cache ORDER BY created_at").fetchall()


def poison(db, key):
    """Replace the cached document by a marker, to see whether a later call is served from it."""
    with store.connect(db) as con:
        con.execute("UPDATE result_cache SET value = ? WHERE key = ?", [json.dumps({"served": "from cache"}), key])


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "s.duckdb"
    ingest(path, tmp_path, "a.csv", LOG)
    return path


def test_second_call_on_unchanged_data_is_served_from_the_cache(db):
    first = metrics(db, cache=True)
    assert first["counts"]["cases"] == 4 and first["counts"]["reviews"] == 3
    assert first["oversight"]["override_rate"] == pytest.approx(2 / 3, abs=1e-12)  # c2 and c4 of c2, c3, c4
    [(key, kind, value)] = entries(db)
    assert kind == "metrics" and json.loads(value) == first
    poison(db, key)
    assert metrics(db, cache=True) == {"served": "from cache"}


def test_ingesting_again_gives_new_numbers_not_the_cached_ones(db, tmp_path):
    before = metrics(db, cache=True)
    poison(db, entries(db)[0][0])
    ingest(db, tmp_path, "b.csv", MORE)
    after = metrics(db, cache=True)
    assert after["counts"]["cases"] == 6 and after["counts"]["reviews"] == 4
    assert after["oversight"]["override_rate"] == pytest.approx(3 / 4, abs=1e-12)
    assert after == metrics(db, cache=False) and after != before
    # the entry of the old data version can never be served again: it was dropped
    assert [json.loads(v)["counts"]["cases"] for _k, _kind, v in entries(db)] == [6]


def test_cached_and_computed_documents_are_identical(db):
    computed = metrics(db, cache=True)
    cached = metrics(db, cache=True)
    assert json.dumps(cached, sort_keys=True) == json.dumps(computed, sort_keys=True)
    assert json.dumps(metrics(db), sort_keys=True) == json.dumps(computed, sort_keys=True)


def test_filter_policy_and_options_each_get_their_own_entry(db, tmp_path):
    metrics(db, cache=True)
    with Source.open(db) as src:
        jan = compute_metrics(src, Filter(end=__import__("datetime").date(2026, 1, 31)), include_drift=False,
                              n_boot=0, cache=True)
    assert jan["counts"]["cases"] == 2
    strict = Policy(name="strict", rules=[{"metric": "oversight.override_rate", "fail_above": 0.1}])
    assert [f["status"] for f in metrics(db, cache=True, policy=strict)["findings"]] == ["fail"]
    with Source.open(db) as src:
        compute_metrics(src, Filter(), include_drift=False, n_boot=10, cache=True)
    assert len(entries(db)) == 4 and len({k for k, *_ in entries(db)}) == 4


def test_cache_is_off_by_default_so_verification_recomputes(db):
    metrics(db, cache=True)
    poison(db, entries(db)[0][0])
    assert metrics(db)["counts"]["cases"] == 4


def test_changed_configuration_is_a_new_data_version(db):
    with store.connect(db, read_only=True) as con:
        before = result_cache.data_version(con)
    with store.connect(db) as con:
        con.execute("UPDATE systems SET positive_label = 'approve'")
    with store.connect(db, read_only=True) as con:
        assert result_cache.data_version(con) != before


def test_policy_and_report_events_do_not_change_the_data_version(db):
    with store.connect(db, read_only=True) as con:
        before = result_cache.data_version(con)
    from hitlgov import audit

    audit.record_policy_use(db, sha256=load_policy().sha256, source="shipped", name="default")
    with store.connect(db, read_only=True) as con:
        assert result_cache.data_version(con) == before


def test_a_damaged_entry_is_a_miss_not_an_error(db):
    metrics(db, cache=True)
    with store.connect(db) as con:
        con.execute("UPDATE result_cache SET value = '{not json'")
    assert metrics(db, cache=True)["counts"]["cases"] == 4


def test_a_locked_store_is_computed_but_not_cached_and_nothing_waits(db):
    with store.connect(db, read_only=True) as con:
        version = result_cache.data_version(con)
    assert result_cache.save(db, [("k0", "metrics", version, {"x": 0})]) is True  # unlocked: written
    holder = subprocess.Popen([sys.executable, "-c", (
        "import duckdb, sys, time; con = duckdb.connect(sys.argv[1]); print('locked', flush=True); time.sleep(60)"),
        str(db)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert result_cache.save(db, [("k1", "metrics", version, {"x": 1})]) is False
    finally:
        holder.kill()
        holder.wait()
    assert [k for k, *_ in entries(db)] == ["k0"]


def test_no_cache_environment_variable_disables_reads_and_writes(db, monkeypatch):
    monkeypatch.setenv(result_cache.ENV_DISABLE, "1")
    metrics(db, cache=True)
    assert entries(db) == []


def test_cli_metrics_twice_prints_the_same_document_and_no_cache_agrees(db):
    from typer.testing import CliRunner

    from hitlgov.cli import app

    runs = [CliRunner().invoke(app, ["metrics", "--json", "--no-drift", "--db", str(db), *extra])
            for extra in ([], [], ["--no-cache"])]
    assert [r.exit_code for r in runs] == [0, 0, 0], [r.output for r in runs]
    assert runs[0].stdout == runs[1].stdout == runs[2].stdout
    assert json.loads(runs[0].stdout)["counts"]["cases"] == 4
    # one metrics entry (the second run was served from it, --no-cache wrote none) and the integrity check's
    [(key, _kind, _value)] = [e for e in entries(db) if e[1] == "metrics"]
    assert sorted(kind for _key, kind, _value in entries(db)) == ["integrity", "metrics"]
    poison(db, key)
    assert json.loads(CliRunner().invoke(app, ["metrics", "--json", "--no-drift", "--db", str(db)]).stdout) == {
        "served": "from cache"}


def test_status_is_cached_until_the_next_ingestion(db, tmp_path):
    from typer.testing import CliRunner

    from hitlgov.cli import app

    def status() -> dict:
        run = CliRunner().invoke(app, ["status", "--json", "--db", str(db)])
        assert run.exit_code == 0, run.output
        return json.loads(run.stdout)

    first = status()
    assert first["counts"]["cases"] == 4 and first["store"] == str(db)
    with store.connect(db) as con:
        [(key, value)] = con.execute("SELECT key, value FROM result_cache WHERE kind = 'status'").fetchall()
        marked = {**json.loads(value), "counts": {"cases": "from cache"}}
        con.execute("UPDATE result_cache SET value = ? WHERE key = ?", [json.dumps(marked), key])
    assert status()["counts"] == {"cases": "from cache"}
    ingest(db, tmp_path, "b.csv", MORE)
    assert status()["counts"]["cases"] == 6


def test_an_in_place_file_changed_where_it_lies_is_a_new_data_version(tmp_path):
    import os

    import duckdb

    from hitlgov.ingest import service

    log, parquet = tmp_path / "log.csv", tmp_path / "log.parquet"
    log.write_text(LOG)
    duckdb.connect().execute("COPY (SELECT * FROM read_csv(?)) TO ? (FORMAT parquet)", [str(log), str(parquet)])
    db = tmp_path / "inplace.duckdb"
    service.register_in_place(db, [str(parquet)])
    with store.connect(db, read_only=True) as con:
        before = result_cache.data_version(con)
        assert result_cache.data_version(con) == before  # stable while nothing changes
    st = parquet.stat()
    os.utime(parquet, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    with store.connect(db, read_only=True) as con:
        assert result_cache.data_version(con) != before


# -- the quick integrity check (hitlgov.integrity): cached like the figures it guards ----------------

def _check(db, **kw):
    from hitlgov import integrity

    with store.connect(db, read_only=True) as con:
        problems, entry = integrity.check(con, **kw)
    if entry is not None:
        result_cache.save(db, [entry])
    return problems, entry


def test_integrity_check_is_computed_once_per_data_version(db, monkeypatch):
    from hitlgov import audit

    problems, entry = _check(db)  # first call: computed, and stored
    assert problems == [] and entry is not None
    calls = []
    real = audit.quick_check
    monkeypatch.setattr(audit, "quick_check", lambda con, **kw: calls.append(1) or real(con, **kw))
    problems, entry = _check(db)
    assert (problems, entry, calls) == ([], None, [])  # served from the store: the check did not run
    assert [k for _key, k, _v in entries(db)] == ["integrity"]
    problems, entry = _check(db, use_cache=False)  # --no-cache: computed, not stored
    assert (problems, entry, calls) == ([], None, [1])


def test_a_duplicate_inserted_after_a_clean_check_is_found(db):
    """An inserted row changes a table's row count, so the data version: the cached 'no problem'
    is never served for the changed store."""
    import duckdb

    assert _check(db)[0] == []
    with duckdb.connect(str(db)) as con:
        con.execute("INSERT INTO reviews SELECT * FROM reviews ORDER BY case_id LIMIT 1")
    problems, entry = _check(db)
    assert problems and problems[0].startswith("duplicate row in reviews") and entry is not None
    assert _check(db)[0] == problems  # and that finding is what is served next time


def test_cli_metrics_refuses_a_duplicate_after_a_cached_clean_run(db):
    import duckdb

    exe = [str(Path(sys.executable).with_name("hitlgov"))]
    ok = subprocess.run([*exe, "metrics", "--json", "--no-drift", "--db", str(db)], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert "integrity" in [k for _key, k, _v in entries(db)]
    with duckdb.connect(str(db)) as con:
        con.execute("INSERT INTO reviews SELECT * FROM reviews ORDER BY case_id LIMIT 1")
    bad = subprocess.run([*exe, "metrics", "--json", "--no-drift", "--db", str(db)], capture_output=True, text=True)
    assert bad.returncode == 1 and "duplicate row in reviews" in bad.stderr and "Traceback" not in bad.stderr


@pytest.mark.parametrize("damaged", [{"served": "from cache"}, ["fine", 3], "no problem", None])
def test_a_damaged_integrity_entry_is_recomputed_not_trusted(db, damaged):
    """A cache row that is not a list of problem lines is a miss: the check runs again."""
    import duckdb

    _check(db)
    with duckdb.connect(str(db)) as con:
        con.execute("INSERT INTO reviews SELECT * FROM reviews ORDER BY case_id LIMIT 1")
    problems, _entry = _check(db)  # the duplicate found and cached
    [(key, _kind, _value)] = [e for e in entries(db) if e[1] == "integrity"]
    with store.connect(db) as con:
        con.execute("UPDATE result_cache SET value = ? WHERE key = ?", [json.dumps(damaged), key])
    again, entry = _check(db)
    assert again == problems and again[0].startswith("duplicate row in reviews") and entry is not None
