"""What goes where: the evidence document arranged for the templates.

Everything here is layout: choosing, ordering and joining values the metric functions
returned (carried in the evidence document), and asking :mod:`hitlgov.reports.charts` to draw them.
No figure is computed here; formatting happens in the templates with the dashboard's
formatters (:mod:`hitlgov.formats`, registered as Jinja filters by :mod:`hitlgov.reports.render`).
"""
from __future__ import annotations

import base64
import datetime as dt
from typing import Any

from hitlgov.metrics import periods, roi
from hitlgov.metrics.policy import BOUNDS, Policy
from hitlgov.reports import charts, narrative, regulatory

from hitlgov import formats as fmt

KINDS = {"compliance": "Compliance report", "executive": "Executive summary"}
STATUSES = ("fail", "warn", "pass")
NOT_APPLICABLE = "not applicable: no model decisions"
#: the metric families about the model's decision: on a scope where no case has one (an
#: annotation-only source) a policy check on them is not applicable rather than merely unevaluated
MODEL_DECISION_METRICS = ("oversight.automation_rate", "oversight.review_rate", "oversight.override_rate",
                          "oversight.escalation_rate", "oversight.high_risk_review_coverage", "automation_bias.",
                          "reliance.", "selective_accuracy.", "fairness.", "drift.", "roi.")


def _not_applicable(not_evaluated: list[dict]) -> list[dict]:
    """The unevaluated checks, those about the model's decision saying why: there is none."""
    return [{**x, "reason": NOT_APPLICABLE} if str(x.get("metric", "")).startswith(MODEL_DECISION_METRICS) else x
            for x in not_evaluated]


def data_uri(svg: str) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


def _strip(findings: list[dict], not_evaluated: list[dict]) -> dict:
    out = {s: sum(1 for f in findings if f["status"] == s) for s in STATUSES}
    out["not_evaluated"] = len(not_evaluated)
    return out


def _findings(findings: list[dict]) -> list[dict]:
    return [{**f, "scope": narrative.scope(f["metric"]),
             "value_text": narrative.format_value(f["metric"], f["value"]),
             "threshold_text": narrative.format_value(f["metric"], f["threshold"]),
             "bounds_text": ", ".join(f"{b.replace('_', ' ')} {narrative.format_value(f['metric'], v)}"
                                      for b, v in f.get("bounds", {}).items())} for f in findings]


def _policy_rules(policy: Policy | None) -> list[dict]:
    if policy is None:
        return []
    rows = []
    for r in policy.rules:
        rows.append({"metric": r["metric"], "title": r.get("title", r["metric"]), "refs": r.get("refs", []),
                     "bounds": [(b.replace("_", " "), narrative.format_value(r["metric"], r[b]))
                                for b in BOUNDS if b in r],
                     "raw_bounds": {b: float(r[b]) for b in BOUNDS if b in r}})
    return rows


def _windows(drift: dict) -> dict | None:
    w = drift.get("windows") if drift else None
    return w if w and w.get("reference") and w.get("current") else None


def _fairness(metrics: dict, segments: dict, policy_rules: list[dict]) -> list[dict]:
    lines = {}
    for r in policy_rules:
        if r["metric"].startswith("fairness.*.final_decision."):
            name = r["metric"].rsplit(".", 1)[-1]
            lines[name] = r
    out = []
    for attr, block in metrics.get("fairness", {}).items():
        item: dict[str, Any] = {"attribute": attr, "error": block.get("error"),
                                "positive_label": block.get("positive_label"),
                                "favourable_label": block.get("favourable_label") or block.get("positive_label"),
                                "cases_without_group": block.get("cases_without_group") or 0,
                                "cases_without_model_decision": block.get("cases_without_model_decision") or 0}
        model, final = block.get("model_decision"), block.get("final_decision")
        if item["error"] or not model or not final:
            out.append(item)
            continue
        groups = list(model["by_group"])
        colours = charts.color_map(segments.get(attr) or groups)
        rows = []
        for g in groups:
            mg, fg = model["by_group"][g], final["by_group"].get(g, {})
            rows.append({"group": g, "colour": colours.get(g, charts.MUTED), "count": mg.get("count"),
                         "outcome_known": mg.get("outcome_known"),
                         "sel_model": mg.get("selection_rate"), "sel_final": fg.get("selection_rate"),
                         "fav_model": mg.get("favourable_rate", mg.get("selection_rate")),
                         "fav_final": fg.get("favourable_rate", fg.get("selection_rate")),
                         "fpr_model": mg.get("false_positive_rate"), "fpr_final": fg.get("false_positive_rate"),
                         "fnr_model": mg.get("false_negative_rate"), "fnr_final": fg.get("false_negative_rate"),
                         "acc_model": mg.get("accuracy"), "acc_final": fg.get("accuracy")})
        panels = []
        for key, title in (("demographic_parity_difference", "Demographic parity difference"),
                           ("favourable_rate_ratio", "Favourable-rate ratio (four-fifths)"),
                           ("equalized_odds_difference", "Equalized odds difference")):
            rule = lines.get(key, {})
            marks = [(value, f"{b.split('_')[0]} {value:g}", b.split("_")[0])
                     for b, value in rule.get("raw_bounds", {}).items()]
            panels.append({"title": title, "model": model.get(key), "final": final.get(key), "lines": marks})
        item.update({
            "model": model, "final": final, "effect": block.get("review_effect") or {}, "groups": rows,
            "chart_rates": data_uri(charts.fairness_rates(model, final, colours)),
            "chart_disparities": data_uri(charts.disparities(panels)),
        })
        out.append(item)
    return out


