"""Oversight and ROI metrics on a six-case log whose figures are worked out by hand.

Cases (v1 in January, v2 in February):
  c1 approve .9 no review                        outcome approve
  c2 decline .3 r1 approve (120 s, derived)      outcome approve  -> overridden, error caught
  c3 decline .4 r1 decline (60 s) escalated      outcome decline
  c4 approve .6 r2 decline (30 s)                outcome approve  -> overridden, error introduced
  c5 decline .2 r2 decline (10 s), r1 decline (50 s)  outcome unknown
  c6 approve .8 no review                        outcome unknown

6 cases, 4 reviewed -> automation 2/6, review 4/6; overrides c2, c4 -> 2/4; escalation 1/4.
Review seconds 10, 30, 50, 60, 120 -> median 50, p90 = 60 + 0.6 * (120 - 60) = 96.
r1: 3 reviews, 1 override (c2), median(120, 60, 50) = 60; r2: 2 reviews, 1 override, median 20.
"""
import pytest

from hitlgov.metrics import oversight, roi
from hitlgov.metrics.source import Filter, Source

LOG = """case_id,ts,model_version,model_decision,model_score,reviewer_id,human_decision,review_started_at,review_completed_at,review_seconds,escalated,outcome,rationale
c1,2026-01-05T09:00:00,v1,approve,0.9,,,,,,,approve,
c2,2026-01-10T09:00:00,v1,decline,0.3,r1,approve,2026-01-10T10:00:00,2026-01-10T10:02:00,,false,approve,income verified
c3,2026-01-20T09:00:00,v1,decline,0.4,r1,decline,,,60,true,decline,
c4,2026-02-03T09:00:00,v2,approve,0.6,r2,decline,,,30,,approve,doubt
c5,2026-02-10T09:00:00,v2,decline,0.2,r2,decline,,,10,,,
c5,2026-02-10T09:00:00,v2,decline,0.2,r1,decline,,,50,,,
c6,2026-02-15T09:00:00,v2,approve,0.8,,,,,,,,
"""


@pytest.fixture
def src(make_store):
    with Source.open(make_store(LOG)) as s:
        yield s


def test_summary_rates_and_latency(src):
    s = oversight.oversight_summary(src)
    assert (s["cases"], s["reviewed_cases"], s["reviews"]) == (6, 4, 5)
    assert s["automation_rate"] == pytest.approx(2 / 6)
    assert s["review_rate"] == pytest.approx(4 / 6)
    assert s["override_rate"] == pytest.approx(0.5)
    assert s["escalation_rate"] == pytest.approx(0.25)
    assert s["review_seconds_median"] == pytest.approx(50)
    assert s["review_seconds_p90"] == pytest.approx(96)


def test_by_reviewer(src):
    rows = {r["reviewer_id"]: r for r in oversight.by_reviewer(src)}
    assert rows["r1"]["reviews"] == 3 and rows["r1"]["override_rate"] == pytest.approx(1 / 3)
    assert rows["r1"]["review_seconds_median"] == pytest.approx(60)
    assert rows["r2"]["reviews"] == 2 and rows["r2"]["override_rate"] == pytest.approx(0.5)
    assert rows["r2"]["review_seconds_median"] == pytest.approx(20)
    assert rows["r1"]["rationale_rate"] == pytest.approx(1 / 3)


def test_by_version_and_month(src):
    versions = {v["model_version"]: v for v in oversight.by_model_version(src)}
    assert versions["v1"]["cases"] == 3 and versions["v1"]["override_rate"] == pytest.approx(0.5)
    assert versions["v2"]["automation_rate"] == pytest.approx(1 / 3)
    months = oversight.trend(src, period="month")
    assert [m["period"] for m in months] == ["2026-01-01", "2026-02-01"]
    assert [m["cases"] for m in months] == [3, 3]
    assert months[0]["review_seconds_median"] == pytest.approx(90)  # 120, 60
    assert months[1]["review_hours"] == pytest.approx(90 / 3600)  # 30 + 10 + 50


