"""Everything at once: the ``hitlgov metrics --json`` object (SCHEMA §3) and its findings.

This module only composes the metric families; each number is computed in its own module.
The period of ``metrics`` defaults to the decisions present in the filter (the whole log,
:func:`resolve_period`); the dashboard and ``report`` default to the last full calendar quarter
(:func:`choose_period`, :mod:`hitlgov.metrics.periods`).
"""
from __future__ import annotations

import datetime as dt

import pandas as pd

from hitlgov.errors import HitlgovError
from hitlgov.metrics import (agreement, competence, drift, fairness, identity, inventory, oversight, periods,
                             reliance_evidence, review_stage, roi)
from hitlgov.metrics._values import plain
from hitlgov.metrics.policy import Policy, evaluate, load_policy
from hitlgov.metrics.source import Filter, Source


def _log_span(source: Source, flt: Filter) -> tuple[dt.date | None, dt.date | None]:
    """Days of the first and last decision in ``flt`` (read from the decisions alone)."""
    d = source.decisions(flt)
    row = d.aggregate(first=d.ts.min(), last=d.ts.max()).to_pandas().iloc[0]
    first = pd.Timestamp(row["first"]).date() if pd.notna(row["first"]) else None
    last = pd.Timestamp(row["last"]).date() if pd.notna(row["last"]) else None
    return first, last


def resolve_period(source: Source, flt: Filter) -> Filter:
    """Fill a missing start/end from the first/last decision in the filter: the whole log, the
    documented default of ``hitlgov metrics`` (SCHEMA §3's ``period``). The dashboard and
    ``hitlgov report`` default to the last full quarter instead (:func:`choose_period`)."""
    if flt.start is not None and flt.end is not None:
        return flt
    first, last = _log_span(source, flt)
    return flt.but(start=flt.start or first, end=flt.end or last)


def choose_period(source: Source, flt: Filter) -> periods.PeriodChoice:
    """The period of a report or dashboard view: the one given, else the **last full calendar
    quarter** of the system's log, else (no whole quarter covered) the whole log.

    "Last full quarter" is the latest calendar quarter that ends on or before the day of the
    system's last decision and starts on or after the day of its first
    (:func:`hitlgov.metrics.periods.default_period`). It is chosen from the system's decisions
    -- every model version and segment -- so that the dashboard and ``report`` pick the same
    quarter for the same system; a model version or segment then narrows the cases within it.
    A period given at one end only is completed from the filter's log, as :func:`resolve_period` does.
    """
    if flt.start is not None or flt.end is not None:
        given = resolve_period(source, flt)
        return periods.PeriodChoice(given.start, given.end, periods.GIVEN)
    return periods.default_period(*_log_span(source, flt.but(model_version=None, segment=None)))


def remote_biometric_systems(source: Source, flt: Filter, policy: Policy) -> list[str]:
    """The systems in the filter the policy declares remote biometric identification (Art. 14(5))."""
    declared = policy.setting("remote_biometric_identification") or []
    if isinstance(declared, str) or not isinstance(declared, list):
        raise HitlgovError(f"{policy.source}: settings.remote_biometric_identification must be a list of systems")
    declared = [str(s) for s in declared]
    if flt.system is not None:
        return [flt.system] if flt.system in declared else []
    present = set(source.systems())
    return sorted(s for s in declared if s in present)


def compute_metrics(source: Source, flt: Filter = Filter(), *, policy: Policy | None = None,
                    include_drift: bool = True, n_boot: int = 1000, seed: int = 0,
                    drift_html: str | None = None, cache: bool = False) -> dict:
    """The whole metrics document for ``flt`` under ``policy``.

    ``cache=True`` (the ``metrics`` command; ``report`` caches its whole evidence the same way in
    :func:`hitlgov.reports.evidence.collect`) serves the document from the store's
    result cache when the data, code, filter, policy and options are those it was computed for
    (:mod:`hitlgov.result_cache`), and otherwise records it there when the store closes. Off by
    default: ``report --verify`` and the tests must recompute from the tables. A cached or a
    computed document is the same JSON (both go through one JSON round trip).
    """
    policy = policy or load_policy()
    if not cache or drift_html is not None or source.raw is None:
        return _compute(source, flt, policy=policy, include_drift=include_drift, n_boot=n_boot, seed=seed,
                        drift_html=drift_html)
    import json

    from hitlgov import result_cache

    version = result_cache.data_version(source.raw)
    key = result_cache.key("metrics", version, filter=flt.describe(), policy=[policy.sha256, policy.source, policy.name],
                           include_drift=include_drift, n_boot=n_boot, seed=seed)
    hit = result_cache.lookup(source.raw, key)
    if hit is not None:
        return hit
    text = json.dumps(_compute(source, flt, policy=policy, include_drift=include_drift, n_boot=n_boot, seed=seed,
                               drift_html=None), allow_nan=False)
    source.pending_cache.append((key, "metrics", version, text))  # the text: callers may change the dict
    return json.loads(text)


