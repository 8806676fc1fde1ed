"""Tests for metrics.agreement_stats against published worked examples and hand computations."""

from __future__ import annotations

import json
import math

import krippendorff
import numpy as np
import pandas as pd
import pytest

from hitlgov.metrics.agreement_stats import (
    STATISTICS,
    agreement_summary,
    bootstrap_ci,
    cohen_kappa_pairs,
    consensus_agreement,
    fleiss_kappa,
    krippendorff_alpha,
    percent_agreement,
)

NAN = np.nan
ORDER = ["approve", "escalate", "reject"]  # label order of the synthetic data


def long_from_matrix(matrix, coders=None) -> pd.DataFrame:
    """Coders x units reliability matrix (NaN = not coded) -> long ratings."""
    coders = coders or [f"obs{i}" for i in range(len(matrix))]
    rows = [
        (f"u{u + 1:02d}", coder, value)
        for coder, values in zip(coders, matrix, strict=True)
        for u, value in enumerate(values)
        if not (isinstance(value, float) and math.isnan(value))
    ]
    return pd.DataFrame(rows, columns=["case_id", "reviewer_id", "label"])


def long_from_table(table) -> pd.DataFrame:
    """Subjects x categories count table (Fleiss layout) -> long ratings.

    Rater ids are positional (r00, r01, ...): Fleiss' kappa does not need the same raters on
    every subject, and the published tables do not say who rated what.
    """
    rows = []
    for s, counts in enumerate(table):
        labels = [cat for cat, k in enumerate(counts, start=1) for _ in range(k)]
        rows += [(f"s{s + 1:02d}", f"r{r:02d}", lab) for r, lab in enumerate(labels)]
    return pd.DataFrame(rows, columns=["case_id", "reviewer_id", "label"])


# Krippendorff, K. (2011). "Computing Krippendorff's Alpha-Reliability". Annenberg School for
# Communication, University of Pennsylvania, https://repository.upenn.edu/asc_papers/43 -
# section C, "Nominal data, any number of observers, missing data": observers A-D x units 1-12,
# values 1-5, NaN = unit not coded by that observer. Published: alpha_nominal = 0.743,
# alpha_ordinal = 0.815, alpha_interval = 0.849 (alpha_ratio = 0.797).
# The same matrix is in the test suite of the `krippendorff` package
# (pln-fing-udelar/fast-krippendorff, tests/test_krippendorff.py::test_ordinal_metric).
KRIPPENDORFF_2011 = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, NAN, NAN, NAN],  # observer A
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, NAN, 3],  # observer B
    [NAN, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, NAN],  # observer C
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, NAN],  # observer D
]

# Wikipedia, "Krippendorff's alpha", computational example: 3 coders x 15 units (values 1-4).
# Published nominal alpha = 0.691 (the `krippendorff` package asserts 0.691358; interval 0.810845).
WIKIPEDIA_KRIPPENDORFF = [
    [NAN, NAN, NAN, NAN, NAN, 3, 4, 1, 2, 1, 1, 3, 3, NAN, 3],
    [1, NAN, 2, 1, 3, 3, 4, 3, NAN, NAN, NAN, NAN, NAN, NAN, NAN],
    [NAN, NAN, 2, 1, 3, 4, 4, NAN, 2, 1, 1, 3, 3, NAN, 4],
]

# Wikipedia, "Fleiss' kappa", worked example (also statsmodels' test_inter_rater.py table1):
# 10 subjects, 14 raters each, 5 categories; rows = subjects, columns = raters per category.
# Published: P-bar = 0.378, P-bar_e = 0.213, kappa = 0.210.
FLEISS_WIKIPEDIA = [
    [0, 0, 0, 0, 14],
    [0, 2, 6, 4, 2],
    [0, 0, 3, 5, 6],
    [0, 3, 9, 2, 0],
    [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0],
    [3, 2, 6, 3, 0],
    [2, 5, 3, 2, 2],
    [6, 5, 2, 1, 0],
    [0, 2, 2, 3, 7],
]