def _reviewers(metrics: dict) -> list[dict]:
    acc = {r["reviewer_id"]: r for r in metrics.get("reviewer_accuracy", [])}
    cons = {r["reviewer_id"]: r for r in metrics.get("agreement", {}).get("consensus", [])}
    bias = {r["reviewer_id"]: r for r in metrics.get("automation_bias", {}).get("reviewers", [])}
    rows = []
    for r in metrics.get("oversight", {}).get("by_reviewer", []):
        rid = r["reviewer_id"]
        rows.append({**r, "agreement": cons.get(rid, {}).get("agreement"),
                     "accuracy": acc.get(rid, {}).get("reviewer_accuracy"),
                     "value_added": acc.get(rid, {}).get("value_added"),
                     "flagged": bias.get(rid, {}).get("flagged", False)})
    return rows


def _by_override_ratio(rows: list[dict]) -> list[dict]:
    """Reviewers by overrides / expected, lowest (most suspicious) first; undefined ratios (no
    expected override among peers) last, by reviewer id."""
    return sorted(rows, key=lambda r: (r.get("override_ratio") is None, r.get("override_ratio") or 0.0,
                                       str(r.get("reviewer_id"))))


def _period(flt: dict, choice: dict | None) -> dict:
    """The period as every page names it: dates, the quarter's label ("2026 Q1") when it is one,
    and how it was chosen (``notice``: the default last full quarter, or the whole log when the log
    covers no whole quarter; None for a period the user gave)."""
    start, end = flt.get("from"), flt.get("to")
    label = None
    if start and end:
        label = periods.quarter_label(dt.date.fromisoformat(start), dt.date.fromisoformat(end))
    choice = choice or {}
    return {"from": start, "to": end, "label": label, "how": choice.get("how") or periods.GIVEN,
            "notice": choice.get("notice")}


#: how each executive tile's delta is written (the Overview's formats)
_DELTA_FORMAT = {
    "cases": lambda x, c: f"{x:+,.0f}", "automation_rate": lambda x, c: fmt.pp(x),
    "override_rate": lambda x, c: fmt.pp(x), "reviewer_hours": lambda x, c: f"{x:+,.1f} h" if abs(x) < 10 else f"{x:+,.0f} h",
    "cost": fmt.money_delta, "net_benefit": fmt.money_delta, "net_value_of_review": fmt.money_delta,
    "cost_per_net_error_prevented": fmt.money_delta, "net_errors_prevented": lambda x, c: f"{x:+,.0f}",
}


