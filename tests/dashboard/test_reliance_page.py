"""The Reliance page (issue 17): its numbers are the metrics functions' values, formatted."""
from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path

import pandas as pd
import pytest
import streamlit as st
from typer.testing import CliRunner

import dashboard_helpers as helpers
from hitlgov import formats as fmt
from hitlgov.cli import app
from hitlgov.dashboard import exports
from hitlgov.dashboard.cells import DASH
from hitlgov.metrics import inventory
from hitlgov.metrics.source import Filter, Source
from test_dashboard import assert_clean, open_app, texts, tiles

pytestmark = pytest.mark.xdist_group("dashboard")
SYSTEM = "consumer-credit"


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory) -> Path:
    return helpers.demo_store(tmp_path_factory.getbasetemp())


def _same(cell, want, text_format: str, *, scale: float = 1) -> bool:
    """A table cell shows ``want``: a number, or -- in a column with gaps, which the table turns
    into text -- the number in the column's format; a missing value is a dash (or empty)."""
    if want is None:
        return cell == DASH or pd.isna(cell)
    if isinstance(cell, str):
        return cell == text_format % (scale * want)
    return cell == pytest.approx(scale * want)


@pytest.fixture(scope="module")
def whole_log(demo_db) -> tuple[Filter, dict]:
    """The demo system's whole log and ``metrics --json`` for exactly that filter."""
    with Source.open(demo_db) as src:
        s = next(s for s in inventory.system_catalog(src) if s["system"] == SYSTEM)
    flt = Filter(start=dt.date.fromisoformat(s["first"][:10]), end=dt.date.fromisoformat(s["last"][:10]), system=SYSTEM)
    run = CliRunner().invoke(app, ["metrics", "--json", "--no-drift", "--db", str(demo_db), "--system", SYSTEM,
                                   "--from", flt.start.isoformat(), "--to", flt.end.isoformat()])
    assert run.exit_code == 0, run.output
    return flt, json.loads(run.stdout)


