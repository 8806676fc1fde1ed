"""Hostile and careless input (issue 14): each test reproduces a reported way to lose or corrupt
data, or to brick the store, and checks the one-line refusal or the quarantine that replaced it."""
from __future__ import annotations

import gzip
import os
import threading
from pathlib import Path

import duckdb
import pytest

from hitlgov import store
from hitlgov.errors import HitlgovError, MappingError
from hitlgov.ingest.pipeline import ingest_path
from hitlgov.mapping import Mapping, load_mapping

HEADER = "case_id,ts,model_decision\n"


def ingest(db: Path, path: Path, **kw):
    with store.connect(db) as con:
        return ingest_path(con, path, **kw)


def query(db: Path, sql: str) -> list:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


def snapshot(db: Path) -> dict:
    with duckdb.connect(str(db), read_only=True) as con:
        return {t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall()
                for t in ("cases", "reviews", "case_attributes", "quarantine", "ingestion_runs", "audit_events")}


@pytest.fixture
def db(tmp_path) -> Path:
    """A store holding one good case, so refusals can be shown to leave it unchanged."""
    path = tmp_path / "store.duckdb"
    seed = tmp_path / "seed.csv"
    seed.write_text(HEADER + "s1,2026-01-01,approve\n")
    ingest(path, seed)
    return path


# --- CSV dialect and row numbers ---------------------------------------------------------

def test_stray_quote_costs_only_its_own_lines_and_row_numbers_stay_true(tmp_path, db):
    lines = []
    for i in range(1, 2001):
        if i == 1200:
            lines.append(f'c{i},2026-01-01,"approve')           # unclosed: swallows line 1201
        elif i % 7 == 0:
            lines.append(f'c{i},2026-01-01,"has, comma"')
        else:
            lines.append(f'c{i},2026-01-01,"approve"')
    f = tmp_path / "log.csv"
    f.write_text(HEADER + "\n".join(lines) + "\n")
    r = ingest(db, f)
    # 2,000 data lines: 1,998 good rows + one record that swallowed 2 lines
    assert (r.rows_read, r.stored, r.quarantined) == (1999, 1998, 1)
    rows = dict(query(db, "SELECT case_id, source_row FROM cases WHERE run_id = 2"))
    assert rows["c1199"] == 1199 and rows["c1202"] == 1202 and rows["c2000"] == 2000
    assert "c1200" not in rows and "c1201" not in rows
    assert query(db, "SELECT DISTINCT model_decision FROM cases ORDER BY 1") == [("approve",), ("has, comma",)]
    (row, reason), = query(db, "SELECT row_number, reason FROM quarantine")
    assert row == 1200 and "lines 1201-1202 (2 lines" in reason


def test_unbalanced_quote_in_the_sample_does_not_change_good_rows(tmp_path, db):
    f = tmp_path / "log.csv"
    f.write_text(HEADER + 'c1,2026-01-01,"approve"\nc2,2026-01-01,"decline\nc3,2026-01-01,"has, comma"\n'
                 'c4,2026-01-01,"approve"\n')
    r = ingest(db, f)
    assert query(db, "SELECT case_id, model_decision FROM cases WHERE run_id = 2 ORDER BY 1") == [
        ("c1", "approve"), ("c4", "approve")]
    assert (r.rows_read, r.stored, r.quarantined) == (3, 2, 1)


def test_multi_line_field_keeps_later_row_numbers_physical(tmp_path, db):
    f = tmp_path / "log.csv"
    f.write_text(HEADER + 'c1,2026-01-01,"two\nlines"\nc2,2026-01-01,approve\n')
    ingest(db, f)
    assert query(db, "SELECT case_id, source_row FROM cases WHERE run_id = 2 ORDER BY 1") == [("c1", 1), ("c2", 3)]


