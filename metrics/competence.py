"""Who reviewed: training at the time of the review (Art. 26(2)) and the two-person rule (Art. 14(5)).

Definitions, over the reviews / cases in the filter, against the latest version of the reviewer
register (``hitlgov register load``):

* a review is **covered by valid training** when its reviewer has a register record whose
  training was completed on or before the review's day and expires on or after it (inclusive),
  for the review's system (a record without systems covers every system). The review's day is
  that of ``review_completed_at``, else ``review_started_at``, else the model's decision ``ts``
  (UTC).
* **untrained review share** -- reviews not covered by valid training / reviews. A reviewer
  missing from the register counts as untrained: the register is the evidence.
* **two-person rule** (Art. 14(5), remote biometric identification): a case is *acted on* when
  its final decision is the system's positive label (the identification, a "match", that the
  action rests on); with no positive label configured, every case counts. A case acted on needs
  at least two **distinct qualified verifiers**: reviewers whose review is covered by valid
  training (when no register is loaded: any two distinct reviewers, and the result says so).

Both are Ibis expressions over the canonical relations plus the ``reviewer_register`` table;
on an engine without that table the training figures are ``None`` (not evaluated).
"""
from __future__ import annotations

import ibis
import ibis.expr.types as ir
from hitlgov.metrics._values import ratio
from hitlgov.metrics.source import Filter, Source

LISTED = 1000


def _register(source: Source) -> ir.Table | None:
    """The latest register version, or None when none was loaded (or the engine has no table)."""
    try:
        reg = source.table("reviewer_register")
    except Exception:  # noqa: BLE001 - an engine without the table: no register evidence
        return None
    latest = reg.aggregate(v=reg.version.max()).to_pandas().iloc[0]["v"]
    if latest is None or str(latest) in ("nan", "NaN", "None", "<NA>"):
        return None
    return reg.filter(reg.version == int(latest))


def _with_validity(source: Source, flt: Filter, reg: ir.Table | None) -> ir.Table:
    """The filter's reviews with ``valid`` (bool, None without a register)."""
    r = source.reviews(flt)
    r = r.mutate(review_day=r.review_completed_at.coalesce(r.review_started_at, r.ts).date())
    if reg is None:
        return r.mutate(valid=ibis.null("boolean"))
    covered = r.semi_join(reg, [
        r.reviewer_id == reg.reviewer_id,
        r.review_day >= reg.training_completed,
        r.review_day <= reg.training_expires,
        (reg.systems.length().fill_null(0) == 0) | reg.systems.contains(r.system),
    ]).select("system", "case_id", "reviewer_id").mutate(valid=ibis.literal(True))
    return r.left_join(covered, ["system", "case_id", "reviewer_id"]).select(
        r, valid=covered.valid.fill_null(False))


def untrained_review_share(source: Source, flt: Filter = Filter()) -> dict:
    """Share of reviews done by reviewers without valid training at the time of the review."""
    reg = _register(source)
    r = _with_validity(source, flt, reg)
    if reg is None:
        total = int(r.count().to_pandas())
        return {"register_loaded": False, "reviews": total, "reviews_without_valid_training": None,
                "untrained_review_share": None, "unregistered_reviewers": None, "reviewers_without_valid_training": []}
    untrained = r.filter(~r.valid)
    by = (untrained.group_by("reviewer_id").aggregate(reviews=untrained.count())
          .order_by([ibis.desc("reviews"), "reviewer_id"]).limit(LISTED).to_pandas())
    total = int(r.count().to_pandas())
    bad = int(untrained.count().to_pandas())
    known = reg.select("reviewer_id").distinct()
    unregistered = r.select("reviewer_id").distinct().anti_join(known, "reviewer_id")
    return {
        "register_loaded": True, "reviews": total, "reviews_without_valid_training": bad,
        "untrained_review_share": ratio(bad, total),
        "unregistered_reviewers": int(unregistered.count().to_pandas()),
        "reviewers_without_valid_training": [{"reviewer_id": a, "reviews": int(b)} for a, b in by.itertuples(index=False)],
    }


def two_person_rule(source: Source, flt: Filter = Filter(), *, systems: list[str]) -> dict:
    """Cases acted on with fewer than two distinct qualified verifiers, in the declared systems."""
    if not systems:
        raise ValueError("two_person_rule needs the systems declared remote biometric identification")
    reg = _register(source)
    c = source.cases(flt)
    c = c.filter(c.system.isin(systems))
    acted = []
    for system in systems:
        label = source.config(system).positive_label
        one = c.filter(c.system == system)
        acted.append(one.filter(one.final == label) if label is not None else one)
    acted_on = acted[0] if len(acted) == 1 else ibis.union(*acted)
    r = _with_validity(source, flt, reg)
    qualified = r if reg is None else r.filter(r.valid)
    verifiers = qualified.group_by(["system", "case_id"]).aggregate(verifiers=qualified.reviewer_id.nunique())
    j = acted_on.left_join(verifiers, ["system", "case_id"]).select(
        acted_on.system, acted_on.case_id, acted_on.ts, verifiers=verifiers.verifiers.fill_null(0))
    short = j.filter(j.verifiers < 2)
    n_acted = int(j.count().to_pandas())
    n_short = int(short.count().to_pandas())
    listed = short.order_by(["ts", "system", "case_id"]).limit(LISTED).to_pandas()
    return {
        "systems": sorted(systems), "verifier_rule": "valid training at review time" if reg is not None
        else "distinct reviewers (no reviewer register loaded)",
        "cases_acted_on": n_acted, "cases_without_two_verifiers": n_short,
        "share_without_two_verifiers": ratio(n_short, n_acted),
        "cases": [{"system": s, "case_id": k, "ts": t.isoformat(), "verifiers": int(v)}
                  for s, k, t, v in listed.itertuples(index=False)],
        "cases_listed": min(n_short, LISTED),
    }
