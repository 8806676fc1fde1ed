"""Fairness (compliance): group rates of the model's and the final decision, disparities against the
policy, the four-fifths rule, and whether human review narrowed the gap."""
from __future__ import annotations

import streamlit as st
from hitlgov.dashboard import charts, data, ui
from hitlgov.metrics import fairness
from hitlgov.metrics.policy import evaluate, load_policy
from hitlgov.metrics.summary import review_effect_against_policy

from hitlgov import formats as fmt

URL_KEY = "attr"

view = ui.page("Fairness", "Whether decisions favour one group over another, for the model's decision and for the "
               "decision that took effect after human review (Fairlearn MetricFrame definitions).")
counts = ui.require_cases(view)
flt = view.filter
ctx = view.context
if not ctx.get("sensitive"):
    st.info(f"No sensitive attribute is declared for {ui.md(flt.system)}. Declare one at ingestion "
            "(`--sensitive COLUMN` or `sensitive:` in the mapping file) to measure fairness.")
    st.stop()
if not ctx.get("positive_label"):
    st.info("Fairness needs the favourable (positive) label, which was not declared for this system "
            "(`--positive-label` or `positive_label:` in the mapping file).")
    st.stop()

options = list(ctx["sensitive"])
if len(options) > 1:
    options.append(fairness.INTERSECTION.join(options[:2]))
# the chosen attribute is in the URL (?attr=gender), so a shared link opens the same groups; a
# session starts from the link once, afterwards the control's own state wins and is written back
wanted = st.query_params.get(URL_KEY)
if not st.session_state.get("_fair_attr_from_url"):  # the page's first run in this session
    st.session_state["_fair_attr_from_url"] = True
    if wanted is None:
        pass
    elif wanted in options:
        st.session_state["fair_attr"] = wanted
    else:
        st.warning(f"The attribute in the link, {ui.md(wanted)}, is not a sensitive attribute of "
                   f"{ui.md(flt.system)}; showing {ui.md(options[0])}.")
if st.session_state.get("fair_attr") not in options:
    st.session_state["fair_attr"] = options[0]
attr = st.segmented_control("Sensitive attribute", options, key="fair_attr",
                            help="Groups are the values of this attribute (or of the intersection of two).")
attr = attr or options[0]
if st.query_params.get(URL_KEY) != attr:
    st.query_params[URL_KEY] = attr
attrs = tuple(attr.split(fairness.INTERSECTION))
if flt.segment and flt.segment[0] in attrs:
    st.warning(f"The segment filter keeps only {ui.md(flt.segment[0])} = {ui.md(flt.segment[1])}, so there is a single group of "
               f"{flt.segment[0]} to compare. Clear the segment filter to compare groups.")

f = data.call(fairness.fairness_by_attribute, flt, attributes=attrs)
if f["model_decision"] is None:
    st.info(f"No case in this selection has a value for {ui.md(attr)}, so there are no groups to compare.")
    st.stop()
model, final, effect = f["model_decision"], f["final_decision"], f["review_effect"]
reviewed = counts["reviewed_cases"] > 0
ff_model, ff_final = model["four_fifths_rule"], final["four_fifths_rule"]
policy = load_policy(ui.policy_path())
# the same findings the Overview, the PDF and `metrics --json` judge this attribute by
findings, _ = evaluate(policy, {"fairness": {attr: f}})
review_effect_against_policy({attr: f}, findings)
ci = final.get("ci") or {}

cols = st.columns(4)
ui.kpi(cols[0], "Demographic parity difference", fmt.ratio(final["demographic_parity_difference"]),
       delta=fmt.pp(effect["dpd_change"]) if reviewed else None, delta_color="inverse",
       delta_description="final vs model decision",
       help=f"Largest minus smallest selection rate across groups, final decisions (model: "
            f"{fmt.ratio(model['demographic_parity_difference'])}; 95% bootstrap interval "
            f"{fmt.interval(ci.get('demographic_parity_difference'), fmt.ratio)}). 0 = every group selected equally often.")
