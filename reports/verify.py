"""Re-verify a report: do the figures it shows still follow from the store?

:func:`verify_report` reads the evidence attached to the PDF (``hitlgov-evidence.json``, with
pypdf) and checks, in order:

1. the attachment is intact: its digest matches its own parameters and values, and the digest
   in the PDF's metadata (keywords) is the same -- an edited attachment or a swapped one fails;
2. the figures still follow from the store: the values are recomputed with the recorded
   parameters (filter, bootstrap and seed) and the recorded policy -- its text travels in the
   attachment and must still hash to the recorded SHA-256 -- pseudonymised again with the same
   key when the report was, and digested; the differing values are named;
3. the store *as of the report's checkpoint* (the signed head embedded at generation): the
   chain still extends that checkpoint, and every row committed by then is unchanged (re-hashed
   against its run's Merkle root; the changed row is named). The figures are recomputed from
   those runs only (:class:`AsOfSource`), so a later legitimate ingestion is never a mismatch,
   while a changed or removed row inside the checkpoint always is;
4. the PDF's PAdES signature (:mod:`hitlgov.reports.signature`): it covers the whole file, so
   swapped visible pages or one changed byte are reported as such.

A store whose rows are duplicated or whose in-place files changed is reported, not recomputed
(the metrics' assumptions would not hold). Verification never needs the pseudonymisation key
unless the report's reviewer ids are pseudonymised and their values are to be recomputed.
"""
from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hitlgov.metrics.policy import Policy, load_policy
from hitlgov.metrics.source import Source
from hitlgov.reports import evidence, pseudonym, signature

from hitlgov.errors import HitlgovError

MAX_DIFFERENCES = 25
ID_KEYS = ("reviewer_id", "run_id", "column", "period", "metric", "model_version", "field", "reason")


@dataclass
class VerifyResult:
    ok: bool
    pdf: str
    digest_recorded: str
    digest_now: str | None = None
    differences: list[dict] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    parameters: dict = field(default_factory=dict)
    #: the PDF signature apart from the figures: ``integrity``, ``signer`` and, with trust roots,
    #: ``trusted`` and ``trust`` (:func:`hitlgov.reports.signature.check_pdf`)
    signature: dict = field(default_factory=dict)


