"""Issue 17's figures against hand-computed and published values.

Sources of the published values:
* Gwet (2014), Handbook of Inter-Rater Reliability, 4th ed., pp. 55-56 (4 raters, 12 subjects,
  5 nominal categories: AC1 0.7754, p_a 0.8182, p_e 0.1903) and p. 80/84, Table 3.5 (2 raters,
  11 units, ordered A<B<C, quadratic weights: AC2 0.8261, p_a 0.9375, p_e 0.6405); the data and
  the expected values as transcribed in jmgirard/agreement, data-raw/unordered.R and
  data-raw/gwet4_table3.5.R, tests/testthat/test-categorical_unordered.R and
  test-gwet4_example3.2.R (commit 0af5f319200cdbd3f3e9544020d84902b92768d6).
* Newcombe (1998), "Two-sided confidence intervals for the single proportion", Stat. Med.
  17:857-872, Table I, method 3 (Wilson score without continuity correction).
* Newcombe (1998), "Improved confidence intervals for the difference between binomial proportions
  based on paired data", Stat. Med. 17:2635-2650, method 10, on the Cavo et al. (2012) table of
  Fagerland, Lydersen & Laake (2017), ch. 8 (as in ocbe-uio/contingencytables' tests).
* van Oest (2019), Psychological Methods 24(4):439-451, Table 4, example 2a (the kappa paradox).
"""
from __future__ import annotations


import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score

from conftest import AUTOMATION_BIAS_LOG
from hitlgov.metrics import gwet_stats
from hitlgov.metrics.bias_audit import bias_audit_csv, bias_audit_table
from hitlgov.metrics.engines import open_source
from hitlgov.metrics.proportions import paired_difference, sample_size, wilson, wilson_effective
from hitlgov.metrics.reliance import net_effect, reliance_summary
from hitlgov.metrics.reviewer_quality import dawid_skene
from hitlgov.metrics.selective_accuracy import selective_accuracy_summary
from hitlgov.metrics.source import Filter


def long(wide: list[list]) -> pd.DataFrame:
    return pd.DataFrame([(i, f"R{j}", v) for i, row in enumerate(wide) for j, v in enumerate(row) if v is not None],
                        columns=["case_id", "reviewer_id", "label"])


# -- Gwet's AC1 / AC2 ------------------------------------------------------------------------
GWET_2014_P55 = [["a", "a", None, "a"], ["b", "b", "c", "b"], ["c", "c", "c", "c"], ["c", "c", "c", "c"],
                 ["b", "b", "b", "b"], ["a", "b", "c", "d"], ["d", "d", "d", "d"], ["a", "a", "b", "a"],
                 ["b", "b", "b", "b"], [None, "e", "e", "e"], [None, None, "a", "a"], [None, None, "c", None]]
GWET_2014_TABLE_3_5 = [["A", None], ["B", "C"], ["C", "C"], ["C", "C"], ["B", "B"], ["B", None], ["A", "A"],
                       ["A", "B"], ["B", "B"], ["B", "B"], [None, "C"]]


def test_ac1_reproduces_gwet_2014_four_raters_with_missing_ratings():
    got = gwet_stats.gwet_ac(long(GWET_2014_P55), categories=list("abcde"))
    assert round(got["coefficient"], 4) == 0.7754
    assert round(got["percent_agreement"], 4) == 0.8182
    assert round(got["chance_agreement"], 4) == 0.1903
    assert got["cases"] == 11  # the subject rated once counts in pi_k only


def test_ac2_quadratic_reproduces_gwet_2014_table_3_5():
    got = gwet_stats.gwet_ac(long(GWET_2014_TABLE_3_5), categories=list("ABC"), weights="quadratic")
    assert round(got["coefficient"], 4) == 0.8261
    assert round(got["percent_agreement"], 4) == 0.9375
    assert round(got["chance_agreement"], 4) == 0.6405
    assert gwet_stats.gwet_ac2(long(GWET_2014_TABLE_3_5), categories=list("ABC")) == got["coefficient"]


