"""Group fairness from confusion counts, with Fairlearn ``MetricFrame`` semantics.

The store aggregates decisions per group into a handful of counts (so a year of decisions never
has to leave the database); these functions turn the counts into the per-group rates and the
between-group disparities that Fairlearn would compute from the rows. :func:`metricframe_reference`
is that plain-Fairlearn computation on row-level data: the oracle of the tests and the baseline of
the benchmark.

Input of :func:`group_rates`: a :class:`pandas.DataFrame` ``counts`` with one row per group and
the columns

=========== ===================================================================================
``group``    the value of the sensitive attribute
``n``        rows (decisions) in the group
``pred_pos`` rows whose decision is the positive (favourable) label
``n_known``  rows whose outcome (ground truth) is known
``tp``       known outcome positive, decision positive
``fp``       known outcome negative, decision positive
``fn``       known outcome positive, decision negative
``tn``       known outcome negative, decision negative (``tp + fp + fn + tn == n_known``)
``fav``      (optional) rows whose decision is the *favourable* label; absent = ``pred_pos``
=========== ===================================================================================

**Positive vs favourable label.** The positive label is what the selection rate (Fairlearn's
"share predicted positive") and the error rates are defined on; the favourable label is the
outcome that benefits the person decided about. They are the same in lending (positive
``approve``), opposite in risk scoring (COMPAS: positive ``high`` = predicted to reoffend,
favourable ``low``). The four-fifths rule compares *favourable* rates: on COMPAS the group most
often scored high risk is the disadvantaged one, not the one "selected" least.

Missing (NaN/NULL) values in the five outcome columns are read as 0 - what a SQL ``SUM`` over no
rows returns. Missing ``n``/``pred_pos``, negative or fractional counts, inconsistent totals,
missing or repeated groups raise :class:`ValueError`, as does an empty frame.

Binary decisions: "positive" is whatever label the caller declared favourable
(``--positive-label``); every other label is negative. Conventions as in ``fairlearn.metrics``:
keyword-only options; a rate whose denominator is 0 is ``None`` (never NaN); results are plain
Python data, group keys are ``str(group)``.
"""

from __future__ import annotations

import math
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "CI_QUANTILES",
    "COUNT_COLUMNS",
    "MIN_GROUP_SIZE",
    "N_BOOT",
    "bootstrap_intervals",
    "no_disparities",
    "with_sufficient_evidence",
    "FOUR_FIFTHS_THRESHOLD",
    "REVIEW_EFFECT_TOLERANCE",
    "counts_from_rows",
    "disparities",
    "group_rates",
    "metricframe_reference",
    "review_effect",
]

COUNT_COLUMNS = ("group", "n", "pred_pos", "n_known", "tp", "fp", "fn", "tn")
_OUTCOME_COLUMNS = ("n_known", "tp", "fp", "fn", "tn")

#: The EEOC Uniform Guidelines (29 CFR 1607.4(D)) "four-fifths rule": a selection rate below
#: 80% of the highest group's rate is evidence of adverse impact.
FOUR_FIFTHS_THRESHOLD = 0.8

#: Default tolerance of :func:`review_effect`: changes of at most one percentage point count as
#: "unchanged".
REVIEW_EFFECT_TOLERANCE = 0.01

# Ratios are compared with this slack so that a group exactly at four fifths of the top rate
# (e.g. 0.24 / 0.30, which is 0.7999999999999999 in floating point) passes.
_RATIO_EPS = 1e-12

_RATE_KEYS = (
    "count",
    "selection_rate",
    "false_positive_rate",
    "false_negative_rate",
    "true_positive_rate",
    "accuracy",
    "outcome_known",
    "favourable_rate",
)


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def _none_if_nan(x: Any) -> float | None:
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def _group_keys(groups: pd.Series) -> list[str]:
    if groups.isna().any():
        raise ValueError("missing group values; fill them (e.g. with '(missing)') to count them as a group")
    keys = [str(g) for g in groups]
    if len(set(keys)) != len(keys):
        raise ValueError(f"repeated groups: {sorted(k for k in set(keys) if keys.count(k) > 1)}")
    return keys


