"""Synthetic decision log for the demo, the tests and the benchmarks.

``generate(out_dir)`` writes a year (2025-11-01 .. 2026-10-31) of a consumer-credit model's
decisions and the human reviews of them, in the canonical columns of SCHEMA.md §1, with a
known set of planted problems. Every planted effect exists so that one part of the dashboard
has something true to find, and so that tests can check it finds exactly that:

* **Rubber-stamping reviewer** (``rev-07``): confirms the model on almost every case (<1%
  overrides) in ~8 s instead of the peers' 2-3 minutes, on the same mix of cases, and rarely
  writes a rationale. Human oversight that is only nominal is the failure the EU AI Act's
  Art. 14 ("automation bias") is about; per-reviewer override rate and review time expose it.
* **Biased model, partly corrected by people**: the model under-scores 18-24 year-olds (thin
  credit files) by 0.8 logits relative to how they actually repay. Reviewers judge from the
  documents, so on the cases they see they overturn more of those declines: the demographic
  parity gap of ``final_decision`` is smaller than that of ``model_decision``. This is what
  the fairness view should show by ``age_band``; ``gender`` carries no planted effect (control).
* **Drift in the last quarter** (from 2026-08-01): a new ``partner-app`` channel surges; its
  applicants declare lower incomes and smaller loans but repay better than the model expects.
  ``income`` and ``channel`` shift, scores drift down and the override rate rises - the drift
  view should flag Aug-Oct against the quarter before, and no earlier quarter against another.
* **Model upgrade** on 2026-05-01: ``v1.4`` -> ``v2.0``, less noisy, so fewer overrides.
* **Agreement**: 8% of reviewed cases get two or three independent reviewers from one team who
  mostly agree (Krippendorff's alpha ~0.75); disagreements are often escalated. At 200k cases
  49 of the 50 team pairs share 20 cases even in the default quarter (pairwise Cohen's kappa).
* **Outcomes** (repaid = ``approve``, defaulted = ``decline``) are unknown for the last two
  months and randomly for 3%: error-rate metrics must cope with missing ground truth.
  Reviewers are more often right than the model on the cases where they override it (the
  rubber-stamper adds nothing). Unlike in real lending, declined applicants have outcomes too
  (a synthetic simplification, so that false-negative rates are defined).
* **Dirty input** (CSV only): ~40 malformed rows of known kinds, including conflicting
  re-reviews, and ~10 exact duplicates - each listed in ``manifest.json`` so ingestion tests
  know the exact expected stored / skipped / quarantined counts.

Everything is vectorised with numpy and written in chunks with pyarrow, so 10M cases fit in a
few GB. The same ``seed`` and ``cases`` give byte-identical files (with the same numpy).
"""
from __future__ import annotations

import io
import json
import pathlib

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from hitlgov.schema import CANONICAL_FIELDS

SYSTEM = "consumer-credit"
LABELS = np.array(["approve", "decline"])  # index 0 = approve (the positive label)
POSITIVE = "approve"
PERIOD = ("2025-11-01", "2026-10-31")
V2_FROM = "2026-05-01"  # model v1.4 -> v2.0
DRIFT_FROM = "2026-08-01"  # partner-app channel surges
OUTCOME_UNKNOWN_FROM = "2026-09-01"  # repayment not yet observed
THRESHOLD = 0.5  # approve when model_score >= THRESHOLD (log-odds 0: people decide alike)
REVIEW_BAND = 0.12  # scores within THRESHOLD +- REVIEW_BAND go to a human
LARGE_LOAN = 50_000  # loans at least this large always go to a human
AUDIT_SHARE = 0.03  # random audit sample of the remaining cases
CANARY_SHARE = 0.03  # reviewed cases whose model output shown is a planted wrong one
INITIAL_REVIEWERS = 5  # rev-01 .. rev-05 record their first judgement before seeing the model
MULTI_REVIEW_SHARE = 0.08  # reviewed cases given to 2-3 independent reviewers (3% until issue 15:
# planted when the default period was the whole log; in the default quarter 4 of 50 pairs shared 20 cases)
DEFAULT_QUARTER = ("2026-07-01", "2026-09-30")  # the dashboard's and report's default period of the demo
REVIEWERS = np.array([f"rev-{i:02d}" for i in range(1, 26)])
TEAM_SIZE = 5  # a multi-reviewed case's co-reviewers come from its first reviewer's team (rev-01..05, ...)
RUBBER_STAMPER = 6  # index of "rev-07"

