"""The Art. 73 incident register: deadlines by category, across time zones and DST changes.

Every expected deadline is worked out by hand: the day of awareness is not counted, the period
ends at midnight after its last day in the awareness zone (Regulation 1182/71 Art. 3), and the
UTC instant follows that zone's offset on the last day.
"""
from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from hitlgov import store
from hitlgov.cli import app
from hitlgov.errors import HitlgovError
from hitlgov.oversight import incidents

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
LOG = ("case_id,ts,system,model_decision,reviewer_id,human_decision\n"
       "c1,2026-11-01T10:00:00,s1,approve,r1,deny\nc1,2026-11-01T10:00:00,s1,approve,r2,deny\n"
       "c2,2026-11-02T10:00:00,s1,approve,,\n")


@pytest.mark.parametrize("aware,zone,category,expected_utc", [
    # Berlin, CET (+1) on awareness; the period crosses the switch to CEST (+2) on 2026-03-29
    ("2026-03-27T15:00", "Europe/Berlin", "death", "2026-04-06T22:00:00+00:00"),            # last day 6 Apr
    ("2026-03-27T15:00", "Europe/Berlin", "other", "2026-04-11T22:00:00+00:00"),            # last day 11 Apr
    ("2026-03-27T23:59", "Europe/Berlin", "widespread_infringement", "2026-03-29T22:00:00+00:00"),  # last day 29 Mar (CEST)
    # an instant given in UTC is counted on the local day where the organisation is: 23:30Z = 00:30 CET on 29 Mar
    ("2026-03-28T23:30:00+00:00", "Europe/Berlin", "critical_infrastructure", "2026-03-31T22:00:00+00:00"),
    # Berlin back to CET on 2026-10-25
    ("2026-10-20T09:00", "Europe/Berlin", "other", "2026-11-04T23:00:00+00:00"),            # last day 4 Nov (CET)
    # New York: EDT (-4) -> EST (-5) on 2026-11-01
    ("2026-10-30T10:00", "America/New_York", "widespread_infringement", "2026-11-02T05:00:00+00:00"),
    # New York: EST -> EDT on 2026-03-08
    ("2026-03-06T08:00", "America/New_York", "death", "2026-03-17T04:00:00+00:00"),         # last day 16 Mar (EDT)
    # Sydney, southern hemisphere: AEDT (+11) -> AEST (+10) on 2026-04-05
    ("2026-04-03T12:00", "Australia/Sydney", "other", "2026-04-18T14:00:00+00:00"),         # last day 18 Apr
    ("2026-06-30T18:00", "UTC", "other", "2026-07-16T00:00:00+00:00"),
])
def test_deadline_by_category_across_zones_and_dst(aware, zone, category, expected_utc):
    tz = ZoneInfo(zone)
    due = incidents.deadline(incidents.parse_awareness(aware, tz), category)
    assert due.astimezone(UTC).isoformat() == expected_utc


def test_the_local_deadline_is_always_midnight_even_when_the_absolute_period_is_not_whole_days():
    tz = ZoneInfo("Europe/Berlin")
    aware = incidents.parse_awareness("2026-03-27T00:00", tz)
    due = incidents.deadline(aware, "other")
    assert (due.hour, due.minute) == (0, 0) and due.date() == dt.date(2026, 4, 12)
    assert due.astimezone(UTC) - aware.astimezone(UTC) == dt.timedelta(days=16, hours=-1)  # one hour lost to DST


@pytest.mark.parametrize("aware,zone,message", [
    ("2026-03-29T02:30", "Europe/Berlin", "daylight-saving"),   # skipped hour
    ("2026-10-25T02:30", "Europe/Berlin", "daylight-saving"),   # repeated hour
    ("2026-11-01T01:30", "America/New_York", "daylight-saving"),
    ("29/03/2026", "UTC", "ISO 8601"),
    ("0001-01-01T00:00", "Europe/Berlin", "between 1970 and 2200"),
    ("9999-12-31T00:00", "Pacific/Kiritimati", "between 1970 and 2200"),
])
def test_nonexistent_ambiguous_or_malformed_awareness_is_refused(aware, zone, message):
    with pytest.raises(HitlgovError, match=message):
        incidents.parse_awareness(aware, ZoneInfo(zone))


def test_an_ambiguous_local_time_with_its_offset_is_accepted():
    first = incidents.parse_awareness("2026-10-25T02:30+02:00", ZoneInfo("Europe/Berlin"))
    second = incidents.parse_awareness("2026-10-25T02:30+01:00", ZoneInfo("Europe/Berlin"))
    assert second.astimezone(UTC) - first.astimezone(UTC) == dt.timedelta(hours=1)  # same-zone subtraction ignores fold


