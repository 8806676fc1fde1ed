"""Append-only, hash-chained audit events, and verification of the store against them.

Each event's ``hash`` is the SHA-256 of its own content *and* the previous event's hash, so
changing, deleting or inserting any event breaks the chain at that point. The data is tied to
the chain too:

* every stored review gets a ``review_stored`` event carrying the SHA-256 of the review's
  content (computed in SQL by :data:`REVIEW_CONTENT`);
* every ingestion run's event carries a digest of the cases and attributes it stored.

:func:`verify_store` walks the chain, then recomputes those content hashes from the tables, so
a review or case edited directly in the DuckDB file is caught even when the events are intact.
Events are written inside the caller's transaction: an ingestion that rolls back leaves none.
"""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import pandas as pd

GENESIS = "0" * 64

# Canonical text of a row, in SQL so ingestion and verification hash exactly the same bytes.
REVIEW_CONTENT = ("sha256(concat_ws('\x1f', system, case_id, reviewer_id, human_decision, "
                  "coalesce(CAST(review_started_at AS VARCHAR), ''), coalesce(CAST(review_completed_at AS VARCHAR), ''), "
                  "coalesce(CAST(review_seconds AS VARCHAR), ''), coalesce(CAST(escalated AS VARCHAR), ''), "
                  "coalesce(rationale, ''), "
                  # issue 17's field: NULL is skipped by concat_ws, so hashes of reviews without it
                  # (every review stored before migration 2) are unchanged
                  "CASE WHEN human_initial_decision IS NOT NULL THEN 'initial=' || human_initial_decision END, "
                  "CAST(run_id AS VARCHAR)))")
CASE_CONTENT = ("sha256(concat_ws('\x1f', system, case_id, CAST(ts AS VARCHAR), coalesce(model_version, ''), "
                "model_decision, coalesce(CAST(model_score AS VARCHAR), ''), coalesce(final_decision, ''), "
                "coalesce(outcome, ''), "
                # issue 17's fields, only when one is set (older cases hash as before)
                "CASE WHEN canary IS NOT NULL OR audit_sample IS NOT NULL OR audit_probability IS NOT NULL "
                "THEN concat('reliance=', coalesce(CAST(canary AS VARCHAR), ''), '/', "
                "coalesce(CAST(audit_sample AS VARCHAR), ''), '/', coalesce(CAST(audit_probability AS VARCHAR), '')) END, "
                "CAST(run_id AS VARCHAR)))")


# Module-level encoders: json.dumps(..., separators=...) builds a new encoder per call, which
# dominated the cost of chaining one event per stored review. Output is byte-identical.
_LINK = json.JSONEncoder(separators=(",", ":"))
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=str)


def _digest(seq: int, at: str, kind: str, actor: str | None, subject: str | None, detail: str,
            prev_hash: str) -> str:
    content = _LINK.encode([seq, at, kind, actor, subject, detail, prev_hash])
    return hashlib.sha256(content.encode("utf-8")).hexdigest()


def _canonical(detail) -> str:
    return _CANONICAL.encode(detail)


def _head(con: duckdb.DuckDBPyConnection) -> tuple[int, str]:
    # fetchall, not fetchone: DuckDB 2 refuses con.append() while a result is left unfinished.
    head = con.execute("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1").fetchall()
    return (head[0][0], head[0][1]) if head else (0, GENESIS)


def _now() -> tuple[datetime, str]:
    at = datetime.now(timezone.utc).replace(tzinfo=None)
    return at, at.isoformat(timespec="microseconds")


def append_event(con: duckdb.DuckDBPyConnection, *, kind: str, subject: str | None = None,
                 detail=None, actor: str | None = None) -> str:
    """Append one event after the current head; return its hash."""
    return append_events(con, [(kind, subject, detail if detail is not None else {})], actor=actor)


def append_events(con: duckdb.DuckDBPyConnection, events: list[tuple[str, str | None, object]], *,
                  actor: str | None = None) -> str:
    """Append ``(kind, subject, detail)`` events in order, as one bulk insert; return the new head."""
    if not events:
        return _head(con)[1]
    if actor is None:  # every event names who acted (see hitlgov.actor); callers may pass it explicitly
        from hitlgov.actor import current

        actor = current()
    seq, prev = _head(con)
    at, at_text = _now()
    rows = []
    for kind, subject, detail in events:
        seq += 1
        body = _canonical(detail)
        digest = _digest(seq, at_text, kind, actor, subject, body, prev)
        rows.append((seq, at, kind, actor, subject, body, prev, digest))
        prev = digest
    frame = pd.DataFrame(rows, columns=["seq", "event_at", "kind", "actor", "subject", "detail", "prev_hash", "hash"])
    con.append("audit_events", frame, by_name=True)
    return prev


