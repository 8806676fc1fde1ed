"""The default period is the last full calendar quarter (issue 15), with deltas against the
previous quarter; the whole log, said so, when the log covers no whole quarter.

The log below spans 2025-11-15 .. 2026-05-10 (positive label ``approve``; default policy costs:
60/hour, a wrong approval 2,000, a wrong decline 300). Every figure is counted by hand:

* 2025 Q4 (the log starts on 15 Nov: the previous quarter is only partly covered) -- 4 cases,
  2 reviewed (600 s each), 1 overridden: automation 2/4 = 50%, override 1/2 = 50%; reviewer hours
  1/3, cost 20; p2's override fixed a wrong decline (a false negative caught: 300); net benefit 280.
* 2026 Q1 (the default) -- 5 cases, 2 reviewed (1,200 s each), 1 overridden: automation 3/5 = 60%,
  override 50%; hours 2/3, cost 40; q1's override fixed a wrong approval (2,000); net benefit 1,960.
* 2026 Q2 runs to 10 May only: not over, so not the default.

Deltas: cases +1, automation +10 pp, override 0 pp, hours +1/3, cost +20, value of errors caught
+1,700, net benefit +1,680, errors caught 0.
"""
from __future__ import annotations

import datetime as dt

import pytest

from hitlgov.mapping import Mapping
from hitlgov.metrics import periods, roi, summary
from hitlgov.metrics.policy import load_policy
from hitlgov.metrics.source import Filter, Source

D = dt.date

LOG = """case_id,ts,model_decision,reviewer_id,human_decision,review_seconds,outcome
p1,2025-11-15T09:00:00,approve,r1,approve,600,approve
p2,2025-12-01T09:00:00,decline,r1,approve,600,approve
p3,2025-12-20T09:00:00,approve,,,,decline
p4,2025-12-31T23:00:00,approve,,,,approve
q1,2026-01-01T00:30:00,approve,r1,decline,1200,decline
q2,2026-02-10T09:00:00,decline,,,,decline
q3,2026-03-05T09:00:00,approve,,,,approve
q4,2026-03-20T09:00:00,approve,r2,approve,1200,approve
q5,2026-03-31T22:00:00,decline,,,,decline
s1,2026-04-15T09:00:00,approve,,,,
s2,2026-05-10T09:00:00,approve,r1,decline,600,
"""

#: a previous quarter whose outcomes are known against a current one still waiting for them
WAITING = """case_id,ts,model_decision,reviewer_id,human_decision,review_seconds,outcome
a1,2025-10-01T09:00:00,approve,r1,decline,600,decline
a2,2025-11-01T09:00:00,decline,r1,approve,600,approve
a3,2025-12-01T09:00:00,approve,,,,approve
b1,2026-01-05T09:00:00,approve,r1,decline,600,
b2,2026-02-05T09:00:00,approve,,,,
b3,2026-03-31T09:00:00,decline,,,,
"""


@pytest.fixture
def db(make_store):
    return make_store(LOG, mapping=Mapping(positive_label="approve"))


# -- the calendar rules, by hand ----------------------------------------------------------------

@pytest.mark.parametrize("first, last, expected", [
    (D(2025, 11, 15), D(2026, 5, 10), (D(2026, 1, 1), D(2026, 3, 31))),
    (D(2026, 1, 1), D(2026, 3, 31), (D(2026, 1, 1), D(2026, 3, 31))),    # exactly one quarter, both ends
    (D(2026, 1, 2), D(2026, 6, 30), (D(2026, 4, 1), D(2026, 6, 30))),    # Q1 starts before the log: Q2
    (D(2025, 12, 31), D(2026, 10, 1), (D(2026, 7, 1), D(2026, 9, 30))),
    (D(2026, 1, 2), D(2026, 3, 31), None),                               # one day short of Q1
    (D(2026, 1, 10), D(2026, 2, 20), None),                              # inside one quarter
    (D(2026, 2, 1), D(2026, 6, 29), None),                               # Q2 not over, Q1 not covered
])
def test_last_full_quarter(first, last, expected):
    assert periods.last_full_quarter(first, last) == expected


@pytest.mark.parametrize("start, end, expected", [
    (D(2026, 1, 1), D(2026, 3, 31), (D(2025, 10, 1), D(2025, 12, 31))),  # Q1 -> Q4 (92 days, not 90)
    (D(2026, 7, 1), D(2026, 9, 30), (D(2026, 4, 1), D(2026, 6, 30))),
    (D(2026, 3, 1), D(2026, 3, 31), (D(2026, 2, 1), D(2026, 2, 28))),    # a month -> the month before
    (D(2026, 2, 1), D(2026, 3, 31), (D(2025, 12, 1), D(2026, 1, 31))),   # two whole months
    (D(2025, 1, 1), D(2025, 12, 31), (D(2024, 1, 1), D(2024, 12, 31))),  # a year (2024 is a leap year)
    (D(2026, 1, 5), D(2026, 1, 14), (D(2025, 12, 26), D(2026, 1, 4))),   # 10 days -> the 10 days before
    (D(2026, 3, 2), D(2026, 3, 2), (D(2026, 3, 1), D(2026, 3, 1))),
])
def test_previous_period(start, end, expected):
    assert periods.previous_period(start, end) == expected
    assert Filter(start, end, system="s").previous_period() == Filter(*expected, system="s")