def _comparison(comparison: dict | None, currency: str) -> dict:
    """Page 1 of the executive report: each tile's delta against the period just before (the
    Overview's :func:`hitlgov.metrics.summary.kpis`), what that period is, and why a delta is
    missing (no data before; outcome deltas withheld while outcomes are not yet known)."""
    if not comparison or not comparison.get("previous_period"):
        return {"deltas": {}, "sentence": None}
    prev = comparison["previous_period"]
    name = (f"{prev['label']} ({prev['from']} to {prev['to']})" if prev.get("label")
            else f"{prev['from']} to {prev['to']}")
    if not comparison.get("previous"):
        return {"deltas": {}, "sentence": f"No deltas: the log holds no decision in the period before ({name})."}
    deltas = {k: (f"{write(v, currency)} vs {prev.get('label') or 'previous period'}" if v is not None else None)
              for k, write in _DELTA_FORMAT.items() for v in [comparison["delta"].get(k)]}
    sentence = f"Deltas compare with the period just before: {name}"
    if comparison.get("previous_log_from"):
        sentence += (f", which the log covers only from {comparison['previous_log_from']} (its counts are lower "
                     "for that reason alone)")
    sentence += "."
    if comparison.get("outcome_deltas_withheld"):
        cur, before = comparison["current"], comparison["previous"]
        sentence += (f" Errors and money are not compared: outcomes are known for {fmt.pct(cur.get('outcome_known_share'))}"
                     f" of this period's cases against {fmt.pct(before.get('outcome_known_share'))} before, so a "
                     "change would only reflect outcomes not yet known.")
    return {"deltas": deltas, "sentence": sentence}


def build_context(doc: dict, *, kind: str, policy: Policy | None) -> dict:
    """The template context for ``kind`` from the evidence document."""
    values, params, ctx = doc["values"], doc["parameters"], doc["context"]
    m, series, inputs = values["metrics"], values["series"], values["inputs"]
    flt = params["filter"]
    findings = m.get("findings", [])
    not_evaluated = m.get("findings_not_evaluated", [])
    settings = policy.settings if policy is not None else {}
    rules = _policy_rules(policy)
    empty = not m["counts"]["cases"]
    o = m.get("oversight") or {}
    annotation_only = not empty and o.get("cases_with_model_decision") == 0
    if annotation_only:
        not_evaluated = _not_applicable(not_evaluated)
    extra = []
    if flt.get("model_version"):
        extra.append(f"model version {flt['model_version']}")
    if flt.get("segment"):
        extra.append(f"{flt['segment']['attribute']} = {flt['segment']['value']}")
    system = flt.get("system") or "all systems"
    bias_finding = next((f for f in findings if f["metric"] == "automation_bias.flagged_reviewers"), None)
    out: dict[str, Any] = {
        "kind": kind,
        "kind_title": KINDS[kind],
        "empty": empty,
        "doc": doc,
        "m": m,
        "series": series,
        "inputs": inputs,
        "params": params,
        "context": ctx,
        "system": system,
        # title, file name, running header and --verify name the whole scope, not only the system
        "scope_label": system + (f" ({', '.join(extra)})" if extra else ""),
        # one status per finding: a flagged reviewer carries the automation-bias finding's status
        "bias_status": bias_finding["status"] if bias_finding else "n/a",
        "bias_rows": _by_override_ratio(m.get("automation_bias", {}).get("reviewers", [])),
        "period": _period(flt, ctx.get("period_choice")),
        "comparison": _comparison(values.get("comparison"), str(settings.get("currency", "EUR"))),
        "scope_extra": ", ".join(extra),
        "digest": doc["digest"]["value"],
        "currency": str(settings.get("currency", "EUR")),
        "strip": _strip(findings, not_evaluated),
        "top": narrative.top_findings(findings, m, not_evaluated=not_evaluated),
        "findings": _findings(findings),
        "not_evaluated": not_evaluated,
        "policy_rules": rules,
        "policy_settings": settings,
        # cases stored without a model decision (annotation-only sources): the metrics about the
        # model's decision left them out; ``annotation_only``: no case of the scope has one, so
        # those sections say "not applicable: no model decisions" instead of showing n/a or 0
        "no_model": o.get("cases_without_model_decision") or 0,
        "annotation_only": annotation_only,
        "review_stage": o.get("review_stage") or {},
        "net_benefit_caption": roi.NET_BENEFIT_CAPTION,  # the Overview's words under the same chart
        "charts": {},
    }
    if empty:
        return out
    trend, money = series["oversight_by_month"], series["roi_by_month"]
    c = out["charts"]
    c["effort"] = data_uri(charts.effort_and_errors(money))  # reviewer hours: every review counts
    if not out["annotation_only"]:  # the case trends count cases with a model decision: none here
        _case_charts(c, trend, money, height_mm=EXEC_CHART_MM if kind == "executive" else 58,
                     cases_width_mm=HALF_WIDTH_MM if kind == "executive" else charts.WIDTH_MM)
        if kind == "executive":  # the net benefit's trend, beside the cases (as on the Overview)
            c["net_benefit"] = data_uri(charts.net_benefit(roi.net_benefit_trend(money), currency=out["currency"],
                                                           height_mm=EXEC_CHART_MM, width_mm=HALF_WIDTH_MM))
    if kind == "executive":
        return out
    if m["counts"]["reviews"]:
        c["latency"] = data_uri(charts.lines(trend, [("review_seconds_median", "Median", charts.PRIMARY),
                                                    ("review_seconds_p90", "90th percentile", charts.CURRENT)],
                                             title="Review time per month (seconds)", ylabel="Seconds",
                                             percent=False, height_mm=50))
    _compliance_charts(out, m, series, ctx, rules, settings, findings)
    return out