def test_reliance_page_numbers(demo_db, monkeypatch, whole_log):
    flt, m = whole_log
    downloads = {}
    real_button = st.download_button

    def spy(label, data=None, **kw):  # keep the deferred CSV callable to run it as a click would
        downloads[kw.get("key")] = data
        return real_button(label, data=data, **kw)

    monkeypatch.setattr(st, "download_button", spy)
    # the whole log, asked for in the link (the default period is the last full quarter)
    at = open_app(demo_db, monkeypatch, page="reliance.py",
                  query={"system": SYSTEM, "from": flt.start.isoformat(), "to": flt.end.isoformat()})
    assert_clean(at)
    rel, sa, a, q, ll = m["reliance"], m["selective_accuracy"], m["agreement"], m["reviewer_quality"], m["bias_audit"]
    shown = tiles(at)
    assert shown["Over-reliance"] == fmt.pct(rel["over_reliance"]["rate"])
    assert shown["Under-reliance"] == fmt.pct(rel["under_reliance"]["rate"])
    assert shown["Net effect of review"] == fmt.pp(rel["net_effect_on_accuracy"]["difference"])
    assert shown["Canary catch rate"] == fmt.pct(rel["canary_catch_rate"]["rate"])
    assert shown["Switch rate"] == fmt.pct(rel["switch_rate"]["rate"])
    assert shown["Relative AI reliance"] == fmt.pct(rel["relative_ai_reliance"]["rate"])
    assert shown["Relative self-reliance"] == fmt.pct(rel["relative_self_reliance"]["rate"])
    assert shown["Automated error rate (audit)"] == fmt.pct(sa["automated_error_rate"]["rate"])
    assert shown["Reviewed stream error rate"] == fmt.pct(sa["reviewed_error_rate"]["rate"])
    assert shown["Observed model error (biased)"] == fmt.pct(sa["observed_model_error_rate"]["rate"])
    assert shown["System accuracy"] == fmt.pct(sa["system_accuracy"]["accuracy"])
    assert shown["Gwet's AC1"] == fmt.ratio(a["gwet_ac1"])
    assert "canaries" in texts(at.caption)
    assert fmt.pct(sa["auditor_disagreement"]["rate"]) in texts(at.caption)
    frames = [df.value for df in at.dataframe]
    # Dawid-Skene: each reviewer's estimate and outcome accuracy, in percent
    ds = next(f for f in frames if "Estimated accuracy (Dawid–Skene)" in f.columns).set_index("Reviewer")
    assert q["available"] and list(ds.index) == [r["reviewer_id"] for r in q["by_reviewer"]]
    for r in q["by_reviewer"]:
        row = ds.loc[r["reviewer_id"]]
        assert row["Multi-reviewed cases"] == r["reviews"]
        for col, key in (("Estimated accuracy (Dawid–Skene)", "estimated_accuracy"),
                         ("Accuracy vs outcomes", "outcome_accuracy")):
            assert _same(row[col], r[key], "%.1f%%", scale=100), (r["reviewer_id"], col, row[col], r[key])
    # per-reviewer reliance: relative AI / self-reliance, in percent
    per = next(f for f in frames if "Relative AI reliance" in f.columns).set_index("Reviewer")
    for r in rel["by_reviewer"]:
        for col, key in (("Relative AI reliance", "relative_ai_reliance"),
                         ("Relative self-reliance", "relative_self_reliance"), ("Over-reliance", "over_reliance")):
            got = per.loc[r["reviewer_id"], col]
            assert _same(got, r[key]["rate"], "%.1f%%", scale=100), (r["reviewer_id"], col, got)
    # LL144: the demo has gender but no race: sex only, impact ratios and excludable flags as in --json
    ll144 = next(f for f in frames if "Impact ratio" in f.columns).set_index("Category")
    assert set(ll144.index) == {r["category"] for r in ll["sex"]} == {"F", "M", "X"}
    for r in ll["sex"]:
        row = ll144.loc[r["category"]]
        assert row["Individuals"] == r["individuals"] and bool(row["Excludable (< 2%)"]) == r["excludable"]
        assert _same(row["Impact ratio"], r["impact_ratio"], "%.3f"), (r, row["Impact ratio"])
    # the downloaded CSV: one row per category with the --json values, and the export is recorded
    recorded = []
    monkeypatch.setattr(exports.audit, "record_event", lambda db, **kw: recorded.append(kw))
    csv = pd.read_csv(io.BytesIO(downloads["ll144_export"]()), dtype=str, keep_default_na=False)
    assert list(csv["dimension"]) == ["sex"] * len(ll["sex"])
    for r, row in zip(ll["sex"], csv.to_dict("records")):
        assert (row["category"], int(row["individuals"]), int(row["selected"])) == (
            r["category"], r["individuals"], r["selected"])
        assert float(row["selection_rate"]) == pytest.approx(r["selection_rate"], abs=5e-7)
        assert row["impact_ratio"] == ("" if r["impact_ratio"] is None else f"{r['impact_ratio']:.6f}")
        assert row["excludable"] == ("yes" if r["excludable"] else "no")
    assert [(e["kind"], e["subject"]) for e in recorded] == [("export_downloaded", "LL144 bias audit")]


def test_reliance_page_without_reviews_or_audit(demo_db, monkeypatch):
    at = open_app(demo_db, monkeypatch, page="reliance.py", query={"system": "compas-recidivism"})
    assert_clean(at)
    info = texts(at.info)
    assert "No audit sample in this selection" in info
    assert "No case in this selection was reviewed by two or more people" in info
    # COMPAS has race and sex: the LL144 table has both dimensions and their intersection
    ll144 = next(df.value for df in at.dataframe if "Impact ratio" in df.value.columns)
    assert {"Sex", "Race/ethnicity", "Intersection"} <= set(ll144["Dimension"])
