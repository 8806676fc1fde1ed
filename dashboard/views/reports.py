"""Reports (auditors, executives): generate the PDF report for the current filter and download it.

The generator lives in the ``reports`` package. This page looks for ``reports.build_report``
first, then the CLI's ``reports.cli.run_report``; when neither exists it says how reports are
made today. Wiring a new generator is a change to :func:`_generator` only.
"""
from __future__ import annotations

import datetime as dt
import inspect
import io
import tempfile
from pathlib import Path
from typing import Callable

import streamlit as st

from dashboard import fmt, ui
from hitlgov.errors import HitlgovError

KINDS = {"compliance": "Compliance report (for auditors and the compliance officer)",
         "executive": "Executive summary (for management)"}


def _generator() -> Callable[..., bytes] | None:
    """``generate(db, start, end, system, kind, pseudonymise, progress) -> PDF bytes``, or None."""
    try:
        from reports import build_report  # type: ignore[attr-defined]
    except ImportError:
        build_report = None
    if build_report is not None:
        return _adapt(build_report)
    try:
        from reports.cli import run_report  # type: ignore[import-not-found]
    except ImportError:
        return None

    def via_cli(*, db, start, end, system, kind, pseudonymise, progress):
        from rich.console import Console

        out, err = io.StringIO(), io.StringIO()
        with tempfile.TemporaryDirectory() as tmp:
            pdf = Path(tmp) / "report.pdf"
            progress(0.2, "Computing metrics and rendering the PDF…")
            code = run_report(db=db, start=start, end=end, system=system, policy=ui.policy_path(), kind=kind,
                              out_file=pdf, verify=None, pseudonymise=pseudonymise,
                              console=Console(file=out), err_console=Console(file=err))
            if code != 0 or not pdf.exists():
                raise HitlgovError((err.getvalue() or out.getvalue()).strip() or f"report failed (exit {code})")
            return pdf.read_bytes()
    return via_cli


def _adapt(build: Callable) -> Callable[..., bytes]:
    """Call ``reports.build_report`` with the keyword arguments it accepts."""
    accepted = set(inspect.signature(build).parameters)

    def call(*, db, start, end, system, kind, pseudonymise, progress):
        with tempfile.TemporaryDirectory() as tmp:
            pdf = Path(tmp) / "report.pdf"
            offered = {"db": db, "start": start, "end": end, "system": system, "kind": kind,
                       "pseudonymise": pseudonymise, "policy": ui.policy_path(), "out_file": pdf, "out": pdf,
                       "progress": lambda stage, *a: progress(None, str(stage))}
            result = build(**{k: v for k, v in offered.items() if k in accepted})
            if isinstance(result, (bytes, bytearray)):
                return bytes(result)
            if isinstance(result, (str, Path)) and Path(result).exists():
                return Path(result).read_bytes()
            if pdf.exists():
                return pdf.read_bytes()
            raise HitlgovError("the report generator returned no PDF")
    return call


view = ui.page("Reports", "A signed-off PDF of the evidence for a period: oversight, agreement, fairness, drift "
               "and the policy findings, ready to file.")
flt = view.filter
generate = _generator()

with st.container(border=True):
    st.markdown(f"**Period** {fmt.day(flt.start)} – {fmt.day(flt.end)} · **System** {flt.system}"
                + (f" · **Model version** {flt.model_version}" if flt.model_version else "")
                + (f" · **Segment** {flt.segment[0]} = {flt.segment[1]}" if flt.segment else ""))
    st.caption("The report covers the period and system of the sidebar filters; change them there.")
    c1, c2 = st.columns([3, 2])
    kind = c1.radio("Kind", list(KINDS), format_func=KINDS.get, key="report_kind")
    pseudonymise = c2.checkbox("Pseudonymise reviewer ids", key="report_pseudo",
                               help="Replace reviewer ids by keyed hashes (needs HITLGOV_PSEUDONYM_KEY on the server).")
    clicked = st.button("Generate report", type="primary", icon=":material/picture_as_pdf:", disabled=generate is None,
                        key="report_generate")

if generate is None:
    st.info("Reports are generated with `hitlgov report` (for example "
            f"`hitlgov report --from {fmt.day(flt.start)} --to {fmt.day(flt.end)} --system {flt.system} "
            "--kind compliance --out report.pdf`). Generating them from the dashboard becomes available here as "
            "soon as the report generator is installed.")
elif clicked:
    bar = st.progress(0.0, text="Starting…")

    def progress(share: float | None, text: str) -> None:
        bar.progress(share if share is not None else 0.5, text=text)

    try:
        pdf = generate(db=view.db, start=flt.start, end=flt.end, system=flt.system, kind=kind,
                       pseudonymise=pseudonymise, progress=progress)
    except HitlgovError as exc:
        bar.empty()
        st.error(f"The report could not be generated: {exc}")
    else:
        bar.progress(1.0, text="Done")
        name = f"hitlgov-{kind}-{flt.system}-{fmt.day(flt.start)}-{fmt.day(flt.end)}.pdf"
        st.session_state["report_pdf"] = (pdf, name, dt.datetime.now())
if st.session_state.get("report_pdf"):
    pdf, name, made = st.session_state["report_pdf"]
    st.success(f"Report ready: {name} ({len(pdf) / 1024:,.0f} KB), generated at {made:%H:%M:%S}.")
    st.download_button("Download PDF", data=pdf, file_name=name, mime="application/pdf", on_click="ignore",
                       icon=":material/download:", key="report_download")
