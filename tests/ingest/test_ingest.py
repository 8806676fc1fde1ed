"""Lossless ingestion: formats, mapping, idempotency, conflicts, quarantine, unreadable files."""
from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hitlgov import store
from hitlgov.errors import HitlgovError, IngestError, MappingError
from hitlgov.ingest.pipeline import ingest_path
from hitlgov.mapping import Mapping, load_mapping

ROWS = [
    # case_id, ts, model_decision, model_score, reviewer_id, human_decision, escalated, region
    ("c1", "2026-01-01T10:00:00", "approve", 0.91, None, None, None, "north"),
    ("c2", "2026-01-02T11:30:00", "decline", 0.20, "r1", "approve", False, "south"),
    ("c2", "2026-01-02T11:30:00", "decline", 0.20, "r2", "decline", True, "south"),
    ("c3", "2026-01-03T09:15:00", "approve", 0.55, "r1", "approve", False, "north"),
]
COLUMNS = ["case_id", "ts", "model_decision", "model_score", "reviewer_id", "human_decision", "escalated", "region"]


def frame() -> pd.DataFrame:
    return pd.DataFrame(ROWS, columns=COLUMNS)


def snapshot(db: Path) -> dict:
    """Every stored table's content, to prove nothing changed."""
    with duckdb.connect(str(db), read_only=True) as con:
        return {t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall()
                for t in ("cases", "reviews", "case_attributes", "quarantine", "ingestion_runs", "audit_events")}


def ingest(db: Path, path: Path, **kw):
    with store.connect(db) as con:
        return ingest_path(con, path, **kw)


def stored(db: Path) -> tuple[list, list]:
    with duckdb.connect(str(db), read_only=True) as con:
        cases = con.execute("SELECT case_id, ts::VARCHAR, model_decision, model_score FROM cases ORDER BY case_id").fetchall()
        reviews = con.execute("SELECT case_id, reviewer_id, human_decision, escalated FROM reviews ORDER BY ALL").fetchall()
    return cases, reviews


EXPECTED_CASES = [("c1", "2026-01-01 10:00:00", "approve", 0.91), ("c2", "2026-01-02 11:30:00", "decline", 0.2),
                  ("c3", "2026-01-03 09:15:00", "approve", 0.55)]
EXPECTED_REVIEWS = [("c2", "r1", "approve", False), ("c2", "r2", "decline", True), ("c3", "r1", "approve", False)]


def write(df: pd.DataFrame, path: Path) -> Path:
    name = path.name
    if name.endswith(".parquet"):
        df.to_parquet(path, index=False)
    elif ".jsonl" in name:
        text = "\n".join(json.dumps({k: v for k, v in r.items() if v is not None and v == v})
                         for r in df.to_dict(orient="records")) + "\n"
        path.write_bytes(gzip.compress(text.encode()) if name.endswith(".gz") else text.encode())
    else:
        text = df.to_csv(index=False)
        path.write_bytes(gzip.compress(text.encode()) if name.endswith(".gz") else text.encode())
    return path


@pytest.mark.parametrize("name", ["log.csv", "log.csv.gz", "log.jsonl", "log.jsonl.gz", "log.parquet", "noext"])
def test_round_trip_each_format(tmp_path, name):
    df = frame()
    if name == "noext":  # detected by content, not extension
        path = write(df, tmp_path / "x.jsonl")
        path = path.rename(tmp_path / "noext")
    else:
        path = write(df, tmp_path / name)
    db = tmp_path / "s.duckdb"
    r = ingest(db, path, mapping=Mapping(sensitive=["region"]))
    assert (r.rows_read, r.stored, r.duplicates, r.quarantined) == (4, 4, 0, 0)
    assert stored(db) == (EXPECTED_CASES, EXPECTED_REVIEWS)
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT case_id, value FROM case_attributes WHERE name='region' ORDER BY 1").fetchall() == \
            [("c1", "north"), ("c2", "south"), ("c3", "north")]
        assert con.execute("SELECT role FROM attribute_roles WHERE name='region'").fetchall() == [("sensitive",)]


def test_same_rows_in_another_format_are_duplicates(tmp_path):
    db = tmp_path / "s.duckdb"
    ingest(db, write(frame(), tmp_path / "a.csv"))
    r = ingest(db, write(frame(), tmp_path / "a.parquet"))
    assert (r.stored, r.duplicates, r.quarantined) == (0, 4, 0)


