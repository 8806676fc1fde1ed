"""The executive summary's sentences say each value once (issue 15: "Planted wrong model outputs
caught by reviewers: 50.0%: 50.0%" -- the generic sentence appended the value to a title from the
rule's `found` template, which already holds it)."""
from __future__ import annotations

import pytest

from hitlgov.metrics.policy import evaluate, load_policy
from hitlgov.reports.narrative import format_value, sentence


def _finding(metric: str, value: float) -> tuple[dict, dict]:
    """(the finding the shipped policy makes of ``value``, the metrics it was made from)."""
    node: dict = {"counts": {"reviewed_cases": 0}}
    leaf = node
    parts = metric.split(".")
    for part in parts[:-1]:
        leaf = leaf.setdefault(part, {})
    leaf[parts[-1]] = value
    findings, _ = evaluate(load_policy(), node)
    return next(f for f in findings if f["metric"] == metric), node


def test_canary_catch_rate_is_told_in_words_with_its_value_once():
    f, node = _finding("reliance.canary_catch_rate.rate", 0.5)
    assert f["status"] == "fail" and f["title"] == "Planted wrong model outputs caught by reviewers: 50.0%"
    assert sentence(f, node) == ("Reviewers caught 50.0% of the planted wrong model outputs (canaries), below the "
                                 "policy's 75.0%: known-wrong outputs pass review unnoticed.")
    f, node = _finding("reliance.canary_catch_rate.rate", 0.95)
    assert f["status"] == "pass"
    assert sentence(f, node) == ("Reviewers caught 95.0% of the planted wrong model outputs (canaries), above the "
                                 "policy's minimum of 75.0%.")


def _failing(rule: dict) -> float:
    return rule["fail_above"] * 2 + 1 if "fail_above" in rule else rule["fail_below"] / 2  # far from the bound


@pytest.mark.parametrize("rule", load_policy().rules, ids=lambda r: r["metric"])
def test_no_sentence_repeats_its_value(rule):
    metric = rule["metric"].replace("*", "grp")
    f, node = _finding(metric, _failing(rule))
    shown = format_value(metric, f["value"])
    text = sentence(f, node)
    assert f"{shown}: {shown}" not in text and text.count(shown) <= 1, text


def test_the_generic_sentence_is_the_title_and_the_bound():
    f, node = _finding("reviewer_competence.untrained_review_share", 0.25)
    assert f["title"] == "Reviews done without valid training on record: 25.0%"
    assert sentence(f, node) == "Reviews done without valid training on record: 25.0% (threshold 5.0%)."
    # a title without the value (a policy's rule with no `found` template, an older finding) gets it
    f = {"metric": "custom.score", "value": 0.25, "threshold": 0.5, "status": "fail", "title": "Custom score is low"}
    assert sentence(f, {}) == (f"Custom score is low: {format_value('custom.score', 0.25)} (threshold "
                               f"{format_value('custom.score', 0.5)}).")
