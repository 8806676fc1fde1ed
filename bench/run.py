"""Benchmarks: ingestion, the full metrics run, each metric family, and fairness vs plain Fairlearn.

Usage::

    python bench/run.py                    # 1M and 10M cases (generates data under bench/out/)
    python bench/run.py --sizes 1000000    # one size

Each measured step runs in its own subprocess, so the peak memory (max RSS) reported is that
step's own. The fairness comparison times our engine path (one GROUP BY + rate derivation)
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


STEPS = ["generate", "ingest_csv", "ingest_parquet", "metrics_full", "metrics_without_reliance", "oversight", "agreement", "fairness", "drift",
         "roi", "inventory", "reliance", "fairness_vs_metricframe"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1000000,10000000")
    ap.add_argument("--steps", default=",".join(STEPS))
    ap.add_argument("--step", help=argparse.SUPPRESS)
    ap.add_argument("--size", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.step:
        print(json.dumps(step(args.step, args.size)))
        return
    results = []
    for size in [int(s) for s in args.sizes.split(",")]:
        for name in args.steps.split(","):
            if name == "ingest_csv" and size > 2_000_000:
                continue  # the CSV ingestion claim is about 1M rows; 10M stores load from Parquet
            run = subprocess.run([sys.executable, __file__, "--step", name, "--size", str(size)],
                                 capture_output=True, text=True)
            if run.returncode != 0:
                print(run.stderr[-2000:], file=sys.stderr)
                raise SystemExit(f"step {name} failed for {size}")
            res = json.loads(run.stdout.strip().splitlines()[-1])
            results.append(res)
            print(json.dumps(res), file=sys.stderr)
    print(f"\n{time.strftime('%Y-%m-%d')} on {platform.machine()}, {platform.python_version()}; "
          f"command: python bench/run.py --sizes {args.sizes}\n")
    print("| cases | step | seconds | peak MB | notes |\n|---:|---|---:|---:|---|")
    for r in results:
        notes = ", ".join(f"{k}={v}" for k, v in r.items() if k not in ("step", "size", "seconds", "peak_mb"))
        print(f"| {r['size']:,} | {r['step']} | {r.get('seconds', '')} | {r.get('peak_mb', '')} | {notes} |")


if __name__ == "__main__":
    main()
