"""Benchmarks: ingestion, the full metrics run, each metric family, and fairness vs plain Fairlearn.

Usage::

    python bench/run.py                    # 1M and 10M cases (generates data under bench/out/)
    python bench/run.py --sizes 1000000    # one size

Each measured step runs in its own subprocess, so the peak memory (max RSS) reported is that
step's own. Every figure that has a reference is shown with the reference measured in the same
run: ingestion against DuckDB's own ``read_csv`` of the same file into a table, command start-up
costs (``fixed_cost``) against ``python -c "import pandas, duckdb"``. ``--write`` (what
``make bench`` passes) replaces the generated section of ``bench/RESULTS.md`` (between its
``bench:generated`` markers) with the date, the machine, the figures and the command. The fairness comparison times our engine path (one GROUP BY + rate derivation)
and the plain Fairlearn ``MetricFrame`` path on the same rows in the same run, and checks that
the numbers are identical (to 1e-12). Results print as a Markdown table; paste them into
``bench/RESULTS.md`` with the date and the command.
"""
from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
sys.path.insert(0, str(ROOT))


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def step(name: str, size: int) -> dict:
    """Run one measured step in this process; return seconds and peak memory."""
    from hitlgov import store
    from hitlgov.ingest.pipeline import ingest_path
    from hitlgov.mapping import load_mapping

    data = OUT / f"{size}"
    db = data / "store.duckdb"
    t0 = time.perf_counter()
    extra: dict = {}
    if name == "generate":
        from hitlgov import demo

        if not (data / "manifest.json").exists():
            demo.generate(data, cases=size, seed=0)
    elif name == "read_csv_reference":
        import duckdb

        # DuckDB's own speed on the same file, the ingestion reference: typed columns, the demo's
        # planted malformed rows skipped (ingestion quarantines them instead)
        con = duckdb.connect()
        con.execute("CREATE TABLE t AS SELECT * FROM read_csv(?, ignore_errors = true)", [str(data / "decisions.csv")])
        extra = {"rows": con.execute("SELECT count(*) FROM t").fetchall()[0][0]}
    elif name == "fixed_cost":
        extra = fixed_cost()
    elif name in ("ingest_csv", "ingest_parquet"):
        target = data / ("csv.duckdb" if name == "ingest_csv" else "store.duckdb")
        if name == "ingest_parquet" and target.exists():
            return {"step": name, "size": size, "skipped": "store exists"}
        target.unlink(missing_ok=True)
        path = data / ("decisions.csv" if name == "ingest_csv" else "decisions.parquet")
        with store.connect(target) as con:
            r = ingest_path(con, path, mapping=load_mapping(data / "mapping.yaml"))
        extra = {"rows": r.rows_read, "stored": r.stored, "quarantined": r.quarantined}
        if name == "ingest_csv":
            target.unlink(missing_ok=True)
    else:
        from hitlgov.metrics import agreement, drift, fairness, inventory, oversight, roi
        from hitlgov.metrics.source import Filter, Source
        from hitlgov.metrics.summary import compute_metrics, resolve_period

        if name == "metrics_cached":
            return metrics_cached(db, size)
        if name == "report":
            return report_timing(db, size)
        if name == "dashboard":
            return dashboard_timing(db, size)
        if name == "scale":
            return scale_summary(size)

        with Source.open(db) as src:
            flt = resolve_period(src, Filter())
            t0 = time.perf_counter()
            if name == "metrics_full":
                m = compute_metrics(src, flt)
                extra = {"findings": len(m["findings"])}
            elif name == "metrics_without_reliance":  # the same run with issue 17's families switched off
                from hitlgov.metrics import gwet_stats, reliance_evidence

                reliance_evidence.reliance_blocks = lambda *a, **k: {"reliance": {"by_reviewer": [], "evidence": []}}
                gwet_stats.gwet_summary = lambda *a, **k: {}
                m = compute_metrics(src, flt)
                extra = {"findings": len(m["findings"])}
            elif name == "oversight":
                oversight.oversight_summary(src, flt)
                oversight.by_model_version(src, flt)
                oversight.trend(src, flt)
                oversight.automation_bias(src, flt)
                oversight.reviewer_accuracy(src, flt)
            elif name == "agreement":
                agreement.agreement_summary(src, flt)
            elif name == "fairness":
                fairness.fairness_summary(src, flt)
            elif name == "drift":
                drift.drift_summary(src, flt, period=(flt.start, flt.end))
            elif name == "roi":
                roi.roi_summary(src, flt)
                roi.roi_trend(src, flt)
            elif name == "inventory":
                inventory.counts(src, flt)
                inventory.retention(src, flt)
                inventory.completeness(src, flt)
            elif name == "reliance":  # issue 17's families: what they add to metrics_full
                from hitlgov.metrics import gwet_stats, reliance_evidence

                reliance_evidence.reliance_blocks(src, flt)
                ratings, _ = agreement.multi_review_ratings(src, flt)
                gwet_stats.gwet_summary(ratings, n_boot=1000)
            elif name == "fairness_vs_metricframe":
                extra = fairness_comparison(src, flt)
    return {"step": name, "size": size, "seconds": round(time.perf_counter() - t0, 3),
            "peak_mb": round(_peak_mb()), **extra}


