"""What the store holds: counts, period covered, ingestion runs, quarantine, retention.

EU AI Act Art. 19 and Art. 26(6) ask that automatically generated logs be kept for at least
six months. :func:`retention` states the period the log actually covers and flags a store that
covers less than the configured minimum, or that has gaps (days without any decision) longer
than ``max_gap_days`` -- a gap in a log is as much a finding as a short log.
"""
from __future__ import annotations

import datetime as dt

import ibis
import pandas as pd
from hitlgov.metrics._values import plain, records
from hitlgov.metrics.source import READABLE_FROM, READABLE_UNTIL, Filter, Source

from hitlgov.limits import MAX_REVIEW_SECONDS

DEFAULT_RETENTION_MONTHS = 6
DEFAULT_MAX_GAP_DAYS = 7


def counts(source: Source, flt: Filter = Filter()) -> dict:
    """SCHEMA §3 ``counts``: rows stored (reviews + unreviewed cases), cases, reviews, reviewed cases."""
    c = source.cases(flt)
    row = c.aggregate(
        cases=c.count(),
        reviewed_cases=c.reviewed.cast("int64").sum(),
        reviews=c.n_reviews.sum(),
        first=c.ts.min(),
        last=c.ts.max(),
    ).to_pandas().iloc[0]
    cases, reviewed, reviews = int(row["cases"]), int(row["reviewed_cases"] or 0), int(row["reviews"] or 0)
    return {
        "rows_stored": reviews + (cases - reviewed),
        "cases": cases,
        "reviews": reviews,
        "reviewed_cases": reviewed,
        "first_decision": plain(row["first"]),
        "last_decision": plain(row["last"]),
    }


def outside_read_window(source: Source, *, system: str | None = None) -> dict:
    """Stored rows the read window leaves out, so no figure silently omits them.

    Every read goes through :meth:`Source.table`'s window (``ts`` in 1970-01-01 .. 2262-01-01;
    review times outside it and review seconds above one year read as missing): ingestion
    quarantines such values, but a store written by an older version may hold them. This counts,
    on the stored tables themselves, what the window hides:

    * ``cases``: cases whose ``ts`` lies outside (left out, with their reviews);
    * ``rows``: the stored rows those cases are (their reviews, plus each unreviewed one once --
      the unit of ``counts.rows_stored``);
    * ``review_times``: reviews of shown cases with a start or completion time outside (read as missing);
    * ``review_seconds``: reviews of shown cases with review seconds above one year (read as missing).
    """
    window = {"from": READABLE_FROM[:10], "until": READABLE_UNTIL[:10]}
    if not source.read_window:  # another engine's relations are read as they are: nothing is hidden
        return {"rows": 0, "cases": 0, "review_times": 0, "review_seconds": 0, "window": window}
    lo, hi = ibis.timestamp(READABLE_FROM), ibis.timestamp(READABLE_UNTIL)
    c, r = source.backend.table("cases"), source.backend.table("reviews")
    if system is not None:
        c, r = c.filter(c.system == system), r.filter(r.system == system)
    inside = (c.ts >= lo) & (c.ts < hi)
    # joined on the integer case key where the store has one (Source.key): the semi-join of every
    # review with every shown case on (system, case_id) strings was the costliest query of this count
    key = list(source.key)
    hidden = c.filter(~inside).select(*key)
    shown = c.filter(inside).select(*key)
    hidden_cases = int(hidden.count().to_pandas())
    hidden_reviews = int(r.semi_join(hidden, key).count().to_pandas()) if hidden_cases else 0
    unreviewed = int(hidden.anti_join(r, key).count().to_pandas()) if hidden_cases else 0
    rs = r.semi_join(shown, key)

    def outside(col):
        return col.notnull() & ((col < lo) | (col >= hi))

    row = rs.aggregate(
        times=(outside(rs.review_started_at) | outside(rs.review_completed_at)).cast("int64").sum(),
        seconds=(rs.review_seconds > MAX_REVIEW_SECONDS).cast("int64").sum(),
    ).to_pandas().iloc[0]
    return {"rows": hidden_reviews + unreviewed, "cases": hidden_cases,
            "review_times": int(row["times"] or 0), "review_seconds": int(row["seconds"] or 0),
            "window": window}