def _as_counts(values: pd.Series, name: str) -> np.ndarray:
    x = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    if np.isnan(x).any():
        raise ValueError(f"column {name!r} has missing or non-numeric values")
    if (x < 0).any() or (x != np.round(x)).any():
        raise ValueError(f"column {name!r} must hold non-negative whole numbers")
    return x.astype(np.int64)


# --------------------------------------------------------------------------------------------
# counts -> rates -> disparities
# --------------------------------------------------------------------------------------------


def group_rates(counts: pd.DataFrame) -> dict[str, dict[str, float | int | None]]:
    r"""Per-group count, selection rate and error rates, from confusion counts.

    For a group :math:`g`, with its decisions :math:`\hat y` and (where known) outcomes :math:`y`:

    - **count** = ``n``, the group's decisions;
    - **selection rate** = :math:`P(\hat y = 1 \mid g)` = ``pred_pos / n``, over *all* the group's
      decisions - the share receiving the favourable decision, which needs no ground truth;
    - **false positive rate** = :math:`P(\hat y = 1 \mid y = 0, g)` = ``fp / (fp + tn)``;
    - **false negative rate** = :math:`P(\hat y = 0 \mid y = 1, g)` = ``fn / (fn + tp)``;
    - **true positive rate** = :math:`P(\hat y = 1 \mid y = 1, g)` = ``tp / (tp + fn)``;
    - **accuracy** = ``(tp + tn) / n_known``;
    - **outcome_known** = ``n_known``, how many decisions the four outcome-based rates rest on;
    - **favourable rate** = ``fav / n``, the share receiving the favourable decision (only with a
      ``fav`` column; without one the favourable label is the positive one and this is the
      selection rate).

    The outcome-based rates use only decisions whose outcome is known (outcomes typically arrive
    late, or only for some cases); they are ``None`` when their denominator is 0 - e.g. a group
    with no known outcome, or no known positive outcome for the TPR/FNR. (Fairlearn reports 0.0
    in the latter case; see :func:`metricframe_reference`.)

    Returns
    -------
    dict
        ``{str(group): {"count": int, "selection_rate": float | None,
        "false_positive_rate": ..., "false_negative_rate": ..., "true_positive_rate": ...,
        "accuracy": ..., "outcome_known": int}}``, groups in sorted order of their keys.

    Raises
    ------
    ValueError
        Empty or malformed ``counts`` (see the module docstring).
    """
    if not isinstance(counts, pd.DataFrame):
        raise TypeError(f"counts must be a pandas DataFrame, got {type(counts).__name__}")
    missing = [c for c in COUNT_COLUMNS if c not in counts.columns]
    if missing:
        raise ValueError(f"counts is missing column(s) {missing}; expected {list(COUNT_COLUMNS)}")
    if counts.empty:
        raise ValueError("counts is empty: no group to compare")
    keys = _group_keys(counts["group"])
    n = _as_counts(counts["n"], "n")
    pred_pos = _as_counts(counts["pred_pos"], "pred_pos")
    known = {c: _as_counts(counts[c].fillna(0), c) for c in _OUTCOME_COLUMNS}
    tp, fp, fn, tn, n_known = known["tp"], known["fp"], known["fn"], known["tn"], known["n_known"]
    has_fav = "fav" in counts.columns
    fav = _as_counts(counts["fav"], "fav") if has_fav else pred_pos
    checks = {
        "tp + fp + fn + tn == n_known": tp + fp + fn + tn == n_known,
        "pred_pos <= n": pred_pos <= n,
        "n_known <= n": n_known <= n,
        # positives among known outcomes (tp + fp) and among unknown ones fit in pred_pos
        "tp + fp <= pred_pos <= tp + fp + (n - n_known)": (tp + fp <= pred_pos) & (pred_pos <= tp + fp + n - n_known),
        "fav <= n": fav <= n,
    }
    for rule, ok in checks.items():
        if not ok.all():
            bad = [keys[i] for i in np.flatnonzero(~ok)]
            raise ValueError(f"counts violate {rule} for group(s) {bad}")
    out: dict[str, dict[str, float | int | None]] = {}
    for i in sorted(range(len(keys)), key=keys.__getitem__):
        t_p, f_p, f_n, t_n = int(tp[i]), int(fp[i]), int(fn[i]), int(tn[i])
        out[keys[i]] = {
            "count": int(n[i]),
            "selection_rate": _ratio(int(pred_pos[i]), int(n[i])),
            "false_positive_rate": _ratio(f_p, f_p + t_n),
            "false_negative_rate": _ratio(f_n, f_n + t_p),
            "true_positive_rate": _ratio(t_p, t_p + f_n),
            "accuracy": _ratio(t_p + t_n, int(n_known[i])),
            "outcome_known": int(n_known[i]),
        }
        if has_fav:
            out[keys[i]]["favourable_rate"] = _ratio(int(fav[i]), int(n[i]))
    return out