def test_kappa_paradox_on_a_published_2x2_table():
    """The kappa paradox on a published 2x2 table: van Oest (2019), "A new coefficient of
    interrater agreement: the challenge of highly unequal category proportions", Psychological
    Methods 24(4):439-451, Table 4, example 2a: 125 subjects, both raters "+" on 118, rater A "+" /
    B "-" on 5, A "-" / B "+" on 2, both "-" on 0 (the counts as transcribed in jmgirard/agreement,
    tests/testthat/test-categorical_vanoest_irsq.R, commit 70c0b0a0dc83d4f0b263043ba63b4e7294b238a1).
    The table is the published one; the paper's kappa and AC1 values could not be checked here, so
    the values below are computed by hand (Cohen's kappa also by scikit-learn):
    p_a = 118/125 = 0.944. Kappa: margins A (123, 2), B (120, 5), p_e = (123 x 120 + 2 x 5)/125^2
    = 0.94528, kappa = (0.944 - 0.94528)/0.05472 = -0.0234 -- 94% agreement, kappa below zero.
    AC1: pi_+ = (123 + 120)/250 = 0.972, p_e = 2 x 0.972 x 0.028 = 0.054432,
    AC1 = (0.944 - 0.054432)/0.945568 = 0.9408."""
    pairs = [("+", "+")] * 118 + [("+", "-")] * 5 + [("-", "+")] * 2
    a, b = zip(*pairs)
    assert round(cohen_kappa_score(a, b), 4) == -0.0234
    got = gwet_stats.gwet_ac(long([list(p) for p in pairs]), categories=["+", "-"])
    assert got["percent_agreement"] == pytest.approx(0.944)
    assert got["chance_agreement"] == pytest.approx(0.054432)
    assert round(got["coefficient"], 4) == 0.9408


def _ac2_by_hand(subjects: list[list[str]], cats: list[str]) -> float:
    """Gwet's AC2 with quadratic weights from its definition (Gwet 2014, ch. 3), written apart
    from the module: p_a over subjects with 2+ ratings, pi_k over all rated subjects."""
    q = len(cats)
    w = [[1 - ((k - m) / (q - 1)) ** 2 for m in range(q)] for k in range(q)]
    pa_terms, pi = [], [0.0] * q
    for labels in subjects:
        r, n_k = len(labels), [labels.count(c) for c in cats]
        for k in range(q):
            pi[k] += n_k[k] / r / len(subjects)
        if r >= 2:
            pa_terms.append(sum(n_k[k] * (sum(w[k][m] * n_k[m] for m in range(q)) - 1) for k in range(q))
                            / (r * (r - 1)))
    pa = sum(pa_terms) / len(pa_terms)
    pe = sum(map(sum, w)) / (q * (q - 1)) * sum(x * (1 - x) for x in pi)
    return (pa - pe) / (1 - pe)


def test_ac2_bootstrap_interval_matches_an_independent_resampling():
    """80 subjects, 3 raters, ordered low < mid < high (seeded). The module's percentile interval
    (2,000 resamples) brackets its AC2 and agrees with resampling the subjects and recomputing
    AC2 by hand (another random stream, 2,000 resamples) within 0.02: the Monte-Carlo error of
    either 2.5% / 97.5% quantile is about 0.004 here."""
    rng = np.random.default_rng(17)
    cats = ["low", "mid", "high"]
    rows = []
    for i in range(80):
        truth = rng.choice(3, p=[0.2, 0.5, 0.3])
        rows += [(i, f"R{j}", cats[int(np.clip(truth + rng.choice([-1, 0, 0, 0, 1]), 0, 2))]) for j in range(3)]
    ratings = pd.DataFrame(rows, columns=["case_id", "reviewer_id", "label"])
    subjects = [list(g["label"]) for _, g in ratings.groupby("case_id")]
    s = gwet_stats.gwet_summary(ratings, label_order=cats, n_boot=2000, seed=1)
    assert s == gwet_stats.gwet_summary(ratings, label_order=cats, n_boot=2000, seed=1)  # seeded
    assert s["gwet_ac2"] == pytest.approx(_ac2_by_hand(subjects, cats))
    lo, hi = s["gwet_ac2_ci"]
    assert lo < s["gwet_ac2"] < hi and hi - lo > 0.1
    other = np.random.default_rng(2024)
    draws = [_ac2_by_hand([subjects[i] for i in other.integers(0, 80, 80)], cats) for _ in range(2000)]
    assert [lo, hi] == pytest.approx(list(np.quantile(draws, [0.025, 0.975])), abs=0.02)


