"""Pseudonymous reviewer ids for exports and reports (GDPR Art. 4(5) pseudonymisation).

Auditors and boards need to see that reviewer R behaved differently from the others, rarely who
R is. A keyed hash (HMAC-SHA256) maps each id to a stable pseudonym: the same reviewer gets the
same pseudonym in every report made with the same key, so findings can be followed over time,
while nobody without the key (kept in ``$HITLGOV_PSEUDONYM_KEY``, never in the store or the
report) can recompute or reverse it. A plain unkeyed hash would not do: reviewer ids are few
and guessable, so a dictionary of candidate ids would undo it.
"""
from __future__ import annotations

import hashlib
import hmac
import os

from hitlgov.errors import HitlgovError

KEY_VARIABLE = "HITLGOV_PSEUDONYM_KEY"
PREFIX = "rev-"


def pseudonymiser(key: str | None = None):
    """A function ``reviewer_id -> 'rev-<12 hex>'`` keyed by ``key`` or ``$HITLGOV_PSEUDONYM_KEY``.

    ``None`` and empty ids stay as they are (missing is itself evidence)."""
    key = key if key is not None else os.environ.get(KEY_VARIABLE)
    if not key:
        raise HitlgovError(f"pseudonymisation needs a secret key: set {KEY_VARIABLE} "
                           "(keep it out of the store and the reports; the same key gives the same pseudonyms)")
    secret = key.encode("utf-8")

    def pseudonym(reviewer_id):
        if reviewer_id is None or reviewer_id == "":
            return reviewer_id
        digest = hmac.new(secret, str(reviewer_id).encode("utf-8"), hashlib.sha256).hexdigest()
        return PREFIX + digest[:12]

    return pseudonym
