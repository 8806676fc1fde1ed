"""``hitlgov monitor``: findings history, the audit chain, status-change alerts, no alert without change."""
from __future__ import annotations

import datetime as dt
import json

import pytest
from typer.testing import CliRunner

from hitlgov import audit, store
from hitlgov.cli import app
from hitlgov.errors import HitlgovError
from hitlgov.metrics.policy import load_policy
from hitlgov.oversight import alerts
from hitlgov.oversight import monitor as mon


def log(n: int, overridden: int, *, start=dt.datetime(2026, 11, 1), system="s1", first=0) -> str:
    """``n`` reviewed cases, one per hour from ``start``; the first ``overridden`` are overridden."""
    rows = []
    for i in range(n):
        ts = start + dt.timedelta(hours=i)
        human = "deny" if i < overridden else "approve"
        rows.append(f"c{first + i},{ts:%Y-%m-%dT%H:%M:%S},{system},approve,0.9,r{i % 3},{human},60,false,because")
    return "case_id,ts,system,model_decision,model_score,reviewer_id,human_decision,review_seconds,escalated,rationale\n" + "\n".join(rows) + "\n"


def policy_file(tmp_path, *, fail_above=0.35, extra=""):
    p = tmp_path / f"policy-{fail_above}.yaml"
    p.write_text(f"name: test\nsettings:\n  monitor_alpha: 0.05\n{extra}rules:\n"
                 f"  - metric: oversight.override_rate\n    title: override rate\n    fail_above: {fail_above}\n"
                 f"  - metric: oversight.review_seconds_p90\n    title: p90\n    fail_above: 900\n")
    return load_policy(p)


def test_history_audit_and_alerts_only_on_change(make_store, tmp_path):
    db = make_store(log(500, 250))  # override rate 50%: clearly above 35%
    sink = tmp_path / "alerts.jsonl"
    chans = alerts.channels_from(files=[sink])
    first = mon.run_monitor(db, policy=policy_file(tmp_path), channels=chans, actor="alice")
    [s] = first.systems
    assert s.window == {"from": "2026-10-23", "to": "2026-11-21"}  # 30 days ending at the last decision (day 21)
    by_metric = {r["metric"]: r for r in s.rows}
    rate = by_metric["oversight.override_rate"]
    assert (rate["status"], rate["point_status"], rate["method"]) == ("fail", "fail", "mixture_e_value")
    assert (rate["successes"], rate["trials"]) == (250, 500) and rate["e_value"] >= 20
    assert by_metric["oversight.review_seconds_p90"]["status"] == "pass"
    assert [c["metric"] for c in s.changes] == ["oversight.override_rate"]  # a new pass is no change
    assert [json.loads(x)["changes"][0]["status"] for x in sink.read_text().splitlines()] == ["fail"]

    second = mon.run_monitor(db, policy=policy_file(tmp_path), channels=chans, actor="alice")
    assert second.systems[0].changes == [] and second.systems[0].deliveries == []
    assert len(sink.read_text().splitlines()) == 1  # nothing sent without a change

    third = mon.run_monitor(db, policy=policy_file(tmp_path, fail_above=0.6), channels=chans, actor="bob")
    assert [(c["previous"], c["status"]) for c in third.systems[0].changes] == [("fail", "pass")]
    assert len(sink.read_text().splitlines()) == 2

    with store.connect(db, read_only=True) as con:
        assert con.execute("SELECT count(*), count(DISTINCT monitor_run) FROM findings_history").fetchall() == [(6, 3)]
        events = con.execute("SELECT kind, actor, subject FROM audit_events WHERE kind IN ('monitor_run', 'alert_delivery') "
                             "ORDER BY seq").fetchall()
        deliveries = con.execute("SELECT channel, delivered, changes FROM alert_deliveries ORDER BY finished_at").fetchall()
    assert events == [("monitor_run", "alice", "s1"), ("alert_delivery", "alice", "s1"), ("monitor_run", "alice", "s1"),
                      ("monitor_run", "bob", "s1"), ("alert_delivery", "bob", "s1")]
    assert deliveries == [("file", True, 1), ("file", True, 1)]
    with store.connect(db, read_only=True) as con:
        assert audit.verify_store(con)["ok"]  # the chain with the monitor's events still verifies

    spells = mon.spells(mon.history(db, metric="oversight.override_rate"))
    assert [(sp["status"], sp["runs"]) for sp in spells] == [("fail", 2), ("pass", 1)]


