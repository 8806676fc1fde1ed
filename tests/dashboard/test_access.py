"""Who may see and do what in the dashboard, checked on the server with a signed-in user.

Each role opens every page by its script (what a typed URL does: forbidden pages are registered
hidden, so the app itself must refuse them), and the page's title and content must appear exactly
for the permitted ones. Actions are checked the same way: the upload form, report generation and
exports exist only for the roles that may use them, and the audit events name the signed-in user.
The store holds hostile text (a Markdown image in a rationale, an id and a system name) that must
never reach the browser as markup.
"""
from __future__ import annotations

import json
import random

import duckdb
import pytest
from streamlit.testing.v1 import AppTest

import dashboard_helpers as helpers
from hitlgov import accounts
from hitlgov.mapping import Mapping

pytestmark = pytest.mark.xdist_group("dashboard")

PASSWORD = "correct horse battery staple"
IMAGE = "![x](http://127.0.0.1:9/x)"
SYSTEM = "credit![s](http://127.0.0.1:9/s)"   # names come from the log too
ROLE_PAGES = {  # role -> the pages it may open (the table of docs/security.md, written out by hand)
    "executive": {"overview.py"},
    "compliance": {"overview.py", "oversight.py", "reviewers.py", "reliance.py", "fairness.py", "drift.py",
                   "monitoring.py", "reports.py"},
    "auditor": {"overview.py", "oversight.py", "reviewers.py", "reliance.py", "fairness.py", "drift.py", "monitoring.py",
                "audit_trail.py", "data_page.py", "reports.py"},
    "data_steward": {"data_page.py"},
    "admin": {"users.py"},
}
REVIEWERS = ["rev-anna", "rev-bob", "rev-carl"]


def hostile_log() -> str:
    rnd = random.Random(7)
    rows = ["case_id,ts,system,model_decision,model_score,reviewer_id,human_decision,review_seconds,rationale,"
            "outcome,gender"]
    for i in range(120):
        decision = rnd.choice(["approve", "deny"])
        reviewed = i % 2 == 0
        reviewer = REVIEWERS[i % 3] if reviewed else ""
        human = (decision if rnd.random() < 0.8 else ("deny" if decision == "approve" else "approve")) if reviewed else ""
        rationale = f'"{IMAGE} see <img src=http://127.0.0.1:9/y>"' if i % 10 == 0 and reviewed else ""
        case = f"case-{i}" if i != 4 else "[c](http://127.0.0.1:9/case)"
        rows.append(f"{case},2026-0{1 + i % 6}-{1 + i % 27:02d}T10:00:00,{SYSTEM},{decision},{rnd.random():.3f},"
                    f"{reviewer},{human},{'12' if reviewed else ''},{rationale},{rnd.choice(['approve', 'deny'])},"
                    f"{rnd.choice(['F', 'M'])}")
    return "\n".join(rows) + "\n"


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    from conftest import build_store

    base = tmp_path_factory.mktemp("access")
    path = build_store(base, hostile_log(), mapping=Mapping(sensitive=["gender"], positive_label="approve"))
    for role in accounts.ROLES:
        accounts.add_user(path, f"u-{role}", role, PASSWORD)
    accounts.add_user(path, "u-gone", "auditor", PASSWORD)
    accounts.set_disabled(path, "u-gone", True)
    return path


def signed_in(db, monkeypatch, user: str | None, *, page: str | None = None, query: dict | None = None) -> AppTest:
    monkeypatch.setenv("HITLGOV_DB", str(db))
    monkeypatch.setenv("HITLGOV_AUTH", "local")
    monkeypatch.delenv("HITLGOV_AUTH_FILE", raising=False)
    at = AppTest.from_file(str(helpers.APP_FILE), default_timeout=90)
    at.query_params = {"system": SYSTEM, **(query or {})}
    if user:
        at.session_state["hitlgov_identity"] = user  # what the sign-in form stores after a good password
    at.run()
    if page:
        at.switch_page(f"views/{page}").run()
    return at


def texts(at: AppTest) -> str:
    """Every text the page sent, Markdown source included."""
    parts = []
    for kind in ("title", "markdown", "caption", "error", "info", "success", "warning", "subheader", "header"):
        parts += [str(e.value) for e in getattr(at, kind)]
    parts += [f"{m.label} {m.value}" for m in at.metric]
    return "\n".join(parts)


