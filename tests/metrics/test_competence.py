"""Training at review time (Art. 26(2)) and the two-person rule (Art. 14(5)), on a hand-built log.

Reviews (system, case, reviewer, completed):
  s1 c1 r1 2026-03-01   r1 trained 2026-01-01..2026-06-30       -> valid
  s1 c1 r2 2026-03-01   r2 trained 2026-01-01..2026-02-28       -> expired the day before
  s1 c2 r1 2026-06-30   expiry day itself                        -> valid
  s1 c2 r3 2026-06-30   r3 trained for s2 only                   -> not valid for s1
  s1 c3 r1 2026-07-01   the day after expiry                     -> invalid
  s1 c3 r4 2026-07-01   r4 not in the register                   -> invalid
  s1 c4 r1 2026-07-02   after expiry                             -> invalid
  s2 c9 r3 2026-03-05   r3's system                              -> valid
So 8 reviews, 5 without valid training (r2@c1, r3@c2, r1@c3, r4@c3, r1@c4).
"""
from __future__ import annotations

import pytest

from hitlgov.metrics.competence import two_person_rule, untrained_review_share
from hitlgov.metrics.policy import Policy
from hitlgov.metrics.source import Filter, Source
from hitlgov.metrics.summary import compute_metrics
from hitlgov.oversight.register import load_register

LOG = """case_id,ts,system,model_decision,reviewer_id,human_decision,review_completed_at
c1,2026-03-01T08:00:00,s1,match,r1,match,2026-03-01T09:00:00
c1,2026-03-01T08:00:00,s1,match,r2,match,2026-03-01T09:30:00
c2,2026-06-30T08:00:00,s1,match,r1,match,2026-06-30T23:00:00
c2,2026-06-30T08:00:00,s1,match,r3,match,2026-06-30T23:10:00
c3,2026-07-01T08:00:00,s1,match,r1,match,2026-07-01T00:10:00
c3,2026-07-01T08:00:00,s1,match,r4,match,2026-07-01T00:20:00
c4,2026-07-02T08:00:00,s1,no_match,r1,no_match,2026-07-02T09:00:00
c5,2026-07-03T08:00:00,s1,match,,,
c9,2026-03-05T08:00:00,s2,match,r3,match,2026-03-05T10:00:00
"""
REGISTER = """reviewer_id,name,role,authority,training,training_completed,training_expires,systems
r1,Ana,verifier,confirm,RBI 2026,2026-01-01,2026-06-30,
r2,Ben,verifier,confirm,RBI 2025,2025-01-01,2026-02-28,
r3,Cy,verifier,confirm,RBI 2026,2026-01-01,2026-12-31,s2
"""


@pytest.fixture
def db(make_store, tmp_path):
    path = make_store(LOG)
    reg = tmp_path / "register.csv"
    reg.write_text(REGISTER)
    load_register(path, reg)
    return path


def test_untrained_review_share(db):
    with Source.open(db) as src:
        out = untrained_review_share(src)
        s1 = untrained_review_share(src, Filter(system="s1"))
    # s1: r1@c1 valid, r2@c1 expired, r1@c2 valid (expiry day), r3@c2 wrong system, r1@c3 expired,
    # r4@c3 unregistered, r1@c4 expired -> 5 of 7 untrained; s2: r3@c9 valid -> 5 of 8 overall
    assert (out["reviews"], out["reviews_without_valid_training"]) == (8, 5)
    assert out["untrained_review_share"] == pytest.approx(5 / 8)
    assert (s1["reviews"], s1["reviews_without_valid_training"]) == (7, 5)
    assert out["unregistered_reviewers"] == 1
    assert out["reviewers_without_valid_training"] == [{"reviewer_id": "r1", "reviews": 2},
                                                       {"reviewer_id": "r2", "reviews": 1},
                                                       {"reviewer_id": "r3", "reviews": 1},
                                                       {"reviewer_id": "r4", "reviews": 1}]


def test_without_a_register_the_share_is_not_evaluated(make_store):
    db = make_store(LOG)
    with Source.open(db) as src:
        out = untrained_review_share(src)
        rule = two_person_rule(src, systems=["s1"])
    assert out["register_loaded"] is False and out["untrained_review_share"] is None
    # no register: any two distinct reviewers count; acted on = every case (no positive label)
    assert rule["verifier_rule"].startswith("distinct reviewers")
    assert (rule["cases_acted_on"], rule["cases_without_two_verifiers"]) == (5, 2)  # c4 one reviewer, c5 none
    assert [c["case_id"] for c in rule["cases"]] == ["c4", "c5"]


def test_two_person_rule_counts_qualified_verifiers_only(db):
    with Source.open(db) as src:
        rule = two_person_rule(src, systems=["s1"])
    # every s1 case acted on (no positive label set): c1 has r1 valid + r2 expired -> 1; c2: r1 + r3 (wrong
    # system) -> 1; c3: 0; c4: 0 (r1 expired); c5: unreviewed -> 0
    assert (rule["cases_acted_on"], rule["cases_without_two_verifiers"]) == (5, 5)
    assert [(c["case_id"], c["verifiers"]) for c in rule["cases"]] == [("c1", 1), ("c2", 1), ("c3", 0), ("c4", 0), ("c5", 0)]
    with pytest.raises(ValueError):
        two_person_rule(src, systems=[])


def test_positive_label_limits_the_cases_acted_on(make_store):
    from hitlgov.mapping import Mapping
    db = make_store(LOG, mapping=Mapping(positive_label="match"))
    with Source.open(db) as src:
        rule = two_person_rule(src, systems=["s1"])
    assert rule["cases_acted_on"] == 4  # c4's final decision is no_match: nothing was acted on
    # no register here: c1, c2, c3 have two distinct reviewers each, c5 none
    assert [(c["case_id"], c["verifiers"]) for c in rule["cases"]] == [("c5", 0)]


def test_policy_fails_a_declared_system_and_is_silent_for_others(db):
    policy = Policy(name="t", rules=[
        {"metric": "two_person_rule.cases_without_two_verifiers", "fail_above": 0, "when_present": True},
        {"metric": "reviewer_competence.untrained_review_share", "warn_above": 0, "fail_above": 0.05}],
        settings={"remote_biometric_identification": ["s1"]})
    with Source.open(db) as src:
        m = compute_metrics(src, Filter(system="s1"), policy=policy, include_drift=False, n_boot=10)
        other = compute_metrics(src, Filter(system="s2"), policy=policy, include_drift=False, n_boot=10)
    statuses = {f["metric"]: f["status"] for f in m["findings"]}
    assert statuses == {"two_person_rule.cases_without_two_verifiers": "fail",
                        "reviewer_competence.untrained_review_share": "fail"}
    assert "two_person_rule" not in other and not other["findings_not_evaluated"]
    assert {f["metric"]: f["status"] for f in other["findings"]} == {"reviewer_competence.untrained_review_share": "pass"}