# The simulation's knobs, in log-odds of repaying unless stated (tuned so that at 200k cases:
# ~31% reviewed, ~22% overrides, alpha ~0.75-0.78, repaid ~65%).
INTERCEPT = 0.6  # baseline creditworthiness
U_SD = 0.6  # creditworthiness the features miss but the documents show
PARTNER_HIDDEN = 1.5  # partner-app applicants repay this much better than their features say
V1_NOISE, V2_NOISE = 0.7, 0.3  # model error of v1.4 and v2.0
PARTNER_NOISE = 0.5  # extra model error on partner-app applicants (unlike its training data)
YOUNG_BIAS = 0.8  # what the model wrongly takes off 18-24 year-olds
YOUNG_INCOME = 40_000  # median income of 18-24 (others: 48k, 58k, 40k)
ANCHOR = 0.65  # weight a reviewer gives the model's score (the rest: the documents)
LENIENCY, OWN_NOISE = 0.1, 0.3  # spread of reviewers' leniency and of their own reading

GENDERS = np.array(["F", "M", "X"])
AGE_BANDS = np.array(["18-24", "25-39", "40-59", "60+"])
EMPLOYMENT = np.array(["salaried", "self-employed", "contract", "retired"])
CHANNELS = np.array(["branch", "web", "mobile", "broker", "partner-app"])
PARTNER = 4
VERSIONS = np.array(["v1.4", "v2.0"])

# Rationale templates: confirm approve, confirm decline, override to approve, override to
# decline (4 each), then the rubber-stamper's 2. No commas: the CSV is written unquoted.
RATIONALES = np.array([
    "Income and employment verified; affordable",
    "Documents consistent with application",
    "Agree with model; repayment history clean",
    "Affordability within policy",
    "DTI above policy limit after verified expenses",
    "Recent arrears on bureau file",
    "Agree with model; affordability fails",
    "Income could not be verified",
    "Thin credit file but 24 months of rent paid on time",
    "Verified income higher than declared",
    "Stable long-term employment; score understates capacity",
    "Savings cover 6+ months of repayments",
    "Undisclosed obligations found in bank statements",
    "Income documents inconsistent",
    "Recent missed payments not yet in score",
    "Loan purpose outside policy",
    "ok",
    "Agree with model",
])

# the demo leaves review_seconds out: ingestion derives it from the two review timestamps
CANONICAL = [f for f in CANONICAL_FIELDS if f != "review_seconds"]
SENSITIVE = ["gender", "age_band"]
FEATURES = ["income", "loan_amount", "debt_to_income", "credit_history_months",
            "employment_type", "channel"]
COLUMNS = CANONICAL + SENSITIVE + FEATURES

CHUNK_ROWS = 1_000_000  # rows per CSV write and Parquet row group
TS_FORMAT = "%Y-%m-%dT%H:%M:%S"


def generate(out_dir: pathlib.Path, *, cases: int = 200_000, seed: int = 0) -> dict:
    """Write decisions.csv, decisions.parquet, manifest.json and mapping.yaml to out_dir; return the manifest."""
    if cases < 1_000:
        raise ValueError("cases must be at least 1000 (room for the planted effects)")
    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    c = _cases(rng, cases)
    r = _reviews(rng, c)
    extras = _extras(rng, c, r)
    _plant_canaries(np.random.default_rng([seed, 17]), c, r)  # own stream: the rest is unchanged
    n_valid = len(r["case"])
    _write(out_dir, c, r, extras)

    malformed = [{"row": e["row"], "field": e["field"], "kind": e["kind"]}
                 for e in extras if e["kind"] != "duplicate"]
    manifest = {
        "system": SYSTEM,
        "positive_label": POSITIVE,
        "labels": LABELS.tolist(),
        "sensitive": SENSITIVE,
        "features": FEATURES,
        "label_order": None,  # approve/decline are nominal
        "seed": seed,
        "cases": cases,
        "valid_rows": n_valid,
        "csv_rows": n_valid + len(extras),
        "malformed_rows": len(malformed),
        "duplicate_rows": len(extras) - len(malformed),
        "malformed": malformed,
        "duplicates": [{"row": e["row"], "duplicate_of_row": e["source_row"]}
                       for e in extras if e["kind"] == "duplicate"],
        "period": {"from": PERIOD[0], "to": PERIOD[1]},
        "planted": _planted(c, r),
    }
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    (out_dir / "mapping.yaml").write_text(mapping_yaml())
    return manifest


def mapping_yaml() -> str:
    """The demo uses canonical column names; the mapping only declares roles and the positive label."""
    return (
        "# Declarations for the demo deployment (its columns already carry the canonical names).\n"
        f"system: {SYSTEM}\n"
        f"sensitive: [{', '.join(SENSITIVE)}]\n"
        f"features: [{', '.join(FEATURES)}]\n"
        f"positive_label: {POSITIVE}\n"
    )


