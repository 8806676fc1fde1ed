"""The serious-incident register (EU AI Act Art. 73) and its reporting deadlines.

Art. 73 gives the provider (and, through Art. 26(5), the deployer who informs it) a clock that
starts when they *become aware* of a serious incident:

=============================  ======  ============
category                       days    Art. 73
=============================  ======  ============
``other`` (default)            15      73(2)
``widespread_infringement``    2       73(3)
``critical_infrastructure``    2       73(3) (Art. 3(49)(b))
``death``                      10      73(4)
=============================  ======  ============

Deadline arithmetic follows Regulation (EEC, Euratom) No 1182/71 on periods, which applies to
EU regulations: the day of awareness is not counted (Art. 3(1)) and a period in days ends with
the expiry of the last hour of its last day (Art. 3(2)(b)) -- so the deadline is **midnight at
the end of day N after the day of awareness, in the time zone where the organisation became
aware**, converted to UTC with ``zoneinfo`` (a daylight-saving change inside the period moves
the UTC instant by an hour, never the local day). We deliberately do *not* apply the extension
of Art. 3(4) to the next working day for weekends and public holidays: holidays differ by
Member State, and a register that shows the earlier, certain deadline is never late.
An awareness time that does not exist (skipped by a DST change) or is ambiguous (repeated) in
the zone is refused unless it carries an explicit UTC offset.
"""
from __future__ import annotations

import datetime as dt
import json
import uuid
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from hitlgov import audit, store
from hitlgov.errors import HitlgovError
from hitlgov.oversight import check_day

DAYS = {"other": 15, "widespread_infringement": 2, "critical_infrastructure": 2, "death": 10}
ARTICLE = {"other": "Art. 73(2)", "widespread_infringement": "Art. 73(3)",
           "critical_infrastructure": "Art. 73(3)", "death": "Art. 73(4)"}
MAX_TEXT = 10_000
MAX_CASES = 10_000


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise HitlgovError(f"--zone {name!r}: not an IANA time zone (e.g. Europe/Berlin, UTC)") from None


def parse_awareness(text: str, tz: ZoneInfo) -> dt.datetime:
    """An ISO 8601 time; without an offset it is local time in ``tz`` and must exist exactly once."""
    try:
        value = dt.datetime.fromisoformat(text.strip())
    except (ValueError, AttributeError):
        raise HitlgovError(f"--aware {text!r}: expected an ISO 8601 time, e.g. 2026-03-29T09:30 or 2026-03-29T09:30+02:00") from None
    check_day(value.date(), "--aware")
    if value.tzinfo is not None:
        return value.astimezone(tz)
    first, second = value.replace(tzinfo=tz, fold=0), value.replace(tzinfo=tz, fold=1)
    if first.utcoffset() != second.utcoffset():
        raise HitlgovError(f"--aware {text!r}: this local time is ambiguous or does not exist in {tz.key} "
                           f"(a daylight-saving change); give it with its UTC offset")
    # a skipped time round-trips to a different wall clock
    back = first.astimezone(dt.timezone.utc).astimezone(tz)
    if back.replace(tzinfo=None) != value:
        raise HitlgovError(f"--aware {text!r}: this local time does not exist in {tz.key} (a daylight-saving change)")
    return first


def deadline(aware: dt.datetime, category: str) -> dt.datetime:
    """The end of the reporting period (an aware datetime in ``aware``'s zone): midnight after
    the last day, the day of awareness not counted."""
    if category not in DAYS:
        raise HitlgovError(f"--category {category!r}: expected one of {', '.join(DAYS)}")
    if aware.tzinfo is None:
        raise ValueError("awareness time needs a time zone")
    last_day = aware.date() + dt.timedelta(days=DAYS[category])
    end = dt.datetime.combine(last_day + dt.timedelta(days=1), dt.time(0, 0), tzinfo=aware.tzinfo)
    return end


def _clean(text: str | None, what: str) -> str | None:
    if text is None:
        return None
    if len(text) > MAX_TEXT:
        raise HitlgovError(f"--{what}: longer than {MAX_TEXT:,} characters")
    return text


def record(db, *, category: str, aware: str, zone_name: str, title: str, description: str | None = None,
           system: str | None = None, cases: list[str] | None = None, actor: str | None = None,
           now: dt.datetime | None = None) -> dict:
    """Add an incident (and its ``incident_recorded`` audit event) in one transaction."""
    tz = zone(zone_name)
    when = parse_awareness(aware, tz)
    due = deadline(when, category)
    title = (title or "").strip()
    if not title:
        raise HitlgovError("--title: an incident needs a title")
    _clean(title, "title")
    _clean(description, "description")
    cases = [c.strip() for c in cases or [] if c.strip()]
    if len(cases) > MAX_CASES:
        raise HitlgovError(f"--case: at most {MAX_CASES:,} linked cases")
    now = (now or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc)
    if when.astimezone(dt.timezone.utc) > now + dt.timedelta(minutes=5):
        raise HitlgovError(f"--aware {aware!r}: lies in the future")
    incident_id = "INC-" + uuid.uuid4().hex[:10].upper()
    utc = lambda t: t.astimezone(dt.timezone.utc).replace(tzinfo=None)  # noqa: E731
    with store.connect(db) as con, store.transaction(con):
        if system is not None and not con.execute("SELECT 1 FROM systems WHERE system = ?", [system]).fetchall():
            raise HitlgovError(f"--system {system!r}: not a system in the store")
        if cases:
            con.execute("CREATE TEMP TABLE IF NOT EXISTS _linked (case_id VARCHAR)")
            con.execute("DELETE FROM _linked")
            con.executemany("INSERT INTO _linked VALUES (?)", [[c] for c in cases])
            missing = con.execute(
                "SELECT l.case_id FROM _linked l WHERE NOT EXISTS (SELECT 1 FROM cases c WHERE c.case_id = l.case_id "
                "AND (? IS NULL OR c.system = ?)) LIMIT 1", [system, system]).fetchall()
            con.execute("DROP TABLE _linked")
            if missing:
                raise HitlgovError(f"--case {missing[0][0]!r}: no such case in the store"
                                   + (f" for system {system!r}" if system else ""))
        con.execute("INSERT INTO incidents VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)",
                    [incident_id, system, category, utc(when), tz.key, utc(due), title, description, cases,
                     actor, utc(now)])
        audit.append_event(con, kind="incident_recorded", subject=incident_id, actor=actor, detail={
            "category": category, "aware_at": when.isoformat(), "zone": tz.key, "deadline_at": due.isoformat(),
            "system": system, "linked_cases": len(cases), "title": title,
            "rows": audit.record_rows(con, [("incidents", "incident_id = ?", [incident_id])])})
    return get(db, incident_id, now=now)