def cohen_wikipedia() -> pd.DataFrame:
    """Wikipedia, "Cohen's kappa", simple example: 50 grant proposals read by A and B.

    Both "yes": 20; A yes / B no: 5; A no / B yes: 10; both "no": 15.
    p_o = 35/50 = 0.7, p_e = 0.5*0.6 + 0.5*0.4 = 0.5, kappa = (0.7 - 0.5) / (1 - 0.5) = 0.4.
    """
    pairs = [("yes", "yes")] * 20 + [("yes", "no")] * 5 + [("no", "yes")] * 10 + [("no", "no")] * 15
    rows = []
    for i, (a, b) in enumerate(pairs):
        rows += [(f"p{i:02d}", "A", a), (f"p{i:02d}", "B", b)]
    return pd.DataFrame(rows, columns=["case_id", "reviewer_id", "label"])


def hand_example() -> pd.DataFrame:
    """Small example for percent agreement and consensus (computed by hand in the tests)."""
    rows = [
        ("c1", "A", "x"), ("c1", "B", "x"), ("c1", "C", "y"),
        ("c2", "A", "x"), ("c2", "B", "y"),
        ("c3", "A", "y"), ("c3", "B", "y"),
        ("c4", "A", "x"),  # single review: dropped
        ("c5", "A", "x"), ("c5", "B", "x"), ("c5", "C", "x"), ("c5", "D", "y"),
        ("c6", None, None),  # nobody reviewed this case
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=["case_id", "reviewer_id", "label"])


def synthetic(n_cases=500, n_reviewers=12, seed=1, p_agree=0.8) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    labels = np.array(["approve", "escalate", "reject"])
    truth = rng.choice(labels, p=[0.6, 0.1, 0.3], size=n_cases)
    rows = []
    for i in range(n_cases):
        k = rng.choice([2, 3, 4], p=[0.5, 0.3, 0.2])
        for r in rng.choice(n_reviewers, size=k, replace=False):
            lab = truth[i] if rng.random() < p_agree else rng.choice(labels)
            rows.append((f"case{i:04d}", f"rev{r:02d}", lab))
    return pd.DataFrame(rows, columns=["case_id", "reviewer_id", "label"])


# --------------------------------------------------------------------------------------------
# Krippendorff's alpha
# --------------------------------------------------------------------------------------------


def test_krippendorff_2011_published_values():
    ratings = long_from_matrix(KRIPPENDORFF_2011)
    assert round(krippendorff_alpha(ratings), 3) == 0.743
    assert round(krippendorff_alpha(ratings, level="ordinal", label_order=[1, 2, 3, 4, 5]), 3) == 0.815
    assert round(krippendorff_alpha(ratings, level="interval"), 3) == 0.849


def test_krippendorff_2011_matches_reliability_data_path():
    """Our value_counts route equals krippendorff.alpha on the coders x units matrix."""
    ratings = long_from_matrix(KRIPPENDORFF_2011)
    for level, kw in [("nominal", {}), ("ordinal", {"label_order": [1, 2, 3, 4, 5]}), ("interval", {})]:
        expected = krippendorff.alpha(reliability_data=KRIPPENDORFF_2011, level_of_measurement=level)
        assert krippendorff_alpha(ratings, level=level, **kw) == pytest.approx(expected, abs=1e-12)


def test_krippendorff_2011_string_labels_ordinal():
    """Same data with words for 1..5: the ordinal alpha depends only on the declared order."""
    words = ["very low", "low", "mid", "high", "very high"]
    ratings = long_from_matrix(KRIPPENDORFF_2011)
    ratings["label"] = ratings["label"].map(lambda v: words[int(v) - 1])
    assert round(krippendorff_alpha(ratings, level="ordinal", label_order=words), 3) == 0.815
    assert round(krippendorff_alpha(ratings), 3) == 0.743
    # label order matters for ordinal, not for nominal
    shuffled = ["mid", "very low", "very high", "low", "high"]
    assert krippendorff_alpha(ratings, level="ordinal", label_order=shuffled) != pytest.approx(0.8154, abs=1e-3)


def test_wikipedia_krippendorff_example():
    ratings = long_from_matrix(WIKIPEDIA_KRIPPENDORFF)
    assert round(krippendorff_alpha(ratings), 3) == 0.691
    assert round(krippendorff_alpha(ratings), 6) == 0.691358
    assert round(krippendorff_alpha(ratings, level="interval"), 6) == 0.810845


@pytest.mark.parametrize("seed", range(5))
def test_alpha_equals_reliability_data_on_random_data(seed):
    rng = np.random.default_rng(seed)
    matrix = rng.integers(1, 4, size=(5, 40)).astype(float)
    matrix[rng.random(matrix.shape) < 0.4] = np.nan
    ratings = long_from_matrix(matrix.tolist())
    expected = krippendorff.alpha(reliability_data=matrix, level_of_measurement="nominal")
    assert krippendorff_alpha(ratings) == pytest.approx(expected, abs=1e-12)


