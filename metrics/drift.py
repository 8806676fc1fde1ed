"""Drift between a reference window and the current window, with Evidently's tests and defaults.

Monitored columns: the declared features, ``model_score``, the model's positive decision (0/1)
and, for reviewed cases, whether the case was overridden (0/1) -- a rising override rate is
drift in how well the model serves the reviewers. Evidently runs in
:mod:`hitlgov.metrics.drift_stats`; this module chooses the windows and draws a bounded, seeded sample
of cases from each in the engine (Evidently takes about 40 s on 1M rows, and a remote engine
must not ship whole windows).

Default windows (:func:`windows_for`; the same on the dashboard's Drift page, in the PDF and in
``metrics --json``):

* they span the **scope's own decisions** in the period -- from the first to the last decision
  date of the filter's system, model version and segment within the period -- so a model version
  that starts late (v2.0 of the demo, from 2026-05-01) or ends early has both windows on its own
  cases instead of a reference window before it existed;
* **current** = the last ``current_months`` months of that span (ending on its last decision date);
* **reference** = the first ``reference_months`` months of that span, cut to end the day before
  the current window starts: the two windows **never overlap**. In the default period (the last
  full quarter, e.g. 2026-07-01..09-30) that is reference 2026-07-01..08-31, current 2026-09-01..30
  -- the period minus the current window, as the reference's three months would otherwise have
  contained the current one.

A span no longer than the current window leaves no room for a reference window before it: the
reference window then ends before it starts and the result says drift could not be tested.
"""
from __future__ import annotations

import datetime as dt
import threading

import ibis
import ibis.expr.types as ir
import pandas as pd
from hitlgov.metrics import _preload
from hitlgov.metrics._values import plain, ratio
from hitlgov.metrics.oversight import PERIODS
from hitlgov.metrics.source import Filter, Source

OTHER = "(other)"
MISSING = "(missing)"

DEFAULT_SAMPLE = 20_000


def preload_evidently() -> threading.Thread | None:
    """Import Evidently (about 2 s) in a background thread while the engine computes the other
    metrics (:mod:`hitlgov.metrics._preload`: once per process, and safe beside crowd-kit). The
    later ``from metrics import drift_stats`` waits on Python's import lock if needed."""
    return _preload.start("hitlgov.metrics.drift_stats")


Window = tuple[dt.date, dt.date]


def default_windows(period: tuple[dt.date, dt.date], *, reference_months: int = 3,
                    current_months: int = 1) -> tuple[Window, Window]:
    """``(reference, current)`` windows inside ``period`` (inclusive date ranges): current = the
    last ``current_months`` months, reference = the first ``reference_months`` months ending at
    the latest the day before the current window (they never overlap). Too short a period for
    both gives a reference window that ends before it starts (no cases)."""
    start, end = period
    cur_start = max(_add_months(end + dt.timedelta(days=1), -current_months), start)
    ref_end = min(_add_months(start, reference_months) - dt.timedelta(days=1), cur_start - dt.timedelta(days=1))
    return (start, ref_end), (cur_start, end)


def scope_span(source: Source, flt: Filter) -> Window | None:
    """Days of the first and last decision of the filter (its system, model version, segment and
    period), or None when it has no decision."""
    d = source.decisions(flt)
    row = d.aggregate(first=d.ts.min(), last=d.ts.max()).to_pandas().iloc[0]
    if pd.isna(row["first"]) or pd.isna(row["last"]):
        return None
    return pd.Timestamp(row["first"]).date(), pd.Timestamp(row["last"]).date()


def windows_for(source: Source, flt: Filter, *, reference_months: int = 3,
                current_months: int = 1) -> tuple[Window, Window]:
    """The default ``(reference, current)`` windows of ``flt`` (module docstring): over the
    scope's own first..last decision dates within the filter's period (the period itself when the
    scope has no decision there)."""
    span = scope_span(source, flt) or (flt.start, flt.end)
    if span[0] is None or span[1] is None:
        raise ValueError("the filter has no period and no decisions: give the windows")
    return default_windows(span, reference_months=reference_months, current_months=current_months)


def _add_months(day: dt.date, months: int) -> dt.date:
    y, m = divmod(day.month - 1 + months, 12)
    import calendar

    return dt.date(day.year + y, m + 1, min(day.day, calendar.monthrange(day.year + y, m + 1)[1]))


