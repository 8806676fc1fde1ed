"""Reliance (compliance): does human oversight *work* -- appropriate reliance, unbiased accuracy under
selective review, reviewer quality without ground truth, prevalence-robust agreement, the LL144 table.

Layout only: every number comes from ``hitlgov.metrics`` through ``dashboard/data.py``. Reviewer ids
and category names are data: they go into tables and chart labels, never into markdown.
"""
from __future__ import annotations

import datetime as dt
import io

import pandas as pd
import streamlit as st
from hitlgov.dashboard import access, charts, data, exports, ui
from hitlgov.metrics import agreement, bias_audit, reliance, reviewer_quality, selective_accuracy

from hitlgov import formats as fmt

view = ui.page("Reliance", "Whether reviewers keep right model decisions and fix wrong ones, how accurate the "
               "automated stream really is, and how good reviewers are when outcomes never arrive.")
ui.require_cases(view)
flt = view.filter


def _ci(block: dict | None) -> str:
    if not block or block.get("ci") is None:
        return "no interval (no cases)"
    return f"95% CI {fmt.pct(block['ci'][0])} – {fmt.pct(block['ci'][1])}; n = {fmt.count(block['denominator'])}"


def _rate(block: dict | None) -> str:
    return fmt.pct(block["rate"]) if block and block.get("rate") is not None else "–"


rel = data.call(reliance.reliance_summary, flt)
EVIDENCE = {"outcomes": "known outcomes", "initial_judgements": "first judgements before the model's output",
            "canaries": "planted wrong outputs (canaries)"}

ui.section("Reliance on the model", "Of the reviews whose model decision turned out wrong, how many kept it "
           "(over-reliance); of those where it was right, how many overrode it (under-reliance).")
cols = st.columns(4)
ui.kpi(cols[0], "Over-reliance", _rate(rel["over_reliance"]), help=_ci(rel["over_reliance"]))
ui.kpi(cols[1], "Under-reliance", _rate(rel["under_reliance"]), help=_ci(rel["under_reliance"]))
net = rel["net_effect_on_accuracy"]
ui.kpi(cols[2], "Net effect of review", fmt.pp(net["difference"]) or "–",
       help="Accuracy of the human decisions minus the model's on the same reviews"
            + (f"; 95% CI {fmt.pp(net['ci'][0])} – {fmt.pp(net['ci'][1])}; n = {fmt.count(net['denominator'])}"
               if net["ci"] else ""))
ui.kpi(cols[3], "Canary catch rate", _rate(rel["canary_catch_rate"]), help=_ci(rel["canary_catch_rate"]))
cols = st.columns(4)
ui.kpi(cols[0], "Switch rate", _rate(rel["switch_rate"]), help="Of the reviews whose first judgement differed "
       "from the model's output, the share that ended on the model's label; " + _ci(rel["switch_rate"]))
ui.kpi(cols[1], "Relative AI reliance", _rate(rel["relative_ai_reliance"]), help=_ci(rel["relative_ai_reliance"]))
ui.kpi(cols[2], "Relative self-reliance", _rate(rel["relative_self_reliance"]),
       help=_ci(rel["relative_self_reliance"]))
if rel["evidence"]:
    st.caption("Evidence in this log: " + "; ".join(EVIDENCE[e] for e in rel["evidence"]) + ".")
else:
    st.info("This selection has no known outcomes, no first judgements and no canaries, so reliance cannot be "
            "measured. Record outcomes, the reviewer's first judgement (human_initial_decision) or plant "
            "canaries (canary) to measure it.")
rows = [(label, rel[key]["rate"], rel[key]["ci"]) for label, key in (
    ("Over-reliance", "over_reliance"), ("Under-reliance", "under_reliance"), ("Switch rate", "switch_rate"),
    ("Relative AI reliance", "relative_ai_reliance"), ("Relative self-reliance", "relative_self_reliance"),
    ("Canary catch rate", "canary_catch_rate"))]
if any(r[1] is not None for r in rows):
    ui.chart(charts.ci_forest(rows, x="Share of reviews (Wilson 95% interval)", height=300))
    st.caption("Relative AI / self-reliance (Schemmer et al., IUI 2023) need the reviewer's first judgement: of "
               "the reviews where it was wrong and the model right, the share that switched to the model; of "
               "those where it was right and the model wrong, the share that kept it.")