#: a chart in one of the two columns of a page (print.css ``.pair``: 87 mm each, a 4 mm gap)
HALF_WIDTH_MM = (charts.WIDTH_MM - 4) / 2
#: the height of page 1's charts in the executive summary: page 1 also carries the tiles, the
#: deltas and the period, and must stay one page (net benefit and cases side by side, then the rates)
EXEC_CHART_MM = 42


def _case_charts(c: dict, trend: list[dict], money: list[dict], *, height_mm: float,
                 cases_width_mm: float = charts.WIDTH_MM) -> None:
    """The monthly case, rate and error charts (both kinds): over the cases with a model decision."""
    c["rates"] = data_uri(charts.lines(trend, [("automation_rate", "Automation rate", charts.AUTOMATED),
                                              ("override_rate", "Override rate", charts.PRIMARY),
                                              ("escalation_rate", "Escalation rate", charts.CURRENT)],
                                       title="Automation, override and escalation rates per month", ylabel="Rate",
                                       height_mm=height_mm))
    c["cases"] = data_uri(charts.cases_stack(trend, height_mm=height_mm, width_mm=cases_width_mm))
    c["errors"] = data_uri(charts.lines(money, [("model_error_rate", "Model decision", charts.MODEL),
                                                ("final_error_rate", "Final decision", charts.FINAL)],
                                        title="Error rate: model alone vs after review (known outcomes)",
                                        ylabel="Error rate"))


def _compliance_charts(out: dict, m: dict, series: dict, ctx: dict, rules: list[dict], settings: dict,
                       findings: list[dict]) -> None:
    """What only the compliance report shows: bias, agreement, drift and fairness charts and tables."""
    c = out["charts"]
    bias = m.get("automation_bias", {})
    if bias.get("reviewers"):
        c["bias"] = data_uri(charts.automation_bias(bias["reviewers"], bias.get("method", {}).get("thresholds", {})))
    a = m.get("agreement", {})
    alpha_rule = next((r for r in rules if r["metric"] == "agreement.krippendorff_alpha_nominal"), None)
    bands = [(v, f"{b.split('_')[0]} {v:g}") for b, v in (alpha_rule or {}).get("raw_bounds", {}).items()]
    stats = [("Krippendorff's α (nominal)", a.get("krippendorff_alpha_nominal"), a.get("krippendorff_alpha_nominal_ci")),
             ("Krippendorff's α (ordinal)", a.get("krippendorff_alpha_ordinal"), a.get("krippendorff_alpha_ordinal_ci")),
             ("Fleiss' κ", a.get("fleiss_kappa"), a.get("fleiss_kappa_ci"))]
    out["agreement_stats"] = stats
    if any(s[1] is not None for s in stats):
        c["agreement"] = data_uri(charts.agreement_forest(stats, bands))
    drift = m.get("drift") or {}
    if series.get("score_by_month") and not out["annotation_only"]:
        c["score"] = data_uri(charts.score_band(series["score_by_month"], windows=_windows(drift)))
    out["drift_distributions"] = [
        {"column": dd.get("column"), "drifted": dd.get("drifted"), "chart": data_uri(charts.distribution(dd))}
        for dd in series.get("drift_distributions") or [] if dd.get("kind")]
    out["fairness"] = _fairness(m, ctx.get("segments") or {}, rules)
    out["reviewers"] = _reviewers(m)
    out["regulatory"] = regulatory.mapping(findings)
    out["high_risk_band"] = settings.get("high_risk_score_band", [0.35, 0.65])
