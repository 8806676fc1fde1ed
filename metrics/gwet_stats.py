"""Gwet's AC1 and AC2: chance-corrected agreement that survives skewed labels.

When a model approves 95% of cases and reviewers mostly agree with it, two reviewers agree on
nearly every case, yet Cohen's and Fleiss' kappa can be low or even negative: their chance
agreement is computed from the skewed marginals and comes close to the observed agreement (the
*kappa paradox*, Feinstein & Cicchetti 1990). Gwet's AC1 (Gwet 2008, "Computing inter-rater
reliability and its variance in the presence of high agreement", Br. J. Math. Stat. Psychol.
61:29-48) takes chance agreement as the probability that a rater classifies *at random* and
the random classifications coincide, which is small when prevalence is extreme.

Definitions (Gwet 2014, *Handbook of Inter-Rater Reliability*, 4th ed., ch. 2-3), for q
categories, r_ik = raters who put case i in category k, r_i = raters of case i:

* observed agreement p_a = mean over cases with r_i >= 2 of
  sum_k r_ik (r*_ik - 1) / (r_i (r_i - 1)), with r*_ik = sum_l w_kl r_il;
* pi_k = mean over every rated case of r_ik / r_i;
* chance agreement p_e = T_w / (q (q - 1)) * sum_k pi_k (1 - pi_k), T_w = sum of the weights;
* AC = (p_a - p_e) / (1 - p_e).

AC1 uses identity weights (nominal labels); AC2 uses weights for ordered labels: quadratic
w_kl = 1 - (k - l)^2 / (q - 1)^2 (default) or linear w_kl = 1 - |k - l| / (q - 1). A case rated
once counts in pi_k but not in p_a, as in Gwet's handbook. q is the number of categories of the
label space (``categories``), not only those observed: an unused category still lowers p_e.

Input: the long ``ratings`` frame of :mod:`hitlgov.metrics.agreement_stats` (``case_id``,
``reviewer_id``, ``label``). Options are keyword-only; no rated case raises ValueError; an
undefined coefficient (p_e = 1) is None. Intervals: percentile bootstrap over cases, as for alpha.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["gwet_ac", "gwet_ac1", "gwet_ac2", "gwet_summary"]

WEIGHTS = ("identity", "quadratic", "linear")


def _weights(q: int, kind: str) -> np.ndarray:
    if kind not in WEIGHTS:
        raise ValueError(f"weights must be one of {WEIGHTS}, got {kind!r}")
    if kind == "identity" or q < 2:
        return np.eye(q)
    k = np.arange(q)
    d = np.abs(k[:, None] - k[None, :]) / (q - 1)
    return 1 - d * d if kind == "quadratic" else 1 - d


def _counts(ratings: pd.DataFrame, categories: Sequence[Any] | None) -> tuple[np.ndarray, list]:
    """Cases x categories matrix r_ik (cases with at least one rating), and the categories."""
    if not isinstance(ratings, pd.DataFrame):
        raise TypeError(f"ratings must be a pandas DataFrame, got {type(ratings).__name__}")
    missing = [c for c in ("case_id", "reviewer_id", "label") if c not in ratings.columns]
    if missing:
        raise ValueError(f"ratings is missing column(s) {missing}")
    df = ratings[ratings["label"].notna() & ratings["reviewer_id"].notna()]
    if df.empty:
        raise ValueError("ratings has no rated case; Gwet's AC is undefined")
    if df.duplicated(["case_id", "reviewer_id"]).any():
        raise ValueError("ratings has more than one review by the same reviewer of the same case")
    cats = list(categories) if categories is not None else sorted(df["label"].unique(), key=str)
    if len(set(cats)) != len(cats):
        raise ValueError("categories has repeated labels")
    index = {c: i for i, c in enumerate(cats)}
    codes = df["label"].map(index)
    if codes.isna().any():
        raise ValueError(f"labels not in categories: {sorted(map(str, df.loc[codes.isna(), 'label'].unique()))}")
    case_codes, _ = pd.factorize(df["case_id"], sort=False)
    counts = np.zeros((case_codes.max() + 1, len(cats)))
    np.add.at(counts, (case_codes, codes.to_numpy(dtype=np.intp)), 1)
    return counts, cats


def _ac_from_counts(counts: np.ndarray, w: np.ndarray) -> tuple[float, float, float]:
    """(p_a, p_e, AC) from the cases x categories matrix; NaN where undefined."""
    q = counts.shape[1]
    r = counts.sum(axis=1)
    multi = r >= 2
    if q < 2 or not multi.any():
        return math.nan, math.nan, math.nan
    c = counts[multi]
    rm = r[multi]
    star = c @ w.T  # r*_ik = sum_l w_kl r_il
    pa = float(np.mean((c * (star - 1)).sum(axis=1) / (rm * (rm - 1))))
    pi = (counts / r[:, None]).mean(axis=0)
    pe = float(w.sum() / (q * (q - 1)) * (pi * (1 - pi)).sum())
    if pe >= 1:
        return pa, pe, math.nan
    return pa, pe, (pa - pe) / (1 - pe)


def gwet_ac(ratings: pd.DataFrame, *, categories: Sequence[Any] | None = None,
            weights: str = "identity") -> dict[str, float | None]:
    """``{"coefficient", "percent_agreement", "chance_agreement", "cases"}``: Gwet's AC with the
    given weights (identity = AC1; quadratic or linear = AC2 over ``categories`` in order)."""
    counts, cats = _counts(ratings, categories)
    pa, pe, ac = _ac_from_counts(counts, _weights(len(cats), weights))

    def fin(x):
        return x if math.isfinite(x) else None
    return {"coefficient": fin(ac), "percent_agreement": fin(pa), "chance_agreement": fin(pe),
            "cases": int((counts.sum(axis=1) >= 2).sum())}


def gwet_ac1(ratings: pd.DataFrame, *, categories: Sequence[Any] | None = None) -> float | None:
    """Gwet's AC1 (nominal labels)."""
    return gwet_ac(ratings, categories=categories)["coefficient"]


