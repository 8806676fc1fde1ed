"""Remediation and incident actions in the dashboard: done by a signed-in user with the role,
checked on the server, each an audit event naming that user (issue 18).

The role-denied tests sign in as an auditor (who may read the Monitoring page), fill the form and
submit it although its button is disabled -- what a crafted request does -- and assert the server
answers "Not permitted" and writes nothing: no row, no event.
"""
from __future__ import annotations

import datetime as dt
import shutil

import duckdb
import pytest
from streamlit.testing.v1 import AppTest

import dashboard_helpers as helpers
from hitlgov import accounts
from hitlgov.metrics.policy import load_policy
from hitlgov.oversight import incidents, remediation
from hitlgov.oversight import monitor as mon

pytestmark = pytest.mark.xdist_group("dashboard")
PASSWORD = "correct horse battery staple"
SYSTEM = "s1"


def _log(n: int = 60, overridden: int = 30) -> str:
    rows = [f"c{i},2026-11-{1 + i // 24:02d}T{i % 24:02d}:00:00,{SYSTEM},approve,r{i % 3},"
            f"{'deny' if i < overridden else 'approve'},60" for i in range(n)]
    return "case_id,ts,system,model_decision,reviewer_id,human_decision,review_seconds\n" + "\n".join(rows) + "\n"


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    from conftest import build_store

    folder = tmp_path_factory.mktemp("actions")
    db = build_store(folder, _log())
    policy = folder / "policy.yaml"
    policy.write_text("name: t\nrules:\n  - metric: oversight.override_rate\n    title: override rate\n"
                      "    fail_above: 0.2\n")
    mon.run_monitor(db, policy=load_policy(policy), actor="cron")
    for role in ("compliance", "auditor"):
        accounts.add_user(db, f"u-{role}", role, PASSWORD)
    item = remediation.assign(db, system=SYSTEM, metric="oversight.override_rate", owner="frank",
                              due=dt.date(2026, 12, 20), actor="local:u-compliance")
    inc = incidents.record(db, category="other", aware="2026-11-20T09:00", zone_name="UTC", title="first",
                           system=SYSTEM, actor="local:u-compliance")
    return {"db": db, "item": item["item_id"], "incident": inc["incident_id"]}


@pytest.fixture
def db(base, tmp_path):
    copy = tmp_path / "store.duckdb"
    shutil.copy(base["db"], copy)
    shutil.copytree(str(base["db"]) + ".checkpoints", str(copy) + ".checkpoints")
    return copy


