"""Fuzzing ingestion (issue 14): hostile CSV dialects, timestamps at the edge of every type's
range, control bytes and encodings. For every generated file, on a store that already holds rows:

* the counts identity holds (read = stored + duplicates + quarantined) -- or the file is refused
  with a one-line error and the store is byte-for-byte unchanged;
* the rows stored earlier are unchanged;
* the read paths still work afterwards: ``status`` and ``verify`` in the default suite (three
  examples); ``make fuzz`` (``HITLGOV_FUZZ_EXAMPLES``) also runs ``metrics --json`` after each
  example and opens every dashboard page via AppTest after one example in
  ``HITLGOV_FUZZ_DASHBOARD_EVERY`` (20).

Other entry points (mapping files, archives, JSON Lines, Parquet): ``test_fuzz_formats``.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import duckdb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from hitlgov import store
from hitlgov.cli import app
from hitlgov.errors import HitlgovError
from hitlgov.ingest.pipeline import ingest_path
from hitlgov.limits import MAX_REVIEW_SECONDS

EXAMPLES = int(os.environ.get("HITLGOV_FUZZ_EXAMPLES", "3"))
#: the long run (``make fuzz``) also computes every metric and opens every dashboard page
LONG = EXAMPLES > 3
HEADER = ["case_id", "ts", "model_decision", "model_score", "reviewer_id", "human_decision", "review_seconds"]

EDGE_TIMESTAMPS = ["1970-01-01", "1969-12-31T23:59:59", "0001-01-01", "9999-12-31T23:59:59", "10000-01-01",
                   "0044-03-15 (BC)", "294247-01-10", "-1", "0", "1e20", "253402300800", "nan", "inf",
                   "2026-02-30", "2026-01-01T25:00:00", "2026-01-01T10:00:00+14:00", "2026-01-01 10:00:00.123456789",
                   "2262-04-11T23:47:16.854775807", "1677-09-21T00:12:43.145224192", "2026-01-01"]
NUMBERS = ["0", "0.5", "1", "-0", "1e308", "-1e308", "1e309", "nan", "inf", "-inf", "0x10", "1,5", "", " 2 "]
nasty_text = st.text(alphabet=st.sampled_from(list('ab,;"\'\t|\\ =+-@\r\n\x00\x01\u200b\u202e\ufeffé€𝔸')), max_size=12)
value = st.one_of(st.sampled_from(["approve", "decline", "r1", "r2", "c1", "c2", "s1"]), nasty_text)


@st.composite
def hostile_csv(draw) -> bytes:
    sep = draw(st.sampled_from([",", ";", "\t", "|"]))
    eol = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "latin-1"]))
    header = draw(st.permutations(HEADER))
    lines = [sep.join(header)]
    for _ in range(draw(st.integers(1, 12))):
        row = {"case_id": draw(st.sampled_from(["c1", "c2", "c3", "s1"]) | value),
               "ts": draw(st.sampled_from(EDGE_TIMESTAMPS) | value),
               "model_decision": draw(value), "model_score": draw(st.sampled_from(NUMBERS)),
               "reviewer_id": draw(st.sampled_from(["", "r1", "r\u200b1"]) | value),
               "human_decision": draw(st.sampled_from(["", "approve"]) | value),
               "review_seconds": draw(st.sampled_from(NUMBERS))}
        cells = []
        for name in header:
            cell = row[name]
            if draw(st.booleans()):
                cell = '"' + cell.replace('"', '""') + '"'
            elif draw(st.integers(0, 9)) == 0:
                cell = '"' + cell          # a stray quote
            cells.append(cell)
        lines.append(sep.join(cells))
    text = eol.join(lines) + draw(st.sampled_from([eol, ""]))
    return text.encode(encoding, errors="replace")


def tables(db: Path) -> dict:
    with duckdb.connect(str(db), read_only=True) as con:
        return {t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall()
                for t in ("cases", "reviews", "case_attributes", "quarantine", "ingestion_runs", "audit_events")}


def seeded_store(folder: Path) -> Path:
    db = folder / "seed.duckdb"
    if not db.exists():
        log = folder / "seed.csv"
        log.write_text("case_id,ts,model_decision,model_score,reviewer_id,human_decision\n"
                       "s1,2026-01-01T10:00:00,approve,0.9,r1,decline\ns2,2026-01-02,decline,0.1,,\n")
        with store.connect(db) as con:
            ingest_path(con, log)
    return db


#: the long run opens every dashboard page after one example in this many (each page is a few
#: seconds; after every example, 400 examples would take hours); CLI read paths run after each
DASHBOARD_EVERY = int(os.environ.get("HITLGOV_FUZZ_DASHBOARD_EVERY", "20"))
_examples_run = [0]


def check_read_paths(db: Path) -> None:
    runner = CliRunner()
    commands = (["status"], ["metrics", "--json"], ["verify"]) if LONG else (["status"], ["verify"])
    for args in commands:
        result = runner.invoke(app, [*args, "--db", str(db)])
        assert result.exception is None or isinstance(result.exception, SystemExit), (args, result.output)
        assert "Traceback" not in result.output, (args, result.output)
        if args[0] != "verify":
            assert result.exit_code == 0, (args, result.output)
    _examples_run[0] += 1
    if LONG and _examples_run[0] % DASHBOARD_EVERY == 1:
        from streamlit.testing.v1 import AppTest

        import dashboard_helpers as helpers
        previous = os.environ.get("HITLGOV_DB")
        os.environ["HITLGOV_DB"] = str(db)
        try:
            for view, *_ in helpers.PAGES:
                at = AppTest.from_file(str(helpers.APP_FILE), default_timeout=90)
                at.run()
                at.switch_page(f"views/{view}").run()
                assert not at.exception, (view, [e.value for e in at.exception])
                assert not [e.value for e in at.error if "Unexpected error" in e.value], view
        finally:
            if previous is None:
                os.environ.pop("HITLGOV_DB", None)
            else:
                os.environ["HITLGOV_DB"] = previous


def check_ingest(tmp_path_factory, name: str, data: bytes, *, mapping=None) -> None:
    """Ingest ``data`` (as a file called ``name``) into a copy of the seeded store and check the
    lossless promise: counts identity or a one-line refusal with the store unchanged, earlier rows
    kept, nothing implausible stored, and every read path still answering."""
    base = tmp_path_factory.mktemp("fuzz")
    db = base / "store.duckdb"
    shutil.copy(seeded_store(tmp_path_factory.getbasetemp()), db)
    before = tables(db)
    f = base / name
    f.write_bytes(data)
    try:
        with store.connect(db) as con:
            r = ingest_path(con, f, mapping=mapping)
    except HitlgovError as exc:
        assert "\n" not in str(exc) and str(f) in str(exc), str(exc)
        assert tables(db) == before
    else:
        assert r.rows_read == r.stored + r.duplicates + r.quarantined
        after = tables(db)
        assert set(before["cases"]) <= set(after["cases"]) and set(before["reviews"]) <= set(after["reviews"])
        assert len(after["quarantine"]) - len(before["quarantine"]) == r.quarantined
        with duckdb.connect(str(db), read_only=True) as con:
            assert con.execute("SELECT count(*) FROM cases WHERE ts < TIMESTAMP '1970-01-01' "
                               "OR ts > now()::TIMESTAMP + INTERVAL 1 YEAR OR strpos(model_decision, chr(0)) > 0"
                               ).fetchall() == [(0,)]
            assert con.execute(f"SELECT count(*) FROM reviews WHERE review_seconds > {MAX_REVIEW_SECONDS} "
                               "OR review_seconds < 0 OR NOT isfinite(review_seconds)").fetchall() == [(0,)]
    check_read_paths(db)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                      HealthCheck.too_slow])
@given(data=hostile_csv(), gz=st.booleans())
def test_hostile_csv_keeps_the_counts_and_the_store(tmp_path_factory, data, gz):
    import gzip

    check_ingest(tmp_path_factory, "log.csv.gz" if gz else "log.csv", gzip.compress(data) if gz else data)
