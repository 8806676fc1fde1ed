"""Reviewer quality without ground truth: Dawid-Skene confusion matrices from multi-reviewed cases.

In content moderation and most annotation work the outcome never arrives, so a reviewer's
accuracy cannot be counted. Dawid & Skene (1979, "Maximum likelihood estimation of observer
error-rates using the EM algorithm", J. R. Stat. Soc. C 28:20-28) estimate, from cases that
several people reviewed, each reviewer's **confusion matrix** P(reviewer says l | true label k)
and the label prevalences by expectation-maximisation, treating the true label as latent.

* **estimated accuracy** of a reviewer = sum_k prior_k x P(says k | true k): the share of cases
  the reviewer would label correctly at the estimated prevalence;
* shown beside the **outcome-based accuracy** (reviews whose outcome is known) where it exists.

The EM is ``crowdkit.aggregation.DawidSkene`` (Toloka's maintained crowd-kit). The input is the
same bounded, seeded sample of multi-reviewed cases the agreement family uses
(:func:`hitlgov.metrics.agreement.multi_review_ratings`). The estimate assumes reviewers err
independently given the true label; reviewers who copy each other (or the model) look better
than they are, which is why the reliance family's outcome-, canary- and audit-based figures
come first where the log has them.
"""
from __future__ import annotations

import pandas as pd
from hitlgov.metrics import _preload
from hitlgov.metrics._values import plain
from hitlgov.metrics.source import Filter, Source

DEFAULT_MIN_CASES = 30
#: a reviewer's matrix from fewer multi-reviewed cases than this is shown as None: EM fits a
#: handful of reviews perfectly and reports accuracy 1.0
DEFAULT_MIN_REVIEWS = 10


def dawid_skene(ratings: pd.DataFrame, *, n_iter: int = 100, tol: float = 1e-5) -> dict:
    """Per-reviewer confusion matrices and estimated accuracy from long ``case_id, reviewer_id,
    label`` ratings (cases with two or more reviews). Raises ValueError when there is none."""
    _preload.settle()  # never beside the background Evidently import (both import nltk)
    from crowdkit.aggregation import DawidSkene  # imported here: only this family needs it

    df = ratings[ratings["label"].notna() & ratings["reviewer_id"].notna()]
    df = df[df.groupby("case_id")["reviewer_id"].transform("size") >= 2]
    if df.empty:
        raise ValueError("ratings has no case with at least two reviews; Dawid-Skene needs multi-reviewed cases")
    data = pd.DataFrame({"task": df["case_id"].astype(str), "worker": df["reviewer_id"].astype(str),
                         "label": df["label"].astype(str)})
    model = DawidSkene(n_iter=n_iter, tol=tol).fit(data)
    priors = model.priors_
    errors = model.errors_  # index (worker, observed label), columns true label
    labels = sorted(priors.index)
    per = []
    counts = data.groupby("worker").size()
    for worker in sorted(data["worker"].unique()):
        m = errors.loc[worker]
        matrix = {true: {said: float(m.loc[said, true]) if said in m.index else 0.0 for said in labels}
                  for true in labels}
        accuracy = sum(float(priors[k]) * matrix[k][k] for k in labels)
        per.append({"reviewer_id": worker, "reviews": int(counts[worker]), "estimated_accuracy": accuracy,
                    "confusion": matrix})
    return {"labels": labels, "prevalence": {k: float(priors[k]) for k in labels},
            "cases": int(data["task"].nunique()), "reviewers": per,
            "consensus": model.labels_}


def reviewer_quality_summary(source: Source, flt: Filter = Filter(), *, min_cases: int = DEFAULT_MIN_CASES,
                             min_reviews: int = DEFAULT_MIN_REVIEWS, seed: int = 0) -> dict:
    """The ``reviewer_quality`` block: Dawid-Skene estimates beside outcome-based accuracy.

    ``available`` is False (with ``reason``) when fewer than ``min_cases`` cases were reviewed by
    two or more people: EM on a handful of cases returns confident nonsense.
    """
    from hitlgov.metrics import agreement, oversight

    ratings, total = agreement.multi_review_ratings(source, flt, seed=seed)
    out = {"method": "dawid-skene (crowd-kit)", "available": False, "reason": None,
           "cases_used": int(ratings["case_id"].nunique()) if len(ratings) else 0,
           "cases_with_multiple_reviews": total, "min_cases": min_cases, "min_reviews_per_reviewer": min_reviews, "labels": [], "prevalence": {},
           "by_reviewer": []}
    if out["cases_used"] < min_cases:
        out["reason"] = (f"{out['cases_used']} case(s) reviewed by two or more people; "
                         f"Dawid-Skene needs at least {min_cases}")
        return out
    est = dawid_skene(ratings)
    outcome = {r["reviewer_id"]: r for r in oversight.reviewer_accuracy(source, flt)}
    rows = []
    for r in est["reviewers"]:
        o = outcome.get(r["reviewer_id"])
        if r["reviews"] < min_reviews:  # too few multi-reviewed cases for a matrix worth showing
            r = {**r, "estimated_accuracy": None, "confusion": None}
        rows.append({**r, "outcome_accuracy": o["reviewer_accuracy"] if o else None,
                     "reviews_with_outcome": int(o["reviews_with_outcome"]) if o else 0})
    out.update(available=True, labels=est["labels"], prevalence=est["prevalence"], by_reviewer=rows)
    return plain(out)
