"""Remediation of failing findings: an owner, a due date, a note; acknowledged, then resolved.

A finding that fails is only half the evidence; the other half is what the organisation did
about it. Each item names the (system, metric) finding it remedies, and every change is an
audit event (``remediation_assigned``, ``remediation_acknowledged``, ``remediation_resolved``)
written in the same transaction as the row, so the register and the chain cannot disagree.
An item is **overdue** when it is not resolved and its due date (a calendar day, inclusive) has
passed in UTC.
"""
from __future__ import annotations

import datetime as dt
import uuid

from hitlgov import audit, store
from hitlgov.errors import HitlgovError
from hitlgov.oversight import check_day

MAX_TEXT = 10_000
COLUMNS = ["item_id", "system", "metric", "owner", "due", "note", "state", "created_by", "created_at",
           "updated_at", "resolution"]


def _text(value: str | None, what: str, *, required: bool = False) -> str | None:
    value = value.strip() if isinstance(value, str) else value
    if required and not value:
        raise HitlgovError(f"--{what}: must not be empty")
    if value and len(value) > MAX_TEXT:
        raise HitlgovError(f"--{what}: longer than {MAX_TEXT:,} characters")
    return value or None


def _now(now: dt.datetime | None) -> dt.datetime:
    return (now or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc).replace(tzinfo=None)


def assign(db, *, system: str, metric: str, owner: str, due: dt.date, note: str | None = None,
           actor: str | None = None, now: dt.datetime | None = None) -> dict:
    """Open an item for a finding the monitor has recorded for ``system``."""
    check_day(due, "--due")
    owner = _text(owner, "owner", required=True)
    note = _text(note, "note")
    at = _now(now)
    item_id = "REM-" + uuid.uuid4().hex[:10].upper()
    with store.connect(db) as con, store.transaction(con):
        seen = con.execute("SELECT status FROM findings_history WHERE system = ? AND metric = ? "
                           "ORDER BY evaluated_at DESC LIMIT 1", [system, metric]).fetchall()
        if not seen:
            raise HitlgovError(f"no finding {metric!r} for system {system!r} in the findings history "
                               f"(run `hitlgov monitor` first; `hitlgov monitor --history` lists them)")
        con.execute("INSERT INTO remediation VALUES (?, ?, ?, ?, ?, ?, 'open', ?, ?, ?, NULL)",
                    [item_id, system, metric, owner, due, note, actor, at, at])
        audit.append_event(con, kind="remediation_assigned", subject=item_id, actor=actor, detail={
            "system": system, "metric": metric, "owner": owner, "due": due.isoformat(), "note": note,
            "finding_status": seen[0][0],
            "rows": audit.record_rows(con, [("remediation", "item_id = ?", [item_id])])})
    return get(db, item_id, now=now)


def _move(db, item_id: str, *, to: str, allowed_from: tuple[str, ...], kind: str, note: str | None,
          actor: str | None, now: dt.datetime | None) -> dict:
    note = _text(note, "note")
    at = _now(now)
    with store.connect(db) as con, store.transaction(con):
        row = con.execute("SELECT state FROM remediation WHERE item_id = ?", [item_id]).fetchall()
        if not row:
            raise HitlgovError(f"{item_id!r}: no such remediation item")
        if row[0][0] not in allowed_from:
            raise HitlgovError(f"{item_id}: is {row[0][0]}; cannot be {to} from there")
        if to == "resolved":
            con.execute("UPDATE remediation SET state = ?, updated_at = ?, resolution = ? WHERE item_id = ?",
                        [to, at, note, item_id])
        else:
            con.execute("UPDATE remediation SET state = ?, updated_at = ? WHERE item_id = ?", [to, at, item_id])
        audit.append_event(con, kind=kind, subject=item_id, actor=actor, detail={
            "from": row[0][0], "note": note, "rows": audit.record_rows(con, [("remediation", "item_id = ?", [item_id])])})
    return get(db, item_id, now=now)


def acknowledge(db, item_id: str, *, note: str | None = None, actor: str | None = None,
                now: dt.datetime | None = None) -> dict:
    return _move(db, item_id, to="acknowledged", allowed_from=("open",), kind="remediation_acknowledged",
                 note=note, actor=actor, now=now)


def resolve(db, item_id: str, *, note: str, actor: str | None = None, now: dt.datetime | None = None) -> dict:
    _text(note, "note", required=True)  # a resolution says what was done
    return _move(db, item_id, to="resolved", allowed_from=("open", "acknowledged"), kind="remediation_resolved",
                 note=note, actor=actor, now=now)


def _shape(row, today: dt.date) -> dict:
    r = dict(zip(COLUMNS, row))
    r["overdue"] = r["state"] != "resolved" and r["due"] < today
    r["due"] = r["due"].isoformat()
    for k in ("created_at", "updated_at"):
        r[k] = r[k].isoformat(timespec="seconds") + "Z"
    return r


def get(db, item_id: str, *, now: dt.datetime | None = None) -> dict:
    with store.connect(db, read_only=True) as con:
        row = con.execute(f"SELECT {', '.join(COLUMNS)} FROM remediation WHERE item_id = ?", [item_id]).fetchall()
    if not row:
        raise HitlgovError(f"{item_id!r}: no such remediation item")
    return _shape(row[0], _now(now).date())


def items(db, *, overdue_only: bool = False, now: dt.datetime | None = None) -> list[dict]:
    """Every item, unresolved first, earliest due date first."""
    with store.connect(db, read_only=True) as con:
        rows = con.execute(f"SELECT {', '.join(COLUMNS)} FROM remediation "
                           "ORDER BY state = 'resolved', due, item_id").fetchall()
    out = [_shape(r, _now(now).date()) for r in rows]
    return [r for r in out if r["overdue"]] if overdue_only else out