def _defined(rates: dict[str, dict[str, Any]], key: str) -> dict[str, float]:
    return {g: r[key] for g, r in rates.items() if r.get(key) is not None}


def _range(values: dict[str, float]) -> float | None:
    return (max(values.values()) - min(values.values())) if values else None


def disparities(rates: dict[str, dict[str, Any]]) -> dict[str, Any]:
    r"""Between-group disparities of the rates from :func:`group_rates`.

    - **demographic parity difference** (DPD) = max - min of the groups' selection rates. 0 means
      every group receives the favourable decision equally often; it needs no ground truth.
    - **demographic parity ratio** (DPR) = min / max of the selection rates; 1 is parity.
      ``None`` when the largest selection rate is 0 (0/0).
    - **equalized odds difference** (EOD) = the larger of the TPR range and the FPR range across
      groups (Fairlearn's ``equalized_odds_difference``, ``method="between_groups"``,
      ``agg="worst_case"``). 0 means the decisions are equally accurate for every group, on
      both the deserving (TPR) and the undeserving (FPR). ``None`` unless both ranges are
      defined.
    - **favourable rate ratio** = min / max of the groups' *favourable* rates (the impact ratio);
      equal to DPR when the favourable label is the positive one.
    - **four-fifths rule** (EEOC adverse-impact rule of thumb, 29 CFR 1607.4(D)): ``ratio`` = the
      favourable rate ratio; ``passes`` when it is at least 0.8; ``disadvantaged_groups`` = groups
      whose favourable rate is below 0.8 x the highest, sorted. A compliance screen, not a
      statistical test: on small groups it flags noise.

    Groups where a rate is undefined (``None``) are left out of that rate's range - a group with
    no known outcome cannot be judged on error rates. (Fairlearn would count an undefined TPR or
    FPR as 0.0 and may report a spurious EOD.) A range over a single group is 0.0. The
    ``true_positive_rate_difference`` and ``false_positive_rate_difference`` that make up the EOD
    are returned as well.

    Returns
    -------
    dict
        ``{"demographic_parity_difference": float | None, "demographic_parity_ratio": float | None,
        "favourable_rate_ratio": float | None, "equalized_odds_difference": float | None, "true_positive_rate_difference": float | None,
        "false_positive_rate_difference": float | None,
        "four_fifths_rule": {"ratio": float | None, "passes": bool | None, "threshold": 0.8,
        "disadvantaged_groups": [str, ...]}}``

    Raises
    ------
    ValueError
        ``rates`` is empty.
    """
    if not rates:
        raise ValueError("rates is empty: no group to compare")
    selection = _defined(rates, "selection_rate")
    favourable = {g: r.get("favourable_rate", r.get("selection_rate")) for g, r in rates.items()}
    favourable = {g: v for g, v in favourable.items() if v is not None}
    tpr_diff = _range(_defined(rates, "true_positive_rate"))
    fpr_diff = _range(_defined(rates, "false_positive_rate"))
    top = max(selection.values()) if selection else None
    dpr = (min(selection.values()) / top) if top else None
    top_fav = max(favourable.values()) if favourable else None
    ratio = (min(favourable.values()) / top_fav) if top_fav else None
    if top_fav:
        cutoff = FOUR_FIFTHS_THRESHOLD * top_fav
        disadvantaged = sorted(g for g, s in favourable.items() if s < cutoff * (1 - _RATIO_EPS))
    else:
        disadvantaged = []
    return {
        "demographic_parity_difference": _range(selection),
        "demographic_parity_ratio": dpr,
        "favourable_rate_ratio": ratio,
        "equalized_odds_difference": (
            max(tpr_diff, fpr_diff) if tpr_diff is not None and fpr_diff is not None else None
        ),
        "true_positive_rate_difference": tpr_diff,
        "false_positive_rate_difference": fpr_diff,
        "four_fifths_rule": {
            "ratio": ratio,
            "passes": None if ratio is None else ratio >= FOUR_FIFTHS_THRESHOLD - _RATIO_EPS,
            "threshold": FOUR_FIFTHS_THRESHOLD,
            "disadvantaged_groups": disadvantaged,
        },
    }


