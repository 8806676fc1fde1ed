"""Downloads from the dashboard: safe CSV, optional reviewer pseudonyms, and an audit event.

An export is data leaving the controlled system, so each one is recorded in the audit chain
(``export_downloaded``: what, how many rows, the filter, whether reviewer ids were
pseudonymised). The event is written with a short write connection after the data was read;
if another process holds the store at that moment the download still happens and the page says
the event could not be recorded, rather than withholding evidence an auditor asked for.
"""
from __future__ import annotations

import hashlib

import pandas as pd
import streamlit as st
from hitlgov.dashboard import csv_safe, data

from hitlgov import audit
from hitlgov.errors import HitlgovError
from hitlgov.pseudonym import ENV, pseudonymiser

REVIEWER_COLUMNS = ("reviewer_id", "reviewers", "reviewer", "reviewer_a", "reviewer_b")


def key_configured() -> bool:
    """Whether reviewer ids can be pseudonymised (the secret key is set in the server's environment)."""
    import os

    return bool(os.environ.get(ENV))


def pseudonymise_reviewers(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with every reviewer-id column replaced by its keyed pseudonym (see hitlgov.pseudonym)."""
    pseudonym = pseudonymiser()
    out = df.copy()
    for col in REVIEWER_COLUMNS:
        if col in out.columns:
            out[col] = out[col].map(
                lambda v: ", ".join(pseudonym(x.strip()) for x in v.split(",")) if col == "reviewers" and isinstance(v, str)
                else pseudonym(v))
    return out


def csv_download(df: pd.DataFrame, *, what: str, file_name: str, actor: str, flt=None, search: dict | None = None,
                 pseudonymise: bool = False) -> bytes:
    """The CSV bytes for a download button, after recording the export in the audit chain.

    ``actor`` is passed explicitly, captured when the page drew the button: Streamlit runs a
    deferred download's callable outside the page's script run, where no session is current."""
    if pseudonymise:
        df = pseudonymise_reviewers(df)
    payload = csv_safe.to_csv(df)
    detail = {"what": what, "rows": int(len(df)), "file": file_name, "pseudonymised": bool(pseudonymise),
              "filter": None if flt is None else flt.describe(),
              "search": {k: v for k, v in (search or {}).items() if v is not None},
              "sha256": hashlib.sha256(payload).hexdigest()}
    try:
        audit.record_event(data.db_path(), kind="export_downloaded", subject=what, detail=detail, actor=actor)
    except HitlgovError as exc:
        st.toast(f"The export was not recorded in the audit trail: {exc}", icon=":material/warning:")
    return payload
