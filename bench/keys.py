"""Issue 16 (metrics half): the full ``metrics`` run before and after integer case keys and wide
attributes, on the same data, in one run.

Usage::

    python bench/keys.py --size 1000000 [--old-tree DIR] [--write]
    python bench/keys.py --size 10000000 --old-tree DIR

``DIR`` is ``git archive`` of the commit before the change (``hitlgov/ metrics/ dashboard/
reports/``; ``bench/old_code.py`` imports hitlgov from it). Data: ``bench/out/<size>/`` from
``hitlgov/demo.py`` (seed 0; made with ``python bench/run.py --sizes N --steps generate`` if
missing). Steps, each in its own subprocess (peak MB = that process's max RSS):

1. *before, in place*: the old code registers ``decisions.parquet`` in place (``ip_before.duckdb``,
   schema before migration 9);
2. *before, copied*: a store at the old schema holding the in-place views' rows as tables
   (``copied_before.duckdb``): the store an old ``ingest`` leaves, without paying its ingestion
   (the ingestion half of issue 16 measures that);
3. *old metrics*: ``compute_metrics`` (= ``metrics --json --no-cache``: drift, bootstrap, every
   family) by the old code on the copied store, once with and once without issue 17's families;
   the document is kept (``before.json``);
4. *migrate*: a copy of the store upgraded to this code's schema (``copied_after.duckdb``);
5. *new metrics*: the same two runs with this code; the document is compared with the old one,
   every number to 1e-12;
6. the same comparison in place (``ip_after.duckdb`` = the in-place store migrated);
7. *tiny*: the full run on a 1,000-case store (what the size adds), and DuckDB's ``read_csv`` of
   ``decisions.csv`` into a table (the reference of "what 1M adds within 2.5x").

Results print as JSON lines and a Markdown table; ``--write`` appends the table, the date, the
machine and the command to ``bench/RESULTS.md`` under "Integer case keys".
"""
from __future__ import annotations

import argparse
import json
import math
import platform
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
sys.path.insert(0, str(ROOT / "bench"))


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def differences(a, b, path: str = "", tol: float = 1e-12, out: list | None = None) -> list[str]:
    """Every place two metrics documents differ (numbers: relative 1e-12)."""
    out = [] if out is None else out
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                out.append(f"{path}/{k}: only in {'after' if k not in a else 'before'}")
            else:
                differences(a[k], b[k], f"{path}/{k}", tol, out)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            out.append(f"{path}: {len(a)} vs {len(b)} items")
        for i, (x, y) in enumerate(zip(a, b)):
            differences(x, y, f"{path}[{i}]", tol, out)
    elif isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        if not (a == b or (math.isnan(a) and math.isnan(b)) or abs(a - b) <= tol * max(1.0, abs(a), abs(b))):
            out.append(f"{path}: {a} vs {b}")
    elif a != b:
        out.append(f"{path}: {str(a)[:60]!r} vs {str(b)[:60]!r}")
    return out


# -- steps (run in a subprocess each) ----------------------------------------------------------

def step_register(data: Path, db: Path) -> dict:
    from hitlgov import store
    from hitlgov.ingest.inplace import register
    from hitlgov.mapping import load_mapping

    db.unlink(missing_ok=True)
    with store.connect(db) as con:
        r = register(con, [data / "decisions.parquet"], mapping=load_mapping(data / "mapping.yaml"))
    return {"rows": r.rows_read, "stored": r.stored}


def step_materialise(inplace_db: Path, db: Path) -> dict:
    """A copied store at the in-place store's schema holding its views' rows as tables."""
    import duckdb
    from hitlgov import store

    db.unlink(missing_ok=True)
    src = duckdb.connect(str(inplace_db), read_only=True)
    version = store.current_version(src)
    src.close()
    con = duckdb.connect(str(db))
    store.migrate(con, to=version)
    con.execute(f"ATTACH '{inplace_db}' AS ip (READ_ONLY)")
    for table in ("cases", "reviews", "case_attributes", "systems", "attribute_roles", "ingestion_runs"):
        cols = ", ".join(r[0] for r in con.execute(f"DESCRIBE {table}").fetchall())
        con.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM ip.{table}")
    n = con.execute("SELECT count(*) FROM cases").fetchall()[0][0]
    con.close()
    return {"cases": n}