def test_record_countdown_report_and_export(make_store):
    db = make_store(LOG)
    i = incidents.record(db, category="death", aware="2026-11-25T09:00", zone_name="Europe/Berlin", title="harm",
                         system="s1", cases=["c1"], actor="dora", now=NOW)
    assert i["deadline_utc"] == "2026-12-05T23:00:00+00:00" and i["deadline_at"] == "2026-12-06T00:00:00+01:00"
    assert i["seconds_remaining"] == (dt.datetime(2026, 12, 5, 23, tzinfo=UTC) - NOW).total_seconds()
    assert i["state"] == "open" and i["article"] == "Art. 73(4)"
    late = incidents.get(db, i["incident_id"], now=dt.datetime(2026, 12, 6, 0, 0, tzinfo=UTC))
    assert late["state"] == "overdue" and late["seconds_remaining"] < 0
    done = incidents.mark_reported(db, i["incident_id"], reported="2026-12-03T10:00", zone_name="Europe/Berlin",
                                   actor="dora", now=NOW)
    assert done["state"] == "reported" and done["seconds_remaining"] is None
    with pytest.raises(HitlgovError, match="already marked reported"):
        incidents.mark_reported(db, i["incident_id"], now=NOW)
    doc = incidents.export(db, i["incident_id"], now=NOW)
    assert [c["case_id"] for c in doc["cases"]] == ["c1"]
    assert sorted(r["reviewer_id"] for r in doc["reviews"]) == ["r1", "r2"]
    assert [e["kind"] for e in doc["audit_events"]] == ["incident_recorded", "incident_reported"]
    assert doc["audit_events"][0]["actor"] == "dora"
    json.dumps(doc)  # the export is plain JSON


def test_register_orders_open_deadlines_first(make_store):
    db = make_store(LOG)
    a = incidents.record(db, category="other", aware="2026-11-30T09:00", zone_name="UTC", title="a", now=NOW)
    b = incidents.record(db, category="widespread_infringement", aware="2026-11-30T09:00", zone_name="UTC", title="b", now=NOW)
    assert [x["incident_id"] for x in incidents.register(db, now=NOW)] == [b["incident_id"], a["incident_id"]]


@pytest.mark.parametrize("kwargs,message", [
    ({"category": "bad"}, "--category"),
    ({"zone_name": "Mars/Olympus"}, "IANA"),
    ({"aware": "2027-06-01T00:00"}, "future"),
    ({"cases": ["c1", "nope"]}, "'nope': no such case"),
    ({"system": "other"}, "not a system"),
    ({"title": "  "}, "title"),
    ({"description": "x" * 20_000}, "longer than"),
])
def test_bad_incident_input_is_one_line_and_stores_nothing(make_store, kwargs, message):
    db = make_store(LOG)
    args = {"category": "other", "aware": "2026-11-30T09:00", "zone_name": "UTC", "title": "t", **kwargs}
    with pytest.raises(HitlgovError, match=message):
        incidents.record(db, now=NOW, **args)
    with store.connect(db, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM incidents").fetchall() == [(0,)]
        assert con.execute("SELECT count(*) FROM audit_events WHERE kind LIKE 'incident%'").fetchall() == [(0,)]


def test_cli_add_list_export(make_store, tmp_path):
    db = make_store(LOG)
    r = CliRunner().invoke(app, ["incident", "add", "--db", str(db), "--aware", "2026-11-30T09:00", "--zone", "UTC",
                                 "--title", "[red]markup[/red]", "--case", "c1,c2", "--json", "--actor", "eve"])
    assert r.exit_code == 0, r.output
    i = json.loads(r.output)
    assert i["linked_cases"] == ["c1", "c2"] and i["title"] == "[red]markup[/red]"
    listed = CliRunner().invoke(app, ["incident", "list", "--db", str(db)])
    assert "[red]markup[/red]" in listed.output  # shown literally, not as Rich markup
    out = tmp_path / "inc.json"
    r = CliRunner().invoke(app, ["incident", "export", i["incident_id"], "--db", str(db), "--out", str(out)])
    assert r.exit_code == 0 and json.loads(out.read_text())["incident"]["incident_id"] == i["incident_id"]
    bad = CliRunner().invoke(app, ["incident", "add", "--db", str(db), "--aware", "2026-03-29T02:30",
                                   "--zone", "Europe/Berlin", "--title", "t"])
    assert bad.exit_code == 1 and "daylight-saving" in bad.output and "Traceback" not in bad.output
    missing = CliRunner().invoke(app, ["incident", "export", "INC-NOPE", "--db", str(db)])
    assert missing.exit_code == 1 and "no such incident" in missing.output
