"""Overview (executives): KPI tiles with deltas, monthly trends, policy findings."""
from __future__ import annotations

from pathlib import Path

import streamlit as st
from hitlgov.dashboard import charts, data, ui
from hitlgov.metrics import oversight, roi, summary
from hitlgov.metrics.policy import load_policy

from hitlgov import formats as fmt
from hitlgov.errors import HitlgovError


def _compared(k: dict, prev_name: str | None) -> str:
    """What the deltas compare with: the previous calendar quarter (month, year) for such a
    period, else the same number of days before; says when that period is only partly in the log."""
    if not k["previous"]:
        return (" There is no data in the period before this one, so no deltas are shown; choose a later period "
                "to compare.")
    text = f" Deltas compare with the period just before: {prev_name}"
    if k["previous_log_from"]:
        text += (f", which the log covers only from {k['previous_log_from']} (its counts are lower for that "
                 "reason alone)")
    return text + "."


#: the pages' own folder: links name the registered page files whatever script Streamlit started
#: (a path relative to the main script would only work when the main script is this package's app.py)
VIEWS = Path(__file__).resolve().parent

view = ui.page("Overview", "How much of the AI's work people check, what they change, and what that costs "
               "and catches — for the selected period, against the period just before it.")
ui.require_cases(view)
flt = view.filter
policy = load_policy(ui.policy_path())
costs = roi.costs_from(policy)  # the same money settings as the PDF and `metrics --json`
rate = costs["hourly_rate"]
currency = str(policy.setting("currency", "EUR"))

k = data.call(summary.kpis, flt, **costs)
cur, d, prev = k["current"], k["delta"], k["previous_period"]
prev_name = (f"{prev['label']} ({prev['from']} – {prev['to']})" if prev.get("label") else f"{prev['from']} – {prev['to']}"
             ) if prev else None

cols = st.columns(6)
ui.kpi(cols[0], "Cases", fmt.count(cur["cases"]), delta=fmt.num(d["cases"]) if d["cases"] is not None else None,
       delta_color="off", help="Decisions the model made in the period.")
ui.kpi(cols[1], "Automation rate", fmt.pct(cur["automation_rate"]), delta=fmt.pp(d["automation_rate"]),
       delta_color="off", help="Cases decided by the model with no human review.")
ui.kpi(cols[2], "Override rate", fmt.pct(cur["override_rate"]), delta=fmt.pp(d["override_rate"]),
       delta_color="off", help="Reviewed cases whose final decision differs from the model's.")
ui.kpi(cols[3], "Reviewer hours", fmt.hours(cur["reviewer_hours"]),
       delta=fmt.num(d["reviewer_hours"]) + " h" if d["reviewer_hours"] is not None else None,
       delta_color="inverse", help="Total time reviewers spent on the cases.")
ui.kpi(cols[4], "Review cost", fmt.money_short(cur["cost"], currency),
       delta=fmt.money_delta(d["cost"], currency),
       delta_color="inverse",
       help=f"{fmt.money(cur['cost'], currency)}: reviewer hours × {fmt.money(rate, currency)} per hour (policy setting "
            "reviewer_hourly_rate).")
ui.kpi(cols[5], "Errors caught", fmt.count(cur["errors_caught"]),
       delta=fmt.num(d["errors_caught"]) if d["errors_caught"] is not None else None,
       help="Overridden cases where the outcome proved the reviewer right and the model wrong.")
# what the deltas compare with is said once, here, and the deltas stay short: as every tile's delta
# description, "vs 2026 Q2 (2026-04-01 – 2026-06-30)" was squeezed to a character or two per line at
# 1024-1280 px and made the tiles 600 px tall (issue 15's layout)
st.caption(_compared(k, prev_name).strip())
money = st.columns(4)
ui.kpi(money[0], "Net benefit of review", fmt.money_short(cur["net_benefit"], currency),
       delta=fmt.money_delta(d["net_benefit"], currency),
       help=f"Value of the errors review caught, net of those it introduced, minus the review cost. A wrong positive "
            f"decision costs {fmt.money(costs['cost_false_positive'], currency)}, a wrong negative one "
            f"{fmt.money(costs['cost_false_negative'], currency)} (policy settings cost_false_positive / "
            "cost_false_negative).")
