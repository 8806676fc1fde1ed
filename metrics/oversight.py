"""Human oversight in numbers: how often humans look, how often they change the outcome, how long.

Definitions (SCHEMA §2), over the cases in the filter:

* **automation rate** -- cases with no human review / all cases.
* **review rate** -- cases with at least one review / all cases.
* **override rate** -- reviewed cases whose final decision differs from the model's / reviewed cases.
* **reviewer override rate** -- a reviewer's reviews whose decision differs from the model's /
  that reviewer's reviews.
* **escalation rate** -- escalated reviewed cases / reviewed cases (None when the log never
  says whether a case was escalated).
* **review latency** -- median and 90th percentile (linear interpolation) of ``review_seconds``.

A case from an annotation-only source has no model decision: it cannot be automated or
overridden, so the case rates (automation, review, override, escalation), the reviewer override
rates and automation bias leave it out, ``cases_without_model_decision`` says how many were left
out and ``cases_with_model_decision`` how many the rates are over. Its reviews still count for workload and latency.

The aggregations are Ibis expressions (portable to other engines); this module only shapes
their small results.
"""
from __future__ import annotations

import ibis
import ibis.expr.types as ir
import pandas as pd
from hitlgov.metrics._values import plain, ratio, records
from hitlgov.metrics.source import Filter, Source

PERIODS = {"month": "M", "week": "W", "day": "D"}


def _case_rates(c: ir.Table) -> dict:
    """Aggregations shared by the summary, per-version and trend views."""
    return dict(
        cases=c.count(),
        reviewed_cases=c.reviewed.cast("int64").sum(),
        overridden_cases=c.overridden.cast("int64").sum(),
        escalated_cases=c.escalated.cast("int64").sum(),
        escalation_known=c.escalated.count(),
    )


def _finish_rates(row: dict) -> dict:
    cases, reviewed = row["cases"] or 0, row["reviewed_cases"] or 0
    return {
        "automation_rate": ratio(cases - reviewed, cases),
        "review_rate": ratio(reviewed, cases),
        "override_rate": ratio(row["overridden_cases"] or 0, reviewed),
        "escalation_rate": ratio(row["escalated_cases"] or 0, reviewed) if row["escalation_known"] else None,
    }


def _latency(r: ir.Table) -> dict:
    return dict(
        reviews=r.count(),
        review_seconds_median=r.review_seconds.quantile(0.5),
        review_seconds_p90=r.review_seconds.quantile(0.9),
        review_seconds_total=r.review_seconds.sum(),
    )


def oversight_summary(source: Source, flt: Filter = Filter()) -> dict:
    """The SCHEMA §3 ``oversight`` block, plus case and review counts."""
    c = source.cases(flt)
    r = source.reviews(flt)
    undecided = undecided_cases(source, flt)
    c = decided(c)
    case_row = c.aggregate(**_case_rates(c)).to_pandas().iloc[0].to_dict()
    lat_row = r.aggregate(**_latency(r)).to_pandas().iloc[0].to_dict()
    out = {
        "cases": int(case_row["cases"]) + undecided,
        "cases_with_model_decision": int(case_row["cases"]),
        "cases_without_model_decision": undecided,
        "reviewed_cases": int(case_row["reviewed_cases"] or 0),
        "overridden_cases": int(case_row["overridden_cases"] or 0),
        "escalated_cases": int(case_row["escalated_cases"] or 0),
        "reviews": int(lat_row["reviews"]),
        **_finish_rates(case_row),
        "review_seconds_median": plain(lat_row["review_seconds_median"]),
        "review_seconds_p90": plain(lat_row["review_seconds_p90"]),
        "by_reviewer": by_reviewer(source, flt),
    }
    return out


def undecided_cases(source: Source, flt: Filter = Filter()) -> int:
    """Cases in the filter without a model decision (annotation-only): what every rate about the
    model's decision leaves out. Counted once per source (:meth:`Source.remember`): the
    oversight block and each fairness attribute report it."""
    def count() -> int:
        c = source.cases(flt)
        return int(c.model_decision.isnull().cast("int64").sum().to_pandas() or 0)
    return source.remember(("cases_without_model_decision", flt), count)