def test_alpha_undefined_without_variation_is_none():
    ratings = long_from_matrix([[1, 1, 1], [1, 1, 1]])
    assert krippendorff_alpha(ratings) is None
    assert krippendorff_alpha(ratings, level="ordinal", label_order=[0, 1, 2]) is None


def test_alpha_option_errors():
    ratings = long_from_matrix(KRIPPENDORFF_2011)
    with pytest.raises(ValueError, match="label_order"):
        krippendorff_alpha(ratings, level="ordinal")
    with pytest.raises(ValueError, match="not in label_order"):
        krippendorff_alpha(ratings, level="ordinal", label_order=[1, 2, 3])
    with pytest.raises(ValueError, match="level"):
        krippendorff_alpha(ratings, level="ratioo")
    words = ratings.assign(label=ratings["label"].map({1: "a", 2: "b", 3: "c", 4: "d", 5: "e"}))
    with pytest.raises(ValueError, match="numeric"):
        krippendorff_alpha(words, level="interval")


# --------------------------------------------------------------------------------------------
# Fleiss' kappa
# --------------------------------------------------------------------------------------------


def test_fleiss_wikipedia_published_value():
    ratings = long_from_table(FLEISS_WIKIPEDIA)
    result = fleiss_kappa(ratings)
    assert round(result["kappa"], 3) == 0.210
    assert result["kappa"] == pytest.approx(0.20993070442195522, abs=1e-12)
    assert result["cases"] == 10
    assert result["reviewers_per_case"] == 14
    # equal reviewers per case: pooled percent agreement = Fleiss' P-bar = 0.378
    assert round(percent_agreement(ratings), 3) == 0.378


def test_fleiss_uses_cases_with_modal_number_of_reviews():
    base = long_from_table(FLEISS_WIKIPEDIA)
    # three extra cases with 3 reviews and one with 2: the mode stays 14 (10 cases)
    extra = pd.DataFrame(
        [("x1", "r00", 1), ("x1", "r01", 2), ("x1", "r02", 2), ("x2", "r00", 5), ("x2", "r01", 5), ("x2", "r02", 4),
         ("x3", "r00", 3), ("x3", "r01", 1), ("x3", "r02", 3), ("x4", "r00", 1), ("x4", "r01", 1)],
        columns=["case_id", "reviewer_id", "label"],
    )  # fmt: skip
    result = fleiss_kappa(pd.concat([base, extra]))
    assert result["cases"] == 10 and result["reviewers_per_case"] == 14
    assert result["kappa"] == pytest.approx(0.20993070442195522, abs=1e-12)
    # with the extra cases alone, 3 reviews is the mode (3 cases) and x4 is left out
    only_extra = fleiss_kappa(extra)
    assert only_extra["cases"] == 3 and only_extra["reviewers_per_case"] == 3
    # tie between sizes 2 and 3 (one case each): the larger size wins
    tie = fleiss_kappa(extra[extra["case_id"].isin(["x1", "x4"])])
    assert tie["cases"] == 1 and tie["reviewers_per_case"] == 3


def test_fleiss_undefined_is_none():
    ratings = long_from_matrix([["a", "a", "a"], ["a", "a", "a"]])
    assert fleiss_kappa(ratings) == {"kappa": None, "cases": 3, "reviewers_per_case": 2}


# --------------------------------------------------------------------------------------------
# Cohen's kappa
# --------------------------------------------------------------------------------------------


def test_cohen_wikipedia_published_value():
    pairs = cohen_kappa_pairs(cohen_wikipedia())
    assert len(pairs) == 1
    assert pairs[0]["a"] == "A" and pairs[0]["b"] == "B" and pairs[0]["shared_cases"] == 50
    assert pairs[0]["kappa"] == pytest.approx(0.4, abs=1e-12)