def _verdict(change: float | None, tolerance: float) -> str | None:
    if change is None:
        return None
    if change < -tolerance:
        return "reduced"
    if change > tolerance:
        return "increased"
    return "unchanged"


def review_effect(
    model: dict[str, Any], final: dict[str, Any], *, tolerance: float = REVIEW_EFFECT_TOLERANCE
) -> dict[str, Any]:
    """Did human review reduce or increase the disparity?

    Compares the disparities of the model's decisions with those of the decisions that took
    effect after human review (both from :func:`disparities`, over the same cases). A change is
    ``final - model``: negative means review *narrowed* the gap between groups.

    Per metric (DPD and EOD) the verdict is ``"reduced"`` when the change is below
    ``-tolerance``, ``"increased"`` when above ``+tolerance``, ``"unchanged"`` otherwise, and
    ``None`` when either side is undefined. The overall ``verdict`` combines the defined
    per-metric verdicts: ``"reduced"``/``"increased"`` when at least one metric moved that way and
    none the other way, ``"unchanged"`` when none moved, ``"mixed"`` when one was reduced and the
    other increased (e.g. review equalised approval rates but at the cost of unequal error rates),
    ``None`` when neither is defined.

    Parameters
    ----------
    model, final : dict
        Outputs of :func:`disparities` for ``model_decision`` and ``final_decision``.
    tolerance : float, default 0.01
        Absolute tolerance in rate units: by default a change of at most one percentage point is
        "unchanged". Pass 0 to call any change. This is a materiality threshold, not a
        significance test.

    Returns
    -------
    dict
        ``{"dpd_model", "dpd_final", "dpd_change", "dpd_verdict", "eod_model", "eod_final",
        "eod_change", "eod_verdict", "verdict", "tolerance", "worsened"}``; ``worsened`` lists the
        groups whose false positive or false negative rate review raised (see :func:`_worsened`).
    """
    if tolerance < 0 or not math.isfinite(tolerance):
        raise ValueError(f"tolerance must be a finite non-negative number, got {tolerance!r}")
    out: dict[str, Any] = {}
    verdicts = []
    for short, key in (("dpd", "demographic_parity_difference"), ("eod", "equalized_odds_difference")):
        before, after = _none_if_nan(model.get(key)), _none_if_nan(final.get(key))
        change = after - before if before is not None and after is not None else None
        verdict = _verdict(change, tolerance)
        out.update({f"{short}_model": before, f"{short}_final": after, f"{short}_change": change, f"{short}_verdict": verdict})
        if verdict is not None:
            verdicts.append(verdict)
    moved = set(verdicts) - {"unchanged"}
    if not verdicts:
        overall = None
    elif not moved:
        overall = "unchanged"
    elif len(moved) == 1:
        overall = moved.pop()
    else:
        overall = "mixed"
    out["verdict"] = overall
    out["tolerance"] = tolerance
    out["worsened"] = _worsened(model.get("by_group") or {}, final.get("by_group") or {}, tolerance)
    return out