def decided(t: ir.Table) -> ir.Table:
    """The cases (or reviews) that have a model decision: the only ones a rate about the
    model's decision (automation, override, model accuracy) can count."""
    return t.filter(t.model_decision.notnull())


def by_reviewer(source: Source, flt: Filter = Filter()) -> list[dict]:
    """Per reviewer: reviews, override rate, escalation rate and latency, busiest first.

    The override rate counts the reviews of cases that have a model decision."""
    r = source.reviews(flt)
    df = r.group_by("reviewer_id").aggregate(
        reviews=r.count(),
        decided_reviews=r.model_decision.notnull().cast("int64").sum(),
        overrides=r.overrode.cast("int64").sum(),
        escalations=r.escalated.cast("int64").sum(),
        escalation_known=r.escalated.count(),
        rationale_given=r.rationale.count(),
        review_seconds_median=r.review_seconds.quantile(0.5),
        review_seconds_p90=r.review_seconds.quantile(0.9),
        review_seconds_total=r.review_seconds.sum(),
    ).to_pandas()
    if df.empty:
        return []
    df["override_rate"] = [ratio(o, n) for o, n in zip(df.overrides, df.decided_reviews)]
    df["escalation_rate"] = [ratio(e, n) if k else None for e, n, k in
                             zip(df.escalations, df.reviews, df.escalation_known)]
    df["rationale_rate"] = df.rationale_given / df.reviews
    df = df.sort_values(["reviews", "reviewer_id"], ascending=[False, True])
    return records(df[["reviewer_id", "reviews", "overrides", "override_rate", "escalation_rate",
                       "rationale_rate", "review_seconds_median", "review_seconds_p90",
                       "review_seconds_total"]])


def by_model_version(source: Source, flt: Filter = Filter()) -> list[dict]:
    """The case rates for each model version in the filter."""
    c = decided(source.cases(flt))
    df = c.group_by("model_version").aggregate(**_case_rates(c)).to_pandas()
    out = [{"model_version": plain(row["model_version"]), "cases": int(row["cases"]), **_finish_rates(row)}
           for row in df.to_dict(orient="records")]
    return sorted(out, key=lambda d: (d["model_version"] is None, d["model_version"] or ""))


def trend(source: Source, flt: Filter = Filter(), *, period: str = "month") -> list[dict]:
    """Case rates and review latency per calendar ``period`` (month, week or day) of ``ts``."""
    if period not in PERIODS:
        raise ValueError(f"period must be one of {', '.join(PERIODS)}, not {period!r}")
    unit = PERIODS[period]
    c = decided(source.cases(flt))
    c = c.mutate(period=c.ts.truncate(unit))
    cases = c.group_by("period").aggregate(**_case_rates(c)).to_pandas()
    r = source.reviews(flt)
    r = r.mutate(period=r.ts.truncate(unit))
    lat = r.group_by("period").aggregate(**_latency(r)).to_pandas()
    if cases.empty and lat.empty:
        return []
    # a period whose cases all lack a model decision (annotation-only) still has its reviews'
    # latency; its case rates are None (no case to rate)
    df = cases.merge(lat, on="period", how="outer").sort_values("period")
    counts = [k for k in cases.columns if k != "period"]
    df[counts] = df[counts].astype("float64").fillna(0)
    out = []
    for row in df.to_dict(orient="records"):
        out.append(plain({
            "period": pd.Timestamp(row["period"]).date().isoformat(),
            "cases": int(row["cases"]),
            "reviewed_cases": int(row["reviewed_cases"] or 0),
            "reviews": int(row["reviews"]) if pd.notna(row["reviews"]) else 0,
            **_finish_rates(row),
            "review_seconds_median": row["review_seconds_median"],
            "review_seconds_p90": row["review_seconds_p90"],
            "review_hours": (row["review_seconds_total"] or 0) / 3600 if pd.notna(row["review_seconds_total"]) else 0.0,
        }))
    return out


