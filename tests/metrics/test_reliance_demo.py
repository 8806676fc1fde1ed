"""Issue 17's figures on the 20,000-case demo against the truths the generator planted."""
from __future__ import annotations

import datetime as dt
import json

import pytest

from dashboard_helpers import demo_store
from hitlgov.metrics.engines import open_source
from hitlgov.metrics.reliance_evidence import automation_bias_evidence, reliance_blocks
from hitlgov.metrics.source import Filter

SYSTEM = Filter(system="consumer-credit")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    db = demo_store(tmp_path_factory.getbasetemp())
    manifest = json.loads((db.parent / "manifest.json").read_text())
    with open_source(db) as src:
        blocks = reliance_blocks(src, SYSTEM)
        early = reliance_blocks(src, SYSTEM.but(end=dt.date(2026, 8, 31)))["selective_accuracy"]
    return manifest["planted"]["reliance"], blocks, early


def test_horvitz_thompson_interval_covers_the_planted_automated_error_rate(demo):
    truth, blocks, early = demo
    s = blocks["selective_accuracy"]
    assert s["audit_cases"] == truth["audit"]["cases"] and s["automated_cases"] == truth["audit"]["automated_cases"]
    lo, hi = s["automated_error_rate"]["ci"]
    assert lo <= truth["audit"]["automated_error_rate_true"] <= hi
    lo, hi = early["automated_error_rate"]["ci"]
    assert lo <= truth["audit"]["automated_error_rate_true_before_outcomes_end"] <= hi
    # the observed error rate (outcomes known, mostly reviewed = uncertain cases) is the biased one:
    # 31.9% against the automated stream's true 27.4% (at 20k cases the audit's interval, 25.2% -
    # 34.8% from 346 cases, is too wide to exclude it; at 200k it is 24.8% - 27.7% against 31.8%)
    assert s["observed_model_error_rate"]["ci"][0] > truth["audit"]["automated_error_rate_true"]


#: data/README.md, planted effect 11, at the tests' 20,000 cases (seed 0): the automated stream's
#: true error rate (model vs true repayment on every automated case) and its size
DOCUMENTED_TRUE_ERROR_20K, DOCUMENTED_AUTOMATED_20K, DOCUMENTED_AUDITED_20K = 0.2736, 14_271, 418


def test_horvitz_thompson_interval_covers_the_documented_true_rate(demo):
    """The estimate against the value documented in data/README.md (not only the manifest): it
    rests on the audited cases whose outcome is known, and says how many lacked one."""
    truth, blocks, _ = demo
    assert truth["audit"]["automated_error_rate_true"] == DOCUMENTED_TRUE_ERROR_20K
    s = blocks["selective_accuracy"]
    assert (s["automated_cases"], s["audit_cases"]) == (DOCUMENTED_AUTOMATED_20K, DOCUMENTED_AUDITED_20K)
    auto = s["automated_error_rate"]
    lo, hi = auto["ci"]
    assert lo <= DOCUMENTED_TRUE_ERROR_20K <= hi
    # every audited case after 2026-08-31 and ~3% before lack an outcome: 346 used, 72 left out
    assert (auto["audited_cases"], auto["audited_without_outcome"]) == (346, 72)
    assert "72 of 418 audited cases" in s["note"]
    # the auditors' decisions are no stand-in for outcomes: they change the model's decision on only
    # a few percent of the audited cases, far below its error rate
    assert s["auditor_disagreement"]["ci"][1] < lo


def test_canaries_expose_the_rubber_stamper(demo):
    truth, blocks, _ = demo
    r = blocks["reliance"]
    assert r["canary_catch_rate"]["denominator"] == truth["canaries"]["cases"]
    per = {x["reviewer_id"]: x for x in r["by_reviewer"]}
    assert per["rev-07"]["canary_catch_rate"]["rate"] == truth["canaries"]["catch_rate_rubber_stamper"] == 0.0
    assert per["rev-07"]["over_reliance"]["rate"] > 0.95  # keeps nearly every wrong model decision
    ev = automation_bias_evidence(r, {"flagged": ["rev-07"], "flagged_reviewers": 1})
    # at 20k cases rev-07 saw only 6 canaries: 0 of 6 has a Wilson upper bound of
    # 1.96^2 / (6 + 1.96^2) = 0.390, not below CANARY_FLAG_BELOW (0.25) -- too few to flag on their own;
    # kept 140 of 141 wrong model decisions: Wilson lower bound 0.961 > OVER_RELIANCE_FLAG_ABOVE (0.9)
    assert per["rev-07"]["canary_catch_rate"]["denominator"] == 6
    assert per["rev-07"]["canary_catch_rate"]["ci"][1] == pytest.approx(3.841459 / 9.841459, abs=1e-6)
    assert ev["canary_flagged"] == [] and ev["over_reliance_flagged"] == ["rev-07"]
    assert ev["flagged_any"] == ["rev-07"] and ev["flagged_reviewers"] == 1 and "canaries" in ev["evidence"]


def test_first_judgements_only_for_the_reviewers_whose_tool_records_them(demo):
    truth, blocks, _ = demo
    r = blocks["reliance"]
    assert r["initial_judgement_recorded"] == truth["initial_judgements"]["reviews"]
    recorded = {x["reviewer_id"] for x in r["by_reviewer"] if x["initial_judgement_recorded"]}
    assert recorded == set(truth["initial_judgements"]["reviewers"])
    assert r["relative_ai_reliance"]["denominator"] > 50 and r["relative_self_reliance"]["denominator"] > 50


def test_ll144_table_on_the_demo_gender_and_reviewer_quality(demo):
    _, blocks, _ = demo
    t = blocks["bias_audit"]
    assert t["available"] and t["sex_attribute"] == "gender" and t["race_attribute"] is None
    assert {r["category"] for r in t["sex"]} == {"F", "M", "X"} and t["intersectional"] == []
    assert max(r["impact_ratio"] for r in t["sex"]) == 1
    q = blocks["reviewer_quality"]
    assert q["available"] and q["cases_used"] >= 30
    shown = [x for x in q["by_reviewer"] if x["estimated_accuracy"] is not None]
    assert all(x["reviews"] >= q["min_reviews_per_reviewer"] for x in shown)
