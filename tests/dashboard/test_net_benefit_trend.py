"""The Overview draws the monthly net benefit of review (issue 15: "the net benefit and its trend").

On a hand-computed store (the log of tests/metrics/test_roi_money.py): January's net benefit is
1,820 (a false positive caught, 2,000, and a false negative caught, 300, less one introduced, 300,
minus three hours at 60), every outcome known; February's is -60 (one hour, no outcome known yet),
drawn apart as "not yet known" instead of as a drop. The plotted values are roi_trend's.
"""
from __future__ import annotations

import json

import pytest

from hitlgov.dashboard import charts
from conftest import ROI_LOG as LOG
from hitlgov.mapping import Mapping
from hitlgov.metrics import roi
from hitlgov.metrics.policy import load_policy
from hitlgov.metrics.source import Filter, Source
from test_dashboard import assert_clean, open_app, texts

pytestmark = pytest.mark.xdist_group("dashboard")

QUERY = {"from": "2026-01-01", "to": "2026-02-28"}


def _traces(at) -> dict[str, dict]:
    for chart in at.get("plotly_chart"):
        data = json.loads(chart.proto.spec)["data"]
        names = {t.get("name"): t for t in data}
        if charts.NET_BENEFIT_KNOWN in names:
            return names
    raise AssertionError("no net-benefit chart on the Overview")


def test_the_overview_plots_roi_trends_net_benefit(make_store, monkeypatch):
    db = make_store(LOG, mapping=Mapping(positive_label="approve"))
    at = open_app(db, monkeypatch, query=QUERY)
    assert_clean(at)
    traces = _traces(at)
    known, pending = traces[charts.NET_BENEFIT_KNOWN], traces[charts.NET_BENEFIT_PENDING]
    assert known["x"] == pending["x"] == ["2026-01-01", "2026-02-01"]
    assert known["y"] == [1820.0, None] and pending["y"] == [None, -60.0]  # by hand (module docstring)
    with Source.open(db) as src:  # and they are roi_trend's for the same filter
        system = src.systems()[0]
        trend = roi.roi_trend(src, Filter(start=None, end=None, system=system), **roi.costs_from(load_policy()))
    assert [t["net_benefit"] for t in trend] == [1820.0, -60.0]
    assert roi.NET_BENEFIT_CAPTION in texts(at.caption)