def step_migrate(src: Path, db: Path) -> dict:
    from hitlgov import store

    shutil.copyfile(src, db)
    t0 = time.perf_counter()
    with store.connect(db) as con:
        version = store.current_version(con)
    return {"version": version, "migrate_seconds": round(time.perf_counter() - t0, 3)}


def step_metrics(db: Path, doc: Path | None, without_reliance: bool) -> dict:
    from hitlgov.metrics.source import Filter, Source
    from hitlgov.metrics.summary import compute_metrics, resolve_period

    if without_reliance:  # issue 17's families switched off (as bench/run.py's metrics_without_reliance)
        from hitlgov.metrics import gwet_stats, reliance_evidence

        reliance_evidence.reliance_blocks = lambda *a, **k: {"reliance": {"by_reviewer": [], "evidence": []}}
        gwet_stats.gwet_summary = lambda *a, **k: {}
    with Source.open(db) as src:
        t0 = time.perf_counter()
        flt = resolve_period(src, Filter())
        m = compute_metrics(src, flt)
        seconds = time.perf_counter() - t0
    if doc is not None:
        doc.write_text(json.dumps(m, sort_keys=True, default=str))
    return {"metrics_seconds": round(seconds, 3), "findings": len(m["findings"])}


def step_read_csv(data: Path) -> dict:
    import duckdb

    con = duckdb.connect()
    t0 = time.perf_counter()
    con.execute("CREATE TABLE t AS SELECT * FROM read_csv(?, ignore_errors = true)", [str(data / "decisions.csv")])
    return {"read_csv_seconds": round(time.perf_counter() - t0, 3)}


def step_tiny(folder: Path) -> dict:
    from hitlgov import demo, store
    from hitlgov.ingest.pipeline import ingest_path
    from hitlgov.mapping import load_mapping

    db = folder / "tiny.duckdb"
    if not db.exists():
        demo.generate(folder / "tiny", cases=1000, seed=0)
        with store.connect(db) as con:
            ingest_path(con, folder / "tiny" / "decisions.csv", mapping=load_mapping(folder / "tiny" / "mapping.yaml"))
    return step_metrics(db, None, False)


