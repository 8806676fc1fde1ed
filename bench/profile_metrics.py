"""Where the full ``metrics`` run spends its time: seconds per metric family, and per query.

Usage::

    python bench/profile_metrics.py --db bench/out/10000000/store.duckdb [--old-tree DIR] [--json OUT] [--queries]
    python bench/profile_metrics.py --compare BEFORE.json AFTER.json

Runs ``compute_metrics(source, Filter(), cache=False)`` (what ``metrics --json --no-cache`` computes,
drift and bootstrap included) on a store opened read-only (``Source.open``: nothing is written,
not even the result cache), with every family ``summary._compute`` calls wrapped in a timer.
``--old-tree DIR`` runs another checkout's code (``git archive`` of ``hitlgov/ metrics/ dashboard/
reports/``, imported through ``bench/old_code.py``) in the same interpreter and libraries, so two
trees can be timed side by side. ``--queries`` also lists the engine calls (``execute``,
``to_pyarrow``, ``cache``) by the metrics line that made them, costliest first. ``--json OUT``
keeps the document; ``--compare`` lists every difference of two documents (numbers to 1e-12,
``bench/keys.py``'s comparison).

Prints one JSON line: ``total`` (the ``compute_metrics`` call), ``open`` and one entry per family
(a family's time includes the materialisation of the filter's cases and reviews when it is the
first to read them: ``oversight.oversight_summary`` in a full run).
"""
from __future__ import annotations

import argparse
import functools
import json
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

#: (module, functions) that summary._compute calls, in the order it calls them
FAMILIES = [
    ("summary", ["resolve_period"]),
    ("oversight", ["oversight_summary", "high_risk_coverage", "automation_bias", "by_model_version",
                   "reviewer_accuracy"]),
    ("inventory", ["counts", "retention", "completeness", "outside_read_window"]),
    ("identity", ["confusable_reviewer_ids"]),
    ("review_stage", ["rejection_rate"]),
    ("agreement", ["agreement_summary"]),
    ("fairness", ["fairness_summary"]),
    ("roi", ["roi_summary"]),
    ("competence", ["untrained_review_share"]),
    ("reliance_evidence", ["reliance_blocks"]),
    ("drift", ["drift_summary"]),
]


def _wrap(module, name: str, times: dict) -> None:
    f = getattr(module, name)
    label = f"{module.__name__.rsplit('.', 1)[-1]}.{name}"

    @functools.wraps(f)
    def timed(*a, **k):
        t = time.perf_counter()
        try:
            return f(*a, **k)
        finally:
            times[label] = times.get(label, 0.0) + time.perf_counter() - t
    setattr(module, name, timed)


def _watch_queries(log: list) -> None:
    """Time every engine call, attributed to the innermost metrics line outside source.py."""
    import ibis.expr.types as ir

    depth = [0]

    def where() -> str:
        stack = [f for f in traceback.extract_stack()[:-3] if "/metrics/" in f.filename]
        outside = [f for f in stack if not f.filename.endswith("source.py")] or stack
        f = outside[-1] if outside else traceback.extract_stack()[-4]
        return f"{Path(f.filename).name}:{f.lineno} {f.name}"

    def wrap(cls, name):
        f = cls.__dict__[name]

        @functools.wraps(f)
        def g(self, *a, **k):
            if depth[0]:
                return f(self, *a, **k)
            w, t = where(), time.perf_counter()
            depth[0] += 1
            try:
                return f(self, *a, **k)
            finally:
                depth[0] -= 1
                log.append((time.perf_counter() - t, name, w))
        setattr(cls, name, g)

    for cls, name in [(ir.Expr, "execute"), (ir.Expr, "to_pyarrow"), (ir.Table, "to_pyarrow"),
                      (ir.Scalar, "to_pyarrow"), (ir.Column, "to_pyarrow"), (ir.Table, "cache")]:
        wrap(cls, name)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db")
    ap.add_argument("--old-tree")
    ap.add_argument("--json")
    ap.add_argument("--queries", action="store_true")
    ap.add_argument("--compare", nargs=2, metavar=("BEFORE", "AFTER"))
    a = ap.parse_args()
    if a.compare:
        from keys import differences

        diff = differences(json.loads(Path(a.compare[0]).read_text()), json.loads(Path(a.compare[1]).read_text()))
        print(json.dumps({"differences": len(diff), "first": diff[:20]}))
        sys.exit(1 if diff else 0)
    if a.old_tree:
        import old_code

        old_code.use(a.old_tree)
    import importlib

    from hitlgov.metrics import summary
    from hitlgov.metrics.source import Filter, Source

    times: dict[str, float] = {}
    for mod, names in FAMILIES:
        m = importlib.import_module(f"hitlgov.metrics.{mod}")
        for n in names:
            _wrap(m, n, times)
    log: list = []
    if a.queries:
        _watch_queries(log)
    t0 = time.perf_counter()
    with Source.open(a.db) as src:
        t1 = time.perf_counter()
        doc = summary.compute_metrics(src, Filter(), cache=False)
        t2 = time.perf_counter()
    if a.json:
        Path(a.json).write_text(json.dumps(doc, sort_keys=True, allow_nan=True))
    print(json.dumps({"tree": a.old_tree or "this", "db": a.db, "total": round(t2 - t1, 3),
                      "open": round(t1 - t0, 3), **{k: round(v, 3) for k, v in times.items()}}))
    if a.queries:
        agg: dict = {}
        for s, n, w in log:
            e = agg.setdefault((n, w), [0, 0.0])
            e[0] += 1
            e[1] += s
        print(f"{len(log)} engine calls, {sum(x[0] for x in log):.2f} s")
        for (n, w), (k, s) in sorted(agg.items(), key=lambda kv: -kv[1][1])[:40]:
            print(f"{s:8.3f} {k:3d} {n:10s} {w}")


if __name__ == "__main__":
    main()