def metrics_cached(db: Path, size: int) -> dict:
    """compute_metrics served from the store's result cache: the first call computes and writes it
    when the store closes, the second (timed) reads it; both documents must be identical."""
    import os

    from hitlgov import result_cache, store
    from hitlgov.metrics.source import Filter, Source
    from hitlgov.metrics.summary import compute_metrics

    with store.connect(db) as con:
        con.execute(f"DROP TABLE IF EXISTS {result_cache.TABLE}")  # start cold
    t0 = time.perf_counter()
    with Source.open(db) as src:
        computed = compute_metrics(src, Filter(), cache=True)
    miss = time.perf_counter() - t0
    t0 = time.perf_counter()
    with store.connect(db, read_only=True) as con:
        result_cache.data_version(con)
    version_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    with Source.open(db) as src:
        cached = compute_metrics(src, Filter(), cache=True)
    hit = time.perf_counter() - t0
    assert "HITLGOV_NO_CACHE" not in os.environ
    return {"step": "metrics_cached", "size": size, "seconds": round(hit, 3), "peak_mb": round(_peak_mb()),
            "miss_seconds": round(miss, 3), "data_version_seconds": round(version_s, 3),
            "identical": json.dumps(cached, sort_keys=True) == json.dumps(computed, sort_keys=True)}


def report_timing(db: Path, size: int) -> dict:
    """``hitlgov report --kind compliance`` on the store: computed from the tables (the result cache
    off, as on the first report after an ingestion) and again served from the result cache."""
    import os

    exe = str(Path(sys.executable).with_name("hitlgov"))
    out = OUT / f"{size}" / "report.pdf"
    cmd = [exe, "report", "--kind", "compliance", "--db", str(db), "--out", str(out)]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, env=dict(os.environ, HITLGOV_NO_CACHE="1"))
    cold = time.perf_counter() - t0
    subprocess.run(cmd, check=True, capture_output=True)  # fills the cache
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    cached = time.perf_counter() - t0
    return {"step": "report", "size": size, "seconds": round(cold, 2), "peak_mb": "",
            "cached_seconds": round(cached, 2), "pdf_kb": round(out.stat().st_size / 1024), "target_s": 30,
            "command": " ".join(["hitlgov", *cmd[1:]])}


def dashboard_timing(db: Path, size: int) -> dict:
    """bench/dashboard_timing.py in the browser on this store; it writes its own table into the
    Dashboard section of bench/RESULTS.md (beside the other store sizes); the worst page per
    column is reported here."""
    run = subprocess.run([sys.executable, str(ROOT / "bench" / "dashboard_timing.py"), "--db", str(db), "--browser",
                          "--no-apptest", "--write"], capture_output=True, text=True)
    if run.returncode != 0:
        raise SystemExit(run.stderr[-2000:])
    worst: dict[str, float] = {}
    for line in run.stdout.splitlines():  # "  Page   uncomputed  1.00 s  reload ..." lines
        parts = line.split()
        for i, word in enumerate(parts):
            if word in ("uncomputed", "reload", "warm", "filter_change") and i + 1 < len(parts):
                worst[word] = max(worst.get(word, 0.0), float(parts[i + 1]))
        if "cold after serve" in line:
            worst["cold"] = max(worst.get("cold", 0.0), float(line.split("cold after serve")[1].split()[0]))
    return {"step": "dashboard", "size": size, "seconds": worst.get("cold", ""), "peak_mb": "",
            **{f"worst_{k}_s": round(v, 2) for k, v in worst.items()},
            "targets": "cold 5 s, warm 1 s, filter change 2 s (Dashboard section)"}


