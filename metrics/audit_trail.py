"""The auditor's view of the store: find cases, read one case's full history, export, check the chain.

* :func:`search_cases` -- the cases in the filter that match a text (case id or a reviewer's
  rationale), a reviewer and/or whether review overrode the model, newest first, one page at a
  time (only the page leaves the engine).
* :func:`case_history` -- one case: its model fields and effective final decision, attributes,
  reviews in the order they were completed, and the audit events that mention it (the
  ``ingestion`` event of each run that stored part of it, whose Merkle roots commit to its rows).
* :func:`audit_events` -- the hash-chained audit log, newest first, paginated.
* :func:`chain_status` / :func:`store_verification` -- :func:`hitlgov.audit.verify_chain` /
  :func:`hitlgov.audit.verify` on the embedded store (chain, checkpoints, rows re-hashed).
* :func:`export_rows` -- the searched view as rows for a CSV export: one row per review (a case
  without a review has one row with empty review fields), the shape of the canonical log.
"""
from __future__ import annotations

import json

import ibis
import ibis.expr.types as ir
import pandas as pd
from hitlgov.metrics._values import plain, records
from hitlgov.metrics.source import Filter, Source

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
CASE_COLUMNS = ("system", "case_id", "ts", "model_version", "model_decision", "model_score", "final",
                "outcome", "n_reviews", "overridden", "escalated")
REVIEW_COLUMNS = ("reviewer_id", "human_decision", "review_started_at", "review_completed_at",
                  "review_seconds", "escalated", "rationale")


def _key(t: ir.Table) -> ir.StringValue:
    return t.system + "\x1f" + t.case_id


def _matching_cases(source: Source, flt: Filter, *, text: str | None, reviewer: str | None,
                    overridden: bool | None) -> ir.Table:
    """The cases of the filter narrowed by the search fields (see :func:`search_cases`)."""
    c = source.cases(flt)
    r = source.table("reviews")
    if reviewer:
        by = r.filter(r.reviewer_id == reviewer).select("system", "case_id").distinct()
        c = c.semi_join(by, ["system", "case_id"])
    if overridden is not None:
        c = c.filter(c.overridden == bool(overridden))
    text = (text or "").strip()
    if text:
        needle = text.lower()
        said = r.filter(r.rationale.lower().contains(needle))
        c = c.filter(c.case_id.lower().contains(needle) | _key(c).isin(_key(said)))
    return c


