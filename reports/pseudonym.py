"""Pseudonymous reviewer ids for reports that leave the organisation (GDPR Art. 4(5), 32).

A reviewer id becomes ``R-`` + the first 12 hex digits of HMAC-SHA256(key, id). The key comes
from the environment variable ``HITLGOV_PSEUDONYM_KEY`` and never appears in a report: whoever
holds the key can re-identify a reviewer (``pseudonym(id, key)`` for each known id), nobody else
can -- a plain hash could be reversed by hashing the list of staff ids.

Every reviewer id in the evidence document is replaced: per-reviewer oversight, automation
bias (the reviewers and the flagged list), the review stage's annotators, reviewer accuracy, agreement with the consensus and
both members of every Cohen's kappa pair. Lists that were sorted by reviewer id are re-sorted by
pseudonym (an alphabetical order would leak the mapping to anyone with the staff list). As a last
guard, the result is searched for every original id; one left over is an error, not a report.
The report records a *key id* (an HMAC of a fixed text) so that verification can tell a wrong
key from changed data.
"""
from __future__ import annotations

import hashlib
import hmac
import json

from hitlgov.errors import HitlgovError
from hitlgov.pseudonym import ENV, HEX_DIGITS, PREFIX, key_from_env, pseudonym  # noqa: F401 (re-exported)


def key_id(key: bytes) -> str:
    """Identifies the key without revealing it."""
    return hmac.new(key, b"hitlgov pseudonym key id", hashlib.sha256).hexdigest()[:16]


def reviewer_ids(values: dict) -> set[str]:
    """Every reviewer id the evidence values mention."""
    m = values.get("metrics", {})
    ids = {r["reviewer_id"] for r in m.get("oversight", {}).get("by_reviewer", [])}
    ab = m.get("automation_bias", {})
    ids |= {r["reviewer_id"] for r in ab.get("reviewers", [])} | set(ab.get("flagged", []))
    ids |= {r["reviewer_id"] for r in m.get("reviewer_accuracy", [])}
    ag = m.get("agreement", {})
    ids |= {r["reviewer_id"] for r in ag.get("consensus", [])}
    for p in ag.get("cohen_kappa_pairs", []):
        ids |= {p["a"], p["b"]}
    ids |= _reliance_ids(m)
    ids |= {r["reviewer_id"] for r in m.get("oversight", {}).get("review_stage", {}).get("by_annotator", [])}
    return {str(i) for i in ids if i is not None}


def _reliance_ids(m: dict) -> set:
    """Reviewer ids in issue 17's blocks (reliance, reviewer quality, automation-bias evidence)."""
    ids = {r["reviewer_id"] for r in m.get("reliance", {}).get("by_reviewer", [])}
    ids |= {r["reviewer_id"] for r in m.get("reviewer_quality", {}).get("by_reviewer", [])}
    ab = m.get("automation_bias", {})
    for key in ("canary_flagged", "over_reliance_flagged", "flagged_any"):
        ids |= set(ab.get(key, []))
    ids |= {r["reviewer_id"] for r in ab.get("corroboration", [])}
    return ids


def _pseudonymise_reliance(m: dict, alias: dict) -> None:
    for block in (m.get("reliance", {}), m.get("reviewer_quality", {})):
        for r in block.get("by_reviewer", []):
            r["reviewer_id"] = alias[r["reviewer_id"]]
        block.get("by_reviewer", []).sort(key=lambda r: r["reviewer_id"])
    ab = m.get("automation_bias", {})
    for key in ("canary_flagged", "over_reliance_flagged", "flagged_any"):
        if key in ab:
            ab[key] = sorted(alias[r] for r in ab[key])
    for r in ab.get("corroboration", []):
        r["reviewer_id"] = alias[r["reviewer_id"]]
    ab.get("corroboration", []).sort(key=lambda r: r["reviewer_id"])


def pseudonymise(values: dict, key: bytes) -> dict:
    """A copy of the evidence values with every reviewer id replaced by its pseudonym."""
    originals = reviewer_ids(values)
    alias = {r: pseudonym(r, key) for r in originals}
    out = json.loads(json.dumps(values))
    m = out.get("metrics", {})
    over = m.get("oversight", {})
    for r in over.get("by_reviewer", []):
        r["reviewer_id"] = alias[r["reviewer_id"]]
    over.get("by_reviewer", []).sort(key=lambda r: (-(r.get("reviews") or 0), r["reviewer_id"]))
    stage = over.get("review_stage", {})  # the annotators whose work a second reviewer judged
    for r in stage.get("by_annotator", []):
        r["reviewer_id"] = alias[r["reviewer_id"]]
    stage.get("by_annotator", []).sort(key=lambda r: r["reviewer_id"])
    ab = m.get("automation_bias", {})
    for r in ab.get("reviewers", []):
        r["reviewer_id"] = alias[r["reviewer_id"]]
    ab.get("reviewers", []).sort(key=lambda r: r["reviewer_id"])
    if "flagged" in ab:
        ab["flagged"] = sorted(alias[r] for r in ab["flagged"])
    for r in m.get("reviewer_accuracy", []):
        r["reviewer_id"] = alias[r["reviewer_id"]]
    m.get("reviewer_accuracy", []).sort(key=lambda r: r["reviewer_id"])
    ag = m.get("agreement", {})
    for r in ag.get("consensus", []):
        r["reviewer_id"] = alias[r["reviewer_id"]]
    ag.get("consensus", []).sort(key=lambda r: r["reviewer_id"])
    for p in ag.get("cohen_kappa_pairs", []):
        a, b = alias[p["a"]], alias[p["b"]]
        p["a"], p["b"] = min(a, b), max(a, b)
    ag.get("cohen_kappa_pairs", []).sort(key=lambda p: (p["a"], p["b"]))
    _pseudonymise_reliance(m, alias)
    _assert_hidden(out, originals)
    return out


def _assert_hidden(values: dict, originals: set[str]) -> None:
    """No original id may survive anywhere as a JSON string value."""
    left: list[str] = []

    def walk(node) -> None:
        if isinstance(node, dict):
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
        elif isinstance(node, str) and node in originals:
            left.append(node)

    walk(values)
    if left:
        raise HitlgovError(f"pseudonymisation incomplete: {len(set(left))} reviewer id(s) left in the report; "
                           "no report was written")
