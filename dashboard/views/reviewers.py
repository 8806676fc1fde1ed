"""Reviewers & agreement (compliance): do reviewers agree with each other, and who carries the load."""
from __future__ import annotations

import streamlit as st
from hitlgov.dashboard import charts, data, ui
from hitlgov.metrics import agreement, oversight
from hitlgov.metrics.policy import load_policy

from hitlgov import formats as fmt

view = ui.page("Reviewers & agreement", "Whether independent reviewers reach the same decision on the same case "
               "(chance-corrected agreement, with 95% bootstrap confidence intervals), and how the work is spread.")
ui.require_cases(view)
flt = view.filter
people = data.call(oversight.by_reviewer, flt)
if not people:
    st.info("No human reviewed any case in this selection, so there is no reviewer to describe. "
            "Choose a system or period with reviews.")
    st.stop()

a = data.call(agreement.agreement_summary, flt)

ui.section("Agreement between reviewers")
cols = st.columns(4)
ci = (lambda c: f"95% CI {fmt.ratio(c[0])} – {fmt.ratio(c[1])}" if c else "no interval")
ui.kpi(cols[0], "Multi-reviewed cases", fmt.count(a["cases_with_multiple_reviews"]),
       help="Cases reviewed independently by two or more people: the evidence agreement is measured on.")
ui.kpi(cols[1], "Krippendorff's α (nominal)", fmt.ratio(a["krippendorff_alpha_nominal"]),
       help=ci(a["krippendorff_alpha_nominal_ci"]))
ui.kpi(cols[2], "Fleiss' κ", fmt.ratio(a["fleiss_kappa"]), help=ci(a["fleiss_kappa_ci"]))
ui.kpi(cols[3], "Percent agreement", fmt.pct(a["percent_agreement"]),
       help="Share of reviewer pairs on the same case that gave the same decision (not chance-corrected).")

if not a["cases_with_multiple_reviews"]:
    st.info("No case in this selection was reviewed by two or more people, so agreement cannot be measured. "
            "Route a sample of cases to a second reviewer to measure it.")
else:
    rule = next((r for r in load_policy(ui.policy_path()).rules
                 if r["metric"] == "agreement.krippendorff_alpha_nominal"), {})
    bands = [(rule[k], f"{k.split('_')[0]} {rule[k]:g}") for k in ("fail_below", "warn_below") if k in rule]
    left, right = st.columns([3, 2])
    with left:
        stats = [("Krippendorff's α (nominal)", a["krippendorff_alpha_nominal"], a["krippendorff_alpha_nominal_ci"]),
                 ("Krippendorff's α (ordinal)", a["krippendorff_alpha_ordinal"], a["krippendorff_alpha_ordinal_ci"]),
                 ("Fleiss' κ", a["fleiss_kappa"], a["fleiss_kappa_ci"])]
        ui.chart(charts.ci_forest(stats, x="Agreement", bands=bands))
        st.caption(f"Agreement: 1 = perfect, 0 = chance level. Points are estimates, bars 95% bootstrap intervals ({a['n_boot']:,} resamples of cases). "
                   "α ≥ 0.8 is usually read as reliable, 0.667–0.8 as tentative.")
    with right:
        st.markdown(f"""
- **{fmt.count(a['cases_with_multiple_reviews'])}** cases had several reviewers ({fmt.count(a['reviews'])} reviews \
by {fmt.count(a['reviewers'])} people){' — a seeded sample of ' + fmt.count(a['cases_used']) + ' was used' if a.get('sampled') else ''}.
- **Fleiss' κ** uses the {fmt.count(a['fleiss_cases'])} cases with the most common number of reviewers \
({a['fleiss_reviewers_per_case'] or 'n/a'}).
- **Krippendorff's α** uses every multi-reviewed case; ordinal α needs labels declared as ordered.""")

ui.section("Pairwise Cohen's κ", "Agreement of each pair of reviewers on the cases both reviewed.")
min_shared = st.segmented_control("Minimum shared cases per pair", [5, 10, 20, 50], default=20, key="kappa_min",
                                  help="The default (20) is hitlgov's definition; fewer shared cases give noisier "
                                       "kappas.") or 20
