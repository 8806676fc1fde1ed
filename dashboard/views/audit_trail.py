"""Audit trail (auditors): search cases, read one case's full history, export, check the hash chain."""
from __future__ import annotations

import datetime as dt

import streamlit as st
from hitlgov.dashboard import access, data, exports, ui
from hitlgov.metrics import audit_trail, oversight

from hitlgov import formats as fmt

view = ui.page("Audit trail", "Every case with its reviews and the audit events that recorded them. Search, open a "
               "case's full history, and export the filtered view (EU AI Act Art. 12 record-keeping).", refuse=False)

# -- chain status -----------------------------------------------------------------------------
chain = data.call(audit_trail.chain_status)
if chain["ok"] is None:
    st.info(chain["problem"])
elif chain["ok"]:
    st.success(f"**Audit chain intact** — {fmt.count(chain['events'])} events, each hash linked to the previous "
               f"one; head `{(chain['head'] or '')[:16]}…`.", icon=":material/verified:")
else:
    st.error(f"**Audit chain broken at event {chain['broken_at']}**: {chain['problem']}. The log was altered "
             "after it was written.", icon=":material/gpp_bad:")
with st.expander("Verify the stored data against the chain"):
    st.caption("Recomputes the hash of every stored review and of each ingestion run's cases and attributes and "
               "compares them with the audit events (what `hitlgov verify` does).")
    if st.button("Run verification", key="verify_store", disabled=not access.allowed("verify")):
        access.require_action("verify")
        v = data.call(audit_trail.store_verification)
        if v["ok"]:
            st.success("The stored data matches the audit chain.")
        else:
            st.error(f"{len(v['problems'])} problem(s) found" + (" (first 10 shown)" if len(v["problems"]) >= 10 else ""))
            for p in v["problems"]:
                st.markdown(f"- {ui.md(p)}")

ui.refuse_untrustworthy(view)  # after the chain status and verification: they are how to investigate it
flt = view.filter

# -- search -----------------------------------------------------------------------------------
ui.section("Cases", "Newest first. Text matches part of a case id or of a reviewer's rationale.")
reviewers = [r["reviewer_id"] for r in data.call(oversight.by_reviewer, flt)]
c1, c2, c3, c4 = st.columns([3, 2, 2, 1])
text = c1.text_input("Search", key="audit_text", placeholder="case id or rationale text")
reviewer = c2.selectbox("Reviewer", ["Any reviewer"] + sorted(reviewers), key="audit_reviewer")
over = c3.selectbox("Review outcome", ["All cases", "Overridden", "Not overridden"], key="audit_over",
                    help="Overridden: reviewed and the final decision differs from the model's.")
size = c4.selectbox("Rows", [25, 50, 100, 200], index=1, key="audit_size")
query = dict(text=text or None, reviewer=None if reviewer == "Any reviewer" else reviewer,
             overridden={"All cases": None, "Overridden": True, "Not overridden": False}[over])
signature = (text, reviewer, over, size, data.filter_key(flt))
if "_audit_sig" not in st.session_state:  # first visit: a shared link may name a case
    st.session_state["_audit_link"] = st.query_params.get("case")
elif st.session_state["_audit_sig"] != signature:  # a new search starts on page 1, at its first case
    st.session_state["_audit_link"] = None
    st.session_state["audit_page"] = 1
st.session_state["_audit_sig"] = signature
res = data.call(audit_trail.search_cases, flt, page=st.session_state.get("audit_page", 1), page_size=size, **query)
if st.session_state.get("audit_page", 1) != res["page"]:  # fewer pages than before: the metric clamped it
    st.session_state["audit_page"] = res["page"]
if not res["total"]:
    st.info("No case matches the search and the filters.")
