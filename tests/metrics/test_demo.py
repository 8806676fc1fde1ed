"""The demo generator: reproducible, exact counts, and the planted effects are really there.

Everything is re-measured here with pandas from the written files, independently of the
numbers the generator reports about itself.
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from scipy.stats import ks_2samp

from hitlgov import demo

CASES = 20_000
ISO = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}"


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    path = tmp_path_factory.mktemp("demo")
    manifest = demo.generate(path, cases=CASES, seed=0)
    return path, manifest


@pytest.fixture(scope="module")
def raw(out):
    """Every CSV data row as text (row i of the file is index i - 1)."""
    path, _ = out
    return pd.read_csv(path / "decisions.csv", dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def valid(out, raw):
    """The rows the manifest says are valid, typed."""
    _, manifest = out
    skip = {e["row"] for e in manifest["malformed"]} | {e["row"] for e in manifest["duplicates"]}
    df = raw[~(raw.index + 1).isin(skip)].copy()
    for col in ("ts", "review_started_at", "review_completed_at"):
        df[col] = pd.to_datetime(df[col], format="%Y-%m-%dT%H:%M:%S")
    for col in ("model_score", "income", "loan_amount", "debt_to_income"):
        df[col] = df[col].astype(float)
    df["reviewed"] = df.reviewer_id != ""
    df["seconds"] = (df.review_completed_at - df.review_started_at).dt.total_seconds()
    return df


@pytest.fixture(scope="module")
def cases(valid):
    """One row per case with the effective final decision (SCHEMA §1 default rule)."""
    last = valid.sort_values(["case_id", "review_completed_at"]).groupby("case_id").tail(1)
    last = last.set_index("case_id")
    final = last.final_decision.where(last.final_decision != "",
                                      last.human_decision.where(last.reviewed, last.model_decision))
    return last.assign(final=final)


def test_reproducible(out, tmp_path):
    path, manifest = out
    again = demo.generate(tmp_path / "same", cases=CASES, seed=0)
    assert again == manifest
    for name in ("decisions.csv", "decisions.parquet", "manifest.json"):
        assert (tmp_path / "same" / name).read_bytes() == (path / name).read_bytes()
    demo.generate(tmp_path / "other", cases=CASES, seed=1)
    other = (tmp_path / "other" / "decisions.csv").read_bytes()
    assert other != (path / "decisions.csv").read_bytes()


def test_counts_add_up(out, raw, valid):
    path, m = out
    assert json.loads((path / "manifest.json").read_text()) == m
    assert m["cases"] == CASES and m["system"] == demo.SYSTEM
    assert len(raw) == m["csv_rows"] == m["valid_rows"] + m["malformed_rows"] + m["duplicate_rows"]
    assert len(m["malformed"]) == m["malformed_rows"] and 30 <= m["malformed_rows"] <= 50
    assert len(m["duplicates"]) == m["duplicate_rows"] == 10
    assert len(valid) == m["valid_rows"] == pq.read_metadata(path / "decisions.parquet").num_rows
    assert valid.case_id.nunique() == CASES
    assert not valid.duplicated(["case_id", "reviewer_id"]).any()
    assert list(raw.columns[:len(demo.CANONICAL)]) == demo.CANONICAL and "review_seconds" not in raw.columns


def test_duplicates_repeat_an_earlier_valid_row(out):
    path, m = out
    lines = (path / "decisions.csv").read_text().split("\n")[1:]
    malformed = {e["row"] for e in m["malformed"]}
    for d in m["duplicates"]:
        assert d["duplicate_of_row"] < d["row"] and d["duplicate_of_row"] not in malformed
        assert lines[d["row"] - 1] == lines[d["duplicate_of_row"] - 1]
    valid_lines = [line for i, line in enumerate(lines[:-1], 1)
                   if i not in malformed and i not in {d["row"] for d in m["duplicates"]}]
    assert len(set(valid_lines)) == len(valid_lines)


def test_each_malformed_row_has_its_recorded_problem(out, raw, valid):
    _, m = out
    identities = dict(zip(zip(valid.case_id, valid.reviewer_id), valid.human_decision))
    keys = list(enumerate(zip(raw.case_id, raw.reviewer_id), 1))
    first_row = {key: i for i, key in reversed(keys)}
    kinds = set()
    for e in m["malformed"]:
        row = raw.iloc[e["row"] - 1]
        value = row[e["field"]]
        kinds.add((e["field"], e["kind"]))
        if e["kind"] == "conflict":
            key = (row.case_id, row.reviewer_id)
            assert identities[key] != row.human_decision and first_row[key] < e["row"]
            continue
        assert row.case_id not in identities.keys() and row.case_id not in set(valid.case_id)
        if e["kind"] == "missing":
            assert value == ""
        elif e["kind"] == "unparsable_timestamp":
            parsed = pd.to_datetime(pd.Series([value]), errors="coerce", format="ISO8601")
            assert parsed.isna().all()
        elif e["kind"] == "unparsable_number":
            assert pd.to_numeric(pd.Series([value]), errors="coerce").isna().all()
        elif e["kind"] == "unparsable_bool":
            assert value.lower() not in {"true", "false", "1", "0", ""}
        elif e["kind"] == "human_decision_without_reviewer_id":
            assert value == "" and row.human_decision != ""
        else:
            pytest.fail(f"unknown kind {e['kind']}")
    assert {f for f, _ in kinds} == {"case_id", "ts", "model_decision", "model_score",
                                     "reviewer_id", "human_decision", "review_completed_at",
                                     "escalated"}


def test_parquet_is_typed_and_equals_the_valid_csv_rows(out, valid):
    path, _ = out
    table = pq.read_table(path / "decisions.parquet")
    assert pa.types.is_timestamp(table.schema.field("ts").type)
    assert pa.types.is_timestamp(table.schema.field("review_completed_at").type)
    assert table.schema.field("model_score").type == pa.float64()
    assert table.schema.field("escalated").type == pa.bool_()
    df = table.to_pandas()
    assert list(df.case_id) == list(valid.case_id)
    assert np.array_equal(df.model_score.to_numpy(), valid.model_score.to_numpy())  # exact
    assert (df.ts == valid.ts.to_numpy()).all()
    escalated = df.escalated.astype("boolean").fillna(False).to_numpy()
    assert (escalated == (valid.escalated == "true").to_numpy()).all()


def test_row_shapes(valid):
    reviewed = valid[valid.reviewed]
    assert valid.ts.astype(str).str.len().eq(19).all()
    unreviewed = valid[~valid.reviewed]
    assert (reviewed.human_decision != "").all() and (unreviewed.human_decision == "").all()
    assert (reviewed.review_started_at > reviewed.ts).all() and (reviewed.seconds > 0).all()
    assert set(reviewed.escalated) == {"true", "false"} and (unreviewed.escalated == "").all()
    assert (valid.final_decision[valid.escalated != "true"] == "").all()
    assert (valid.final_decision[valid.escalated == "true"] != "").all()
    assert valid.groupby("case_id").final_decision.nunique().max() == 1
    assert set(valid.model_decision) == {"approve", "decline"}
    approve = valid.model_decision == "approve"
    assert (approve == (valid.model_score >= demo.THRESHOLD)).all()
    per_case = valid.groupby("case_id").size()
    assert 60 <= (per_case >= 2).sum() and (per_case == 3).any() and per_case.max() == 3
    assert valid.reviewer_id[valid.reviewed].nunique() == 25
    assert 0.0 < (reviewed.rationale == "").mean() < 0.2


def test_about_30_percent_of_cases_reviewed(cases):
    assert 0.25 < cases.reviewed.mean() < 0.35


def test_period_and_model_versions(out, valid):
    first, last = valid.ts.min(), valid.ts.max()
    assert pd.Timestamp("2025-11-01") <= first < pd.Timestamp("2025-11-02")
    assert pd.Timestamp("2026-10-31") <= last < pd.Timestamp("2026-11-01")
    assert out[1]["period"] == {"from": "2025-11-01", "to": "2026-10-31"}
    v2 = valid.ts >= pd.Timestamp("2026-05-01")
    assert (valid.model_version == np.where(v2, "v2.0", "v1.4")).all()
    before = (valid.ts < pd.Timestamp("2026-09-01"))
    assert (valid.outcome[~before] == "").all()
    assert 0.9 < (valid.outcome[before] != "").mean() < 0.995


def test_rubber_stamper_is_fast_and_never_disagrees(out, valid):
    _, m = out
    rubber = m["planted"]["rubber_stamper"]["reviewer_id"]
    reviews = valid[valid.reviewed]
    override = reviews.human_decision != reviews.model_decision
    mine = reviews.reviewer_id == rubber
    assert mine.sum() > 200
    assert override[mine].mean() < 0.02 < 0.1 < override[~mine].mean()
    assert reviews.seconds[mine].median() < 15 and 90 < reviews.seconds[~mine].median() < 240
    by_reviewer = override.groupby(reviews.reviewer_id).mean()
    assert by_reviewer.idxmin() == rubber and by_reviewer.drop(rubber).min() > 0.1
    # the same kind of cases as the peers
    assert abs(reviews.model_score[mine].mean() - reviews.model_score[~mine].mean()) < 0.03


def test_young_applicants_disadvantaged_by_model_partly_corrected_by_reviewers(cases):
    young = cases.age_band == "18-24"
    model = cases.model_decision == "approve"
    final = cases.final == "approve"
    assert model[young].mean() < model[~young].mean() - 0.2
    model_gap = model.groupby(cases.age_band).mean()
    final_gap = final.groupby(cases.age_band).mean()
    assert final_gap.max() - final_gap.min() < model_gap.max() - model_gap.min() - 0.03
    # reviewers turn the model's declines of young applicants into approvals more often
    reviewed = cases[cases.reviewed & (cases.model_decision == "decline")]
    flipped = reviewed.final == "approve"
    young_reviewed = reviewed.age_band == "18-24"
    assert flipped[young_reviewed].mean() > flipped[~young_reviewed].mean() + 0.05
    # gender is the control: no planted gap
    by_gender = model.groupby(cases.gender).mean()
    assert abs(by_gender["F"] - by_gender["M"]) < 0.03


def test_reviewers_beat_the_model_where_they_override(cases):
    overridden = cases.reviewed & (cases.human_decision != cases.model_decision)
    known = cases[overridden & (cases.outcome != "")]
    assert len(known) > 500
    human_right = (known.human_decision == known.outcome).mean()
    model_right = (known.model_decision == known.outcome).mean()
    assert human_right > model_right + 0.1


def test_drift_in_the_last_quarter_only(cases):
    def window(a, b):
        return cases[(cases.ts >= pd.Timestamp(a)) & (cases.ts < pd.Timestamp(b))]

    q1, q2 = window("2025-11-01", "2026-02-01"), window("2026-02-01", "2026-05-01")
    q3, q4 = window("2026-05-01", "2026-08-01"), window("2026-08-01", "2026-11-01")
    drift = ks_2samp(q3.income, q4.income)
    assert drift.pvalue < 0.01 and drift.statistic > 0.08
    for a, b in ((q1, q2), (q2, q3), (q1, q3)):  # no drift: a small distance (p varies by seed)
        assert ks_2samp(a.income, b.income).statistic < 0.04
    assert (q3.channel == "partner-app").mean() < 0.02 < 0.15 < (q4.channel == "partner-app").mean()
    assert q4.model_score.mean() < q3.model_score.mean()

    def override(q):
        q = q[q.reviewed]
        return (q.final != q.model_decision).mean()

    assert override(q4) > override(q3) + 0.01
    assert override(q3) < override(q1)  # v2.0 overridden less than v1.4


def test_agreement_is_high_but_not_perfect(out, valid):
    krippendorff = pytest.importorskip("krippendorff")
    _, m = out
    multi = valid[valid.groupby("case_id").case_id.transform("size") >= 2]
    table = multi.pivot(index="reviewer_id", columns="case_id", values="human_decision")
    data = table.apply(lambda col: col.map({"approve": 1.0, "decline": 0.0})).to_numpy(dtype=float)
    alpha = krippendorff.alpha(reliability_data=data, level_of_measurement="nominal")
    assert 0.5 < alpha < 0.95  # ~470 cases at 20k; 0.75-0.78 at 200k
    assert alpha == pytest.approx(m["planted"]["agreement"]["krippendorff_alpha_nominal"], abs=1e-3)


def test_multi_reviewed_cases_stay_within_a_team_so_pairs_build_up_overlap(out, valid):
    """Planted overlap for pairwise Cohen's kappa: co-reviewers come from the first reviewer's team of
    five, so only the 50 within-team pairs ever share cases (200k cases: all 50 share >= 20,
    data/README.md). Counted here from the CSV, independently of the generator's own tally."""
    _, m = out
    multi = valid[valid.groupby("case_id").case_id.transform("size") >= 2]
    team = multi.reviewer_id.str[4:].astype(int).sub(1) // demo.TEAM_SIZE
    assert (team.groupby(multi.case_id).nunique() == 1).all()
    pairs = {}
    for _, ids in multi.groupby("case_id").reviewer_id:
        ids = sorted(set(ids))
        for i, a in enumerate(ids):
            for b in ids[i + 1:]:
                pairs[(a, b)] = pairs.get((a, b), 0) + 1
    planted = m["planted"]["agreement"]
    assert len(pairs) == planted["reviewer_pairs"] <= 50
    assert sum(n >= 20 for n in pairs.values()) == planted["pairs_with_min_shared"]
    assert planted["median_shared_cases_per_pair"] == pytest.approx(float(np.median(list(pairs.values()))))


