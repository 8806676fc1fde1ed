"""Small aggregates the dashboard needs that no other metric family returns yet.

Each is an Ibis aggregation over :class:`metrics.source.Source` (only binned or per-period
results leave the engine), so the dashboard stays free of SQL and arithmetic on data.

* :func:`system_catalog` -- per system: cases, reviews, reviewed cases, first/last decision.
* :func:`score_trend` -- per period: mean and 10/50/90th percentiles of ``model_score`` and
  the share of positive model decisions (score and decision drift over time).
* :func:`distribution` -- one column's distribution in a reference and a current window,
  binned in the engine on common bin edges (numeric) or as category shares (categorical), for
  drift overlays.
"""
from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.types as ir
import pandas as pd

from metrics._values import plain, ratio, records
from metrics.oversight import PERIODS
from metrics.source import Filter, Source

OTHER = "(other)"
MISSING = "(missing)"


def system_catalog(source: Source) -> list[dict]:
    """``[{"system", "cases", "reviewed_cases", "reviews", "first", "last"}]`` sorted by system."""
    c = source.cases(Filter())
    df = c.group_by("system").aggregate(
        cases=c.count(),
        reviewed_cases=c.reviewed.cast("int64").sum(),
        reviews=c.n_reviews.sum(),
        first=c.ts.min(),
        last=c.ts.max(),
    ).to_pandas()
    if df.empty:
        return []
    return records(df.sort_values("system"))


def score_trend(source: Source, flt: Filter = Filter(), *, period: str = "month",
                positive_label: str | None = None) -> list[dict]:
    """Per ``period`` of the decision time: cases, the model score's mean and 10/50/90th
    percentiles (over cases with a score), and the share of model decisions equal to the positive
    label (None when the label is unknown)."""
    if period not in PERIODS:
        raise ValueError(f"period must be one of {', '.join(PERIODS)}, not {period!r}")
    label = positive_label or source.config(flt.system).positive_label
    c = source.cases(flt)
    c = c.mutate(period=c.ts.truncate(PERIODS[period]))
    aggs = dict(
        cases=c.count(),
        scored=c.model_score.count(),
        score_mean=c.model_score.mean(),
        score_p10=c.model_score.quantile(0.1),
        score_p50=c.model_score.quantile(0.5),
        score_p90=c.model_score.quantile(0.9),
    )
    if label is not None:
        aggs["positive"] = (c.model_decision == label).cast("int64").sum()
    df = c.group_by("period").aggregate(**aggs).to_pandas()
    if df.empty:
        return []
    out = []
    for row in df.sort_values("period").to_dict(orient="records"):
        out.append(plain({
            "period": pd.Timestamp(row["period"]).date().isoformat(),
            "cases": int(row["cases"]),
            "scored_cases": int(row["scored"]),
            "score_mean": row["score_mean"],
            "score_p10": row["score_p10"],
            "score_p50": row["score_p50"],
            "score_p90": row["score_p90"],
            "positive_rate": ratio(row["positive"], row["cases"]) if label is not None else None,
        }))
    return out


def _column_values(source: Source, flt: Filter, column: str) -> ir.Table:
    """``value`` (string) of ``column`` per case in the filter: ``model_score`` or an attribute."""
    c = source.cases(flt)
    if column == "model_score":
        return c.select(value=c.model_score.cast("string"))
    a = source.attribute(column)
    j = c.select("system", "case_id").left_join(a, ["system", "case_id"])
    return j.select(value=j.value)


def distribution(source: Source, flt: Filter, column: str, *, reference: tuple[dt.date, dt.date],
                 current: tuple[dt.date, dt.date], bins: int = 30, top: int = 12) -> dict:
    """One column's distribution in two windows of the filter, for a reference-vs-current overlay.

    Numeric when every non-empty value in both windows parses as a number (as Evidently is told
    in :mod:`metrics.drift`): ``bins`` equal-width bins on common edges spanning the 1st..99th
    percentile of both windows together (values outside go to the end bins). Otherwise
    categorical: the ``top`` most frequent values over both windows, the rest as ``(other)``,
    empty values as ``(missing)``. Shares are of each window's cases.

    Returns ``{"column", "kind": "numeric"|"categorical"|None, "reference": {"from","to","cases"},
    "current": {...}, "bins": [{"label", "from", "to", "reference", "current",
    "reference_share", "current_share"}]}``; ``kind`` is None when both windows are empty.
    """
    windows = {"reference": reference, "current": current}
    parts = []
    for name, (start, end) in windows.items():
        v = _column_values(source, flt.but(start=start, end=end), column)
        parts.append(v.mutate(window=ibis.literal(name)))
    t = parts[0].union(parts[1])
    num = t.value.try_cast("float64")
    t = t.mutate(num=num)
    stats = t.aggregate(
        n=t.count(),
        non_empty=t.value.count(),
        parsed=t.num.count(),
        lo=t.num.quantile(0.01),
        hi=t.num.quantile(0.99),
    ).to_pandas().iloc[0]
    sizes = t.group_by("window").aggregate(cases=t.count()).to_pandas()
    size = {w: int(n) for w, n in zip(sizes["window"], sizes["cases"])}
    out = {"column": column, "kind": None, "bins": []}
    for name, (start, end) in windows.items():
        out[name] = {"from": start.isoformat(), "to": end.isoformat(), "cases": size.get(name, 0)}
    if int(stats["n"]) == 0:
        return out
    numeric = int(stats["non_empty"]) > 0 and int(stats["parsed"]) == int(stats["non_empty"])
    if numeric:
        lo, hi = float(stats["lo"]), float(stats["hi"])
        if hi <= lo:
            hi = lo + 1.0
        width = (hi - lo) / bins
        b = ibis.greatest(ibis.least(((t.num - lo) / width).floor().cast("int64"), bins - 1), 0)
        df = (t.filter(t.num.notnull()).mutate(bin=b).group_by(["window", "bin"])
              .aggregate(rows=lambda x: x.count()).to_pandas())
        counts = {(w, int(k)): int(n) for w, k, n in zip(df["window"], df["bin"], df["rows"])}
        for i in range(bins):
            f, to = lo + i * width, lo + (i + 1) * width
            row = {"label": f"{f:.4g}–{to:.4g}", "from": f, "to": to}
            _shares(row, counts.get(("reference", i), 0), counts.get(("current", i), 0), size)
            out["bins"].append(row)
        out["kind"] = "numeric"
        return out
    label = t.value.fill_null(MISSING)
    t = t.mutate(label=label)
    df = t.group_by(["window", "label"]).aggregate(rows=lambda x: x.count()).to_pandas()
    totals = df.groupby("label")["rows"].sum().sort_values(ascending=False, kind="stable")
    keep = list(totals.index[:top])
    df["label"] = [lbl if lbl in keep else OTHER for lbl in df["label"]]
    df = df.groupby(["window", "label"], as_index=False)["rows"].sum()
    counts = {(w, lbl): int(n) for w, lbl, n in zip(df["window"], df["label"], df["rows"])}
    for lbl in keep + ([OTHER] if OTHER in set(df["label"]) else []):
        row = {"label": str(lbl), "from": None, "to": None}
        _shares(row, counts.get(("reference", lbl), 0), counts.get(("current", lbl), 0), size)
        out["bins"].append(row)
    out["kind"] = "categorical"
    return out


