"""Reports (auditors, executives): generate the PDF report for the current filter and download it.

The options are the sidebar filter (system, period, model version, segment), the kind and
pseudonymisation; the work is :func:`hitlgov.reports.build_report`, the same call as ``hitlgov report``
(it also appends the ``report_generated`` event to the store's audit chain).
"""
from __future__ import annotations

import datetime as dt
import re
import tempfile
from pathlib import Path

import streamlit as st
from hitlgov.dashboard import access, ui

from hitlgov import formats as fmt
from hitlgov import reports
from hitlgov.errors import HitlgovError
from hitlgov.pseudonym import ENV as KEY_ENV

KINDS = {"compliance": "Compliance report (for auditors and the compliance officer)",
         "executive": "Executive summary, two pages (for management)"}

view = ui.page("Reports", "A PDF of the evidence for a period: oversight, agreement, fairness, drift, data quality "
               "and the policy findings, with the regulatory mapping and a digest that lets an auditor re-verify it.")
flt = view.filter

with st.container(border=True):
    st.markdown(f"**Period** {fmt.day(flt.start)} – {fmt.day(flt.end)} · **System** {ui.md(flt.system)}"
                + (f" · **Model version** {ui.md(flt.model_version)}" if flt.model_version else "")
                + (f" · **Segment** {ui.md(flt.segment[0])} = {ui.md(flt.segment[1])}" if flt.segment else ""))
    st.caption("The report covers the period and system of the sidebar filters; change them there.")
    c1, c2 = st.columns([3, 2])
    kind = c1.radio("Kind", list(KINDS), format_func=KINDS.get, key="report_kind")
    pseudonymise = c2.checkbox("Pseudonymise reviewer ids", key="report_pseudo",
                               help=f"Replace reviewer ids by keyed hashes (HMAC-SHA256; needs {KEY_ENV} on the "
                                    "server, and the same key to verify the report later).")
    clicked = st.button("Generate report", type="primary", icon=":material/picture_as_pdf:", key="report_generate")

if clicked:
    access.require_action("report")  # server side, at the moment of acting
    bar = st.progress(0.0, text="Starting…")

    def progress(text: str, share: float | None = None) -> None:
        bar.progress(min(max(share, 0.0), 1.0) if share is not None else 0.5, text=str(text))

    # the system name comes from the log: never let it put a '/' (a path) into the file name
    scope = "-".join([flt.system or "all"] + ([f"model-{flt.model_version}"] if flt.model_version else [])
                     + ([f"{flt.segment[0]}-{flt.segment[1]}"] if flt.segment else []))
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", f"hitlgov-{kind}-{scope}-{fmt.day(flt.start)}-{fmt.day(flt.end)}") + ".pdf"
    # Options beyond the period and system are passed only when set (the generator's keyword contract).
    options = {k: v for k, v in {"pseudonymise": pseudonymise, "policy": ui.policy_path(),
                                 "model_version": flt.model_version, "segment": flt.segment}.items() if v}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / name  # the audit event names the file the user downloads
            result = reports.build_report(db=view.db, start=flt.start, end=flt.end, system=flt.system, kind=kind,
                                          out_file=out, progress=progress, **options)
            pdf = out.read_bytes()
    except HitlgovError as exc:
        bar.empty()
        st.error(f"The report could not be generated: {ui.md(exc)}")
    except OSError as exc:
        bar.empty()
        st.error(f"The report could not be generated: {ui.md(exc)}")
    else:
        bar.progress(1.0, text="Done")
        st.session_state["report_pdf"] = (pdf, name, dt.datetime.now(), getattr(result, "digest", None),
                                          getattr(result, "pages", None), getattr(result, "warning", None))

if st.session_state.get("report_pdf"):
    pdf, name, made, digest, pages, warning = st.session_state["report_pdf"]
    st.success(f"Report ready: {ui.md(name)} ({f'{pages} pages, ' if pages else ''}{len(pdf) / 1024:,.0f} KB), "
               f"generated at {made:%H:%M:%S}.")
    st.download_button("Download PDF", data=pdf, file_name=name, mime="application/pdf", on_click="ignore",
                       icon=":material/download:", key="report_download")
    if digest:
        st.caption(f"Metric digest `sha256:{digest}`. The parameters and every value are attached to the PDF "
                   "(hitlgov-evidence.json); re-check the report against the store at any time with "
                   f"`hitlgov report --verify {name}`.")
    if warning:
        st.warning(warning)

    # -- sign-off (attestation) ------------------------------------------------------------------
    if digest and access.allowed("attest"):  # a compliance officer's act; not drawn for other roles
        with st.form("report_signoff", border=True):
            st.markdown("**Sign off this report**")
            st.caption("A compliance officer attests the report: name, role, time and statement are recorded in the "
                       "store's audit chain with the PDF's SHA-256, and `hitlgov report --verify` lists the sign-off.")
            c1, c2 = st.columns(2)
            signer = c1.text_input("Name", max_chars=200, key="signoff_name")
            role = c2.text_input("Role", value="Compliance officer", max_chars=200, key="signoff_role")
            from hitlgov.oversight import attestation

            statement = st.text_area("Statement", value=attestation.DEFAULT_STATEMENT, max_chars=attestation.MAX_STATEMENT,
                                     key="signoff_statement")
            signed = st.form_submit_button("Sign off", icon=":material/verified:", key="signoff_submit")
        if signed:
            from hitlgov.reports.verify import read_evidence

            who = access.require_action("attest")  # server side, at the moment of acting

            try:
                with tempfile.TemporaryDirectory() as tmp:
                    copy = Path(tmp) / name
                    copy.write_bytes(pdf)
                    doc, _meta = read_evidence(copy)
                    a = attestation.attest(view.db, report_file=copy, evidence_digest=digest,
                                           parameters=doc["parameters"], name=signer, role=role,
                                           statement=statement, actor=who.actor)
            except HitlgovError as exc:
                st.error(f"The sign-off was not recorded: {ui.md(exc)}")
            else:
                st.success(f"Signed off at {a['signed_at']} ({a['attestation_id']}); recorded in the audit chain.")