def search_cases(source: Source, flt: Filter = Filter(), *, text: str | None = None, reviewer: str | None = None,
                 overridden: bool | None = None, page: int = 1, page_size: int = DEFAULT_PAGE_SIZE) -> dict:
    """One page of the matching cases, newest decision first.

    ``text`` matches (case-insensitively) a part of the case id or of any review's rationale;
    ``reviewer`` keeps the cases that reviewer reviewed; ``overridden`` True/False keeps the
    reviewed cases whose final decision differs / does not differ from the model's.
    Returns ``{"total", "page", "page_size", "pages", "rows"}``; each row has the case fields,
    the effective ``final`` decision, ``n_reviews``, ``overridden``, ``escalated`` and
    ``reviewers`` (comma-separated, in review order). ``page`` is clamped to the last page.
    """
    page_size = max(1, min(int(page_size), MAX_PAGE_SIZE))
    c = _matching_cases(source, flt, text=text, reviewer=reviewer, overridden=overridden)
    total = int(c.count().to_pandas())
    pages = max(1, -(-total // page_size))
    page = max(1, min(int(page), pages))
    # The first page * page_size cases (a top-N on every engine), then the page's rows of those
    # by an explicit row number: LIMIT .. OFFSET compiles to an unordered filter on some engines.
    order = [c.ts.desc(), c.system.asc(), c.case_id.asc()]
    top = c.order_by(order).limit(page * page_size).select(*CASE_COLUMNS)
    top = top.mutate(_rn=ibis.row_number().over(order_by=[top.ts.desc(), top.system.asc(), top.case_id.asc()]))
    rows = (top.filter(top._rn >= (page - 1) * page_size).order_by("_rn").select(*CASE_COLUMNS)
            .to_pandas())
    if not rows.empty:
        r = source.table("reviews")
        keys = ibis.memtable(rows[["system", "case_id"]])
        rv = r.semi_join(keys, ["system", "case_id"]).select(
            "system", "case_id", "reviewer_id", done=r.review_completed_at.coalesce(r.review_started_at)
        ).to_pandas()
        if not rv.empty:
            rv = rv.sort_values(["system", "case_id", "done", "reviewer_id"], na_position="last")
            names = rv.groupby(["system", "case_id"], sort=False)["reviewer_id"].agg(", ".join)
            rows = rows.merge(names.rename("reviewers").reset_index(), on=["system", "case_id"], how="left")
        else:
            rows["reviewers"] = None
    return {"total": total, "page": page, "page_size": page_size, "pages": pages,
            "rows": records(rows) if not rows.empty else []}


def case_history(source: Source, system: str, case_id: str) -> dict:
    """Everything the store knows about one case.

    Returns ``{"found", "case", "attributes", "reviews", "events"}``: ``case`` holds the model
    fields, ``final`` (SCHEMA §1 default applied), ``overridden``, ``n_reviews`` and the ingestion
    ``run_id``/``source_row``; ``reviews`` are ordered by completion (then start) time and carry
    ``overrode`` (human decision differs from the model's); ``events`` are the audit events about
    the case, in chain order.
    """
    flt = Filter(system=system)
    c = source.cases(flt)
    case = c.filter(c.case_id == case_id).to_pandas()
    if case.empty:
        return {"found": False, "case": None, "attributes": [], "reviews": [], "events": []}
    case_row = plain(case.iloc[0].to_dict())
    a = source.table("case_attributes")
    attrs = a.filter(a.system == system, a.case_id == case_id).select("name", "value").order_by("name").to_pandas()
    r = source.table("reviews")
    rv = r.filter(r.system == system, r.case_id == case_id)
    rv = rv.mutate(overrode=rv.human_decision != ibis.literal(case_row["model_decision"]))
    rv = rv.order_by([rv.review_completed_at.coalesce(rv.review_started_at).asc(nulls_first=False),
                      "reviewer_id"]).select(*REVIEW_COLUMNS, "overrode", "run_id", "source_row").to_pandas()
    # (an engine source has no ingestion runs: run_id is empty there)
    runs = {int(x) for x in [case_row.get("run_id"), *rv["run_id"].dropna()] if x is not None}
    e = source.table("audit_events")
    prefix = f"{system}/{case_id}/"
    about = e.filter(e.subject.startswith(prefix) | (e.subject == f"{system}/{case_id}"))
    about = about.select("seq", "event_at", "kind", "actor", "subject", "hash",
                         detail=about.detail.cast("string")).to_pandas()
    ingest = e.filter(e.kind == "ingestion").select("seq", "event_at", "kind", "actor", "subject", "hash",
                                                    detail=e.detail.cast("string")).to_pandas()
    if not ingest.empty:
        ingest = ingest[[_run_of(d) in runs for d in ingest["detail"]]]
    events = pd.concat([df for df in (about, ingest) if not df.empty] or [about]).sort_values("seq")
    return {"found": True, "case": case_row, "attributes": records(attrs), "reviews": records(rv),
            "events": records(events)}


def _run_of(detail: str | None) -> int | None:
    try:
        return int(json.loads(detail or "{}").get("run_id"))
    except (TypeError, ValueError, AttributeError):
        return None


def audit_events(source: Source, *, limit: int = 50, offset: int = 0, kind: str | None = None) -> dict:
    """The audit log newest first: ``{"total", "rows"}`` with seq, time, kind, actor, subject,
    detail (JSON text), prev_hash and hash."""
    e = source.table("audit_events")
    if kind:
        e = e.filter(e.kind == kind)
    total = int(e.count().to_pandas())
    df = (e.order_by(e.seq.desc()).limit(max(1, int(limit)), offset=max(0, int(offset)))
          .select("seq", "event_at", "kind", "actor", "subject", "prev_hash", "hash", detail=e.detail.cast("string"))
          .to_pandas())
    return {"total": total, "rows": records(df)}


def event_kinds(source: Source) -> list[dict]:
    """``[{"kind", "events"}]``: how many audit events of each kind the chain holds."""
    e = source.table("audit_events")
    df = e.group_by("kind").aggregate(events=e.count()).order_by("kind").to_pandas()
    return records(df)


def chain_status(source: Source) -> dict:
    """Walk the audit hash chain (``{"ok", "events", "head", "broken_at", "problem"}``).

    ``ok`` is None when the source is not the embedded store (no chain to walk).
    """
    if source.raw is None:
        return {"ok": None, "events": 0, "head": None, "broken_at": None,
                "problem": "the audit chain lives in the embedded DuckDB store only"}
    from hitlgov import audit

    return audit.verify_chain(source.raw)


def store_verification(source: Source) -> dict:
    """The chain, then the stored data against it (:func:`hitlgov.audit.verify_store`)."""
    if source.raw is None:
        return {"ok": None, "chain": chain_status(source), "problems": []}
    from hitlgov import audit

    return audit.verify(source.raw)


def export_rows(source: Source, flt: Filter = Filter(), *, text: str | None = None, reviewer: str | None = None,
                overridden: bool | None = None, limit: int | None = None) -> pd.DataFrame:
    """The searched view for export: one row per review (cases without one: one row), newest first.

    Columns: the case fields, the effective final decision, whether review overrode the model,
    then the review fields. ``limit`` bounds the number of *cases* exported.
    """
    c = _matching_cases(source, flt, text=text, reviewer=reviewer, overridden=overridden)
    c = c.select("system", "case_id", "ts", "model_version", "model_decision", "model_score", "final",
                 "outcome", "overridden")
    if limit:
        c = c.order_by([c.ts.desc(), "system", "case_id"]).limit(int(limit))
    r = source.table("reviews").select("system", "case_id", *REVIEW_COLUMNS)
    j = c.left_join(r, ["system", "case_id"]).select(c, *[r[k] for k in REVIEW_COLUMNS])
    j = j.order_by([j.ts.desc(), "system", "case_id",
                    j.review_completed_at.coalesce(j.review_started_at).asc(nulls_first=False), "reviewer_id"])
    df = j.to_pandas()
    return df.rename(columns={"final": "final_decision"})
