"""Export the store's canonical tables as Parquet: the "lake form" another engine can read.

``hitlgov export-parquet --out DIR`` writes one folder per canonical table (the relations
:mod:`hitlgov.metrics.source` reads, with exactly their columns)::

    DIR/cases/month=2025-11/data_0.parquet ...        one row per case, partitioned by month of ts
    DIR/reviews/month=2025-11/data_0.parquet ...      one row per review, by month of its case's ts
    DIR/review_events/month=2025-11/data_0.parquet .. one review-stage verdict per row (accepted /
                                                      rejected by whom, when), by month of its case's ts
    DIR/case_attributes/data_0.parquet ...           long form (files of at most ~256 MB)
    DIR/systems/data_0.parquet
    DIR/attribute_roles/data_0.parquet

Timestamps are naive UTC (``timestamp[us]``), ``label_order`` a list of strings. The ``month``
folder is a Hive partition (``YYYY-MM``); readers that add it as a column may ignore it.
Bookkeeping columns (``run_id``, ``source_row``) and the store-only tables (ingestion runs,
quarantine, audit events) are not exported: they describe the store, not the decisions.

This is what ``--engine 'pyspark://local[2]?parquet=DIR'`` reads, and the shape a lake table
or view must have for any other engine (see ``docs/scaling.md``).
"""
from __future__ import annotations

import shutil
import time
from pathlib import Path

import duckdb

from hitlgov.errors import HitlgovError
from hitlgov.schema import TABLES

CANONICAL_COLUMNS: dict[str, tuple[str, ...]] = {name: tuple(cols) for name, cols in TABLES.items()}
PARTITIONED = ("cases", "reviews", "review_events")


def _lit(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def export_parquet(con: duckdb.DuckDBPyConnection, out_dir: str | Path, *, overwrite: bool = False) -> dict:
    """Write the canonical tables under ``out_dir``; return ``{table: rows}`` and the seconds taken."""
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise HitlgovError(f"{out}: folder is not empty (pass --overwrite to replace it)")
        for name in CANONICAL_COLUMNS:
            shutil.rmtree(out / name, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    rows: dict[str, int] = {}
    month = "strftime(c.ts, '%Y-%m')"
    for name, cols in CANONICAL_COLUMNS.items():
        target = out / name
        select = ", ".join(f"t.{c}" for c in cols)
        if name == "cases":
            query = f"SELECT {select}, {month.replace('c.ts', 't.ts')} AS month FROM cases t"
        elif name in PARTITIONED:
            query = (f"SELECT {select}, {month} AS month FROM {name} t "
                     f"JOIN cases c ON c.system = t.system AND c.case_id = t.case_id")
        elif name == "case_attributes":
            query = f"SELECT {select} FROM {name} t"
        else:
            query = f"SELECT {select} FROM {name} t"
        n = con.execute(f"SELECT count(*) FROM {name}").fetchall()[0][0]
        rows[name] = n
        if name in PARTITIONED:
            if n == 0:  # an empty table still gets one (empty) file so readers find its schema
                target.mkdir(parents=True, exist_ok=True)
                con.execute(f"COPY ({query} LIMIT 0) TO {_lit(target / 'empty.parquet')} (FORMAT parquet)")
                continue
            con.execute(f"COPY ({query}) TO {_lit(target)} "
                        "(FORMAT parquet, PARTITION_BY (month), OVERWRITE_OR_IGNORE, COMPRESSION zstd)")
        elif name == "case_attributes":
            target.mkdir(parents=True, exist_ok=True)
            con.execute(f"COPY ({query}) TO {_lit(target)} (FORMAT parquet, FILE_SIZE_BYTES '256MB', "
                        "OVERWRITE_OR_IGNORE, COMPRESSION zstd)")
        else:
            target.mkdir(parents=True, exist_ok=True)
            con.execute(f"COPY ({query}) TO {_lit(target / 'data_0.parquet')} (FORMAT parquet, COMPRESSION zstd)")
    return {"out": str(out), "tables": rows, "seconds": round(time.perf_counter() - started, 3)}