per = [{"Reviewer": r["reviewer_id"], "Reviews": r["reviews"], "With outcome": r["reviews_with_outcome"],
        "Over-reliance": r["over_reliance"]["rate"], "Under-reliance": r["under_reliance"]["rate"],
        "Net effect (pp)": None if r["net_effect_on_accuracy"]["difference"] is None
        else 100 * r["net_effect_on_accuracy"]["difference"],
        "Relative AI reliance": r["relative_ai_reliance"]["rate"],
        "Relative self-reliance": r["relative_self_reliance"]["rate"],
        "Canaries": r["canary_catch_rate"]["denominator"], "Canary catch rate": r["canary_catch_rate"]["rate"]}
       for r in rel["by_reviewer"]]
if per:
    pct_cols = ["Over-reliance", "Under-reliance", "Relative AI reliance", "Relative self-reliance",
                "Canary catch rate"]
    ui.table(ui.as_percent(per, pct_cols), column_config={
        **{c: ui.pct_column(c) for c in pct_cols}, "Net effect (pp)": st.column_config.NumberColumn(format="%+.1f")},
        key="reliance_table")

ui.section("Accuracy under selective review", "Cases reach a person because the model was unsure, so the error "
           "rate seen where outcomes are known is biased. A random audit of otherwise automated cases, weighted by "
           "its inclusion probabilities (Horvitz–Thompson), estimates the automated stream without that bias.")
sa = data.call(selective_accuracy.selective_accuracy_summary, flt)
auto = sa["automated_error_rate"]
cols = st.columns(4)
ui.kpi(cols[0], "Automated error rate (audit)", _rate(auto),
       help=(f"95% CI {fmt.pct(auto['ci'][0])} – {fmt.pct(auto['ci'][1])}; {fmt.count(auto['audited_cases'])} "
             f"audited cases with a known outcome ({fmt.count(auto['audited_without_outcome'])} without, assumed "
             f"missing at random) of {fmt.count(sa['automated_cases'])} automated cases" if auto["ci"]
             else "no audited case with a known outcome"))
ui.kpi(cols[1], "Reviewed stream error rate", _rate(sa["reviewed_error_rate"]), help=_ci(sa["reviewed_error_rate"]))
sys_acc = sa["system_accuracy"]
ui.kpi(cols[2], "System accuracy", fmt.pct(sys_acc["accuracy"]) if sys_acc["accuracy"] is not None else "–",
       help=(f"95% CI {fmt.pct(sys_acc['ci'][0])} – {fmt.pct(sys_acc['ci'][1])}" if sys_acc["ci"] else
             "needs an audit sample"))
ui.kpi(cols[3], "Observed model error (biased)", _rate(sa["observed_model_error_rate"]),
       help="The model's error rate where outcomes are known: mostly the uncertain, reviewed cases.")
if sa["audit_sample"]:
    d = sa["auditor_disagreement"]
    st.caption(f"The auditors changed {fmt.pct(d['rate'])} of the model's decisions on the "
               f"{fmt.count(d['audited_cases'])} audited cases (not an error rate: auditors mostly confirm the model, "
               "so only known outcomes count as errors)." + (f" Note: {sa['note']}." if sa["note"] else ""))
if not sa["audit_sample"] and sa["required_audit_cases"] is None:  # no automated stream (e.g. annotation-only)
    st.info("No audit sample in this selection, and no automated case to audit: every case here went to a person "
            "or had no model decision.")
elif not sa["audit_sample"]:
    st.info(f"No audit sample in this selection: the automated stream's error rate cannot be estimated without "
            f"bias. A random audit of {fmt.count(sa['required_audit_cases'])} automated cases would give ± "
            f"{fmt.pct(sa['target_half_width'])} at 95% confidence (mark them with audit_sample and "
            f"audit_probability).")

ui.section("Agreement robust to prevalence", "Gwet's AC1/AC2 stay meaningful when one label dominates, where "
           "kappa collapses (the kappa paradox).")
a = data.call(agreement.agreement_summary, flt)
if not a["cases_with_multiple_reviews"]:
    st.info("No case in this selection was reviewed by two or more people, so agreement cannot be measured.")
