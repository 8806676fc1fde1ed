"""Cases without a model decision (issue 12): excluded from the metrics about the model's
decision, counted, and their reviews kept everywhere else. Expected values by hand below."""
from __future__ import annotations

import pytest

from hitlgov.mapping import Mapping
from hitlgov.metrics import fairness_summary, open_source, oversight_summary, reviewer_accuracy

# 1: model approve, r1 says deny (override), outcome deny   2: model deny, not reviewed
# 3: no model decision, r1 approve (outcome approve)         4: no model decision, r2 deny (outcome deny)
LOG = """case_id,ts,model_decision,reviewer_id,human_decision,review_seconds,outcome,g
1,2024-01-01,approve,r1,deny,10,deny,a
2,2024-01-02,deny,,,,deny,a
3,2024-01-03,,r1,approve,20,approve,b
4,2024-01-04,,r2,deny,30,deny,b
"""


@pytest.fixture
def db(make_store):
    return make_store(LOG, mapping=Mapping(annotation_only=True, sensitive=["g"], positive_label="approve"))


def test_case_rates_leave_out_cases_without_a_model_decision_and_count_them(db):
    with open_source(db) as src:
        o = oversight_summary(src)
    assert (o["cases"], o["cases_without_model_decision"], o["reviews"]) == (4, 2, 3)
    # over cases 1 and 2: one automated, one reviewed and overridden
    assert (o["automation_rate"], o["review_rate"], o["override_rate"]) == (0.5, 0.5, 1.0)
    assert o["review_seconds_median"] == 20.0  # every review's time counts: 10, 20, 30
    by = {r["reviewer_id"]: r for r in o["by_reviewer"]}
    assert (by["r1"]["reviews"], by["r1"]["override_rate"]) == (2, 1.0)  # 1 override / 1 decided review
    assert (by["r2"]["reviews"], by["r2"]["override_rate"]) == (1, None)  # nothing to override


def test_reviewer_accuracy_compares_with_the_model_only_where_it_decided(db):
    with open_source(db) as src:
        acc = {r["reviewer_id"]: r for r in reviewer_accuracy(src)}
    # r1: right on cases 1 and 3 (2/2); the model was wrong on case 1 (0/1): value added 1/1 - 0
    assert (acc["r1"]["reviewer_accuracy"], acc["r1"]["model_accuracy"], acc["r1"]["value_added"]) == (1.0, 0.0, 1.0)
    # r2 reviewed only case 4, which has no model decision
    assert (acc["r2"]["reviewer_accuracy"], acc["r2"]["model_accuracy"], acc["r2"]["value_added"]) == (1.0, None, None)


def test_model_fairness_counts_only_decided_cases(db):
    with open_source(db) as src:
        f = fairness_summary(src)["g"]
    assert f["cases_without_model_decision"] == 2
    # group b's cases both lack a model decision: only group a remains, model approves 1 of 2
    assert list(f["model_decision"]["by_group"]) == ["a"]
    assert f["model_decision"]["by_group"]["a"]["selection_rate"] == 0.5


def test_the_metrics_document_of_a_mixed_log_is_plain_json(db):
    """r2 reviewed only a case without a model decision: DuckDB's integer SUMs of its all-NULL
    columns come back beside HUGEINT sums, which pandas hands over as Decimal -- the metrics
    document (``metrics --json``, the report's evidence) must still be JSON, with integer counts."""
    import json

    from hitlgov.metrics.summary import compute_metrics

    with open_source(db) as src:
        doc = compute_metrics(src, include_drift=False)
    json.dumps(doc, allow_nan=False)
    acc = {r["reviewer_id"]: r for r in doc["reviewer_accuracy"]}
    assert (acc["r1"]["overrides"], acc["r1"]["model_correct"], acc["r2"]["overrides"]) == (1, 0, None)
    assert type(acc["r1"]["overrides"]) is int
    assert (doc["oversight"]["cases_with_model_decision"], doc["oversight"]["cases_without_model_decision"]) == (2, 2)