def _sub(old_tree: str | None, *args: str) -> dict:
    """Run one step in a fresh interpreter (with the old tree's hitlgov when ``old_tree``)."""
    cmd = [sys.executable, __file__, "--step", *args] + (["--as-old", old_tree] if old_tree else [])
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{p.stderr[-3000:]}")
    out = json.loads(p.stdout.strip().splitlines()[-1])
    out["wall_seconds"] = round(time.perf_counter() - t0, 3)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=1_000_000)
    ap.add_argument("--old-tree", default=None)
    ap.add_argument("--steps", default="before,metrics_before,after,metrics_after,inplace,tiny")
    ap.add_argument("--write", action="store_true")
    ap.add_argument("--step", nargs="+", help=argparse.SUPPRESS)
    ap.add_argument("--as-old", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.step:
        if a.as_old:
            import old_code

            old_code.use(a.as_old)
        name, *rest = a.step
        fn = {"register": lambda d, db: step_register(Path(d), Path(db)),
              "materialise": lambda s, db: step_materialise(Path(s), Path(db)),
              "migrate": lambda s, db: step_migrate(Path(s), Path(db)),
              "metrics": lambda db, doc, wo: step_metrics(Path(db), Path(doc) if doc != "-" else None, wo == "1"),
              "read_csv": lambda d: step_read_csv(Path(d)),
              "tiny": lambda f: step_tiny(Path(f))}[name]
        res = fn(*rest)
        res["peak_mb"] = round(_peak_mb())
        print(json.dumps(res))
        return

    data = OUT / str(a.size)
    if not (data / "manifest.json").exists():
        subprocess.run([sys.executable, str(ROOT / "bench" / "run.py"), "--sizes", str(a.size), "--steps", "generate"],
                       check=True)
    steps = a.steps.split(",")
    rows: list[tuple[str, dict]] = []

    def run(label: str, old: bool, *args: str) -> dict:
        res = _sub(a.old_tree if old else None, *args)
        rows.append((label, res))
        print(json.dumps({"step": label, **res}), flush=True)
        return res

    old_ip, old_cp = data / "ip_before.duckdb", data / "copied_before.duckdb"
    new_ip, new_cp = data / "ip_after.duckdb", data / "copied_after.duckdb"
    if "before" in steps:
        run("register in place (old code)", True, "register", str(data), str(old_ip))
        run("materialise as a copied store (old schema)", False, "materialise", str(old_ip), str(old_cp))
    if "after" in steps:
        run("migrate the copied store (this code)", False, "migrate", str(old_cp), str(new_cp))
    # the metrics runs alternate old/new so that a change of the machine's load hits both
    if "metrics_before" in steps:
        run("metrics_full, old code", True, "metrics", str(old_cp), str(data / "before.json"), "0")
    if "metrics_after" in steps:
        run("metrics_full, this code", False, "metrics", str(new_cp), str(data / "after.json"), "0")
    if "metrics_before" in steps:
        run("metrics without issue 17 families, old code", True, "metrics", str(old_cp), "-", "1")
    if "metrics_after" in steps:
        run("metrics without issue 17 families, this code", False, "metrics", str(new_cp), "-", "1")
        run("metrics_full again, this code", False, "metrics", str(new_cp), "-", "0")
    if "inplace" in steps:
        run("metrics in place, old code", True, "metrics", str(old_ip), str(data / "ip_before.json"), "0")
        run("migrate the in-place store (this code)", False, "migrate", str(old_ip), str(new_ip))
        run("metrics in place, this code", False, "metrics", str(new_ip), str(data / "ip_after.json"), "0")
    if "tiny" in steps:
        run("metrics_full on a 1,000-case store, this code", False, "tiny", str(OUT))
        run("DuckDB read_csv of decisions.csv", False, "read_csv", str(data))

    summary = {}
    for before, after in (("before.json", "after.json"), ("ip_before.json", "ip_after.json")):
        if (data / before).exists() and (data / after).exists():
            d = differences(json.loads((data / before).read_text()), json.loads((data / after).read_text()))
            summary[after] = len(d)
            print(json.dumps({"compare": f"{before} vs {after}", "differences": len(d), "first": d[:10]}))
    table = ["| step | seconds (in-process) | wall s | peak MB | notes |", "|---|---:|---:|---:|---|"]
    for label, r in rows:
        secs = r.get("metrics_seconds", r.get("read_csv_seconds", r.get("migrate_seconds", "")))
        notes = ", ".join(f"{k}={v}" for k, v in r.items()
                          if k not in ("metrics_seconds", "read_csv_seconds", "migrate_seconds", "wall_seconds", "peak_mb"))
        table.append(f"| {label} | {secs} | {r['wall_seconds']} | {r['peak_mb']} | {notes} |")
    text = "\n".join(table)
    print(text)
    print(json.dumps({"differences": summary}))
    if a.write:
        import os

        load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
        cmd = "python bench/keys.py " + " ".join(sys.argv[1:])
        with open(ROOT / "bench" / "RESULTS.md", "a", encoding="utf-8") as fh:
            fh.write(f"\n### Integer case keys and wide attributes, {a.size:,} cases "
                     f"({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})\n\n"
                     f"`{cmd}`; {platform.machine()}, {os.cpu_count()} cores, load average at the end {load}. "
                     f"Document differences before vs after (every number to 1e-12): {json.dumps(summary)}.\n\n"
                     + text + "\n")


if __name__ == "__main__":
    main()