def _worsened(model: dict[str, dict], final: dict[str, dict], tolerance: float) -> list[dict]:
    """The groups whose error rate review made worse by more than ``tolerance``:
    ``[{"group", "rate", "model", "final"}]``, largest increase first. A review that narrows a
    selection-rate gap can still raise one group's false positive or false negative rate."""
    rows = []
    for group, m in model.items():
        f = final.get(group) or {}
        if m.get("insufficient_evidence") or f.get("insufficient_evidence"):
            continue  # too few cases: a change in its error rate is noise, not evidence
        for rate in ("false_positive_rate", "false_negative_rate"):
            before, after = _none_if_nan(m.get(rate)), _none_if_nan(f.get(rate))
            if before is not None and after is not None and after - before > tolerance:
                rows.append({"group": group, "rate": rate, "model": before, "final": after})
    return sorted(rows, key=lambda r: (-(r["final"] - r["model"]), r["group"], r["rate"]))


# --------------------------------------------------------------------------------------------
# row-level references
# --------------------------------------------------------------------------------------------


def _binarise(
    df: pd.DataFrame, *, group_col: str, pred_col: str, true_col: str | None, positive_label: Any
) -> tuple[pd.Series, np.ndarray, np.ndarray, np.ndarray]:
    """Group, predicted-positive, outcome-known and outcome-positive arrays; validates input."""
    cols = [group_col, pred_col] + ([true_col] if true_col is not None else [])
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise ValueError(f"df is missing column(s) {missing}")
    if df.empty:
        raise ValueError("df is empty: no decision to count")
    if df[group_col].isna().any():
        raise ValueError(
            f"column {group_col!r} has missing values; fill them (e.g. with '(missing)') to count them as a group"
        )
    if df[pred_col].isna().any():
        raise ValueError(f"column {pred_col!r} has missing decisions")
    pred = (df[pred_col] == positive_label).to_numpy()
    if true_col is None:
        known = np.zeros(len(df), dtype=bool)
        actual = np.zeros(len(df), dtype=bool)
    else:
        known = df[true_col].notna().to_numpy()
        actual = (df[true_col] == positive_label).to_numpy() & known
    return df[group_col], pred, known, actual


def counts_from_rows(
    df: pd.DataFrame, *, group_col: str, pred_col: str, true_col: str | None, positive_label: Any
) -> pd.DataFrame:
    """The ``counts`` input of :func:`group_rates`, built with pandas from row-level decisions.

    One row per group (sorted): ``n`` rows; ``pred_pos`` rows whose ``pred_col`` equals
    ``positive_label``; ``n_known`` rows whose ``true_col`` is not missing, split into ``tp``,
    ``fp``, ``fn``, ``tn`` by comparing both columns with ``positive_label``. Labels are compared
    as given (``"1"`` is not ``1``). ``true_col=None`` means no outcome column: every outcome is
    unknown.

    This is the reference for the store's aggregation query.

    Raises
    ------
    ValueError
        Empty ``df``, missing columns, missing group or decision values.
    """
    groups, pred, known, actual = _binarise(
        df, group_col=group_col, pred_col=pred_col, true_col=true_col, positive_label=positive_label
    )
    flags = pd.DataFrame(
        {
            "group": groups.to_numpy(),
            "n": 1,
            "pred_pos": pred,
            "n_known": known,
            "tp": known & actual & pred,
            "fp": known & ~actual & pred,
            "fn": known & actual & ~pred,
            "tn": known & ~actual & ~pred,
        }
    )
    out = flags.groupby("group", sort=True, observed=True).sum().reset_index()
    return out.astype({c: "int64" for c in COUNT_COLUMNS[1:]})[list(COUNT_COLUMNS)]