def mark_reported(db, incident_id: str, *, reported: str | None = None, zone_name: str = "UTC",
                  actor: str | None = None, now: dt.datetime | None = None) -> dict:
    now = (now or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc)
    when = parse_awareness(reported, zone(zone_name)) if reported else now
    with store.connect(db) as con, store.transaction(con):
        row = con.execute("SELECT reported_at FROM incidents WHERE incident_id = ?", [incident_id]).fetchall()
        if not row:
            raise HitlgovError(f"{incident_id!r}: no such incident")
        if row[0][0] is not None:
            raise HitlgovError(f"{incident_id}: already marked reported at {row[0][0]:%Y-%m-%d %H:%M} UTC")
        con.execute("UPDATE incidents SET reported_at = ? WHERE incident_id = ?",
                    [when.astimezone(dt.timezone.utc).replace(tzinfo=None), incident_id])
        audit.append_event(con, kind="incident_reported", subject=incident_id, actor=actor,
                           detail={"reported_at": when.isoformat(),
                                   "rows": audit.record_rows(con, [("incidents", "incident_id = ?", [incident_id])])})
    return get(db, incident_id, now=now)


COLUMNS = ["incident_id", "system", "category", "aware_at", "aware_zone", "deadline_at", "title", "description",
           "linked_cases", "recorded_by", "recorded_at", "reported_at"]


def _shape(row, now: dt.datetime) -> dict:
    r = dict(zip(COLUMNS, row))
    tz = ZoneInfo(r["aware_zone"])
    as_utc = lambda t: t.replace(tzinfo=dt.timezone.utc) if t is not None else None  # noqa: E731
    due = as_utc(r["deadline_at"])
    done = as_utc(r["reported_at"])
    remaining = (due - now).total_seconds()
    return {
        **{k: r[k] for k in ("incident_id", "system", "category", "title", "description", "recorded_by")},
        "article": ARTICLE[r["category"]], "days": DAYS[r["category"]],
        "aware_at": as_utc(r["aware_at"]).astimezone(tz).isoformat(), "zone": r["aware_zone"],
        "deadline_at": due.astimezone(tz).isoformat(), "deadline_utc": due.isoformat(),
        "linked_cases": list(r["linked_cases"] or []),
        "recorded_at": as_utc(r["recorded_at"]).isoformat(),
        "reported_at": done.isoformat() if done else None,
        "seconds_remaining": None if done else remaining,
        "state": ("reported late" if done > due else "reported") if done else ("overdue" if remaining < 0 else "open"),
    }


def get(db, incident_id: str, *, now: dt.datetime | None = None) -> dict:
    now = (now or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc)
    with store.connect(db, read_only=True) as con:
        row = con.execute(f"SELECT {', '.join(COLUMNS)} FROM incidents WHERE incident_id = ?", [incident_id]).fetchall()
    if not row:
        raise HitlgovError(f"{incident_id!r}: no such incident")
    return _shape(row[0], now)


def register(db, *, now: dt.datetime | None = None) -> list[dict]:
    """Every incident, the nearest open deadline first."""
    now = (now or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc)
    with store.connect(db, read_only=True) as con:
        rows = con.execute(f"SELECT {', '.join(COLUMNS)} FROM incidents "
                           "ORDER BY reported_at IS NOT NULL, deadline_at").fetchall()
    return [_shape(r, now) for r in rows]


def export(db, incident_id: str, *, now: dt.datetime | None = None) -> dict:
    """The record with its linked cases and their reviews as stored, and the audit events about it."""
    record_ = get(db, incident_id, now=now)
    with store.connect(db, read_only=True) as con:
        cases, reviews = [], []
        for cid in record_["linked_cases"]:
            q = "SELECT * FROM {} WHERE case_id = ? AND (? IS NULL OR system = ?) ORDER BY system"
            for table, into in (("cases", cases), ("reviews", reviews)):
                cur = con.execute(q.format(table), [cid, record_["system"], record_["system"]])
                names = [d[0] for d in cur.description]
                into += [dict(zip(names, r)) for r in cur.fetchall()]
        events = con.execute("SELECT seq, event_at, kind, actor, CAST(detail AS VARCHAR), hash FROM audit_events "
                             "WHERE subject = ? ORDER BY seq", [incident_id]).fetchall()
    return json.loads(json.dumps({
        "incident": record_, "cases": cases, "reviews": reviews,
        "audit_events": [{"seq": s, "event_at": a, "kind": k, "actor": ac, "detail": json.loads(d), "hash": h}
                         for s, a, k, ac, d, h in events]}, default=str))
