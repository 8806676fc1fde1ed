"""Data (auditors, operators): what the store holds, ingestion runs, quarantine, and uploading a new log."""
from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path

import streamlit as st
from hitlgov.dashboard import access, charts, data, exports, ui
from hitlgov.metrics import inventory
from hitlgov.metrics.source import Filter

from hitlgov import actor
from hitlgov import formats as fmt
from hitlgov.errors import HitlgovError
from hitlgov.ingest import jobs
from hitlgov.mapping import load_mapping

STAGES = ["hashing", "reading", "validating", "committing", "classifying", "storing"]
view = ui.page("Data", "What the store holds, every ingestion run with its counts, the rows that were quarantined "
               "and why, and uploading a new decision log.", needs_data=False)

if view.status == "unavailable":
    st.warning(view.message or "The store cannot be opened.")
elif view.status == "empty":
    st.info("The store is empty: upload a decision log below, or run `hitlgov ingest FILE`.")
else:
    ui.refuse_untrustworthy(view, stop=False)  # runs, quarantine and uploads stay usable: a warning, no stop
    counts = data.call(inventory.counts, Filter())
    quarantine = data.call(inventory.quarantine_summary)
    cols = st.columns(4)
    ui.kpi(cols[0], "Cases", fmt.count(counts["cases"]), help="Cases in the store, all systems.")
    ui.kpi(cols[1], "Reviews", fmt.count(counts["reviews"]), help="Human reviews in the store, all systems.")
    ui.kpi(cols[2], "Systems", fmt.count(len(view.catalog)))
    ui.kpi(cols[3], "Quarantined rows", fmt.count(quarantine["quarantined_rows"]),
           help="Rows that could not be stored (bad or conflicting values), kept with the reason.")

    ui.section("Systems")
    ui.table(view.catalog, column_config={
        "system": "System", "cases": ui.num_column("Cases"), "reviewed_cases": ui.num_column("Reviewed cases"),
        "reviews": ui.num_column("Reviews"),
        "first": st.column_config.DatetimeColumn("First decision", format="YYYY-MM-DD"),
        "last": st.column_config.DatetimeColumn("Last decision", format="YYYY-MM-DD")})
    ret = data.call(inventory.retention, view.filter)
    badge = ui.STATUS_BADGE.get(ret["status"], "")
    st.markdown(f"{badge} **Retention ({ui.md(view.filter.system)})**: {ui.md(ret['message'])}. Minimum "
                f"{ret['minimum_months']} months (EU AI Act Art. 19, 26(6)); gaps over {ret['max_gap_days']} days "
                "without any decision are findings.")

    ui.section("Ingestion runs", "Newest first. Every row read is stored, skipped as an identical duplicate, or "
               "quarantined: the three counts add up to the rows read.")
    runs = data.call(inventory.ingestion_runs, limit=50)
    ui.table(runs, column_order=["run_id", "file", "format", "rows_read", "stored", "duplicates", "quarantined",
                                 "started_at", "finished_at", "sha256"], key="ingestion_runs",
             details={"file": "File"}, row_label=lambda r: f"Run {r['run_id']}",
             column_config={"run_id": "Run", "format": "Format",
                            "rows_read": ui.num_column("Rows read"), "stored": ui.num_column("Stored"),
                            "duplicates": ui.num_column("Duplicates"), "quarantined": ui.num_column("Quarantined"),
                            "started_at": st.column_config.DatetimeColumn("Started", format="YYYY-MM-DD HH:mm:ss"),
                            "finished_at": st.column_config.DatetimeColumn("Finished", format="YYYY-MM-DD HH:mm:ss"),
                            "sha256": "File SHA-256"})

    ui.section("Quarantine", "Rows that were not stored, with the field and the reason; the raw source values are "
               "kept so the row can be fixed and re-ingested.")
    if not quarantine["quarantined_rows"]:
        st.success("No row has been quarantined.")
    else:
        top = quarantine["top_reasons"]
        labels = [f"{r['field'] or '—'}: {r['reason'][:60]}" for r in top]
        ui.chart(charts.colored_bars(labels, [r["rows"] for r in top], [charts.STATUS["warn"]] * len(top),
                                     x="Rows", y="", horizontal=True,
                                     height=max(220, 30 * len(top) + 80), text=[fmt.count(r["rows"]) for r in top]))
        st.caption("Most common reasons, as field: reason (quoted values and numbers folded together).")
        sample = data.call(inventory.quarantine_rows, limit=500)
        ui.table(sample, height=360, key="quarantine_rows", column_config={
            "run_id": "Run", "file": "File", "row_number": "Row", "field": "Field"},
            details={"reason": "Reason", "raw": "Raw values"},
            row_label=lambda r: f"Run {r['run_id']}, row {r['row_number']} of {r['file']}"
                                + (f", field {r['field']}" if r.get("field") else ""))

        who = access.current()

        def _quarantine_csv() -> bytes:
            return exports.csv_download(data.uncached(inventory.quarantine_rows), what="quarantine", actor=who.actor,
                                        file_name=f"hitlgov-quarantine-{dt.date.today().isoformat()}.csv",
                                        pseudonymise=who.pseudonymise_reviewers)

        if access.allowed("export"):  # not drawn = no deferred download registered for this session
            st.download_button("Download quarantine (CSV)", data=_quarantine_csv, on_click="ignore",
                               file_name=f"hitlgov-quarantine-{dt.date.today().isoformat()}.csv", mime="text/csv",
                               icon=":material/download:", key="quarantine_export",
                               help="All quarantined rows; cells a spreadsheet could run as a formula are neutralised.")
        if quarantine["quarantined_rows"] > len(sample):
            st.caption(f"Showing the first {len(sample):,} of {fmt.count(quarantine['quarantined_rows'])} rows; "
                       "the download has all of them.")

