"""The Streamlit dashboard, page by page, with ``streamlit.testing.v1.AppTest``.

Every page renders without an exception on the demo store, on an empty store, on a missing
store, for a system without reviews and for a filter that matches nothing; the filters change
the numbers shown and live in the URL; and the numbers shown are the metrics functions' values
formatted by ``hitlgov.formats``. The data-access modules (``hitlgov.metrics.audit_trail``,
the metric families) and the CSV-injection guard are tested directly.
"""
from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import subprocess
import sys
from functools import partial
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

import dashboard_helpers as helpers
from hitlgov import formats as fmt
from hitlgov.dashboard import charts, csv_safe
from hitlgov.metrics import agreement, audit_trail, drift, fairness, inventory, oversight, roi, summary
from hitlgov.metrics.policy import load_policy
from hitlgov.metrics.source import Filter, Source

pytestmark = pytest.mark.xdist_group("dashboard")

APP = helpers.APP_FILE
SYSTEM = "consumer-credit"


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory) -> Path:
    return helpers.demo_store(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="module")
def empty_db(tmp_path_factory) -> Path:
    return helpers.empty_store(tmp_path_factory.getbasetemp())


def whole_period(db: Path, system: str = SYSTEM) -> tuple[dt.date, dt.date]:
    with Source.open(db) as src:
        s = next(s for s in inventory.system_catalog(src) if s["system"] == system)
    return dt.date.fromisoformat(s["first"][:10]), dt.date.fromisoformat(s["last"][:10])


def whole_log(period: tuple[dt.date, dt.date], system: str = SYSTEM) -> dict:
    """The link of a view over the system's whole log (the default period is its last full quarter)."""
    return {"system": system, "from": period[0].isoformat(), "to": period[1].isoformat()}


@pytest.fixture(scope="module")
def period(demo_db) -> tuple[dt.date, dt.date]:
    """The demo system's whole log, which the tests of hand-checked figures ask for explicitly."""
    return whole_period(demo_db)


def open_app(db: Path, monkeypatch, *, page: str | None = None, query: dict | None = None) -> AppTest:
    monkeypatch.setenv("HITLGOV_DB", str(db))
    at = AppTest.from_file(str(APP), default_timeout=90)
    if query:
        at.query_params = dict(query)
    at.run()
    if page:
        at.switch_page(f"views/{page}").run()
    return at


def assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    unexpected = [e.value for e in at.error if "Unexpected error" in e.value]
    assert not unexpected, unexpected


