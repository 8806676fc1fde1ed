"""The reliance-evidence blocks of ``metrics --json`` (issue 17), composed in one place.

:func:`hitlgov.metrics.summary.compute_metrics` calls :func:`reliance_blocks` once, so the
dashboard, the report and the CLI read the same numbers. This module also says which evidence
the automation-bias finding rests on: the override-and-time comparison with peers always, and
outcomes, first judgements and canaries when the log records them.
"""
from __future__ import annotations

from hitlgov.metrics import bias_audit, reliance, reviewer_quality, selective_accuracy  # modules
from hitlgov.metrics.source import Filter, Source

#: a reviewer whose canary catch rate is below this even at the upper end of its 95% interval
#: demonstrably misses planted errors
CANARY_FLAG_BELOW = 0.5


def automation_bias_evidence(rel: dict, bias: dict) -> dict:
    """What the automation-bias finding rests on, and each reviewer's corroborating figures."""
    per = {r["reviewer_id"]: r for r in rel["by_reviewer"]}
    canary_flagged = sorted(rid for rid, r in per.items()
                            if r["canary_catch_rate"]["ci"] is not None
                            and r["canary_catch_rate"]["ci"][1] < CANARY_FLAG_BELOW)
    names = sorted(set(bias.get("flagged", [])) | set(canary_flagged))
    return {
        "evidence": ["override_rate_and_review_time_vs_peers"] + rel["evidence"],
        "canary_flagged": canary_flagged,
        "corroboration": [{"reviewer_id": rid,
                           "flagged_by_peer_comparison": rid in bias.get("flagged", []),
                           "over_reliance": per[rid]["over_reliance"] if rid in per else None,
                           "canary_catch_rate": per[rid]["canary_catch_rate"] if rid in per else None,
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