def _multiset_digest(con: duckdb.DuckDBPyConnection, row_hashes_sql: str, params: list) -> tuple[str, int]:
    """SHA-256 over a set of row hashes, independent of row order: a two-level Merkle tree
    (rows bucketed by the first three hex digits of their hash; each bucket's sorted hashes
    hashed; then the buckets', in bucket order), so no single huge string is built however
    many rows there are.

    The row hashes are written once to a temporary table and the buckets are hashed 1/16 at a
    time (by the first hex digit): DuckDB cannot spill an ordered ``string_agg``, so hashing all
    buckets in one query needed memory for every row hash at once (about 1 GB per 8M rows).
    """
    con.execute(f"CREATE OR REPLACE TEMP TABLE hitlgov_digest_rows AS "
                f"SELECT left(h, 3) AS b, h FROM ({row_hashes_sql})", params)
    try:
        buckets: list[tuple[str, str, int]] = []
        for digit in "0123456789abcdef":
            buckets += con.execute(
                "SELECT b, sha256(string_agg(h, '' ORDER BY h)), count(*) FROM hitlgov_digest_rows "
                "WHERE left(b, 1) = ? GROUP BY b", [digit]).fetchall()
    finally:
        con.execute("DROP TABLE IF EXISTS hitlgov_digest_rows")
    buckets.sort()
    digest = hashlib.sha256("".join(bh for _b, bh, _n in buckets).encode("ascii")).hexdigest()
    return digest, int(sum(n for _b, _bh, n in buckets))


def run_digests(con: duckdb.DuckDBPyConnection, run_id: int) -> dict:
    """Digests of the cases and the case attributes one ingestion run stored."""
    cases = _multiset_digest(con, f"SELECT {CASE_CONTENT} AS h FROM cases WHERE run_id = ?", [run_id])
    attrs = _multiset_digest(
        con, "SELECT sha256(concat_ws('\x1f', system, case_id, name, coalesce(value, ''))) AS h "
             "FROM case_attributes WHERE run_id = ?", [run_id])
    return {"cases_sha256": cases[0], "cases": cases[1], "attributes_sha256": attrs[0], "attributes": attrs[1]}


def record_review_events(con: duckdb.DuckDBPyConnection, run_id: int, *, rows_per_batch: int = 250_000) -> None:
    """One ``review_stored`` event per review the run stored, in source-row order.

    Read and chained ``rows_per_batch`` source rows at a time, so the Python side holds one
    batch of events, not every review of a 10M-row file."""
    lo, hi = con.execute("SELECT min(source_row), max(source_row) FROM reviews WHERE run_id = ?",
                         [run_id]).fetchall()[0]
    if lo is None:
        return
    for start in range(lo, hi + 1, rows_per_batch):
        rows = con.execute(
            f"SELECT system, case_id, reviewer_id, source_row, {REVIEW_CONTENT} FROM reviews "
            "WHERE run_id = ? AND source_row >= ? AND source_row < ? ORDER BY source_row, reviewer_id",
            [run_id, start, start + rows_per_batch]).fetchall()
        append_events(con, [("review_stored", f"{s}/{c}/{r}", {"run_id": run_id, "row": row, "sha256": h})
                            for s, c, r, row, h in rows])


def verify_chain(con: duckdb.DuckDBPyConnection) -> dict:
    """Recompute every link. Returns ``{"ok", "events", "head", "broken_at", "problem"}``."""
    rows = con.execute(
        "SELECT seq, event_at, kind, actor, subject, CAST(detail AS VARCHAR), prev_hash, hash FROM audit_events ORDER BY seq"
    ).fetchall()
    prev, expected_seq = GENESIS, 1
    for seq, at, kind, actor, subject, detail, prev_hash, digest in rows:
        problem = None
        if seq != expected_seq:
            problem = (f"sequence jumps from {expected_seq - 1} to {seq}: event(s) deleted"
                       if seq > expected_seq else f"sequence {seq} repeated: an event was inserted")
        elif prev_hash != prev:
            problem = "prev_hash does not match the previous event's hash: an event was deleted or inserted before it"
        elif _digest(seq, at.isoformat(timespec="microseconds"), kind, actor, subject, detail, prev_hash) != digest:
            problem = "content does not match its hash: the event was changed"
        if problem:
            return {"ok": False, "events": len(rows), "head": rows[-1][7], "broken_at": seq, "problem": problem}
        prev, expected_seq = digest, seq + 1
    return {"ok": True, "events": len(rows), "head": prev if rows else None, "broken_at": None, "problem": None}