def test_cohen_min_shared_and_ordering():
    ratings = cohen_wikipedia()
    assert cohen_kappa_pairs(ratings, min_shared=50)[0]["shared_cases"] == 50
    assert cohen_kappa_pairs(ratings, min_shared=51) == []
    # ids are compared as strings and each pair is reported once with a < b
    renamed = ratings.assign(reviewer_id=ratings["reviewer_id"].map({"A": "zed", "B": "amy"}))
    (pair,) = cohen_kappa_pairs(renamed)
    assert (pair["a"], pair["b"]) == ("amy", "zed")
    with pytest.raises(ValueError, match="min_shared"):
        cohen_kappa_pairs(ratings, min_shared=0)


def test_cohen_undefined_when_both_constant():
    rows = [(f"c{i}", r, "approve") for i in range(25) for r in ("A", "B")]
    (pair,) = cohen_kappa_pairs(pd.DataFrame(rows, columns=["case_id", "reviewer_id", "label"]))
    assert pair["kappa"] is None and pair["shared_cases"] == 25


# --------------------------------------------------------------------------------------------
# percent agreement and consensus (hand-computed)
# --------------------------------------------------------------------------------------------


def test_percent_agreement_hand_computed():
    # c1: x x y -> 3 pairs, 1 agrees; c2: x y -> 1 pair, 0; c3: y y -> 1 pair, 1;
    # c4: one review -> dropped; c5: x x x y -> 6 pairs, 3 agree; c6: unreviewed -> dropped.
    # pooled: (1 + 0 + 1 + 3) / (3 + 1 + 1 + 6) = 5/11 (the mean of per-case shares would be
    # (1/3 + 0 + 1 + 1/2) / 4 = 11/24 - a different number, deliberately not used)
    assert percent_agreement(hand_example()) == pytest.approx(5 / 11, abs=1e-15)


def test_consensus_hand_computed():
    # c1: A=x vs others {x, y}: tie; B=x vs {x, y}: tie; C=y vs {x, x}: majority x, disagrees
    # c2: A=x vs {y}: disagrees; B=y vs {x}: disagrees
    # c3: A=y vs {y}: agrees; B=y vs {y}: agrees
    # c5: A, B, C = x vs {x, x, y}: agree; D=y vs {x, x, x}: disagrees
    assert consensus_agreement(hand_example()) == [
        {"reviewer_id": "A", "reviews": 4, "compared": 3, "agreed": 2, "agreement": 2 / 3},
        {"reviewer_id": "B", "reviews": 4, "compared": 3, "agreed": 2, "agreement": 2 / 3},
        {"reviewer_id": "C", "reviews": 2, "compared": 2, "agreed": 1, "agreement": 0.5},
        {"reviewer_id": "D", "reviews": 1, "compared": 1, "agreed": 0, "agreement": 0.0},
    ]


def test_consensus_all_ties_gives_none():
    rows = [("c1", "A", "x"), ("c1", "B", "y"), ("c1", "C", "z")]
    out = consensus_agreement(pd.DataFrame(rows, columns=["case_id", "reviewer_id", "label"]))
    assert [r["agreement"] for r in out] == [None, None, None]
    assert [r["compared"] for r in out] == [0, 0, 0]


# --------------------------------------------------------------------------------------------
# input handling
# --------------------------------------------------------------------------------------------


EMPTY_INPUTS = [
    pd.DataFrame(columns=["case_id", "reviewer_id", "label"]),
    pd.DataFrame([("c1", "A", "x"), ("c2", "A", "y"), ("c3", None, None)], columns=["case_id", "reviewer_id", "label"]),
]


@pytest.mark.parametrize("ratings", EMPTY_INPUTS)
@pytest.mark.parametrize(
    "func",
    [
        krippendorff_alpha,
        fleiss_kappa,
        cohen_kappa_pairs,
        percent_agreement,
        consensus_agreement,
        lambda r: bootstrap_ci(r, "krippendorff_alpha_nominal"),
    ],
)
def test_individual_functions_raise_on_empty(func, ratings):
    with pytest.raises(ValueError, match="at least two reviews"):
        func(ratings)


def test_duplicate_review_raises():
    rows = [("c1", "A", "x"), ("c1", "A", "y"), ("c1", "B", "x")]
    with pytest.raises(ValueError, match="same reviewer"):
        krippendorff_alpha(pd.DataFrame(rows, columns=["case_id", "reviewer_id", "label"]))


def test_missing_column_raises():
    with pytest.raises(ValueError, match="missing column"):
        percent_agreement(pd.DataFrame({"case_id": [1], "label": ["x"]}))


