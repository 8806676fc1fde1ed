"""Oversight (compliance): is human oversight real? Rates over time and by version, review time,
coverage of uncertain cases, and the automation-bias panel."""
from __future__ import annotations

import streamlit as st
from hitlgov.dashboard import charts, data, ui
from hitlgov.metrics import oversight, reliance, reliance_evidence, review_stage
from hitlgov.metrics.policy import load_policy, status_for

from hitlgov import formats as fmt

view = ui.page("Oversight", "Whether people meaningfully oversee the model: how often they review and change its "
               "decisions, how long they spend, and whether any reviewer only rubber-stamps (EU AI Act Art. 14).")
ui.require_cases(view)
flt = view.filter
policy = load_policy(ui.policy_path())
band = tuple(policy.setting("high_risk_score_band", (0.35, 0.65)))

s = data.call(oversight.oversight_summary, flt)
cov = data.call(oversight.high_risk_coverage, flt, score_band=band)
cols = st.columns(6)
ui.kpi(cols[0], "Review rate", fmt.pct(s["review_rate"]), help="Cases at least one person reviewed / all cases.")
ui.kpi(cols[1], "Risk coverage", fmt.pct(cov["coverage"]),
       help=f"High-risk review coverage: cases with a model score in [{band[0]}, {band[1]}] — near the decision "
            f"threshold — that a person reviewed ({fmt.count(cov['reviewed'])} of {fmt.count(cov['high_risk_cases'])}).")
ui.kpi(cols[2], "Override rate", fmt.pct(s["override_rate"]),
       help="Reviewed cases whose final decision differs from the model's / reviewed cases.")
ui.kpi(cols[3], "Escalation rate", fmt.pct(s["escalation_rate"]),
       help="Reviewed cases escalated to a higher authority / reviewed cases.")
ui.kpi(cols[4], "Median review", fmt.seconds(s["review_seconds_median"]), help="Median of review_seconds.")
ui.kpi(cols[5], "p90 review", fmt.seconds(s["review_seconds_p90"]),
       help="90th percentile of review_seconds: 90% of reviews take at most this long.")
decided_cases = s["cases"] - s["cases_without_model_decision"]
st.caption((f"{fmt.count(s['reviewed_cases'])} of {fmt.count(decided_cases)} cases with a model decision were reviewed"
            if decided_cases else "No case in this selection has a model decision")
           + f" ({fmt.count(s['reviews'])} reviews in all). **Risk coverage** is the share of high-risk cases — "
           "uncertain, with a score near the decision threshold — that a person checked.")

stage = data.call(review_stage.rejection_rate, flt)
undecided = s["cases_without_model_decision"]
more = st.columns(6)
ui.kpi(more[0], "No model decision", fmt.count(undecided),
       help="Cases stored without a model decision: tasks of a labelling or review tool that had no prediction, "
            "suggestion or judge score (or a log declared annotation_only). Their reviews count for workload, "
            "review time and agreement; override, automation, fairness and automation-bias figures leave them out.")
ui.kpi(more[1], "Rejection rate", fmt.pct(stage["rejection_rate"]),
       help="Review stage (Label Studio Enterprise reviews): annotations a second reviewer rejected / annotations "
            "a second reviewer accepted or rejected. n/a when the log records no review stage.")
st.caption(f"**No model decision**: {fmt.count(undecided)} of {fmt.count(s['cases'])} cases have no model output to "
           "review (annotation-only), so the override and automation rates above leave them out. "
           + (f"**Rejection rate**: a second reviewer rejected {fmt.count(stage['rejected'])} of "
              f"{fmt.count(stage['verdicts'])} annotations it judged — first-line work that did not stand."
              if stage["verdicts"] else
              "**Rejection rate**: the share of annotations a second reviewer rejected; this log records no "
              "review stage (no accept/reject verdicts), so there is none."))

if not s["reviews"]:
    st.info("No human reviewed any case in this selection, so there are no override, escalation or review-time "
            "figures: every decision was automated. Choose a system or period with reviews to see oversight.")
    st.stop()
annotation_only = not s["reviewed_cases"]
if annotation_only:
    st.info(f"The {fmt.count(s['reviews'])} reviews in this selection are of cases without a model decision "
            "(annotation-only), so there is nothing to override: no override, escalation or automation-bias "
            "figures. Review times follow; agreement between reviewers is on the Reviewers page.")
trend = data.call(oversight.trend, flt)


def overrides_over_time() -> None:
    """Override, escalation and review rates by month and by model version."""
    versions = data.call(oversight.by_model_version, flt)
    vcolours = charts.color_map(view.context.get("versions", []), charts.VERSION_PALETTE)

    ui.section("Overrides and escalations over time")
    left, right = st.columns([3, 2])
    with left:
        ui.chart(charts.lines(trend, [("override_rate", "Override rate", charts.PRIMARY),
                                      ("escalation_rate", "Escalation rate", charts.CURRENT),
                                      ("review_rate", "Review rate", charts.AUTOMATED)],
                              y="Rate (%)"))
        st.caption("Per calendar month. Override and escalation rates are shares of reviewed cases, the review rate a "
                   "share of all cases. A sudden drop in overrides can mean reviewers stopped looking; a rise, that the "
                   "model degraded.")
    with right:
        names = [v["model_version"] or "(none)" for v in versions]
        ui.chart(charts.grouped_bars(
            ["Review rate", "Override rate", "Escalation rate"],
            [(n, [v["review_rate"], v["override_rate"], v["escalation_rate"]], vcolours.get(n, charts.MUTED))
             for n, v in zip(names, versions)],
            x="Metric", y="Rate (%)"))
        st.caption("By model version (each version keeps its colour on every page). Override and escalation rates "
                   "are shares of reviewed cases.")


