"""Drift windows (issue 15): over the scope's own decisions, and the reference never overlaps the current.

Before: the windows came from the period alone -- reference = its first 3 months, current = its
last month -- so a v2.0 report over the whole log compared v2.0's last month with three months
before v2.0 existed ("the reference window has no cases"), and in a default quarter Jul-Sep the
reference (Jul-Sep) contained the current window (Sep).

The store: three cases a day, 2026-01-01 .. 2026-06-30, model version ``v2`` from 2026-04-10 to
2026-06-20 (``v1`` otherwise), region ``north`` from 2026-02-15 to 2026-05-31 (``south`` otherwise).
Every window below is worked out by hand from those dates and the defaults (reference 3 months,
current 1 month).
"""
from __future__ import annotations

import datetime as dt

import pytest

from hitlgov import store
from hitlgov.ingest.pipeline import ingest_path
from hitlgov.mapping import Mapping
from hitlgov.metrics import drift
from hitlgov.metrics.policy import load_policy
from hitlgov.metrics.source import Filter, Source
from hitlgov.metrics.summary import choose_period, compute_metrics

D = dt.date
SYSTEM = "w"


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    folder = tmp_path_factory.mktemp("drift-windows")
    rows = ["case_id,ts,system,model_version,model_decision,model_score,region"]
    day, n = D(2026, 1, 1), 0
    while day <= D(2026, 6, 30):
        version = "v2" if D(2026, 4, 10) <= day <= D(2026, 6, 20) else "v1"
        region = "north" if D(2026, 2, 15) <= day <= D(2026, 5, 31) else "south"
        for k in range(3):
            score = 0.2 + 0.3 * k + (0.1 if day.month >= 5 else 0.0)
            rows.append(f"c{n},{day}T1{k}:00:00,{SYSTEM},{version},{'approve' if score >= 0.5 else 'deny'},"
                        f"{score:.2f},{region}")
            n += 1
        day += dt.timedelta(days=1)
    log = folder / "w.csv"
    log.write_text("\n".join(rows) + "\n")
    path = folder / "store.duckdb"
    with store.connect(path) as con:
        ingest_path(con, log, mapping=Mapping(sensitive=["region"], positive_label="approve"))
    return path


WHOLE = (D(2026, 1, 1), D(2026, 6, 30))
CASES = {  # name: (filter, hand-computed (reference, current))
    # the system over the whole log: current = June; reference = Jan 1 + 3 months - 1 day
    "system, whole log": (Filter(*WHOLE, system=SYSTEM),
                          ((D(2026, 1, 1), D(2026, 3, 31)), (D(2026, 6, 1), D(2026, 6, 30)))),
    # v2 starts late and ends early: its span is Apr 10 .. Jun 20; current = the month up to Jun 20
    # (May 21 .. Jun 20); reference = Apr 10 .. Jul 9, cut to end before May 21
    "model version starting late, whole log": (Filter(*WHOLE, system=SYSTEM, model_version="v2"),
                                               ((D(2026, 4, 10), D(2026, 5, 20)), (D(2026, 5, 21), D(2026, 6, 20)))),
    # north spans Feb 15 .. May 31: current = May; reference = Feb 15 .. May 14, cut to Apr 30
    "segment, whole log": (Filter(*WHOLE, system=SYSTEM, segment=("region", "north")),
                           ((D(2026, 2, 15), D(2026, 4, 30)), (D(2026, 5, 1), D(2026, 5, 31)))),
    # the default quarter (Apr-Jun): the 3-month reference would contain June; it is Apr-May
    "default quarter": (Filter(D(2026, 4, 1), D(2026, 6, 30), system=SYSTEM),
                        ((D(2026, 4, 1), D(2026, 5, 31)), (D(2026, 6, 1), D(2026, 6, 30)))),
}


def test_the_default_period_is_the_quarter_of_the_table(db):
    with Source.open(db) as src:
        choice = choose_period(src, Filter(system=SYSTEM))
    assert (choice.start, choice.end) == (D(2026, 4, 1), D(2026, 6, 30))


@pytest.mark.parametrize("case", list(CASES))
def test_windows_are_the_scopes_own_and_do_not_overlap(db, case):
    flt, expected = CASES[case]
    with Source.open(db) as src:
        reference, current = drift.windows_for(src, flt)
    assert (reference, current) == expected
    assert reference[1] < current[0]


def test_the_pure_default_windows_of_a_quarter_do_not_overlap():
    assert drift.default_windows((D(2026, 7, 1), D(2026, 9, 30))) == (
        (D(2026, 7, 1), D(2026, 8, 31)), (D(2026, 9, 1), D(2026, 9, 30)))
    # a span of one month leaves no reference window before the current one: it ends before it starts
    ref, cur = drift.default_windows((D(2026, 9, 1), D(2026, 9, 30)))
    assert cur == (D(2026, 9, 1), D(2026, 9, 30)) and ref == (D(2026, 9, 1), D(2026, 8, 31))


def test_metrics_test_drift_for_a_late_model_version_over_the_whole_log(db):
    """What ``metrics --json`` and the PDF compute (compute_metrics): the v2 windows above, each
    with its cases (3 a day: Apr 10 .. May 20 is 41 days, May 21 .. Jun 20 is 31 days)."""
    flt, ((r0, r1), (c0, c1)) = CASES["model version starting late, whole log"]
    with Source.open(db) as src:
        d = compute_metrics(src, flt, policy=load_policy(), n_boot=50)["drift"]
    assert "error" not in d
    assert d["windows"] == {"reference": {"from": r0.isoformat(), "to": r1.isoformat(), "cases": 3 * 41},
                            "current": {"from": c0.isoformat(), "to": c1.isoformat(), "cases": 3 * 31}}
