"""What continuous oversight recorded for a period: each finding's monitor history and the
remediation items, for the compliance report.

Definitions:

* a **spell** is a run of consecutive monitor evaluations of one finding (system, metric) with
  the same status; it has a first and a last evaluation and a number of runs. The report shows
  the spells of the monitor runs whose window ended inside the period;
* a remediation item is **overdue** when it is not resolved and its due day is before ``as_of``.

These are records the product writes (``findings_history``, ``remediation``), read with Ibis
from the same source as the metrics; a source without those tables (another engine) gives
``None``. They are shown in the report but kept out of its digest: a later monitor run must not
make an earlier report fail ``--verify``.
"""
from __future__ import annotations

import datetime as dt

import ibis
from hitlgov.metrics.source import Filter, Source

MAX_ROWS = 20_000


def spells(rows: list[dict]) -> list[dict]:
    """Group history rows (sorted by system, metric, time) into spells."""
    out: list[dict] = []
    for r in rows:
        last = out[-1] if out else None
        if last and (last["system"], last["metric"], last["status"]) == (r["system"], r["metric"], r["status"]):
            last["until"], last["runs"] = r["evaluated_at"], last["runs"] + 1
        else:
            out.append({"system": r["system"], "metric": r["metric"], "status": r["status"],
                        "since": r["evaluated_at"], "until": r["evaluated_at"], "runs": 1})
    return out


def monitoring_record(source: Source, flt: Filter = Filter(), *, as_of: dt.date) -> dict | None:
    """``{"spells", "remediation", "overdue"}`` for the filter's system and period, or None."""
    try:
        h = source.table("findings_history")
        rem = source.table("remediation")
    except Exception:  # noqa: BLE001 - an engine without the product's own tables
        return None
    if flt.system is not None:
        h = h.filter(h.system == flt.system)
        rem = rem.filter(rem.system == flt.system)
    if flt.start is not None:
        h = h.filter(h.window_to >= ibis.date(flt.start))
    if flt.end is not None:
        h = h.filter(h.window_to <= ibis.date(flt.end))
    df = (h.select("system", "metric", "status", "evaluated_at")
          .order_by(["system", "metric", "evaluated_at"]).limit(MAX_ROWS).to_pandas())
    rows = [{"system": s, "metric": m, "status": st, "evaluated_at": t.isoformat(timespec="seconds")}
            for s, m, st, t in df.itertuples(index=False)]
    items = rem.select("item_id", "system", "metric", "owner", "due", "state").order_by(["due", "item_id"]).to_pandas()
    remediation = [{"item_id": i, "system": s, "metric": m, "owner": o, "due": d.isoformat(), "state": st,
                    "overdue": st != "resolved" and d < as_of}
                   for i, s, m, o, d, st in ((i, s, m, o, d.date() if hasattr(d, "date") else d, st)
                                             for i, s, m, o, d, st in items.itertuples(index=False))]
    return {"spells": spells(rows), "evaluations": len(rows), "remediation": remediation,
            "overdue": sum(1 for r in remediation if r["overdue"]), "as_of": as_of.isoformat()}
