"""Scale benchmark: a 100M-row decision log as month-partitioned Parquet, metrics in place on
DuckDB and on Spark local[2].

Usage::

    python bench/scale.py --rows 100000000                 # generate, register, metrics on DuckDB
    python bench/scale.py --rows 10000000 --steps spark    # the Spark run (on the lake form)
    python bench/scale.py --rows 100000000 --steps generate,register,metrics_duckdb,export,spark

Steps (each in its own subprocess, so the peak memory reported is the step's own: the largest
resident memory of the step's whole process tree -- Python, DuckDB, the Spark JVM -- sampled from
``/proc`` twice a second; ``peak_mb`` is ``getrusage``'s max RSS of the step process):

* ``generate`` -- ``bench/out/scale-<rows>/logs/month=YYYY-MM/part-0.parquet``: a year of decision-
  log rows (SCHEMA §1: one row per review, one row for an unreviewed case) written by DuckDB
  straight from ``range()`` one month at a time (streamed; nothing is built in pandas). About 31%
  of cases are reviewed, 5% of those by two reviewers; 50 reviewers; sensitive ``gender`` and
  ``age_band``; features ``income`` and ``channel``.
* ``register`` -- ``hitlgov ingest --in-place 'logs/month=*/*.parquet' --mapping mapping.yaml``
  (validation, identity index, SHA-256 of every file; nothing copied).
* ``metrics_duckdb`` -- ``hitlgov metrics --json`` on that store (drift and the bootstrap included).
* ``export`` -- ``hitlgov export-parquet`` of the in-place store: the lake form (canonical tables).
* ``spark`` -- ``hitlgov metrics --json --engine 'pyspark://local[2]?parquet=lake'`` (the JVM is
  a child process: its memory is in the children's max RSS).

Results print as JSON lines and a Markdown table for ``bench/SCALE_RESULTS.md``. Data stays in
``bench/out`` (git-ignored); delete it when done (``rm -rf bench/out/scale-*``).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
sys.path.insert(0, str(ROOT))

MONTHS = [f"{y}-{m:02d}" for y, m in [(2025, 11), (2025, 12)] + [(2026, m) for m in range(1, 11)]]
REVIEWED = 0.31
MULTI = 0.05
DUCKDB_MEMORY = "10GB"
SPARK_MEMORY = "8g"
MAPPING = """\
system: bench
sensitive: [gender, age_band]
features: [income, channel]
positive_label: approve
"""


def folder(rows: int) -> Path:
    return OUT / f"scale-{rows}"


def _u(i: str, k: int | str) -> str:
    """A uniform [0, 1) number from the case number: a seeded hash, the same on every run."""
    return f"((hash({i}, {k}) % 1000003) / 1000003.0)"


def generate(rows: int) -> dict:
    """Write the log month by month; cases are numbered in time order."""
    import duckdb

    base = folder(rows)
    logs = base / "logs"
    cases = int(rows / (1 + REVIEWED * MULTI))
    per_month = -(-cases // len(MONTHS))
    con = duckdb.connect()
    written = 0
    for n, month in enumerate(MONTHS):
        lo, hi = n * per_month, min(cases, (n + 1) * per_month)
        target = logs / f"month={month}"
        target.mkdir(parents=True, exist_ok=True)
        start = f"TIMESTAMP '{month}-01'"
        span = f"(epoch_us({start} + INTERVAL 1 MONTH) - epoch_us({start}))"
        i = "i"
        query = f"""
        WITH c AS (
          SELECT i,
                 'C' || lpad(i::VARCHAR, 10, '0') AS case_id,
                 {start} + to_microseconds(CAST((i - {lo})::DOUBLE * {span} / {hi - lo} AS BIGINT)) AS ts,
                 round(0.02 + 0.96 * {_u(i, 1)}, 4) AS model_score,
                 {_u(i, 2)} AS u_review, {_u(i, 3)} AS u_multi, {_u(i, 4)} AS u_out, {_u(i, 5)} AS u_esc,
                 ['F', 'M', 'X'][1 + (hash(i, 6) % 3)::INT] AS gender,
                 ['18-24', '25-39', '40-59', '60+'][1 + (hash(i, 7) % 4)::INT] AS age_band,
                 (200 + hash(i, 8) % 1200) * 100 AS income,
                 ['branch', 'web', 'mobile', 'broker', 'partner-app'][1 + (hash(i, 9) % 5)::INT] AS channel
          FROM range({lo}, {hi}) t(i)
        ),
        r AS (  -- one row per review (two for a multi-reviewed case), one for an unreviewed case
          SELECT c.*, s.slot, c.u_review < {REVIEWED} AS reviewed
          FROM c JOIN (VALUES (1), (2)) s(slot)
            ON s.slot <= CASE WHEN c.u_review < {REVIEWED} AND c.u_multi < {MULTI} THEN 2 ELSE 1 END
        )
        SELECT case_id, ts, 'bench' AS system,
               CASE WHEN ts < TIMESTAMP '2026-05-01' THEN 'v1.4' ELSE 'v2.0' END AS model_version,
               CASE WHEN model_score >= 0.5 THEN 'approve' ELSE 'decline' END AS model_decision,
               model_score,
               CASE WHEN reviewed THEN 'rev-' || lpad((1 + (hash({i}, 11) + (slot - 1) * (1 + hash({i}, 12) % 49))
                                                       % 50)::VARCHAR, 2, '0') END AS reviewer_id,
               CASE WHEN NOT reviewed THEN NULL
                    WHEN {_u(i, 20)} + 0.05 * slot < 0.22 THEN
                      CASE WHEN model_score >= 0.5 THEN 'decline' ELSE 'approve' END
                    ELSE CASE WHEN model_score >= 0.5 THEN 'approve' ELSE 'decline' END END AS human_decision,
               CASE WHEN reviewed THEN ts + to_microseconds(CAST(60e6 + 3600e6 * {_u(i, 30)} AS BIGINT)
                                                           + 600000000 * slot) END AS review_started_at,
               CASE WHEN reviewed THEN ts + to_microseconds(CAST(60e6 + 3600e6 * {_u(i, 30)} AS BIGINT)
                                                           + 600000000 * slot
                                                           + CAST(5e6 + 300e6 * {_u(i, '40 + slot')} AS BIGINT)) END
                 AS review_completed_at,
               CASE WHEN reviewed THEN u_esc < 0.05 END AS escalated,
               CASE WHEN reviewed AND {_u(i, 50)} > 0.04 THEN 'checked documents' END AS rationale,
               CASE WHEN reviewed AND u_esc < 0.05 THEN
                 CASE WHEN {_u(i, 60)} < 0.5 THEN 'approve' ELSE 'decline' END END AS final_decision,
               CASE WHEN u_out < 0.1 THEN NULL
                    WHEN {_u(i, 70)} < model_score THEN 'approve' ELSE 'decline' END AS outcome,
               gender, age_band, income, channel
        FROM r
        """
        path = target / "part-0.parquet"
        con.execute(f"COPY ({query}) TO '{path}' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 1000000)")
        written += con.execute(f"SELECT count(*) FROM read_parquet('{path}')").fetchall()[0][0]
        print(json.dumps({"month": month, "rows_so_far": written}), file=sys.stderr, flush=True)
    (base / "mapping.yaml").write_text(MAPPING)
    size = sum(p.stat().st_size for p in logs.rglob("*.parquet"))
    return {"rows": written, "cases": cases, "parquet_mb": round(size / 1e6)}


def _cli(args: list[str], *, stdout=None) -> subprocess.CompletedProcess:
    """``hitlgov ARGS`` in a child process (the venv's entry point next to this Python)."""
    return subprocess.run([str(Path(sys.executable).parent / "hitlgov"), *args],
                          stdout=stdout or subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)


def step(name: str, rows: int) -> dict:
    base = folder(rows)
    db = base / "inplace.duckdb"
    lake = base / "lake"
    extra: dict = {}
    t0 = time.perf_counter()
    if name == "generate":
        if (base / "mapping.yaml").exists():
            return {"step": name, "rows": rows, "skipped": "data exists"}
        extra = generate(rows)
        command = f"python bench/scale.py --rows {rows} --steps generate"
    elif name == "register":
        for suffix in ("", ".wal"):
            Path(str(db) + suffix).unlink(missing_ok=True)
        args = ["ingest", "--in-place", str(base / "logs" / "month=*" / "*.parquet"),
                "--mapping", str(base / "mapping.yaml"), "--json", "--db", str(db)]
        run = _cli(args)
        if run.returncode:
            raise SystemExit(run.stderr)
        doc = json.loads(run.stdout)
        extra = {k: doc[k] for k in ("rows_read", "stored", "duplicates", "quarantined", "files")}
        extra["store_mb"] = round(db.stat().st_size / 1e6, 1)
        command = "hitlgov " + " ".join(args)
    elif name in ("metrics_duckdb", "metrics_duckdb_no_drift"):
        # compute_metrics is what `hitlgov metrics --json` runs; in this process so that DuckDB's
        # memory can be capped (the machine is shared) and spill to bench/out
        from hitlgov.metrics.engines import open_source
        from hitlgov.metrics.summary import compute_metrics

        with open_source(db) as src:
            src.raw.execute(f"SET memory_limit = '{DUCKDB_MEMORY}'")
            src.raw.execute(f"SET temp_directory = '{base / 'duckdb-tmp'}'")
            m = compute_metrics(src, include_drift=name == "metrics_duckdb")
        (base / f"{name}.json").write_text(json.dumps(m, allow_nan=False))
        extra = {"cases": m["counts"]["cases"], "reviews": m["counts"]["reviews"],
                 "override_rate": m["oversight"]["override_rate"], "drift_columns": len(m["drift"].get("columns", [])),
                 "memory_limit": DUCKDB_MEMORY}
        command = (f"python bench/scale.py --rows {rows} --steps {name}  (= hitlgov metrics --json"
                   f"{' --no-drift' if name.endswith('no_drift') else ''} --db {db.relative_to(ROOT)}, "
                   f"DuckDB memory_limit {DUCKDB_MEMORY})")
    elif name in ("spark", "spark_no_drift"):
        args = ["metrics", "--json"]
        if name.endswith("no_drift"):
            args.append("--no-drift")
        if name.startswith("spark"):
            url = (f"pyspark://local[2]?parquet={lake.relative_to(ROOT)}&spark.sql.shuffle.partitions=8"
                   f"&spark.driver.memory={SPARK_MEMORY}&spark.local.dir={(base / 'spark-tmp').relative_to(ROOT)}")
            args += ["--engine", url]
        out = base / f"{name}.json"
        with open(out, "w") as fh:
            run = _cli(args, stdout=fh)
        if run.returncode:
            raise SystemExit(run.stderr[-3000:])
        m = json.loads(out.read_text())
        extra = {"cases": m["counts"]["cases"], "reviews": m["counts"]["reviews"],
                 "override_rate": m["oversight"]["override_rate"], "drift_columns": len(m["drift"].get("columns", []))}
        command = "hitlgov " + " ".join(f"'{a}'" if "?" in a else a for a in args)
    elif name == "export":
        import shutil

        shutil.rmtree(lake, ignore_errors=True)
        args = ["export-parquet", "--out", str(lake), "--json", "--db", str(db)]
        run = _cli(args)
        if run.returncode:
            raise SystemExit(run.stderr)
        extra = json.loads(run.stdout)["tables"]
        command = "hitlgov " + " ".join(args)
    elif name == "compare":
        sys.path.insert(0, str(ROOT / "tests"))
        a = json.loads((base / "metrics_duckdb.json").read_text())
        b = json.loads((base / "spark.json").read_text())
        from test_spark import differences

        diffs = differences(a, b)
        extra = {"differences": len(diffs), "first": diffs[:5]}
        command = "compare metrics_duckdb.json spark.json (tests/test_spark.differences, 1e-9)"
    else:
        raise SystemExit(f"unknown step {name}")
    seconds = time.perf_counter() - t0
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"step": name, "rows": rows, "seconds": round(seconds, 1), "peak_mb": round(max(own, children)),
            "command": command, **extra}


