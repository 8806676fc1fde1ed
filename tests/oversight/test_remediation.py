"""Remediation items: owner, due date, acknowledge, resolve; overdue; audit events; bad input."""
from __future__ import annotations

import datetime as dt

import pytest
from typer.testing import CliRunner

from hitlgov import store
from hitlgov.cli import app
from hitlgov.errors import HitlgovError
from hitlgov.oversight import remediation

UTC = dt.timezone.utc
LOG = ("case_id,ts,system,model_decision,reviewer_id,human_decision\n"
       "c1,2026-11-01T10:00:00,s1,approve,r1,deny\n")


@pytest.fixture
def db(make_store):
    path = make_store(LOG)
    with store.connect(path) as con:  # a recorded finding (what `hitlgov monitor` writes)
        con.execute("INSERT INTO findings_history (monitor_run, evaluated_at, system, metric, status, method) "
                    "VALUES ('m1', TIMESTAMP '2026-11-30 00:00', 's1', 'oversight.override_rate', 'fail', 'point')")
    return path


def test_assign_acknowledge_resolve_with_audit_events(db):
    item = remediation.assign(db, system="s1", metric="oversight.override_rate", owner="frank",
                              due=dt.date(2026, 12, 10), note="retrain reviewers", actor="grace",
                              now=dt.datetime(2026, 12, 1, tzinfo=UTC))
    assert (item["state"], item["owner"], item["due"], item["overdue"]) == ("open", "frank", "2026-12-10", False)
    assert remediation.items(db, overdue_only=True, now=dt.datetime(2026, 12, 10, 23, 59, tzinfo=UTC)) == []
    [late] = remediation.items(db, overdue_only=True, now=dt.datetime(2026, 12, 11, 0, 0, tzinfo=UTC))
    assert late["item_id"] == item["item_id"]  # due is inclusive: overdue from the next day (UTC)
    remediation.acknowledge(db, item["item_id"], actor="frank")
    with pytest.raises(HitlgovError, match="is acknowledged; cannot be acknowledged"):
        remediation.acknowledge(db, item["item_id"], actor="frank")
    with pytest.raises(HitlgovError, match="--note"):
        remediation.resolve(db, item["item_id"], note=" ", actor="frank")
    done = remediation.resolve(db, item["item_id"], note="training completed", actor="frank")
    assert done["state"] == "resolved" and done["resolution"] == "training completed"
    assert remediation.items(db, overdue_only=True, now=dt.datetime(2027, 1, 1, tzinfo=UTC)) == []
    with store.connect(db, read_only=True) as con:
        events = con.execute("SELECT kind, actor FROM audit_events WHERE subject = ? ORDER BY seq",
                             [item["item_id"]]).fetchall()
    assert events == [("remediation_assigned", "grace"), ("remediation_acknowledged", "frank"),
                      ("remediation_resolved", "frank")]


