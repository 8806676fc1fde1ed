"""Accuracy under selective review: unbiased error rates from a random audit of automated cases.

Cases reach a person because the model was unsure, and outcomes arrive for a biased subset, so
the model's error rate *observed* where outcomes are known -- and "errors caught" -- describe the
reviewed, uncertain cases, not the automated stream that nobody looks at. When the log marks a
random **audit sample** of otherwise automated cases (``audit_sample``) with each case's
inclusion probability (``audit_probability``, pi), the automated stream's error rate is
estimated without that bias:

* **automated stream** = cases no one reviewed in the normal flow: unreviewed cases plus the
  audit sample (an audited case stands for the automated cases like it). An audited case counts
  only when its **outcome is known**; it is an **error** when the model's decision differs from
  the outcome. The auditor's own decision is *not* a stand-in for a missing outcome: auditors
  mostly confirm the model (on the demo's late audited cases the final decision equals the
  model's 97% of the time), so it would undercount errors.
* **automated error rate** = sum(error / pi) / sum(1 / pi) over the audited cases with a known
  outcome: the Horvitz-Thompson-weighted (Hajek) estimate. **Assumption: outcomes are missing at
  random within the audit sample** (given pi); the output says how many audited cases were used
  (``audited_cases``) and how many lacked an outcome (``audited_without_outcome``). Its 95%
  interval is Wilson's with Kish's effective sample size (sum w)^2 / sum w^2, w = 1/pi -- exactly
  Wilson's interval of the audited cases when every pi is equal.
* **auditor disagreement** = the same weighted share over *all* audited cases of those whose final
  decision (the auditor's) differs from the model's: what the audit review changed, which needs no
  outcome and is not an error rate.
* **reviewed stream error rate** = reviewed (non-audit) cases whose final decision differs from a
  known outcome, Wilson interval (assumes outcomes of reviewed cases are missing at random).
* **system accuracy** = 1 - (N_auto x automated error + N_reviewed x reviewed error) / N, with a
  normal interval from the two streams' variances (independent samples).
* Without an audit sample the estimate is None and ``required_audit_cases`` says how many cases a
  simple random audit needs for +/- ``target_half_width`` (default 1 point).

One Ibis aggregation over the filter's cases; the arithmetic runs on its one-row result.
"""
from __future__ import annotations

import math

from hitlgov.metrics._values import plain
from hitlgov.metrics.proportions import Z95, sample_size, wilson, wilson_effective
from hitlgov.metrics.source import Filter, Source

DEFAULT_TARGET_HALF_WIDTH = 0.01


def _aggregations(c) -> dict:
    def n(cond):
        return cond.fill_null(False).cast("int64").sum()

    audit = c.audit_sample.fill_null(False)
    weighted = audit & c.audit_probability.notnull()
    known = c.outcome.notnull()
    used = weighted & known & c.model_decision.notnull()  # what the error rate rests on
    w = 1.0 / c.audit_probability

    def wsum(cond, value):
        return cond.fill_null(False).cast("float64") * value.fill_null(0)

    model_wrong = (c.model_decision != c.outcome).cast("float64")
    auditor_differs = (c.model_decision != c.final).fill_null(False).cast("float64")
    reviewed = c.reviewed & ~audit
    return dict(
        cases=c.count(),
        automated=n(~c.reviewed | audit),
        reviewed_stream=n(reviewed),
        audit_cases=n(audit),
        audit_without_probability=n(audit & c.audit_probability.isnull()),
        audit_used=n(used),
        audit_without_outcome=n(weighted & ~known),
        sum_w=wsum(used, w).sum(),
        sum_w2=wsum(used, w * w).sum(),
        sum_w_err=wsum(used, w * model_wrong).sum(),
        sum_w_all=wsum(weighted, w).sum(),
        sum_w2_all=wsum(weighted, w * w).sum(),
        sum_w_differs=wsum(weighted, w * auditor_differs).sum(),
        reviewed_known=n(reviewed & known),
        reviewed_errors=n(reviewed & known & (c.final != c.outcome)),
        naive_known=n(known),
        naive_model_errors=n(known & (c.model_decision != c.outcome)),
    )


ASSUMPTION = ("audited cases without a known outcome are left out: their outcomes are assumed missing at "
              "random within the audit sample")


def _weighted_rate(sum_w: float, sum_w2: float, sum_w_hit: float) -> tuple[float | None, float | None]:
    """Hajek ratio and Kish's effective sample size, or (None, None) without weight."""
    if sum_w <= 0:
        return None, None
    return sum_w_hit / sum_w, sum_w * sum_w / sum_w2