def test_semicolon_and_crlf_files(tmp_path, db):
    f = tmp_path / "log.csv"
    f.write_bytes(b"case_id;ts;model_decision\r\nc1;2026-01-01;approve\r\nc2;2026-01-02;\"a;b\"\r\n")
    ingest(db, f)
    assert query(db, "SELECT case_id, model_decision FROM cases WHERE run_id = 2 ORDER BY 1") == [
        ("c1", "approve"), ("c2", "a;b")]


def test_header_names_differing_only_in_case_are_both_kept(tmp_path, db):
    """DuckDB identifiers are case-insensitive: ``Branch`` and ``branch`` were refused with its
    binder error; the later one is kept as ``branch_2``, as an exact repeat would be."""
    f = tmp_path / "log.csv"
    f.write_text("case_id,ts,model_decision,Branch,branch\nc1,2026-01-01,approve,Leeds,York\n")
    r = ingest(db, f)
    assert (r.stored, r.quarantined) == (1, 0)
    assert query(db, "SELECT name, value FROM case_attributes WHERE case_id = 'c1' ORDER BY 1") == [
        ("Branch", "Leeds"), ("branch_2", "York")]


def test_latin1_text_is_read_not_called_binary(tmp_path, db):
    f = tmp_path / "log.csv"
    f.write_bytes((HEADER + "c1,2026-01-01,d\xe9clin\xe9\n").encode("latin-1"))
    ingest(db, f)
    assert query(db, "SELECT model_decision FROM cases WHERE case_id = 'c1'") == [("décliné",)]


def test_late_nul_byte_never_reaches_a_label(tmp_path, db):
    f = tmp_path / "log.csv"
    body = "".join(f"c{i},2026-01-01,approve\n" for i in range(5000))
    f.write_bytes((HEADER + body).encode() + b"z1,2026-01-01,appr\x00ove\n")
    r = ingest(db, f)
    assert r.quarantined == 1 and r.stored == 5000
    assert query(db, "SELECT count(*) FROM cases WHERE strpos(model_decision, chr(0)) > 0") == [(0,)]
    assert query(db, "SELECT field, reason FROM quarantine") == [("model_decision", "NUL byte in the value of model_decision")]


# --- limits: one line, store unchanged -----------------------------------------------------

def _refused(db: Path, path: Path, match: str, **kw) -> str:
    before = snapshot(db)
    with pytest.raises(HitlgovError, match=match) as err:
        ingest(db, path, **kw)
    assert snapshot(db) == before
    message = str(err.value)
    assert "\n" not in message and str(path) in message and "hitlgov-ingest-" not in message
    return message


def test_too_many_columns(tmp_path, db, monkeypatch):
    monkeypatch.setenv("HITLGOV_MAX_COLUMNS", "50")
    f = tmp_path / "wide.csv"
    f.write_text(HEADER.strip() + "".join(f",x{i}" for i in range(100)) + "\n" + "c1,2026-01-01,a" + ",1" * 100 + "\n")
    assert "103 columns, more than the limit of 50 (HITLGOV_MAX_COLUMNS)" in _refused(db, f, "columns")


def test_gzip_bomb_refused_before_expanding(tmp_path, db, monkeypatch):
    monkeypatch.setenv("HITLGOV_MAX_INPUT_BYTES", str(10 << 20))
    f = tmp_path / "bomb.csv.gz"
    with gzip.open(f, "wb", compresslevel=9) as gz:
        gz.write(HEADER.encode())
        line = b"c,2026-01-01,approve\n" * 50_000
        for _ in range(12):  # ~12.6 MB expanded, ~40 KB compressed
            gz.write(line)
    assert f.stat().st_size < 200_000
    assert "once decompressed (HITLGOV_MAX_INPUT_BYTES)" in _refused(db, f, "more than 10,485,760 bytes")