def test_filters(src):
    feb = Filter(start=__import__("datetime").date(2026, 2, 1))
    assert oversight.oversight_summary(src, feb)["cases"] == 3
    assert oversight.oversight_summary(src, Filter(model_version="v1"))["override_rate"] == pytest.approx(0.5)
    empty = oversight.oversight_summary(src, Filter(system="nope"))
    assert empty["cases"] == 0 and empty["override_rate"] is None and empty["review_seconds_median"] is None


def test_reviewer_accuracy(src):
    acc = {r["reviewer_id"]: r for r in oversight.reviewer_accuracy(src)}
    assert acc["r1"]["reviews_with_outcome"] == 2
    assert acc["r1"]["reviewer_accuracy"] == 1.0 and acc["r1"]["model_accuracy"] == 0.5
    assert acc["r2"]["value_added"] == pytest.approx(-1.0)


def test_roi(src):
    r = roi.roi_summary(src, hourly_rate=36.0)
    assert r["reviewer_hours"] == pytest.approx(270 / 3600)
    assert r["cost"] == pytest.approx(270 / 3600 * 36)
    assert (r["errors_caught"], r["errors_introduced"]) == (1, 1)
    assert r["cost_per_error_caught"] == pytest.approx(2.7)
    assert r["automated_cases"] == 2 and r["outcome_known_cases"] == 4
    assert r["model_error_rate"] == pytest.approx(1 / 4) and r["final_error_rate"] == pytest.approx(1 / 4)
    months = roi.roi_trend(src, hourly_rate=36.0)
    assert [m["errors_caught"] for m in months] == [1, 0]


def test_high_risk_coverage(src):
    cov = oversight.high_risk_coverage(src, score_band=(0.3, 0.6))
    assert cov["high_risk_cases"] == 3 and cov["coverage"] == 1.0  # c2 .3, c3 .4, c4 .6


LAST = """case_id,ts,model_decision,reviewer_id,human_decision,review_started_at,review_completed_at
a,2026-03-01,decline,r1,approve,,2026-03-01T10:00:00.500
a,2026-03-01,decline,r2,decline,,2026-03-01T10:00:00
b,2026-03-01,decline,r9,approve,,2026-03-01T10:00:00
b,2026-03-01,decline,r1,decline,,2026-03-01T10:00:00
c,2026-03-01,decline,r1,approve,2026-03-01T09:00:00,
c,2026-03-01,decline,r2,decline,,
"""


def test_final_decision_is_the_last_review_by_time_then_reviewer(make_store):
    # a: r1 finished half a second after r2 -> approve (a text sort of the times gets this wrong).
    # b: same time, tie broken by reviewer id: r9 > r1 -> approve.
    # c: r1 has only a start time, r2 no time at all (earliest) -> r1's approve.
    with Source.open(make_store(LAST)) as s:
        df = s.cases().select("case_id", "final", "overridden", "n_reviews").order_by("case_id").to_pandas()
    assert df.to_dict("list") == {"case_id": ["a", "b", "c"], "final": ["approve"] * 3,
                                  "overridden": [True] * 3, "n_reviews": [2, 2, 2]}


def test_sample_cases_is_the_seeded_md5_sample_of_cases(src):
    import hashlib

    # Independent oracle: the 3 case keys with the smallest md5("system|case_id|seed"), in Python.
    keys = sorted(f"c{i}" for i in range(1, 7))
    expected = sorted(keys, key=lambda k: hashlib.md5(f"default|{k}|5".encode()).hexdigest())[:3]
    sample, total = src.sample_cases(Filter(), max_rows=3, seed=5)
    got = sample.order_by("case_id").to_pandas()
    assert total == 6 and sorted(got["case_id"]) == sorted(expected)
    full = src.cases().to_pandas().set_index("case_id").loc[sorted(expected)].reset_index()
    cols = ["case_id", "n_reviews", "final", "overridden", "escalated"]
    assert got[cols].astype(object).to_dict("records") == full[cols].astype(object).to_dict("records")