def read_evidence(pdf_path: str | Path) -> tuple[dict, dict]:
    """``(evidence document, PDF metadata)`` of a report; one-line errors for anything else."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    path = Path(pdf_path)
    if not path.is_file():
        raise HitlgovError(f"{path}: no such file")
    logging.getLogger("pypdf").setLevel(logging.ERROR)  # its warnings on odd files are noise here
    try:
        reader = PdfReader(str(path))
        attachments = reader.attachments
        meta = {k.lstrip("/"): str(v) for k, v in (reader.metadata or {}).items()}
        blobs = attachments.get(evidence.ATTACHMENT) if attachments else None
    except (PdfReadError, OSError, ValueError, KeyError) as exc:
        raise HitlgovError(f"{path}: not a readable PDF ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})") \
            from None
    if not blobs:
        raise HitlgovError(f"{path}: no {evidence.ATTACHMENT} attached: not a hitlgov report, or made without evidence")
    try:
        doc = json.loads(blobs[0].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise HitlgovError(f"{path}: the attached {evidence.ATTACHMENT} is not valid JSON ({exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != evidence.FORMAT or "parameters" not in doc \
            or "values" not in doc or "digest" not in doc:
        raise HitlgovError(f"{path}: the attached evidence is not in the {evidence.FORMAT} format")
    return doc, meta


def read_evidence_or_say_why(pdf_path: str | Path) -> tuple[dict, dict]:
    """:func:`read_evidence`; when the evidence is unreadable and the PDF is signed, the error
    says whether the file changed after it was signed (a changed byte is reported as such)."""
    try:
        return read_evidence(pdf_path)
    except HitlgovError as exc:
        if not Path(pdf_path).is_file():
            raise
        try:
            why = signature.check_pdf(pdf_path, [])
        except Exception:  # noqa: BLE001 - the original error is the one to report
            why = []
        if why:
            raise HitlgovError(f"{exc}; {why[0]}") from None
        raise


def _policy(doc: dict) -> Policy:
    """The policy the report was evaluated against, from the text the report carries."""
    want = doc["parameters"]["policy"]["sha256"]
    ctx = doc.get("context", {})
    text = ctx.get("policy_text")
    if text is None and ctx.get("policy_file") and ctx["policy_file"] != "default":
        try:
            text = Path(ctx["policy_file"]).read_text(encoding="utf-8")
        except OSError:
            text = None
    if text is None:
        raise HitlgovError("the report does not carry its policy and the policy file cannot be read: "
                           "cannot recompute its findings")
    fd, tmp = tempfile.mkstemp(suffix=".yaml", prefix="hitlgov-policy-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        policy = load_policy(tmp)
    finally:
        Path(tmp).unlink(missing_ok=True)
    if policy.sha256 != want:
        raise HitlgovError(f"the policy text in the report hashes to {policy.sha256[:12]}…, not the recorded "
                           f"{want[:12]}…: the attachment was altered")
    return policy


def _key(item: Any) -> str | None:
    if isinstance(item, dict):
        if "a" in item and "b" in item and "kappa" in item:
            return f"{item['a']}|{item['b']}"
        for k in ID_KEYS:
            if isinstance(item.get(k), (str, int)):
                return str(item[k])
    return None


def differences(recorded: Any, now: Any, path: str = "") -> list[dict]:
    """Every leaf that differs, with a readable path (list items by their id where they have one)."""
    if isinstance(recorded, dict) and isinstance(now, dict):
        out = []
        for k in sorted(set(recorded) | set(now)):
            p = f"{path}.{k}" if path else str(k)
            if k not in recorded:
                out.append({"path": p, "recorded": None, "now": now[k], "change": "added"})
            elif k not in now:
                out.append({"path": p, "recorded": recorded[k], "now": None, "change": "missing now"})
            else:
                out += differences(recorded[k], now[k], p)
        return out
    if isinstance(recorded, list) and isinstance(now, list):
        keys_r, keys_n = [_key(x) for x in recorded], [_key(x) for x in now]
        if all(keys_r) and all(keys_n) and len(set(keys_r)) == len(keys_r) and len(set(keys_n)) == len(keys_n):
            by_r, by_n = dict(zip(keys_r, recorded)), dict(zip(keys_n, now))
            out = []
            for k in keys_r + [k for k in keys_n if k not in by_r]:
                p = f"{path}[{k}]"
                if k not in by_n:
                    out.append({"path": p, "recorded": by_r[k], "now": None, "change": "missing now"})
                elif k not in by_r:
                    out.append({"path": p, "recorded": None, "now": by_n[k], "change": "added"})
                else:
                    out += differences(by_r[k], by_n[k], p)
            return out
        out = []
        for i in range(max(len(recorded), len(now))):
            p = f"{path}[{i}]"
            if i >= len(now):
                out.append({"path": p, "recorded": recorded[i], "now": None, "change": "missing now"})
            elif i >= len(recorded):
                out.append({"path": p, "recorded": None, "now": now[i], "change": "added"})
            else:
                out += differences(recorded[i], now[i], p)
        return out
    if recorded != now:
        return [{"path": path, "recorded": recorded, "now": now, "change": "changed"}]
    return []


def _chain_checks(source, recorded: dict) -> list[str]:
    """For a report without a checkpoint (made before checkpoints existed): the chain still
    contains the head recorded at generation."""
    from hitlgov.metrics import audit_trail

    chain = audit_trail.chain_status(source)
    if chain.get("ok") is None:
        return []
    problems = []
    if not chain["ok"]:
        problems.append(f"the store's audit chain is broken at event {chain['broken_at']}: {chain['problem']}")
    head, events = recorded.get("head"), recorded.get("events") or 0
    if head and chain["ok"]:
        if chain["events"] < events:
            problems.append(f"the audit chain has {chain['events']} events, fewer than the {events} it had when "
                            "the report was generated")
        else:
            row = audit_trail.audit_events(source, limit=1, offset=chain["events"] - events)["rows"]
            if not row or row[0]["seq"] != events or row[0]["hash"] != head:
                problems.append(f"the audit chain no longer holds the head recorded at generation (event {events}, "
                                f"{head[:12]}…): the history the report was made from was rewritten")
    return problems


class AsOfSource(Source):
    """The store as it was at a checkpoint: only the rows of the ingestion runs committed by its
    event, and the events up to it. Later, legitimate ingestion is invisible, so it cannot make
    an older report "not match"; every metric reads its tables through :meth:`table`."""

    RUN_TABLES = ("cases", "reviews", "case_attributes", "quarantine", "ingestion_runs")

    def __init__(self, inner: Source, *, last_run: int, last_event: int):
        super().__init__(inner.backend, raw=inner.raw)
        self.last_run, self.last_event = int(last_run), int(last_event)

    def table(self, name: str):
        t = super().table(name)
        if name in self.RUN_TABLES:
            return t.filter(t.run_id <= self.last_run)
        if name == "audit_events":
            return t.filter(t.seq <= self.last_event)
        return t


def _report_checkpoint(doc: dict) -> dict | None:
    from hitlgov import checkpoint

    cp = ((doc.get("context") or {}).get("audit_chain") or {}).get("checkpoint")
    if not cp:
        return None
    try:
        return {**checkpoint.parse(cp, "the report's checkpoint"), "file": "the report's checkpoint"}
    except HitlgovError:
        return {"malformed": True}


def _last_run(con, upto: int) -> int:
    row = con.execute("SELECT max(TRY_CAST(json_extract_string(detail, '$.run_id') AS BIGINT)) FROM audit_events "
                      "WHERE kind = 'ingestion' AND seq <= ?", [upto]).fetchall()
    return int(row[0][0] or 0)


def verify_report(pdf_path: str | Path, *, db: str | Path | None = None, engine: str | None = None,
                  progress=None, trust: list | None = None) -> VerifyResult:
    """Check the PDF's signature and evidence, then the store *as of* the report's checkpoint:
    its chain still extends the checkpoint, every row committed by then is unchanged, and the
    values recomputed from those rows are the report's. See the module docstring."""
    from hitlgov.metrics.engines import open_source

    from hitlgov import audit

    doc, meta = read_evidence_or_say_why(pdf_path)
    params, recorded_digest = doc["parameters"], doc["digest"]["value"]
    result = VerifyResult(ok=False, pdf=str(pdf_path), digest_recorded=recorded_digest, parameters=params)
    result.problems += signature.check_pdf(pdf_path, result.notes, trust=trust, verdict=result.signature)
    if evidence.digest_of(params, doc["values"]) != recorded_digest:
        result.problems.append("the evidence attached to the PDF was altered: its digest does not match its values")
    keywords = meta.get("Keywords", "")
    if f"sha256:{recorded_digest}" not in keywords:
        result.problems.append("the digest in the PDF's metadata differs from the attached evidence's")
    if params.get("generator") != evidence.GENERATOR:
        result.notes.append(f"made by {params.get('generator')}, verified with {evidence.GENERATOR}: a difference "
                            "in metric definitions would show as differing values")
    policy = _policy(doc)
    key, recompute = None, True
    if params.get("pseudonymised"):
        # Verification never needs the pseudonymisation key: without it, the signature, the evidence
        # and every row as of the checkpoint are still checked; only the recomputation is skipped.
        try:
            key = pseudonym.key_from_env()
        except HitlgovError:
            key = None
        if key is None or pseudonym.key_id(key) != params.get("pseudonym_key_id"):
            recompute, key = False, None
            result.notes.append(f"reviewer ids are pseudonymised and {pseudonym.ENV} is not the key they were made "
                                "with: the values were not recomputed (the rows they come from were verified)")
    flt = evidence.filter_from(params)
    cp = _report_checkpoint(doc)
    with open_source(db, engine) as source:
        if progress:
            progress("Checking the store as of the report's checkpoint", 0.05)
        recompute_on = source
        if source.raw is not None:
            if cp and cp.get("malformed"):
                result.problems.append("the checkpoint embedded in the report is malformed: the evidence was altered")
                cp = None
            if cp:
                # the report's own checkpoint anchors the check: a copy of the store without the
                # site's checkpoint directory can still be verified against it
                store = audit.verify(source.raw, since=[cp], upto=int(cp["tree_size"]), directory_required=False)
                result.problems += [f"store: {p}" for p in store["problems"]]
                result.notes += [f"store: {n}" for n in store.get("notes", [])]
                recompute_on = AsOfSource(source, last_run=_last_run(source.raw, int(cp["tree_size"])),
                                          last_event=int(cp["tree_size"]))
            else:
                result.problems += _chain_checks(source, doc.get("context", {}).get("audit_chain") or {})
                result.notes.append("the report carries no audit checkpoint: verified against the store as it is now")
            blocked = audit.quick_check(source.raw)
            if blocked:
                result.problems += [f"store: {p}" for p in blocked if f"store: {p}" not in result.problems]
                result.problems.append("the values were not recomputed: the store does not hold what was ingested")
                result.ok = False
                return result
        if not recompute:
            result.ok = not result.problems
            return result
        if progress:
            progress("Recomputing the metrics", 0.1)
        try:
            resolved, values = evidence.collect(recompute_on, flt, policy,
                                                n_boot=int(params.get("n_boot", evidence.N_BOOT)),
                                                seed=int(params.get("seed", evidence.SEED)))
        finally:
            if recompute_on is not source:
                recompute_on.close()  # its cached relations, before the store's connection closes
        if key is not None:
            values = pseudonym.pseudonymise(values, key)
        now_params = evidence.parameters_for(resolved, policy, n_boot=int(params.get("n_boot", evidence.N_BOOT)),
                                             seed=int(params.get("seed", evidence.SEED)),
                                             pseudonym_key_id=pseudonym.key_id(key) if key else None)
        result.digest_now = evidence.digest_of(now_params, values)
        if result.digest_now != recorded_digest:
            found = differences(evidence.canonical({"parameters": params, "values": doc["values"]}),
                                evidence.canonical({"parameters": now_params, "values": values}))
            # headline figures first: a shallow path (metrics.oversight.override_rate) before a deep one
            # (a reviewer's month); the document's order within a depth
            result.differences = sorted(_across_versions(found, params, result.notes),
                                        key=lambda d: d["path"].count(".") + d["path"].count("["))
    result.ok = not result.problems and (result.digest_now == recorded_digest
                                         or (params.get("generator") != evidence.GENERATOR and not result.differences))
    return result