ui.kpi(cols[1], "Favourable-rate ratio", fmt.ratio(final["favourable_rate_ratio"]),
       delta=("passes four-fifths" if ff_final["passes"] else "fails four-fifths") if ff_final["passes"] is not None
       else None, delta_color="normal" if ff_final["passes"] else "inverse", delta_arrow="off",
       help=f"Smallest / largest share of cases decided '{f['favourable_label']}' (the favourable outcome) across "
            f"groups, final decisions (95% bootstrap interval {fmt.interval(ci.get('favourable_rate_ratio'), fmt.ratio)}). "
            f"The four-fifths rule asks ≥ 0.8.")
ui.kpi(cols[2], "Equalized odds difference", fmt.ratio(final["equalized_odds_difference"]),
       delta=fmt.pp(effect["eod_change"]) if reviewed and effect["eod_change"] is not None else None,
       delta_color="inverse", delta_description="final vs model decision",
       help=f"The larger of the true- and false-positive-rate gaps across groups, final decisions "
            f"(cases with a known outcome; 95% bootstrap interval "
            f"{fmt.interval(ci.get('equalized_odds_difference'), fmt.ratio)}).")
verdict = {"reduced": "Yes", "increased": "No", "unchanged": "Unchanged", "mixed": "Mixed",
           None: "n/a"}[effect["verdict"] if reviewed else None]
ui.kpi(cols[3], "Did review reduce disparity?", verdict,
       delta=(f"{fmt.pp(effect['dpd_change'])} parity gap") if reviewed and effect["dpd_change"] is not None else None,
       delta_color="inverse", delta_arrow="off",
       help=f"Change of the disparities from the model's to the final decisions; changes within "
            f"±{fmt.pp(effect['tolerance']).lstrip('+')} count as unchanged.")
if not reviewed:
    st.info("No case in this selection was reviewed, so the final decision is the model's: the two sides below are "
            "the same and review cannot have changed the disparity.")
else:
    after = {"fail": "still **fail** the policy", "warn": "are still within the policy's **warning** band",
             "pass": "pass the policy", None: "are not judged by the policy"}[effect.get("final_status")]
    failing = ", ".join(k.replace("_", " ") for k in effect.get("final_failing") or [])
    text = f"After review, the final decisions for {ui.md(attr)} {after}" + (f" ({failing})." if failing else ".")
    worse = effect.get("worsened") or []
    if worse:
        text += " Review made these error rates worse: " + "; ".join(
            f"{ui.md(w['group'])} {'false positive' if w['rate'] == 'false_positive_rate' else 'false negative'} "
            f"rate {fmt.pct(w['model'])} → {fmt.pct(w['final'])}" for w in worse[:3]) + \
            (f" (and {len(worse) - 3} more)." if len(worse) > 3 else ".")
    (st.error if effect.get("final_status") == "fail" else st.warning if effect.get("final_status") == "warn" or worse
     else st.info)(text)
small = final.get("insufficient_evidence_groups") or []
if small:
    st.warning(f"Insufficient evidence for {ui.md(', '.join(small))}: fewer than {final['min_group_size']} cases in "
               f"this selection. Their rates are shown below but left out of the disparities, so they never make a "
               f"finding pass or fail on their own.")

if ff_final["passes"] is False:
    st.error(f"**Four-fifths rule fails** on final decisions for {ui.md(attr)}: "
             f"{ui.md(', '.join(ff_final['disadvantaged_groups']))} decided '{ui.md(f['favourable_label'])}' (the "
             f"favourable outcome) at less than 80% of the rate of the most favoured group "
             f"(ratio {fmt.ratio(ff_final['ratio'])}; model decisions: {fmt.ratio(ff_model['ratio'])}).")
