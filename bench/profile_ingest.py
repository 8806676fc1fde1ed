"""Where ingestion's time goes: every SQL statement of one ``ingest_path`` run, timed, grouped by
the function that issued it (pipeline step or audit step).

    flock /work/wt/bench.lock python bench/profile_ingest.py FILE MAPPING.yaml [--top 25] [--explain]

The store connection is wrapped in a proxy that times ``execute``/``append`` (the caller's
function name labels the statement); the staging steps are timed per pipeline function. ``--explain``
also runs DuckDB's ``EXPLAIN ANALYZE`` on the slowest statements' operators (re-run on a copy
of the store, never on the measured run). The figures go into bench/RESULTS.md (Ingestion
profile) with the command.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TIMES: dict[tuple[str, str], list[float]] = defaultdict(list)
#: CPU seconds (all threads of this process, DuckDB's included): on a shared machine wall time
#: depends on everyone else's load, CPU time much less
CPU: dict[tuple[str, str], float] = defaultdict(float)


def _cpu() -> float:
    import resource

    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
ORDER: list[tuple[str, str]] = []
#: how much the process's peak RSS (MB) grew during each step: where the memory peak is reached
GROWTH: dict[tuple[str, str], float] = defaultdict(float)


def _maxrss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Timed:
    """A DuckDB connection whose statements are timed (everything else passes through)."""

    def __init__(self, con, label: str):
        self._con, self._label = con, label

    def __getattr__(self, name):
        return getattr(self._con, name)

    def _time(self, what: str, fn, *args, **kwargs):
        caller = sys._getframe(2).f_code.co_name
        key = (f"{self._label}:{caller}", " ".join(what.split())[:90])
        t0, c0, m0 = time.perf_counter(), _cpu(), _maxrss_mb()
        try:
            return fn(*args, **kwargs)
        finally:
            if key not in TIMES:
                ORDER.append(key)
            TIMES[key].append(time.perf_counter() - t0)
            CPU[key] += _cpu() - c0
            GROWTH[key] += _maxrss_mb() - m0

    def execute(self, sql, *args, **kwargs):
        return self._time(sql, self._con.execute, sql, *args, **kwargs)

    def append(self, table, *args, **kwargs):
        return self._time(f"append {table}", self._con.append, table, *args, **kwargs)


def _timed_function(fn, label: str):
    def timed(*args, **kwargs):
        t0, c0, m0 = time.perf_counter(), _cpu(), _maxrss_mb()
        try:
            return fn(*args, **kwargs)
        finally:
            key = (label, "(whole function)")
            if key not in TIMES:
                ORDER.append(key)
            TIMES[key].append(time.perf_counter() - t0)
            CPU[key] += _cpu() - c0
            GROWTH[key] += _maxrss_mb() - m0
    return timed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("file")
    ap.add_argument("mapping")
    ap.add_argument("--top", type=int, default=30)
    args = ap.parse_args()

    from hitlgov import store
    from hitlgov.ingest import pipeline
    from hitlgov.mapping import load_mapping

    # the staging connection is timed per pipeline function (its readers use DuckDB's replacement
    # scans of Python variables, which look at the caller's frame: a proxy would hide them)
    for name in ("snapshot", "choose_reader", "read_source", "_materialise_source", "csv_rejects",
                 "apply_default_ts", "stage"):
        setattr(pipeline, name, _timed_function(getattr(pipeline, name), f"staging:{name}"))
    folder = Path(tempfile.mkdtemp(prefix="hitlgov-profile-"))
    db = folder / "store.duckdb"
    try:
        t0, c0 = time.perf_counter(), _cpu()
        with store.connect(db) as raw:
            con = Timed(raw, "store")
            result = pipeline.ingest_path(con, args.file, mapping=load_mapping(args.mapping))
        total, cpu_total = time.perf_counter() - t0, _cpu() - c0
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    timed = sum(sum(v) for v in TIMES.values())
    cpu_timed = sum(CPU.values())
    print(f"rows {result.rows_read:,}, stored {result.stored:,}: {total:.2f} s end to end ({cpu_total:.2f} CPU s), "
          f"{timed:.2f} s ({cpu_timed:.2f} CPU s) in the timed steps, the rest elsewhere (Python, opening)\n")
    by_step: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for key, v in TIMES.items():
        by_step[key[0]][0] += sum(v)
        by_step[key[0]][1] += CPU[key]
    print("| step (connection:function) | seconds | CPU seconds | CPU share |\n|---|---:|---:|---:|")
    for step, (s, c) in sorted(by_step.items(), key=lambda kv: -kv[1][1]):
        print(f"| {step} | {s:.2f} | {c:.2f} | {c / cpu_total:.0%} |")
    print("\n| statement | calls | seconds | CPU seconds | peak RSS growth (MB) |\n|---|---:|---:|---:|---:|")
    for key in sorted(ORDER, key=lambda k: -CPU[k])[:args.top]:
        print(f"| `{key[0]}` {key[1].replace('|', '/')} | {len(TIMES[key])} | {sum(TIMES[key]):.2f} | {CPU[key]:.2f} "
              f"| {GROWTH[key]:.0f} |")
    print(f"\npeak RSS {_maxrss_mb():.0f} MB; the steps that raised it:")
    for key in sorted(GROWTH, key=lambda k: -GROWTH[k])[:8]:
        if GROWTH[key] >= 1:
            print(f"  +{GROWTH[key]:.0f} MB  {key[0]} {key[1][:70]}")


if __name__ == "__main__":
    main()