def _tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants (from /proc), in MB."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/status") as fh:
                total += next((int(line.split()[1]) for line in fh if line.startswith("VmRSS:")), 0)
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as fh:
                    todo += [int(c) for c in fh.read().split()]
        except (OSError, ValueError):
            continue
    return total / 1024


def _run_sampled(cmd: list[str], timeout: int | None) -> tuple[int | None, str, int, float]:
    """Run a step, sampling the resident memory of its whole process tree (the Spark JVM is a
    grandchild) twice a second; stop the tree after ``timeout`` seconds."""
    import signal
    import tempfile

    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out:
        proc = subprocess.Popen(cmd, stdout=out, text=True, start_new_session=True)
        peak = 0.0
        while proc.poll() is None:
            peak = max(peak, _tree_rss_mb(proc.pid))
            if timeout and time.perf_counter() - started > timeout:
                os.killpg(proc.pid, signal.SIGTERM)
                time.sleep(5)
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait()
                return None, "", round(peak), time.perf_counter() - started
            time.sleep(0.5)
        out.seek(0)
        return proc.returncode, out.read(), round(peak), time.perf_counter() - started


STEPS = ["generate", "register", "metrics_duckdb", "export", "spark", "compare"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000_000)
    ap.add_argument("--steps", default="generate,register,metrics_duckdb")
    ap.add_argument("--spark-timeout", type=int, default=1800, help="stop a Spark step after this many seconds")
    ap.add_argument("--step", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.step:
        print(json.dumps(step(args.step, args.rows)))
        return
    results = []
    for name in args.steps.split(","):
        timeout = args.spark_timeout if name.startswith("spark") else None
        code, out, tree_mb, seconds = _run_sampled([sys.executable, __file__, "--step", name, "--rows", str(args.rows)],
                                                   timeout)
        if code is None:
            res = {"step": name, "rows": args.rows, "seconds": round(seconds), "peak_mb": tree_mb,
                   "timed_out": f"stopped after {timeout} s"}
        elif code != 0:
            raise SystemExit(f"step {name} failed")
        else:
            res = json.loads(out.strip().splitlines()[-1])
            res["tree_peak_mb"] = tree_mb
        results.append(res)
        print(json.dumps(res), flush=True)
    print(f"\n{time.strftime('%Y-%m-%d')} on {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}\n")
    print("| rows | step | seconds | peak RSS MB (process tree) | notes |\n|---:|---|---:|---:|---|")
    for r in results:
        skip = ("step", "rows", "seconds", "peak_mb", "tree_peak_mb", "command")
        notes = ", ".join(f"{k}={v}" for k, v in r.items() if k not in skip)
        print(f"| {r['rows']:,} | {r['step']} | {r.get('seconds', '')} | {r.get('tree_peak_mb', r.get('peak_mb', ''))} "
              f"| {notes} |")
    for r in results:
        if r.get("command"):
            print(f"\n{r['step']}: `{r['command']}`")


if __name__ == "__main__":
    main()