def scale_summary(size: int) -> dict:
    """The in-place scale run (bench/scale.py: generate, register, metrics on DuckDB) at ``size``
    rows; its own table goes to bench/SCALE_RESULTS.md by hand."""
    run = subprocess.run([sys.executable, str(ROOT / "bench" / "scale.py"), "--rows", str(size)],
                         capture_output=True, text=True)
    if run.returncode != 0:
        raise SystemExit(run.stderr[-2000:])
    steps = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    metrics = next((r for r in steps if r.get("step") == "metrics_duckdb"), {})
    return {"step": "scale", "size": size, "seconds": metrics.get("seconds", ""),
            "peak_mb": metrics.get("tree_peak_mb", metrics.get("peak_mb", "")), "target_s": 60,
            **{f"{r['step']}_s": r.get("seconds") for r in steps if "step" in r}}


def _wall(cmd: list[str], repeat: int = 3) -> float:
    """Median wall time of a command (a fresh process each time)."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2]


def fixed_cost() -> dict:
    """Start-up cost of the commands on a small (1,000-case) store, each against the reference
    ``python -c "import pandas, duckdb"`` measured in the same run (medians of 3)."""
    from hitlgov import demo, store
    from hitlgov.ingest.pipeline import ingest_path
    from hitlgov.mapping import load_mapping

    small = OUT / "small"
    db = small / "store.duckdb"
    if not db.exists():
        demo.generate(small, cases=1000, seed=0)
        with store.connect(db) as con:
            ingest_path(con, small / "decisions.csv", mapping=load_mapping(small / "mapping.yaml"))
    exe = str(Path(sys.executable).with_name("hitlgov"))
    ref = _wall([sys.executable, "-c", "import pandas, duckdb"])
    status = _wall([exe, "status", "--json", "--db", str(db)])
    cold = _wall([exe, "metrics", "--json", "--no-cache", "--db", str(db)], repeat=1)
    subprocess.run([exe, "metrics", "--json", "--db", str(db)], check=True, capture_output=True)  # fills the cache
    cached = _wall([exe, "metrics", "--json", "--db", str(db)])
    return {"reference_import_pandas_duckdb_s": round(ref, 2), "status_s": round(status, 2),
            "status_ratio": round(status / ref, 2), "metrics_cold_s": round(cold, 2),
            "metrics_cold_ratio": round(cold / ref, 2), "metrics_cached_s": round(cached, 2),
            "metrics_cached_ratio": round(cached / ref, 2)}


def fairness_comparison(src, flt) -> dict:
    """Our path vs plain Fairlearn on the same rows (rows loaded before the clock starts)."""
    from hitlgov.metrics import fairness, fairness_stats

    attribute = src.config(flt.system).sensitive[0]
    label = src.config(flt.system).positive_label
    c = src.cases(flt)
    a = src.attribute(attribute)
    rows = c.left_join(a, ["system", "case_id"]).select(
        group=a.value, model_decision=c.model_decision, final_decision=c.final, outcome=c.outcome).to_pandas()
    rows = rows[rows["group"].notna()]
    t0 = time.perf_counter()
    ours = fairness.fairness_by_attribute(src, flt, attributes=attribute, positive_label=label)
    ours_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    ref = {d: fairness_stats.metricframe_reference(rows, group_col="group", pred_col=d, true_col="outcome",
                                                  positive_label=label)
           for d in ("model_decision", "final_decision")}
    mf_s = time.perf_counter() - t0
    worst = 0.0
    for d in ref:
        for g, rates in ref[d]["by_group"].items():
            for k, v in rates.items():
                if v is not None:
                    worst = max(worst, abs(v - ours[d]["by_group"][g][k]))
        for k in ("demographic_parity_difference", "demographic_parity_ratio", "equalized_odds_difference"):
            worst = max(worst, abs(ref[d][k] - ours[d][k]))
    return {"ours_seconds": round(ours_s, 3), "metricframe_seconds": round(mf_s, 3),
            "speedup": round(mf_s / ours_s, 1), "max_abs_difference": worst, "rows": len(rows)}


STEPS = ["fixed_cost", "generate", "read_csv_reference", "ingest_csv", "ingest_parquet", "metrics_full",
         "metrics_without_reliance", "oversight", "agreement", "fairness", "drift", "roi", "inventory", "reliance",
         "fairness_vs_metricframe", "metrics_cached", "report", "dashboard"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1000000,10000000")
    ap.add_argument("--steps", default=",".join(STEPS))
    ap.add_argument("--write", action="store_true", help="Replace the generated section of bench/RESULTS.md")
    ap.add_argument("--scale-rows", type=int, default=0,
                    help="also run the in-place scale benchmark (bench/scale.py) at this many rows (make bench: 100M)")
    ap.add_argument("--step", help=argparse.SUPPRESS)
    ap.add_argument("--size", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.step:
        print(json.dumps(step(args.step, args.size)))
        return
    results = []
    sizes = [int(s) for s in args.sizes.split(",")]
    for name in args.steps.split(","):
        if name == "fixed_cost":  # once, not per size
            results.append(_run(name, 0))
    for size in sizes:
        for name in args.steps.split(","):
            if name == "fixed_cost":
                continue
            results.append(_run(name, size))
    if args.scale_rows:
        results.append(_run("scale", args.scale_rows))
    command = (f"python bench/run.py --sizes {args.sizes} --steps {args.steps}"
               + (f" --scale-rows {args.scale_rows}" if args.scale_rows else "") + (" --write" if args.write else ""))
    text = report(results, command)
    print(text)
    if args.write:
        write_results(text)


def _run(name: str, size: int) -> dict:
    run = subprocess.run([sys.executable, __file__, "--step", name, "--size", str(size)],
                         capture_output=True, text=True)
    if run.returncode != 0:
        print(run.stderr[-2000:], file=sys.stderr)
        raise SystemExit(f"step {name} failed for {size}")
    res = json.loads(run.stdout.strip().splitlines()[-1])
    print(json.dumps(res), file=sys.stderr)
    return res


def machine() -> str:
    import os

    import duckdb

    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (f"{platform.machine()}, {os.cpu_count()} cores, {mem:.0f} GB RAM, Python {platform.python_version()}, "
            f"DuckDB {duckdb.__version__}; load average at the end {load} (the machine is shared)")


def report(results: list[dict], command: str) -> str:
    """The generated Markdown: figures, and each one's ratio to its same-run reference."""
    lines = [f"Generated by `{command}` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {machine()}.", ""]
    for r in results:
        if r["step"] == "fixed_cost":
            ref = r["reference_import_pandas_duckdb_s"]
            lines += ["| command (1,000-case store) | seconds | reference `python -c \"import pandas, duckdb\"` (s) "
                      "| ratio | target |", "|---|---:|---:|---:|---|",
                      f"| `hitlgov status --json` | {r['status_s']} | {ref} | {r['status_ratio']}x | 2x |",
                      f"| `hitlgov metrics --json --no-cache` (cold, drift included) | {r['metrics_cold_s']} | {ref} "
                      f"| {r['metrics_cold_ratio']}x | 4x |",
                      f"| `hitlgov metrics --json` (cached result) | {r['metrics_cached_s']} | {ref} "
                      f"| {r['metrics_cached_ratio']}x | 4x |", ""]
    refs = {r["size"]: r["seconds"] for r in results if r["step"] == "read_csv_reference"}
    rows = [r for r in results if r["step"] != "fixed_cost"]
    if rows:
        lines += ["| cases | step | seconds | peak MB | ratio to DuckDB `read_csv` (same run) | notes |",
                  "|---:|---|---:|---:|---:|---|"]
        for r in rows:
            notes = ", ".join(f"{k}={v}" for k, v in r.items() if k not in ("step", "size", "seconds", "peak_mb"))
            ratio = ""
            if r["step"] in ("ingest_csv", "ingest_parquet") and refs.get(r["size"]) and r.get("seconds"):
                ratio = f"{r['seconds'] / refs[r['size']]:.1f}x (target 3x)"
            elif r.get("target_s") and r.get("seconds") not in ("", None):
                ratio = f"{r['seconds'] / r['target_s']:.2f}x of the {r['target_s']} s target"
            elif r["step"] == "dashboard" and r.get("seconds") not in ("", None):
                ratio = f"worst cold {r['seconds'] / 5:.2f}x of the 5 s target"
            lines.append(f"| {r['size']:,} | {r['step']} | {r.get('seconds', '')} | {r.get('peak_mb', '')} | {ratio} "
                         f"| {notes} |")
    return "\n".join(lines) + "\n"


START, END = "<!-- bench:generated:start -->", "<!-- bench:generated:end -->"


def write_results(text: str) -> None:
    """Replace the generated section of bench/RESULTS.md (added after the title if missing)."""
    path = ROOT / "bench" / "RESULTS.md"
    old = path.read_text(encoding="utf-8")
    block = f"{START}\n## Latest `make bench` run (generated)\n\n{text}{END}"
    if START in old and END in old:
        new = old[:old.index(START)] + block + old[old.index(END) + len(END):]
    else:
        head, _, rest = old.partition("\n")
        new = f"{head}\n\n{block}\n{rest}"
    path.write_text(new, encoding="utf-8")


if __name__ == "__main__":
    main()