def test_integer_ids_and_mixed_label_types():
    rows = [(1, 10, "x"), (1, 11, "x"), (2, 10, 3), (2, 11, "x"), (3, 10, 3), (3, 11, 3)]
    ratings = pd.DataFrame(rows, columns=["case_id", "reviewer_id", "label"])
    assert percent_agreement(ratings) == pytest.approx(2 / 3)
    (pair,) = cohen_kappa_pairs(ratings, min_shared=3)
    assert (pair["a"], pair["b"]) == ("10", "11")


# --------------------------------------------------------------------------------------------
# bootstrap
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("statistic", "point"),
    [
        ("krippendorff_alpha_nominal", lambda r: krippendorff_alpha(r)),
        ("krippendorff_alpha_ordinal", lambda r: krippendorff_alpha(r, level="ordinal", label_order=ORDER)),
        ("fleiss_kappa", lambda r: fleiss_kappa(r)["kappa"]),
        ("percent_agreement", percent_agreement),
    ],
)
def test_bootstrap_contains_point_and_is_reproducible(statistic, point):
    ratings = synthetic(n_cases=300)
    ci = bootstrap_ci(ratings, statistic, label_order=ORDER, n_boot=400, seed=7)
    low, high = ci
    assert low < point(ratings) < high
    assert high - low < 0.3
    assert bootstrap_ci(ratings, statistic, label_order=ORDER, n_boot=400, seed=7) == ci
    assert bootstrap_ci(ratings, statistic, label_order=ORDER, n_boot=400, seed=8) != ci
    wider = bootstrap_ci(ratings, statistic, label_order=ORDER, n_boot=400, seed=7, level=0.99)
    assert wider[0] <= low and wider[1] >= high



def test_bootstrap_on_published_data_contains_point():
    ratings = long_from_matrix(KRIPPENDORFF_2011)
    low, high = bootstrap_ci(ratings, "krippendorff_alpha_nominal", n_boot=1000, seed=0)
    assert low <= 0.743 <= high


def test_bootstrap_callable_statistic():
    ratings = synthetic(n_cases=100)

    def share_unanimous(counts: np.ndarray) -> float:
        return float((counts.max(axis=1) == counts.sum(axis=1)).mean())

    low, high = bootstrap_ci(ratings, share_unanimous, n_boot=200)
    assert 0 <= low <= high <= 1


def test_bootstrap_not_computable():
    constant = long_from_matrix([[1, 1, 1, 1], [1, 1, 1, 1]])
    assert bootstrap_ci(constant, "krippendorff_alpha_nominal") == (None, None)
    one_case = long_from_matrix([[1], [2]])
    assert bootstrap_ci(one_case, "percent_agreement") == (None, None)
    with pytest.raises(ValueError, match="statistic"):
        bootstrap_ci(long_from_matrix(KRIPPENDORFF_2011), "cronbach")
    with pytest.raises(ValueError, match="level"):
        bootstrap_ci(long_from_matrix(KRIPPENDORFF_2011), "fleiss_kappa", level=95)


def test_bootstrap_agrees_with_a_plain_resampling_loop():
    """A second implementation: resample whole cases with a plain loop, recompute alpha with the
    krippendorff package, take the percentiles. With different random draws the two intervals
    agree to Monte Carlo error; resampling reviews instead of cases, or a wrong quantile, would
    not (it shifts the ends by several times the tolerance on this data)."""
    ratings = synthetic(n_cases=400)
    labels = sorted(ratings["label"].unique())
    counts = (ratings.groupby(["case_id", "label"]).size().unstack(fill_value=0)
              .reindex(columns=labels, fill_value=0).to_numpy())
    rng = np.random.default_rng(12345)
    values = [krippendorff.alpha(value_counts=counts[rng.integers(0, len(counts), len(counts))],
                                 level_of_measurement="nominal") for _ in range(2000)]
    plain_low, plain_high = np.quantile(values, [0.025, 0.975])
    low, high = bootstrap_ci(ratings, "krippendorff_alpha_nominal", n_boot=2000, seed=0)
    assert abs(low - plain_low) < 0.01 and abs(high - plain_high) < 0.01, (low, high, plain_low, plain_high)
    point = krippendorff_alpha(ratings)
    assert low < point < high
    assert bootstrap_ci(ratings, "krippendorff_alpha_nominal", n_boot=2000, seed=0) == (low, high)  # seeded
    # more cases, narrower interval (sqrt(n) scaling, roughly)
    small_low, small_high = bootstrap_ci(synthetic(n_cases=50), "krippendorff_alpha_nominal", n_boot=2000, seed=0)
    assert (small_high - small_low) > 2 * (high - low)