def test_gwet_options_and_empty_input():
    with pytest.raises(ValueError, match="no rated case"):
        gwet_stats.gwet_ac1(pd.DataFrame(columns=["case_id", "reviewer_id", "label"]))
    with pytest.raises(ValueError, match="identity weights are AC1"):
        gwet_stats.gwet_ac2(long(GWET_2014_TABLE_3_5), categories=list("ABC"), weights="identity")
    with pytest.raises(ValueError, match="not in categories"):
        gwet_stats.gwet_ac1(long(GWET_2014_TABLE_3_5), categories=["A", "B"])
    # an unused category of the label space lowers chance agreement: q = 3 instead of 2
    two = long([["x", "x"], ["x", "y"], ["y", "y"]])
    assert gwet_stats.gwet_ac(two, categories=["x", "y", "z"])["chance_agreement"] == pytest.approx(0.25)


def test_gwet_summary_bootstrap_interval_brackets_the_estimate_and_is_seeded():
    ratings = long(GWET_2014_P55)
    s1 = gwet_stats.gwet_summary(ratings, categories=list("abcde"), n_boot=200, seed=3)
    s2 = gwet_stats.gwet_summary(ratings, categories=list("abcde"), n_boot=200, seed=3)
    assert s1 == s2
    lo, hi = s1["gwet_ac1_ci"]
    assert lo <= s1["gwet_ac1"] <= hi < 1.0001
    assert s1["gwet_ac2"] is None  # no label order: no weighted coefficient


# -- Wilson intervals ---------------------------------------------------------------------------
@pytest.mark.parametrize("k, n, lo, hi", [(81, 263, 0.2553, 0.3662), (15, 148, 0.0624, 0.1605),
                                          (0, 20, 0.0, 0.1611), (1, 29, 0.0061, 0.1718)])
def test_wilson_matches_newcombe_1998_table_1(k, n, lo, hi):
    got = wilson(k, n)
    assert got["ci"][0] == pytest.approx(lo, abs=1e-4) and got["ci"][1] == pytest.approx(hi, abs=1e-4)
    assert got["denominator"] == n and got["rate"] == k / n


def test_weighted_wilson_with_equal_weights_is_wilson_and_sample_size_by_hand():
    assert wilson_effective(15 / 148, 148) == pytest.approx(wilson(15, 148)["ci"])
    assert wilson(0, 0) == {"rate": None, "ci": None, "numerator": 0, "denominator": 0}
    # n0 = 1.95996^2 x 0.25 / 0.01^2 = 9603.65 -> 9604; with N = 10,000: 9603.65 / (1 + 9602.65/10000)
    # = 4899.16 -> 4900
    assert sample_size(half_width=0.01) == 9604
    assert sample_size(half_width=0.01, population=10_000) == 4900
    with pytest.raises(ValueError):
        sample_size(half_width=0)


# -- Newcombe's interval for a paired difference ----------------------------------------------
def test_paired_difference_reproduces_fagerland_et_al_2017_cavo_example():
    """Newcombe's square-and-add interval (Newcombe 1998, Stat. Med. 17:2635, method 10) on the
    paired table of Cavo et al. (2012) in Fagerland, Lydersen & Laake, *Statistical Analysis of
    Contingency Tables* (2017), ch. 8: [[59, 6], [16, 80]], estimate -0.0621, 95% CI -0.1186 to
    -0.0046 (as asserted in ocbe-uio/contingencytables, tests/testthat/test-ch8.R). Here ad - bc =
    4624 > n/2, so phi's correction (ad - bc - n/2) / sqrt(65 x 96 x 75 x 86) = 0.7162 is exercised."""
    lo, hi = paired_difference(59, 6, 16, 80)
    assert (round(lo, 4), round(hi, 4)) == (-0.1186, -0.0046)


def test_net_effect_interval_has_width_without_discordant_pairs():
    # 5 reviews, human and model both right on all: p1 = p2 = 1, Wilson(5, 5) = [0.565518, 1];
    # a margin is empty so phi = 0: L = 0 - sqrt((1 - 0.565518)^2 + 0) = -0.434482, U = +0.434482
    net = net_effect(5, 5, 0, 5)
    assert net["difference"] == 0 and net["ci"] == pytest.approx([-0.434482, 0.434482], abs=1e-6)
    # one review, human right and model wrong: p1 = 1, p2 = 0, Wilson(1, 1) = [0.206549, 1] and
    # Wilson(0, 1) = [0, 0.793451]: L = 1 - sqrt(0.793451^2 + 0.793451^2) = -0.122109, U = 1
    net = net_effect(1, 0, 1, 1)
    assert net["difference"] == 1 and net["ci"] == pytest.approx([-0.122109, 1.0], abs=1e-6)
    assert net_effect(0, 0, 0, 0)["ci"] is None


