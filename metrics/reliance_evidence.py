"""The reliance-evidence blocks of ``metrics --json`` (issue 17), composed in one place.

:func:`hitlgov.metrics.summary.compute_metrics` calls :func:`reliance_blocks` once, so the
dashboard, the report and the CLI read the same numbers. This module also says which evidence
the automation-bias finding rests on -- the override-and-time comparison with peers always, and
outcomes, first judgements and canaries when the log records them -- and counts the reviewers
that the peer comparison, canaries or outcome-based over-reliance flag.
"""
from __future__ import annotations

from hitlgov.metrics import bias_audit, reliance, reviewer_quality, selective_accuracy  # modules
from hitlgov.metrics.source import Filter, Source

#: a reviewer whose canary catch rate is below this even at the upper end of its 95% interval
#: demonstrably misses planted errors. Not 0.5: canaries are wrong outputs that look plausible,
#: and attentive reviewers catch far from all of them (the demo's peers of rev-07 catch 36.5% at
#: 200k cases, so a 50% bar would flag 8 of them); a reviewer who demonstrably catches fewer than
#: one in four is not reading the case.
CANARY_FLAG_BELOW = 0.25
#: a reviewer whose over-reliance (share of wrong model decisions kept, outcomes known) is above
#: this even at the lower end of its 95% interval keeps nearly every model error: rubber-stamping
#: (the demo's peers keep 61-71%, rev-07 99.6%)
OVER_RELIANCE_FLAG_ABOVE = 0.9

#: the evidence names of :func:`automation_bias_evidence`, in the words of the finding and report
EVIDENCE_TEXT = {"override_rate_and_review_time_vs_peers": "peer comparison of override rate and review time",
                 "outcomes": "outcome-based over-reliance", "canaries": "canaries (planted wrong outputs)",
                 "initial_judgements": "first-judgement switch rates"}


def automation_bias_evidence(rel: dict, bias: dict) -> dict:
    """What the automation-bias finding rests on, who each kind of evidence flags, and the count.

    A reviewer is flagged by the peer comparison (``bias["flagged"]``), by canaries (catch rate
    below :data:`CANARY_FLAG_BELOW` at the top of its interval) or by outcome-based over-reliance
    (above :data:`OVER_RELIANCE_FLAG_ABOVE` at the bottom of its interval); ``flagged_reviewers``
    counts the union, so the finding no longer ignores canaries and outcomes. First judgements
    (switch rates, relative self-reliance) corroborate but flag nobody: a low switch rate is
    also what a reviewer who is usually right produces. The count stays None (NOT EVALUATED)
    only when the peer comparison tested nobody and no other evidence flags anyone.
    """
    per = {r["reviewer_id"]: r for r in rel["by_reviewer"]}
    peer = sorted(bias.get("flagged", []))
    canary = sorted(rid for rid, r in per.items()
                    if r["canary_catch_rate"]["ci"] and r["canary_catch_rate"]["ci"][1] < CANARY_FLAG_BELOW)
    over = sorted(rid for rid, r in per.items()
                  if r["over_reliance"]["ci"] and r["over_reliance"]["ci"][0] > OVER_RELIANCE_FLAG_ABOVE)
    names = sorted(set(peer) | set(canary) | set(over))
    peer_tested = bias.get("tested_reviewers", len(peer)) > 0  # nobody compared: the comparison is no evidence
    evidence = (["override_rate_and_review_time_vs_peers"] if peer_tested else []) + rel["evidence"]
    count = len(names) if bias.get("flagged_reviewers") is not None or names else None
    return {
        "evidence": evidence,
        "evidence_text": [EVIDENCE_TEXT[e] for e in evidence],
        "thresholds_evidence": {"canary_catch_rate_below": CANARY_FLAG_BELOW,
                                "over_reliance_above": OVER_RELIANCE_FLAG_ABOVE},
        "canary_flagged": canary,
        "over_reliance_flagged": over,
        "flagged_any": names,
        "flagged_reviewers": count,
        "corroboration": [{"reviewer_id": rid,
                           "flagged_by_peer_comparison": rid in peer,
                           "flagged_by_canaries": rid in canary,
                           "flagged_by_over_reliance": rid in over,
                           "over_reliance": per[rid]["over_reliance"] if rid in per else None,
                           "canary_catch_rate": per[rid]["canary_catch_rate"] if rid in per else None,
                           "switch_rate": per[rid]["switch_rate"] if rid in per else None,
                           "relative_self_reliance": per[rid]["relative_self_reliance"] if rid in per else None}
                          for rid in names],
    }


def reliance_blocks(source: Source, flt: Filter, *, positive_label: str | None = None, seed: int = 0) -> dict:
    """``reliance``, ``selective_accuracy``, ``reviewer_quality`` and ``bias_audit`` blocks."""
    return {
        "reliance": reliance.reliance_summary(source, flt),
        "selective_accuracy": selective_accuracy.selective_accuracy_summary(source, flt),
        "reviewer_quality": reviewer_quality.reviewer_quality_summary(source, flt, seed=seed),
        "bias_audit": bias_audit.bias_audit_table(source, flt, favourable_label=positive_label),
    }