def test_most_pairs_share_twenty_cases_in_the_default_quarter_at_the_documented_size(tmp_path):
    """Issue 15: the dashboard and the report open on the last full quarter (2026-07-01..09-30), where
    the pairwise Cohen's kappa needs 20 shared cases per pair. At the documented 200k cases (seed 0)
    the 8% multi-review share gives 49 of the 50 team pairs that many there (the 3% planted before
    gave 4). Counted from decisions.parquet (the valid rows), independently of the generator's tally."""
    m = demo.generate(tmp_path, cases=200_000, seed=0)
    df = pd.read_parquet(tmp_path / "decisions.parquet", columns=["case_id", "ts", "reviewer_id"])
    ts = pd.to_datetime(df.ts)
    df = df[(ts >= "2026-07-01") & (ts < "2026-10-01") & df.reviewer_id.notna() & (df.reviewer_id != "")]
    multi = df[df.groupby("case_id").case_id.transform("size") >= 2]
    pairs: dict[tuple[str, str], int] = {}
    for _, ids in multi.groupby("case_id").reviewer_id:
        ids = sorted(set(ids))
        for i, a in enumerate(ids):
            for b in ids[i + 1:]:
                pairs[(a, b)] = pairs.get((a, b), 0) + 1
    reaching = sum(n >= 20 for n in pairs.values())
    assert len(pairs) == 50 and reaching == 49  # the run's count (data/README.md); the issue asks >= 40
    quarter = m["planted"]["agreement"]["default_quarter"]
    assert (quarter["reviewer_pairs"], quarter["pairs_with_min_shared"]) == (50, 49)
    assert quarter["cases_with_multiple_reviews"] == multi.case_id.nunique()