# -- upload --------------------------------------------------------------------------------------
if not access.allowed("ingest"):
    st.caption("Uploading and ingesting decision logs is for data stewards.")
    st.stop()
ui.section("Upload a decision log", "CSV, JSON Lines or Parquet in the canonical columns (see the README), or any "
           "columns with a mapping file. The file is kept next to the store, in `uploads/`, as evidence.")


@st.fragment(run_every=1.0)
def _job_status() -> None:
    """The latest upload job of this store, read from disk on every run (so a reloaded page or
    another session sees it too); re-polled every second while it runs."""
    job = jobs.latest(view.db)
    if job is None:
        return
    if job["state"] == "running":
        stage = job.get("stage") or "starting"
        i = STAGES.index(stage) if stage in STAGES else 0
        st.progress((i + 1) / (len(STAGES) + 1),
                    text=f"Ingesting {ui.md(job['name'])} in the background: {ui.md(stage)}… (started "
                         f"{fmt.when(job['started_at'])} UTC; you may leave this page)")
        st.session_state["data_job_running"] = job["id"]
        return
    if st.session_state.pop("data_job_running", None) == job["id"]:
        st.rerun()  # it just finished: redraw the whole page (counts, runs, quarantine)
    if job["state"] == "failed":
        st.error(f"Nothing was ingested from {ui.md(job['name'])} (upload of {fmt.when(job['started_at'])} UTC): "
                 f"{ui.md(job.get('error') or 'unknown error')}")
        return
    r = job.get("result") or {}
    st.success(f"Ingested **{ui.md(job['name'])}** (upload of {fmt.when(job['started_at'])} UTC): "
               f"{fmt.count(r.get('rows_read', 0))} rows read in {float(r.get('seconds') or 0):.1f} s.")
    cols = st.columns(3)
    ui.kpi(cols[0], "Stored", fmt.count(r.get("stored", 0)), help="New cases or reviews.")
    ui.kpi(cols[1], "Duplicates", fmt.count(r.get("duplicates", 0)), help="Identical to rows already stored: skipped.")
    ui.kpi(cols[2], "Quarantined", fmt.count(r.get("quarantined", 0)),
           help="Bad or conflicting rows, with the reason: see Quarantine above.")


