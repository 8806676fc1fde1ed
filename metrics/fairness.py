"""Group fairness of the model's decision and of the final (post-review) decision.

Semantics are Fairlearn's ``MetricFrame`` (see :mod:`metrics.fairness_math`, which also holds the
plain-Fairlearn reference used as the test oracle): per group of a sensitive attribute, the
count, selection rate (share of decisions with the positive label) and, where the outcome is
known, false positive rate, false negative rate and accuracy; across groups, the demographic
parity difference/ratio, the equalized odds difference and the four-fifths rule.

Why counts: Fairlearn needs every row in memory (about 170 s on 10M rows); the confusion counts
per group come from one ``GROUP BY`` in the engine (a fraction of a second) and give the same
numbers to the last digit. Only one row per group leaves the engine.

Cases whose attribute is missing are left out of the groups and counted in ``missing``.
Intersections (e.g. ``race`` x ``sex``) are supported: pass several attributes.
"""
from __future__ import annotations

import ibis
import pandas as pd

from metrics import fairness_math
from metrics._values import plain
from metrics.source import Filter, Source

DECISIONS = {"model_decision": "model_decision", "final_decision": "final"}
INTERSECTION = " × "


def group_counts(source: Source, flt: Filter, *, attributes: tuple[str, ...], decision: str,
                 positive_label: str) -> tuple[pd.DataFrame, int]:
    """Confusion counts per group (``fairness_math.COUNT_COLUMNS``) and the cases without a group."""
    if decision not in DECISIONS:
        raise ValueError(f"decision must be one of {', '.join(DECISIONS)}, not {decision!r}")
    c = source.cases(flt)
    group = None
    for name in attributes:
        a = source.attribute(name).rename(value_a="value")
        c = c.left_join(a, ["system", "case_id"]).select(c, **{f"_g_{name}": a.value_a})
    parts = [c[f"_g_{name}"] for name in attributes]
    group = parts[0]
    for p in parts[1:]:
        group = group + INTERSECTION + p  # NULL if any part is missing
    pred = c[DECISIONS[decision]] == positive_label
    known = c.outcome.notnull()
    actual = c.outcome == positive_label
    t = c.mutate(_group=group, _pred=pred, _known=known, _actual=actual)
    as_int = (lambda e: e.cast("int64").sum())
    df = t.group_by("_group").aggregate(
        n=t.count(),
        pred_pos=as_int(t._pred),
        n_known=as_int(t._known),
        tp=as_int(t._known & t._actual & t._pred),
        fp=as_int(t._known & ~t._actual & t._pred),
        fn=as_int(t._known & t._actual & ~t._pred),
        tn=as_int(t._known & ~t._actual & ~t._pred),
    ).to_pandas()
    missing = int(df.loc[df["_group"].isna(), "n"].sum())
    df = df[df["_group"].notna()].rename(columns={"_group": "group"})
    df = df.fillna(0).astype({k: "int64" for k in fairness_math.COUNT_COLUMNS[1:]})
    return df[list(fairness_math.COUNT_COLUMNS)].sort_values("group").reset_index(drop=True), missing


def fairness_block(counts: pd.DataFrame) -> dict:
    """SCHEMA §3 ``FAIR``: per-group rates plus the disparities, from group confusion counts."""
    rates = fairness_math.group_rates(counts)
    return plain({"by_group": rates, **fairness_math.disparities(rates)})


def fairness_by_attribute(source: Source, flt: Filter = Filter(), *, attributes: tuple[str, ...] | str,
                          positive_label: str | None = None) -> dict:
    """Model vs final decision fairness for one attribute (or an intersection of several)."""
    attributes = (attributes,) if isinstance(attributes, str) else tuple(attributes)
    label = positive_label or source.config(flt.system).positive_label
    if label is None:
        raise ValueError("fairness needs the positive label: declare it at ingestion (--positive-label) "
                         "or choose one system")
    out: dict = {}
    for decision in DECISIONS:
        counts, missing = group_counts(source, flt, attributes=attributes, decision=decision, positive_label=label)
        if counts.empty:
            return {"positive_label": label, "cases_without_group": missing, "model_decision": None,
                    "final_decision": None, "review_effect": None}
        out[decision] = fairness_block(counts)
        out["cases_without_group"] = missing
    out["positive_label"] = label
    out["review_effect"] = plain(fairness_math.review_effect(out["model_decision"], out["final_decision"]))
    return out


def fairness_summary(source: Source, flt: Filter = Filter(), *, positive_label: str | None = None,
                     intersections: list[tuple[str, ...]] | None = None) -> dict:
    """Fairness for every declared sensitive attribute (SCHEMA §3 ``fairness``).

    Returns ``{}`` when no sensitive attribute is declared, and an ``{"error": ...}`` entry per
    attribute when the positive label is unknown (e.g. systems with different labels mixed).
    """
    cfg = source.config(flt.system)
    label = positive_label or cfg.positive_label
    names: list[tuple[str, ...]] = [(a,) for a in cfg.sensitive] + [tuple(i) for i in intersections or []]
    out = {}
    for attrs in names:
        key = INTERSECTION.join(attrs)
        if label is None:
            out[key] = {"error": "positive label unknown: declare it (--positive-label) or filter to one system"}
            continue
        out[key] = fairness_by_attribute(source, flt, attributes=attrs, positive_label=label)
    return out


__all__ = ["fairness_by_attribute", "fairness_summary", "group_counts", "fairness_block", "ibis"]