# --- simulation ---------------------------------------------------------------------------

def _epoch(day: str) -> int:
    return int(np.datetime64(day, "s").astype(np.int64))


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _cases(rng, n: int) -> dict:
    """Case-level arrays (one entry per case, in time order).

    The ground truth ``t`` (log-odds of repaying) comes from the features plus a part ``u`` only
    the documents reveal. The model sees the features, is noisy, and is biased against 18-24.
    """
    days = (_epoch("2026-11-01") - _epoch(PERIOD[0])) // 86_400
    tod = np.mod(rng.normal(14 * 3600, 4 * 3600, n), 86_400).astype(np.int64)  # daytime peak
    ts = np.sort(_epoch(PERIOD[0]) + rng.integers(0, days, n) * 86_400 + tod)

    gender = rng.choice(3, n, p=[0.49, 0.49, 0.02])
    age_band = rng.choice(4, n, p=[0.13, 0.37, 0.33, 0.17])
    young, senior = age_band == 0, age_band == 3

    # partner-app: a 0.5% pilot, then from DRIFT_FROM a ramp from 10% to 45% of applications
    drift_t0, end = _epoch(DRIFT_FROM), _epoch("2026-11-01")
    ramp = np.clip((ts - drift_t0) / (end - drift_t0), 0, 1)
    p_partner = np.where(ts >= drift_t0, 0.10 + 0.35 * ramp, 0.005)
    other = rng.choice(4, n, p=[0.22, 0.38, 0.30, 0.10])
    channel = np.where(rng.random(n) < p_partner, PARTNER, other)
    partner = channel == PARTNER

    cum = np.where(senior[:, None], np.cumsum([0.30, 0.10, 0.05, 0.55]),
                   np.cumsum([0.70, 0.15, 0.15, 0.0]))
    employment = (rng.random(n)[:, None] > cum).sum(axis=1).clip(0, 3)

    lo, hi = np.array([18, 25, 40, 60])[age_band], np.array([25, 40, 60, 80])[age_band]
    age = lo + rng.random(n) * (hi - lo)
    history = np.floor((age - 18) * 12 * rng.uniform(0.2, 1.0, n)).astype(np.int64)

    income = (np.array([YOUNG_INCOME, 48_000, 58_000, 40_000])[age_band]
              * np.array([1.0, 1.1, 0.85, 0.75])[employment]
              * np.where(partner, 0.6, 1.0) * rng.lognormal(0, 0.45, n))
    income = (np.round(income / 100) * 100).astype(np.int64).clip(6_000)
    loan = income * 0.25 * np.where(partner, 0.5, 1.0) * rng.lognormal(0, 0.7, n)
    loan = (np.round(loan / 100) * 100).clip(500, 150_000).astype(np.int64)
    dti = np.round(rng.beta(2.2, 5.5, n) * 0.85 + np.where(partner, 0.04, 0.0), 3)

    f = (INTERCEPT + 1.2 * np.log(income / 45_000) - 5.0 * (dti - 0.28)
         + 0.15 * np.log((history + 6) / 120) - 0.6 * np.log(loan / income / 0.25)
         + np.array([0.0, -0.15, -0.3, 0.1])[employment])
    t = f + rng.normal(0, U_SD, n) + np.where(partner, PARTNER_HIDDEN, 0.0)
    repaid = rng.random(n) < _sigmoid(t)

    v2 = ts >= _epoch(V2_FROM)
    noise = np.where(v2, V2_NOISE, V1_NOISE) + np.where(partner, PARTNER_NOISE, 0.0)
    m = f - YOUNG_BIAS * young + rng.normal(0, 1, n) * noise
    score = np.round(_sigmoid(m), 4)
    model_approve = score >= THRESHOLD

    near = np.abs(score - THRESHOLD) < REVIEW_BAND
    audit_draw = rng.random(n) < AUDIT_SHARE  # (drawn exactly where it always was: same data)
    reviewed = near | (loan >= LARGE_LOAN) | audit_draw
    multi = reviewed & (rng.random(n) < MULTI_REVIEW_SHARE)
    n_reviews = reviewed.astype(np.int64) + multi + (multi & (rng.random(n) < 0.25))

    outcome_known = (ts < _epoch(OUTCOME_UNKNOWN_FROM)) & (rng.random(n) >= 0.03)
    return dict(
        n=n, ts=ts, gender=gender, age_band=age_band, channel=channel, employment=employment,
        history=history, income=income, loan=loan, dti=dti, t=t, m=m, score=score,
        model_approve=model_approve, v2=v2, reviewed=reviewed, n_reviews=n_reviews,
        # the random audit: otherwise automated cases sent to a person with probability AUDIT_SHARE
        audit=audit_draw & ~near & (loan < LARGE_LOAN),
        repaid=repaid, outcome_known=outcome_known,
        evidence=t + rng.normal(0, 0.5, n),  # what the documents show every reviewer
        senior_approve=t + rng.normal(0, 0.3, n) > 0,  # an escalation's senior decision
    )