else:
    left, right = st.columns([4, 1])
    first = (res["page"] - 1) * res["page_size"] + 1
    left.markdown(f"**{fmt.count(res['total'])}** matching cases · showing {fmt.count(first)}–"
                  f"{fmt.count(first + len(res['rows']) - 1)}, page {fmt.count(res['page'])} of "
                  f"{fmt.count(res['pages'])}")

    pseudo = right.toggle("Pseudonymise reviewers", key="audit_pseudo",
                          help="Replace reviewer ids by keyed pseudonyms (HMAC-SHA256 with $HITLGOV_PSEUDONYM_KEY).",
                          disabled=not exports.key_configured())
    export_name = f"hitlgov-cases-{dt.date.today().isoformat()}.csv"

    who = access.current()

    def _export() -> bytes:
        return exports.csv_download(data.uncached(audit_trail.export_rows, flt, **query), what="audit trail cases",
                                    file_name=export_name, actor=who.actor, flt=flt, search=query,
                                    pseudonymise=pseudo or who.pseudonymise_reviewers)

    if access.allowed("export"):  # not drawn = no deferred download registered for this session
        right.download_button("Export CSV", data=_export, file_name=export_name,
                              mime="text/csv", icon=":material/download:", on_click="ignore", key="audit_export",
                              width="stretch",
                              help="All matching cases (every page), one row per review; cells that a spreadsheet "
                                   "could run as a formula are neutralised.")
    ui.table(res["rows"], column_order=["case_id", "ts", "model_version", "model_decision", "model_score", "final",
                                        "outcome", "n_reviews", "reviewers", "overridden", "escalated"],
             column_config={
                 "case_id": "Case", "ts": st.column_config.DatetimeColumn("Decided at", format="YYYY-MM-DD HH:mm"),
                 "model_version": "Version", "model_decision": "Model decision",
                 "model_score": st.column_config.NumberColumn("Score", format="%.3f"), "final": "Final decision",
                 "outcome": "Outcome", "n_reviews": "Reviews", "reviewers": "Reviewers",
                 "overridden": st.column_config.CheckboxColumn("Overridden"),
                 "escalated": st.column_config.CheckboxColumn("Escalated")})
    st.pagination(res["pages"], key="audit_page", max_visible_pages=9)

    # -- one case -----------------------------------------------------------------------------
    ui.section("Case history", "Everything the store knows about one case, in order.")
    ids = [r["case_id"] for r in res["rows"]]
    linked = st.session_state.get("_audit_link")
    if linked and linked not in ids:
        ids = [linked] + ids
    if st.session_state.get("audit_case") not in ids:
        st.session_state["audit_case"] = linked if linked in ids else ids[0]
    case_id = st.selectbox("Case", ids, key="audit_case", help="Cases on this page of the results (or the one in the link).")
    st.query_params["case"] = case_id
    h = data.call(audit_trail.case_history, system=flt.system, case_id=case_id)
    if not h["found"]:
        st.info(f"Case {ui.md(case_id)} is not in {ui.md(flt.system)}.")
    else:
        c = h["case"]
        with st.container(border=True):
            cols = st.columns(7)
            ui.fact(cols[0], "Decided at", fmt.when(c["ts"]))
            undecided = c["model_decision"] is None
            ui.fact(cols[1], "Model decision", "none (annotation-only)" if undecided else str(c["model_decision"]),
                    help="The case was stored without a model decision: the tool's task had no prediction."
                    if undecided else None)
            ui.fact(cols[2], "Model score", fmt.ratio(c["model_score"]))
            ui.fact(cols[3], "Final decision", "none" if c["final"] is None else str(c["final"]),
                    help="Stated in the log" if c.get("final_decision") else "Last reviewer's decision, else the model's")
            ui.fact(cols[4], "Outcome", c["outcome"] or "not yet known")
            ui.fact(cols[5], "Reviews", fmt.count(c["n_reviews"]))
            ui.fact(cols[6], "Overridden", "n/a" if undecided else
                    {True: "Yes", False: "No", None: "Not reviewed"}[c["overridden"]])
        left, right = st.columns([1, 2])
        with left:
            st.markdown("**Attributes**")
            ui.table(h["attributes"], column_config={"name": "Attribute", "value": "Value"})
            st.caption(f"Model version {ui.md(c['model_version'] or 'n/a')} · ingestion run {c['run_id']}, "
                       f"source row {c['source_row']}")
        with right:
            st.markdown("**Reviews** (in order of completion)")
            if h["reviews"]:
                ui.table(h["reviews"], column_order=["reviewer_id", "human_decision", "overrode", "review_started_at",
                                                     "review_completed_at", "review_seconds", "escalated", "rationale"],
                         column_config={"reviewer_id": "Reviewer", "human_decision": "Decision",
                                        "overrode": st.column_config.CheckboxColumn("Overrode model"),
                                        "review_started_at": "Started", "review_completed_at": "Completed",
                                        "review_seconds": st.column_config.NumberColumn("Seconds", format="%.0f"),
                                        "escalated": st.column_config.CheckboxColumn("Escalated"),
                                        "rationale": "Rationale"})
            else:
                st.info("No human reviewed this case: the model's decision took effect.")
        st.markdown("**Audit events about this case**")
        if h["events"]:
            ui.table(h["events"], column_order=["seq", "event_at", "kind", "subject", "hash", "detail"],
                     column_config={"seq": "Seq", "event_at": "Recorded at", "kind": "Event", "subject": "Subject",
                                    "hash": "Hash"}, key="case_events",
                     details={"subject": "Subject", "detail": "Detail"},
                     row_label=lambda r: f"Event {r['seq']} ({r['kind']})")
            st.caption("`ingestion` events commit to every row the run stored (a Merkle root over the rows' "
                       "SHA-256) and are links of the hash chain; `hitlgov verify` re-hashes the rows.")
        else:
            st.info("No audit event mentions this case.")

# -- the chain itself -------------------------------------------------------------------------
with st.expander("Audit log (newest first)"):
    kinds = data.call(audit_trail.event_kinds)
    st.caption(" · ".join(f"{k['kind']}: {fmt.count(k['events'])}" for k in kinds) or "No events yet.")
    ev = data.call(audit_trail.audit_events, limit=50, offset=(st.session_state.get("events_page", 1) - 1) * 50)
    if ev["rows"]:
        ui.table(ev["rows"], column_order=["seq", "event_at", "kind", "actor", "subject", "detail", "prev_hash",
                                           "hash"], key="audit_log_events",
                 details={"subject": "Subject", "detail": "Detail"},
                 row_label=lambda r: f"Event {r['seq']} ({r['kind']})")
        st.pagination(max(1, -(-ev["total"] // 50)), key="events_page", max_visible_pages=9)