def _compute(source: Source, flt: Filter, *, policy: Policy, include_drift: bool, n_boot: int, seed: int,
             drift_html: str | None) -> dict:
    flt = resolve_period(source, flt)
    if include_drift and flt.start and flt.end:  # a period exists, so drift will run: import Evidently meanwhile
        drift.preload_evidently()
    source.expect_reuse(flt)
    s = policy.settings
    over = oversight.oversight_summary(source, flt)
    by_reviewer = over.pop("by_reviewer")
    coverage = oversight.high_risk_coverage(source, flt, score_band=tuple(s.get("high_risk_score_band", (0.35, 0.65))))
    bias = oversight.automation_bias(source, flt)
    counts = inventory.counts(source, flt)
    ret = inventory.retention(source, flt, minimum_months=int(s.get("retention_minimum_months", 6)),
                              max_gap_days=int(s.get("max_gap_days", 7)))
    complete = inventory.completeness(source, flt)
    lookalikes = identity.confusable_reviewer_ids(source, flt)
    out = {
        "period": {"from": flt.start.isoformat() if flt.start else None,
                   "to": flt.end.isoformat() if flt.end else None},
        "filter": flt.describe(),
        "counts": {k: counts[k] for k in ("rows_stored", "cases", "reviews", "reviewed_cases")},
        "oversight": {
            **{k: over[k] for k in ("automation_rate", "review_rate", "override_rate", "escalation_rate",
                                    "review_seconds_median", "review_seconds_p90")},
            "cases_with_model_decision": over["cases_with_model_decision"],
            "cases_without_model_decision": over["cases_without_model_decision"],
            "review_stage": review_stage.rejection_rate(source, flt),
            "high_risk_review_coverage": coverage["coverage"],
            "by_reviewer": [{k: r[k] for k in ("reviewer_id", "reviews", "override_rate", "review_seconds_median",
                                              "escalation_rate", "rationale_rate")} for r in by_reviewer],
            "by_model_version": oversight.by_model_version(source, flt),
        },
        "automation_bias": _bias_block(bias),
        "reviewer_accuracy": oversight.reviewer_accuracy(source, flt),
        "agreement": agreement.agreement_summary(source, flt, n_boot=n_boot, seed=seed),
        "fairness": fairness.fairness_summary(source, flt, n_boot=n_boot, seed=seed),
        "drift": {},
        "roi": roi.roi_summary(source, flt, **roi.costs_from(policy)),
        "data_quality": {
            "retention": ret,
            "retention_months": _months_covered(ret),
            "completeness": complete,
            "rationale_completeness": complete["rationale"],
            "confusable_reviewer_ids": lookalikes,
            "confusable_reviewer_groups": len(lookalikes),
            # stored rows the read window (1970 .. 2262) leaves out of every figure (issue 14)
            "outside_read_window": inventory.outside_read_window(source, system=flt.system),
        },
    }
    out["reviewer_competence"] = competence.untrained_review_share(source, flt)
    rbi = remote_biometric_systems(source, flt, policy)
    if rbi:
        out["two_person_rule"] = competence.two_person_rule(source, flt, systems=rbi)
    # issue 17: reliance, selective-review accuracy, reviewer quality, the LL144 table
    out.update(reliance_evidence.reliance_blocks(source, flt, seed=seed))
    # the finding counts reviewers flagged by peers, canaries or outcome-based over-reliance
    out["automation_bias"].update(reliance_evidence.automation_bias_evidence(out["reliance"], out["automation_bias"]))
    if out["automation_bias"]["flagged_reviewers"] is not None:
        out["automation_bias"].pop("not_evaluated_reason", None)
    if include_drift and flt.start and flt.end and counts["cases"]:
        out["drift"] = drift.drift_summary(
            source, flt, period=(flt.start, flt.end), reference_months=int(s.get("drift_reference_months", 3)),
            current_months=int(s.get("drift_current_months", 1)), seed=seed, html_path=drift_html,
            max_rows=drift_sample_rows(policy))
    out = plain(out)
    findings, not_evaluated = evaluate(policy, out)
    review_effect_against_policy(out.get("fairness") or {}, findings)
    out["findings"] = findings
    out["findings_not_evaluated"] = not_evaluated
    out["policy"] = {"name": policy.name, "source": policy.source, "sha256": policy.sha256}
    return out


