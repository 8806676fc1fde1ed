"""ROI in money (issue 15), on a log whose every figure is computed by hand.

positive label ``approve``; policy costs: a wrong approval 2,000, a wrong decline 300; 60/hour.

* c1: model approve, reviewer declines, outcome decline -> a false positive caught (2,000)
* c2: model decline, reviewer approves, outcome approve -> a false negative caught (300)
* c3: model approve, reviewer declines, outcome approve -> a false negative introduced (-300)
* c4: model decline, not reviewed, outcome approve      -> a model error nobody looked at
Three reviews of one hour: cost 180. Net value 2,300 - 300 = 2,000; net benefit 1,820; one net
error prevented, at 180.
"""
from __future__ import annotations

import datetime as dt

import pytest

from conftest import ROI_LOG as LOG
from hitlgov.mapping import Mapping
from hitlgov.metrics import roi, summary
from hitlgov.metrics.policy import load_policy
from hitlgov.metrics.source import Filter, Source

JAN = Filter(dt.date(2026, 1, 1), dt.date(2026, 1, 31))


@pytest.fixture
def db(make_store):
    return make_store(LOG, mapping=Mapping(positive_label="approve"))


def test_money_figures_by_hand(db):
    with Source.open(db) as src:
        r = roi.roi_summary(src, JAN, **roi.costs_from(load_policy()))
    assert (r["caught_false_positives"], r["caught_false_negatives"]) == (1, 1)
    assert (r["introduced_false_positives"], r["introduced_false_negatives"]) == (0, 1)
    assert r["cost"] == pytest.approx(180.0)
    assert r["value_of_errors_caught"] == pytest.approx(2_300.0)
    assert r["value_lost_to_errors_introduced"] == pytest.approx(300.0)
    assert r["net_value_of_review"] == pytest.approx(2_000.0)
    assert r["net_benefit"] == pytest.approx(1_820.0)
    assert r["net_errors_prevented"] == 1 and r["cost_per_net_error_prevented"] == pytest.approx(180.0)
    assert r["outcome_known_share"] == pytest.approx(1.0)


def test_no_net_error_prevented_gives_no_cost_per_error(db):
    with Source.open(db) as src:  # February: one override, its outcome unknown
        r = roi.roi_summary(src, Filter(dt.date(2026, 2, 1), dt.date(2026, 2, 28)))
    assert r["net_errors_prevented"] == 0 and r["cost_per_net_error_prevented"] is None
    assert r["net_benefit"] == pytest.approx(-60.0) and r["outcome_known_share"] == 0.0


def test_no_red_delta_that_only_reflects_unknown_outcomes(db):
    with Source.open(db) as src:
        k = summary.kpis(src, Filter(dt.date(2026, 2, 1), dt.date(2026, 2, 28)))
    # a calendar month is compared with the previous calendar month (not the 28 days before)
    assert k["previous_period"] == {"from": "2026-01-01", "to": "2026-01-31", "label": None}
    assert k["outcome_deltas_withheld"] is True
    assert k["delta"]["cases"] == -2  # counts are still compared
    assert all(k["delta"][key] is None for key in summary.OUTCOME_KEYS)


def test_money_is_none_when_the_positive_label_is_unknown(make_store):
    db = make_store(LOG)  # no positive label declared
    with Source.open(db) as src:
        r = roi.roi_summary(src, JAN)
    assert r["net_benefit"] is None and r["value_of_errors_caught"] is None
    assert r["errors_caught"] == 2  # the counts need no label


def test_net_benefit_trend_by_hand(db):
    """January: the figures above (net benefit 1,820), every outcome known. February: d1's hour of
    review (60) caught nothing known yet, no outcome known: -60, drawn apart as not yet known."""
    with Source.open(db) as src:
        trend = roi.roi_trend(src, Filter(), **roi.costs_from(load_policy()))
    assert roi.net_benefit_trend(trend) == [{"period": "2026-01-01", "net_benefit": 1820.0, "pending": False},
                                            {"period": "2026-02-01", "net_benefit": -60.0, "pending": True}]


def test_outcomes_pending_uses_the_delta_withholding_rule():
    """A month is pending when its known share is more than OUTCOME_SHARE_TOLERANCE (5 points)
    below the best-known month's (here 97%: pending below 92%), or it knows no outcome at all."""
    assert roi.OUTCOME_SHARE_TOLERANCE == summary.OUTCOME_SHARE_TOLERANCE == 0.05
    rows = [{"outcome_known_share": s, "outcome_known_cases": n}
            for s, n in ((0.97, 97), (0.93, 93), (0.91, 91), (0.0, 0), (None, 0))]
    assert roi.outcomes_pending(rows) == [False, False, True, True, True]
    assert roi.outcomes_pending([{"outcome_known_share": 0.0, "outcome_known_cases": 0}]) == [True]
    assert roi.outcomes_pending([]) == []