def test_long_field_gets_a_clear_error_row(tmp_path, db, monkeypatch):
    monkeypatch.setenv("HITLGOV_MAX_LINE_BYTES", str(1 << 20))
    f = tmp_path / "log.csv"
    f.write_text(HEADER + "c1,2026-01-01,approve\nc2,2026-01-01," + "x" * (2 << 20) + "\nc3,2026-01-01,approve\n")
    r = ingest(db, f)
    assert (r.stored, r.quarantined) == (2, 1)
    (row, reason), = query(db, "SELECT row_number, reason FROM quarantine")
    assert row == 2 and "longer than the limit of 1,048,576 bytes (HITLGOV_MAX_LINE_BYTES)" in reason


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX only")
def test_fifo_refused_without_blocking(tmp_path, db):
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    done = []
    t = threading.Thread(target=lambda: done.append(_refused(db, fifo, "not a regular file")), daemon=True)
    t.start()
    t.join(20)
    assert done, "ingesting a FIFO blocked"


# --- mapping and internal columns ----------------------------------------------------------

def test_one_source_column_cannot_feed_two_fields(tmp_path, db):
    m = tmp_path / "m.yaml"
    m.write_text("columns: {case_id: id, reviewer_id: id, model_decision: dec, human_decision: dec}\n")
    with pytest.raises(MappingError, match="column 'id' is mapped to both case_id and reviewer_id"):
        load_mapping(m)
    f = tmp_path / "log.csv"
    f.write_text(HEADER + "c1,2026-01-01,approve\n")
    # the same through the implicit name: reviewer_id read from the file's case_id column
    _refused(db, f, "column 'case_id' would feed both case_id and reviewer_id",
             mapping=Mapping(columns={"reviewer_id": "case_id", "human_decision": "model_decision"}))


@pytest.mark.parametrize("name", ["_row", "_invalid_json"])
@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_source_column_cannot_hijack_an_internal_one(tmp_path, db, name, suffix):
    f = tmp_path / f"log{suffix}"
    if suffix == ".csv":
        f.write_text(f"case_id,ts,model_decision,{name}\nc1,2026-01-01,approve,999\n")
    else:
        f.write_text(f'{{"case_id": "c1", "ts": "2026-01-01", "model_decision": "a", "{name}": "999"}}\n')
    _refused(db, f, f"column '{name}' uses a name reserved")


def test_other_underscore_columns_are_kept_as_attributes(tmp_path, db):
    f = tmp_path / "log.csv"
    f.write_text(HEADER.strip() + ",_region\nc1,2026-01-01,approve,north\n")
    ingest(db, f)
    assert query(db, "SELECT name, value FROM case_attributes WHERE case_id = 'c1'") == [("_region", "north")]


# --- plausible values --------------------------------------------------------------------

@pytest.mark.parametrize("ts", ["10000-01-01", "9999-12-31", "0001-01-01", "0044-03-15 (BC)", "1969-12-31T23:59:59",
                                "253402300800"])
def test_implausible_timestamps_are_quarantined_naming_the_value(tmp_path, db, ts):
    f = tmp_path / "log.csv"
    f.write_text(HEADER + f"c1,{ts},approve\nc2,2026-01-01,approve\n")
    r = ingest(db, f)
    assert (r.stored, r.quarantined) == (1, 1)
    (field, reason), = query(db, "SELECT field, reason FROM quarantine")
    assert field == "ts" and reason == f"timestamp outside the plausible range 1970-01-01 .. now + 1 year: '{ts}'"


def test_review_times_and_seconds_must_be_plausible(tmp_path, db):
    f = tmp_path / "log.csv"
    f.write_text("case_id,ts,model_decision,reviewer_id,human_decision,review_completed_at,review_seconds\n"
                 "c1,2026-01-01,a,r1,a,10000-01-01,\n"
                 "c2,2026-01-01,a,r1,a,,1e308\n"
                 "c3,2026-01-01,a,r1,a,2026-01-02,31622400\n")
    ingest(db, f)
    assert query(db, "SELECT row_number, field FROM quarantine ORDER BY 1") == [
        (1, "review_completed_at"), (2, "review_seconds")]
    assert "'1e308'" in query(db, "SELECT reason FROM quarantine WHERE row_number = 2")[0][0]