def window_sample(source: Source, flt: Filter, *, features: list[str], positive_label: str | None,
                  max_rows: int = DEFAULT_SAMPLE, seed: int = 0) -> tuple[pd.DataFrame, int]:
    """A seeded sample (at most ``max_rows`` cases) of one window, features pivoted to columns."""
    c, total = source.sample_cases(flt, max_rows=max_rows, seed=seed)
    cols = {"system": c.system, "case_id": c.case_id, "model_score": c.model_score,
            "overridden": c.overridden.cast("int8"), **{k: c[k] for k in source.key if k not in ("system", "case_id")}}
    if positive_label is not None:
        cols["model_positive"] = (c.model_decision == positive_label).cast("int8")
    sample = c.select(**cols)
    df = sample.order_by(["system", "case_id"]).to_pandas()  # same row order on every engine
    if features and not df.empty:
        key = list(source.key)
        w, col = source.attributes(features)
        w = w.semi_join(sample.select(*key), key)
        wide = w.to_pandas().rename(columns={col[f]: f for f in features})
        df = df.merge(wide, on=key, how="left")
    df = df.drop(columns=[k for k in source.key if k not in ("system", "case_id")])
    for f in features:
        if f not in df:
            df[f] = None
    return df.drop(columns=["system", "case_id"]), total


def _kinds(ref: pd.DataFrame, cur: pd.DataFrame, features: list[str]) -> tuple[list[str], list[str]]:
    """Numeric when every non-empty value parses as a number in both windows; else categorical."""
    numerical, categorical = ["model_score"], []
    for f in features:
        both = pd.concat([ref[f], cur[f]]).dropna()
        parsed = pd.to_numeric(both, errors="coerce")
        (numerical if len(both) and parsed.notna().all() else categorical).append(f)
    for flag in ("model_positive", "overridden"):
        if flag in ref:
            categorical.append(flag)
    return numerical, categorical


def drift_summary(source: Source, flt: Filter, *, period: tuple[dt.date, dt.date] | None = None,
                  reference: tuple[dt.date, dt.date] | None = None, current: tuple[dt.date, dt.date] | None = None,
                  reference_months: int = 3, current_months: int = 1, max_rows: int = DEFAULT_SAMPLE,
                  seed: int = 0, html_path=None) -> dict:
    """Evidently's data-drift result over the two windows, as plain data. Windows not given are
    :func:`windows_for` the filter restricted to ``period``."""
    if reference is None or current is None:
        if period is None:
            raise ValueError("give the period, or both windows")
        ref_w, cur_w = windows_for(source, flt.but(start=period[0], end=period[1]),
                                   reference_months=reference_months, current_months=current_months)
        reference, current = reference or ref_w, current or cur_w
    cfg = source.config(flt.system)
    features = cfg.features
    ref, n_ref = window_sample(source, flt.but(start=reference[0], end=reference[1]), features=features,
                               positive_label=cfg.positive_label, max_rows=max_rows, seed=seed)
    cur, n_cur = window_sample(source, flt.but(start=current[0], end=current[1]), features=features,
                               positive_label=cfg.positive_label, max_rows=max_rows, seed=seed)
    windows = {"reference": {"from": reference[0].isoformat(), "to": reference[1].isoformat(), "cases": n_ref},
               "current": {"from": current[0].isoformat(), "to": current[1].isoformat(), "cases": n_cur}}
    if ref.empty or cur.empty:
        empty = "reference" if ref.empty else "current"
        error = f"the {empty} window has no cases"
        if reference[1] < reference[0]:
            error = (f"the scope's decisions span {current_months} month(s) or less: no reference window fits "
                     "before the current one")
        return {"windows": windows, "error": error, "columns": [], "drift_share": None, "dataset_drift": None}
    numerical, categorical = _kinds(ref, cur, features)
    for col in numerical:
        ref[col] = pd.to_numeric(ref[col], errors="coerce")
        cur[col] = pd.to_numeric(cur[col], errors="coerce")
    for col in categorical:
        ref[col] = ref[col].astype("string")
        cur[col] = cur[col].astype("string")
    from hitlgov.metrics import (
        drift_stats,  # imports Evidently (slow): only when drift is asked for
    )

    result = drift_stats.drift_between(ref, cur, numerical=numerical, categorical=categorical,
                                      max_rows=max_rows, seed=seed, html_path=html_path)
    result["windows"] = windows
    if isinstance(result.get("sample"), dict):  # drift_stats saw the engine-side sample: report the windows' totals
        result["sample"].update(reference_rows_total=n_ref, current_rows_total=n_cur,
                                sampled=n_ref > len(ref) or n_cur > len(cur))
    return result


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
    j = c.select(*source.key).left_join(a, list(source.key))
    return j.select(value=j.value)


def distribution(source: Source, flt: Filter, column: str, *, reference: tuple[dt.date, dt.date],
                 current: tuple[dt.date, dt.date], bins: int = 30, top: int = 12) -> dict:
    """One column's distribution in two windows of the filter, for a reference-vs-current overlay.

    Numeric when every non-empty value in both windows parses as a number (as Evidently is told
    in :mod:`hitlgov.metrics.drift`): ``bins`` equal-width bins on common edges spanning the 1st..99th
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
