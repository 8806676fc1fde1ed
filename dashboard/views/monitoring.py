"""Monitoring (compliance): what ``hitlgov monitor`` recorded -- each finding's history (when it
started failing, for how long), remediation items with owners and due dates, and the Art. 73
incident register with its deadlines counting down.

These are records the product keeps (``findings_history``, ``remediation``, ``incidents``), not
metrics computed on the log, so they are read from the store directly (read-only, small tables).
Every value is shown in a table cell, never inside markup.

Actions (remediation assign / acknowledge / resolve, recording an incident and marking it
reported) are forms on this page. Who may submit them is :data:`hitlgov.accounts.ACTION_ROLES`
(compliance), checked on the server at the moment of acting (:func:`access.require_action`):
for other roles the submit button is disabled, and a submission that reaches the server anyway
stops at "Not permitted" with nothing written. Each action is an audit event naming the
signed-in user.
"""
from __future__ import annotations

import datetime as dt

import streamlit as st
from hitlgov.dashboard import access, ui
from hitlgov.oversight import incidents, monitor, remediation

from hitlgov.errors import HitlgovError

view = ui.page("Monitoring", "Continuous oversight: every scheduled evaluation of the policy, what was done about "
               "the findings that failed, and the serious incidents on the reporting clock.")
system = view.filter.system


FLASH = "_mon_flash"


def _act(action: str, fn, *args, done: str, **kwargs) -> None:
    """Run a write ``fn`` as the signed-in user once the server has checked the role; a
    one-line error on bad input (nothing is written), else rerun to show the new state."""
    try:  # the role is checked on the server, at the moment of acting
        result = access.perform(action, fn, *args, **kwargs)
    except HitlgovError as exc:
        st.error(f"Not recorded: {ui.md(exc)}")
        return
    st.session_state[FLASH] = done.format(**result)
    st.rerun()


def _no_right(action: str) -> None:
    if not access.allowed(action):
        st.caption("Only the compliance role may submit this (you can read the register).")


if st.session_state.get(FLASH):
    st.success(ui.md(st.session_state.pop(FLASH)), icon=":material/check_circle:")