def metricframe_reference(
    df: pd.DataFrame, *, group_col: str, pred_col: str, true_col: str | None, positive_label: Any
) -> dict[str, Any]:
    """The same per-group figures and disparities, computed with plain Fairlearn.

    Decisions and outcomes are binarised (1 = ``positive_label``), then

    - on **all rows**: ``MetricFrame`` with ``count`` and ``selection_rate``, and
      ``demographic_parity_difference`` / ``demographic_parity_ratio`` (these use only the
      decisions; Fairlearn still wants a ``y_true``, so the decisions are passed as both);
    - on the **rows with a known outcome**: ``MetricFrame`` with ``count``,
      ``false_positive_rate``, ``false_negative_rate``, ``true_positive_rate`` (``pos_label=1``)
      and sklearn's ``accuracy_score``, and ``equalized_odds_difference`` (``agg="worst_case"``).

    This is the oracle for :func:`group_rates`/:func:`disparities` and the "plain Fairlearn path"
    the benchmark times. Fairlearn's values are passed through unchanged, with two exceptions: a
    group with no known outcome is absent from the second ``MetricFrame`` and gets ``None`` (and
    ``outcome_known`` 0), and NaN becomes ``None``.

    Known difference from :func:`group_rates`: when a group has known outcomes but none positive
    (or none negative), Fairlearn reports its TPR and FNR (or FPR) as 0.0 - sklearn's
    ``confusion_matrix(normalize="true")`` turns 0/0 into 0 - where :func:`group_rates` says
    ``None``, and Fairlearn's EOD then includes that 0.0.

    Returns
    -------
    dict
        ``{"by_group": {str(group): {same keys as group_rates}},
        "demographic_parity_difference": float, "demographic_parity_ratio": float | None,
        "equalized_odds_difference": float | None}``
    """
    from fairlearn.metrics import (
        MetricFrame,
        count,
        demographic_parity_difference,
        demographic_parity_ratio,
        equalized_odds_difference,
        false_negative_rate,
        false_positive_rate,
        selection_rate,
        true_positive_rate,
    )
    from sklearn.metrics import accuracy_score

    groups, pred, known, actual = _binarise(
        df, group_col=group_col, pred_col=pred_col, true_col=true_col, positive_label=positive_label
    )
    sf = groups.reset_index(drop=True)
    y_pred = pred.astype(int)
    _group_keys(pd.Series(sf.unique()))  # repeated str(group) keys would collide

    mf_all = MetricFrame(
        metrics={"count": count, "selection_rate": selection_rate},
        y_true=y_pred,
        y_pred=y_pred,
        sensitive_features=sf,
    )
    result: dict[str, Any] = {
        "by_group": {},
        "demographic_parity_difference": _none_if_nan(
            demographic_parity_difference(y_pred, y_pred, sensitive_features=sf)
        ),
        "demographic_parity_ratio": _none_if_nan(demographic_parity_ratio(y_pred, y_pred, sensitive_features=sf)),
        "equalized_odds_difference": None,
    }
    known_by_group = pd.DataFrame()
    if known.any():
        y_true_k, y_pred_k, sf_k = actual[known].astype(int), y_pred[known], sf[known].reset_index(drop=True)
        mf_known = MetricFrame(
            metrics={
                "count": count,
                "false_positive_rate": partial(false_positive_rate, pos_label=1),
                "false_negative_rate": partial(false_negative_rate, pos_label=1),
                "true_positive_rate": partial(true_positive_rate, pos_label=1),
                "accuracy": accuracy_score,
            },
            y_true=y_true_k,
            y_pred=y_pred_k,
            sensitive_features=sf_k,
        )
        known_by_group = mf_known.by_group
        result["equalized_odds_difference"] = _none_if_nan(
            equalized_odds_difference(y_true_k, y_pred_k, sensitive_features=sf_k, agg="worst_case")
        )
    rows = []
    for g, row in mf_all.by_group.iterrows():
        k = known_by_group.loc[g] if g in known_by_group.index else None
        rows.append(
            (
                str(g),
                {
                    "count": int(row["count"]),
                    "selection_rate": _none_if_nan(row["selection_rate"]),
                    "false_positive_rate": None if k is None else _none_if_nan(k["false_positive_rate"]),
                    "false_negative_rate": None if k is None else _none_if_nan(k["false_negative_rate"]),
                    "true_positive_rate": None if k is None else _none_if_nan(k["true_positive_rate"]),
                    "accuracy": None if k is None else _none_if_nan(k["accuracy"]),
                    "outcome_known": 0 if k is None else int(k["count"]),
                },
            )
        )
    result["by_group"] = dict(sorted(rows, key=lambda kv: kv[0]))
    return result


# --------------------------------------------------------------------------------------------
# evidence: small groups and bootstrap intervals
# --------------------------------------------------------------------------------------------