def not_permitted(at: AppTest) -> bool:
    return any("Not permitted" in e.value for e in at.error)


@pytest.mark.parametrize("role", list(ROLE_PAGES))
def test_each_role_reaches_exactly_its_pages(db, monkeypatch, role):
    at = signed_in(db, monkeypatch, f"u-{role}")
    assert not at.exception, [e.value for e in at.exception]
    for view, _url, title, _chart in helpers.PAGES:
        at.switch_page(f"views/{view}").run()
        assert not at.exception, (role, view, [e.value for e in at.exception])
        titles = [t.value for t in at.title]
        if view in ROLE_PAGES[role]:
            assert titles == [title] and not not_permitted(at), (role, view, texts(at)[:300])
        else:  # direct access to a forbidden page: the refusal, and not one element of the page
            assert not_permitted(at), (role, view)
            assert titles == [] and not at.metric and not at.dataframe and not at.get("plotly_chart"), (role, view)


def test_not_signed_in_sees_only_the_sign_in_form(db, monkeypatch):
    for view, _url, _title, _chart in helpers.PAGES:
        at = signed_in(db, monkeypatch, None, page=view)
        assert [t.value for t in at.title] == ["Sign in"], view
        assert not at.metric and not at.dataframe and not at.get("plotly_chart")
        assert "rev-anna" not in texts(at)


def test_sign_in_form_wrong_then_right_password_and_disabled_account(db, monkeypatch):
    at = signed_in(db, monkeypatch, None)
    at.text_input(key="signin_name").input("u-auditor")
    at.text_input(key="signin_password").input("wrong password here")
    at.button[0].click().run()
    assert "wrong password" in texts(at) and [t.value for t in at.title] == ["Sign in"]
    at.text_input(key="signin_password").input(PASSWORD)
    at.button[0].click().run()
    assert [t.value for t in at.title] == ["Overview"] and "Signed in as u-auditor" in texts(at)
    # a disabled account cannot sign in with its right password
    at = signed_in(db, monkeypatch, None)
    at.text_input(key="signin_name").input("u-gone")
    at.text_input(key="signin_password").input(PASSWORD)
    at.button[0].click().run()
    assert [t.value for t in at.title] == ["Sign in"] and "disabled" in texts(at)


def test_disabling_ends_an_open_session(db, monkeypatch, tmp_path):
    import shutil

    copy = tmp_path / "store.duckdb"
    shutil.copy(db, copy)
    at = signed_in(copy, monkeypatch, "u-compliance", page="oversight.py")
    assert [t.value for t in at.title] == ["Oversight"]
    accounts.set_disabled(copy, "u-compliance", True)
    at.run()
    assert [t.value for t in at.title] == ["Sign in"] and "disabled" in texts(at)


def test_repeated_failures_lock_the_name(db, monkeypatch):
    from hitlgov.dashboard import access

    at = signed_in(db, monkeypatch, None)
    for _ in range(access.MAX_FAILURES):
        at.text_input(key="signin_name").input("u-executive")
        at.text_input(key="signin_password").input("not the password at all")
        at.button[0].click().run()
    at.text_input(key="signin_password").input(PASSWORD)  # even the right password waits now
    at.button[0].click().run()
    assert "Too many failed attempts" in texts(at) and [t.value for t in at.title] == ["Sign in"]
    access._failures.clear()


def test_upload_exists_only_for_the_data_steward(db, monkeypatch):
    steward = signed_in(db, monkeypatch, "u-data_steward", page="data_page.py")
    assert steward.get("file_uploader") and any(b.label == "Ingest" for b in steward.button)
    auditor = signed_in(db, monkeypatch, "u-auditor", page="data_page.py")
    assert [t.value for t in auditor.title] == ["Data"]
    assert not auditor.get("file_uploader") and not any(b.label == "Ingest" for b in auditor.button)
    assert "for data stewards" in texts(auditor)


def test_action_checks_refuse_on_the_server(db, monkeypatch):
    """require_action itself, not only the missing widget: a run whose identity lacks the right stops."""
    def script():
        import streamlit as st
        from hitlgov.dashboard import access

        st.session_state["_hitlgov_current"] = access.Identity(name="x", actor="local:x",
                                                               roles=frozenset({"executive"}), method="local")
        for action in ("ingest", "report", "export", "verify", "manage_users"):
            if access.allowed(action):
                st.write(f"allowed {action}")
        access.require_action("ingest")
        st.write("ingested")  # never reached

    at = AppTest.from_function(script).run()
    assert "Not permitted" in at.error[0].value
    assert not [m.value for m in at.markdown if "allowed" in m.value or "ingested" in m.value]


