"""Return on human review, for executives: what review costs and what it catches.

Over the cases in the filter:

* **reviewer hours** -- sum of ``review_seconds`` over all reviews / 3600; **cost** = hours x
  the hourly rate (a parameter: the organisation's loaded cost of a reviewer hour).
* **errors caught** -- overridden cases whose final decision matches the outcome (the model
  was wrong and review fixed it); **errors introduced** -- overridden cases whose *model*
  decision matched the outcome (review made it wrong). Only cases with a known outcome count.
* **cost per error caught** -- cost / errors caught (None when nothing was caught).
"""
from __future__ import annotations

import ibis.expr.types as ir
import pandas as pd
from hitlgov.metrics._values import plain, ratio
from hitlgov.metrics.source import Filter, Source

DEFAULT_HOURLY_RATE = 60.0


def _aggregations(c: ir.Table) -> dict:
    # errors of the model and of the final decision, on the same cases: those with a model decision
    known = c.outcome.notnull() & c.model_decision.notnull()
    over = c.overridden.fill_null(False)
    return dict(
        cases=c.count(),
        automated_cases=(~c.reviewed).cast("int64").sum(),
        reviewed_cases=c.reviewed.cast("int64").sum(),
        overridden_cases=over.cast("int64").sum(),
        outcome_known=known.cast("int64").sum(),
        errors_caught=(over & known & (c.final == c.outcome)).cast("int64").sum(),
        errors_introduced=(over & known & (c.model_decision == c.outcome)).cast("int64").sum(),
        model_errors=(known & (c.model_decision != c.outcome)).cast("int64").sum(),
        final_errors=(known & (c.final != c.outcome)).cast("int64").sum(),
    )


def _finish(row: dict, seconds: float | None, hourly_rate: float) -> dict:
    hours = (seconds or 0.0) / 3600.0
    cost = hours * hourly_rate
    caught = int(row["errors_caught"] or 0)
    introduced = int(row["errors_introduced"] or 0)
    return plain({
        "cases": int(row["cases"]),
        "automated_cases": int(row["automated_cases"] or 0),
        "reviewed_cases": int(row["reviewed_cases"] or 0),
        "overridden_cases": int(row["overridden_cases"] or 0),
        "outcome_known_cases": int(row["outcome_known"] or 0),
        "reviewer_hours": hours,
        "hourly_rate": hourly_rate,
        "cost": cost,
        "errors_caught": caught,
        "errors_introduced": introduced,
        "net_errors_prevented": caught - introduced,
        "cost_per_error_caught": ratio(cost, caught),
        "model_error_rate": ratio(row["model_errors"], row["outcome_known"]),
        "final_error_rate": ratio(row["final_errors"], row["outcome_known"]),
    })


def roi_summary(source: Source, flt: Filter = Filter(), *, hourly_rate: float = DEFAULT_HOURLY_RATE) -> dict:
    """Totals over the filter."""
    c = source.cases(flt)
    row = c.aggregate(**_aggregations(c)).to_pandas().iloc[0].to_dict()
    r = source.reviews(flt)
    seconds = plain(r.review_seconds.sum().to_pandas())
    return _finish(row, seconds, hourly_rate)


def roi_trend(source: Source, flt: Filter = Filter(), *, hourly_rate: float = DEFAULT_HOURLY_RATE) -> list[dict]:
    """The same figures per calendar month of the model decision."""
    c = source.cases(flt)
    c = c.mutate(period=c.ts.truncate("M"))
    cases = c.group_by("period").aggregate(**_aggregations(c)).to_pandas()
    r = source.reviews(flt)
    r = r.mutate(period=r.ts.truncate("M"))
    secs = r.group_by("period").aggregate(seconds=r.review_seconds.sum()).to_pandas()
    if cases.empty:
        return []
    df = cases.merge(secs, on="period", how="left").sort_values("period")
    return [{"period": pd.Timestamp(row["period"]).date().isoformat(),
             **_finish(row, plain(row["seconds"]), hourly_rate)} for row in df.to_dict(orient="records")]