def _plant_canaries(rng, c: dict, r: dict) -> None:
    """Mark CANARY_SHARE of the reviewed cases whose shown model decision is wrong (against the
    true repayment) as canaries: a deployment plants known-wrong outputs to test attention; here
    the wrong outputs already exist, so marking them changes no other column."""
    wrong = c["reviewed"] & (c["model_approve"] != c["repaid"]) & (c["n_reviews"] == 1)
    c["canary"] = wrong & (rng.random(c["n"]) < CANARY_SHARE)


def _reviews(rng, c: dict) -> dict:
    """Row-level arrays: one row per review, one row with reviewer -1 per unreviewed case.

    A reviewer weighs the model's score (ANCHOR) against the case documents (shared by everyone
    who reviews the case, read with their own noise and leniency) - which yields alpha ~0.75.
    Rows of a case are ordered by completion, so "the last review" is also the last row.
    """
    n = c["n"]
    per_case = np.maximum(c["n_reviews"], 1)
    case = np.repeat(np.arange(n), per_case)
    starts = np.cumsum(per_case) - per_case
    k = np.arange(len(case)) - starts[case]
    is_review = c["reviewed"][case]

    workload = rng.lognormal(0, 0.6, len(REVIEWERS))
    workload[RUBBER_STAMPER] = 1.3 * workload.mean()  # a busy rubber-stamper
    first = rng.choice(len(REVIEWERS), n, p=workload / workload.sum())
    # Co-reviewers are distinct members of the first reviewer's team (calibration pairs, as review
    # teams run them): 5 teams x 10 pairs, so each pair builds up enough shared cases for a
    # pairwise Cohen's kappa (>= 20 at the default size, for 49 of 50 pairs even in the default
    # quarter; data/README.md).
    d1 = rng.integers(1, TEAM_SIZE, n)  # distinct co-reviewers: shifted ids within the team
    d2 = rng.integers(1, TEAM_SIZE - 1, n)
    d2 = d2 + (d2 >= d1)
    offset = np.stack([np.zeros(n, np.int64), d1, d2])[k, case]
    team = first[case] // TEAM_SIZE * TEAM_SIZE
    reviewer = np.where(is_review, team + (first[case] % TEAM_SIZE + offset) % TEAM_SIZE, -1)
    rubber = reviewer == RUBBER_STAMPER

    leniency = rng.normal(0, LENIENCY, len(REVIEWERS))
    judgement = (c["evidence"][case] + leniency[reviewer] + rng.normal(0, OWN_NOISE, len(case)))
    human = ANCHOR * c["m"][case] + (1 - ANCHOR) * judgement > 0
    model = c["model_approve"][case]
    human = np.where(rubber, model ^ (rng.random(len(case)) < 0.004), human)

    median_s = rng.uniform(110, 210, len(REVIEWERS))
    median_s[RUBBER_STAMPER] = 8.0
    sigma = np.where(rubber, 0.35, 0.5)
    slow = np.where(c["loan"][case] >= LARGE_LOAN, 1.4, 1.0)
    duration = median_s[reviewer] * slow * np.exp(sigma * rng.normal(size=len(case)))
    duration = np.maximum(np.round(duration), 2)
    delay = np.maximum(np.round(np.exp(np.log(2400) + rng.normal(size=len(case)))), 30)
    started = c["ts"][case] + delay.astype(np.int64)
    completed = started + duration.astype(np.int64)

    overridden = human != model
    template = 8 * overridden + 4 * ~human + rng.integers(0, 4, len(case))
    template = np.where(rubber, 16 + rng.integers(0, 2, len(case)), template)
    missing = rng.random(len(case)) < np.where(rubber, 0.92, 0.04)
    rationale = np.where(missing, -1, template)

    order = np.lexsort((np.where(is_review, completed, 0), case))  # case, then completion
    # the reviewer's own reading of the documents before seeing the model's score, recorded by
    # the tool of INITIAL_REVIEWERS only (issue 17: human_initial_decision)
    initial = judgement > 0
    r = dict(case=case, reviewer=reviewer, human=human, started=started, completed=completed,
             rationale=rationale, initial=initial)
    r = {key: v[order] for key, v in r.items()}
    r["is_review"] = is_review  # unchanged by the reorder (within-case only)

    # case level: escalation (more for large loans and for disagreeing reviewers), final decision
    h = r["human"].astype(np.int8)
    disagree = np.maximum.reduceat(h, starts) != np.minimum.reduceat(h, starts)
    p_escalate = 0.02 + 0.10 * (c["loan"] >= LARGE_LOAN) + 0.45 * disagree
    c["escalated"] = c["reviewed"] & (rng.random(n) < p_escalate)
    last = starts + per_case - 1
    c["final_approve"] = np.where(c["escalated"], c["senior_approve"],
                                  np.where(c["reviewed"], r["human"][last], c["model_approve"]))
    return r


