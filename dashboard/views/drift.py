"""Drift (compliance): has what the model sees, decides and gets overridden on changed since the reference
window? Evidently's tests per column, distribution overlays, and score / override rate over time."""
from __future__ import annotations

import streamlit as st
from hitlgov.dashboard import charts, data, ui
from hitlgov.metrics import drift, oversight, summary
from hitlgov.metrics.policy import load_policy

from hitlgov import formats as fmt

view = ui.page("Drift", "Whether the inputs, scores and decisions in the current window still look like the "
               "reference window (post-market monitoring, EU AI Act Art. 72). Tests and defaults are Evidently's.")
ui.require_cases(view)
flt = view.filter
policy = load_policy(ui.policy_path())

with st.expander("Windows and sample", expanded=False):
    c1, c2, c3 = st.columns(3)
    ref_months = c1.number_input("Reference: first N months (before the current window)", 1, 12,
                                 int(policy.setting("drift_reference_months", 3)), key="drift_ref")
    cur_months = c2.number_input("Current: last N months of the scope's decisions", 1, 12,
                                 int(policy.setting("drift_current_months", 1)), key="drift_cur")
    policy_sample = summary.drift_sample_rows(policy)  # the sample the PDF and `metrics --json` use
    choices = sorted({2_000, 5_000, 10_000, 20_000, policy_sample})
    sample = c3.selectbox("Cases sampled per window", choices, index=choices.index(policy_sample), key="drift_sample",
                          format_func=fmt.count, help="A seeded random sample of each window, drawn in the engine. "
                          "Larger samples detect smaller shifts and take longer.")
# the windows of the PDF and `metrics --json`: over the scope's own first..last decision in the period,
# the reference ending before the current window starts (metrics/drift.py)
reference, current = data.call(drift.windows_for, flt, reference_months=int(ref_months), current_months=int(cur_months),
                               what="the drift windows")
windows = {"reference": {"from": reference[0].isoformat(), "to": reference[1].isoformat()},
           "current": {"from": current[0].isoformat(), "to": current[1].isoformat()}}
st.caption(f"Reference window {fmt.day(reference[0])} – {fmt.day(reference[1])}; current window "
           f"{fmt.day(current[0])} – {fmt.day(current[1])}: the selection's own decisions in the period, the "
           "reference ending before the current window starts (policy defaults; change them above).")
if reference[1] < reference[0]:
    st.warning("The period is too short for separate windows: no reference window fits before the current one. "
               "Widen the period for a meaningful comparison.")

result, problem = None, None
try:
    result = data.call(drift.drift_summary, flt, reference=reference, current=current, max_rows=sample,
                       what="Evidently's drift tests (the first time for a selection takes a few seconds)")
except ImportError as exc:
    problem = f"The drift tests are not available in this installation ({exc})."
if problem:
    st.warning(problem + " The distributions and trends below do not need them.")
elif result.get("error"):
    st.info(f"Drift cannot be tested: {ui.md(result['error'])}. Widen the period or change the windows.")
    result = None

columns = (result or {}).get("columns") or []
if result is not None:
    share = result.get("drift_share")
    cols = st.columns(4)
    ui.kpi(cols[0], "Drifted columns", f"{result.get('drifted_columns', 0)} of {result.get('total_columns', 0)}",
           help="Columns whose distribution differs between the windows by Evidently's test for that column.")
    ui.kpi(cols[1], "Share drifted", fmt.pct(share), help="Drifted columns / tested columns.")
    ui.kpi(cols[2], "Dataset drift", {True: "Yes", False: "No", None: "n/a"}[result.get("dataset_drift")],
           help=f"Evidently's rule: at least {fmt.pct(result.get('drift_share_threshold', 0.5), 0)} of the "
                "tested columns drifted.")
    w = result.get("windows", {})
    ui.kpi(cols[3], "Cases (reference / current)",
           f"{fmt.count(w.get('reference', {}).get('cases'))} / {fmt.count(w.get('current', {}).get('cases'))}",
           help=f"Cases in each window; at most {fmt.count(sample)} of each are tested.")

    ui.section("Per-column tests")
    verdict = {True: "Drifted", False: "Stable", None: "Not tested"}
    rows = [{"Column": c.get("column"), "Type": c.get("kind"), "Test": c.get("test"),
             "Statistic": c.get("statistic"), "Threshold": c.get("stattest_threshold"),
             "Result": verdict[c.get("drifted")], "Rows (reference / current)":
             f"{fmt.count(c.get('reference_rows'))} / {fmt.count(c.get('current_rows'))}", "Note": c.get("note")}
            for c in sorted(columns, key=lambda c: (c.get("drifted") is not True, str(c.get("column"))))]
    ui.table(rows, column_config={"Statistic": st.column_config.NumberColumn(format="%.4f"),
                                  "Threshold": st.column_config.NumberColumn(format="%.3g")})
    st.caption("Evidently picks the test per column from its type and the sample size: distances (Wasserstein, "
               "Jensen–Shannon) drift at or above their threshold, p-values (K–S, chi-squared, Z) below it. "
               "`model_positive`: the model's positive decision (0/1); `overridden`: whether review overrode the "
               "model (0/1, reviewed cases only).")

ui.section("Distributions: reference vs current",
           "Share of each window's cases per value range (numbers) or category; computed on all cases of the windows.")
candidates = ["model_score"] + list(view.context.get("features", []))
order = {c.get("column"): i for i, c in enumerate(sorted(columns, key=lambda c: not c.get("drifted")))}
candidates.sort(key=lambda c: order.get(c, len(order)))
flag = {c.get("column"): bool(c.get("drifted")) for c in columns}
for i in range(0, len(candidates), 2):
    row = st.columns(2)
    for col, name in zip(row, candidates[i:i + 2]):
        with col:
            dist = data.call(drift.distribution, flt, column=name, reference=reference, current=current)
            badge = " :red-badge[drifted]" if flag.get(name) else (" :green-badge[stable]" if name in flag else "")
            st.markdown(f"**{ui.md(name)}**{badge}")
            if dist["kind"] is None:
                st.info(f"No values of {ui.md(name)} in either window.")
            else:
                ui.chart(charts.overlay(dist, height=280), key=f"overlay_{name}")

ui.section("Score and override rate over time", "Shaded: the reference and current windows.")
left, right = st.columns(2)
with left:
    scores = data.call(drift.score_trend, flt)
    if any(r["score_mean"] is not None for r in scores):
        ui.chart(charts.score_band(scores, windows=windows))
        st.caption("Monthly median and mean model score with the 10th–90th percentile band.")
    else:
        st.info("The log records no model scores for this selection.")
with right:
    trend = data.call(oversight.trend, flt)
    series = [("override_rate", "Override rate", charts.PRIMARY)]
    if any(r.get("positive_rate") is not None for r in scores):
        by_period = {s["period"]: s["positive_rate"] for s in scores}
        merged = [{**t, "positive_rate": by_period.get(t["period"])} for t in trend]
        series.append(("positive_rate", "Model positive-decision rate", charts.MODEL))
    else:
        merged = trend
    ui.chart(charts.lines(merged, series, y="Rate (%)", windows=windows))
    st.caption("Override rate: share of reviewed cases overridden; a rise signals the model serves reviewers worse. "
               "Positive-decision rate: share of all cases the model decided positively.")