#: A group's rate rests on too little evidence below this many decisions (for the selection and
#: favourable rates) or this many known outcomes of the relevant kind (negatives for the FPR,
#: positives for the FNR/TPR). At 30 a 95% interval on a rate near 0.5 is still about ±18
#: percentage points wide, so one such group can make or break a four-fifths ratio by chance. Its
#: rates are shown, flagged as insufficient evidence, and left out of the disparities the policy
#: judges: a small group never turns a finding into FAIL or PASS on its own.
MIN_GROUP_SIZE = 30

#: Percentile bootstrap defaults (Fairlearn's ``MetricFrame(n_boot=..., ci_quantiles=...)``).
N_BOOT = 1000
CI_QUANTILES = (0.025, 0.975)

_DISPARITY_KEYS = ("demographic_parity_difference", "favourable_rate_ratio", "equalized_odds_difference")


def with_sufficient_evidence(counts: pd.DataFrame, *, min_size: int = MIN_GROUP_SIZE
                             ) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """The groups' rates (:func:`group_rates`) the disparities may rest on, and the groups left out.

    A group with fewer than ``min_size`` decisions is left out entirely; in a group large enough,
    an error rate whose denominator (known negatives for the FPR, known positives for the
    FNR/TPR) is below ``min_size`` is set to ``None``, so it drops out of the equalized odds range
    the way an undefined rate does. Returns ``(rates, small_groups)``, ``small_groups`` sorted."""
    if min_size < 0:
        raise ValueError(f"min_size must be non-negative, got {min_size!r}")
    rates = group_rates(counts)
    denominators = {}
    for row in counts.itertuples(index=False):
        neg, pos = int(row.fp or 0) + int(row.tn or 0), int(row.fn or 0) + int(row.tp or 0)
        denominators[str(row.group)] = {"false_positive_rate": neg, "false_negative_rate": pos,
                                        "true_positive_rate": pos}
    kept, small = {}, []
    for g, r in rates.items():
        if r["count"] < min_size:
            small.append(g)
            continue
        r = dict(r)
        for key, den in denominators[g].items():
            if den < min_size:
                r[key] = None
        kept[g] = r
    return kept, sorted(small)


def no_disparities() -> dict[str, Any]:
    """:func:`disparities`' keys with no value: fewer than one group with enough evidence."""
    return {"demographic_parity_difference": None, "demographic_parity_ratio": None, "favourable_rate_ratio": None,
            "equalized_odds_difference": None, "true_positive_rate_difference": None,
            "false_positive_rate_difference": None,
            "four_fifths_rule": {"ratio": None, "passes": None, "threshold": FOUR_FIFTHS_THRESHOLD,
                                 "disadvantaged_groups": []}}