# -- reliance on a store -----------------------------------------------------------------------
RELIANCE_LOG = """case_id,ts,model_decision,reviewer_id,human_decision,human_initial_decision,outcome,canary
c1,2026-01-01,approve,r1,approve,,decline,
c2,2026-01-01,approve,r1,decline,,decline,
c3,2026-01-01,decline,r1,decline,,decline,
c4,2026-01-01,decline,r1,approve,,decline,
c11,2026-01-01,approve,r1,approve,,decline,
c5,2026-01-01,approve,r2,approve,decline,approve,
c6,2026-01-01,approve,r2,decline,decline,approve,
c7,2026-01-01,decline,r2,approve,approve,approve,
c8,2026-01-01,decline,r2,decline,approve,approve,
c9,2026-01-01,approve,r1,decline,,,true
c10,2026-01-01,approve,r2,approve,,,true
"""


def test_reliance_figures_by_hand(make_store):
    db = make_store(RELIANCE_LOG)
    with open_source(db) as src:
        r = reliance_summary(src, Filter())
    # over-reliance: wrong model decisions kept: r1 c1, c11 of c1, c2, c11; r2 c8 of c7, c8
    assert (r["over_reliance"]["numerator"], r["over_reliance"]["denominator"]) == (3, 5)
    assert r["over_reliance"]["ci"] == pytest.approx(wilson(3, 5)["ci"])
    # under-reliance: right model decisions overridden: r1 c4 of c3, c4; r2 c6 of c5, c6
    assert (r["under_reliance"]["numerator"], r["under_reliance"]["denominator"]) == (2, 4)
    # net effect: human right 4 (c2, c3, c5, c7), model right 4 (c3, c4, c5, c6) of 9; paired table
    # a = both right 2 (c3, c5), b = human only 2 (c2, c7), c = model only 2 (c4, c6), d = neither 3.
    # Newcombe (method 10): Wilson(4, 9) = 0.461063 -+ 0.272285 = [0.188778, 0.733348] for both
    # margins; ad - bc = 2 <= n/2 = 4.5, so phi = 0; L = 0 - sqrt(0.255667^2 + 0.288903^2) = -0.385786
    net = r["net_effect_on_accuracy"]
    assert net["difference"] == 0 and net["denominator"] == 9
    assert net["ci"] == pytest.approx([-0.385786, 0.385786], abs=2e-6)
    # Schemmer: RAIR = c5 of (c5, c6); RSR = c7 of (c7, c8); switch = c5, c8 of c5..c8
    assert (r["relative_ai_reliance"]["numerator"], r["relative_ai_reliance"]["denominator"]) == (1, 2)
    assert (r["relative_self_reliance"]["numerator"], r["relative_self_reliance"]["denominator"]) == (1, 2)
    assert (r["switch_rate"]["numerator"], r["switch_rate"]["denominator"]) == (2, 4)
    assert (r["canary_catch_rate"]["numerator"], r["canary_catch_rate"]["denominator"]) == (1, 2)
    assert r["evidence"] == ["outcomes", "initial_judgements", "canaries"]
    per = {x["reviewer_id"]: x for x in r["by_reviewer"]}
    assert (per["r1"]["over_reliance"]["numerator"], per["r1"]["over_reliance"]["denominator"]) == (2, 3)
    assert per["r1"]["canary_catch_rate"]["rate"] == 1.0 and per["r2"]["canary_catch_rate"]["rate"] == 0.0
    assert per["r1"]["relative_ai_reliance"]["denominator"] == 0 and per["r1"]["relative_ai_reliance"]["rate"] is None


