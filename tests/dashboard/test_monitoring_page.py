"""The Monitoring page and the Overview's overdue notice, on a store with monitor runs,
remediation items and an incident (AppTest)."""
from __future__ import annotations

import getpass

import datetime as dt

import pytest
from streamlit.testing.v1 import AppTest

import dashboard_helpers as helpers
from hitlgov.metrics.policy import load_policy
from hitlgov.oversight import incidents, remediation
from hitlgov.oversight import monitor as mon

pytestmark = pytest.mark.xdist_group("dashboard")

LOG = "case_id,ts,system,model_decision,model_score,reviewer_id,human_decision,review_seconds\n" + "\n".join(
    f"c{i},2026-11-{1 + i % 28:02d}T10:00:00,s1,approve,0.8,r{i % 3},{'deny' if i % 2 else 'approve'},60"
    for i in range(400)) + "\n"


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    from conftest import build_store

    folder = tmp_path_factory.mktemp("monitoring-page")
    path = build_store(folder, LOG)
    policy = folder / "p.yaml"
    policy.write_text("name: t\nrules:\n  - metric: oversight.override_rate\n    title: override\n    fail_above: 0.35\n")
    mon.run_monitor(path, policy=load_policy(policy))
    mon.run_monitor(path, policy=load_policy(policy))
    remediation.assign(path, system="s1", metric="oversight.override_rate", owner="**bold** <b>x</b>",
                       due=dt.date(2026, 1, 1), actor="t")
    incidents.record(path, category="death", aware="2026-11-30T10:00", zone_name="Europe/Berlin",
                     title="<script>alert(1)</script>", system="s1")
    return path


def _open(db, monkeypatch, page):
    monkeypatch.setenv("HITLGOV_DB", str(db))
    at = AppTest.from_file(str(helpers.APP_FILE), default_timeout=90)
    at.run()
    at.switch_page(f"views/{page}").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_history_remediation_and_incidents_are_shown(db, monkeypatch):
    at = _open(db, monkeypatch, "monitoring.py")
    tiles = {m.label: m.value for m in at.metric}
    assert tiles["Findings failing now"] == "1" and tiles["Monitor runs"] == "2"
    current = at.dataframe[0].value
    assert current.loc[0, "finding"] == "oversight.override_rate" and current.loc[0, "status"] == "FAIL"
    assert current.loc[0, "runs"] == 2
    rem = next(d.value for d in at.dataframe if "owner" in d.value.columns)
    assert rem.loc[0, "owner"] == "**bold** <b>x</b>" and bool(rem.loc[0, "overdue"])  # data in cells, verbatim
    inc = next(d.value for d in at.dataframe if "deadline" in d.value.columns)
    assert inc.loc[0, "title"] == "<script>alert(1)</script>" and inc.loc[0, "article"] == "Art. 73(4)"
    assert "1 remediation item(s) overdue." in [w.value for w in at.warning]
    assert "<b>" not in "".join(m.value for m in at.markdown)  # no data rendered as markup


def test_overview_names_overdue_items(db, monkeypatch):
    at = _open(db, monkeypatch, "overview.py")
    assert any("1 remediation item overdue; 1 serious incident not yet reported." == w.value for w in at.warning)


def test_sign_off_button_records_an_attestation(db, monkeypatch):
    from hitlgov import store

    monkeypatch.setenv("HITLGOV_DB", str(db))
    at = AppTest.from_file(str(helpers.APP_FILE), default_timeout=180)
    at.query_params = {"system": "s1", "from": "2026-11-01", "to": "2026-11-28"}
    at.run()
    at.switch_page("views/reports.py").run()
    at.radio(key="report_kind").set_value("executive").run()
    at.button(key="report_generate").click().run()
    assert not at.exception, [e.value for e in at.exception]
    at.text_input(key="signoff_name").set_value("")
    at.button(key="signoff_submit").click().run()  # the form's submit: an empty name is refused
    assert any("--name" in e.value for e in at.error)
    at.text_input(key="signoff_name").set_value("Jo **Doe**")
    at.button(key="signoff_submit").click().run()
    assert any("Signed off at" in s.value for s in at.success)
    with store.connect(db, read_only=True) as con:
        assert con.execute("SELECT name, role, actor FROM attestations").fetchall() == [
            ("Jo **Doe**", "Compliance officer", f"single-user:{getpass.getuser()}")]  # the signed-in user
