"""Reviewer identity: ids that look the same but are different strings (homoglyphs).

Definition. Two reviewer ids are *confusable* when they differ as strings but read the same to a
person: ``ana`` written with a Cyrillic ``а`` (U+0430) and with a Latin ``a``. Such ids split one
person's reviews into two reviewers that look identical on screen and in exports, or let one
person pose as another -- an identity problem an auditor must see. (Invisible characters and
Unicode normalisation are already removed at ingestion; homoglyphs cannot be, because both
spellings are legitimate text.)

Each id is reduced to a *skeleton*: every character the Unicode confusables data (through the
maintained ``confusable_homoglyphs`` library) lists as a lookalike of a Latin or common
character is replaced by that character, then the id is case-folded. Ids sharing a skeleton
form a group; groups of two or more ids are reported. The distinct reviewer ids are a small
result, so this runs in Python after one engine-side ``distinct``.
"""
from __future__ import annotations

from confusable_homoglyphs import confusables

from hitlgov.metrics.source import Filter, Source

PREFERRED = ["latin", "common"]


def skeleton(reviewer_id: str) -> str:
    """The id with every lookalike character replaced by its Latin/common counterpart, case-folded."""
    found = confusables.is_confusable(reviewer_id, greedy=True, preferred_aliases=PREFERRED) or []
    swap = {f["character"]: f["homoglyphs"][0]["c"] for f in found if f.get("homoglyphs")}
    return "".join(swap.get(ch, ch) for ch in reviewer_id).casefold()


def confusable_reviewer_ids(source: Source, flt: Filter = Filter(), *, ids: list[str] | None = None) -> list[list[str]]:
    """Groups (sorted, each of two or more ids) of reviewer ids in the filter that look alike.

    ``ids`` may give the distinct ids directly (tests, callers that already have them)."""
    if ids is None:
        r = source.reviews(flt)
        ids = [i for i in r.select("reviewer_id").distinct().to_pandas()["reviewer_id"].tolist() if i is not None]
    groups: dict[str, set[str]] = {}
    for reviewer_id in ids:
        groups.setdefault(skeleton(reviewer_id), set()).add(reviewer_id)
    return sorted(sorted(g) for g in groups.values() if len(g) > 1)