def test_net_effect_pairs_only_reviews_with_a_model_decision(make_store):
    # b has an outcome and a human decision but no model decision: nothing to pair it with. Only a
    # counts (both right): Newcombe with Wilson(1, 1) = [0.206549, 1] on both margins, phi = 0 (a
    # margin is empty): [-0.793451, 0.793451]
    db = make_store("case_id,ts,model_decision,reviewer_id,human_decision,outcome\n"
                    "a,2026-01-01,approve,r1,approve,approve\nb,2026-01-01,,r1,decline,decline\n")
    with open_source(db) as src:
        net = reliance_summary(src, Filter())["net_effect_on_accuracy"]
    assert (net["denominator"], net["difference"]) == (1, 0)
    assert net["ci"] == pytest.approx([-0.793451, 0.793451], abs=1e-6)


def test_reliance_without_the_evidence_says_so(make_store):
    db = make_store("case_id,ts,model_decision,reviewer_id,human_decision\na,2026-01-01,x,r1,x\n")
    with open_source(db) as src:
        r = reliance_summary(src, Filter())
    assert r["evidence"] == [] and r["over_reliance"]["rate"] is None and r["reviews"] == 1


def test_automation_bias_finding_counts_canary_and_over_reliance_flags_by_hand(make_store):
    """Too few reviews for the peer comparison, so only canaries and outcomes can flag anyone.
    Wilson bounds with z^2 = 3.841459: 0 of 15 canaries caught -> upper 3.8415 / 18.8415 = 0.204
    < 0.25: r1 flagged; 0 of 11 -> 3.8415 / 14.8415 = 0.259: r5 not; 40 of 40 wrong kept -> lower
    40 / 43.8415 = 0.912 > 0.9: r2 flagged; 34 of 34 -> 34 / 37.8415 = 0.898: r4 not; r3 (36 of 40,
    5 of 15) neither. Two reviewers: the policy's fail_above 1 makes it a FAIL."""
    from hitlgov.metrics.summary import compute_metrics
    from hitlgov.reports.narrative import sentence

    db = make_store(AUTOMATION_BIAS_LOG)
    with open_source(db) as src:
        m = compute_metrics(src, Filter(), include_drift=False, n_boot=0)
    ab = m["automation_bias"]
    assert ab["tested_reviewers"] == 0 and ab["flagged"] == []
    assert ab["canary_flagged"] == ["r1"] and ab["over_reliance_flagged"] == ["r2"]
    assert ab["flagged_any"] == ["r1", "r2"] and ab["flagged_reviewers"] == 2
    per = {r["reviewer_id"]: r for r in m["reliance"]["by_reviewer"]}
    assert per["r5"]["canary_catch_rate"]["ci"][1] == pytest.approx(3.841459 / 14.841459, abs=1e-6)
    assert per["r4"]["over_reliance"]["ci"][0] == pytest.approx(34 / 37.841459, abs=1e-6)
    # the peer comparison tested nobody: the finding rests on the other evidence only, and says so
    assert ab["evidence"] == ["outcomes", "canaries"] and "not_evaluated_reason" not in ab
    finding = next(f for f in m["findings"] if f["metric"] == "automation_bias.flagged_reviewers")
    assert (finding["value"], finding["status"]) == (2, "fail")
    assert sentence(finding, m) == (
        "2 reviewers show signs of automation bias (r1: caught 0 of 15 planted wrong outputs; r2: kept "
        "100.0% of the wrong model decisions whose outcome is known). The finding rests on outcome-based "
        "over-reliance and canaries (planted wrong outputs).")


# -- selective accuracy ------------------------------------------------------------------------
AUDIT_LOG = """case_id,ts,model_decision,reviewer_id,human_decision,outcome,audit_sample,audit_probability
a0,2026-01-01,approve,aud,approve,decline,true,0.5
a1,2026-01-01,approve,aud,decline,,true,0.5
a2,2026-01-01,approve,aud,approve,approve,true,0.25
a3,2026-01-01,approve,,,,,
a4,2026-01-01,approve,,,,,
a5,2026-01-01,decline,,,,,
a6,2026-01-01,approve,,,,,
b1,2026-01-01,decline,r1,approve,approve,,
b2,2026-01-01,decline,r1,decline,approve,,
b3,2026-01-01,decline,r1,decline,,,
"""