ui.kpi(money[1], "Value of errors caught (net)", fmt.money_short(cur["net_value_of_review"], currency),
       delta=fmt.money_delta(d["net_value_of_review"], currency),
       help="Cost of the model errors review corrected minus the cost of the correct decisions it made wrong.")
ui.kpi(money[2], "Cost per net error prevented", fmt.money_short(cur["cost_per_net_error_prevented"], currency),
       delta=fmt.money_delta(d["cost_per_net_error_prevented"], currency), delta_color="inverse",
       help="Review cost / (errors caught − errors introduced); n/a when review prevented no net error.")
ui.kpi(money[3], "Outcomes known", fmt.pct(cur["outcome_known_share"]),
       help="Share of the period's cases whose outcome is known: caught errors and money count only those.")
st.caption("**Automation rate**: share of cases no human reviewed. **Override rate**: share of reviewed cases "
           "where the decision that took effect differs from the model's. **Errors caught**: overrides the known "
           f"outcome confirmed ({fmt.count(cur['errors_introduced'])} overrides made a correct model decision wrong).")
if k["outcome_deltas_withheld"]:
    st.caption(f"**Errors and money are not compared with the previous period**: outcomes are known for "
               f"{fmt.pct(cur['outcome_known_share'])} of this period's cases against "
               f"{fmt.pct(k['previous']['outcome_known_share'])} of the previous period's, so a drop would only "
               "reflect outcomes not yet known.")

over = data.call(oversight.oversight_summary, flt)
undecided = over["cases_without_model_decision"]
if undecided:
    st.caption(f"**{fmt.count(undecided)} of {fmt.count(cur['cases'])} cases have no model decision** (tasks of a "
               "labelling or review tool without a prediction): automation, override and error figures leave them "
               "out; their reviews count for hours and cost. See the Oversight page.")

# -- the net benefit's trend (the executive's question: is review worth what it costs, and is that improving?)
money_trend = data.call(roi.roi_trend, flt, **costs)  # the same figures as page 1 of the executive summary
# not for a scope without model decisions (no model error for review to catch), nor without money
# (positive label unknown): as on page 1 of the executive summary
if over["cases_with_model_decision"] and any(r["net_benefit"] is not None for r in money_trend):
    st.markdown("**Net benefit of review per month**")
    ui.chart(charts.net_benefit(roi.net_benefit_trend(money_trend), currency=currency), key="net_benefit_trend")
    st.caption(roi.NET_BENEFIT_CAPTION)  # the words under the chart on page 1 of the executive summary

# -- findings ---------------------------------------------------------------------------------
ui.section("Policy findings", f"Each rule of the policy ({policy.name}) applied to the period: FAIL beyond a fail "
           "bound, WARN beyond a warn bound, PASS otherwise; NOT EVALUATED where the log lacks the evidence. The "
           "same findings as the PDF report and `hitlgov metrics` (drift on the same sample).")
f = data.call(summary.findings, flt, policy_path=ui.policy_path())
findings = f["findings"]
missing = f["not_evaluated"]
tally = {s: sum(1 for x in findings if x["status"] == s) for s in ("fail", "warn", "pass")}
st.markdown(f":red-badge[{tally['fail']} FAIL] :orange-badge[{tally['warn']} WARN] "
            f":green-badge[{tally['pass']} PASS]" + (f" :gray-badge[{len(missing)} NOT EVALUATED]" if missing else ""))


def _card(col, x: dict) -> None:
    with col.container(border=True, height="stretch"):
        where = x["metric"].split(".")
        scope = f" · {ui.md(where[1])}" if where[0] == "fairness" else ""
        st.markdown(f"{ui.STATUS_BADGE[x['status']]} **{ui.md(x['title'])}**{scope}")
        st.markdown(f"**{fmt.finding_value(x['metric'], x['value'])}** (threshold {fmt.finding_value(x['metric'], x['threshold'])})")
        st.caption(", ".join(x["refs"]))