if not annotation_only:
    overrides_over_time()

ui.section("Review time")
left, right = st.columns(2)
with left:
    hist = data.call(oversight.latency_histogram, flt)
    if hist:
        marks = [(s["review_seconds_median"], f"median {fmt.seconds(s['review_seconds_median'])}"),
                 (s["review_seconds_p90"], f"p90 {fmt.seconds(s['review_seconds_p90'])}")]
        ui.chart(charts.histogram(hist, x="Review time (s)",
                                  y="Reviews (count)", lo_key="from_seconds", hi_key="to_seconds",
                                  count_key="reviews", markers=[m for m in marks if m[0] is not None]))
        st.caption("Distribution of time spent per review (the last bar: the 99th percentile and above). A spike near "
                   "zero is a warning sign of rubber-stamping.")
    else:
        st.info("The log records no review times for this selection.")
with right:
    ui.chart(charts.lines(trend, [("review_seconds_median", "Median", charts.PRIMARY),
                                  ("review_seconds_p90", "90th percentile", charts.CURRENT)],
                          y="Review time (seconds)", percent=False))
    st.caption("Median and 90th percentile of review time per month.")

if annotation_only:
    st.stop()  # automation bias compares overrides: nothing to compare without a model decision

ui.section("Automation bias", "Reviewers compared with peers on comparable cases (same model decision and score "
           "band): flagged when they override far less than expected *and* spend far less time.")
bias = data.call(oversight.automation_bias, flt)
people = {r["reviewer_id"]: r for r in data.call(oversight.by_reviewer, flt)}
points = [{**people[b["reviewer_id"]], "flagged": b["flagged"]} for b in bias["reviewers"] if b["reviewer_id"] in people]
left, right = st.columns([3, 2])
with left:
    ui.chart(charts.bias_scatter(points))
    st.caption("One dot per reviewer (size: number of reviews). Bottom-left — few overrides in little time — "
               "is where automation bias shows.")
with right:
    t = bias["method"]["thresholds"]
    # coloured by the policy's status for this count, as the finding, the PDF and the CLI colour it
    # the finding counts reviewers flagged by peers, canaries or outcome-based over-reliance (as the
    # report and metrics --json do); this panel shows the peer comparison and names the others
    evidence = reliance_evidence.automation_bias_evidence(data.call(reliance.reliance_summary, flt), bias)
    flagged_status = status_for(policy, "automation_bias.flagged_reviewers", len(evidence["flagged_any"]))
    say = st.error if flagged_status == "fail" else st.warning
    if bias["flagged"]:
        say(f"**{flagged_status.upper() if flagged_status else 'FLAGGED'} · {len(bias['flagged'])} reviewer(s) "
            f"flagged:** {ui.md(', '.join(bias['flagged']))}. Their overrides are "
            f"at most {fmt.pct(t['max_override_ratio'], 0)} of what peers would make on the same cases "
            f"(p < {t['alpha']}) in at most {fmt.pct(t['max_time_ratio'], 0)} of the peers' time.")
    others = [r for r in evidence["flagged_any"] if r not in bias["flagged"]]
    if others:
        say(f"**{flagged_status.upper() if flagged_status else 'FLAGGED'} · {len(others)} more reviewer(s) "
            f"flagged** by canaries or outcome-based over-reliance (Reliance page): {ui.md(', '.join(others))}.")
    if not evidence["flagged_any"]:
        st.success("No reviewer shows signs of automation bias in this selection.")
    rows = [{"Reviewer": b["reviewer_id"], "Reviews": b["reviews"], "Override ratio": b["override_ratio"],
             "Time ratio": b["time_ratio"], "p-value": fmt.p_value(b["p_value"]), "Flagged": b["flagged"]}
            for b in sorted(bias["reviewers"], key=lambda b: (not b["flagged"], b["override_ratio"] or 0))]
    ui.table(rows, height=330, column_config={
        "Override ratio": st.column_config.NumberColumn(format="%.2f", help="Observed / expected overrides"),
        "Time ratio": st.column_config.NumberColumn(format="%.2f", help="Review time relative to peers"),
        "p-value": st.column_config.TextColumn(help="One-sided Poisson test: fewer overrides than expected "
                                               "(< 1e-6: below one in a million)"),
        "Flagged": st.column_config.CheckboxColumn("Flagged")})
    st.caption(f"Only reviewers with at least {t['min_reviews']} reviews can be flagged. "
               "Override ratio 1.0 = overrides as often as peers on the same cases.")
