"""Plain sentences for the findings that matter most, and the formatting of finding values.

The executive summary leads with 3 to 5 findings in words a board member reads: failures
first, then warnings (in the policy's rule order), one per family of rules -- three fairness
rules failing for the same attribute are one problem, told once. When fewer than three rules
are outside their bounds, the most important passing checks fill the list, so the summary
always says something about oversight. Values are formatted as the dashboard formats them
(:mod:`hitlgov.formats`).
"""
from __future__ import annotations

from hitlgov import formats as fmt

MOST, LEAST = 5, 3


format_value = fmt.finding_value  # one formatter for dashboard and report


def scope(metric: str) -> str | None:
    """The sensitive attribute a fairness finding is about."""
    parts = metric.split(".")
    return parts[1] if parts[0] == "fairness" and len(parts) > 2 else None


def family(metric: str) -> str:
    parts = metric.split(".")
    return f"fairness.{parts[1]}" if parts[0] == "fairness" and len(parts) > 2 else metric


def _points(x: float) -> str:
    return f"{x * 100:.1f} percentage points"


def _join(items: list[str]) -> str:
    items = [str(i) for i in items]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1] if items else ""


def _automation_bias_sentence(ab: dict) -> str:
    """The automation-bias finding: who is flagged, by which evidence, and what it rests on."""
    rests = "The finding rests on " + _join(ab.get("evidence_text") or ["no evidence"]) + "."
    flagged = ab.get("flagged_any", ab.get("flagged", []))
    if not flagged:
        return "No reviewer shows signs of automation bias. " + rests
    by = {r["reviewer_id"]: r for r in ab.get("corroboration", [])}
    peer = set(ab.get("flagged", []))
    parts = []
    for rid in flagged:
        r = by.get(rid, {})
        why = []
        if rid in peer:
            why.append("far fewer overrides than peers on comparable cases in a fraction of their review time")
        if r.get("flagged_by_over_reliance"):
            why.append(f"kept {fmt.pct(r['over_reliance']['rate'])} of the wrong model decisions whose outcome is "
                       "known")
        if r.get("flagged_by_canaries"):
            b = r["canary_catch_rate"]
            why.append(f"caught {fmt.count(b['numerator'])} of {fmt.count(b['denominator'])} planted wrong outputs")
        parts.append(f"{rid}: " + _join(why or ["flagged"]))
    n = len(flagged)
    return (f"{fmt.count(n)} reviewer{'s' if n != 1 else ''} show{'s' if n == 1 else ''} signs of automation bias ("
            + "; ".join(parts) + "). " + rests)