else:
    cols = st.columns(3)
    ui.kpi(cols[0], "Gwet's AC1", fmt.ratio(a["gwet_ac1"]),
           help=f"95% CI {fmt.ratio(a['gwet_ac1_ci'][0])} – {fmt.ratio(a['gwet_ac1_ci'][1])}" if a["gwet_ac1_ci"]
           else "no interval")
    ui.kpi(cols[1], "Fleiss' κ", fmt.ratio(a["fleiss_kappa"]))
    ui.kpi(cols[2], "Krippendorff's α", fmt.ratio(a["krippendorff_alpha_nominal"]))
    ui.chart(charts.ci_forest([("Gwet's AC1", a["gwet_ac1"], a["gwet_ac1_ci"]),
                               ("Gwet's AC2 (quadratic)", a["gwet_ac2"], a["gwet_ac2_ci"]),
                               ("Fleiss' κ", a["fleiss_kappa"], a["fleiss_kappa_ci"]),
                               ("Krippendorff's α", a["krippendorff_alpha_nominal"], a["krippendorff_alpha_nominal_ci"])],
                              x="Agreement (1 = perfect, 0 = chance)"), key="gwet_chart")

ui.section("Reviewer quality without ground truth", "Dawid–Skene estimates each reviewer's confusion matrix from "
           "the cases several people reviewed (crowd-kit), beside the accuracy against known outcomes.")
q = data.call(reviewer_quality.reviewer_quality_summary, flt)
if not q["available"]:
    st.info("Dawid–Skene is not available for this selection: " + q["reason"] + ".")
else:
    ui.table(ui.as_percent([{"Reviewer": r["reviewer_id"], "Multi-reviewed cases": r["reviews"],
                             "Estimated accuracy (Dawid–Skene)": r["estimated_accuracy"],
                             "Accuracy vs outcomes": r["outcome_accuracy"],
                             "Reviews with outcome": r["reviews_with_outcome"]} for r in q["by_reviewer"]],
                           ["Estimated accuracy (Dawid–Skene)", "Accuracy vs outcomes"]),
             column_config={"Estimated accuracy (Dawid–Skene)": ui.pct_column("Estimated accuracy (Dawid–Skene)"),
                            "Accuracy vs outcomes": ui.pct_column("Accuracy vs outcomes")}, key="ds_table")
    st.caption(f"{fmt.count(q['cases_used'])} multi-reviewed cases; reviewers with fewer than "
               f"{q['min_reviews_per_reviewer']} of them show no estimate. Dawid–Skene assumes reviewers err "
               "independently: reviewers who copy the model look better than they are.")

ui.section("Bias audit (NYC Local Law 144)", "Selection rate and impact ratio of the final decisions by sex, "
           "race/ethnicity and their intersection; categories under 2% of the data are flagged as excludable.")
try:
    t = data.call(bias_audit.bias_audit_table, flt)
except ValueError as exc:
    t = {"available": False, "reason": str(exc)}
if not t["available"]:
    st.info("No LL144 table for this selection: " + t["reason"] + ".")
else:
    frames = []
    for dim, label in (("sex", "Sex"), ("race_ethnicity", "Race/ethnicity"), ("intersectional", "Intersection")):
        for r in t[dim]:
            frames.append({"Dimension": label, "Category": r["category"], "Individuals": r["individuals"],
                           "Selected": r["selected"], "Selection rate": r["selection_rate"],
                           "Impact ratio": r["impact_ratio"], "Share of data": r["share_of_data"],
                           "Excludable (< 2%)": r["excludable"]})
    ui.table(ui.as_percent(frames, ["Selection rate", "Share of data"]), column_config={
        "Selection rate": ui.pct_column("Selection rate"), "Share of data": ui.pct_column("Share of data"),
        "Impact ratio": st.column_config.NumberColumn(format="%.3f")}, key="ll144_table")
    # the favourable label and attribute names are data: shown as text, never inside markdown
    st.text(f"Favourable label: {t['favourable_label']}; sex attribute: {t['sex_attribute'] or 'none'}; "
            f"race/ethnicity attribute: {t['race_attribute'] or 'none'}")
    st.caption(f"{fmt.count(t['individuals'])} individuals; unknown sex {fmt.count(t['unknown_sex'])}, "
               f"unknown race/ethnicity {fmt.count(t['unknown_race_ethnicity'])}.")
    name = f"hitlgov-ll144-{dt.date.today().isoformat()}.csv"
    who = access.current()  # captured now: the deferred download runs outside the page's script run

    def _ll144_csv() -> bytes:
        rows = pd.read_csv(io.StringIO(bias_audit.bias_audit_csv(t)), dtype=str, keep_default_na=False)
        return exports.csv_download(rows, what="LL144 bias audit", file_name=name, actor=who.actor, flt=flt)

    if access.allowed("export"):  # not drawn = no deferred download registered for this session
        st.download_button("Download LL144 table (CSV)", data=_ll144_csv, file_name=name, mime="text/csv",
                           on_click="ignore", icon=":material/download:", key="ll144_export")
