"""Reviewer agreement on the store: which cases were reviewed by several people, and how alike.

The statistics (Krippendorff's alpha, Fleiss' kappa, pairwise Cohen's kappa, percent agreement,
agreement with the consensus of the others, bootstrap CIs) live in
:mod:`hitlgov.metrics.agreement_stats` and use the ``krippendorff`` package, statsmodels and
scikit-learn. This module selects their input in the engine: the reviews of cases with two or
more reviews. That set is small in practice; it is bounded anyway (``max_cases``, a seeded,
engine-side sample by case) so that a remote engine never ships an unbounded table.
"""
from __future__ import annotations

import ibis
from hitlgov.metrics import agreement_stats, gwet_stats
from hitlgov.metrics.source import Filter, Source

DEFAULT_MAX_CASES = 50_000


def multi_review_ratings(source: Source, flt: Filter = Filter(), *, max_cases: int = DEFAULT_MAX_CASES,
                         seed: int = 0):
    """``(ratings, cases_total)``: long ``case_id, reviewer_id, label`` of multi-reviewed cases.

    Computed once per source (:meth:`Source.remember`): agreement and Dawid-Skene
    (:mod:`hitlgov.metrics.reviewer_quality`) read the same ratings."""
    return source.remember(("multi_review_ratings", flt, max_cases, seed),
                           lambda: _multi_review_ratings(source, flt, max_cases=max_cases, seed=seed))


def _multi_review_ratings(source: Source, flt: Filter, *, max_cases: int, seed: int):
    c = source.cases(flt)
    key = list(dict.fromkeys(["system", "case_id", *source.key]))
    multi = c.filter(c.n_reviews >= 2).select(*key)
    total = int(multi.count().to_pandas())
    if total > max_cases:
        # A stable pseudo-random subset of cases: the order of a seeded MD5 of the case key
        # (MD5 is the same function on every engine, unlike each engine's own hash()).
        key = (multi.system + "|" + multi.case_id + "|" + ibis.literal(str(seed))).hexdigest("md5")
        multi = multi.order_by([key, "system", "case_id"]).limit(max_cases)
    r = source.table("reviews")
    r = r.semi_join(multi.select(*source.key), list(source.key))
    # Ordered, so that the bootstrap (which resamples cases in order of first appearance) draws
    # the same resamples whatever order an engine returns rows in.
    df = (r.select(case_id=r.system + "|" + r.case_id, reviewer_id=r.reviewer_id, label=r.human_decision)
          .order_by(["case_id", "reviewer_id"]).to_pandas())
    return df, total


def agreement_summary(source: Source, flt: Filter = Filter(), *, n_boot: int = 1000, seed: int = 0,
                      min_shared: int = 20, max_cases: int = DEFAULT_MAX_CASES) -> dict:
    """SCHEMA §3 ``agreement`` block (with CIs and per-reviewer consensus)."""
    ratings, total = multi_review_ratings(source, flt, max_cases=max_cases, seed=seed)
    label_order = source.config(flt.system).label_order
    out = agreement_stats.agreement_summary(ratings, label_order=label_order, min_shared=min_shared,
                                            n_boot=n_boot, seed=seed)
    # Gwet's AC1/AC2 beside alpha and kappa (issue 17): robust to the skewed labels of oversight
    out.update(gwet_stats.gwet_summary(ratings, label_order=label_order, n_boot=n_boot, seed=seed))
    out["cases_used"] = out["cases_with_multiple_reviews"]
    out["cases_with_multiple_reviews"] = total
    out["sampled"] = total > max_cases
    return out
