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