def drift_sample_rows(policy: Policy) -> int:
    """Cases sampled per drift window: the policy's ``drift_sample_rows``, the same on the
    dashboard, in the PDF and in ``metrics --json`` (a different sample gives other statistics)."""
    return int(policy.setting("drift_sample_rows", drift.DEFAULT_SAMPLE))


def _bias_block(bias: dict) -> dict:
    """The automation-bias block; ``flagged_reviewers`` is None (NOT EVALUATED, never a pass)
    when no reviewer could be tested: no reviews at all (COMPAS), or nobody with enough reviews
    and peers to compare against. Zero flags among untested reviewers is not evidence."""
    min_reviews = bias.get("method", {}).get("thresholds", {}).get("min_reviews", 0)
    tested = [r for r in bias.get("reviewers", []) if (r.get("reviews") or 0) >= min_reviews
              and r.get("p_value") is not None and r.get("time_ratio") is not None]
    out = {"flagged_reviewers": len(bias["flagged"]) if tested else None, "tested_reviewers": len(tested), **bias}
    if not tested:
        out["not_evaluated_reason"] = (
            "no reviews in the selection" if not bias.get("reviewers") else
            f"no reviewer has {min_reviews} reviews and peers on comparable cases to be tested against")
    return out


def _months_covered(ret: dict) -> float | None:
    """Length of the covered period in months (30.44-day months), for the retention rule."""
    if not ret["covered_days"]:
        return 0.0
    return round(ret["covered_days"] / 30.4375, 2)


KPI_KEYS = ("cases", "reviewed_cases", "automation_rate", "review_rate", "override_rate", "escalation_rate",
            "reviewer_hours", "cost", "errors_caught", "errors_introduced", "net_errors_prevented",
            "value_of_errors_caught", "net_value_of_review", "net_benefit", "cost_per_net_error_prevented")
#: KPIs that count outcomes: a recent period knows fewer outcomes, so its delta may only say "not yet known"
OUTCOME_KEYS = ("errors_caught", "errors_introduced", "net_errors_prevented", "value_of_errors_caught",
                "net_value_of_review", "net_benefit", "cost_per_net_error_prevented")
#: an outcome KPI's delta is shown only when the current period knows the outcome of at least the
#: previous period's share of cases minus this many points (documented in the README;
#: :func:`hitlgov.metrics.roi.outcomes_behind`, which also marks the net-benefit trend's months)
OUTCOME_SHARE_TOLERANCE = roi.OUTCOME_SHARE_TOLERANCE