def tiles(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def deltas(at: AppTest) -> dict[str, str]:
    return {m.label: m.delta for m in at.metric}


def texts(elements) -> str:
    return "\n".join(e.value for e in elements)


# -- every page, every kind of store -------------------------------------------------------------

@pytest.mark.parametrize("view, url, title, has_chart", helpers.PAGES, ids=[p[2] for p in helpers.PAGES])
def test_page_renders_on_demo_store(demo_db, monkeypatch, view, url, title, has_chart):
    at = open_app(demo_db, monkeypatch, page=view)
    assert_clean(at)
    assert [t.value for t in at.title] == [title]
    if has_chart:
        assert at.get("plotly_chart"), f"{title}: no chart"
    assert at.query_params.get("system") == SYSTEM


@pytest.mark.parametrize("view, url, title, has_chart", helpers.PAGES, ids=[p[2] for p in helpers.PAGES])
def test_page_renders_on_empty_store(empty_db, monkeypatch, view, url, title, has_chart):
    at = open_app(empty_db, monkeypatch, page=view)
    assert_clean(at)
    assert [t.value for t in at.title] == [title]
    assert "no decisions yet" in texts(at.info) or "empty" in texts(at.info)
    assert not at.get("plotly_chart")


def test_pages_say_so_when_the_store_is_missing(tmp_path, monkeypatch):
    at = open_app(tmp_path / "nowhere.duckdb", monkeypatch)
    for view, _, title, _ in helpers.PAGES:
        at.switch_page(f"views/{view}").run()
        assert_clean(at)
        assert "no store here yet" in texts(at.error) + texts(at.warning), title


def test_filter_matching_nothing(demo_db, monkeypatch):
    # v1.4 was replaced by v2.0 on 2026-05-01: no v1.4 decision in June.
    at = open_app(demo_db, monkeypatch, query={"system": SYSTEM, "version": "v1.4", "from": "2026-06-01",
                                               "to": "2026-06-30"})
    for view, _, title, _ in helpers.PAGES:
        at.switch_page(f"views/{view}").run()
        assert_clean(at)
        if view in ("overview.py", "oversight.py", "reviewers.py", "fairness.py", "drift.py"):
            assert "No cases match the filters" in texts(at.info), title
        if view == "audit_trail.py":
            assert "No case matches" in texts(at.info)


def test_system_without_reviews(demo_db, monkeypatch):
    at = open_app(demo_db, monkeypatch, query={"system": "compas-recidivism"})
    assert_clean(at)
    assert tiles(at)["Automation rate"] == fmt.pct(1.0)
    at.switch_page("views/oversight.py").run()
    assert_clean(at)
    assert "No human reviewed any case" in texts(at.info)
    at.switch_page("views/reviewers.py").run()
    assert_clean(at)
    assert "No human reviewed any case" in texts(at.info)
    at.switch_page("views/fairness.py").run()
    assert_clean(at)
    assert "final decision is the model's" in texts(at.info)
    assert tiles(at)["Did review reduce disparity?"] == "n/a"


def test_locked_store_shows_a_message_not_a_traceback(demo_db, tmp_path, monkeypatch):
    import shutil

    from hitlgov import store as hstore

    db = tmp_path / "locked.duckdb"
    shutil.copy(demo_db, db)
    monkeypatch.setattr(hstore, "connect", partial(hstore.connect, wait_seconds=0.3))
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('held', flush=True); "
                               "time.sleep(60)", str(db)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        at = open_app(db, monkeypatch)
        assert_clean(at)
        assert "locked" in texts(at.error)
    finally:
        holder.kill()
        holder.wait()


# -- the numbers shown are the metrics' values ---------------------------------------------------

def test_overview_tiles_equal_metrics(demo_db, monkeypatch, period):
    at = open_app(demo_db, monkeypatch, query=whole_log(period))
    assert_clean(at)
    flt = Filter(start=period[0], end=period[1], system=SYSTEM)
    with Source.open(demo_db) as src:
        o = oversight.oversight_summary(src, flt)
        r = roi.roi_summary(src, flt, hourly_rate=roi.DEFAULT_HOURLY_RATE)
    shown = tiles(at)
    assert shown["Cases"] == fmt.count(o["cases"])
    assert shown["Automation rate"] == fmt.pct(o["automation_rate"])
    assert shown["Override rate"] == fmt.pct(o["override_rate"])
    assert shown["Reviewer hours"] == fmt.hours(r["reviewer_hours"])
    assert shown["Review cost"] == fmt.money_short(r["cost"], "EUR")
    assert shown["Errors caught"] == fmt.count(r["errors_caught"])
    # the whole period has nothing before it: no delta is invented
    assert not any(deltas(at).values())
    # the findings strip shows the policy's verdicts
    assert "FAIL" in texts(at.markdown) and "PASS" in texts(at.markdown)


def test_default_period_is_the_last_full_quarter_with_deltas_against_the_one_before(demo_db, monkeypatch, period):
    """The demo log runs 2025-11-01 .. 2026-10-31: October is not over -> 2026 Q3 (Jul-Sep),
    compared with 2026 Q2. Outcomes stop on 2026-09-01, so Q3 knows fewer of them than Q2: the
    money and error deltas are withheld (no red delta for outcomes not yet known), and said so."""
    assert period == (dt.date(2025, 11, 1), dt.date(2026, 10, 31))
    at = open_app(demo_db, monkeypatch)
    assert_clean(at)
    q3 = Filter(start=dt.date(2026, 7, 1), end=dt.date(2026, 9, 30), system=SYSTEM)
    assert tuple(at.sidebar.date_input(key="f_period").value) == (q3.start, q3.end)
    assert "from" not in at.query_params and "to" not in at.query_params  # the default is not written out
    assert "2026 Q3: the last full quarter (default)." in texts(at.sidebar.caption)
    shown = re.sub(r"\\(.)", r"\1", texts(at.caption))  # data-derived text is shown escaped
    assert "Period: 2026 Q3, the last full calendar quarter of the log (the default; the log covers 2025-11-01 " \
           "to 2026-10-31). Widen it with the Period control in the sidebar." in shown
    with Source.open(demo_db) as src:
        k = summary.kpis(src, q3, **roi.costs_from(load_policy()))
    assert k["previous_period"] == {"from": "2026-04-01", "to": "2026-06-30", "label": "2026 Q2"}
    assert k["outcome_deltas_withheld"] is True
    assert k["current"]["outcome_known_share"] < k["previous"]["outcome_known_share"] - 0.05
    assert tiles(at)["Cases"] == fmt.count(k["current"]["cases"])
    assert deltas(at)["Cases"] == fmt.num(k["delta"]["cases"])
    assert deltas(at)["Override rate"] == fmt.pp(k["delta"]["override_rate"])
    assert not deltas(at)["Errors caught"] and not deltas(at)["Net benefit of review"]  # withheld, not red
    assert "Errors and money are not compared with the previous period" in texts(at.caption)
    assert "Deltas compare with the period just before: 2026 Q2 (2026-04-01 – 2026-06-30)." in texts(at.caption)

    # widen it: the whole log, written into the link
    at.sidebar.button[[b.label for b in at.sidebar.button].index(f"Whole log ({period[0]} – {period[1]})")].click().run()
    assert_clean(at)
    assert (at.query_params["from"], at.query_params["to"]) == (period[0].isoformat(), period[1].isoformat())
    with Source.open(demo_db) as src:
        whole = oversight.oversight_summary(src, q3.but(start=period[0], end=period[1]))
    assert tiles(at)["Cases"] == fmt.count(whole["cases"])
    assert "last full calendar quarter" not in re.sub(r"\\(.)", r"\1", texts(at.caption))


def test_filters_change_the_numbers_and_live_in_the_url(demo_db, monkeypatch, period):
    at = open_app(demo_db, monkeypatch, query=whole_log(period))
    before = tiles(at)
    at.sidebar.selectbox(key="f_segment").set_value("age_band=18-24").run()
    assert_clean(at)
    assert at.query_params["segment"] == "age_band=18-24"
    seg = Filter(start=period[0], end=period[1], system=SYSTEM, segment=("age_band", "18-24"))
    with Source.open(demo_db) as src:
        o = oversight.oversight_summary(src, seg)
    after = tiles(at)
    assert after["Cases"] == fmt.count(o["cases"]) != before["Cases"]
    assert after["Override rate"] == fmt.pct(o["override_rate"]) != before["Override rate"]

    # a shorter period has a previous period: deltas appear and equal the metric's
    start, end = dt.date(2026, 8, 1), period[1]
    at.sidebar.date_input(key="f_period").set_value((start, end)).run()
    assert_clean(at)
    assert (at.query_params["from"], at.query_params["to"]) == (start.isoformat(), end.isoformat())
    flt = seg.but(start=start, end=end)
    with Source.open(demo_db) as src:
        k = summary.kpis(src, flt, hourly_rate=roi.DEFAULT_HOURLY_RATE)
    assert tiles(at)["Cases"] == fmt.count(k["current"]["cases"])
    assert deltas(at)["Override rate"] == fmt.pp(k["delta"]["override_rate"])

    # the filter survives a page switch (which clears the URL in a browser) and applies there
    at.switch_page("views/oversight.py").run()
    assert_clean(at)
    assert at.query_params["segment"] == "age_band=18-24" and at.query_params["from"] == start.isoformat()
    with Source.open(demo_db) as src:
        o = oversight.oversight_summary(src, flt)
    assert tiles(at)["Override rate"] == fmt.pct(o["override_rate"])

    # changing the system resets the dependent filters
    at.sidebar.selectbox(key="f_system").set_value("compas-recidivism").run()
    assert_clean(at)
    assert at.query_params.get("system") == "compas-recidivism"
    assert "segment" not in at.query_params and "from" not in at.query_params


def test_url_seeds_the_filters(demo_db, monkeypatch):
    query = {"system": SYSTEM, "version": "v2.0", "segment": "gender=F", "from": "2026-06-01", "to": "2026-08-31"}
    at = open_app(demo_db, monkeypatch, query=query)
    assert_clean(at)
    assert at.sidebar.selectbox(key="f_version").value == "v2.0"
    assert at.sidebar.selectbox(key="f_segment").value == "gender=F"
    flt = Filter(start=dt.date(2026, 6, 1), end=dt.date(2026, 8, 31), system=SYSTEM, model_version="v2.0",
                 segment=("gender", "F"))
    with Source.open(demo_db) as src:
        assert tiles(at)["Cases"] == fmt.count(inventory.counts(src, flt)["cases"])
    assert {k: at.query_params[k] for k in query} == query


def test_bad_url_values_fall_back_with_a_note(demo_db, monkeypatch):
    at = open_app(demo_db, monkeypatch, query={"system": "nope", "from": "yesterday", "segment": "x=y"})
    assert_clean(at)
    assert at.query_params["system"] == SYSTEM
    notes = texts(at.sidebar.warning)
    assert "nope" in notes and "not a valid date range" in notes and "x=y" in notes


def test_oversight_page_numbers(demo_db, monkeypatch, period):
    at = open_app(demo_db, monkeypatch, page="oversight.py", query=whole_log(period))
    flt = Filter(start=period[0], end=period[1], system=SYSTEM)
    with Source.open(demo_db) as src:
        o = oversight.oversight_summary(src, flt)
        cov = oversight.high_risk_coverage(src, flt, score_band=(0.35, 0.65))
        bias = oversight.automation_bias(src, flt)
    shown = tiles(at)
    assert shown["Review rate"] == fmt.pct(o["review_rate"])
    assert shown["Risk coverage"] == fmt.pct(cov["coverage"])
    assert shown["Escalation rate"] == fmt.pct(o["escalation_rate"])
    assert shown["Median review"] == fmt.seconds(o["review_seconds_median"])
    assert bias["flagged"] == ["rev-07"]
    # the rubber-stamper is called out with the finding's own status (one flagged = WARN by default)
    called_out = texts(at.error) + texts(at.warning)
    assert "rev-07" in called_out and "WARN · 1 reviewer(s) flagged" in texts(at.warning), called_out


def test_reviewers_page_numbers(demo_db, monkeypatch, period):
    at = open_app(demo_db, monkeypatch, page="reviewers.py", query=whole_log(period))
    assert_clean(at)
    flt = Filter(start=period[0], end=period[1], system=SYSTEM)
    with Source.open(demo_db) as src:
        a = agreement.agreement_summary(src, flt)
    shown = tiles(at)
    assert shown["Multi-reviewed cases"] == fmt.count(a["cases_with_multiple_reviews"])
    assert shown["Krippendorff's α (nominal)"] == fmt.ratio(a["krippendorff_alpha_nominal"])
    assert shown["Fleiss' κ"] == fmt.ratio(a["fleiss_kappa"])
    assert shown["Percent agreement"] == fmt.pct(a["percent_agreement"])
    # over the whole log of the 20k demo (seed 0) 9 of the 50 team pairs share >= 20 cases (the
    # manifest's planted.agreement at that size; the 8% multi-review share, data/README.md)
    planted = json.loads((demo_db.parent / "manifest.json").read_text())["planted"]["agreement"]
    assert planted["pairs_with_min_shared"] == 9
    assert "9 pairs share at least 20 cases" in texts(at.caption)
    at.segmented_control(key="kappa_min").set_value(5).run()
    assert_clean(at)
    assert "pairs share at least 5 cases" in texts(at.caption)


def test_reviewers_page_says_when_no_pair_has_enough_shared_cases(demo_db, monkeypatch):
    """The default quarter (Jul-Sep 2026) of the 20k demo: no pair reaches 20 shared cases (the
    manifest's planted.agreement.default_quarter: 0; at the documented 200k, 49 of 50 do) -- said plainly."""
    planted = json.loads((demo_db.parent / "manifest.json").read_text())["planted"]["agreement"]
    assert planted["default_quarter"]["pairs_with_min_shared"] == 0
    at = open_app(demo_db, monkeypatch, page="reviewers.py", query={"system": SYSTEM})
    assert_clean(at)
    assert "No pair of reviewers shares at least 20 cases" in texts(at.info)


def test_fairness_page_numbers_and_attribute_switch(demo_db, monkeypatch, period):
    at = open_app(demo_db, monkeypatch, page="fairness.py", query=whole_log(period))
    assert_clean(at)
    flt = Filter(start=period[0], end=period[1], system=SYSTEM)
    with Source.open(demo_db) as src:
        age = fairness.fairness_by_attribute(src, flt, attributes=("age_band",))
        gender = fairness.fairness_by_attribute(src, flt, attributes=("gender",))
    assert tiles(at)["Demographic parity difference"] == fmt.ratio(age["final_decision"]["demographic_parity_difference"])
    assert deltas(at)["Demographic parity difference"] == fmt.pp(age["review_effect"]["dpd_change"])
    assert tiles(at)["Did review reduce disparity?"] == "Yes"  # planted: reviewers narrow the age gap
    assert "Four-fifths rule fails" in texts(at.error) and "18-24" in texts(at.error)
    # ... and yet the final decisions still fail the policy: said beside the verdict
    assert "After review, the final decisions for age\\_band still **fail** the policy" in texts(at.error)
    at.segmented_control(key="fair_attr").set_value("gender").run()
    assert_clean(at)
    assert tiles(at)["Demographic parity difference"] == fmt.ratio(gender["final_decision"]["demographic_parity_difference"])


def test_fairness_page_names_the_favourable_outcome_on_compas(demo_db, monkeypatch):
    """COMPAS: positive `high`, favourable `low`: the four-fifths tile and message use the share
    scored low risk, and say so."""
    at = open_app(demo_db, monkeypatch, page="fairness.py",
                  query=whole_log(whole_period(demo_db, "compas-recidivism"), "compas-recidivism"))
    assert_clean(at)
    with Source.open(demo_db) as src:  # the first sensitive attribute, over the system's whole period
        age = fairness.fairness_by_attribute(src, Filter(system="compas-recidivism"), attributes=("age_cat",))
    # hand count (score_text == Low): >45 1182/1576, 25-45 2185/4109, <25 530/1529; cutoff 0.8 x 0.75
    assert age["final_decision"]["four_fifths_rule"]["disadvantaged_groups"] == ["25 - 45", "Less than 25"]
    assert tiles(at)["Favourable-rate ratio"] == fmt.ratio(age["final_decision"]["favourable_rate_ratio"])
    assert "Favourable-rate ratio" in tiles(at) and "Selection-rate ratio" not in tiles(at)
    assert "favourable outcome: 'low'" in texts(at.caption)
    assert "decided 'low' (the favourable outcome)" in texts(at.error)
    # race: Native American (18 cases) is named as insufficient evidence; intervals in the table
    at.segmented_control(key="fair_attr").set_value("race").run()
    assert_clean(at)
    assert "Insufficient evidence for Native American: fewer than 30 cases" in texts(at.warning)
    table = at.dataframe[0].value.set_index("Group")
    assert table.loc["Native American", "Evidence"] == "insufficient" and table.loc["Caucasian", "Evidence"] == ""
    with Source.open(demo_db) as src:
        race = fairness.fairness_by_attribute(src, Filter(system="compas-recidivism"), attributes=("race",))
    assert table.loc["Caucasian", "FPR 95% CI (final)"] == fmt.interval(
        race["final_decision"]["by_group"]["Caucasian"]["ci"]["false_positive_rate"])


def test_fairness_attribute_is_in_the_url(demo_db, monkeypatch):
    at = open_app(demo_db, monkeypatch, page="fairness.py")
    assert_clean(at)
    assert at.query_params["attr"] == "age_band"  # the default, written so the link can be shared
    at.segmented_control(key="fair_attr").set_value("gender").run()
    assert at.query_params["attr"] == "gender"
    # a link with the attribute opens it; one with an unknown attribute says so and shows the first

    def follow(link: dict) -> AppTest:  # a fresh session opening /fairness?<link>
        fresh = AppTest.from_file(str(APP), default_timeout=90)
        fresh.query_params = dict(link)
        fresh.switch_page("views/fairness.py")
        return fresh.run()

    shared = follow({"system": SYSTEM, "attr": "gender"})
    assert_clean(shared)
    assert shared.segmented_control(key="fair_attr").value == "gender"
    odd = follow({"system": SYSTEM, "attr": "<b>x</b>"})
    assert_clean(odd)
    from hitlgov.dashboard.literal import md

    assert f"The attribute in the link, {md('<b>x</b>')}, is not a sensitive attribute" in texts(odd.warning)
    assert odd.segmented_control(key="fair_attr").value == "age_band"


def test_drift_page_numbers(demo_db, monkeypatch, period):
    at = open_app(demo_db, monkeypatch, page="drift.py", query=whole_log(period))
    assert_clean(at)
    reference, current = drift.default_windows(period, reference_months=3, current_months=1)
    with Source.open(demo_db) as src:
        d = drift.drift_summary(src, Filter(start=period[0], end=period[1], system=SYSTEM), reference=reference,
                                current=current, max_rows=summary.drift_sample_rows(load_policy()))
    assert tiles(at)["Drifted columns"] == f"{d['drifted_columns']} of {d['total_columns']}"
    assert tiles(at)["Share drifted"] == fmt.pct(d["drift_share"])
    table = at.dataframe[0].value
    assert set(table["Column"]) == {c["column"] for c in d["columns"]}
    assert len(at.get("plotly_chart")) >= 3  # overlays and the trends


def test_audit_trail_search_and_case_history(demo_db, monkeypatch, period):
    at = open_app(demo_db, monkeypatch, page="audit_trail.py", query=whole_log(period))
    assert_clean(at)
    assert "Audit chain intact" in texts(at.success)
    flt = Filter(start=period[0], end=period[1], system=SYSTEM)
    with Source.open(demo_db) as src:
        total = audit_trail.search_cases(src, flt)["total"]
        rev07 = audit_trail.search_cases(src, flt, reviewer="rev-07", page_size=50)
    assert f"**{fmt.count(total)}** matching cases" in texts(at.markdown)
    at.selectbox(key="audit_reviewer").set_value("rev-07").run()
    assert_clean(at)
    assert f"**{fmt.count(rev07['total'])}** matching cases" in texts(at.markdown)
    assert list(at.dataframe[0].value["case_id"]) == [r["case_id"] for r in rev07["rows"]]
    case = rev07["rows"][0]["case_id"]
    assert at.query_params["case"] == case
    assert "rev-07" in set(at.dataframe[2].value["reviewer_id"])  # the case's reviews
    at.pagination(key="audit_page").set_value(2).run()
    assert_clean(at)
    assert "page 2 of" in texts(at.markdown)


def test_data_page_numbers(demo_db, monkeypatch):
    at = open_app(demo_db, monkeypatch, page="data_page.py")
    assert_clean(at)
    with Source.open(demo_db) as src:
        c = inventory.counts(src, Filter())
        q = inventory.quarantine_summary(src)
        runs = inventory.ingestion_runs(src, limit=50)
    assert tiles(at)["Cases"] == fmt.count(c["cases"])
    assert tiles(at)["Quarantined rows"] == fmt.count(q["quarantined_rows"])
    assert list(at.dataframe[1].value["run_id"]) == [r["run_id"] for r in runs]


def test_data_page_upload_ingests_and_shows_counts(tmp_path, monkeypatch):
    from hitlgov import store as hstore

    db = tmp_path / "upload.duckdb"
    with hstore.connect(db):
        pass
    log = ("case_id,ts,model_decision,model_score,reviewer_id,human_decision,rationale,region\n"
           "u1,2026-01-05T09:00:00,approve,0.9,,,,north\n"
           "u2,2026-01-06T09:00:00,decline,0.3,r1,approve,=HYPERLINK(\"x\"),south\n"
           "u3,not-a-date,approve,0.7,,,,north\n"
           "u1,2026-01-05T09:00:00,approve,0.9,,,,north\n")
    at = open_app(db, monkeypatch, page="data_page.py")
    assert "store is empty" in texts(at.info)
    at.file_uploader(key="up_log").set_value(("decisions.csv", log.encode(), "text/csv"))
    at.text_input(key="up_system").input("upload-test")
    at.text_input(key="up_sensitive").input("region")
    at.text_input(key="up_positive").input("approve")
    next(b for b in at.form_submit_button if b.label == "Ingest").click()
    at.run()
    assert helpers.finished_upload(db)["state"] == "done"  # ingested in a worker process (issue 14)
    at.run()
    assert_clean(at)
    assert "Ingested **decisions.csv** (upload of " in texts(at.success) and "): 4 rows read" in texts(at.success)  # the name is escaped Markdown (see test_upload_hostile)
    assert {k: tiles(at)[k] for k in ("Stored", "Duplicates", "Quarantined")} == \
        {"Stored": "2", "Duplicates": "1", "Quarantined": "1"}
    # the cache was cleared: the sidebar and the page see the new system
    assert at.sidebar.selectbox(key="f_system").value == "upload-test"
    assert tiles(at)["Cases"] == "2"
    assert list((db.parent / "uploads").glob("*-decisions.csv"))
    with duckdb.connect(str(db), read_only=True) as con:  # the form's overrides reached the worker
        assert con.execute("SELECT DISTINCT system FROM cases").fetchall() == [("upload-test",)]
        assert con.execute("SELECT system, name, role FROM attribute_roles").fetchall() == [("upload-test", "region", "sensitive")]
        assert con.execute("SELECT positive_label FROM systems").fetchall() == [("approve",)]


def test_reports_page_generates_a_real_pdf_that_verifies(demo_db, tmp_path, monkeypatch):
    """The page runs the real generator (on a copy: it appends report_generated to the chain)
    and offers a PDF that `hitlgov report --verify` accepts against that store."""
    from hitlgov.reports.verify import verify_report

    db = tmp_path / "store.duckdb"
    shutil.copy(demo_db, db)
    # a store travels with its signed checkpoints; without them the report is refused (test_signed_reports)
    shutil.copytree(str(demo_db) + ".checkpoints", str(db) + ".checkpoints")
    at = open_app(db, monkeypatch, page="reports.py",
                  query={"system": SYSTEM, "from": "2026-09-01", "to": "2026-09-30"})
    at.radio(key="report_kind").set_value("executive")
    at.button(key="report_generate").click().run(timeout=240)
    assert_clean(at)
    ready = texts(at.success)
    assert "Report ready" in ready and "(2 pages" in ready, (ready, texts(at.error), texts(at.warning), texts(at.info))
    assert at.get("download_button")
    pdf, name, *_ = at.session_state["report_pdf"]
    assert pdf[:5] == b"%PDF-" and name.startswith(f"hitlgov-executive-{SYSTEM}-")
    with duckdb.connect(str(db), read_only=True) as con:  # the generation is in the audit trail, by file name
        assert name in [s for (s,) in con.execute(
            "SELECT subject FROM audit_events WHERE kind = 'report_generated'").fetchall()]
    out = tmp_path / name
    out.write_bytes(pdf)
    result = verify_report(out, db=db)
    assert result.ok, result.problems
    described = result.parameters["filter"]
    assert described["system"] == SYSTEM and str(described["from"]).startswith("2026-09-01"), described


# -- the data-access modules ---------------------------------------------------------------------

LOG = """case_id,ts,model_version,model_decision,model_score,reviewer_id,human_decision,review_started_at,review_completed_at,review_seconds,escalated,outcome,rationale,group,income
c1,2026-01-05T09:00:00,v1,approve,0.9,,,,,,,approve,,a,100
c2,2026-01-10T09:00:00,v1,decline,0.3,r1,approve,2026-01-10T10:00:00,2026-01-10T10:02:00,,false,approve,=cmd|' /C calc'!A0,a,200
c3,2026-01-20T09:00:00,v1,decline,0.4,r1,decline,,,60,true,decline,income too low,b,300
c4,2026-02-03T09:00:00,v2,approve,0.6,r2,decline,,,30,,approve,doubt,b,400
c5,2026-02-10T09:00:00,v2,decline,0.2,r2,decline,2026-02-10T11:00:00,2026-02-10T11:00:10,,,,,a,500
c5,2026-02-10T09:00:00,v2,decline,0.2,r1,decline,2026-02-10T10:00:00,2026-02-10T10:00:50,,,,,a,500
c6,2026-02-15T09:00:00,v2,approve,0.8,,,,,,,,,b,600
"""


@pytest.fixture
def small(make_store):
    from hitlgov.mapping import Mapping

    db = make_store(LOG, mapping=Mapping(sensitive=["group"], features=["income"], positive_label="approve"))
    with Source.open(db) as src:
        yield src


def test_search_cases_text_reviewer_override_and_pages(small):
    everything = audit_trail.search_cases(small)
    assert everything["total"] == 6 and [r["case_id"] for r in everything["rows"]] == ["c6", "c5", "c4", "c3",
                                                                                       "c2", "c1"]
    assert audit_trail.search_cases(small, text="INCOME")["total"] == 1  # rationale, case-insensitive
    assert [r["case_id"] for r in audit_trail.search_cases(small, text="c4")["rows"]] == ["c4"]
    assert {r["case_id"] for r in audit_trail.search_cases(small, reviewer="r1")["rows"]} == {"c2", "c3", "c5"}
    assert {r["case_id"] for r in audit_trail.search_cases(small, overridden=True)["rows"]} == {"c2", "c4"}
    assert {r["case_id"] for r in audit_trail.search_cases(small, overridden=False)["rows"]} == {"c3", "c5"}
    page = audit_trail.search_cases(small, page=9, page_size=4)  # clamped to the last page
    assert (page["page"], page["pages"], [r["case_id"] for r in page["rows"]]) == (2, 2, ["c2", "c1"])
    c5 = next(r for r in everything["rows"] if r["case_id"] == "c5")
    assert c5["reviewers"] == "r1, r2"  # in order of completion
    assert audit_trail.search_cases(small, Filter(model_version="v9"))["rows"] == []


def test_case_history_orders_reviews_and_finds_events(small):
    h = audit_trail.case_history(small, "default", "c5")
    assert h["found"] and h["case"]["n_reviews"] == 2
    assert [r["reviewer_id"] for r in h["reviews"]] == ["r1", "r2"]
    assert {a["name"] for a in h["attributes"]} == {"group", "income"}
    kinds = [e["kind"] for e in h["events"]]
    assert "ingestion" in kinds and "review_stored" not in kinds  # rows are committed per run, not per review
    assert [e["seq"] for e in h["events"]] == sorted(e["seq"] for e in h["events"])
    assert audit_trail.case_history(small, "default", "nope")["found"] is False


def test_export_is_one_row_per_review_and_csv_safe(small):
    df = audit_trail.export_rows(small)
    assert len(df) == 7 and list(df["case_id"]).count("c5") == 2
    text = csv_safe.to_csv(df).decode("utf-8-sig")
    assert "'=cmd|" in text and "\n=cmd" not in text and ",=cmd" not in text
    assert audit_trail.chain_status(small)["ok"] is True
    assert audit_trail.store_verification(small)["ok"] is True
    # one ingestion event: the run commits to its rows with Merkle roots (no event per review)
    assert audit_trail.audit_events(small, limit=2)["total"] == 1


@pytest.mark.parametrize("cell, safe", [
    ("=1+1", "'=1+1"), ("+1", "'+1"), ("-1", "'-1"), ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"), ("\rx", "'\rx"),
    ("plain", "plain"), ("a=b", "a=b"), ("", ""), (None, None), (-5, -5), (3.5, 3.5)])
def test_csv_injection_guard(cell, safe):
    assert csv_safe.neutralise_cell(cell) == safe


def test_neutralise_keeps_numbers_numeric():
    df = pd.DataFrame({"n": [-1.5, 2.0], "s": ["-1.5", "ok"], "=x": [1, 2]})
    out = csv_safe.neutralise(df)
    assert list(out["n"]) == [-1.5, 2.0] and list(out["s"]) == ["'-1.5", "ok"] and "'=x" in out.columns


def test_catalog_trend_distribution_kpis(small):
    cat = inventory.system_catalog(small)
    assert cat == [{"system": "default", "cases": 6, "reviewed_cases": 4, "reviews": 5,
                    "first": "2026-01-05T09:00:00", "last": "2026-02-15T09:00:00"}]
    ctx = inventory.system_context(small, system="default")
    assert ctx["versions"] == ["v1", "v2"] and ctx["segments"] == {"group": ["a", "b"]}
    assert ctx["features"] == ["income"] and ctx["positive_label"] == "approve"
    trend = drift.score_trend(small)
    assert [t["period"] for t in trend] == ["2026-01-01", "2026-02-01"]
    assert trend[0]["score_mean"] == pytest.approx((0.9 + 0.3 + 0.4) / 3)
    assert trend[0]["positive_rate"] == pytest.approx(1 / 3)
    jan, feb = (dt.date(2026, 1, 1), dt.date(2026, 1, 31)), (dt.date(2026, 2, 1), dt.date(2026, 2, 28))
    num = drift.distribution(small, Filter(), "income", reference=jan, current=feb, bins=4)
    assert num["kind"] == "numeric" and (num["reference"]["cases"], num["current"]["cases"]) == (3, 3)
    assert sum(b["reference"] for b in num["bins"]) == 3 and sum(b["current"] for b in num["bins"]) == 3
    cat_ = drift.distribution(small, Filter(), "group", reference=jan, current=feb)
    assert cat_["kind"] == "categorical"
    assert {b["label"]: (b["reference"], b["current"]) for b in cat_["bins"]} == {"a": (2, 1), "b": (1, 2)}
    none = drift.distribution(small, Filter(), "income", reference=(dt.date(2020, 1, 1),) * 2,
                                          current=(dt.date(2020, 1, 2),) * 2)
    assert none["kind"] is None and none["bins"] == []
    hist = oversight.latency_histogram(small, bins=4)
    assert sum(b["reviews"] for b in hist) == 5
    k = summary.kpis(small, Filter(start=dt.date(2026, 2, 1), end=dt.date(2026, 2, 28)))
    assert k["current"]["cases"] == 3 and k["previous"]["cases"] == 3
    assert k["previous_period"] == {"from": "2026-01-01", "to": "2026-01-31", "label": None}
    assert k["previous_log_from"] == "2026-01-05"  # the log starts inside January: only partly covered
    assert k["delta"]["override_rate"] == pytest.approx(k["current"]["override_rate"] - k["previous"]["override_rate"])
    assert summary.kpis(small, Filter())["previous"] is None


def test_chart_builders_use_fixed_colours():
    colours = charts.color_map(["b", "a", "c"])
    assert colours == charts.color_map(["c", "b", "a"])  # by sorted value, not by order seen
    pairs = [{"a": "r1", "b": "r2", "shared_cases": 30, "kappa": 0.7}, {"a": "r3", "b": "r1", "shared_cases": 22,
                                                                          "kappa": 0.456}]
    fig = charts.kappa_heatmap(pairs, ["r1", "r2", "r3"])
    z = fig.data[0].z
    # one cell per pair, in the lower triangle, the value written in it
    assert z[1][0] == 0.7 and z[0][1] is None and z[2][0] == 0.456 and z[0][2] is None and z[2][1] is None
    assert sum(v is not None for row in z for v in row) == len(pairs)
    assert fig.data[0].text[1][0] == "0.70" and fig.data[0].text[2][0] == "0.46" and fig.data[0].texttemplate
    assert fig.data[0].customdata[2][0] == 22
    assert fig.layout.xaxis.title.text == "Reviewer"


def test_launch_command_is_headless_and_private(tmp_path):
    from hitlgov.dashboard import launch

    cmd = launch.command(tmp_path / "x.duckdb", 8765, True)
    joined = " ".join(cmd)
    assert "streamlit run" in joined and str(launch.APP) in cmd
    assert "--server.headless true" in joined and "--browser.gatherUsageStats false" in joined
    assert "--server.port 8765" in joined and cmd[-2:] == ["--db", str(tmp_path / "x.duckdb")]


def test_export_is_recorded_in_the_audit_chain_and_can_be_pseudonymised(make_store, monkeypatch):
    from hitlgov.dashboard import exports
    from hitlgov import audit, store
    from hitlgov.mapping import Mapping

    db = make_store(LOG, mapping=Mapping(sensitive=["group"], features=["income"], positive_label="approve"))
    monkeypatch.setenv("HITLGOV_DB", str(db))
    monkeypatch.setenv("HITLGOV_PSEUDONYM_KEY", "test-secret")
    with Source.open(db) as src:
        df = audit_trail.export_rows(src)
    text = exports.csv_download(df, what="audit trail cases", file_name="x.csv", actor="local:tester",
                                pseudonymise=True).decode("utf-8-sig")
    # Independent oracle: HMAC-SHA256 of "r1" under the key, first 12 hex digits.
    import hashlib
    import hmac
    r1 = "R-" + hmac.new(b"test-secret", b"r1", hashlib.sha256).hexdigest()[:12]
    assert r1 in text and ",r1," not in text and ",r2," not in text
    with store.connect(db, read_only=True) as con:
        (kind, subject, detail, actor), = con.execute(
            "SELECT kind, subject, CAST(detail AS VARCHAR), actor FROM audit_events ORDER BY seq DESC LIMIT 1").fetchall()
        assert audit.verify_chain(con)["ok"]
    assert (kind, subject, actor) == ("export_downloaded", "audit trail cases", "local:tester")
    assert '"pseudonymised":true' in detail and f'"rows":{len(df)}' in detail
    monkeypatch.delenv("HITLGOV_PSEUDONYM_KEY")
    with pytest.raises(Exception, match="HITLGOV_PSEUDONYM_KEY"):
        exports.csv_download(df, what="x", file_name="x.csv", actor="local:tester", pseudonymise=True)


def test_a_log_without_a_whole_quarter_shows_the_whole_log_and_says_so(make_store, monkeypatch):
    """LOG spans 2026-01-05 .. 2026-02-15: no calendar quarter is covered, so every page shows the
    whole log with a caption saying why (and no "last full quarter" in the sidebar)."""
    from hitlgov.mapping import Mapping

    db = make_store(LOG, mapping=Mapping(positive_label="approve"))
    at = open_app(db, monkeypatch)
    assert_clean(at)
    assert tuple(at.sidebar.date_input(key="f_period").value) == (dt.date(2026, 1, 5), dt.date(2026, 2, 15))
    assert "from" not in at.query_params
    shown = re.sub(r"\\(.)", r"\1", texts(at.caption))
    assert ("The log (2026-01-05 to 2026-02-15) does not cover a whole calendar quarter, so the period is the "
            "whole log instead of the last full quarter.") in shown
    assert "last full quarter (default)" not in texts(at.sidebar.caption)
    assert tiles(at)["Cases"] == "6"
    assert not [b for b in at.sidebar.button if b.label.startswith("Whole log")]  # it already is