elif ff_final["passes"]:
    st.success(f"Four-fifths rule passes on final decisions for {ui.md(attr)} (ratio of the rates decided "
               f"'{ui.md(f['favourable_label'])}': {fmt.ratio(ff_final['ratio'])}).")

groups = list(model["by_group"])
colours = charts.color_map(groups if len(attrs) > 1 else ctx["segments"].get(attr, groups))
ui.section("Rates by group: model vs final decision",
           f"Selection rate: share of the group's cases decided '{f['positive_label']}'. False positive rate: share "
           "of the group's negative outcomes decided positive; false negative rate: share of positive outcomes "
           "decided negative (cases with a known outcome).")
ui.chart(charts.fairness_side_by_side(model, final, colours))

ui.section("Disparities against the policy", "Bars: model and final decisions; dashed lines: the policy's warn "
           "(amber) and fail (red) bounds for final decisions.")
rules = {r["metric"].rsplit(".", 1)[-1]: r for r in policy.rules
         if r["metric"].startswith("fairness.*.final_decision.")}


def _lines(name: str) -> list:
    r = rules.get(name, {})
    out = []
    for key, colour in (("warn_above", charts.STATUS["warn"]), ("fail_above", charts.STATUS["fail"]),
                        ("warn_below", charts.STATUS["warn"]), ("fail_below", charts.STATUS["fail"])):
        if key in r:
            out.append((r[key], f"{key.split('_')[0]} {r[key]:g}", colour))
    return out


panels = [
    {"title": "Demographic parity difference", "model": model["demographic_parity_difference"],
     "final": final["demographic_parity_difference"], "lines": _lines("demographic_parity_difference"),
     "fmt": fmt.ratio, "y": "Difference (0 = parity)"},
    {"title": "Favourable-rate ratio (four-fifths)", "model": model["favourable_rate_ratio"],
     "final": final["favourable_rate_ratio"], "lines": _lines("favourable_rate_ratio"),
     "fmt": fmt.ratio, "y": "Ratio (1 = parity)"},
    {"title": "Equalized odds difference", "model": model["equalized_odds_difference"],
     "final": final["equalized_odds_difference"], "lines": _lines("equalized_odds_difference"),
     "fmt": fmt.ratio, "y": "Difference (0 = equal error rates)"},
]
ui.chart(charts.disparity_panels(panels))

ui.section("Group details")
rows = []
for g in groups:
    m, fi = model["by_group"][g], final["by_group"].get(g, {})
    fci = fi.get("ci") or {}
    rows.append({"Group": g, "Cases": m["count"], "Evidence": "insufficient" if fi.get("insufficient_evidence") else "",
                 "Outcome known": m.get("outcome_known"),
                 "Selection rate (model)": m["selection_rate"], "Selection rate (final)": fi.get("selection_rate"),
                 "Selection rate 95% CI (final)": fmt.interval(fci.get("selection_rate")),
                 "FPR (model)": m.get("false_positive_rate"), "FPR (final)": fi.get("false_positive_rate"),
                 "FPR 95% CI (final)": fmt.interval(fci.get("false_positive_rate")),
                 "FNR (model)": m.get("false_negative_rate"), "FNR (final)": fi.get("false_negative_rate"),
                 "FNR 95% CI (final)": fmt.interval(fci.get("false_negative_rate")),
                 "Accuracy (final)": fi.get("accuracy")})
pct_cols = [c for c in rows[0] if c not in ("Group", "Cases", "Evidence", "Outcome known") and "CI" not in c]
ui.table(ui.as_percent(rows, pct_cols), column_config={c: ui.pct_column(c) for c in pct_cols})
missing = f.get("cases_without_group") or 0
st.caption(f"Positive label: '{ui.md(f['positive_label'])}' (selection rate, FPR, FNR); favourable outcome: "
           f"'{ui.md(f['favourable_label'])}' (four-fifths rule)."
           + (f" {fmt.count(missing)} cases have no value for {attr} and are left out." if missing else ""))