def kpis(source: Source, flt: Filter, *, hourly_rate: float | None = None,
         cost_false_positive: float = roi.DEFAULT_COST_FALSE_POSITIVE,
         cost_false_negative: float = roi.DEFAULT_COST_FALSE_NEGATIVE) -> dict:
    """The executive tiles for the filter and for the same-length period just before it.

    Values come from :func:`hitlgov.metrics.oversight.oversight_summary` and :func:`hitlgov.metrics.roi.roi_summary`.
    The previous period is :meth:`Filter.previous_period`: the previous calendar quarter for a
    quarter (month, year likewise), else the same number of days just before.
    Returns ``{"current": {...}, "previous": {...} | None, "delta": {...}, "previous_period":
    {"from", "to", "label"} | None, "previous_log_from": ISO date | None, "outcome_deltas_withheld":
    bool}``; ``delta`` = current - previous per key (None where either side is undefined or the
    previous period holds no case). ``previous_log_from`` is the day the system's log begins when
    that is inside the previous period (which is then only partly covered: its counts are lower
    for that reason alone), else None. Deltas of outcome-based KPIs are withheld (None) when the
    current period knows markedly fewer outcomes than the previous one: a drop there reflects
    outcomes not yet known, not worse review.
    """
    rate = roi.DEFAULT_HOURLY_RATE if hourly_rate is None else float(hourly_rate)
    costs = {"hourly_rate": rate, "cost_false_positive": cost_false_positive,
             "cost_false_negative": cost_false_negative}

    def one(f: Filter) -> dict:
        o = oversight.oversight_summary(source, f)
        r = roi.roi_summary(source, f, **costs)
        merged = {**{k: o[k] for k in ("cases", "reviewed_cases", "automation_rate", "review_rate",
                                        "override_rate", "escalation_rate")},
                  **{k: r[k] for k in ("reviewer_hours", "cost", "errors_caught", "errors_introduced",
                                       "net_errors_prevented", "value_of_errors_caught", "net_value_of_review",
                                       "net_benefit", "cost_per_net_error_prevented", "outcome_known_share")}}
        merged["hourly_rate"] = rate
        return merged

    current = one(flt)
    prev_flt = flt.previous_period()
    previous = one(prev_flt) if prev_flt is not None else None
    if previous is not None and not previous["cases"]:
        previous = None
    log_from = None
    if previous is not None:
        first, _last = _log_span(source, flt.but(start=None, end=None, model_version=None, segment=None))
        log_from = first.isoformat() if first is not None and first > prev_flt.start else None
    withheld = bool(previous is not None and roi.outcomes_behind(current["outcome_known_share"],
                                                                 previous["outcome_known_share"]))
    delta = {k: (current[k] - previous[k]) if previous is not None and current[k] is not None
             and previous[k] is not None and not (withheld and k in OUTCOME_KEYS) else None for k in KPI_KEYS}
    return plain({
        "current": current,
        "previous": previous,
        "delta": delta,
        "outcome_deltas_withheld": withheld,
        "previous_period": ({"from": prev_flt.start.isoformat(), "to": prev_flt.end.isoformat(),
                             "label": periods.quarter_label(prev_flt.start, prev_flt.end)}
                            if prev_flt is not None else None),
        "previous_log_from": log_from,
    })


def findings(source: Source, flt: Filter, *, policy_path: str | None = None, include_drift: bool = True,
             n_boot: int = 0) -> dict:
    """The policy's pass/warn/fail findings for the filter (:func:`hitlgov.metrics.summary.compute_metrics`).

    Drift is included, on the policy's sample, so the dashboard counts the same findings as the
    PDF and ``metrics --json``; the agreement bootstrap is skipped (``n_boot=0``): statuses use
    point estimates only, as everywhere.
    """
    m = compute_metrics(source, flt, policy=load_policy(policy_path), include_drift=include_drift, n_boot=n_boot)
    return {"period": m["period"], "findings": m["findings"], "not_evaluated": m["findings_not_evaluated"],
            "policy": m["policy"]}


def review_effect_against_policy(fair: dict, findings: list[dict]) -> None:
    """"Did review reduce the disparity?" also answers "and does the result still fail the policy?":
    each attribute's ``review_effect`` gets ``final_status`` (the worst status of the policy's
    fairness findings on its final decisions, ``None`` when none was evaluated) and
    ``final_failing`` (those findings' metric names that fail)."""
    rank = {"fail": 2, "warn": 1, "pass": 0}
    for attr, block in fair.items():
        effect = block.get("review_effect") if isinstance(block, dict) else None
        if not isinstance(effect, dict):
            continue
        prefix = f"fairness.{attr}.final_decision."
        mine = [f for f in findings if f["metric"].startswith(prefix) and f["status"] in rank]
        effect["final_status"] = max((f["status"] for f in mine), key=rank.__getitem__) if mine else None
        effect["final_failing"] = [f["metric"][len(prefix):] for f in mine if f["status"] == "fail"]