@pytest.mark.parametrize("kwargs,message", [
    ({"metric": "oversight.nope"}, "no finding"),
    ({"system": "s2"}, "no finding"),
    ({"owner": ""}, "--owner"),
    ({"note": "x" * 20_000}, "longer than"),
    ({"due": dt.date(9999, 12, 31)}, "between 1970 and 2200"),
])
def test_bad_assignments_store_nothing(db, kwargs, message):
    args = {"system": "s1", "metric": "oversight.override_rate", "owner": "o", "due": dt.date(2026, 12, 1), **kwargs}
    with pytest.raises(HitlgovError, match=message):
        remediation.assign(db, **args)
    with store.connect(db, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM remediation").fetchall() == [(0,)]


def test_cli_flow_and_errors(db):
    r = CliRunner().invoke(app, ["remediation", "assign", "--db", str(db), "--system", "s1", "--metric",
                                 "oversight.override_rate", "--owner", "[b]x[/b]", "--due", "2020-01-01"])
    assert r.exit_code == 0, r.output
    assert "OVERDUE" in r.output and "[b]x[/b]" in r.output
    item_id = r.output.split()[0]
    listed = CliRunner().invoke(app, ["remediation", "list", "--overdue", "--db", str(db)])
    assert item_id in listed.output
    bad = CliRunner().invoke(app, ["remediation", "assign", "--db", str(db), "--system", "s1", "--metric",
                                   "oversight.override_rate", "--owner", "o", "--due", "soon"])
    assert bad.exit_code == 1 and "--due 'soon'" in bad.output and "Traceback" not in bad.output
    missing = CliRunner().invoke(app, ["remediation", "ack", "REM-NOPE", "--db", str(db)])
    assert missing.exit_code == 1 and "no such remediation item" in missing.output


# -- roles on the command line (issue 18): with accounts in the store, --actor names one --------------

PASSWORD = "correct horse battery staple"


@pytest.fixture
def with_accounts(db):
    from hitlgov import accounts

    accounts.add_user(db, "carla", "compliance", PASSWORD)
    accounts.add_user(db, "aude", "auditor", PASSWORD)
    accounts.add_user(db, "gone", "compliance", PASSWORD)
    accounts.set_disabled(db, "gone", True)
    return db


def _cli(*args, env=None):
    return CliRunner().invoke(app, list(args), env={"HITLGOV_ACTOR": None, **(env or {})})


def _events(db, kinds):
    with store.connect(db, read_only=True) as con:
        return con.execute(f"SELECT kind, actor FROM audit_events WHERE kind IN ({', '.join('?' * len(kinds))}) "
                           "ORDER BY seq", list(kinds)).fetchall()


ASSIGN = ["remediation", "assign", "--system", "s1", "--metric", "oversight.override_rate", "--owner", "frank",
          "--due", "2026-12-20"]
INCIDENT = ["incident", "add", "--aware", "2026-11-20T09:00", "--title", "wrong denials"]


@pytest.mark.parametrize("command", [ASSIGN, INCIDENT])
@pytest.mark.parametrize("actor, message", [
    (None, "has user accounts: pass --actor NAME (an enabled account with role compliance)"),
    ("mallory", "--actor 'mallory': no such account"),
    ("aude", "--actor aude has role auditor;"),
    ("gone", "--actor gone: the account is disabled"),
])
def test_cli_refuses_an_actor_without_the_role_and_writes_nothing(with_accounts, command, actor, message):
    db = with_accounts
    before = _events(db, ["remediation_assigned", "incident_recorded"])
    r = _cli(*command, "--db", str(db), *(["--actor", actor] if actor else []))
    assert r.exit_code == 1 and message in r.output and "Traceback" not in r.output, r.output
    assert len(r.output.strip().splitlines()) <= 2
    assert _events(db, ["remediation_assigned", "incident_recorded"]) == before
    with store.connect(db, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM remediation").fetchall() == [(0,)]
        assert con.execute("SELECT count(*) FROM incidents").fetchall() == [(0,)]


def test_cli_actions_by_a_compliance_account_are_attributed_to_it(with_accounts):
    db = with_accounts
    r = _cli(*ASSIGN, "--db", str(db), "--actor", "carla")
    assert r.exit_code == 0, r.output
    item = r.output.split()[0]
    assert _cli("remediation", "ack", item, "--db", str(db), "--actor", "local:carla").exit_code == 0
    denied = _cli("remediation", "resolve", item, "--note", "x", "--db", str(db), "--actor", "aude")
    assert denied.exit_code == 1 and "needs role compliance" in denied.output
    assert _cli("remediation", "resolve", item, "--note", "retrained", "--db", str(db),
                env={"HITLGOV_ACTOR": "carla"}).exit_code == 0
    r = _cli(*INCIDENT, "--db", str(db), "--actor", "carla")
    assert r.exit_code == 0, r.output
    incident = r.output.split()[0]
    denied = _cli("incident", "reported", incident, "--db", str(db), "--actor", "aude")
    assert denied.exit_code == 1 and "needs role compliance" in denied.output
    assert _cli("incident", "reported", incident, "--db", str(db), "--actor", "carla").exit_code == 0
    assert _events(db, ["remediation_assigned", "remediation_acknowledged", "remediation_resolved",
                        "incident_recorded", "incident_reported"]) == [
        ("remediation_assigned", "local:carla"), ("remediation_acknowledged", "local:carla"),
        ("remediation_resolved", "local:carla"), ("incident_recorded", "local:carla"),
        ("incident_reported", "local:carla")]


def test_cli_without_accounts_stays_single_user(db):
    import getpass

    r = _cli(*ASSIGN, "--db", str(db))
    assert r.exit_code == 0, r.output
    assert _events(db, ["remediation_assigned"]) == [("remediation_assigned", getpass.getuser())]


REGISTER_CSV = ("reviewer_id,name,role,authority,training,training_completed,training_expires,systems\n"
                "r1,Ana,verifier,confirm,RBI,2026-01-01,2026-06-30,\n")


@pytest.mark.parametrize("actor, message", [
    (None, "has user accounts: pass --actor NAME (an enabled account with role compliance) for loading the "
           "reviewer register"),
    ("aude", "--actor aude has role auditor; loading the reviewer register needs role compliance"),
    ("gone", "--actor gone: the account is disabled"),
])
def test_only_a_compliance_account_loads_the_reviewer_register(with_accounts, tmp_path, actor, message):
    """Who may review, and their training, is a compliance record: with accounts in the store, the CLI
    loads a register only for an enabled compliance account, and records it as that account."""
    db = with_accounts
    f = tmp_path / "register.csv"
    f.write_text(REGISTER_CSV)
    before = _events(db, ["reviewer_register_loaded"])
    r = _cli("register", "load", str(f), "--db", str(db), *(["--actor", actor] if actor else []))
    assert r.exit_code == 1 and message in r.output and "Traceback" not in r.output, r.output
    assert _events(db, ["reviewer_register_loaded"]) == before
    ok = _cli("register", "load", str(f), "--db", str(db), "--actor", "carla")
    assert ok.exit_code == 0 and "1 reviewers" in ok.output, ok.output
    with store.connect(db, read_only=True) as con:
        assert con.execute("SELECT actor FROM audit_events WHERE kind = 'reviewer_register_loaded'").fetchall() == [
            ("local:carla",)]
