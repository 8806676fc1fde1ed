"""Return on human review, for executives: what review costs and what it catches.

Over the cases in the filter:

* **reviewer hours** -- sum of ``review_seconds`` over all reviews / 3600; **cost** = hours x
  the hourly rate (a parameter: the organisation's loaded cost of a reviewer hour).
* **errors caught** -- overridden cases whose final decision matches the outcome (the model
  was wrong and review fixed it); **errors introduced** -- overridden cases whose *model*
  decision matched the outcome (review made it wrong). Only cases with a known outcome count.
* **cost per error caught** -- cost / errors caught (None when nothing was caught).

In money (the executive's question: is review worth what it costs?), with a cost per error type
set in the policy (``cost_false_positive``: one wrong positive decision, e.g. a loan approved that
defaults; ``cost_false_negative``: one wrong negative decision, e.g. a good applicant declined;
positive = the system's positive label):

* **value of errors caught** -- caught false positives x their cost + caught false negatives x
  theirs (an override that turned a wrong positive model decision into the right one caught a
  false positive); **value lost to errors introduced** -- the same for overrides that made a
  right model decision wrong; **net value of review** = caught - introduced;
* **net benefit** = net value - review cost; **cost per net error prevented** = review cost /
  (errors caught - errors introduced), None when review prevented no net error.

Money figures are None when the positive label is unknown (several systems mixed) -- never a
guess. Outcomes arrive late: a recent period has fewer known outcomes, so its caught errors and
net benefit are lower bounds (``outcome_known_share`` says how much is known).
"""
from __future__ import annotations

import ibis.expr.types as ir
import pandas as pd
from hitlgov.metrics._values import plain, ratio
from hitlgov.metrics.source import Filter, Source

DEFAULT_HOURLY_RATE = 60.0
DEFAULT_COST_FALSE_POSITIVE = 2_000.0  # default policy: a wrong approval (credit lost on a default)
DEFAULT_COST_FALSE_NEGATIVE = 300.0    # default policy: a wrong decline (margin lost on a good customer)

#: outcomes "not yet known": a period (or month) whose cases know the outcome of fewer than a
#: comparison's share minus this many points (documented in the README). The Overview and the
#: executive summary withhold outcome deltas by it (:func:`hitlgov.metrics.summary.kpis`) and mark the
#: months of the net-benefit trend by it (:func:`outcomes_pending`).
OUTCOME_SHARE_TOLERANCE = 0.05


def outcomes_behind(share: float | None, compared_with: float | None) -> bool:
    """Whether ``share`` (of cases with a known outcome) is markedly below ``compared_with``:
    more than :data:`OUTCOME_SHARE_TOLERANCE` lower, so its outcome figures would only reflect
    outcomes not yet known."""
    return (share or 0.0) < (compared_with or 0.0) - OUTCOME_SHARE_TOLERANCE


def outcomes_pending(trend: list[dict]) -> list[bool]:
    """Per month of :func:`roi_trend`: True where its outcomes are not yet known -- no case with a
    known outcome, or a known share :func:`outcomes_behind` the best-known month's (the rule that
    withholds outcome deltas, against the month that knows most). Such a month's caught errors
    and net benefit are lower bounds: the trend charts draw them apart (dotted, "not yet known")."""
    best = max((r.get("outcome_known_share") or 0.0 for r in trend), default=0.0)
    return [not r.get("outcome_known_cases") or outcomes_behind(r.get("outcome_known_share"), best) for r in trend]


#: the caption of the net-benefit trend, the same on the Overview and page 1 of the executive summary
NET_BENEFIT_CAPTION = ("Net benefit per month: errors caught net of errors introduced, in money, minus the "
                       "review cost. Grey, dotted: outcomes not yet known (a lower bound).")


def net_benefit_trend(trend: list[dict]) -> list[dict]:
    """``[{"period", "net_benefit", "pending"}]`` per month of :func:`roi_trend`: what the Overview
    and page 1 of the executive summary plot (``pending``: :func:`outcomes_pending`)."""
    return [{"period": r["period"], "net_benefit": r.get("net_benefit"), "pending": p}
            for r, p in zip(trend, outcomes_pending(trend))]