def latency_histogram(source: Source, flt: Filter = Filter(), *, bins: int = 40, cap_quantile: float = 0.99) -> list[dict]:
    """Distribution of review time as ``bins`` equal-width bins up to the 99th percentile.

    Binned in the engine (only the counts travel); reviews beyond the cap go in the last bin.
    """
    r = source.reviews(flt).filter(lambda t: t.review_seconds.notnull())
    cap = plain(r.review_seconds.quantile(cap_quantile).to_pandas())
    if cap is None:
        return []
    cap = max(float(cap), 1.0)
    width = cap / bins
    b = ibis.least((r.review_seconds / width).floor().cast("int64"), bins - 1)
    df = r.mutate(bin=b).group_by("bin").aggregate(reviews=lambda t: t.count()).to_pandas()
    counts = dict(zip(df["bin"], df["reviews"]))
    return [{"from_seconds": i * width, "to_seconds": (i + 1) * width, "reviews": int(counts.get(i, 0))}
            for i in range(bins)]


def reviewer_accuracy(source: Source, flt: Filter = Filter()) -> list[dict]:
    """Each reviewer's decisions against ground truth, next to the model's on the same cases.

    ``value_added`` = reviewer accuracy - model accuracy on the reviews whose outcome is known:
    positive for a reviewer who corrects the model, about zero for one who only agrees with it,
    negative for one who makes things worse.

    Computed once per source (:meth:`Source.remember`): ``reviewer_quality`` sets these beside
    its Dawid-Skene estimates in the same run.
    """
    return source.remember(("reviewer_accuracy", flt), lambda: _reviewer_accuracy(source, flt))


def _reviewer_accuracy(source: Source, flt: Filter) -> list[dict]:
    r = source.reviews(flt)
    r = r.filter(r.outcome.notnull())
    with_model = r.model_decision.notnull()
    df = r.group_by("reviewer_id").aggregate(
        reviews_with_outcome=r.count(),
        reviewer_correct=(r.human_decision == r.outcome).cast("int64").sum(),
        # value added compares reviewer and model on the same reviews: those with a model decision
        decided_reviews=with_model.cast("int64").sum(),
        reviewer_correct_decided=(with_model & (r.human_decision == r.outcome)).cast("int64").sum(),
        model_correct=(r.model_decision == r.outcome).cast("int64").sum(),
        overrides=r.overrode.cast("int64").sum(),
        overrides_correct=(r.overrode & (r.human_decision == r.outcome)).cast("int64").sum(),
    ).to_pandas()
    if df.empty:
        return []
    df["reviewer_accuracy"] = df.reviewer_correct / df.reviews_with_outcome
    # (lists first: a None put in a DataFrame column comes back as NaN)
    model_accuracy = [ratio(m, n) for m, n in zip(df.model_correct, df.decided_reviews)]
    df["model_accuracy"] = model_accuracy
    df["value_added"] = [None if m is None else ratio(c, n) - m
                         for c, n, m in zip(df.reviewer_correct_decided, df.decided_reviews, model_accuracy)]
    df = df.drop(columns=["decided_reviews", "reviewer_correct_decided"])
    df["override_precision"] = [ratio(c, o) for c, o in zip(df.overrides_correct, df.overrides)]
    return records(df.sort_values("reviewer_id"))