def _shares(row: dict, ref: int, cur: int, size: dict) -> None:
    row.update(reference=ref, current=cur, reference_share=ratio(ref, size.get("reference", 0)),
               current_share=ratio(cur, size.get("current", 0)))


KPI_KEYS = ("cases", "reviewed_cases", "automation_rate", "review_rate", "override_rate", "escalation_rate",
            "reviewer_hours", "cost", "errors_caught", "errors_introduced", "net_errors_prevented")


def kpis(source: Source, flt: Filter, *, hourly_rate: float | None = None) -> dict:
    """The executive tiles for the filter and for the same-length period just before it.

    Values come from :func:`metrics.oversight.oversight_summary` and :func:`metrics.roi.roi_summary`.
    Returns ``{"current": {...}, "previous": {...} | None, "delta": {...}, "previous_period":
    {"from", "to"} | None}``; ``delta`` = current - previous per key (None where either side is
    undefined or the previous period holds no case).
    """
    from metrics import oversight, roi

    rate = roi.DEFAULT_HOURLY_RATE if hourly_rate is None else float(hourly_rate)

    def one(f: Filter) -> dict:
        o = oversight.oversight_summary(source, f)
        r = roi.roi_summary(source, f, hourly_rate=rate)
        merged = {**{k: o[k] for k in ("cases", "reviewed_cases", "automation_rate", "review_rate",
                                        "override_rate", "escalation_rate")},
                  **{k: r[k] for k in ("reviewer_hours", "cost", "errors_caught", "errors_introduced",
                                       "net_errors_prevented")}}
        merged["hourly_rate"] = rate
        return merged

    current = one(flt)
    prev_flt = flt.previous_period()
    previous = one(prev_flt) if prev_flt is not None else None
    if previous is not None and not previous["cases"]:
        previous = None
    delta = {k: (current[k] - previous[k]) if previous is not None and current[k] is not None
             and previous[k] is not None else None for k in KPI_KEYS}
    return plain({
        "current": current,
        "previous": previous,
        "delta": delta,
        "previous_period": ({"from": prev_flt.start.isoformat(), "to": prev_flt.end.isoformat()}
                            if prev_flt is not None else None),
    })


def findings(source: Source, flt: Filter, *, policy_path: str | None = None, include_drift: bool = False,
             n_boot: int = 0) -> dict:
    """The policy's pass/warn/fail findings for the filter (:func:`metrics.summary.compute_metrics`).

    Drift is left out by default (Evidently is slow; the Drift page runs it on demand) and the
    agreement bootstrap is skipped (``n_boot=0``): findings use point estimates only.
    """
    from metrics.policy import load_policy
    from metrics.summary import compute_metrics

    m = compute_metrics(source, flt, policy=load_policy(policy_path), include_drift=include_drift, n_boot=n_boot)
    return {"period": m["period"], "findings": m["findings"], "not_evaluated": m["findings_not_evaluated"],
            "policy": m["policy"]}


def system_context(source: Source, *, system: str | None) -> dict:
    """What the filters offer for one system: its model versions, the values of each sensitive
    attribute, and its configuration (positive label, label order, sensitive and feature columns)."""
    flt = Filter(system=system)
    cfg = source.config(system)
    return {
        "system": system,
        "versions": source.model_versions(flt),
        "segments": source.segments(flt),
        "positive_label": cfg.positive_label,
        "label_order": cfg.label_order,
        "sensitive": cfg.sensitive,
        "features": cfg.features,
    }
