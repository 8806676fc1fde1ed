"""Appropriate reliance: does review keep right model decisions and fix wrong ones?

Over the reviews in the filter (one review = one person's decision on a case):

* **over-reliance** -- of the reviews whose model decision was *wrong* (outcome known), the share
  that *kept* it (human decision = model decision): the automation bias EU AI Act Art. 14(4)(b)
  asks deployers to watch.
* **under-reliance** -- of the reviews whose model decision was *right*, the share that *overrode*
  it: reviewers who distrust a correct model cost accuracy too.
* **net effect of review on accuracy** -- accuracy of the human decisions minus that of the
  model's, on the same reviews with a known outcome (paired; Newcombe's score interval for a
  difference of paired proportions, 1998, method 10).
* Where the log records the reviewer's **first judgement before seeing the model's output**
  (``human_initial_decision``), Schemmer et al., "Appropriate reliance on AI advice" (IUI 2023,
  arXiv:2302.02187): **relative AI reliance** (RAIR) = of the reviews whose first judgement was
  wrong and the model right, the share that switched to the model; **relative self-reliance**
  (RSR) = of those whose first judgement was right and the model wrong, the share that kept
  their own. The **switch rate** (of the reviews whose first judgement differed from the model,
  the share that ended on the model's label) needs no outcome.
* Where the deployment plants known-wrong model outputs (``canary``), the **canary catch rate**
  = canary reviews that overrode the model / canary reviews.

Every rate comes with its Wilson 95% interval and its denominator
(:mod:`hitlgov.metrics.proportions`), per reviewer and overall. The counts are one Ibis
aggregation per reviewer; the rates are computed on that small result.
"""
from __future__ import annotations

import ibis.expr.types as ir
from hitlgov.metrics._values import plain
from hitlgov.metrics.proportions import paired_difference, wilson
from hitlgov.metrics.source import Filter, Source

COUNTS = ("reviews", "outcome_known", "model_wrong", "kept_wrong", "model_right", "overrode_right",
          "paired", "human_right", "model_right_known", "discordant", "initial_recorded", "initial_differs",
          "switched_to_model", "rair_cases", "rair_switched", "rsr_cases", "rsr_kept", "canary_reviews",
          "canary_caught")


def _counts(r: ir.Table) -> dict:
    def n(cond):
        return cond.fill_null(False).cast("int64").sum()

    known = r.outcome.notnull()
    model_right = known & (r.model_decision == r.outcome)
    model_wrong = known & (r.model_decision != r.outcome)
    # the net effect pairs the human and the model decision on one review: both must exist
    paired = known & r.model_decision.notnull() & r.human_decision.notnull()
    human_right = paired & (r.human_decision == r.outcome)
    kept = r.human_decision == r.model_decision
    h0 = r.human_initial_decision
    has_h0 = h0.notnull()
    return dict(
        reviews=r.count(),
        outcome_known=n(known),
        model_wrong=n(model_wrong),
        kept_wrong=n(model_wrong & kept),
        model_right=n(model_right),
        overrode_right=n(model_right & ~kept),
        paired=n(paired),
        human_right=n(human_right),
        model_right_known=n(paired & model_right),
        discordant=n(paired & (human_right != model_right)),
        initial_recorded=n(has_h0),
        initial_differs=n(has_h0 & (h0 != r.model_decision)),
        switched_to_model=n(has_h0 & (h0 != r.model_decision) & kept),
        rair_cases=n(has_h0 & known & (h0 != r.outcome) & model_right),
        rair_switched=n(has_h0 & known & (h0 != r.outcome) & model_right & human_right),
        rsr_cases=n(has_h0 & known & (h0 == r.outcome) & model_wrong),
        rsr_kept=n(has_h0 & known & (h0 == r.outcome) & model_wrong & human_right),
        canary_reviews=n(r.canary),
        canary_caught=n(r.canary & ~kept),
    )


def net_effect(human_right: int, model_right: int, discordant: int, n: int) -> dict:
    """Accuracy(human) - accuracy(model) on ``n`` paired reviews, with Newcombe's 95% score interval.

    The counts give the paired 2x2 table: of the ``discordant`` reviews (exactly one of the two
    right), b = (discordant + human_right - model_right) / 2 have only the human right and
    c = discordant - b only the model; a = human_right - b have both right. The interval is
    :func:`~hitlgov.metrics.proportions.paired_difference` (Newcombe 1998, method 10): a normal
    interval of the mean paired difference has zero width when no review is discordant.
    """
    if n <= 0:
        return {"difference": None, "ci": None, "human_accuracy": None, "model_accuracy": None,
                "denominator": 0}
    human_only = (discordant + human_right - model_right) // 2
    model_only = discordant - human_only
    both = human_right - human_only
    return {"difference": (human_right - model_right) / n,
            "ci": paired_difference(both, human_only, model_only, n - both - discordant),
            "human_accuracy": human_right / n, "model_accuracy": model_right / n, "denominator": n}


def reliance_figures(row: dict) -> dict:
    """The reliance block of one set of counts (a reviewer, or everyone)."""
    c = {k: int(row.get(k) or 0) for k in COUNTS}
    return {
        "reviews": c["reviews"],
        "reviews_with_outcome": c["outcome_known"],
        "over_reliance": wilson(c["kept_wrong"], c["model_wrong"]),
        "under_reliance": wilson(c["overrode_right"], c["model_right"]),
        "net_effect_on_accuracy": net_effect(c["human_right"], c["model_right_known"], c["discordant"],
                                             c["paired"]),
        "initial_judgement_recorded": c["initial_recorded"],
        "switch_rate": wilson(c["switched_to_model"], c["initial_differs"]),
        "relative_ai_reliance": wilson(c["rair_switched"], c["rair_cases"]),
        "relative_self_reliance": wilson(c["rsr_kept"], c["rsr_cases"]),
        "canary_catch_rate": wilson(c["canary_caught"], c["canary_reviews"]),
    }


def evidence(overall: dict) -> list[str]:
    """Which kinds of reliance evidence the log carries (what a finding may rest on)."""
    out = []
    if overall["reviews_with_outcome"]:
        out.append("outcomes")
    if overall["initial_judgement_recorded"]:
        out.append("initial_judgements")
    if overall["canary_catch_rate"]["denominator"]:
        out.append("canaries")
    return out


def reliance_summary(source: Source, flt: Filter = Filter()) -> dict:
    """Over- and under-reliance, net effect, Schemmer's RAIR/RSR and canary catch rate, overall
    and per reviewer (busiest first); ``evidence`` lists what the log made measurable."""
    r = source.reviews(flt)
    df = r.group_by("reviewer_id").aggregate(**_counts(r)).to_pandas()
    totals = {k: int(df[k].sum()) if len(df) else 0 for k in COUNTS}
    overall = reliance_figures(totals)
    per = [{"reviewer_id": row["reviewer_id"], **reliance_figures(row)}
           for row in df.sort_values(["reviews", "reviewer_id"], ascending=[False, True]).to_dict("records")]
    return plain({**overall, "evidence": evidence(overall), "by_reviewer": per})