def estimate(row: dict, *, target_half_width: float = DEFAULT_TARGET_HALF_WIDTH) -> dict:
    """The block of :func:`selective_accuracy_summary` from its aggregated counts and weight sums."""
    g = {k: (row.get(k) or 0) for k in row}
    n_auto, n_rev = int(g["automated"]), int(g["reviewed_stream"])
    n_total = n_auto + n_rev
    with_probability = int(g["audit_cases"]) - int(g["audit_without_probability"])
    used, no_outcome = int(g["audit_used"]), int(g["audit_without_outcome"])
    auto = {"rate": None, "ci": None, "audited_cases": used, "audited_without_outcome": no_outcome,
            "effective_sample_size": None, "estimated_errors": None, "assumption": ASSUMPTION}
    rate, n_eff = _weighted_rate(float(g["sum_w"]), float(g["sum_w2"]), float(g["sum_w_err"]))
    if used and rate is not None:
        auto.update(rate=rate, ci=wilson_effective(rate, n_eff), effective_sample_size=n_eff,
                    estimated_errors=rate * n_auto)
    d_rate, d_eff = _weighted_rate(float(g["sum_w_all"]), float(g["sum_w2_all"]), float(g["sum_w_differs"]))
    disagreement = {"rate": d_rate, "ci": wilson_effective(d_rate, d_eff), "audited_cases": with_probability,
                    "effective_sample_size": d_eff}
    reviewed = wilson(int(g["reviewed_errors"]), int(g["reviewed_known"]))
    system = {"accuracy": None, "ci": None}
    if auto["rate"] is not None and n_total:
        p_rev = reviewed["rate"] if reviewed["rate"] is not None else (0.0 if n_rev == 0 else None)
        if p_rev is not None:
            sa, sr = n_auto / n_total, n_rev / n_total
            err = sa * auto["rate"] + sr * p_rev
            var = sa * sa * auto["rate"] * (1 - auto["rate"]) / auto["effective_sample_size"]
            if n_rev and reviewed["denominator"]:
                var += sr * sr * p_rev * (1 - p_rev) / reviewed["denominator"]
            half = Z95 * math.sqrt(var)
            system = {"accuracy": 1 - err, "ci": [max(0.0, 1 - err - half), min(1.0, 1 - err + half)]}
    required = sample_size(half_width=target_half_width, planning_rate=auto["rate"],
                           population=n_auto or None) if n_auto else None
    return plain({
        "cases": int(g["cases"]),
        "automated_cases": n_auto,
        "reviewed_cases": n_rev,
        "audit_sample": with_probability > 0,
        "audit_cases": int(g["audit_cases"]),
        "audit_cases_without_probability": int(g["audit_without_probability"]),
        "automated_error_rate": auto,
        "auditor_disagreement": disagreement,
        "reviewed_error_rate": reviewed,
        "system_accuracy": system,
        "observed_model_error_rate": wilson(int(g["naive_model_errors"]), int(g["naive_known"])),
        "target_half_width": target_half_width,
        "required_audit_cases": required,
        "note": _note(with_probability, used, no_outcome, required, target_half_width),
    })


def _note(with_probability: int, used: int, no_outcome: int, required, target_half_width: float) -> str | None:
    """Why the automated error rate is missing, or what it rests on when outcomes are missing."""
    if with_probability and not used:
        return (f"none of the {with_probability} audited cases has a known outcome yet: the automated stream's "
                "error rate cannot be estimated (the auditors' decisions are not a substitute for outcomes)")
    if with_probability:
        return (f"{no_outcome} of {with_probability} audited cases have no known outcome and are left out "
                "(assumed missing at random within the audit sample)") if no_outcome else None
    if not required:
        return "no automated cases"
    return ("no audit sample: the automated stream's error rate cannot be estimated without bias; "
            f"a random audit of {required} automated cases would give +/- {target_half_width:.0%}")


def selective_accuracy_summary(source: Source, flt: Filter = Filter(), *,
                       target_half_width: float = DEFAULT_TARGET_HALF_WIDTH) -> dict:
    """Error rates of the automated and reviewed streams and the system's accuracy, corrected for
    selective review by the audit sample's inclusion probabilities (see the module docstring)."""
    if not 0 < target_half_width < 1:
        raise ValueError("target_half_width must be in (0, 1)")
    c = source.cases(flt)
    row = c.aggregate(**_aggregations(c)).to_pandas().iloc[0].to_dict()
    return estimate(row, target_half_width=target_half_width)