# --- dirty rows ------------------------------------------------------------------------------

# (kind, field, the field's broken value(s), count); a conflict flips human_decision instead
_MALFORMED = [
    ("missing", "case_id", "", 5),
    ("unparsable_timestamp", "ts", ["31/13/2026", "yesterday"], 6),
    ("missing", "model_decision", "", 5),
    ("unparsable_number", "model_score", "n/a", 5),
    ("human_decision_without_reviewer_id", "reviewer_id", "", 5),
    ("unparsable_timestamp", "review_completed_at", ["2026-13-45T25:61:00", "soon"], 4),
    ("unparsable_bool", "escalated", "maybe", 4),
    ("conflict", "human_decision", None, 6),
]
N_DUPLICATES = 10


def _extras(rng, c: dict, r: dict) -> list[dict]:
    """Plan the malformed and duplicate rows: which valid row each is made from and where it goes.

    ``pos`` = index of the valid row the extra is inserted before. Conflicts and duplicates go
    after their source; other malformed rows get a fresh case id beyond the valid ones, so the
    only identity they share with a valid row is the deliberate one of a conflict.
    """
    n_valid = len(r["case"])
    reviewed_rows = np.flatnonzero(r["is_review"] & ~c["escalated"][r["case"]])
    extras, fresh = [], c["n"]
    used = set()

    def pick(pool):  # a row not used yet, from the pool (None: any valid row but the last)
        while True:
            i = int(rng.integers(0, n_valid - 1) if pool is None else pool[rng.integers(len(pool))])
            if i not in used:
                used.add(i)
                return i

    for kind, field, value, count in _MALFORMED:
        for j in range(count):
            needs_review = field in ("human_decision", "reviewer_id", "review_completed_at",
                                     "escalated")
            src = pick(reviewed_rows if needs_review else None)
            e = {"kind": kind, "field": field, "source": src}
            if kind == "conflict":
                e["pos"] = int(rng.integers(src + 1, n_valid + 1))
            else:
                fresh += 1
                e["case_no"] = fresh
                e["pos"] = int(rng.integers(0, n_valid + 1))
                e["set"] = {field: value[j % len(value)] if isinstance(value, list) else value}
            extras.append(e)
    for _ in range(N_DUPLICATES):
        src = pick(None)
        extras.append({"kind": "duplicate", "field": None, "source": src,
                       "pos": int(rng.integers(src + 1, n_valid + 1))})

    extras.sort(key=lambda e: e["pos"])  # stable: ties keep plan order
    for rank, e in enumerate(extras):
        e["row"] = e["pos"] + rank + 1  # 1-based CSV data row
    placed = np.array([e["pos"] for e in extras])
    for e in extras:
        if e["kind"] in ("conflict", "duplicate"):
            e["source_row"] = e["source"] + int((placed <= e["source"]).sum()) + 1
    return extras


# --- writing -----------------------------------------------------------------------------------

def _labels(approve, valid=None) -> pa.Array:
    idx = np.where(approve, 0, 1)
    return pa.array(LABELS).take(pa.array(idx, mask=None if valid is None else ~valid))


