"""Pseudonymous reviewer ids for exports and reports (GDPR Art. 4(5) pseudonymisation).

Auditors and boards need to see that reviewer R behaved differently from the others, rarely who
R is. A keyed hash maps each id to ``R-`` + the first 12 hex digits of HMAC-SHA256(key, id): the
same reviewer gets the same pseudonym in every report and export made with the same key, so a
finding can be followed over time, while nobody without the key (``$HITLGOV_PSEUDONYM_KEY``,
never stored in the store or a report) can recompute or reverse it. A plain hash would not do:
reviewer ids are few and guessable, so hashing the staff list would undo it.

This module is the primitive; ``reports/pseudonym.py`` applies it to a whole report document
and ``dashboard/exports.py`` to CSV exports.
"""
from __future__ import annotations

import hashlib
import hmac
import os
from typing import Callable

from hitlgov.errors import HitlgovError

ENV = "HITLGOV_PSEUDONYM_KEY"
PREFIX = "R-"
HEX_DIGITS = 12


def key_from_env() -> bytes:
    """The key, or a one-line error saying how to provide it."""
    key = os.environ.get(ENV, "")
    if not key.strip():
        raise HitlgovError(f"--pseudonymise needs a secret key: set the environment variable {ENV} "
                           "(keep it: the same key gives the same pseudonyms and is needed to verify the report)")
    return key.encode("utf-8")


def pseudonym(reviewer_id: str, key: bytes) -> str:
    return PREFIX + hmac.new(key, str(reviewer_id).encode("utf-8"), hashlib.sha256).hexdigest()[:HEX_DIGITS]


def pseudonymiser(key: bytes | None = None) -> Callable:
    """``reviewer_id -> pseudonym`` with ``key`` (default: from the environment); missing ids
    (None, empty) stay as they are, since a missing reviewer is itself evidence."""
    key = key if key is not None else key_from_env()
    return lambda reviewer_id: reviewer_id if reviewer_id is None or reviewer_id == "" else pseudonym(reviewer_id, key)
