"""hitlgov.metrics.drift_stats: Evidently's data drift between two DataFrames, as plain data."""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from hitlgov.metrics.drift_stats import drift_between

NUM = ["n0", "n1", "n2", "n3"]
CAT = ["c0", "c1"]


def window(n: int, seed: int, *, shift: float = 0.0, new_category: bool = False) -> pd.DataFrame:
    """4 numerical + 2 categorical columns; ``shift`` moves n0's mean (sd 1), ``new_category``
    makes an unseen value the dominant category of c0."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({
        "n0": rng.normal(shift, 1.0, n),
        "n1": rng.normal(10.0, 2.0, n),
        "n2": rng.exponential(1.0, n),
        "n3": rng.integers(0, 100, n),
        "c0": pd.array(rng.choice(["a", "b", "c", "d"], n, p=[0.4, 0.3, 0.2, 0.1]), dtype="string"),
        "c1": rng.choice(["yes", "no"], n),
    })
    if new_category:
        df.loc[rng.random(n) < 0.6, "c0"] = "brand_new"
    return df


def by_column(result: dict) -> dict:
    return {c["column"]: c for c in result["columns"]}


@pytest.fixture(scope="module")
def large():
    """20,000-row windows: Evidently's defaults for > 1000 reference rows."""
    ref = window(20_000, 1)
    same = window(20_000, 2)
    shifted = window(20_000, 3, shift=0.5, new_category=True)
    return ref, same, shifted


@pytest.fixture(scope="module")
def large_shift(large):
    ref, _, shifted = large
    return drift_between(ref, shifted, numerical=NUM, categorical=CAT)


@pytest.fixture(scope="module")
def large_same(large):
    ref, same, _ = large
    return drift_between(ref, same, numerical=NUM, categorical=CAT)


def test_planted_shift_is_detected_with_evidently_default_tests(large_shift):
    cols = by_column(large_shift)
    assert cols["n0"]["test"] == "Wasserstein distance (normed)"
    assert cols["n0"]["drifted"] is True
    assert cols["n0"]["stattest_threshold"] == 0.1
    assert cols["n0"]["statistic"] >= 0.1
    assert cols["c0"]["test"] == "Jensen-Shannon distance"
    assert cols["c0"]["drifted"] is True
    assert cols["c0"]["statistic"] >= 0.1
    for name in ("n1", "n2", "n3", "c1"):
        assert cols[name]["drifted"] is False, cols[name]
    assert large_shift["drifted_columns"] == 2
    assert large_shift["total_columns"] == 6
    assert large_shift["drift_share"] == pytest.approx(2 / 6)
    assert large_shift["drift_share_threshold"] == 0.5
    assert large_shift["dataset_drift"] is False  # 1/3 < 0.5


def test_unshifted_copy_is_not_flagged(large_same):
    for col in large_same["columns"]:
        assert col["drifted"] is False, col
        assert col["statistic"] < 0.5 * col["stattest_threshold"], col  # well clear of the line
        assert col["note"] is None
    assert large_same["drifted_columns"] == 0
    assert large_same["drift_share"] == 0.0
    assert large_same["dataset_drift"] is False


def test_wasserstein_score_matches_scipy(large):
    ref, _, shifted = large
    result = drift_between(ref, shifted, numerical=["n0", "n1"], categorical=[])
    for name, col in by_column(result).items():
        expected = stats.wasserstein_distance(ref[name], shifted[name]) / max(float(np.std(ref[name])), 0.001)
        assert col["statistic"] == pytest.approx(expected, rel=1e-12)


def test_small_reference_uses_ks_and_its_p_value_is_scipys():
    ref, cur = window(800, 11), window(900, 12, shift=0.5, new_category=True)
    ref.loc[:20, "n1"] = np.nan  # Evidently drops missing values before testing
    result = drift_between(ref, cur, numerical=NUM, categorical=CAT)
    cols = by_column(result)
    for name in ("n0", "n1", "n2"):
        assert cols[name]["test"] == "K-S p_value"
        assert cols[name]["stattest_threshold"] == 0.05
        expected = stats.ks_2samp(ref[name].dropna(), cur[name].dropna()).pvalue
        assert cols[name]["statistic"] == pytest.approx(expected, rel=1e-12, abs=1e-300)
    assert cols["n1"]["reference_rows"] == 800 - 21
    assert cols["n0"]["drifted"] is True and cols["n0"]["statistic"] < 0.05
    assert cols["n1"]["drifted"] is False
    assert cols["c0"]["test"] == "chi-square p_value"  # 5 values over both windows
    assert cols["c0"]["drifted"] is True
    assert cols["c1"]["test"] == "Z-test p_value"  # 2 values


def test_test_choice_switches_above_1000_reference_rows():
    cur = window(2_000, 5)
    at = by_column(drift_between(window(1_000, 4), cur, numerical=["n0"], categorical=["c0"]))
    above = by_column(drift_between(window(1_001, 4), cur, numerical=["n0"], categorical=["c0"]))
    assert (at["n0"]["test"], at["c0"]["test"]) == ("K-S p_value", "chi-square p_value")
    assert (above["n0"]["test"], above["c0"]["test"]) == ("Wasserstein distance (normed)", "Jensen-Shannon distance")


def test_half_the_columns_drifting_is_dataset_drift():
    ref, cur = window(3_000, 6), window(3_000, 7, shift=0.5)
    result = drift_between(ref, cur, numerical=["n0", "n1"], categorical=[])
    assert result["drifted_columns"] == 1 and result["drift_share"] == 0.5
    assert result["dataset_drift"] is True  # share >= 0.5