def verify_store(con: duckdb.DuckDBPyConnection, *, limit: int = 10) -> dict:
    """The chain, then the data against it: reviews per event, cases/attributes per run."""
    chain = verify_chain(con)
    problems: list[str] = []
    if not chain["ok"]:
        problems.append(f"audit chain broken at event {chain['broken_at']}: {chain['problem']}")
    review_rows = con.execute(
        f"""WITH ev AS (
              SELECT subject, json_extract_string(detail, '$.sha256') AS h FROM audit_events WHERE kind = 'review_stored'),
            rv AS (SELECT system || '/' || case_id || '/' || reviewer_id AS subject, {REVIEW_CONTENT} AS h FROM reviews)
            SELECT coalesce(ev.subject, rv.subject),
                   CASE WHEN rv.subject IS NULL THEN 'review deleted (its audit event has no row)'
                        WHEN ev.subject IS NULL THEN 'review inserted without an audit event'
                        ELSE 'review changed after it was stored' END
            FROM ev FULL OUTER JOIN rv ON ev.subject = rv.subject
            WHERE ev.h IS DISTINCT FROM rv.h ORDER BY 1 LIMIT ?""", [limit]).fetchall()
    problems += [f"{what}: {subject}" for subject, what in review_rows]
    # The tables carry no PRIMARY KEY (bulk loads are several times faster without the index);
    # the pipeline guarantees uniqueness, and this check proves nobody broke it afterwards.
    for table, key in (("cases", "system, case_id"), ("reviews", "system, case_id, reviewer_id"),
                       ("case_attributes", "system, case_id, name")):
        dupes = con.execute(f"SELECT concat_ws('/', {key}), count(*) FROM {table} GROUP BY ALL "
                            "HAVING count(*) > 1 ORDER BY 1 LIMIT ?", [limit]).fetchall()
        problems += [f"duplicate row in {table} ({n} copies): {k}" for k, n in dupes]
    runs = con.execute(
        "SELECT json_extract(detail, '$.run_id')::BIGINT, CAST(detail AS VARCHAR) FROM audit_events "
        "WHERE kind = 'ingestion' ORDER BY seq").fetchall()
    for run_id, detail in runs:
        recorded = json.loads(detail)
        if "cases_sha256" not in recorded:
            continue
        now = run_digests(con, run_id)
        for key, label in (("cases_sha256", "cases"), ("attributes_sha256", "case attributes")):
            if now[key] != recorded[key]:
                problems.append(f"{label} stored by ingestion run {run_id} changed "
                                f"({recorded[key.replace('_sha256', '')]} recorded, {now[key.replace('_sha256', '')]} now)")
    return {"ok": not problems, "chain": chain, "problems": problems}


def record_event(db: str | Path | None, *, kind: str, subject: str | None = None, detail=None,
                 actor: str | None = None) -> str:
    """Append one event with a short write connection (for the read-only app and reports)."""
    from hitlgov import store

    with store.connect(db) as con, store.transaction(con):
        digest = append_event(con, kind=kind, subject=subject, detail=detail, actor=actor)
    return digest


def record_policy_use(db: str | Path | None, *, sha256: str, source: str, name: str,
                      actor: str | None = None) -> bool:
    """Append ``policy_changed`` when the store is evaluated under a policy whose content differs
    from the last one recorded (the first evaluation counts as a change from none).

    Findings are only as meaningful as their thresholds: an auditor must be able to see when the
    thresholds moved and from what to what. Returns whether an event was appended.
    """
    from hitlgov import store

    with store.connect(db) as con, store.transaction(con):
        last = con.execute(
            "SELECT json_extract_string(detail, '$.sha256') FROM audit_events WHERE kind = 'policy_changed' "
            "ORDER BY seq DESC LIMIT 1").fetchall()
        previous = last[0][0] if last else None
        changed = previous != sha256
        if changed:
            append_event(con, kind="policy_changed", subject=source, actor=actor,
                         detail={"name": name, "source": source, "sha256": sha256, "previous_sha256": previous})
    return changed