pairs = data.call(agreement.agreement_summary, flt, n_boot=0, min_shared=min_shared)["cohen_kappa_pairs"]
if not pairs:
    st.info(f"No pair of reviewers shares at least {min_shared} cases in this selection. Lower the minimum to see "
            "pairs with less evidence, or widen the period.")
else:
    names = sorted({p["a"] for p in pairs} | {p["b"] for p in pairs})
    ui.chart(charts.kappa_heatmap(pairs, names, height=max(360, 22 * len(names) + 140)))
    st.caption(f"{len(pairs)} pairs share at least {min_shared} cases. Blank cells: too few shared cases. "
               "κ = 1 perfect agreement, 0 chance level, below 0 systematic disagreement.")

ui.section("Agreement with the consensus and workload")
left, right = st.columns(2)
with left:
    cons = sorted([c for c in a["consensus"] if c["agreement"] is not None], key=lambda c: c["agreement"])
    if cons:
        ui.chart(charts.colored_bars([c["reviewer_id"] for c in cons], [c["agreement"] for c in cons],
                                     [charts.FLAGGED if c["agreement"] < (a["percent_agreement"] or 0) - 0.1
                                      else charts.PRIMARY for c in cons],
                                     x="Agreement with majority (%)", y="Reviewer",
                                     percent=True, horizontal=True, height=max(320, 18 * len(cons) + 80),
                                     reference=(a["percent_agreement"], "overall") if a["percent_agreement"] else None))
        st.caption("Each reviewer's decisions against the majority of the *other* reviewers on the same case; "
                   "red: more than 10 points below the overall percent agreement.")
    else:
        st.info("No reviewer has a case shared with others to compare against.")
with right:
    work = sorted(people, key=lambda r: r["reviews"], reverse=True)
    ui.chart(charts.colored_bars([r["reviewer_id"] for r in work], [r["reviews"] for r in work],
                                 [charts.PRIMARY] * len(work), x="Reviews (count)", y="Reviewer", horizontal=True,
                                 height=max(320, 18 * len(work) + 80),
                                 text=[fmt.hours((r["review_seconds_total"] or 0) / 3600) for r in work]))
    st.caption("Reviews per reviewer in the period; labels: hours spent.")

ui.section("Reviewer table")
acc = {r["reviewer_id"]: r for r in data.call(oversight.reviewer_accuracy, flt)}
cons_by = {c["reviewer_id"]: c for c in a["consensus"]}
rows = [{"Reviewer": r["reviewer_id"], "Reviews": r["reviews"], "Override rate": r["override_rate"],
         "Escalation rate": r["escalation_rate"], "Rationale given": r["rationale_rate"],
         "Median time (s)": r["review_seconds_median"],
         "Agreement with consensus": cons_by.get(r["reviewer_id"], {}).get("agreement"),
         "Accuracy": acc.get(r["reviewer_id"], {}).get("reviewer_accuracy"),
         "Value added": acc.get(r["reviewer_id"], {}).get("value_added")} for r in people]
rate_cols = ["Override rate", "Escalation rate", "Rationale given", "Agreement with consensus", "Accuracy"]
ui.table(ui.as_percent(rows, rate_cols), column_config={
    "Override rate": ui.pct_column("Override rate"), "Escalation rate": ui.pct_column("Escalation rate"),
    "Rationale given": ui.pct_column("Rationale given"),
    "Median time (s)": st.column_config.NumberColumn(format="%.0f"),
    "Agreement with consensus": ui.pct_column("Agreement with consensus"),
    "Accuracy": ui.pct_column("Accuracy", help="Reviewer decisions matching the known outcome"),
    "Value added": st.column_config.NumberColumn(
        format="%+.3f", help="Reviewer accuracy minus the model's accuracy on the same reviews (known outcomes)")})
st.caption("**Value added** > 0: the reviewer corrects the model; ≈ 0: only agrees with it; < 0: makes it worse.")