def test_sampling_reports_sizes_and_is_reproducible():
    ref, cur = window(30_000, 8), window(25_000, 9, shift=0.2)
    kw = dict(numerical=NUM, categorical=CAT, max_rows=5_000, seed=42)
    first = drift_between(ref, cur, **kw)
    assert first["sample"] == {"reference_rows_used": 5_000, "current_rows_used": 5_000,
                               "reference_rows_total": 30_000, "current_rows_total": 25_000, "seed": 42}
    assert all(c["reference_rows"] == 5_000 and c["current_rows"] == 5_000 for c in first["columns"])
    assert drift_between(ref, cur, **kw) == first
    # The rows used are pandas' seeded sample of each window.
    ref_s, cur_s = ref.sample(n=5_000, random_state=42), cur.sample(n=5_000, random_state=42)
    expected = stats.wasserstein_distance(ref_s["n0"], cur_s["n0"]) / float(np.std(ref_s["n0"]))
    assert by_column(first)["n0"]["statistic"] == pytest.approx(expected, rel=1e-12)
    other = drift_between(ref, cur, **{**kw, "seed": 43})
    assert by_column(other)["n0"]["statistic"] != by_column(first)["n0"]["statistic"]
    # Windows within max_rows are used whole.
    whole = drift_between(ref, cur, numerical=NUM, categorical=CAT, max_rows=30_000)
    assert whole["sample"]["reference_rows_used"] == 30_000 and whole["sample"]["current_rows_used"] == 25_000


_SUBPROCESS = """
import json, sys
import numpy as np, pandas as pd
from hitlgov.metrics.drift_stats import drift_between
rng = np.random.default_rng(0)
cats = [f"category_{{i}}" for i in range(12)]
p = rng.dirichlet(np.ones(12))
ref = pd.DataFrame({{"c": rng.choice(cats, 3000, p=p)}})
cur = pd.DataFrame({{"c": rng.choice(cats, 3000, p=p)}})
print(json.dumps(drift_between(ref, cur, numerical=[], categorical=["c"]), sort_keys=True))
"""


def test_identical_across_processes_with_different_hash_seeds():
    # Evidently orders categories through a set of strings, whose order depends on PYTHONHASHSEED;
    # fed the labels themselves, hash seeds 0 and 1 give scores that differ in the last digits.
    code = _SUBPROCESS.format()
    outputs = set()
    for hash_seed in ("0", "1"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
        outputs.add(done.stdout.strip().splitlines()[-1])
    assert len(outputs) == 1


@pytest.mark.parametrize("which", ["reference", "current", "both"])
def test_empty_window_raises_naming_it(which):
    full = window(100, 10)
    ref = full.iloc[:0] if which in ("reference", "both") else full
    cur = full.iloc[:0] if which in ("current", "both") else full
    pattern = "reference and current" if which == "both" else which
    with pytest.raises(ValueError, match=pattern):
        drift_between(ref, cur, numerical=NUM, categorical=CAT)


def test_bad_arguments_raise():
    df = window(100, 10)
    with pytest.raises(ValueError, match="missing|no column"):
        drift_between(df, df.drop(columns=["n0"]), numerical=NUM, categorical=CAT)
    with pytest.raises(ValueError, match="more than once"):
        drift_between(df, df, numerical=["n0"], categorical=["n0"])
    with pytest.raises(ValueError, match="non-numeric"):
        drift_between(df, df, numerical=["c0"], categorical=[])


def test_all_null_column_is_reported_not_tested():
    ref, cur = window(2_000, 13), window(2_000, 14)
    ref["empty_num"] = np.nan
    cur["empty_num"] = 1.0
    ref["empty_cat"] = pd.array(["x"] * 2_000, dtype="string")
    cur["empty_cat"] = pd.array([pd.NA] * 2_000, dtype="string")
    result = drift_between(ref, cur, numerical=NUM + ["empty_num"], categorical=CAT + ["empty_cat"])
    cols = by_column(result)
    assert cols["empty_num"]["drifted"] is None and "reference" in cols["empty_num"]["note"]
    assert cols["empty_cat"]["drifted"] is None and "current" in cols["empty_cat"]["note"]
    assert cols["empty_num"]["statistic"] is None and cols["empty_num"]["test"] is None
    assert result["total_columns"] == 6  # the untestable columns are outside the share
    json.dumps(result, allow_nan=False)

    nothing = drift_between(ref, cur, numerical=["empty_num"], categorical=["empty_cat"])
    assert nothing["total_columns"] == 0 and nothing["drift_share"] is None and nothing["dataset_drift"] is None
    assert nothing["note"]


def test_html_report_is_written_with_labels(tmp_path, large):
    ref, _, shifted = large
    path = tmp_path / "sub" / "drift.html"
    result = drift_between(ref.head(3_000), shifted.head(3_000), numerical=NUM, categorical=CAT, html_path=path)
    text = path.read_text(encoding="utf-8")
    assert path.stat().st_size > 10_000
    assert "<html" in text.lower()
    assert "brand_new" in text  # categories appear by label, not as Evidently's input codes
    assert by_column(result)["c0"]["drifted"] is True


def test_output_is_plain_json(large_shift, large_same):
    for result in (large_shift, large_same):
        json.dumps(result, allow_nan=False)
        assert isinstance(result["evidently_version"], str) and result["evidently_version"].startswith("0.7")
        assert type(result["drift_share"]) is float and type(result["dataset_drift"]) is bool
        assert type(result["drifted_columns"]) is int and type(result["total_columns"]) is int
        for col in result["columns"]:
            assert type(col["statistic"]) is float and math.isfinite(col["statistic"])
            assert type(col["stattest_threshold"]) is float
            assert type(col["drifted"]) is bool
            assert type(col["reference_rows"]) is int and type(col["current_rows"]) is int
            assert col["kind"] in ("numerical", "categorical")