# --------------------------------------------------------------------------------------------
# summary
# --------------------------------------------------------------------------------------------


def test_summary_on_published_data():
    ratings = long_from_matrix(KRIPPENDORFF_2011)
    s = agreement_summary(ratings, label_order=[1, 2, 3, 4, 5], min_shared=5, n_boot=200)
    assert s["cases_with_multiple_reviews"] == 11  # unit 12 has a single value
    assert round(s["krippendorff_alpha_nominal"], 3) == 0.743
    assert round(s["krippendorff_alpha_ordinal"], 3) == 0.815
    assert s["krippendorff_alpha_nominal_ci"][0] <= s["krippendorff_alpha_nominal"]
    assert len(s["cohen_kappa_pairs"]) == 6
    assert [c["reviewer_id"] for c in s["consensus"]] == ["obs0", "obs1", "obs2", "obs3"]
    json.dumps(s, allow_nan=False)


def test_summary_keys_and_json():
    s = agreement_summary(synthetic(n_cases=200), label_order=ORDER, n_boot=100)
    for key in (
        "cases_with_multiple_reviews", "krippendorff_alpha_nominal", "krippendorff_alpha_nominal_ci",
        "krippendorff_alpha_ordinal", "krippendorff_alpha_ordinal_ci", "fleiss_kappa", "fleiss_kappa_ci",
        "fleiss_cases", "percent_agreement", "cohen_kappa_pairs", "consensus",
    ):  # fmt: skip
        assert key in s
    assert s["cases_with_multiple_reviews"] == 200
    assert all(p["shared_cases"] >= 20 and p["a"] < p["b"] for p in s["cohen_kappa_pairs"])
    assert isinstance(s["krippendorff_alpha_nominal"], float)
    json.dumps(s, allow_nan=False)
    no_order = agreement_summary(synthetic(n_cases=50), n_boot=0)
    assert no_order["krippendorff_alpha_ordinal"] is None and no_order["krippendorff_alpha_nominal_ci"] is None


@pytest.mark.parametrize("ratings", EMPTY_INPUTS)
def test_summary_on_empty_input(ratings):
    s = agreement_summary(ratings, label_order=ORDER)
    assert s["cases_with_multiple_reviews"] == 0 and s["fleiss_cases"] == 0
    assert s["cohen_kappa_pairs"] == [] and s["consensus"] == []
    for key in ("krippendorff_alpha_nominal", "krippendorff_alpha_ordinal", "fleiss_kappa", "percent_agreement"):
        assert s[key] is None and s.get(f"{key}_ci") is None
    json.dumps(s, allow_nan=False)


def test_statistics_constant_lists_bootstrap_names():
    assert set(STATISTICS) >= {"krippendorff_alpha_nominal", "krippendorff_alpha_ordinal", "fleiss_kappa"}


@pytest.mark.parametrize("statistic", ["krippendorff_alpha_nominal", "krippendorff_alpha_ordinal",
                                       "krippendorff_alpha_interval", "fleiss_kappa", "percent_agreement"])
def test_weighted_bootstrap_statistics_equal_the_library_calls(statistic):
    """The vectorised bootstrap (weights x cases) against krippendorff / statsmodels on counts[idx]."""
    from hitlgov.metrics import agreement_stats as ag

    rng = np.random.default_rng(7)
    rows = []
    for case in range(60):
        for reviewer in rng.choice(6, size=rng.integers(2, 5), replace=False):
            rows.append({"case_id": f"c{case}", "reviewer_id": f"r{reviewer}", "label": str(rng.integers(1, 5))})
    df = ag._prepare(pd.DataFrame(rows))
    order = ["1", "2", "3", "4"] if statistic.endswith("ordinal") else None
    counts, func, weighted = ag._resolve_statistic(df, statistic, label_order=order)
    draws = rng.integers(0, len(counts), size=(25, len(counts)))
    w = np.zeros((25, len(counts)))
    for b, idx in enumerate(draws):
        np.add.at(w[b], idx, 1.0)
    expected = [func(counts[idx]) for idx in draws]
    np.testing.assert_allclose(weighted(w), expected, rtol=1e-12, atol=1e-12)