def test_parquet_timestamp_beyond_duckdbs_range_is_a_one_line_refusal(tmp_path, db):
    # found by the Parquet fuzz strategy: timestamp[ms] = 2**62 failed inside DuckDB's scan (traceback)
    import pyarrow as pa
    import pyarrow.parquet as pq

    f = tmp_path / "log.parquet"
    pq.write_table(pa.table({"case_id": ["c1", "c2"], "model_decision": ["a", "a"],
                             "ts": pa.array([2**62, 1767225600000], pa.int64()).cast(pa.timestamp("ms"))}), f)
    before = snapshot(db)
    with pytest.raises(HitlgovError) as err:
        ingest(db, f)
    assert str(err.value).startswith(f"{f}: a value cannot be read (Conversion Error: Could not convert Timestamp(MS)")
    assert "\n" not in str(err.value) and snapshot(db) == before


def test_jsonl_empty_key_is_kept_as_an_attribute_not_a_sql_error(tmp_path, db):
    # found by the JSON Lines fuzz strategy: {"": ...} reached DuckDB as a zero-length identifier
    f = tmp_path / "log.jsonl"
    f.write_text('{"case_id": "c1", "ts": "2026-01-01", "model_decision": "a", "": "x", "unnamed": "y"}\n'
                 '{"case_id": "c2", "ts": "2026-01-01", "model_decision": "a"}\n')
    r = ingest(db, f)
    assert (r.rows_read, r.stored) == (2, 2)
    assert query(db, "SELECT name, value FROM case_attributes WHERE case_id = 'c1' ORDER BY 1") == [
        ("unnamed", "y"), ("unnamed_2", "x")]


def test_review_time_derived_from_timestamps_is_bounded_like_review_seconds(tmp_path, db):
    # each timestamp is plausible on its own; the derived duration is not (366 days = 31,622,400 s
    # is the bound, so 366 days + 1 s is out and exactly 366 days is in)
    f = tmp_path / "log.csv"
    f.write_text("case_id,ts,model_decision,reviewer_id,human_decision,review_started_at,review_completed_at,"
                 "review_seconds\n"
                 "c1,2026-01-01,a,r1,a,1970-01-01T00:00:00,2026-01-01T00:00:00,\n"
                 "c2,2026-01-01,a,r1,a,2025-01-01T00:00:00,2026-01-02T00:00:01,\n"
                 "c3,2026-01-01,a,r1,a,2025-01-01T00:00:00,2026-01-02T00:00:00,\n"
                 "c4,2026-01-01,a,r1,a,1970-01-01T00:00:00,2026-01-01T00:00:00,30\n")
    r = ingest(db, f)
    assert (r.stored, r.quarantined) == (2, 2)
    rows = query(db, "SELECT row_number, field, reason FROM quarantine ORDER BY 1")
    assert [(n, fld) for n, fld, _ in rows] == [(1, "review_completed_at"), (2, "review_completed_at")]
    assert rows[0][2] == ("review time derived from review_started_at .. review_completed_at outside the plausible "
                          "range 0 .. 31,622,400 seconds (one year): '1970-01-01T00:00:00' .. '2026-01-01T00:00:00'")
    # the boundary row stores its derived 31,622,400 s; the row with a given review_seconds keeps it
    assert query(db, "SELECT case_id, review_seconds FROM reviews ORDER BY 1") == [("c3", 31622400.0), ("c4", 30.0)]