def test_quarter_labels():
    assert periods.quarter_label(D(2026, 1, 1), D(2026, 3, 31)) == "2026 Q1"
    assert periods.quarter_label(D(2025, 10, 1), D(2025, 12, 31)) == "2025 Q4"
    assert periods.quarter_label(D(2026, 1, 1), D(2026, 3, 30)) is None
    assert periods.describe(D(2026, 4, 1), D(2026, 6, 30)) == "2026 Q2 (2026-04-01 to 2026-06-30)"


# -- on a store ------------------------------------------------------------------------------------

def test_default_period_is_the_last_full_quarter(db):
    with Source.open(db) as src:
        choice = summary.choose_period(src, Filter())
        assert (choice.start, choice.end, choice.how) == (D(2026, 1, 1), D(2026, 3, 31), periods.LAST_FULL_QUARTER)
        assert choice.label == "2026 Q1" and "2025-11-15 to 2026-05-10" in choice.notice
        # a model version or segment does not move the quarter; a given period is kept as given
        assert summary.choose_period(src, Filter(model_version="nope")).start == D(2026, 1, 1)
        given = summary.choose_period(src, Filter(D(2025, 12, 1), D(2026, 1, 31)))
        assert (given.start, given.end, given.how, given.notice) == (D(2025, 12, 1), D(2026, 1, 31), "given", None)
        # `metrics` keeps its documented default: the whole log
        whole = summary.resolve_period(src, Filter())
        assert (whole.start, whole.end) == (D(2025, 11, 15), D(2026, 5, 10))


def test_deltas_against_the_previous_quarter_by_hand(db):
    with Source.open(db) as src:
        k = summary.kpis(src, Filter(D(2026, 1, 1), D(2026, 3, 31)), **roi.costs_from(load_policy()))
    assert k["previous_period"] == {"from": "2025-10-01", "to": "2025-12-31", "label": "2025 Q4"}
    assert k["previous_log_from"] == "2025-11-15"  # the previous quarter is only partly in the log
    cur, prev, d = k["current"], k["previous"], k["delta"]
    assert (cur["cases"], prev["cases"], d["cases"]) == (5, 4, 1)
    assert (cur["automation_rate"], prev["automation_rate"]) == (pytest.approx(0.6), pytest.approx(0.5))
    assert d["automation_rate"] == pytest.approx(0.1)
    assert d["override_rate"] == pytest.approx(0.0)
    assert (cur["reviewer_hours"], prev["reviewer_hours"]) == (pytest.approx(2 / 3), pytest.approx(1 / 3))
    assert d["reviewer_hours"] == pytest.approx(1 / 3)
    assert (cur["cost"], prev["cost"], d["cost"]) == (pytest.approx(40), pytest.approx(20), pytest.approx(20))
    assert (cur["net_benefit"], prev["net_benefit"]) == (pytest.approx(1_960), pytest.approx(280))
    assert d["net_benefit"] == pytest.approx(1_680)
    assert d["value_of_errors_caught"] == pytest.approx(1_700)
    assert d["errors_caught"] == 0 and k["outcome_deltas_withheld"] is False


def test_a_log_inside_one_quarter_falls_back_to_the_whole_log(make_store):
    db = make_store("case_id,ts,model_decision\nc1,2026-01-10T09:00:00,approve\nc2,2026-02-20T09:00:00,decline\n")
    with Source.open(db) as src:
        choice = summary.choose_period(src, Filter())
    assert (choice.start, choice.end, choice.how) == (D(2026, 1, 10), D(2026, 2, 20), periods.WHOLE_LOG)
    assert choice.label is None
    assert choice.notice == ("The log (2026-01-10 to 2026-02-20) does not cover a whole calendar quarter, so the "
                             "period is the whole log instead of the last full quarter.")


def test_an_empty_selection_has_no_period(make_store):
    db = make_store("case_id,ts,model_decision\nc1,2026-01-10T09:00:00,approve\n")
    with Source.open(db) as src:
        choice = summary.choose_period(src, Filter(system="other"))
    assert (choice.start, choice.end, choice.how, choice.notice) == (None, None, periods.NO_DATA, None)


def test_no_red_delta_while_the_current_quarter_waits_for_outcomes(make_store):
    """Q4 2025 knows every outcome, Q1 2026 none: the money and error deltas are withheld (a drop
    from 2 errors caught to 0 would only reflect outcomes not yet known); counts still compare."""
    db = make_store(WAITING, mapping=Mapping(positive_label="approve"))
    with Source.open(db) as src:
        choice = summary.choose_period(src, Filter())
        assert choice.label == "2026 Q1"
        k = summary.kpis(src, Filter(choice.start, choice.end), **roi.costs_from(load_policy()))
    assert k["previous"]["errors_caught"] == 2 and k["current"]["errors_caught"] == 0
    assert k["previous_log_from"] is None  # the log starts on 1 Oct: Q4 fully covered
    assert k["outcome_deltas_withheld"] is True
    assert all(k["delta"][key] is None for key in summary.OUTCOME_KEYS)
    assert k["delta"]["cases"] == 0 and k["delta"]["automation_rate"] == pytest.approx(2 / 3 - 1 / 3)
