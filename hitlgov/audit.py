"""Append-only, hash-chained audit events.

Each event's ``hash`` is the SHA-256 of its own content *and* the previous event's hash, so
changing, deleting or inserting any row breaks every link after it. :func:`verify_chain` walks
the chain and names the first broken link. Events are written inside the caller's transaction:
an ingestion that rolls back leaves no event behind.
"""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone

import duckdb

GENESIS = "0" * 64


def _digest(seq: int, at: str, kind: str, actor: str | None, subject: str | None, detail: str,
            prev_hash: str) -> str:
    content = json.dumps([seq, at, kind, actor, subject, detail, prev_hash], separators=(",", ":"))
    return hashlib.sha256(content.encode("utf-8")).hexdigest()


def _canonical(detail) -> str:
    return json.dumps(detail, sort_keys=True, separators=(",", ":"), default=str)


def append_event(con: duckdb.DuckDBPyConnection, *, kind: str, subject: str | None = None,
                 detail=None, actor: str | None = None) -> str:
    """Append one event after the current head; return its hash."""
    head = con.execute("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1").fetchone()
    seq, prev = (head[0] + 1, head[1]) if head else (1, GENESIS)
    at = datetime.now(timezone.utc).replace(tzinfo=None)
    at_text = at.isoformat(timespec="microseconds")
    body = _canonical(detail if detail is not None else {})
    digest = _digest(seq, at_text, kind, actor, subject, body, prev)
    con.execute("INSERT INTO audit_events VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [seq, at, kind, actor, subject, body, prev, digest])
    return digest


def verify_chain(con: duckdb.DuckDBPyConnection) -> dict:
    """Recompute every link. Returns ``{"ok", "events", "head", "broken_at", "problem"}``."""
    rows = con.execute(
        "SELECT seq, event_at, kind, actor, subject, CAST(detail AS VARCHAR), prev_hash, hash FROM audit_events ORDER BY seq"
    ).fetchall()
    prev, expected_seq = GENESIS, 1
    for seq, at, kind, actor, subject, detail, prev_hash, digest in rows:
        problem = None
        if seq != expected_seq:
            problem = f"sequence jumps from {expected_seq - 1} to {seq} (an event was deleted or inserted)"
        elif prev_hash != prev:
            problem = "prev_hash does not match the previous event's hash (an event was deleted or inserted)"
        elif _digest(seq, at.isoformat(timespec="microseconds"), kind, actor, subject, detail, prev_hash) != digest:
            problem = "content does not match its hash (the event was changed)"
        if problem:
            return {"ok": False, "events": len(rows), "head": rows[-1][7], "broken_at": seq, "problem": problem}
        prev, expected_seq = digest, seq + 1
    return {"ok": True, "events": len(rows), "head": prev if rows else None, "broken_at": None, "problem": None}
