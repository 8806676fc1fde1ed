"""In-place Parquet (``hitlgov ingest --in-place``): validated like ingestion, served without a copy.

A small month-partitioned dataset is written by hand with a few bad rows of each kind (missing
and unparsable fields, review fields without a reviewer, an exact duplicate, a conflicting
re-send of a case and of a review, in a later file). Registered in place, it must give the
same counts, the same quarantine reasons and the same metrics as copying the same rows (in the
same order) with ordinary ingestion -- and the store file must hold none of the decisions.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from hitlgov import store
from hitlgov.cli import app
from hitlgov.errors import IngestError
from hitlgov.ingest import inplace
from hitlgov.ingest.pipeline import ingest_path
from hitlgov.mapping import Mapping, load_mapping
from hitlgov.metrics.engines import open_source
from hitlgov.metrics.summary import compute_metrics

COLUMNS = ["case_id", "ts", "model_decision", "model_score", "reviewer_id", "human_decision",
           "review_started_at", "review_completed_at", "review_seconds", "escalated", "rationale",
           "final_decision", "outcome", "gender", "age_band", "income"]
GOOD = {"2026-01": [], "2026-02": [], "2026-03": []}


def _rows() -> dict[str, list[list]]:
    """Per month: rows in file order (strings, as a source system exports them)."""
    import random

    rng = random.Random(7)
    months = {m: [] for m in GOOD}
    n = 0
    for month in months:
        for day in range(1, 29):
            for k in range(4):
                n += 1
                cid = f"C{n:05d}"
                ts = f"{month}-{day:02d}T{9 + k}:00:00"
                score = round(rng.random(), 3)
                model = "approve" if score >= 0.5 else "decline"
                outcome = rng.choice(["approve", "decline", ""])
                attrs = [rng.choice(["F", "M"]), rng.choice(["18-24", "25-39", "40-59"]), str(rng.randrange(20, 90) * 1000)]
                if k == 0:  # unreviewed
                    months[month].append([cid, ts, model, str(score), "", "", "", "", "", "", "", "", outcome, *attrs])
                    continue
                reviewers = rng.sample(["r1", "r2", "r3", "r4"], 2 if k == 3 else 1)
                esc = "true" if rng.random() < 0.1 else "false"
                final = rng.choice(["approve", "decline"]) if esc == "true" else ""
                for j, r in enumerate(reviewers):
                    human = model if rng.random() < 0.8 else ("decline" if model == "approve" else "approve")
                    start = f"{month}-{day:02d}T{10 + k}:{10 * j:02d}:00"
                    end = f"{month}-{day:02d}T{10 + k}:{10 * j + rng.randrange(1, 9):02d}:30"
                    why = "" if rng.random() < 0.1 else f"checked {r}"
                    months[month].append([cid, ts, model, str(score), r, human, start, end, "", esc, why, final,
                                          outcome, *attrs])
    jan, feb, mar = months["2026-01"], months["2026-02"], months["2026-03"]
    bad = [
        ["", "2026-01-05T10:00:00", "approve", "0.7", "", "", "", "", "", "", "", "", "", "F", "18-24", "1000"],
        ["B1", "yesterday", "approve", "0.7", "", "", "", "", "", "", "", "", "", "F", "18-24", "1000"],
        ["B2", "2026-01-06T10:00:00", "approve", "high", "", "", "", "", "", "", "", "", "", "M", "25-39", "1000"],
        ["B3", "2026-01-07T10:00:00", "approve", "0.6", "", "decline", "", "", "", "", "", "", "", "M", "25-39", "1"],
        ["B4", "2026-01-08T10:00:00", "decline", "0.4", "r1", "approve", "", "", "-5", "", "", "", "", "F", "40-59", "1"],
        ["B5", "2026-01-09T10:00:00", "decline", "0.4", "r2", "approve", "", "", "", "maybe", "", "", "", "F", "40-59", "1"],
        ["B6", "2026-01-10T10:00:00", "decline", "0.4", "", "", "", "", "", "", "a reason", "", "", "F", "40-59", "1"],
        ["B7", "2026-01-11T10:00:00", "decline", "0.4", "r3", "approve", "2026-01-11T11:00:00",
         "2026-01-11T10:59:00", "", "", "", "", "", "F", "40-59", "1"],
    ]
    jan[5:5] = bad[:4]
    jan[40:40] = bad[4:]
    feb.append(list(jan[12]))  # an exact duplicate of a January row, sent again in February
    conflict_case = list(jan[20])  # the same case re-sent with another model decision
    conflict_case[2] = "decline" if conflict_case[2] == "approve" else "approve"
    mar.append(conflict_case)
    reviewed = next(r for r in feb[30:] if r[4])
    conflict_review = list(reviewed)  # the same review re-sent with another decision
    conflict_review[5] = "decline" if conflict_review[5] == "approve" else "approve"
    mar.append(conflict_review)
    attr_conflict = list(next(r for r in feb[50:] if not r[4]))  # same case, another age band
    attr_conflict[14] = "60+" if attr_conflict[14] != "60+" else "18-24"
    mar.append(attr_conflict)
    return months


def _write(root: Path, months: dict[str, list[list]]) -> list[Path]:
    files = []
    for month, rows in months.items():
        folder = root / f"month={month}"
        folder.mkdir(parents=True, exist_ok=True)
        # two files per month, so that rows of one case can sit in different files
        half = len(rows) // 2
        for i, part in enumerate((rows[:half], rows[half:])):
            table = pa.table({c: [r[j] or None for r in part] for j, c in enumerate(COLUMNS)},
                             schema=pa.schema([(c, pa.string()) for c in COLUMNS]))
            path = folder / f"part-{i}.parquet"
            pq.write_table(table, path)
            files.append(path)
    return sorted(files)


MAPPING = Mapping(sensitive=["gender", "age_band"], features=["income"], positive_label="approve",
                  system="lending")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> dict:
    base = tmp_path_factory.mktemp("inplace")
    files = _write(base / "logs", _rows())
    # the copied twin: the same rows, in the same order (files in path order), ingested as one file
    one = base / "all.parquet"
    pq.write_table(pa.concat_tables([pq.read_table(f) for f in files]), one)
    copied = base / "copied.duckdb"
    with store.connect(copied) as con:
        copy = ingest_path(con, one, mapping=MAPPING)
    served = base / "inplace.duckdb"
    with store.connect(served) as con:
        result = inplace.register(con, [str(base / "logs" / "month=*" / "*.parquet")], mapping=MAPPING)
    return {"base": base, "files": files, "copied": copied, "served": served, "copy": copy, "result": result}


def test_counts_are_those_of_ingestion(dataset):
    r, c = dataset["result"], dataset["copy"]
    assert (r.rows_read, r.stored, r.duplicates, r.quarantined) == (c.rows_read, c.stored, c.duplicates, c.quarantined)
    assert r.rows_read == r.stored + r.duplicates + r.quarantined
    assert r.files == 6 and r.quarantined == 11 and r.duplicates == 1  # 8 invalid + 3 conflicts; 1 exact copy


def _reasons(db: Path) -> list[tuple]:
    with store.connect(db, read_only=True) as con:
        rows = con.execute("SELECT field, reason FROM quarantine").fetchall()
    # conflicts name the earlier row: by its file and row in place, by its row in the copied file
    return sorted((f, re.sub(r"row \d+ of \S+", "row N of F", re.sub(r"row \d+ of this file", "row N of F", r)))
                  for f, r in rows)


def test_quarantine_has_the_same_reasons_and_names_files(dataset):
    assert _reasons(dataset["served"]) == _reasons(dataset["copied"])
    with store.connect(dataset["served"], read_only=True) as con:
        rows = con.execute("SELECT file, row_number, field, reason, raw FROM quarantine ORDER BY file, row_number").fetchall()
    files = {str(f) for f in dataset["files"]}
    assert all(f in files for f, *_ in rows)
    conflict = next(r for r in rows if "conflicts with row" in r[3] and "same case)" in r[3])
    assert "month=2026-01" in conflict[3] and "month=2026-03" in conflict[0]  # the earlier row's file is named
    raw = json.loads(rows[0][4])
    assert raw["_row"] == rows[0][1] and "case_id" in raw


def test_metrics_equal_a_copied_ingestion(dataset):
    with open_source(dataset["copied"]) as src:
        a = compute_metrics(src, include_drift=True, n_boot=200)
    with open_source(dataset["served"]) as src:
        b = compute_metrics(src, include_drift=True, n_boot=200)
    a.pop("policy"), b.pop("policy")
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
    assert a["counts"]["cases"] > 300 and a["agreement"]["cases_with_multiple_reviews"] > 0
    assert set(a["fairness"]) == {"age_band", "gender"}


def test_the_store_holds_views_and_an_index_not_the_data(dataset):
    with duckdb.connect(str(dataset["served"]), read_only=True) as con:
        kinds = dict(con.execute("SELECT table_name, table_type FROM information_schema.tables").fetchall())
        assert {kinds[t] for t in ("cases", "reviews", "case_attributes")} == {"VIEW"}
        skipped = con.execute("SELECT count(*) FROM inplace_skip").fetchall()[0][0]
        names = {n for (n,) in con.execute("SELECT DISTINCT name FROM case_attributes").fetchall()}
    assert names == {"gender", "age_band", "income"}  # the month=... folders are not an attribute
    # the index holds the bad rows and the second reviews of a case, nothing else of the log
    r = dataset["result"]
    with open_source(dataset["served"]) as src:
        c = compute_metrics(src, include_drift=False)["counts"]
    assert skipped == r.quarantined + r.duplicates + (c["reviews"] - c["reviewed_cases"])
    assert skipped < r.rows_read / 4  # (a quarter of this log's cases have two reviews)


def test_mixing_copied_and_in_place_data_is_refused(dataset, tmp_path):
    runner = CliRunner()
    r = runner.invoke(app, ["ingest", str(dataset["files"][0]), "--db", str(dataset["served"])])
    assert r.exit_code == 1 and "cannot be mixed" in r.output
    r = runner.invoke(app, ["ingest", "--in-place", str(dataset["files"][0]), "--db", str(dataset["copied"])])
    assert r.exit_code == 1 and "holds copied data" in r.output
    r = runner.invoke(app, ["ingest", "--in-place", str(dataset["files"][0]), "--db", str(dataset["served"])])
    assert r.exit_code == 1 and "already serves in-place Parquet" in r.output
    r = runner.invoke(app, ["ingest", "--in-place", str(tmp_path / "nothing" / "*.parquet"), "--db", str(tmp_path / "x.duckdb")])
    assert r.exit_code == 1 and "no Parquet file matches" in r.output


def test_cli_json_status_and_verify(dataset, tmp_path):
    runner = CliRunner()
    db = tmp_path / "cli.duckdb"
    pattern = str(dataset["base"] / "logs" / "month=*" / "*.parquet")
    r = runner.invoke(app, ["ingest", "--in-place", pattern, "--sensitive", "gender", "--positive-label", "approve",
                            "--json", "--db", str(db)])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["in_place"] and doc["files"] == 6 and doc["rows_read"] == doc["stored"] + doc["duplicates"] + doc["quarantined"]
    r = runner.invoke(app, ["status", "--json", "--db", str(db)])
    assert r.exit_code == 0 and json.loads(r.stdout)["quarantine"]["quarantined_rows"] == doc["quarantined"]
    r = runner.invoke(app, ["verify", "--db", str(db)])
    assert r.exit_code == 0 and "OK" in r.output
    # a served file changes: verify says which
    changed = dataset["files"][-1]
    original = changed.read_bytes()
    try:
        pq.write_table(pq.read_table(changed).slice(1), changed)
        r = runner.invoke(app, ["verify", "--json", "--db", str(db)])
        assert r.exit_code == 1
        assert json.loads(r.stdout)["problems"] == [f"file changed since registration: {changed}"]
    finally:
        changed.write_bytes(original)


def test_mapped_typed_dataset(tmp_path):
    """Other column names and labels (a mapping file), typed columns (timestamps, numbers, booleans)."""
    logs = tmp_path / "lake" / "month=2026-04"
    logs.mkdir(parents=True)
    table = pa.table({
        "id": ["a1", "a2", "a2", "a3", "a4"],
        "decided": pa.array([1775030400, 1775034000, 1775034000, 1775037600, None], pa.int64()),
        "label": ["Y", "N", "N", "Y", "Y"],
        "p": [0.9, 0.2, 0.2, 0.7, 0.5],
        "who": [None, "u1", "u2", "u1", None],
        "verdict": [None, "Y", "N", "N", None],
        "secs": [None, 30.0, 50.0, 12.5, None],
        "esc": pa.array([None, False, True, False, None], pa.bool_()),
        "region": ["north", "south", "south", "north", "east"],
    })
    pq.write_table(table, logs / "part-0.parquet")
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text("system: shop\ncolumns: {case_id: id, ts: decided, model_decision: label, model_score: p,\n"
                       "  reviewer_id: who, human_decision: verdict, review_seconds: secs, escalated: esc}\n"
                       "labels: {model_decision: {Y: allow, N: deny}, human_decision: {Y: allow, N: deny}}\n"
                       "sensitive: [region]\npositive_label: allow\n")
    m = load_mapping(mapping)
    served, copied = tmp_path / "served.duckdb", tmp_path / "copied.duckdb"
    with store.connect(served) as con:
        r = inplace.register(con, [str(tmp_path / "lake")], mapping=m)  # a folder works too
    with store.connect(copied) as con:
        c = ingest_path(con, logs / "part-0.parquet", mapping=m)
    assert (r.rows_read, r.stored, r.duplicates, r.quarantined) == (c.rows_read, c.stored, c.duplicates, c.quarantined) == (5, 4, 0, 1)
    with open_source(served) as s, open_source(copied) as t:
        a = compute_metrics(s, include_drift=False)
        b = compute_metrics(t, include_drift=False)
        rows = s.raw.execute("SELECT case_id, ts, model_decision FROM cases ORDER BY case_id").fetchall()
    a.pop("policy"), b.pop("policy")
    assert a == b
    assert [x[2] for x in rows] == ["allow", "deny", "allow"] and str(rows[0][1]) == "2026-04-01 08:00:00"
    assert a["oversight"]["escalation_rate"] == 0.5 and set(a["fairness"]) == {"region"}


def test_register_error_names_the_missing_column(tmp_path):
    pq.write_table(pa.table({"case_id": ["x"], "ts": ["2026-01-01"]}), tmp_path / "f.parquet")
    with store.connect(tmp_path / "s.duckdb") as con, pytest.raises(IngestError, match="required field model_decision"):
        inplace.register(con, [str(tmp_path / "f.parquet")])


def test_in_place_keys_are_the_first_rows_position_and_attributes_come_from_that_row(dataset):
    """A case's key in place is ``file_index * 2**40 + row + 1`` of the row that created it (files in
    path order); the second review of a case, possibly in another file, carries the same key; the wide
    attributes are that row's own columns and agree with the long view; the copied twin has the same
    cases, reviews and attributes under its own keys."""
    files = [str(f) for f in dataset["files"]]
    with duckdb.connect(str(dataset["served"]), read_only=True) as con:
        cases = con.execute("SELECT system, case_id, case_key, source_row FROM cases").fetchall()
        keys = {(s, c): k for s, c, k, _r in cases}
        assert len(set(keys.values())) == len(cases)  # one key per case
        first = con.execute("SELECT file, row FROM inplace_skip").fetchall()
        for s, c, k, row in cases:  # the key encodes the position of the row the case came from
            assert (k - 1) % (1 << 40) == row - 1
            assert 0 <= (k - 1) >> 40 < len(files)
        reviews = con.execute("SELECT system, case_id, case_key FROM reviews").fetchall()
        assert reviews and all(keys[(s, c)] == k for s, c, k in reviews)
        multi = con.execute("SELECT count(*) FROM inplace_keys").fetchall()[0][0]
        assert multi > 0  # second reviews on their own rows point to their case's first row
        cat = dict(con.execute("SELECT name, col FROM attribute_columns").fetchall())
        assert set(cat) == {"gender", "age_band", "income"}
        long = sorted(con.execute("SELECT case_key, name, value FROM case_attributes").fetchall())
        wide = con.execute(f"SELECT case_key, {', '.join(cat.values())} FROM case_attributes_wide").fetchall()
        unpivoted = sorted((row[0], name, row[1 + i]) for row in wide for i, name in enumerate(cat) if row[1 + i] is not None)
        assert unpivoted == long
    assert first  # (the index is not empty: bad rows and second reviews)
    with duckdb.connect(str(dataset["copied"]), read_only=True) as con:
        copied = sorted(con.execute("SELECT system, case_id, name, value FROM case_attributes").fetchall())
    with duckdb.connect(str(dataset["served"]), read_only=True) as con:
        served = sorted(con.execute("SELECT system, case_id, name, value FROM case_attributes").fetchall())
    assert served == copied