def automation_bias(
    source: Source,
    flt: Filter = Filter(),
    *,
    max_override_ratio: float = 0.25,
    max_time_ratio: float = 0.5,
    alpha: float = 0.01,
    min_reviews: int = 50,
) -> dict:
    """Reviewers who may rubber-stamp: far fewer overrides *and* far less time than peers.

    EU AI Act Art. 14(4)(b) asks that overseers stay aware of "automation bias". Reviewers see
    different case mixes, so each is compared with peers **on comparable cases**: reviews are
    stratified by model decision and model-score band (tenths; decision only when no score).

    * Override signal: indirect standardisation. ``expected`` = sum over the reviewer's strata of
      (their reviews in the stratum x the *other* reviewers' override rate there).
      ``override_ratio`` = observed / expected overrides; ``p_value`` = P(X <= observed) for
      X ~ Poisson(expected), a one-sided test that the reviewer overrides less than peers.
    * Time signal: ``time_ratio`` = the review-weighted geometric mean, over strata, of the
      reviewer's median review time / the median of the other reviewers' medians there.

    Flagged when ``override_ratio <= max_override_ratio`` and ``p_value < alpha`` and
    ``time_ratio <= max_time_ratio`` and the reviewer has at least ``min_reviews`` reviews.
    """
    r = decided(source.reviews(flt))
    band = ibis.ifelse(r.model_score.isnull(), -1,
                       ibis.least((r.model_score * 10).floor().cast("int64"), 9))
    r = r.mutate(stratum=r.model_decision + ":" + band.cast("string"))
    df = r.group_by(["reviewer_id", "stratum"]).aggregate(
        n=r.count(),
        o=r.overrode.cast("int64").sum(),
        t=r.review_seconds.quantile(0.5),
    ).to_pandas()
    # Engines return groups in any order; sorted, the float sums below are the same everywhere.
    df = df.sort_values(["reviewer_id", "stratum"], kind="stable").reset_index(drop=True)
    method = {
        "strata": "model decision x model-score band (tenths)",
        "override_test": "one-sided Poisson test of observed vs expected overrides (indirect standardisation)",
        "thresholds": {"max_override_ratio": max_override_ratio, "max_time_ratio": max_time_ratio,
                       "alpha": alpha, "min_reviews": min_reviews},
    }
    if df.empty:
        return {"method": method, "reviewers": [], "flagged": []}
    totals = df.groupby("stratum")[["n", "o"]].sum()
    rows = []
    for reviewer, own in df.groupby("reviewer_id"):
        own = own.set_index("stratum")
        peers_n = totals.loc[own.index, "n"] - own["n"]
        peers_o = totals.loc[own.index, "o"] - own["o"]
        usable = peers_n > 0
        peer_rate = (peers_o[usable] / peers_n[usable])
        expected = float((own.loc[usable, "n"] * peer_rate).sum())
        observed = int(own.loc[usable, "o"].sum())
        others = df[(df.reviewer_id != reviewer) & df.stratum.isin(own.index)]
        peer_median = others.groupby("stratum")["t"].median()
        t = own["t"].dropna()
        common = t.index.intersection(peer_median.index[peer_median > 0])
        time_ratio = None
        if len(common) and (t[common] > 0).all():
            import numpy as np

            w = own.loc[common, "n"]
            time_ratio = float(np.exp((w * np.log(t[common] / peer_median[common])).sum() / w.sum()))
        override_ratio = ratio(observed, expected)
        p_value = float(_poisson_cdf(observed, expected)) if expected > 0 else None
        reviews = int(own["n"].sum())
        flagged = bool(
            reviews >= min_reviews and override_ratio is not None and p_value is not None
            and time_ratio is not None and override_ratio <= max_override_ratio
            and p_value < alpha and time_ratio <= max_time_ratio
        )
        rows.append(plain({
            "reviewer_id": reviewer, "reviews": reviews, "overrides": observed,
            "expected_overrides": expected, "override_ratio": override_ratio, "p_value": p_value,
            "time_ratio": time_ratio, "flagged": flagged,
        }))
    rows.sort(key=lambda d: d["reviewer_id"])
    return {"method": method, "reviewers": rows, "flagged": [d["reviewer_id"] for d in rows if d["flagged"]]}


def high_risk_coverage(source: Source, flt: Filter = Filter(), *, score_band: tuple[float, float] = (0.35, 0.65)) -> dict:
    """Share of high-risk cases -- model score inside ``score_band``, near the decision
    threshold where the model is least sure -- that a human reviewed."""
    lo, hi = score_band
    c = decided(source.cases(flt))
    c = c.filter(c.model_score.between(lo, hi))
    row = c.aggregate(cases=c.count(), reviewed=c.reviewed.cast("int64").sum()).to_pandas().iloc[0]
    return {"score_band": [lo, hi], "high_risk_cases": int(row["cases"]),
            "reviewed": int(row["reviewed"] or 0), "coverage": ratio(row["reviewed"] or 0, row["cases"])}


def _poisson_cdf(observed: int, expected: float) -> float:
    """SciPy's Poisson CDF, imported on first use (SciPy costs about 0.5 s to import, and only
    the automation-bias test with at least one reviewer needs it)."""
    from scipy import stats

    return stats.poisson.cdf(observed, expected)