def _table(c: dict, r: dict, rows: np.ndarray, case_no: np.ndarray | None = None) -> pa.Table:
    """Typed Arrow table of the given valid rows (``case_no`` overrides the case numbers)."""
    case = r["case"][rows]
    review = r["is_review"][rows]
    ts = c["ts"][case]
    year = np.where(ts >= _epoch("2026-01-01"), 1, 0)
    number = case + 1 if case_no is None else case_no
    width = max(7, len(str(c["n"] + 100)))
    case_id = pc.binary_join_element_wise(
        pa.array(["CC-2025-", "CC-2026-"]).take(pa.array(year)),
        pc.utf8_lpad(pc.cast(pa.array(number), pa.string()), width=width, padding="0"), "")

    def stamp(seconds, valid=None):
        return pa.array(seconds * 1_000_000, type=pa.timestamp("us"),
                        mask=None if valid is None else ~valid)

    def pick(values, idx, valid=None):
        return pa.array(values).take(pa.array(idx, mask=None if valid is None else ~valid))

    escalated = c["escalated"][case]
    rationale = r["rationale"][rows]
    cols = {
        "case_id": case_id,
        "ts": stamp(ts),
        "system": pa.array(np.full(len(rows), SYSTEM)),
        "model_version": pick(VERSIONS, c["v2"][case].astype(np.int64)),
        "model_decision": _labels(c["model_approve"][case]),
        "model_score": pa.array(c["score"][case], pa.float64()),
        "reviewer_id": pick(REVIEWERS, np.maximum(r["reviewer"][rows], 0), review),
        "human_decision": _labels(r["human"][rows], review),
        "review_started_at": stamp(r["started"][rows], review),
        "review_completed_at": stamp(r["completed"][rows], review),
        "escalated": pa.array(escalated, pa.bool_(), mask=~review),
        "rationale": pick(RATIONALES, np.maximum(rationale, 0), review & (rationale >= 0)),
        "final_decision": _labels(c["senior_approve"][case], escalated),
        "outcome": _labels(c["repaid"][case], c["outcome_known"][case]),
        "canary": pa.array(c["canary"][case], pa.bool_()),
        "audit_sample": pa.array(c["audit"][case], pa.bool_()),
        "audit_probability": pa.array(np.full(len(rows), AUDIT_SHARE), pa.float64(), mask=~c["audit"][case]),
        "human_initial_decision": _labels(r["initial"][rows], review & (r["reviewer"][rows] < INITIAL_REVIEWERS)),
        "gender": pick(GENDERS, c["gender"][case]),
        "age_band": pick(AGE_BANDS, c["age_band"][case]),
        "income": pa.array(c["income"][case], pa.int64()),
        "loan_amount": pa.array(c["loan"][case], pa.int64()),
        "debt_to_income": pa.array(c["dti"][case], pa.float64()),
        "credit_history_months": pa.array(c["history"][case], pa.int64()),
        "employment_type": pick(EMPLOYMENT, c["employment"][case]),
        "channel": pick(CHANNELS, c["channel"][case]),
    }
    return pa.table(cols)


def _as_text(table: pa.Table) -> pa.Table:
    """Timestamps as ISO 8601 with seconds; everything else Arrow writes as wanted already."""
    for name in ("ts", "review_started_at", "review_completed_at"):
        seconds = pc.cast(table[name], pa.timestamp("s"))
        table = table.set_column(table.schema.get_field_index(name), name,
                                 pc.strftime(seconds, format=TS_FORMAT))
    return table


def _csv(text_table: pa.Table) -> bytes:
    """CSV data lines (no header): true/false, shortest round-trip floats, empty = null."""
    buf = io.BytesIO()
    pacsv.write_csv(text_table, buf,
                    pacsv.WriteOptions(include_header=False, quoting_style="none"))
    return buf.getvalue()


def _extra_line(c: dict, r: dict, e: dict) -> bytes:
    """The text of one planned malformed or duplicate row."""
    rows = np.array([e["source"]])
    if e["kind"] == "duplicate":
        return _csv(_as_text(_table(c, r, rows)))
    if e["kind"] == "conflict":
        flipped = dict(r, human=r["human"].copy())
        flipped["human"][e["source"]] ^= True
        return _csv(_as_text(_table(c, flipped, rows)))
    line = _csv(_as_text(_table(c, r, rows, case_no=np.array([e["case_no"]]))))
    fields = line.decode().rstrip("\n").split(",")
    for name, value in e["set"].items():
        fields[COLUMNS.index(name)] = value
    return (",".join(fields) + "\n").encode()


def _write(out_dir: pathlib.Path, c: dict, r: dict, extras: list[dict]) -> None:
    """Stream valid rows in chunks to Parquet and to CSV, splicing the extras in between."""
    n_valid = len(r["case"])
    texts = {id(e): _extra_line(c, r, e) for e in extras}
    pending = list(extras)  # sorted by position
    writer = None
    with open(out_dir / "decisions.csv", "wb") as csv:
        csv.write((",".join(COLUMNS) + "\n").encode())
        for lo in range(0, n_valid, CHUNK_ROWS):
            hi = min(lo + CHUNK_ROWS, n_valid)
            table = _table(c, r, np.arange(lo, hi))
            if writer is None:
                writer = pq.ParquetWriter(out_dir / "decisions.parquet", table.schema,
                                          compression="zstd")
            writer.write_table(table)
            text = _as_text(table)
            for e in extras:  # a duplicate must repeat its source's text exactly
                if e["kind"] == "duplicate" and lo <= e["source"] < hi:
                    assert texts[id(e)] == _csv(text.slice(e["source"] - lo, 1))
            at = lo
            while pending and pending[0]["pos"] < hi:
                e = pending.pop(0)
                csv.write(_csv(text.slice(at - lo, e["pos"] - at)))
                csv.write(texts[id(e)])
                at = e["pos"]
            csv.write(_csv(text.slice(at - lo)))
        for e in pending:  # extras placed after the last valid row
            csv.write(texts[id(e)])
    writer.close()