def test_horvitz_thompson_by_hand(make_store):
    db = make_store(AUDIT_LOG)
    with open_source(db) as src:
        s = selective_accuracy_summary(src, Filter())
    auto = s["automated_error_rate"]
    # only audited cases with a known outcome count: a0 (weight 1/0.5 = 2, the model wrong although
    # the auditor kept it) and a2 (weight 1/0.25 = 4, right); a1 has no outcome and is left out, even
    # though its auditor overrode the model
    assert auto["rate"] == pytest.approx(2 / 6)
    assert auto["effective_sample_size"] == pytest.approx(36 / 20)
    assert auto["ci"] == pytest.approx(wilson_effective(1 / 3, 1.8))
    assert (auto["audited_cases"], auto["audited_without_outcome"]) == (2, 1)
    assert "missing at random" in auto["assumption"] and "1 of 3 audited cases" in s["note"]
    # auditor disagreement, over all three audited cases: a1 (weight 2) of weights 2 + 2 + 4
    d = s["auditor_disagreement"]
    assert d["rate"] == pytest.approx(2 / 8) and d["effective_sample_size"] == pytest.approx(64 / 24)
    assert s["automated_cases"] == 7 and s["reviewed_cases"] == 3 and s["audit_cases"] == 3
    assert (s["reviewed_error_rate"]["numerator"], s["reviewed_error_rate"]["denominator"]) == (1, 2)
    # system: 1 - (7/10 x 1/3 + 3/10 x 1/2) = 1 - (0.233333 + 0.15) = 0.616667; variance
    # 0.7^2 x (1/3 x 2/3) / 1.8 + 0.3^2 x (1/2 x 1/2) / 2 = 0.060494 + 0.011250 = 0.071744, sd 0.267851,
    # half-width 1.959964 x 0.267851 = 0.524978: [0.091689, 1.141645] -> the top capped at 1
    assert s["system_accuracy"]["accuracy"] == pytest.approx(0.616667, abs=1e-6)
    assert s["system_accuracy"]["ci"] == pytest.approx([0.091689, 1.0], abs=1e-6)
    # the biased figure: model wrong on 3 of the 4 cases with an outcome (a0, b1, b2; a2 right)
    assert s["observed_model_error_rate"]["rate"] == pytest.approx(3 / 4)


def test_audit_sample_without_any_outcome_gives_no_estimate(make_store):
    db = make_store("case_id,ts,model_decision,reviewer_id,human_decision,audit_sample,audit_probability\n"
                    "a1,2026-01-01,approve,aud,approve,true,0.1\na2,2026-01-01,approve,,,,\n")
    with open_source(db) as src:
        s = selective_accuracy_summary(src, Filter())
    assert s["audit_sample"] and s["automated_error_rate"]["rate"] is None
    assert s["automated_error_rate"]["audited_without_outcome"] == 1
    assert s["auditor_disagreement"]["rate"] == 0 and "none of the 1 audited cases" in s["note"]
    assert s["system_accuracy"] == {"accuracy": None, "ci": None}


def test_no_audit_sample_says_how_many_cases_it_would_need(make_store):
    db = make_store("case_id,ts,model_decision\n" + "".join(f"k{i},2026-01-01,approve\n" for i in range(50)))
    with open_source(db) as src:
        s = selective_accuracy_summary(src, Filter(), target_half_width=0.05)
    assert s["automated_error_rate"]["rate"] is None and not s["audit_sample"]
    # 1.96^2 x 0.25 / 0.05^2 = 384.1 -> 385; N = 50: 384.15 / (1 + 383.15 / 50) = 44.3 -> 45
    assert s["required_audit_cases"] == 45
    assert "no audit sample" in s["note"] and "45" in s["note"]
    with pytest.raises(ValueError):
        selective_accuracy_summary(src, Filter(), target_half_width=2)


# -- NYC LL144 bias audit ----------------------------------------------------------------------
def _ll144_log() -> str:
    rows = []
    # (sex, race, individuals, selected)
    plan = [("F", "A", 15, 6), ("F", "B", 15, 6), ("M", "A", 20, 15), ("M", "B", 7, 3), ("X", "A", 1, 1),
            ("", "B", 2, 1)]
    i = 0
    for sex, race, n, sel in plan:
        for j in range(n):
            rows.append(f"p{i},2026-01-01,{'approve' if j < sel else 'decline'},{sex},{race}")
            i += 1
    return "case_id,ts,model_decision,sex,race\n" + "\n".join(rows) + "\n"


