"""The Reliance page (issue 17): its numbers are the metrics functions' values, formatted."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

import dashboard_helpers as helpers
from hitlgov import formats as fmt
from hitlgov.metrics import agreement, inventory
from hitlgov.metrics.reliance import reliance_summary
from hitlgov.metrics.selective_accuracy import selective_accuracy_summary
from hitlgov.metrics.source import Filter, Source
from test_dashboard import assert_clean, open_app, texts, tiles

pytestmark = pytest.mark.xdist_group("dashboard")
SYSTEM = "consumer-credit"


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory) -> Path:
    return helpers.demo_store(tmp_path_factory.getbasetemp())


def test_reliance_page_numbers(demo_db, monkeypatch):
    with Source.open(demo_db) as src:
        s = next(s for s in inventory.system_catalog(src) if s["system"] == SYSTEM)
        flt = Filter(start=dt.date.fromisoformat(s["first"][:10]), end=dt.date.fromisoformat(s["last"][:10]),
                     system=SYSTEM)
    # the whole log, asked for in the link (the default period is the last full quarter)
    at = open_app(demo_db, monkeypatch, page="reliance.py",
                  query={"system": SYSTEM, "from": flt.start.isoformat(), "to": flt.end.isoformat()})
    assert_clean(at)
    with Source.open(demo_db) as src:
        rel = reliance_summary(src, flt)
        sa = selective_accuracy_summary(src, flt)
        a = agreement.agreement_summary(src, flt)
    shown = tiles(at)
    assert shown["Over-reliance"] == fmt.pct(rel["over_reliance"]["rate"])
    assert shown["Under-reliance"] == fmt.pct(rel["under_reliance"]["rate"])
    assert shown["Net effect of review"] == fmt.pp(rel["net_effect_on_accuracy"]["difference"])
    assert shown["Canary catch rate"] == fmt.pct(rel["canary_catch_rate"]["rate"])
    assert shown["Automated error rate (audit)"] == fmt.pct(sa["automated_error_rate"]["rate"])
    assert shown["System accuracy"] == fmt.pct(sa["system_accuracy"]["accuracy"])
    assert shown["Gwet's AC1"] == fmt.ratio(a["gwet_ac1"])
    assert "canaries" in texts(at.caption)
    # the demo has gender but no race: the LL144 table shows sex only, with the download
    frames = [df.value for df in at.dataframe]
    ll144 = next(f for f in frames if "Impact ratio" in f.columns)
    assert set(ll144["Category"]) == {"F", "M", "X"}
    assert at.get("download_button")


def test_reliance_page_without_reviews_or_audit(demo_db, monkeypatch):
    at = open_app(demo_db, monkeypatch, page="reliance.py", query={"system": "compas-recidivism"})
    assert_clean(at)
    info = texts(at.info)
    assert "No audit sample in this selection" in info
    assert "No case in this selection was reviewed by two or more people" in info
    # COMPAS has race and sex: the LL144 table has both dimensions and their intersection
    ll144 = next(df.value for df in at.dataframe if "Impact ratio" in df.value.columns)
    assert {"Sex", "Race/ethnicity", "Intersection"} <= set(ll144["Dimension"])