def gwet_ac2(ratings: pd.DataFrame, *, categories: Sequence[Any], weights: str = "quadratic") -> float | None:
    """Gwet's AC2 (ordered labels; ``categories`` from lowest to highest)."""
    if weights == "identity":
        raise ValueError("AC2 needs ordinal weights ('quadratic' or 'linear'); identity weights are AC1")
    return gwet_ac(ratings, categories=categories, weights=weights)["coefficient"]


def _bootstrap(counts: np.ndarray, w: np.ndarray, *, n_boot: int, seed: int, level: float) -> list[float] | None:
    """Percentile bootstrap over cases. p_a and pi_k are means over cases, so a resample is a
    vector of draw counts per case and 1000 resamples are a few matrix products (the same draws as
    indexing ``counts[rng.integers(0, n, n)]``; tests compare the two)."""
    n, q = counts.shape
    if n < 2 or n_boot <= 0 or q < 2:
        return None
    r = counts.sum(axis=1)
    multi = r >= 2
    with np.errstate(divide="ignore", invalid="ignore"):
        pa_case = np.where(multi, (counts * (counts @ w.T - 1)).sum(axis=1) / (r * (r - 1)), 0.0)
        p_case = counts / r[:, None]
    t_w = w.sum() / (q * (q - 1))
    rng = np.random.default_rng(seed)
    values = []
    for start in range(0, n_boot, 128):
        size = min(128, n_boot - start)
        weights = np.empty((size, n))
        for i in range(size):
            weights[i] = np.bincount(rng.integers(0, n, n), minlength=n)
        with np.errstate(divide="ignore", invalid="ignore"):
            pa = (weights @ pa_case) / (weights @ multi.astype(float))
            pi = (weights @ p_case) / weights.sum(axis=1, keepdims=True)
            pe = t_w * (pi * (1 - pi)).sum(axis=1)
            values.append(np.where(pe < 1, (pa - pe) / (1 - pe), np.nan))
    values = np.concatenate(values)
    values = values[np.isfinite(values)]
    if len(values) < 0.5 * n_boot:
        return None
    lo, hi = np.quantile(values, [(1 - level) / 2, (1 + level) / 2])
    return [float(lo), float(hi)]


def gwet_summary(ratings: pd.DataFrame, *, categories: Sequence[Any] | None = None,
                 label_order: Sequence[Any] | None = None, n_boot: int = 1000, seed: int = 0,
                 level: float = 0.95) -> dict[str, Any]:
    """The Gwet keys of the ``agreement`` block; never raises on empty input (all None)."""
    out: dict[str, Any] = {"gwet_ac1": None, "gwet_ac1_ci": None, "gwet_ac2": None, "gwet_ac2_ci": None,
                           "gwet_ac2_weights": "quadratic" if label_order is not None else None}
    usable = ratings[ratings["label"].notna()] if len(ratings) else ratings
    if usable.empty or not (usable.groupby("case_id").size() >= 2).any():
        return out
    cats = list(label_order) if label_order is not None else categories
    counts, cats = _counts(usable, cats)
    w1 = _weights(len(cats), "identity")
    ac1 = _ac_from_counts(counts, w1)[2]
    if math.isfinite(ac1):
        out["gwet_ac1"] = ac1
        out["gwet_ac1_ci"] = _bootstrap(counts, w1, n_boot=n_boot, seed=seed, level=level)
    if label_order is not None:
        w2 = _weights(len(cats), "quadratic")
        ac2 = _ac_from_counts(counts, w2)[2]
        if math.isfinite(ac2):
            out["gwet_ac2"] = ac2
            out["gwet_ac2_ci"] = _bootstrap(counts, w2, n_boot=n_boot, seed=seed, level=level)
    return out