def test_score_range_declared_in_the_mapping(tmp_path, db):
    m = tmp_path / "m.yaml"
    m.write_text("score_range: [0, 1]\n")
    mapping = load_mapping(m)
    f = tmp_path / "log.csv"
    f.write_text("case_id,ts,model_decision,model_score\nc1,2026-01-01,a,0.5\nc2,2026-01-01,a,1.5\n"
                 "c3,2026-01-01,a,-0.01\nc4,2026-01-01,a,1\n")
    ingest(db, f, mapping=mapping)
    assert query(db, "SELECT row_number FROM quarantine ORDER BY 1") == [(2,), (3,)]
    for bad in ("[1, 0]", "[0]", "[0, .inf]", "yes"):
        m.write_text(f"score_range: {bad}\n")
        with pytest.raises(MappingError, match="score_range"):
            load_mapping(m)


def test_reviewer_ids_are_normalised(tmp_path, db):
    f = tmp_path / "log.csv"
    ids = ["ana", "a\u200bna", "\u202eana", "an\u00ada", "ana\ufeff"]       # zero-width, RTL override, soft hyphen, BOM
    f.write_text("case_id,ts,model_decision,reviewer_id,human_decision\n"
                 + "".join(f"c{i},2026-01-01,a,{rid},a\n" for i, rid in enumerate(ids))
                 + "d1,2026-01-01,a,jose\u0301,a\nd2,2026-01-01,a,jos\u00e9,a\n")  # NFD vs NFC
    ingest(db, f)
    assert query(db, "SELECT DISTINCT reviewer_id FROM reviews ORDER BY 1") == [("ana",), ("jos\u00e9",)]


# --- hashes describe the bytes ingested ----------------------------------------------------

def test_hash_is_of_the_bytes_ingested_even_if_the_file_is_swapped(tmp_path, db, monkeypatch):
    import hashlib
    from hitlgov.ingest import pipeline

    f = tmp_path / "log.csv"
    first = (HEADER + "c1,2026-01-01,approve\n").encode()
    f.write_bytes(first)
    real_choose = pipeline.choose_reader

    def swap_then_choose(path, fmt="auto"):
        f.write_bytes((HEADER + "evil,2026-01-01,approve\n").encode())  # replaced after hashing
        return real_choose(path, fmt)

    monkeypatch.setattr(pipeline, "choose_reader", swap_then_choose)
    r = ingest(db, f)
    assert r.sha256 == hashlib.sha256(first).hexdigest()
    assert query(db, "SELECT case_id FROM cases WHERE run_id = 2") == [("c1",)]


# --- readers are not blocked while a file is read and validated ------------------------------

def test_store_stays_readable_while_a_file_is_staged(tmp_path, db):
    from hitlgov.ingest.service import ingest_files

    f = tmp_path / "log.csv"
    f.write_text(HEADER + "".join(f"c{i},2026-01-01,approve\n" for i in range(1000)))
    seen = {}

    def progress(_path, stage):
        if stage in ("hashing", "reading", "validating"):
            # a reader in the middle of the run: no wait, the store must open read-only at once
            with store.connect(db, read_only=True, wait_seconds=0) as con:
                seen[stage] = con.execute("SELECT count(*) FROM cases").fetchall()[0][0]

    [r] = ingest_files(db, [f], progress=progress)
    assert seen == {"hashing": 1, "reading": 1, "validating": 1} and r.stored == 1000
    assert query(db, "SELECT count(*) FROM cases") == [(1001,)]


def test_a_repeated_header_name_keeps_both_columns(make_store):
    """ProPublica's COMPAS CSV repeats decile_score and priors_count: the first keeps the name
    (what a mapping means), the second is kept as name_2 -- nothing refused, nothing dropped."""
    import duckdb

    db = make_store("case_id,ts,model_decision,x,x\nc1,2026-01-01,approve,1,2\n")
    with duckdb.connect(str(db), read_only=True) as con:
        attrs = dict(con.execute("SELECT name, value FROM case_attributes").fetchall())
    assert attrs == {"x": "1", "x_2": "2"}
