"""Where ``hitlgov verify`` spends its time on a store, part by part (issue 16).

    python bench/profile_verify.py STORE.duckdb [PART ...]

Opens the store read-only (nothing is written: run it on bench/out/*/store.duckdb directly) and
prints one JSON line per part: ``{"part", "seconds", "result"}``. Parts (all by default):

* ``chain``, ``runs``, ``records``: the event chain, ``ingestion_runs``, the record tables
* ``rows:<table>``: one table's row commitments, as ``verify_store`` checks them (the format each
  run was written in)
* ``texts2:case_attributes``, ``texts3:case_attributes``: the Merkle root over the run's
  attribute rows as format 2 (one sorted text per row) and as format 3 (one text per case)
  compute it, on the rows as stored -- what ingestion pays and what verify pays for a run
  written in that format (``texts3`` needs a hitlgov with format 3)
* ``dups``: the duplicate-key check as ``verify_store`` runs it (on the integer keys where
  ``key_problems``, computed before the timing, finds nothing); ``dups_strings``: on the string
  keys whatever the keys say (the code before format 3 always did this)
* ``keys``, ``wide``: :func:`hitlgov.case_keys.key_problems` and ``wide_problems``
* ``verify_store``: the whole of it, checkpoints included

The script runs against whichever hitlgov is imported, so old and new code are compared on the
same store with ``PYTHONPATH=<old checkout>``; a part the imported code lacks is reported as
``"skipped"``. Time it under the bench lock: ``flock /work/wt/bench.lock nice -n 0 python ...``.
"""
from __future__ import annotations

import json
import sys
import time

import duckdb

import hitlgov
from hitlgov import audit, case_keys

PARTS = ["chain", "rows:cases", "rows:reviews", "rows:case_attributes", "rows:quarantine", "rows:review_events",
         "texts2:case_attributes", "texts3:case_attributes", "runs", "records", "dups", "dups_strings", "keys",
         "wide", "verify_store"]


def _rows(con, table: str):
    commits = [c for c in audit._commitments(con) if "merkle" in c[2]]
    saved = audit.RUN_TABLES
    audit.RUN_TABLES = {table: saved[table]}  # _check_rows walks RUN_TABLES: one table at a time
    try:
        return audit._check_rows(con, commits, 10)
    finally:
        audit.RUN_TABLES = saved


def _texts(con, fmt: int):
    table = "case_attributes"
    cols = audit.table_columns(con, table)
    roots = {}
    for run in [r for (r,) in con.execute(f"SELECT DISTINCT run_id FROM {table} ORDER BY 1").fetchall()]:
        where = f"run_id = {int(run)}"
        if fmt == 2:
            sql = audit.texts_sql(table, cols, where, audit.order_columns(table, cols))
        else:
            group = [c for c in audit.CASE_COLUMNS if c in cols]
            sql = audit.case_texts_sqls(con, table, cols, where, group)
        roots[run] = audit.bucket_root(con, sql)
    return roots


_KEYED: list[bool] = []  # whether verify_store would use the integer keys for the duplicate check


def run_part(con, part: str):
    if part == "chain":
        return audit.verify_chain(con)["ok"]
    if part.startswith("rows:"):
        return _rows(con, part.split(":", 1)[1])[:3]
    if part == "texts2:case_attributes":
        return _texts(con, 2)
    if part == "texts3:case_attributes":
        if not hasattr(audit, "case_texts_sql"):
            return "skipped"
        return _texts(con, 3)
    if part == "runs":
        return audit._check_runs(con, audit._commitments(con))
    if part == "records":
        return audit._check_records(con, 10)[0]
    if part == "dups":
        if "keyed" not in audit._duplicates.__code__.co_varnames:
            return audit._duplicates(con, 10)  # the old code: strings only
        return {"keyed": _KEYED[0], "problems": audit._duplicates(con, 10, keyed=_KEYED[0])}
    if part == "dups_strings":
        return audit._duplicates(con, 10)
    if part == "keys":
        return case_keys.key_problems(con, limit=10)
    if part == "wide":
        return case_keys.wide_problems(con, limit=10)
    if part == "verify_store":
        r = audit.verify_store(con)
        return {"ok": r["ok"], "problems": r["problems"][:3]}
    raise SystemExit(f"unknown part {part!r}; parts: {', '.join(PARTS)}")


def main(argv: list[str]) -> None:
    db, parts = argv[0], argv[1:] or PARTS
    con = duckdb.connect(db, read_only=True)
    con.execute("SET enable_progress_bar = false")
    print(json.dumps({"store": db, "hitlgov": hitlgov.__file__, "leaf_format": audit.LEAF_FORMAT}), flush=True)
    if "dups" in parts:  # (verify_store runs key_problems anyway: timed as "keys", not inside "dups")
        _KEYED.append(not case_keys.key_problems(con, limit=10) and "case_key" in audit.table_columns(con, "cases"))
    for part in parts:
        t = time.perf_counter()
        result = run_part(con, part)
        print(json.dumps({"part": part, "seconds": round(time.perf_counter() - t, 2), "result": result},
                         default=str), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