def sentence(f: dict, metrics: dict) -> str:
    """One finding in plain words, with its value and the policy's bound."""
    metric, v, th, status = f["metric"], f["value"], f["threshold"], f["status"]
    name = metric.rsplit(".", 1)[-1]
    val, bound = format_value(metric, v), format_value(metric, th)
    below = v < th
    if metric == "oversight.override_rate":
        if status == "pass":
            return f"Reviewers changed {val} of the decisions they reviewed, within the range the policy expects."
        if below:
            return (f"Reviewers changed only {val} of the decisions they reviewed, below the policy's {bound}: "
                    "human review may be a rubber stamp.")
        return (f"Reviewers changed {val} of the decisions they reviewed, above the policy's {bound}: the model is "
                "overruled too often to be relied on.")
    if metric == "oversight.high_risk_review_coverage":
        if status == "pass":
            return (f"{val} of the high-risk cases (model scores near the decision threshold) were reviewed by a "
                    "person, as the policy asks.")
        return (f"Only {val} of the high-risk cases (model scores near the decision threshold) were reviewed by a "
                f"person, below the policy's {bound}.")
    if metric == "oversight.escalation_rate":
        if status == "pass":
            return f"{val} of reviewed cases were escalated, within the policy's limit."
        return f"{val} of reviewed cases were escalated, {'below' if below else 'above'} the policy's {bound}."
    if metric == "oversight.review_seconds_p90":
        return (f"Nine in ten reviews were completed within {val}" +
                (f", over the policy's limit of {bound}." if status != "pass" else ", within the policy's limit."))
    if metric == "automation_bias.flagged_reviewers":
        return _automation_bias_sentence(metrics.get("automation_bias", {}))
    if metric == "agreement.krippendorff_alpha_nominal":
        ci = metrics.get("agreement", {}).get("krippendorff_alpha_nominal_ci")
        ci_text = f" (95% CI {fmt.ratio(ci[0])}–{fmt.ratio(ci[1])})" if ci else ""
        if status == "pass":
            return f"Independent reviewers of the same case agree reliably: Krippendorff's α = {val}{ci_text}."
        return (f"Independent reviewers of the same case agree less than the policy expects: Krippendorff's "
                f"α = {val}{ci_text}, below {bound}.")
    attr = scope(metric)
    if attr is not None:
        block = metrics.get("fairness", {}).get(attr, {})
        effect = block.get("review_effect") or {}
        if name == "demographic_parity_difference":
            text = (f"Final decisions {'favour some' if status != 'pass' else 'treat'} {attr} groups"
                    f"{': selection rates differ by up to ' + _points(v) if status != 'pass' else ' alike within the policy: selection rates differ by ' + _points(v)}"
                    f" (demographic parity difference {val}, policy limit {bound})")
            model = effect.get("dpd_model")
            verdict = effect.get("dpd_verdict")
            if not metrics.get("counts", {}).get("reviewed_cases"):
                text += "; no case was reviewed, so the final decision is the model's"
            elif model is not None and verdict in ("reduced", "increased"):
                text += f"; human review {verdict} the gap from {fmt.ratio(model)}"
            elif verdict == "unchanged":
                text += "; human review left the gap unchanged"
            if status != "pass" and metrics.get("counts", {}).get("reviewed_cases"):
                text += f"; after review the final decisions still {'fail' if status == 'fail' else 'are near'} the policy's limit"
            worse = effect.get("worsened") or []
            if worse:
                w = worse[0]
                what = "false positive rate" if w["rate"] == "false_positive_rate" else "false negative rate"
                text += (f"; review raised the {what} of {w['group']} from {fmt.pct(w['model'])} to {fmt.pct(w['final'])}"
                         + (f" (and {len(worse) - 1} more group error rate{'s' if len(worse) > 2 else ''})"
                            if len(worse) > 1 else ""))
            return text + "."
        if name in ("favourable_rate_ratio", "demographic_parity_ratio"):
            groups = ((block.get("final_decision") or {}).get("four_fifths_rule") or {}).get("disadvantaged_groups") or []
            fav = block.get("favourable_label") or block.get("positive_label")
            if status == "pass":
                return f"The four-fifths rule holds for {attr} (ratio of the rates decided '{fav}': {val})."
            return (f"The four-fifths rule {'fails' if status == 'fail' else 'is nearly breached'} for {attr}: "
                    f"{_join(groups) or 'the least favoured group'} {'is' if len(groups) <= 1 else 'are'} decided "
                    f"'{fav}' (the favourable outcome) at {val} times the rate of the most favoured group "
                    f"(policy minimum {bound}).")
        if name == "equalized_odds_difference":
            return (f"Error rates {'differ' if status != 'pass' else 'are similar'} across {attr} groups: equalized "
                    f"odds difference {val} (policy {'limit' if status != 'pass' else 'bound'} {bound}).")
    if metric == "drift.drift_share":
        d = metrics.get("drift", {})
        drifted = [c["column"] for c in d.get("columns", []) if c.get("drifted")]
        w = d.get("windows", {})
        when = (f" between {w['reference']['from']} – {w['reference']['to']} and {w['current']['from']} – "
                f"{w['current']['to']}") if w.get("reference") and w.get("current") else ""
        return (f"{fmt.count(d.get('drifted_columns', len(drifted)))} of {fmt.count(d.get('total_columns'))} monitored "
                f"columns drifted{when}" + (f" ({_join(drifted)})" if drifted else "") +
                (f"; a drift share of {val}, beyond the policy's {status} bound of {bound}." if status != "pass" else "."))
    if metric == "data_quality.rationale_completeness":
        return (f"{'Only ' if status != 'pass' else ''}{val} of reviews record the reviewer's rationale" +
                (f" (policy: at least {bound})." if status != "pass" else "."))
    if metric == "data_quality.retention_months":
        return (f"The decision log covers {val}" +
                (f", less than the {bound} minimum." if status != "pass" else f", meeting the {bound} minimum."))
    if metric == "reliance.canary_catch_rate.rate":
        return (f"Reviewers caught {val} of the planted wrong model outputs (canaries)"
                + (f", below the policy's {bound}: known-wrong outputs pass review unnoticed." if status != "pass"
                   else f", above the policy's minimum of {bound}."))
    # any other rule: its title says what was found, usually with the value ("Reviewers flagged
    # for automation bias: 1", from the rule's `found` template); the value is not said twice
    title = (f.get("title") or metric).rstrip(".")
    return f"{title} (threshold {bound})." if val in title else f"{title}: {val} (threshold {bound})."


def top_findings(findings: list[dict], metrics: dict, *, most: int = MOST, least: int = LEAST,
                 not_evaluated: list[dict] | None = None) -> list[dict]:
    """The 3-5 findings that matter most: ``[{"status", "sentence", "refs", "metric"}]``.

    Rules that could not be evaluated (the log lacks their evidence) are told as one more finding
    when there is room: missing evidence is itself worth an auditor's attention."""
    picked, seen = [], set()
    for f in findings:  # already sorted fail, warn, pass (stable in the policy's rule order)
        if f["status"] == "pass" or family(f["metric"]) in seen:
            continue
        seen.add(family(f["metric"]))
        picked.append(f)
    picked = picked[:most]
    if len(picked) < least:
        for f in findings:
            if len(picked) >= least:
                break
            if f["status"] == "pass" and family(f["metric"]) not in seen:
                seen.add(family(f["metric"]))
                picked.append(f)
    out = [{"status": f["status"], "metric": f["metric"], "refs": f.get("refs", []),
            "sentence": sentence(f, metrics)} for f in picked]
    missing = list(not_evaluated or [])
    if missing and len(out) < most:
        titles = sorted({(x.get("title") or x["metric"]).rstrip(".") for x in missing})
        out.append({"status": "n/a", "metric": None, "refs": [],
                    "sentence": f"{len(missing)} of the policy's checks could not be evaluated because the log lacks "
                                f"the evidence they need: {'; '.join(titles)}."})
    return out