def read_window_notice(hidden: dict | None) -> str | None:
    """One line for people about :func:`outside_read_window`'s counts, or None when nothing is hidden."""
    if not hidden:
        return None
    parts = []
    if hidden["rows"]:
        parts.append(f"{hidden['rows']:,} stored row{'s' if hidden['rows'] != 1 else ''} "
                     f"({hidden['cases']:,} case{'s' if hidden['cases'] != 1 else ''}) "
                     f"{'have' if hidden['rows'] != 1 else 'has'} timestamps outside 1970-2262 and "
                     f"{'are' if hidden['rows'] != 1 else 'is'} not shown")
    missing = hidden["review_times"] + hidden["review_seconds"]
    if missing:
        parts.append(f"{hidden['review_times']:,} review time(s) outside 1970-2262 and {hidden['review_seconds']:,} "
                     "review duration(s) over one year are read as missing")
    if not parts:
        return None
    return "; ".join(parts) + " (written by an older version; today's ingestion quarantines such values)"


def systems_overview(source: Source) -> list[dict]:
    c = source.table("cases")
    df = c.group_by("system").aggregate(cases=c.count(), first=c.ts.min(), last=c.ts.max()).to_pandas()
    return records(df.sort_values("system"))


def ingestion_runs(source: Source, *, limit: int = 20) -> list[dict]:
    t = source.table("ingestion_runs")
    df = t.order_by(t.run_id.desc()).limit(limit).drop("options").to_pandas()
    return records(df)


def quarantine_summary(source: Source, *, top: int = 10, run_ids: list[int] | None = None) -> dict:
    """Quarantined rows, and the most common reasons (values in quotes folded together).

    ``run_ids`` limits both to the rows of those ingestion runs (a report's input files)."""
    if run_ids is not None and not run_ids:  # no run in scope (e.g. an engine source): nothing to read
        return {"quarantined_rows": 0, "top_reasons": []}
    q = source.table("quarantine")
    if run_ids is not None:
        q = q.filter(q.run_id.isin([int(r) for r in run_ids]))
    total = int(q.count().to_pandas())
    reason = q.reason.re_replace(r"'[^']*'", "'…'").re_replace(r"\d+", "N")
    k = q.mutate(kind=reason)
    df = (k.group_by(["field", "kind"]).aggregate(rows=k.count())
          .order_by([lambda t: t.rows.desc(), "kind"]).limit(top).to_pandas())
    return {"quarantined_rows": total, "top_reasons": records(df.rename(columns={"kind": "reason"}))}


def runs_in_scope(source: Source, flt: Filter = Filter()) -> list[dict]:
    """The ingestion runs that stored a case or a review of the filter, oldest first.

    Each is the run's record (file, SHA-256 of the file, format, rows read / stored / duplicates /
    quarantined, times) plus ``cases_in_scope`` and ``reviews_in_scope``: how many of the filter's
    cases and reviews that run stored. These are the input files a report's figures rest on.
    """
    c = source.cases(flt)
    cases = c.group_by("run_id").aggregate(cases_in_scope=c.count()).to_pandas()
    r = source.reviews(flt)
    reviews = r.group_by("run_id").aggregate(reviews_in_scope=r.count()).to_pandas()
    df = cases.merge(reviews, on="run_id", how="outer")
    df = df[df["run_id"].notna()]  # an engine source's rows come from no ingestion run
    if df.empty:
        return []
    t = source.table("ingestion_runs")
    runs = t.filter(t.run_id.isin([int(x) for x in df["run_id"]])).drop("options").to_pandas()
    df = runs.merge(df, on="run_id", how="left").sort_values("run_id")
    df["cases_in_scope"] = df["cases_in_scope"].fillna(0).astype("int64")
    df["reviews_in_scope"] = df["reviews_in_scope"].fillna(0).astype("int64")
    return records(df)


def quarantine_rows(source: Source, *, limit: int | None = None):
    """Quarantined rows as a DataFrame (file, row, field, reason, raw source values)."""
    q = source.table("quarantine").order_by(["run_id", "row_number"])
    if limit:
        q = q.limit(limit)
    return q.to_pandas()