def test_reingest_adds_nothing(tmp_path):
    db = tmp_path / "s.duckdb"
    path = write(frame(), tmp_path / "a.csv")
    ingest(db, path)
    before = snapshot(db)
    r = ingest(db, path)
    assert (r.rows_read, r.stored, r.duplicates, r.quarantined) == (4, 0, 4, 0)
    after = snapshot(db)
    for table in ("cases", "reviews", "case_attributes", "quarantine"):
        assert after[table] == before[table]
    assert len(after["ingestion_runs"]) == 2  # the run itself is recorded


def test_conflicting_row_is_quarantined_and_stored_row_kept(tmp_path):
    db = tmp_path / "s.duckdb"
    ingest(db, write(frame(), tmp_path / "a.csv"))
    changed = frame()
    changed.loc[1, "human_decision"] = "decline"      # r1 on c2: approve -> decline
    changed.loc[3, "model_score"] = 0.99             # c3's model score differs
    r = ingest(db, write(changed, tmp_path / "b.csv"))
    assert (r.stored, r.duplicates, r.quarantined) == (0, 2, 2)
    assert stored(db) == (EXPECTED_CASES, EXPECTED_REVIEWS)
    with duckdb.connect(str(db), read_only=True) as con:
        q = con.execute("SELECT file, row_number, field, reason FROM quarantine ORDER BY row_number").fetchall()
    assert [(Path(f).name, row, field) for f, row, field, _ in q] == [("b.csv", 2, "human_decision"),
                                                                      ("b.csv", 4, "model_score")]
    assert "conflicts with the stored review" in q[0][3] and "'approve' vs 'decline'" in q[0][3]
    assert "conflicts with the stored case" in q[1][3] and "0.55" in q[1][3] and "0.99" in q[1][3]


def test_conflicts_and_duplicates_inside_one_file(tmp_path):
    text = ("case_id,ts,model_decision,reviewer_id,human_decision\n"
            "a,2026-01-01,approve,r1,approve\n"
            "a,2026-01-01,approve,r1,decline\n"    # same review, different decision: conflict
            "a,2026-01-01,approve,r1,approve\n"    # identical to row 1: duplicate
            "a,2026-01-02,approve,r2,approve\n"    # same case, different ts: case conflict
            "b,2026-01-01,decline,,\n"
            "b,2026-01-01,decline,,\n")            # identical unreviewed row: duplicate
    path = tmp_path / "a.csv"
    path.write_text(text)
    db = tmp_path / "s.duckdb"
    r = ingest(db, path)
    assert (r.rows_read, r.stored, r.duplicates, r.quarantined) == (6, 2, 2, 2)
    with duckdb.connect(str(db), read_only=True) as con:
        q = con.execute("SELECT row_number, field, reason FROM quarantine ORDER BY 1").fetchall()
    assert [(row, field) for row, field, _ in q] == [(2, "human_decision"), (4, "ts")]
    assert "row 1 of this file" in q[0][2]


@pytest.mark.parametrize("line,field,reason", [
    (",2026-01-01,approve,,", "case_id", "missing required field case_id"),
    ("x,,approve,,", "ts", "missing required field ts"),
    ("x,31/13/2026,approve,,", "ts", "unparsable timestamp '31/13/2026'"),
    ("x,2026-01-01,,,", "model_decision", "missing required field model_decision"),
    ("x,2026-01-01,approve,,approve", "reviewer_id", "human_decision given without reviewer_id"),
    ("x,2026-01-01,approve,r1,", "human_decision", "reviewer_id given without human_decision"),
])
def test_bad_rows_are_quarantined_with_field_and_reason(tmp_path, line, field, reason):
    path = tmp_path / "bad.csv"
    path.write_text("case_id,ts,model_decision,reviewer_id,human_decision\nok,2026-01-01,approve,,\n" + line + "\n")
    db = tmp_path / "s.duckdb"
    r = ingest(db, path)
    assert (r.rows_read, r.stored, r.quarantined) == (2, 1, 1)
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT row_number, field, reason FROM quarantine").fetchall() == [(2, field, reason)]