def bootstrap_intervals(counts: pd.DataFrame, *, n_boot: int = N_BOOT, seed: int = 0,
                        quantiles: tuple[float, float] = CI_QUANTILES,
                        min_size: int = MIN_GROUP_SIZE) -> dict[str, Any]:
    """Percentile bootstrap intervals of the group rates and of the disparities, from counts.

    Fairlearn's ``MetricFrame(n_boot=, ci_quantiles=, random_state=)`` resamples the *rows* with
    replacement. A row's contribution to selection rate, FPR, FNR and TPR is fixed by its group and
    its cell (known outcome x actual x predicted: tp, fp, fn, tn; unknown outcome x predicted), so
    resampling N rows is one multinomial draw of N over the groups' cells: the same distribution,
    drawn from the counts in microseconds instead of from the rows. The favourable rate, which may
    count another label, is drawn the same way over (group x favourable or not) with the same
    generator. Each resample's disparities are computed as :func:`disparities` does, over the groups
    :func:`with_sufficient_evidence` keeps in *that* resample. A statistic undefined in a resample
    (a denominator of 0) is left out of its quantiles; it is ``None`` when undefined in every one.

    Returns ``{"n_boot", "seed", "quantiles", "by_group": {group: {rate: [low, high]}},
    "disparities": {key: [low, high]}}``; ``n_boot=0`` returns the keys with no interval.
    """
    if n_boot < 0:
        raise ValueError(f"n_boot must be a non-negative whole number, got {n_boot!r}")
    rates = group_rates(counts)  # validates
    lo_q, hi_q = quantiles
    if not 0 <= lo_q < hi_q <= 1:
        raise ValueError(f"quantiles must be (low, high) in [0, 1] with low < high, got {quantiles!r}")
    out: dict[str, Any] = {"n_boot": int(n_boot), "seed": int(seed), "quantiles": [lo_q, hi_q],
                           "by_group": {g: {} for g in rates}, "disparities": {k: None for k in _DISPARITY_KEYS}}
    if n_boot == 0:
        return out
    c = counts.copy()
    c["group"] = c["group"].astype(str)
    c = c.sort_values("group").reset_index(drop=True)
    groups = list(c["group"])
    tp, fp, fn, tn = (c[k].fillna(0).to_numpy(dtype=np.int64) for k in ("tp", "fp", "fn", "tn"))
    n, pred_pos = c["n"].to_numpy(dtype=np.int64), c["pred_pos"].to_numpy(dtype=np.int64)
    known = tp + fp + fn + tn
    pos_unknown = pred_pos - tp - fp
    neg_unknown = n - known - pos_unknown
    cells = np.stack([tp, fp, fn, tn, pos_unknown, neg_unknown], axis=1)  # (G, 6)
    total = int(n.sum())
    rng = np.random.default_rng(seed)
    draw = rng.multinomial(total, (cells / total).ravel(), size=n_boot).reshape(n_boot, len(groups), 6)
    b_tp, b_fp, b_fn, b_tn, b_pu, b_nu = (draw[:, :, i] for i in range(6))
    b_n = draw.sum(axis=2)
    with np.errstate(divide="ignore", invalid="ignore"):
        sel = (b_tp + b_fp + b_pu) / b_n
        fpr = b_fp / (b_fp + b_tn)
        fnr = b_fn / (b_fn + b_tp)
        tpr = b_tp / (b_tp + b_fn)
    if "fav" in c.columns:
        fav = c["fav"].to_numpy(dtype=np.int64)
        fav_cells = np.stack([fav, n - fav], axis=1)
        fdraw = rng.multinomial(total, (fav_cells / total).ravel(), size=n_boot).reshape(n_boot, len(groups), 2)
        f_n = fdraw.sum(axis=2)
        with np.errstate(divide="ignore", invalid="ignore"):
            favr = fdraw[:, :, 0] / f_n
    else:
        f_n, favr = b_n, sel

    def interval(x: np.ndarray) -> list[float] | None:
        x = x[np.isfinite(x)]
        if x.size == 0:
            return None
        return [float(np.quantile(x, lo_q)), float(np.quantile(x, hi_q))]

    for j, g in enumerate(groups):
        out["by_group"][g] = {"selection_rate": interval(sel[:, j]), "false_positive_rate": interval(fpr[:, j]),
                              "false_negative_rate": interval(fnr[:, j]), "favourable_rate": interval(favr[:, j])}

    def masked_range(x: np.ndarray, ok: np.ndarray) -> np.ndarray:
        hi = np.where(ok, x, -np.inf).max(axis=1)
        lo = np.where(ok, x, np.inf).min(axis=1)
        return np.where(ok.any(axis=1), hi - lo, np.nan)

    big = b_n >= min_size
    big_fav = f_n >= min_size
    dpd = masked_range(sel, big & np.isfinite(sel))
    fpr_d = masked_range(fpr, big & np.isfinite(fpr) & (b_fp + b_tn >= min_size))
    tpr_d = masked_range(tpr, big & np.isfinite(tpr) & (b_tp + b_fn >= min_size))
    eod = np.maximum(fpr_d, tpr_d)  # NaN if either is undefined, as in disparities()
    ok = big_fav & np.isfinite(favr)
    top = np.where(ok, favr, -np.inf).max(axis=1)
    low = np.where(ok, favr, np.inf).min(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(ok.any(axis=1) & (top > 0), low / top, np.nan)
    out["disparities"] = {"demographic_parity_difference": interval(dpd), "favourable_rate_ratio": interval(ratio),
                          "equalized_odds_difference": interval(eod)}
    return out