def test_too_few_cases_refused(tmp_path):
    with pytest.raises(ValueError):
        demo.generate(tmp_path, cases=10)


def test_routing_band_narrower_than_the_policy_band_is_a_planted_coverage_gap(cases):
    """Planted effect 14 (data/README.md): the deployment routes scores within THRESHOLD ±
    REVIEW_BAND (0.38-0.62) to a person, the default policy calls 0.35-0.65 high-risk; the cases
    in between are mostly automated, so high-risk coverage FAILs -- on purpose, and documented."""
    from hitlgov.metrics.policy import load_policy

    policy = load_policy()
    lo, hi = policy.setting("high_risk_score_band")
    assert (demo.THRESHOLD - demo.REVIEW_BAND, demo.THRESHOLD + demo.REVIEW_BAND) == pytest.approx((0.38, 0.62))
    assert lo < demo.THRESHOLD - demo.REVIEW_BAND and hi > demo.THRESHOLD + demo.REVIEW_BAND
    score = cases.model_score.astype(float)
    routed = (score - demo.THRESHOLD).abs() < demo.REVIEW_BAND
    assert cases.reviewed[routed].all()  # inside the routing band every case is reviewed
    in_policy_band = (score >= lo) & (score <= hi)
    coverage = cases.reviewed[in_policy_band].mean()
    rule = next(r for r in policy.rules if r["metric"] == "oversight.high_risk_review_coverage")
    assert coverage < rule["fail_below"]
    gap = in_policy_band & ~routed
    assert cases.reviewed[gap].mean() < 0.5  # the cases between the bands are mostly automated