def test_typed_value_checks(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text(
        "case_id,ts,model_decision,model_score,reviewer_id,human_decision,review_started_at,review_completed_at,escalated\n"
        "a,2026-01-01,approve,n/a,,,,,\n"
        "b,2026-01-01,approve,0.5,r1,approve,2026-01-01T10:00:00,later,\n"
        "c,2026-01-01,approve,0.5,r1,approve,2026-01-01T10:00:00,2026-01-01T09:00:00,\n"
        "d,2026-01-01,approve,0.5,r1,approve,,,maybe\n"
        "e,1767225600,approve,inf,,,,,\n"
        "f,1767225600,approve,0.5,r1,approve,2026-01-01T10:00:00Z,2026-01-01T12:05:00+02:00,yes\n")
    db = tmp_path / "s.duckdb"
    r = ingest(db, path)
    assert (r.stored, r.quarantined) == (1, 5)
    with duckdb.connect(str(db), read_only=True) as con:
        fields = con.execute("SELECT field FROM quarantine ORDER BY row_number").fetchall()
        f = con.execute("SELECT c.ts::VARCHAR, r.review_seconds, r.escalated FROM cases c JOIN reviews r USING (case_id)").fetchone()
    assert [x for (x,) in fields] == ["model_score", "review_completed_at", "review_completed_at", "escalated", "model_score"]
    # epoch seconds and time zones are normalised to UTC; duration derived from the timestamps
    assert f == ("2026-01-01 00:00:00", 300.0, True)


def test_malformed_csv_lines_are_quarantined_with_line_numbers(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("case_id,ts,model_decision\na,2026-01-01,approve\nb,2026-01-01\nc,2026-01-01,approve,extra\n"
                    "d,2026-01-02,decline\n")
    db = tmp_path / "s.duckdb"
    r = ingest(db, path)
    assert (r.rows_read, r.stored, r.quarantined) == (4, 2, 2)
    with duckdb.connect(str(db), read_only=True) as con:
        q = con.execute("SELECT row_number, reason FROM quarantine ORDER BY 1").fetchall()
        ok = con.execute("SELECT case_id, source_row FROM cases ORDER BY 1").fetchall()
    assert [row for row, _ in q] == [2, 3] and "line 3" in q[0][1] and "line 4" in q[1][1]
    assert ok == [("a", 1), ("d", 4)]  # row numbers stay true after rejected lines


def test_invalid_json_line_is_quarantined(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text('{"case_id":"a","ts":"2026-01-01","model_decision":"approve"}\n{not json\n[1,2]\n\n'
                    '{"case_id":"b","ts":"2026-01-01","model_decision":"approve"}\n')
    db = tmp_path / "s.duckdb"
    r = ingest(db, path)
    assert (r.rows_read, r.stored, r.quarantined) == (4, 2, 2)


def test_mapping_file_renames_and_maps_labels(tmp_path):
    (tmp_path / "m.yaml").write_text(
        "system: loans\n"
        "columns: {case_id: application, ts: decided, model_decision: pred, reviewer_id: officer, human_decision: verdict}\n"
        "labels:\n  model_decision: {1: approve, 0: decline}\n  human_decision: {Y: approve, N: decline}\n"
        "timestamp_format: '%d/%m/%Y %H:%M'\n"
        "attributes: [branch]\nsensitive: [branch]\npositive_label: approve\n")
    path = tmp_path / "a.csv"
    path.write_text("application,decided,pred,officer,verdict,branch,ignored\n"
                    "A1,02/01/2026 09:30,1,,,Leeds,x\nA2,03/01/2026 10:00,0,o7,Y,York,y\n")
    db = tmp_path / "s.duckdb"
    r = ingest(db, path, mapping=load_mapping(tmp_path / "m.yaml"))
    assert (r.stored, r.quarantined) == (2, 0)
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT system, case_id, ts::VARCHAR, model_decision FROM cases ORDER BY 2").fetchall() == [
            ("loans", "A1", "2026-01-02 09:30:00", "approve"), ("loans", "A2", "2026-01-03 10:00:00", "decline")]
        assert con.execute("SELECT reviewer_id, human_decision FROM reviews").fetchall() == [("o7", "approve")]
        assert con.execute("SELECT DISTINCT name FROM case_attributes").fetchall() == [("branch",)]
        assert con.execute("SELECT positive_label FROM systems").fetchall() == [("approve",)]


def test_mapping_errors_are_clear(tmp_path):
    bad = tmp_path / "m.yaml"
    bad.write_text("columns: {caseid: x}\n")
    with pytest.raises(MappingError, match="unknown canonical field"):
        load_mapping(bad)
    bad.write_text("colums: {}\n")
    with pytest.raises(MappingError, match="unknown key"):
        load_mapping(bad)
    path = write(frame(), tmp_path / "a.csv")
    with pytest.raises(IngestError, match="a.csv: mapping puts case_id in column 'nope'"):
        ingest(tmp_path / "s.duckdb", path, mapping=Mapping(columns={"case_id": "nope"}))


@pytest.mark.parametrize("content,message", [
    (None, "file not found"),
    (b"", "file is empty"),
    (bytes(range(256)) * 20, "binary content"),
    (b"\x1f\x8b\x08garbage-not-gzip", "gzip"),
    (b"PAR1 this is not really parquet", "Parquet"),
    (b"a,b\n1,2\n", "no column for required field case_id"),
])
def test_unreadable_file_leaves_store_unchanged(tmp_path, content, message):
    db = tmp_path / "s.duckdb"
    ingest(db, write(frame(), tmp_path / "good.csv"))
    before = snapshot(db)
    path = tmp_path / "broken.csv"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(IngestError, match=message) as exc:
        ingest(db, path)
    assert "broken.csv" in str(exc.value) and "\n" not in str(exc.value)
    assert snapshot(db) == before


def test_cli_json_output_and_exit_codes(tmp_path):
    import subprocess
    import sys

    path = write(frame(), tmp_path / "a.csv")
    db = tmp_path / "s.duckdb"
    exe = Path(sys.executable).with_name("hitlgov")
    run = subprocess.run([str(exe), "ingest", str(path), str(tmp_path / "missing.csv"), "--json", "--db", str(db)],
                         capture_output=True, text=True)
    assert run.returncode == 1
    lines = run.stdout.strip().splitlines()
    assert len(lines) == 1
    doc = json.loads(lines[0])
    assert set(doc) == {"file", "sha256", "rows_read", "stored", "duplicates", "quarantined", "seconds"}
    assert doc["rows_read"] == doc["stored"] + doc["duplicates"] + doc["quarantined"] == 4
    assert "missing.csv: file not found" in run.stderr and "Traceback" not in run.stderr


# -- property-based: arbitrary malformed values never break the counts or alter stored rows ----

cell = st.one_of(st.none(), st.text(max_size=12), st.sampled_from(
    ["", " ", "nan", "inf", "-1", "1e309", "2026-02-30", "2026-01-01", "1767225600", "true", "maybe", "a,b", '"',
     "approve", "decline", "r1", "0.5", "\u00e9", "=cmd()"]))
row = st.fixed_dictionaries({c: cell for c in ["case_id", "ts", "model_decision", "model_score", "reviewer_id",
                                                "human_decision", "escalated", "review_seconds"]})


# 15 examples in `make test` (each one a real ingestion): the hostile-input breadth lives in tests/fuzz/ (`make fuzz`)
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(row, min_size=1, max_size=15))
def test_property_counts_identity_and_no_stored_row_altered(tmp_path_factory, rows):
    tmp = tmp_path_factory.mktemp("prop")
    db = tmp / "s.duckdb"
    ingest(db, write(frame(), tmp / "base.csv"))
    before = snapshot(db)
    path = tmp / "fuzz.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    try:
        r = ingest(db, path)
    except IngestError:
        assert snapshot(db) == before  # unreadable as a whole: nothing changed
        return
    # The oracle for "rows read" is Python's csv module: pandas leaves a bare "\r" unquoted,
    # which every CSV reader (DuckDB and Python's alike) takes as a line break.
    import csv
    with open(path, newline="") as fh:
        records = sum(1 for rec in csv.reader(fh) if rec) - 1
    assert r.stored + r.duplicates + r.quarantined == r.rows_read == records
    after = snapshot(db)
    assert set(before["cases"]) <= set(after["cases"]) and set(before["reviews"]) <= set(after["reviews"])
    assert len(after["cases"]) - len(before["cases"]) <= r.stored
    shutil.rmtree(tmp, ignore_errors=True)


def test_memory_limit_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("HITLGOV_MEMORY_LIMIT", "1GB")
    with store.connect(tmp_path / "s.duckdb") as con:
        assert con.execute("SELECT current_setting('memory_limit')").fetchall() == [("953.6 MiB",)]
    monkeypatch.setenv("HITLGOV_MEMORY_LIMIT", "lots")
    with pytest.raises(HitlgovError, match="HITLGOV_MEMORY_LIMIT='lots' is not a memory size"):
        with store.connect(tmp_path / "s.duckdb"):
            pass


@pytest.mark.parametrize("text, message", [
    (None, "mapping file not found"),
    ("columns: [unclosed", "not valid YAML"),
    ("- a list\n", "expected a YAML mapping at the top level"),
])
def test_views_and_mapping_files_share_their_errors(tmp_path, text, message):
    from hitlgov.errors import HitlgovError
    from hitlgov.metrics.engines import load_views

    path = tmp_path / "file.yaml"
    if text is not None:
        path.write_text(text)
    with pytest.raises(MappingError, match=f"{path}: {message}"):
        load_mapping(path)
    with pytest.raises(HitlgovError, match=f"{path}: {message.replace('mapping file', 'views file')}"):
        load_views(path)