def test_ll144_table_by_hand(make_store):
    db = make_store(_ll144_log())
    with open_source(db) as src:
        t = bias_audit_table(src, Filter(), favourable_label="approve")
        t_all = bias_audit_table(src, Filter(), favourable_label="approve", exclude_small=False)
    assert t["available"] and t["individuals"] == 60 and t["unknown_sex"] == 2 and t["unknown_race_ethnicity"] == 0
    sex = {r["category"]: r for r in t["sex"]}
    assert sex["F"]["selection_rate"] == pytest.approx(0.4) and sex["M"]["selection_rate"] == pytest.approx(18 / 27)
    # X is 1 of 60 (< 2%): shown, flagged, no ratio; the most selected category is then M
    assert sex["X"]["excludable"] and sex["X"]["individuals"] == 1 and sex["X"]["impact_ratio"] is None
    assert sex["F"]["impact_ratio"] == pytest.approx(0.4 / (18 / 27)) and sex["M"]["impact_ratio"] == 1
    assert sex["Unknown"]["individuals"] == 2 and sex["Unknown"]["selection_rate"] is None
    # with the small category kept, X (rate 1.0) is the reference
    assert {r["category"]: r["impact_ratio"] for r in t_all["sex"]}["F"] == pytest.approx(0.4)
    race = {r["category"]: r for r in t["race_ethnicity"]}
    assert race["A"]["individuals"] == 36 and race["B"]["impact_ratio"] == pytest.approx((10 / 24) / (22 / 36))
    inter = {r["category"]: r for r in t["intersectional"]}
    assert inter["M / A"]["impact_ratio"] == 1 and inter["M / B"]["impact_ratio"] == pytest.approx((3 / 7) / 0.75)
    assert inter["X / A"]["excludable"] and "Unknown" not in inter
    csv = bias_audit_csv(t).splitlines()
    assert csv[0] == "dimension,category,individuals,selected,selection_rate,impact_ratio,share_of_data,excludable"
    assert "sex,X,1,1,1.000000,,0.016667,yes" in csv


def test_ll144_needs_attributes_and_a_favourable_label(make_store):
    db = make_store("case_id,ts,model_decision,region\na,2026-01-01,approve,n\n")
    with open_source(db) as src:
        assert "no sex or race" in bias_audit_table(src, Filter(), favourable_label="approve")["reason"]
        with pytest.raises(ValueError, match="no case attribute named 'gender'"):
            bias_audit_table(src, Filter(), sex_attribute="gender")


# -- Dawid-Skene -------------------------------------------------------------------------------
def test_dawid_skene_recovers_simulated_reviewer_accuracies_within_003():
    rng = np.random.default_rng(7)
    accuracy = {"r1": 0.95, "r2": 0.90, "r3": 0.85, "r4": 0.75, "r5": 0.65}
    rows = []
    for case in range(3000):
        truth = "approve" if rng.random() < 0.7 else "decline"
        for rid in rng.choice(list(accuracy), size=3, replace=False):
            right = rng.random() < accuracy[rid]
            rows.append((case, rid, truth if right else ("decline" if truth == "approve" else "approve")))
    est = dawid_skene(pd.DataFrame(rows, columns=["case_id", "reviewer_id", "label"]))
    got = {r["reviewer_id"]: r["estimated_accuracy"] for r in est["reviewers"]}
    for rid, acc in accuracy.items():
        assert abs(got[rid] - acc) < 0.03, (rid, got[rid], acc)
    assert est["prevalence"]["approve"] == pytest.approx(0.7, abs=0.03)
    with pytest.raises(ValueError, match="multi-reviewed"):
        dawid_skene(pd.DataFrame({"case_id": [1], "reviewer_id": ["a"], "label": ["x"]}))


def test_gwet_bootstrap_by_weights_equals_resampling_the_cases():
    counts, cats = gwet_stats._counts(long(GWET_2014_P55), list("abcde"))
    w = gwet_stats._weights(len(cats), "identity")
    rng = np.random.default_rng(5)
    direct = [gwet_stats._ac_from_counts(counts[rng.integers(0, len(counts), len(counts))], w)[2] for _ in range(300)]
    direct = np.array(direct)[np.isfinite(direct)]
    lo, hi = np.quantile(direct, [0.025, 0.975])
    assert gwet_stats._bootstrap(counts, w, n_boot=300, seed=5, level=0.95) == pytest.approx([lo, hi])
