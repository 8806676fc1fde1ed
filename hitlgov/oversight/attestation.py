"""Attestation: a named person signs off a generated report (name, role, time, statement).

The sign-off names the report by two hashes: the SHA-256 of the PDF file as signed, and the
digest of the evidence it embeds (``hitlgov-evidence.json``: the figures and the parameters
they were computed with). Only a report this store generated can be signed (its
``report_generated`` event carries the same evidence digest), so a sign-off always points at
figures the store can recompute. Each sign-off is a row in ``attestations`` and a
``report_attested`` event in the audit chain, written together; ``hitlgov report --verify``
lists the sign-offs of the report it checks.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from pathlib import Path

from hitlgov import audit, store
from hitlgov.errors import HitlgovError

MAX_LINE = 200
MAX_STATEMENT = 4000
DEFAULT_STATEMENT = ("I have reviewed this report and attest that, to the best of my knowledge, it fairly "
                     "presents the human-oversight evidence for the period it covers.")
COLUMNS = ["attestation_id", "report_file", "file_sha256", "evidence_digest", "system", "period_from", "period_to",
           "name", "role", "statement", "signed_at", "actor"]


def _line(value: str, what: str) -> str:
    value = (value or "").strip()
    if not value or len(value) > MAX_LINE or any(c in value for c in "\r\n\x00"):
        raise HitlgovError(f"--{what}: expected 1 to {MAX_LINE} characters on one line")
    return value


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def attest(db, *, report_file: str | Path, evidence_digest: str, parameters: dict, name: str, role: str,
           statement: str | None = None, actor: str | None = None, now: dt.datetime | None = None) -> dict:
    name, role = _line(name, "name"), _line(role, "role")
    statement = (statement or DEFAULT_STATEMENT).strip()
    if not statement or len(statement) > MAX_STATEMENT or "\x00" in statement:
        raise HitlgovError(f"--statement: expected 1 to {MAX_STATEMENT:,} characters")
    sha = file_sha256(report_file)
    at = (now or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc).replace(tzinfo=None)
    f = parameters.get("filter") or {}
    attestation_id = "ATT-" + uuid.uuid4().hex[:10].upper()
    with store.connect(db) as con, store.transaction(con):
        made = con.execute("SELECT count(*) FROM audit_events WHERE kind = 'report_generated' AND "
                           "json_extract_string(detail, '$.digest') = ?", [evidence_digest]).fetchall()[0][0]
        if not made:
            raise HitlgovError(f"{report_file}: this store has no record of generating this report "
                               f"(evidence digest {evidence_digest[:16]}…); sign off reports in the store that made them")
        con.execute(f"INSERT INTO attestations ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
                    [attestation_id, Path(report_file).name, sha, evidence_digest, f.get("system"), f.get("from"),
                     f.get("to"), name, role, statement, at, actor])
        audit.append_event(con, kind="report_attested", subject=Path(report_file).name, actor=actor, detail={
            "attestation_id": attestation_id, "file_sha256": sha, "evidence_digest": evidence_digest,
            "name": name, "role": role, "statement": statement, "signed_at": at.isoformat() + "Z",
            "rows": audit.record_rows(con, [("attestations", "attestation_id = ?", [attestation_id])])})
    return {"attestation_id": attestation_id, "report_file": Path(report_file).name, "file_sha256": sha,
            "evidence_digest": evidence_digest, "name": name, "role": role, "statement": statement,
            "signed_at": at.isoformat(timespec="seconds") + "Z", "actor": actor}


def for_report(db, evidence_digest: str) -> list[dict]:
    """The sign-offs of a report, oldest first."""
    with store.connect(db, read_only=True) as con:
        rows = con.execute(f"SELECT {', '.join(COLUMNS)} FROM attestations WHERE evidence_digest = ? "
                           "ORDER BY signed_at", [evidence_digest]).fetchall()
    out = []
    for r in rows:
        d = dict(zip(COLUMNS, r))
        d["signed_at"] = d["signed_at"].isoformat(timespec="seconds") + "Z"
        for k in ("period_from", "period_to"):
            d[k] = d[k].isoformat() if d[k] else None
        out.append(d)
    return out