def overdue_work(db: str, system: str | None) -> tuple[int, int]:
    """(overdue remediation items, incidents not yet reported) for the system; counts only."""
    from hitlgov.oversight import incidents, remediation

    try:
        late = [i for i in remediation.items(db, overdue_only=True) if system is None or i["system"] == system]
        open_ = [i for i in incidents.register(db) if i["reported_at"] is None and i["system"] in (None, system)]
    except HitlgovError:  # a store from before the oversight tables, or one being written: say nothing here
        return 0, 0
    return len(late), len(open_)


attention = [x for x in findings if x["status"] != "pass"]
passed = [x for x in findings if x["status"] == "pass"]
per_row = 4
for i in range(0, len(attention), per_row):
    row = st.columns(per_row)
    for col, x in zip(row, attention[i:i + per_row]):
        _card(col, x)
if not attention and findings:
    st.success("Every evaluated rule of the policy passes for this selection.")
if passed:
    with st.expander(f"{len(passed)} passing checks"):
        for x in passed:
            where = x["metric"].split(".")
            scope = f" · {ui.md(where[1])}" if where[0] == "fairness" else ""
            st.markdown(f"{ui.STATUS_BADGE['pass']} **{ui.md(x['title'])}**{scope} "
                        f"(threshold {fmt.finding_value(x['metric'], x['threshold'])}) — {', '.join(x['refs'])}")
if missing:
    st.caption("Not evaluated on this selection: " + "; ".join(
        ui.md(f"{x.get('check') or x['title'] or x['metric']} ({x['reason']})") for x in missing))
_overdue, _incidents = overdue_work(view.db, flt.system)
if _overdue or _incidents:
    parts = []
    if _overdue:
        parts.append(f"{_overdue} remediation item{'s' if _overdue != 1 else ''} overdue")
    if _incidents:
        parts.append(f"{_incidents} serious incident{'s' if _incidents != 1 else ''} not yet reported")
    st.warning("; ".join(parts) + ".", icon=":material/schedule:")
    st.page_link(str(VIEWS / "monitoring.py"), label="Monitoring: history, remediation, incidents",
                 icon=":material/arrow_forward:")
links = st.columns(4)
for col, (target, label) in zip(links, [("oversight.py", "Oversight details"),
                                        ("reviewers.py", "Reviewer agreement"),
                                        ("fairness.py", "Fairness by group"),
                                        ("drift.py", "Drift tests")]):
    col.page_link(str(VIEWS / target), label=label, icon=":material/arrow_forward:")

# -- trends -----------------------------------------------------------------------------------
ui.section("Monthly trends")
trend = data.call(oversight.trend, flt)
left, right = st.columns(2)
with left:
    st.markdown("**Cases and human review**")
    ui.chart(charts.cases_stack(trend))
    st.caption("Cases per month, split into those the model decided alone and those a person reviewed.")
with right:
    st.markdown("**Automation and override rates**")
    ui.chart(charts.lines(trend, [("automation_rate", "Automation rate", charts.AUTOMATED),
                                  ("override_rate", "Override rate", charts.PRIMARY),
                                  ("escalation_rate", "Escalation rate", charts.CURRENT)],
                          y="Rate (%)"))
    st.caption("Automation rate is a share of all cases; override and escalation rates are shares of reviewed cases.")
left, right = st.columns(2)
with left:
    st.markdown("**Reviewer effort and errors caught**")
    effort = [{**r, "errors_caught": r["errors_caught"] if r["outcome_known_cases"] else None} for r in money_trend]
    ui.chart(charts.bars_and_line(effort, bar_key="reviewer_hours", bar_label="Reviewer hours",
                                  line_key="errors_caught", line_label="Errors caught",
                                  y_bar="Reviewer hours (h)", y_line="Errors caught (cases)"))
    st.caption("Hours of review per month against the model errors reviewers corrected (known outcomes only; "
               "the line stops where outcomes are not known yet).")
with right:
    st.markdown("**Error rate: model alone vs after review**")
    ui.chart(charts.lines(money_trend, [("model_error_rate", "Model decision", charts.MODEL),
                                        ("final_error_rate", "Final decision", charts.FINAL)],
                          y="Error rate (%)"))
    st.caption("Share of cases with a known outcome where the decision was wrong; the gap is what review adds.")