def test_few_outcomes_over_the_bound_are_not_yet_an_alarm(make_store, tmp_path):
    db = make_store(log(10, 4))  # 40% > 35%, but ten reviews prove nothing
    [s] = mon.run_monitor(db, policy=policy_file(tmp_path)).systems
    rate = next(r for r in s.rows if r["metric"] == "oversight.override_rate")
    assert rate["point_status"] == "fail" and rate["status"] == "pass" and s.changes == []


def test_a_failing_webhook_is_recorded_and_does_not_lose_the_history(make_store, tmp_path):
    db = make_store(log(500, 250))
    chans = alerts.channels_from(webhooks=["http://127.0.0.1:9/unreachable"])
    result = mon.run_monitor(db, policy=policy_file(tmp_path), channels=chans,
                             webhook_options={"attempts": 2, "timeout": 0.5, "sleep": lambda s: None})
    [d] = result.systems[0].deliveries
    assert not d.delivered and d.attempts == 2
    with store.connect(db, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM findings_history").fetchall() == [(2,)]
        assert con.execute("SELECT delivered, attempts, error IS NOT NULL FROM alert_deliveries").fetchall() == [(False, 2, True)]


def test_sequential_evidence_accumulates_from_the_first_window(make_store, tmp_path):
    db = make_store(log(300, 90))  # 30% in November
    mon.run_monitor(db, policy=policy_file(tmp_path), as_of=dt.date(2026, 11, 13))
    later = mon.run_monitor(db, policy=policy_file(tmp_path), as_of=dt.date(2026, 11, 13), window_days=1)
    rate = next(r for r in later.systems[0].rows if r["metric"] == "oversight.override_rate")
    assert rate["trials"] == 300  # anchored at the first run's window start, not the one-day window
    assert rate["value"] == 0.0   # the point value is the one-day window's (cases 288-299, none overridden)


def test_policy_alert_channels_and_bad_settings(make_store, tmp_path):
    db = make_store(log(500, 250))
    sink = tmp_path / "from-policy.jsonl"
    pol = policy_file(tmp_path, extra=f"  alerts:\n    - file: {sink}\n")
    mon.run_monitor(db, policy=pol)
    assert sink.exists()
    with pytest.raises(HitlgovError, match="monitor_alpha"):
        mon.run_monitor(db, policy=policy_file(tmp_path, extra="  monitor_alpha: 2\n"))
    with pytest.raises(HitlgovError, match="unknown system 'nope'"):
        mon.run_monitor(db, policy=pol, systems=["nope"])


@pytest.mark.parametrize("args,message", [
    (["--window-days", "0"], "--window-days"),
    (["--window-days", "99999"], "--window-days"),
    (["--as-of", "yesterday"], "--as-of"),
    (["--as-of", "0001-01-05"], "between 1970 and 2200"),
    (["--system", "nope"], "unknown system"),
    (["--webhook", "file:///etc/passwd"], "http:// or https://"),
    (["--actor", "a\nb"], "--actor"),
    (["--policy", "/nonexistent.yaml"], "cannot read policy"),
])
def test_cli_bad_input_is_one_line_and_changes_nothing(make_store, args, message):
    db = make_store(log(50, 10))
    result = CliRunner().invoke(app, ["monitor", "--db", str(db), *args])
    assert result.exit_code != 0
    assert message in result.output and "Traceback" not in result.output
    assert len([x for x in result.output.strip().splitlines() if x.strip()]) <= 3
    with store.connect(db, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM findings_history").fetchall() == [(0,)]


def test_cli_json_and_history(make_store, tmp_path):
    db = make_store(log(500, 250))
    result = CliRunner().invoke(app, ["monitor", "--db", str(db), "--json", "--actor", "carol"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["systems"][0]["changes"][0]["metric"] == "oversight.override_rate"
    hist = CliRunner().invoke(app, ["monitor", "--db", str(db), "--history", "--json"])
    assert hist.exit_code == 0 and len(json.loads(hist.output)["history"]) == len(doc["systems"][0]["findings"])