def _aggregations(c: ir.Table, positive_label: str | None = None) -> dict:
    # errors of the model and of the final decision, on the same cases: those with a model decision
    known = c.outcome.notnull() & c.model_decision.notnull()
    over = c.overridden.fill_null(False)
    caught = over & known & (c.final == c.outcome)
    introduced = over & known & (c.model_decision == c.outcome)
    by_type = {}
    if positive_label is not None:
        by_type = dict(
            caught_false_positives=(caught & (c.model_decision == positive_label)).cast("int64").sum(),
            caught_false_negatives=(caught & (c.model_decision != positive_label)).cast("int64").sum(),
            introduced_false_positives=(introduced & (c.final == positive_label)).cast("int64").sum(),
            introduced_false_negatives=(introduced & (c.final != positive_label)).cast("int64").sum(),
        )
    return dict(
        **by_type,
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


def _money(row: dict, cost: float, costs: tuple[float, float]) -> dict:
    """The money block (None throughout when the error types are unknown)."""
    keys = ("caught_false_positives", "caught_false_negatives", "introduced_false_positives",
            "introduced_false_negatives")
    if any(k not in row for k in keys):
        return {k: None for k in (*keys, "value_of_errors_caught", "value_lost_to_errors_introduced",
                                  "net_value_of_review", "net_benefit")}
    fp_cost, fn_cost = costs
    n = {k: int(row[k] or 0) for k in keys}
    caught = n["caught_false_positives"] * fp_cost + n["caught_false_negatives"] * fn_cost
    lost = n["introduced_false_positives"] * fp_cost + n["introduced_false_negatives"] * fn_cost
    return {**n, "value_of_errors_caught": caught, "value_lost_to_errors_introduced": lost,
            "net_value_of_review": caught - lost, "net_benefit": caught - lost - cost}


def _finish(row: dict, seconds: float | None, hourly_rate: float,
            costs: tuple[float, float] = (DEFAULT_COST_FALSE_POSITIVE, DEFAULT_COST_FALSE_NEGATIVE)) -> dict:
    hours = (seconds or 0.0) / 3600.0
    cost = hours * hourly_rate
    caught = int(row["errors_caught"] or 0)
    introduced = int(row["errors_introduced"] or 0)
    net = caught - introduced
    return plain({
        **_money(row, cost, costs),
        "cost_false_positive": costs[0],
        "cost_false_negative": costs[1],
        "cost_per_net_error_prevented": cost / net if net > 0 else None,
        "outcome_known_share": ratio(row["outcome_known"], row["cases"]),
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


def roi_summary(source: Source, flt: Filter = Filter(), *, hourly_rate: float = DEFAULT_HOURLY_RATE,
                cost_false_positive: float = DEFAULT_COST_FALSE_POSITIVE,
                cost_false_negative: float = DEFAULT_COST_FALSE_NEGATIVE) -> dict:
    """Totals over the filter."""
    c = source.cases(flt)
    label = source.config(flt.system).positive_label
    row = c.aggregate(**_aggregations(c, label)).to_pandas().iloc[0].to_dict()
    r = source.reviews(flt)
    seconds = plain(r.review_seconds.sum().to_pandas())
    return _finish(row, seconds, hourly_rate, (float(cost_false_positive), float(cost_false_negative)))


def roi_trend(source: Source, flt: Filter = Filter(), *, hourly_rate: float = DEFAULT_HOURLY_RATE,
              cost_false_positive: float = DEFAULT_COST_FALSE_POSITIVE,
              cost_false_negative: float = DEFAULT_COST_FALSE_NEGATIVE) -> list[dict]:
    """The same figures per calendar month of the model decision."""
    c = source.cases(flt)
    c = c.mutate(period=c.ts.truncate("M"))
    label = source.config(flt.system).positive_label
    cases = c.group_by("period").aggregate(**_aggregations(c, label)).to_pandas()
    r = source.reviews(flt)
    r = r.mutate(period=r.ts.truncate("M"))
    secs = r.group_by("period").aggregate(seconds=r.review_seconds.sum()).to_pandas()
    if cases.empty:
        return []
    df = cases.merge(secs, on="period", how="left").sort_values("period")
    return [{"period": pd.Timestamp(row["period"]).date().isoformat(),
             **_finish(row, plain(row["seconds"]), hourly_rate, (float(cost_false_positive), float(cost_false_negative)))}
            for row in df.to_dict(orient="records")]


def costs_from(policy) -> dict:
    """The keyword arguments of :func:`roi_summary` / :func:`roi_trend` the policy sets: every
    surface passes the same ones (one computation per number)."""
    return {"hourly_rate": float(policy.setting("reviewer_hourly_rate", DEFAULT_HOURLY_RATE)),
            "cost_false_positive": float(policy.setting("cost_false_positive", DEFAULT_COST_FALSE_POSITIVE)),
            "cost_false_negative": float(policy.setting("cost_false_negative", DEFAULT_COST_FALSE_NEGATIVE))}