def monitoring(db, monkeypatch, user: str) -> AppTest:
    monkeypatch.setenv("HITLGOV_DB", str(db))
    monkeypatch.setenv("HITLGOV_AUTH", "local")
    monkeypatch.delenv("HITLGOV_AUTH_FILE", raising=False)
    at = AppTest.from_file(str(helpers.APP_FILE), default_timeout=90)
    at.query_params = {"system": SYSTEM}
    at.session_state["hitlgov_identity"] = user
    at.run()
    at.switch_page("views/monitoring.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert [t.value for t in at.title] == ["Monitoring"]
    return at


def state(db) -> tuple[list, list, list]:
    with duckdb.connect(str(db), read_only=True) as con:
        return (con.execute("SELECT item_id, owner, state, resolution FROM remediation ORDER BY created_at").fetchall(),
                con.execute("SELECT incident_id, title, reported_at IS NOT NULL FROM incidents ORDER BY recorded_at").fetchall(),
                # (signing in is an event of its own: left out, the tests compare what the actions wrote)
                con.execute("SELECT seq, kind, actor, subject FROM audit_events WHERE kind <> 'signed_in' "
                            "ORDER BY seq").fetchall())


def click(at: AppTest, key: str) -> AppTest:
    at.button(key=key).click().run()
    return at


def fill_assign(at):
    at.selectbox(key="rem_metric").set_value("oversight.override_rate")
    at.text_input(key="rem_owner").input("grace")
    at.text_area(key="rem_note").input("retrain the night shift")
    return at


def fill_incident(at):
    at.text_input(key="inc_aware").input("2026-11-25T10:00")
    at.text_input(key="inc_zone").input("Europe/Berlin")
    at.text_input(key="inc_title").input("denials without review")
    at.text_input(key="inc_cases").input("c1, c2")
    return at


def test_compliance_assigns_acknowledges_and_resolves(db, monkeypatch, base):
    at = click(fill_assign(monitoring(db, monkeypatch, "u-compliance")), "rem_assign_submit")
    assert not at.exception and not at.error, [e.value for e in at.error]
    items, _incs, events = state(db)
    new = [i for i in items if i[0] != base["item"]]
    assert [(i[1], i[2]) for i in new] == [("grace", "open")]
    assert events[-1][1:] == ("remediation_assigned", "local:u-compliance", new[0][0])
    assert any(new[0][0] in s.value for s in at.success)

    at.selectbox(key="rem_item").set_value(base["item"])
    at.radio(key="rem_step").set_value("Acknowledge")
    click(at, "rem_move_submit")
    at.selectbox(key="rem_item").set_value(base["item"])
    at.radio(key="rem_step").set_value("Resolve")
    at.text_area(key="rem_move_note").input("reviewers retrained on 2026-12-01")
    click(at, "rem_move_submit")
    assert not at.error, [e.value for e in at.error]
    items, _incs, events = state(db)
    assert [i for i in items if i[0] == base["item"]] == [(base["item"], "frank", "resolved",
                                                          "reviewers retrained on 2026-12-01")]
    assert [e[1:] for e in events[-2:]] == [("remediation_acknowledged", "local:u-compliance", base["item"]),
                                            ("remediation_resolved", "local:u-compliance", base["item"])]


def test_compliance_records_an_incident_and_marks_one_reported(db, monkeypatch, base):
    at = click(fill_incident(monitoring(db, monkeypatch, "u-compliance")), "inc_add_submit")
    assert not at.error, [e.value for e in at.error]
    _items, incs, events = state(db)
    [new] = [i for i in incs if i[0] != base["incident"]]
    assert new[1:] == ("denials without review", False)
    assert events[-1][1:] == ("incident_recorded", "local:u-compliance", new[0])
    # 2026-11-25 10:00 in Berlin, 15 days, not counting the day of awareness: midnight ending 10 December
    assert incidents.get(db, new[0])["deadline_at"] == "2026-12-11T00:00:00+01:00"
    at.selectbox(key="inc_which").set_value(base["incident"])
    click(at, "inc_reported_submit")
    _items, incs, events = state(db)
    assert (base["incident"], "first", True) in incs
    assert events[-1][1:] == ("incident_reported", "local:u-compliance", base["incident"])


def test_bad_input_in_a_form_is_one_line_and_writes_nothing(db, monkeypatch):
    before = state(db)
    at = monitoring(db, monkeypatch, "u-compliance")
    at.text_input(key="inc_aware").input("next tuesday")
    at.text_input(key="inc_title").input("x")
    click(at, "inc_add_submit")
    assert not at.exception
    assert any("expected an ISO 8601 time" in e.value.replace("\\", "") for e in at.error)
    assert state(db) == before


@pytest.mark.parametrize("action", ["assign", "acknowledge", "resolve", "incident", "reported"])
def test_the_page_offers_no_action_to_a_role_without_it(db, monkeypatch, base, action):
    """An auditor reads the page; each submit button is disabled, and a crafted submission of
    it (the button enabled on the client) writes nothing."""
    before = state(db)
    at = monitoring(db, monkeypatch, "u-auditor")
    key = {"assign": "rem_assign_submit", "acknowledge": "rem_move_submit", "resolve": "rem_move_submit",
           "incident": "inc_add_submit", "reported": "inc_reported_submit"}[action]
    assert at.button(key=key).disabled
    assert any("Only the compliance role" in c.value for c in at.caption)
    if action == "assign":
        fill_assign(at)
    elif action in ("acknowledge", "resolve"):
        at.selectbox(key="rem_item").set_value(base["item"])
        at.radio(key="rem_step").set_value(action.capitalize())
        at.text_area(key="rem_move_note").input("done")
    elif action == "incident":
        fill_incident(at)
    else:
        at.selectbox(key="inc_which").set_value(base["incident"])
    button = at.button(key=key)
    button.proto.disabled = False  # a crafted request: the browser would not send it, a client can
    button.click().run()
    assert not at.success and state(db) == before  # no row, no event


@pytest.mark.parametrize("action", ["assign", "acknowledge", "resolve", "incident", "reported"])
def test_each_action_is_refused_on_the_server_for_a_role_without_it(db, base, action):
    """The check behind every form (``access.perform``), called with the real write function by a
    signed-in auditor and by an executive: "Not permitted", the function is never called."""
    for role in ("auditor", "executive"):
        before = state(db)

        def script(db, action, item, incident, role):
            import datetime as dt

            import streamlit as st
            from hitlgov.dashboard import access
            from hitlgov.oversight import incidents, remediation

            st.session_state["_hitlgov_current"] = access.Identity(
                name=f"u-{role}", actor=f"local:u-{role}", roles=frozenset({role}), method="local")
            calls = {
                "assign": ("remediate", remediation.assign, (db,), dict(system="s1", metric="oversight.override_rate",
                                                                        owner="x", due=dt.date(2026, 12, 30))),
                "acknowledge": ("remediate", remediation.acknowledge, (db, item), {}),
                "resolve": ("remediate", remediation.resolve, (db, item), dict(note="done")),
                "incident": ("incident", incidents.record, (db,), dict(category="other", aware="2026-11-25T10:00",
                                                                       zone_name="UTC", title="t")),
                "reported": ("incident", incidents.mark_reported, (db, incident), {}),
            }
            name, fn, args, kwargs = calls[action]
            access.perform(name, fn, *args, **kwargs)
            st.write("written")  # never reached

        at = AppTest.from_function(script, kwargs=dict(db=str(db), action=action, item=base["item"],
                                                       incident=base["incident"], role=role)).run()
        assert at.error and "Not permitted" in at.error[0].value, (role, [e.value for e in at.error])
        assert not [m.value for m in at.markdown if "written" in m.value]
        assert state(db) == before, (role, action)