def test_report_generated_names_the_signed_in_user_and_the_pdf(db, monkeypatch, tmp_path):
    import hashlib
    import shutil

    copy = tmp_path / "store.duckdb"
    shutil.copy(db, copy)
    at = signed_in(copy, monkeypatch, "u-compliance", page="reports.py",
                   query={"from": "2026-01-01", "to": "2026-06-30"})
    at.radio(key="report_kind").set_value("executive")
    at.button(key="report_generate").click().run(timeout=240)
    assert "Report ready" in texts(at), texts(at)[-500:]
    pdf, name, *_ = at.session_state["report_pdf"]
    with duckdb.connect(str(copy), read_only=True) as con:
        actor, subject, detail = con.execute(
            "SELECT actor, subject, CAST(detail AS VARCHAR) FROM audit_events WHERE kind = 'report_generated'").fetchall()[-1]
        signed = con.execute("SELECT actor FROM audit_events WHERE kind = 'signed_in'").fetchall()
    detail = json.loads(detail)
    assert actor == "local:u-compliance" and subject == name
    assert "/" not in name and name.startswith("hitlgov-executive-credit_s_http_127.0.0.1_9_s_-2026-01-01-")
    assert detail["pdf_sha256"] == hashlib.sha256(pdf).hexdigest()   # the bytes offered for download
    assert detail["filter"]["system"] == SYSTEM and str(detail["filter"]["from"]).startswith("2026-01-01")
    assert ("local:u-compliance",) in signed


def test_executive_sees_no_reviewer_identity(db, monkeypatch):
    at = signed_in(db, monkeypatch, "u-executive")
    assert [t.value for t in at.title] == ["Overview"]
    shown = texts(at) + "".join(str(d.value.to_dict()) for d in at.dataframe)
    assert not [r for r in REVIEWERS if r in shown]
    from hitlgov.dashboard.access import Identity

    assert Identity("x", "local:x", frozenset({"executive"}), "local").pseudonymise_reviewers
    assert not Identity("x", "local:x", frozenset({"executive", "auditor"}), "local").pseudonymise_reviewers


def test_log_text_is_never_rendered_as_markup(db, monkeypatch):
    """A system name, a rationale, a case id and URL parameters carrying Markdown links/images stay
    text: no Markdown element of any page holds an unescaped link or image to the planted URL."""
    at = signed_in(db, monkeypatch, "u-auditor",
                   query={"case": "[c](http://127.0.0.1:9/case)", "segment": f"gender={IMAGE}"})
    for view in sorted(ROLE_PAGES["auditor"]):
        at.switch_page(f"views/{view}").run()
        assert not at.exception, (view, [e.value for e in at.exception])
        shown = texts(at)
        assert SYSTEM in shown.replace("\\", ""), view   # the system is named on the page, escaped
        assert "](http://127.0.0.1:9" not in shown and "<img" not in shown, (view, [
            line for line in shown.splitlines() if "127.0.0.1:9" in line])


def test_audit_trail_case_with_hostile_rationale(db, monkeypatch):
    at = signed_in(db, monkeypatch, "u-auditor", page="audit_trail.py", query={"case": "case-0"})
    assert at.selectbox(key="audit_case").value == "case-0"
    reviews = [d.value for d in at.dataframe if "rationale" in d.value.columns]
    assert reviews and IMAGE in " ".join(reviews[0]["rationale"].astype(str))   # shown, as data
    assert "](http://127.0.0.1:9" not in texts(at)


def test_single_user_mode_and_unconfigured_app(db, monkeypatch):
    monkeypatch.setenv("HITLGOV_DB", str(db))
    monkeypatch.setenv("HITLGOV_AUTH", "none")
    at = AppTest.from_file(str(helpers.APP_FILE), default_timeout=90)
    at.run()
    assert [t.value for t in at.title] == ["Overview"] and "Single-user mode" in texts(at)
    monkeypatch.delenv("HITLGOV_AUTH")   # `streamlit run app.py` by hand: nothing is shown
    at = AppTest.from_file(str(helpers.APP_FILE), default_timeout=90)
    at.run()
    assert "sign-in is not configured" in texts(at) and not at.title and not at.metric
