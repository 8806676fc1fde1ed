"""Inter-reviewer agreement: the pure statistical core.

When two or more humans review the same case, how often do they reach the same decision, and how
much more often than chance would predict? A human-in-the-loop control is only as good as the
consistency of the humans in the loop: if reviewers disagree at chance level, a review is a lottery
and the oversight it documents is weak. These functions quantify that consistency.

Every function takes ``ratings``, a long :class:`pandas.DataFrame` with one row per review and the
columns

``case_id``
    the reviewed case (the *unit* in Krippendorff's terms, the *subject* in Fleiss');
``reviewer_id``
    who reviewed (the *coder* / *rater*); compared as strings;
``label``
    the reviewer's decision, compared by equality as given (``"1"`` and ``1`` are different
    labels).

Rows whose ``reviewer_id`` or ``label`` is missing (cases nobody reviewed) are dropped, and so are
cases that end up with fewer than two reviews: a single review cannot agree or disagree with
anyone. More than one row for the same ``(case_id, reviewer_id)`` is a data error and raises
:class:`ValueError` (the decision log identifies a review by case and reviewer).

Conventions, as in ``fairlearn.metrics``: options are keyword-only; a function given no case with
at least two reviews raises :class:`ValueError`; a statistic that is *undefined* for the data
(for instance chance-corrected agreement when every reviewer always gives the same label, which is
0/0) is returned as ``None``, never NaN. Results are plain Python ``float``/``int``/``str``/``None``
so they serialise to JSON as they are. :func:`agreement_summary` bundles everything for the
``agreement`` block of ``metrics --json`` and, unlike the individual functions, does not raise on
empty input.

Libraries do the arithmetic: Krippendorff's alpha is ``krippendorff.alpha``, Fleiss' kappa is
``statsmodels.stats.inter_rater.fleiss_kappa`` (after ``aggregate_raters``), Cohen's kappa is
``sklearn.metrics.cohen_kappa_score``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

# krippendorff, statsmodels and scikit-learn (about 1.5 s of imports together, most of it SciPy)
# are imported inside the functions that call them: a store with no multi-reviewed case, a
# cached result or `hitlgov status` never pays for them.

__all__ = [
    "RATINGS_COLUMNS",
    "STATISTICS",
    "agreement_summary",
    "bootstrap_ci",
    "cohen_kappa_pairs",
    "consensus_agreement",
    "fleiss_kappa",
    "krippendorff_alpha",
    "percent_agreement",
]

RATINGS_COLUMNS = ("case_id", "reviewer_id", "label")

#: Names accepted by :func:`bootstrap_ci` as ``statistic``.
STATISTICS = (
    "krippendorff_alpha_nominal",
    "krippendorff_alpha_ordinal",
    "krippendorff_alpha_interval",
    "fleiss_kappa",
    "percent_agreement",
)

_LEVELS = ("nominal", "ordinal", "interval")

#: A bootstrap interval is reported only when at least this share of the resamples gives a
#: defined statistic (see :func:`bootstrap_ci`).
_MIN_DEFINED_SHARE = 0.5

_EMPTY_MESSAGE = "ratings has no case with at least two reviews; agreement is undefined."


# --------------------------------------------------------------------------------------------
# input handling
# --------------------------------------------------------------------------------------------


def _prepare(ratings: pd.DataFrame) -> pd.DataFrame:
    """Validate ``ratings`` and keep the reviews of cases reviewed at least twice.

    Returns a frame with columns ``case_id``, ``reviewer_id`` (str), ``label``; the rows of a
    case are contiguous and sorted by reviewer; fresh RangeIndex. It may be empty.
    """
    if not isinstance(ratings, pd.DataFrame):
        raise TypeError(f"ratings must be a pandas DataFrame, got {type(ratings).__name__}")
    missing = [c for c in RATINGS_COLUMNS if c not in ratings.columns]
    if missing:
        raise ValueError(f"ratings is missing column(s) {missing}; expected {list(RATINGS_COLUMNS)}")
    df = ratings.loc[:, list(RATINGS_COLUMNS)]
    df = df[df["reviewer_id"].notna() & df["label"].notna()]
    if df["case_id"].isna().any():
        raise ValueError("ratings has reviews with a missing case_id")
    df = df.assign(reviewer_id=df["reviewer_id"].astype(str))
    dup = df.duplicated(["case_id", "reviewer_id"], keep=False)
    if dup.any():
        example = df.loc[dup, ["case_id", "reviewer_id"]].iloc[0].tolist()
        raise ValueError(
            "ratings has more than one review by the same reviewer of the same case "
            f"(e.g. case_id={example[0]!r}, reviewer_id={example[1]!r}); "
            "deduplicate, or make case_id unique across systems"
        )
    case_codes = pd.factorize(df["case_id"], sort=False)[0]
    keep = np.bincount(case_codes)[case_codes] >= 2 if len(df) else np.zeros(0, dtype=bool)
    # group the rows of a case together (cases in order of first appearance, reviewers sorted);
    # sorting by codes rather than ids works whatever the type of case_id
    df = df.assign(_case=case_codes)[keep]
    return df.sort_values(["_case", "reviewer_id"], kind="stable").drop(columns="_case").reset_index(drop=True)


def _require_cases(df: pd.DataFrame) -> None:
    if df.empty:
        raise ValueError(_EMPTY_MESSAGE)


def _domain(
    df: pd.DataFrame, *, level: str, label_order: Sequence[Any] | None
) -> tuple[np.ndarray, np.ndarray]:
    """Label -> column index for each review, and the value domain handed to ``krippendorff``.

    nominal: the distinct labels (order irrelevant); ordinal: ``label_order`` (ranks
    0..k-1 are the values, only the order matters to the ordinal metric); interval: the labels
    read as numbers, sorted.
    """
    if level not in _LEVELS:
        raise ValueError(f"level must be one of {_LEVELS}, got {level!r}")
    labels = df["label"]
    if level == "nominal":
        codes, uniques = pd.factorize(labels, sort=False)
        return codes.astype(np.intp), np.arange(len(uniques))
    if level == "ordinal":
        if label_order is None:
            raise ValueError("level='ordinal' needs label_order (the labels from lowest to highest)")
        order = list(label_order)
        if len(set(order)) != len(order):
            raise ValueError("label_order has repeated labels")
        rank = {lab: i for i, lab in enumerate(order)}
        codes = labels.map(rank)
        if codes.isna().any():
            unknown = sorted(map(str, labels[codes.isna()].unique()))
            raise ValueError(f"labels not in label_order: {unknown}")
        return codes.to_numpy(dtype=np.intp), np.arange(len(order))
    # interval
    if label_order is not None:
        raise ValueError("label_order applies to level='ordinal'; level='interval' uses the numeric labels")
    values = pd.to_numeric(labels, errors="coerce")
    if values.isna().any():
        raise ValueError("level='interval' needs numeric labels")
    codes, uniques = pd.factorize(values, sort=True)
    return codes.astype(np.intp), np.asarray(uniques, dtype=float)


def _value_counts(df: pd.DataFrame, codes: np.ndarray, n_values: int) -> np.ndarray:
    """Cases x values matrix: how many reviewers gave each value to each case.

    This is the ``value_counts`` input of ``krippendorff.alpha`` and the subject x category table
    of Fleiss' kappa. Rows follow the case order of ``df``.
    """
    case_codes, cases = pd.factorize(df["case_id"], sort=False)
    counts = np.zeros((len(cases), max(n_values, 1)), dtype=np.int64)
    np.add.at(counts, (case_codes, codes), 1)
    return counts


def _finite_or_none(x: Any) -> float | None:
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


# --------------------------------------------------------------------------------------------
# statistics on the cases x values count matrix (shared by point estimates and the bootstrap)
# --------------------------------------------------------------------------------------------


def _alpha_from_counts(counts: np.ndarray, domain: np.ndarray, level: str) -> float:
    if counts.shape[1] < 2:  # a single label in the data: no variation, alpha is 0/0
        return math.nan
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            import krippendorff

            return float(krippendorff.alpha(value_counts=counts, value_domain=domain, level_of_measurement=level))
        except ValueError:  # e.g. a resample where no unit has two values (cannot happen after _prepare)
            return math.nan


def _fleiss_from_table(table: np.ndarray) -> float:
    from statsmodels.stats.inter_rater import fleiss_kappa as _sm_fleiss_kappa

    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(_sm_fleiss_kappa(table, method="fleiss"))


def _percent_from_counts(counts: np.ndarray) -> float:
    n = counts.sum(axis=1)
    pairs = (n * (n - 1)).sum()
    if pairs == 0:
        return math.nan
    return float((counts * (counts - 1)).sum() / pairs)


def _modal_size(sizes: np.ndarray) -> int:
    """Most common number of reviews per case; on a tie, the larger number."""
    values, freq = np.unique(sizes, return_counts=True)
    return int(values[freq == freq.max()].max())


# --------------------------------------------------------------------------------------------
# public functions
# --------------------------------------------------------------------------------------------


def krippendorff_alpha(
    ratings: pd.DataFrame,
    *,
    level: str = "nominal",
    label_order: Sequence[Any] | None = None,
) -> float | None:
    r"""Krippendorff's alpha over the cases reviewed at least twice.

    .. math:: \alpha = 1 - \frac{D_o}{D_e}

    where :math:`D_o` is the observed disagreement between the labels that different reviewers gave
    to the same case (averaged over all pairable reviews) and :math:`D_e` the disagreement expected
    if the same labels were paired at random. 1 is perfect agreement, 0 is agreement at chance
    level, below 0 is systematic disagreement. Krippendorff (2004) suggests relying on data with
    alpha >= 0.800 and drawing tentative conclusions only above 0.667.

    Alpha is the headline agreement statistic because it needs neither the same reviewers nor the
    same number of reviewers on every case, which is how review queues actually work.

    Parameters
    ----------
    ratings : DataFrame
        Long ratings (``case_id``, ``reviewer_id``, ``label``); see the module docstring.
    level : {"nominal", "ordinal", "interval"}
        Level of measurement. ``"nominal"``: any two different labels disagree equally.
        ``"ordinal"``: labels are ranked by ``label_order`` and disagreement grows with how many
        (observed) labels lie between them. ``"interval"``: labels are numbers and disagreement is
        their squared difference.
    label_order : sequence, optional
        Labels from lowest to highest; required for ``"ordinal"``, where every observed label must
        appear in it. Not accepted for ``"interval"``.

    Returns
    -------
    float or None
        None when alpha is undefined: every review carries the same label (:math:`D_e = 0`).

    Raises
    ------
    ValueError
        No case has two reviews, or the options do not fit the labels.

    Notes
    -----
    Computed by ``krippendorff.alpha`` from the cases x labels ``value_counts`` matrix, which is
    the same as passing the coders x units ``reliability_data`` matrix (alpha does not depend on
    who the coders are, only on which values each unit received).
    """
    df = _prepare(ratings)
    codes, domain = _domain(df, level=level, label_order=label_order)
    _require_cases(df)
    counts = _value_counts(df, codes, len(domain))
    return _finite_or_none(_alpha_from_counts(counts, domain, level))


def fleiss_kappa(ratings: pd.DataFrame) -> dict[str, float | int | None]:
    r"""Fleiss' kappa over the cases that have the modal number of reviews.

    .. math:: \kappa = \frac{\bar P - \bar P_e}{1 - \bar P_e}

    :math:`\bar P` is the mean over cases of the share of agreeing reviewer pairs within the case
    and :math:`\bar P_e = \sum_j p_j^2` the agreement expected by chance from the pooled label
    shares :math:`p_j`. Fleiss (1971) defined it for a *fixed* number ``m`` of ratings per
    subject (the raters may differ between subjects), so - as SCHEMA section 2 specifies - it is
    computed on the cases whose number of reviews equals the most common number among
    multi-reviewed cases (ties: the larger number, which carries more information per case).
    Other cases are left out; Krippendorff's alpha uses all of them.

    Returns
    -------
    dict
        ``{"kappa": float | None, "cases": int, "reviewers_per_case": int}`` - ``cases`` is how
        many cases were used. ``kappa`` is None when undefined (every review in those cases has
        the same label, :math:`\bar P_e = 1`).

    Raises
    ------
    ValueError
        No case has two reviews.

    Notes
    -----
    Computed with ``statsmodels.stats.inter_rater.aggregate_raters`` and
    ``fleiss_kappa(method="fleiss")``.
    """
    df = _prepare(ratings)
    _require_cases(df)
    case_codes = pd.factorize(df["case_id"], sort=False)[0]
    sizes = np.bincount(case_codes)
    m = _modal_size(sizes)
    sub = df[sizes[case_codes] == m]  # rows of a case are contiguous (see _prepare)
    codes, _ = pd.factorize(sub["label"], sort=False)
    # subjects x raters matrix of category codes (rater position within a case is arbitrary)
    wide = codes.reshape(-1, m)
    from statsmodels.stats.inter_rater import aggregate_raters

    table, _categories = aggregate_raters(wide)
    return {
        "kappa": _finite_or_none(_fleiss_from_table(table)),
        "cases": int(wide.shape[0]),
        "reviewers_per_case": m,
    }


def cohen_kappa_pairs(ratings: pd.DataFrame, *, min_shared: int = 20) -> list[dict[str, Any]]:
    r"""Cohen's kappa for every pair of reviewers who reviewed enough of the same cases.

    .. math:: \kappa = \frac{p_o - p_e}{1 - p_e}

    :math:`p_o` is the share of shared cases on which the two reviewers gave the same label and
    :math:`p_e` the agreement expected from each reviewer's own label shares. Pairwise kappa
    locates disagreement: a low alpha overall may come from one reviewer who reads the policy
    differently from everyone else.

    Parameters
    ----------
    min_shared : int, default 20
        Only pairs with at least this many shared cases are reported (SCHEMA section 2); kappa on
        a handful of cases is noise.

    Returns
    -------
    list of dict
        ``[{"a": str, "b": str, "shared_cases": int, "kappa": float | None}, ...]`` with
        ``a < b`` (string order), sorted by ``(a, b)``. ``kappa`` is None when undefined - both
        reviewers gave one and the same label on every shared case (:math:`p_e = 1`). An empty
        list when no pair qualifies.

    Raises
    ------
    ValueError
        No case has two reviews, or ``min_shared < 1``.
    """
    if int(min_shared) != min_shared or min_shared < 1:
        raise ValueError(f"min_shared must be a positive integer, got {min_shared!r}")
    df = _prepare(ratings)
    _require_cases(df)
    df = df.assign(code=pd.factorize(df["label"], sort=False)[0])
    left = df[["case_id", "reviewer_id", "code"]]
    pairs = left.merge(left, on="case_id", suffixes=("_a", "_b"))
    pairs = pairs[pairs["reviewer_id_a"] < pairs["reviewer_id_b"]]
    out: list[dict[str, Any]] = []
    if pairs.empty:
        return out
    from sklearn.metrics import cohen_kappa_score

    for (a, b), grp in pairs.groupby(["reviewer_id_a", "reviewer_id_b"], sort=True):
        shared = len(grp)
        if shared < min_shared:
            continue
        with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
            warnings.simplefilter("ignore")  # sklearn's UndefinedMetricWarning / RuntimeWarning
            kappa = cohen_kappa_score(grp["code_a"].to_numpy(), grp["code_b"].to_numpy())
        out.append({"a": a, "b": b, "shared_cases": int(shared), "kappa": _finite_or_none(kappa)})
    return out


def percent_agreement(ratings: pd.DataFrame) -> float:
    r"""Share of agreeing reviewer pairs, pooled over all within-case pairs.

    Every case with :math:`n_c \ge 2` reviews contributes its :math:`\binom{n_c}{2}` unordered
    pairs of reviews; a pair agrees when both reviews carry the same label. With
    :math:`n_{cl}` the number of reviews of case :math:`c` with label :math:`l`:

    .. math:: \text{percent agreement} =
              \frac{\sum_c \sum_l \binom{n_{cl}}{2}}{\sum_c \binom{n_c}{2}}

    A fraction in [0, 1] (not a percentage, despite the customary name). It is easy to explain
    but not corrected for chance: two reviewers who approve 95% of cases at random agree about
    90% of the time. Report it next to alpha/kappa, never alone.

    Pooling weights a case by its number of pairs, so a case with 3 reviews (3 pairs) weighs three
    times a case with 2 reviews (1 pair). When every case has the same number of reviews this
    equals the mean per-case agreement :math:`\bar P` of Fleiss' kappa.

    Raises
    ------
    ValueError
        No case has two reviews.
    """
    df = _prepare(ratings)
    _require_cases(df)
    codes, domain = _domain(df, level="nominal", label_order=None)
    return _percent_from_counts(_value_counts(df, codes, len(domain)))


def consensus_agreement(ratings: pd.DataFrame) -> list[dict[str, Any]]:
    """Per reviewer: how often their label matches the majority of the *other* reviewers.

    For each review of a case with at least two reviews, the reference is the label given most
    often by the other reviewers of that case (leave-one-out majority, so a reviewer does not vote
    on their own reference). When the others are tied for the most common label (say one of two
    other reviewers approved and the other rejected) the reference is undefined and that review
    is skipped: it counts in ``reviews`` but not in ``compared``.

    With exactly one other reviewer, that reviewer's label is the majority (a single vote is a
    strict majority of one), so on two-review cases this is plain pairwise agreement.

    Useful to spot an outlier reviewer; unlike kappa it needs no minimum number of shared cases
    with any one colleague, but it is not chance-corrected.

    Returns
    -------
    list of dict
        Sorted by ``reviewer_id``::

            {"reviewer_id": str,
             "reviews": int,      # their reviews of multi-reviewed cases
             "compared": int,     # of which the others had a unique majority label
             "agreed": int,       # of which their label equals that majority
             "agreement": float | None}   # agreed / compared; None if compared == 0

    Raises
    ------
    ValueError
        No case has two reviews.
    """
    df = _prepare(ratings)
    _require_cases(df)
    codes, domain = _domain(df, level="nominal", label_order=None)
    counts = _value_counts(df, codes, len(domain))
    case_codes = pd.factorize(df["case_id"], sort=False)[0]
    others = counts[case_codes].copy()  # one row per review: label counts of its case ...
    others[np.arange(len(df)), codes] -= 1  # ... minus the review itself
    top = others.max(axis=1)
    unique_majority = (others == top[:, None]).sum(axis=1) == 1
    agreed = unique_majority & (others[np.arange(len(df)), codes] == top)
    per = (
        pd.DataFrame({"reviewer_id": df["reviewer_id"], "compared": unique_majority, "agreed": agreed})
        .groupby("reviewer_id", sort=True)
        .agg(reviews=("compared", "size"), compared=("compared", "sum"), agreed=("agreed", "sum"))
    )
    return [
        {
            "reviewer_id": str(rid),
            "reviews": int(row.reviews),
            "compared": int(row.compared),
            "agreed": int(row.agreed),
            "agreement": (int(row.agreed) / int(row.compared)) if row.compared else None,
        }
        for rid, row in per.iterrows()
    ]


def bootstrap_ci(
    ratings: pd.DataFrame,
    statistic: str | Callable[[np.ndarray], float],
    *,
    label_order: Sequence[Any] | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float | None, float | None]:
    """Percentile bootstrap confidence interval, resampling cases.

    Cases (not reviews) are the independent units: the reviews of one case are correlated, so
    the whole case is drawn with replacement. Each of ``n_boot`` resamples draws as many cases as
    there are (with replacement) and recomputes the statistic; the interval is the
    ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles of the resampled values (numpy's default
    linear interpolation). The same ``seed`` gives the same interval.

    Parameters
    ----------
    statistic : str or callable
        One of :data:`STATISTICS` - ``"krippendorff_alpha_nominal"``,
        ``"krippendorff_alpha_ordinal"`` (needs ``label_order``), ``"krippendorff_alpha_interval"``,
        ``"fleiss_kappa"``, ``"percent_agreement"`` - or a function of the cases x labels count
        matrix (``int`` ndarray, one row per case, ``[i, j]`` = reviews of case ``i`` with label
        ``j``) returning a float (NaN when undefined).
        For ``"fleiss_kappa"`` the resampled cases are those used by :func:`fleiss_kappa` (the
        cases with the modal number of reviews), so the interval is about the same estimate.
    label_order : sequence, optional
        For the ordinal alpha.
    n_boot : int, default 1000
    seed : int, default 0
        Seed of ``numpy.random.default_rng``.
    level : float, default 0.95
        Confidence level.

    Returns
    -------
    (low, high) : tuple of float, or ``(None, None)``
        ``(None, None)`` when not computable: fewer than two cases, the statistic undefined on the
        data, or defined in fewer than half of the resamples. Resamples where the statistic is
        undefined (e.g. all drawn cases carry one label) are otherwise left out.

    Raises
    ------
    ValueError
        No case has two reviews, or invalid options.

    Notes
    -----
    The count matrix is built once; each resample indexes its rows and calls the library
    statistic (``krippendorff.alpha(value_counts=...)``, statsmodels' ``fleiss_kappa``), about
    0.1 ms each for hundreds of cases, so 1000 resamples take a fraction of a second.
    """
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    if int(n_boot) != n_boot or n_boot < 1:
        raise ValueError(f"n_boot must be a positive integer, got {n_boot!r}")
    df = _prepare(ratings)
    _require_cases(df)
    counts, func, weighted = _resolve_statistic(df, statistic, label_order=label_order)
    return _bootstrap(counts, func, weighted, n_boot=int(n_boot), seed=seed, level=level)


def _resolve_statistic(
    df: pd.DataFrame,
    statistic: str | Callable[[np.ndarray], float],
    *,
    label_order: Sequence[Any] | None,
) -> tuple[np.ndarray, Callable[[np.ndarray], float], Callable[[np.ndarray], np.ndarray] | None]:
    """The count matrix to resample, the function to apply to each resample, and the same
    statistic as a function of resampling weights (see :func:`_weighted_statistic`)."""
    if callable(statistic):
        codes, domain = _domain(df, level="nominal", label_order=None)
        return _value_counts(df, codes, len(domain)), statistic, None
    if statistic not in STATISTICS:
        raise ValueError(f"statistic must be one of {STATISTICS} or a callable, got {statistic!r}")
    if statistic.startswith("krippendorff_alpha_"):
        lvl = statistic.removeprefix("krippendorff_alpha_")
        codes, domain = _domain(df, level=lvl, label_order=label_order if lvl == "ordinal" else None)
        counts = _value_counts(df, codes, len(domain))
        return counts, lambda c: _alpha_from_counts(c, domain, lvl), _weighted_alpha(counts, domain, lvl)
    codes, domain = _domain(df, level="nominal", label_order=None)
    counts = _value_counts(df, codes, len(domain))
    if statistic == "fleiss_kappa":
        sizes = counts.sum(axis=1)
        table = counts[sizes == _modal_size(sizes)]
        return table, _fleiss_from_table, _weighted_fleiss(table)
    return counts, _percent_from_counts, _weighted_percent(counts)


def _bootstrap(
    counts: np.ndarray,
    func: Callable[[np.ndarray], float],
    weighted: Callable[[np.ndarray], np.ndarray] | None = None,
    *,
    n_boot: int,
    seed: int,
    level: float,
) -> tuple[float | None, float | None]:
    n_cases = counts.shape[0]
    if n_cases < 2 or not math.isfinite(func(counts)):
        return None, None
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n_cases, size=(n_boot, n_cases))
    if weighted is None:
        values = np.fromiter((func(counts[idx]) for idx in draws), dtype=float, count=n_boot)
    else:
        # The same resamples, as "how often was each case drawn": every statistic here is a
        # function of weighted sums over cases, so 1000 resamples become a few matrix products
        # (chunked to bound memory) instead of 1000 library calls.
        chunks = []
        for start in range(0, n_boot, 128):
            part = draws[start:start + 128]
            w = np.empty((len(part), n_cases))
            for i, drawn in enumerate(part):  # one bincount per resample: 4x faster than np.add.at
                w[i] = np.bincount(drawn, minlength=n_cases)
            chunks.append(weighted(w))
        values = np.concatenate(chunks)
    values = values[np.isfinite(values)]
    if len(values) < _MIN_DEFINED_SHARE * n_boot:
        return None, None
    low, high = np.quantile(values, [(1 - level) / 2, (1 + level) / 2])
    return float(low), float(high)


# --------------------------------------------------------------------------------------------
# the same statistics as functions of resampling weights (w: resamples x cases), for the
# bootstrap. tests/test_agreement_stats.py checks each against the library call on counts[idx].
# --------------------------------------------------------------------------------------------


def _weighted_percent(counts: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    n = counts.sum(axis=1)
    agree = (counts * (counts - 1)).sum(axis=1).astype(float)
    pairs = (n * (n - 1)).astype(float)

    def stat(w: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return (w @ agree) / (w @ pairs)
    return stat


def _weighted_fleiss(table: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """Fleiss' kappa as statsmodels computes it (method="fleiss"), with cases weighted."""
    m = table.sum(axis=1).astype(float)  # equal for every row: the modal number of reviews
    p_case = ((table.astype(float) ** 2).sum(axis=1) - m) / (m * (m - 1))

    def stat(w: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            p_mean = (w @ p_case) / w.sum(axis=1)
            cat = w @ table.astype(float)
            p_cat = cat / cat.sum(axis=1, keepdims=True)
            p_exp = (p_cat ** 2).sum(axis=1)
            return (p_mean - p_exp) / (1 - p_exp)
    return stat


def _weighted_alpha(counts: np.ndarray, domain: np.ndarray, level: str) -> Callable[[np.ndarray], np.ndarray]:
    """Krippendorff's alpha from the coincidence matrix (Krippendorff 2011, eq. for o_ck):
    o_ck = sum_u n_uc (n_uk - [c = k]) / (m_u - 1) over pairable units; a resample's matrix is
    the weighted sum of the units' matrices. alpha = 1 - (n - 1) sum o*d2 / sum n_c n_k d2."""
    k = counts.shape[1]
    c = counts.astype(float)
    m = c.sum(axis=1)
    pairable = m >= 2
    per_unit = np.zeros((len(c), k, k))
    cu = c[pairable]
    per_unit[pairable] = (cu[:, :, None] * (cu[:, None, :] - np.eye(k)[None])) / (m[pairable] - 1)[:, None, None]
    flat = per_unit.reshape(len(c), k * k)
    values = np.asarray(domain, dtype=float)

    def stat(w: np.ndarray) -> np.ndarray:
        o = (w @ flat).reshape(len(w), k, k)
        n_c = o.sum(axis=2)
        n = n_c.sum(axis=1)
        if level == "nominal":
            d2 = np.broadcast_to(1.0 - np.eye(k), o.shape)
        elif level == "interval":
            d2 = np.broadcast_to((values[:, None] - values[None, :]) ** 2, o.shape)
        else:  # ordinal: (sum of n_g from c to k, minus half of n_c and n_k) squared, per resample
            cum = np.concatenate([np.zeros((len(w), 1)), np.cumsum(n_c, axis=1)], axis=1)
            lo = np.minimum.outer(np.arange(k), np.arange(k))
            hi = np.maximum.outer(np.arange(k), np.arange(k))
            between = cum[:, hi + 1] - cum[:, lo]
            d2 = (between - (n_c[:, :, None] + n_c[:, None, :]) / 2) ** 2
        with np.errstate(divide="ignore", invalid="ignore"):
            observed = (o * d2).sum(axis=(1, 2))
            expected = (n_c[:, :, None] * n_c[:, None, :] * d2).sum(axis=(1, 2))
            return 1 - (n - 1) * observed / expected
    return stat


def agreement_summary(
    ratings: pd.DataFrame,
    *,
    label_order: Sequence[Any] | None = None,
    min_shared: int = 20,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> dict[str, Any]:
    """Everything in the ``agreement`` block of ``metrics --json``, never raising on empty input.

    Returns
    -------
    dict
        ::

            {"cases_with_multiple_reviews": int,
             "reviews": int,                          # reviews of those cases
             "reviewers": int,                        # distinct reviewers among them
             "krippendorff_alpha_nominal": float | None,
             "krippendorff_alpha_nominal_ci": [low, high] | None,
             "krippendorff_alpha_ordinal": float | None,   # None unless label_order is given
             "krippendorff_alpha_ordinal_ci": [low, high] | None,
             "fleiss_kappa": float | None,
             "fleiss_kappa_ci": [low, high] | None,
             "fleiss_cases": int,                     # cases with the modal number of reviews
             "fleiss_reviewers_per_case": int | None,
             "percent_agreement": float | None,
             "cohen_kappa_pairs": [{"a", "b", "shared_cases", "kappa"}, ...],
             "consensus": [{"reviewer_id", "reviews", "compared", "agreed", "agreement"}, ...],
             "ci_level": float, "n_boot": int, "seed": int}

        With no multi-reviewed case the counts are 0, the lists empty and every statistic None.
        A ``*_ci`` is None when its statistic is None, when ``n_boot == 0`` (bootstrap skipped)
        or when :func:`bootstrap_ci` returns ``(None, None)``.

    Raises
    ------
    ValueError
        Malformed ``ratings`` (missing columns, duplicate reviews) or options that do not fit the
        data (a label missing from ``label_order``) - configuration errors, not empty filters.
    """
    if int(n_boot) != n_boot or n_boot < 0:
        raise ValueError(f"n_boot must be a non-negative integer, got {n_boot!r}")
    df = _prepare(ratings)
    n_cases = int(df["case_id"].nunique())
    summary: dict[str, Any] = {
        "cases_with_multiple_reviews": n_cases,
        "reviews": int(len(df)),
        "reviewers": int(df["reviewer_id"].nunique()),
        "krippendorff_alpha_nominal": None,
        "krippendorff_alpha_nominal_ci": None,
        "krippendorff_alpha_ordinal": None,
        "krippendorff_alpha_ordinal_ci": None,
        "fleiss_kappa": None,
        "fleiss_kappa_ci": None,
        "fleiss_cases": 0,
        "fleiss_reviewers_per_case": None,
        "percent_agreement": None,
        "cohen_kappa_pairs": [],
        "consensus": [],
        "ci_level": level,
        "n_boot": int(n_boot),
        "seed": seed,
    }
    if n_cases == 0:
        return summary

    def ci(statistic: str) -> list[float] | None:
        if n_boot == 0:
            return None
        low, high = bootstrap_ci(df, statistic, label_order=label_order, n_boot=n_boot, seed=seed, level=level)
        return None if low is None else [low, high]

    summary["krippendorff_alpha_nominal"] = krippendorff_alpha(df, level="nominal")
    if summary["krippendorff_alpha_nominal"] is not None:
        summary["krippendorff_alpha_nominal_ci"] = ci("krippendorff_alpha_nominal")
    if label_order is not None:
        summary["krippendorff_alpha_ordinal"] = krippendorff_alpha(df, level="ordinal", label_order=label_order)
        if summary["krippendorff_alpha_ordinal"] is not None:
            summary["krippendorff_alpha_ordinal_ci"] = ci("krippendorff_alpha_ordinal")
    fk = fleiss_kappa(df)
    summary["fleiss_kappa"] = fk["kappa"]
    summary["fleiss_cases"] = fk["cases"]
    summary["fleiss_reviewers_per_case"] = fk["reviewers_per_case"]
    if fk["kappa"] is not None:
        summary["fleiss_kappa_ci"] = ci("fleiss_kappa")
    summary["percent_agreement"] = percent_agreement(df)
    summary["cohen_kappa_pairs"] = cohen_kappa_pairs(df, min_shared=min_shared)
    summary["consensus"] = consensus_agreement(df)
    return summary