_job_status()

with st.form("upload", clear_on_submit=False):
    log = st.file_uploader("Decision log", type=["csv", "jsonl", "ndjson", "json", "parquet", "gz"], key="up_log")
    mapping_file = st.file_uploader("Column mapping (YAML, optional)", type=["yaml", "yml"], key="up_mapping")
    c1, c2, c3, c4 = st.columns(4)
    system = c1.text_input("System", key="up_system", placeholder="from the file, else 'default'",
                           help="For rows that name no system (overrides the mapping).")
    sensitive = c2.text_input("Sensitive columns", key="up_sensitive", placeholder="e.g. gender, age_band",
                              help="Comma-separated: the attributes fairness is measured on.")
    features = c3.text_input("Feature columns", key="up_features", placeholder="e.g. income, channel",
                             help="Comma-separated: the attributes drift is measured on.")
    positive = c4.text_input("Positive label", key="up_positive", placeholder="e.g. approve",
                             help="The favourable decision, for fairness metrics.")
    submitted = st.form_submit_button("Ingest", type="primary", icon=":material/upload:")


def _split(text: str) -> list[str] | None:
    values = [v.strip() for v in (text or "").split(",") if v.strip()]
    return values or None


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", Path(name).name) or "upload"


def _start(log, mapping_file) -> str:
    """Keep the upload (and its mapping) next to the store, then ingest it in the background."""
    db = Path(view.db)
    uploads = db.resolve().parent / "uploads"
    uploads.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    path = uploads / f"{stamp}-{_safe_name(log.name)}"
    mapping_path = None
    try:
        if mapping_file is not None:
            mapping_path = jobs.jobs_dir(db) / f".{stamp}-mapping.yaml"
            mapping_path.parent.mkdir(parents=True, exist_ok=True)
            mapping_path.write_bytes(mapping_file.getvalue())
            load_mapping(mapping_path)  # a broken mapping is refused now, before the upload is kept
        jobs.check_idle(db)  # before keeping the file; checked again, under a lock, by jobs.start
        _keep(log, path)  # "x" mode: never overwrites an earlier upload
        return jobs.start(db, path, name=log.name, mapping_file=mapping_path, actor=actor.current(),
                          overrides={"system": system.strip() or None, "sensitive": _split(sensitive),
                                     "features": _split(features), "positive_label": positive.strip() or None})
    except BaseException:
        # a refused or failed start leaves nothing behind: `uploads/` holds evidence of ingested files only
        path.unlink(missing_ok=True)
        if mapping_path is not None:
            mapping_path.unlink(missing_ok=True)
        raise


def _keep(upload, path: Path) -> None:
    """Write the upload to disk in blocks (no second in-memory copy of a large file)."""
    upload.seek(0)
    try:
        with open(path, "xb") as fh:
            shutil.copyfileobj(upload, fh, 1 << 20)
    except BaseException:
        if path.exists() and path.stat().st_size < upload.size:  # ours, cut short
            path.unlink()
        raise


if submitted:
    access.require_action("ingest")  # server side, at the moment of acting
    if log is None:
        st.warning("Choose a decision log file first.")
    else:
        try:
            _start(log, mapping_file)
        except jobs.UploadBusy as exc:
            st.warning(f"Not started: {ui.md(exc)}.")
        except HitlgovError as exc:
            st.error(f"Nothing was ingested: {ui.md(exc)}")
        except OSError as exc:  # e.g. the store's folder is read-only: no place to keep the upload
            st.error(f"Nothing was ingested: cannot write next to the store ({exc.strerror}: {ui.md(exc.filename)}).")
        else:
            st.rerun()