def _read(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except HitlgovError as exc:
        st.error(str(exc))
        st.stop()


# -- findings history -------------------------------------------------------------------------
ui.section("Findings history", "One row per spell: a run of consecutive monitor evaluations with the same status. "
           "Rate rules use an anytime-valid test (a mixture e-value), so repeated evaluation does not inflate "
           "false alarms; the window's plain status is in the full history.")
rows = _read(monitor.history, view.db, system=system)
if not rows:
    ui.empty("No monitor run recorded for this system yet. Schedule `hitlgov monitor` (cron or a systemd timer; "
             "see the README) to evaluate the policy on the latest window every day.")
else:
    spells = monitor.spells(rows)
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    current = {}
    for sp in spells:
        current[(sp["system"], sp["metric"])] = sp  # the last spell of each finding is its current status
    table = [{"system": sp["system"], "finding": sp["metric"], "status": sp["status"].upper(),
              "since": sp["since"], "last evaluated": sp["until"], "runs": sp["runs"],
              "days in this status": round((now - sp["since"]).total_seconds() / 86400, 1)}
             for sp in current.values()]
    failing = [t for t in table if t["status"] == "FAIL"]
    c1, c2, c3 = st.columns(3)
    ui.kpi(c1, "Findings failing now", str(len(failing)))
    ui.kpi(c2, "Monitor runs", str(len({r["monitor_run"] for r in rows})))
    ui.kpi(c3, "Last run", f"{max(r['evaluated_at'] for r in rows):%Y-%m-%d %H:%M} UTC")
    st.markdown("**Current status of each finding**")
    ui.table(sorted(table, key=lambda t: ({"FAIL": 0, "WARN": 1, "PASS": 2}.get(t["status"], 3), t["finding"])),
             key="mon_current")
    with st.expander("Every spell"):
        ui.table([{**sp, "status": sp["status"].upper()} for sp in spells], key="mon_spells")
    with st.expander("Every evaluation"):
        ui.table(rows, key="mon_rows")

# -- remediation ------------------------------------------------------------------------------
ui.section("Remediation", "Failing findings assigned an owner and a due date (`hitlgov remediation assign`); "
           "overdue when not resolved after the due day.")
items = _read(remediation.items, view.db)
items = [i for i in items if system is None or i["system"] == system]
if not items:
    ui.empty("No remediation item recorded.")
else:
    overdue = [i for i in items if i["overdue"]]
    if overdue:
        st.warning(f"{len(overdue)} remediation item(s) overdue.", icon=":material/schedule:")
    ui.table([{"item": i["item_id"], "system": i["system"], "finding": i["metric"], "owner": i["owner"],
               "due": i["due"], "state": i["state"], "overdue": i["overdue"], "note": i["note"],
               "resolution": i["resolution"]} for i in items], key="mon_remediation")

can_remediate = access.allowed("remediate")
findings = sorted({r["metric"] for r in rows}) if rows else []
with st.expander("Assign a finding an owner", expanded=False):
    _no_right("remediate")
    if not findings:
        st.caption("No finding recorded for this system yet: run `hitlgov monitor` first.")
    with st.form("rem_assign", border=False):
        metric = st.selectbox("Finding", findings, key="rem_metric")
        c1, c2 = st.columns(2)
        owner = c1.text_input("Owner", max_chars=200, key="rem_owner")
        due = c2.date_input("Due", value=dt.date.today() + dt.timedelta(days=14), key="rem_due")
        note = st.text_area("Note", max_chars=remediation.MAX_TEXT, key="rem_note")
        assign = st.form_submit_button("Assign", disabled=not can_remediate, key="rem_assign_submit")
    if assign:
        _act("remediate", remediation.assign, view.db, system=system, metric=metric or "", owner=owner, due=due,
             note=note or None, done="{item_id} assigned to {owner}, due {due}.")
open_items = [i["item_id"] for i in items if i["state"] != "resolved"]
with st.expander("Acknowledge or resolve an item", expanded=False):
    _no_right("remediate")
    with st.form("rem_move", border=False):
        item = st.selectbox("Item", open_items, key="rem_item")
        step = st.radio("Step", ["Acknowledge", "Resolve"], horizontal=True, key="rem_step")
        move_note = st.text_area("Note (a resolution says what was done)", max_chars=remediation.MAX_TEXT,
                                 key="rem_move_note")
        move = st.form_submit_button("Record", disabled=not can_remediate, key="rem_move_submit")
    if move:
        if step == "Resolve":
            _act("remediate", remediation.resolve, view.db, item or "", note=move_note or "",
                 done="{item_id} resolved.")
        else:
            _act("remediate", remediation.acknowledge, view.db, item or "", note=move_note or None,
                 done="{item_id} acknowledged.")

# -- incidents --------------------------------------------------------------------------------
ui.section("Serious incidents (EU AI Act Art. 73)", "Deadlines count from awareness: 15 days; 2 for a widespread "
           "infringement or critical infrastructure; 10 for a death. The deadline is midnight after the last day "
           "in the time zone of awareness (`hitlgov incident add`).")
register = _read(incidents.register, view.db)
register = [i for i in register if system is None or i["system"] in (None, system)]
if not register:
    ui.empty("No serious incident recorded.")
else:
    ui.table([{"incident": i["incident_id"], "category": i["category"], "article": i["article"], "title": i["title"],
               "aware": i["aware_at"], "deadline": i["deadline_at"], "state": i["state"],
               "days left": None if i["seconds_remaining"] is None else round(i["seconds_remaining"] / 86400, 1),
               "linked cases": len(i["linked_cases"])} for i in register], key="mon_incidents")

can_record = access.allowed("incident")
with st.expander("Record a serious incident", expanded=False):
    _no_right("incident")
    with st.form("inc_add", border=False):
        c1, c2, c3 = st.columns(3)
        category = c1.selectbox("Category", list(incidents.DAYS), key="inc_category",
                                format_func=lambda c: f"{c.replace('_', ' ')} ({incidents.DAYS[c]} days)")
        aware = c2.text_input("Aware since (ISO 8601, local time in the zone)", key="inc_aware",
                              placeholder="2026-03-29T09:30")
        zone_name = c3.text_input("Time zone (IANA)", value="UTC", max_chars=64, key="inc_zone")
        title = st.text_input("Title", max_chars=incidents.MAX_TEXT, key="inc_title")
        description = st.text_area("Description", max_chars=incidents.MAX_TEXT, key="inc_description")
        linked = st.text_input("Linked case ids (comma-separated)", key="inc_cases")
        add = st.form_submit_button("Record incident", disabled=not can_record, key="inc_add_submit")
    if add:
        _act("incident", incidents.record, view.db, category=category, aware=aware or "", zone_name=zone_name or "UTC",
             title=title, description=description or None, system=system,
             cases=[c for c in (linked or "").split(",") if c.strip()],
             done="{incident_id} recorded: report by {deadline_at}.")
unreported = [i["incident_id"] for i in register if i["reported_at"] is None]
with st.expander("Mark an incident reported to the authority", expanded=False):
    _no_right("incident")
    with st.form("inc_reported", border=False):
        which = st.selectbox("Incident", unreported, key="inc_which")
        reported = st.form_submit_button("Mark reported now", disabled=not can_record, key="inc_reported_submit")
    if reported:
        _act("incident", incidents.mark_reported, view.db, which or "", done="{incident_id} marked {state}.")