# --- what a compliance officer should find -------------------------------------------------------

def _rate(x) -> float | None:
    return round(float(np.mean(x)), 4) if len(x) else None


def _pair_overlap(cases: np.ndarray, reviewers: np.ndarray, *, min_shared: int = 20) -> dict:
    """Shared cases per reviewer pair among the multi-reviewed cases (what pairwise Cohen's kappa
    needs: SCHEMA.md asks for at least 20 per pair)."""
    shared: dict[tuple[int, int], int] = {}
    order = np.argsort(cases, kind="stable")
    cases, reviewers = cases[order], reviewers[order]
    bounds = np.flatnonzero(np.diff(cases)) + 1
    for group in np.split(reviewers, bounds):
        g = sorted(set(int(x) for x in group))
        for i, a in enumerate(g):
            for b in g[i + 1:]:
                shared[(a, b)] = shared.get((a, b), 0) + 1
    counts = sorted(shared.values())
    return {"reviewer_pairs": len(counts), "pairs_with_min_shared": sum(n >= min_shared for n in counts),
            "min_shared": min_shared, "median_shared_cases_per_pair": float(np.median(counts)) if counts else 0.0}


def _planted(c: dict, r: dict) -> dict:
    """Key numbers of the planted effects, measured on the generated data (rounded to 4 places)."""
    review = r["is_review"]
    rc = r["case"][review]
    rev = r["reviewer"][review]
    over = r["human"][review] != c["model_approve"][rc]
    secs = (r["completed"] - r["started"])[review]
    rubber = rev == RUBBER_STAMPER
    known = c["outcome_known"][rc]
    truth = c["repaid"][rc]

    overrode = over & known  # reviews that overrode the model, where the outcome is known

    # Krippendorff's alpha (nominal, two labels) over cases with several reviews
    per_case = np.bincount(rc, minlength=c["n"])
    approvals = np.bincount(rc, weights=r["human"][review], minlength=c["n"])
    multi = per_case >= 2
    m, a = per_case[multi], approvals[multi]
    total, n_a = m.sum(), a.sum()
    observed = (2 * a * (m - a) / (m - 1)).sum()
    alpha = 1 - (total - 1) * observed / (2 * n_a * (total - n_a))

    reviewed = c["reviewed"]
    overridden = c["final_approve"] != c["model_approve"]

    def by_group(codes, names, decision):
        return {str(g): _rate(decision[codes == i]) for i, g in enumerate(names)}

    def dp(rates):
        return round(max(rates.values()) - min(rates.values()), 4)

    young = c["age_band"] == 0
    creditworthy = c["repaid"] & c["outcome_known"]

    def fnr(decision, who):  # creditworthy applicants declined
        return _rate(~decision[creditworthy & who])

    age_model = by_group(c["age_band"], AGE_BANDS, c["model_approve"])
    age_final = by_group(c["age_band"], AGE_BANDS, c["final_approve"])
    gender_model = by_group(c["gender"], GENDERS, c["model_approve"])
    gender_final = by_group(c["gender"], GENDERS, c["final_approve"])

    quarter = (c["ts"] >= _epoch(DEFAULT_QUARTER[0])) & (c["ts"] < _epoch("2026-10-01"))
    ref = (c["ts"] >= _epoch("2026-05-01")) & (c["ts"] < _epoch(DRIFT_FROM))
    cur = c["ts"] >= _epoch(DRIFT_FROM)

    def window(sel):
        return {"cases": int(sel.sum()),
                "partner_app_share": _rate(c["channel"][sel] == PARTNER),
                "income_median": float(np.median(c["income"][sel])),
                "model_score_mean": _rate(c["score"][sel]),
                "review_rate": _rate(reviewed[sel]),
                "override_rate": _rate(overridden[sel & reviewed])}

    v2 = c["v2"]
    return {
        "review_rate": _rate(reviewed),
        "automation_rate": _rate(~reviewed),
        "reviews": int(review.sum()),
        "routing": {"threshold": THRESHOLD, "review_band": REVIEW_BAND,
                    "large_loan": LARGE_LOAN, "audit_share": AUDIT_SHARE},
        "override_rate": _rate(overridden[reviewed]),
        "escalation_rate": _rate(c["escalated"][reviewed]),
        "rationale_missing_share": _rate(r["rationale"][review] < 0),
        "rubber_stamper": {
            "reviewer_id": str(REVIEWERS[RUBBER_STAMPER]),
            "reviews": int(rubber.sum()),
            "override_rate": _rate(over[rubber]),
            "review_seconds_median": float(np.median(secs[rubber])),
            "rationale_missing_share": _rate(r["rationale"][review][rubber] < 0),
            "peers_override_rate": _rate(over[~rubber]),
            "peers_review_seconds_median": float(np.median(secs[~rubber])),
            "peers_rationale_missing_share": _rate(r["rationale"][review][~rubber] < 0),
        },
        "agreement": {"cases_with_multiple_reviews": int(multi.sum()),
                      "krippendorff_alpha_nominal": round(float(alpha), 4),
                      **_pair_overlap(rc[multi[rc]], rev[multi[rc]]),
                      # the same in the default period (the last full quarter), where the dashboard opens
                      "default_quarter": {"from": DEFAULT_QUARTER[0], "to": DEFAULT_QUARTER[1],
                                          "cases_with_multiple_reviews": int((multi & quarter).sum()),
                                          **_pair_overlap(rc[(multi & quarter)[rc]], rev[(multi & quarter)[rc]])}},
        "accuracy_on_overrides": {
            "reviews": int(overrode.sum()),
            "reviewer_accuracy": _rate(r["human"][review][overrode] == truth[overrode]),
            "model_accuracy": _rate(c["model_approve"][rc][overrode] == truth[overrode])},
        "disadvantaged": {
            "attribute": "age_band", "group": "18-24",
            "model_bias_logits": -YOUNG_BIAS,
            "model_selection_rate": age_model,
            "final_selection_rate": age_final,
            "model_demographic_parity_difference": dp(age_model),
            "final_demographic_parity_difference": dp(age_final),
            "false_negative_rate_18_24": {"model": fnr(c["model_approve"], young),
                                          "final": fnr(c["final_approve"], young)},
            "false_negative_rate_others": {"model": fnr(c["model_approve"], ~young),
                                           "final": fnr(c["final_approve"], ~young)},
        },
        "control_attribute": {
            "attribute": "gender",
            "model_demographic_parity_difference": dp(gender_model),
            "final_demographic_parity_difference": dp(gender_final),
        },
        "drift": {"start": DRIFT_FROM, "features": ["income", "channel", "loan_amount"],
                  "new_category": {"channel": "partner-app"},
                  "reference": {"from": "2026-05-01", "to": "2026-07-31", **window(ref)},
                  "current": {"from": DRIFT_FROM, "to": PERIOD[1], **window(cur)}},
        "model_versions": {
            "v1.4": {"from": PERIOD[0], "to": "2026-04-30", "cases": int((~v2).sum()),
                     "override_rate": _rate(overridden[reviewed & ~v2])},
            "v2.0": {"from": V2_FROM, "to": PERIOD[1], "cases": int(v2.sum()),
                     "override_rate_before_drift": _rate(overridden[reviewed & v2 & ~cur])},
        },
        "reliance": _planted_reliance(c, r),
        "outcomes": {"unknown_from": OUTCOME_UNKNOWN_FROM,
                     "known_share": _rate(c["outcome_known"]),
                     "repaid_share": _rate(c["repaid"][c["outcome_known"]])},
    }