def retention(source: Source, flt: Filter = Filter(), *, minimum_months: int = DEFAULT_RETENTION_MONTHS,
              max_gap_days: int = DEFAULT_MAX_GAP_DAYS) -> dict:
    """Period covered by the decision log in the filter, and whether it meets the minimum."""
    c = source.decisions(flt.but(start=None, end=None))
    days = c.select(day=c.ts.date()).distinct().to_pandas()["day"]
    if days.empty:
        return {"covered_from": None, "covered_to": None, "covered_days": 0, "minimum_months": minimum_months,
                "meets_minimum": False, "gaps": [], "max_gap_days": max_gap_days, "status": "fail",
                "message": "the store holds no decisions"}
    days = pd.to_datetime(days).sort_values().dt.date.reset_index(drop=True)
    first, last = days.iloc[0], days.iloc[-1]
    required_from = _months_before(last, minimum_months)
    gaps = []
    for a, b in zip(days.iloc[:-1], days.iloc[1:]):
        missing = (b - a).days - 1
        if missing > max_gap_days:
            gaps.append({"from": (a + dt.timedelta(days=1)).isoformat(),
                         "to": (b - dt.timedelta(days=1)).isoformat(), "days": missing})
    meets = first <= required_from
    status = "pass" if meets and not gaps else "fail" if not meets else "warn"
    message = (f"log covers {first} to {last} ({(last - first).days + 1} days)"
               + ("" if meets else f", less than the {minimum_months}-month minimum (needs data from {required_from})")
               + (f"; {len(gaps)} gap(s) longer than {max_gap_days} days" if gaps else ""))
    return {"covered_from": first.isoformat(), "covered_to": last.isoformat(),
            "covered_days": (last - first).days + 1, "minimum_months": minimum_months, "meets_minimum": meets,
            "gaps": gaps, "max_gap_days": max_gap_days, "status": status, "message": message}


def _months_before(day: dt.date, months: int) -> dt.date:
    """The same day ``months`` calendar months earlier, plus one day (a covered window of N months)."""
    y, m = divmod(day.month - 1 - months, 12)
    year, month = day.year + y, m + 1
    import calendar

    d = min(day.day, calendar.monthrange(year, month)[1])
    return dt.date(year, month, d) + dt.timedelta(days=1)


def completeness(source: Source, flt: Filter = Filter()) -> dict:
    """Share of reviews carrying the audit fields an auditor expects: reviewer, time, rationale."""
    r = source.reviews(flt)
    row = r.aggregate(
        reviews=r.count(),
        with_timestamp=(r.review_completed_at.notnull() | r.review_started_at.notnull()).cast("int64").sum(),
        with_seconds=r.review_seconds.count(),
        with_rationale=r.rationale.count(),
    ).to_pandas().iloc[0]
    n = int(row["reviews"])
    share = (lambda k: None if n == 0 else int(row[k] or 0) / n)
    return {"reviews": n, "reviewer_id": 1.0 if n else None, "review_timestamp": share("with_timestamp"),
            "review_seconds": share("with_seconds"), "rationale": share("with_rationale")}


def system_catalog(source: Source) -> list[dict]:
    """``[{"system", "cases", "reviewed_cases", "reviews", "first", "last"}]`` sorted by system."""
    c = source.cases(Filter())
    df = c.group_by("system").aggregate(
        cases=c.count(),
        reviewed_cases=c.reviewed.cast("int64").sum(),
        reviews=c.n_reviews.sum(),
        first=c.ts.min(),
        last=c.ts.max(),
    ).to_pandas()
    if df.empty:
        return []
    return records(df.sort_values("system"))


def system_context(source: Source, *, system: str | None) -> dict:
    """What the filters offer for one system: its model versions, the values of each sensitive
    attribute, and its configuration (positive label, label order, sensitive and feature columns)."""
    flt = Filter(system=system)
    cfg = source.config(system)
    return {
        "system": system,
        "versions": source.model_versions(flt),
        "segments": source.segments(flt),
        "positive_label": cfg.positive_label,
        "label_order": cfg.label_order,
        "sensitive": cfg.sensitive,
        "features": cfg.features,
    }