def _across_versions(found: list[dict], params: dict, notes: list[str]) -> list[dict]:
    """The differences that contradict the report. A report made by another hitlgov version names
    that version (never a contradiction), and values the newer code computes that the report never
    stated (an evidence key added since) cannot contradict it: both become notes, so a report filed
    under an older version still verifies when every figure it states is reproduced."""
    if params.get("generator") == evidence.GENERATOR:
        return found
    added = [d for d in found if d["change"] == "added" and d["path"] != "parameters.generator"]
    if added:
        notes.append(f"{len(added)} value(s) computed by {evidence.GENERATOR} are not in the report (added since "
                     f"{params.get('generator')}): not compared; first: {added[0]['path']}")
    return [d for d in found if d["path"] != "parameters.generator" and d not in added]


def describe(d: dict) -> str:
    """One difference as a line: ``hitlgov.metrics.oversight.override_rate: 0.2231 in the report, 0.2235 now``."""
    path = d["path"][len("values."):] if d["path"].startswith("values.") else d["path"]
    show = (lambda v: json.dumps(v, ensure_ascii=False) if not isinstance(v, (dict, list)) else
            ("{…}" if isinstance(v, dict) else f"[{len(v)} items]"))
    if d["change"] == "missing now":
        return f"{path}: {show(d['recorded'])} in the report, absent now"
    if d["change"] == "added":
        return f"{path}: absent from the report, {show(d['now'])} now"
    return f"{path}: {show(d['recorded'])} in the report, {show(d['now'])} now"