def _planted_reliance(c: dict, r: dict) -> dict:
    """Issue 17's truths: the automated stream's real error rate (against the true repayment, on
    every automated case, not only the audited ones), the canaries and the first judgements."""
    automated = ~c["reviewed"] | c["audit"]
    wrong = c["model_approve"] != c["repaid"]
    before = c["ts"] < _epoch(OUTCOME_UNKNOWN_FROM)
    review = r["is_review"]
    rc, rev = r["case"][review], r["reviewer"][review]
    canary = c["canary"][rc]
    caught = r["human"][review] != c["model_approve"][rc]
    rubber = rev == RUBBER_STAMPER
    return {
        "audit": {"probability": AUDIT_SHARE, "cases": int(c["audit"].sum()),
                  "automated_cases": int(automated.sum()),
                  "automated_error_rate_true": _rate(wrong[automated]),
                  "automated_error_rate_true_before_outcomes_end": _rate(wrong[automated & before]),
                  "reviewed_stream_model_error_rate_true": _rate(wrong[c["reviewed"] & ~c["audit"]])},
        "canaries": {"cases": int(c["canary"].sum()),
                     "catch_rate_rubber_stamper": _rate(caught[canary & rubber]),
                     "catch_rate_others": _rate(caught[canary & ~rubber])},
        "initial_judgements": {"reviewers": [str(x) for x in REVIEWERS[:INITIAL_REVIEWERS]],
                               "reviews": int((rev < INITIAL_REVIEWERS).sum())},
    }
