"""Group fairness of the model's decision and of the final (post-review) decision.

Semantics are Fairlearn's ``MetricFrame`` (see :mod:`hitlgov.metrics.fairness_stats`, which also holds the
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
from hitlgov.metrics import fairness_stats, oversight
from hitlgov.metrics._values import plain
from hitlgov.metrics.source import Filter, Source

DECISIONS = {"model_decision": "model_decision", "final_decision": "final"}
INTERSECTION = " × "


def group_counts(source: Source, flt: Filter, *, attributes: tuple[str, ...], positive_label: str,
                 favourable_label: str | None = None,
                 decisions: tuple[str, ...] = tuple(DECISIONS)) -> tuple[dict[str, pd.DataFrame], int]:
    """Confusion counts per group (``fairness_stats.COUNT_COLUMNS`` and ``fav``, the decisions with
    the favourable label, default the positive one) for each decision, and the number of cases
    without a group. One grouped aggregate serves every decision, so the cases are joined to their
    attributes once (one join on the case key for all of them)."""
    favourable_label = positive_label if favourable_label is None else favourable_label
    t, aggs = _counted(source, flt, attributes=attributes, positive_label=positive_label,
                       favourable_label=favourable_label, decisions=decisions)
    parts = [t[f"_g{i}"] for i in range(len(attributes))]
    group = parts[0]
    for p in parts[1:]:
        group = group + INTERSECTION + p  # NULL if any part is missing
    t = t.mutate(_group=group)
    df = t.group_by("_group").aggregate(**aggs(t)).to_pandas()
    return _split(df, decisions)


def _counted(source: Source, flt: Filter, *, attributes: tuple[str, ...], positive_label: str,
             favourable_label: str, decisions: tuple[str, ...]):
    """``(cases, aggregations)``: the filter's decided cases with one column ``_g<i>`` per
    attribute (one join on the case key), and a function giving the confusion-count
    aggregations over a relation derived from them."""
    unknown = [d for d in decisions if d not in DECISIONS]
    if unknown:
        raise ValueError(f"decision must be one of {', '.join(DECISIONS)}, not {unknown[0]!r}")
    c = source.cases(flt)
    # model and final decision are compared on the same cases: those with a model decision
    c = c.filter(c.model_decision.notnull())
    # every attribute of the intersection in one join on the case key (the wide attributes)
    w, col = source.attributes(attributes)
    c = c.left_join(w, list(source.key)).select(c, **{f"_g{i}": w[col[name]] for i, name in enumerate(attributes)})
    c = c.mutate(_known=c.outcome.notnull(), _actual=c.outcome == positive_label)
    as_int = (lambda e: e.cast("int64").sum())

    def aggs(t):
        out = {"n": t.count(), "n_known": as_int(t._known)}
        for d in decisions:
            pred = t[DECISIONS[d]] == positive_label
            out.update({
                f"{d}:pred_pos": as_int(pred),
                f"{d}:tp": as_int(t._known & t._actual & pred),
                f"{d}:fp": as_int(t._known & ~t._actual & pred),
                f"{d}:fn": as_int(t._known & t._actual & ~pred),
                f"{d}:tn": as_int(t._known & ~t._actual & ~pred),
                f"{d}:fav": as_int(t[DECISIONS[d]] == favourable_label),
            })
        return out
    return c, aggs


#: the most attribute-value combinations :func:`marginal_counts` fetches; beyond, each attribute
#: is counted by its own query (a cross table of many high-cardinality attributes could approach
#: one row per case)
MAX_COMBINATIONS = 10_000


def marginal_counts(source: Source, flt: Filter, *, attributes: tuple[str, ...], positive_label: str,
                    favourable_label: str | None = None, decisions: tuple[str, ...] = tuple(DECISIONS)
                    ) -> dict[str, tuple[dict[str, pd.DataFrame], int]] | None:
    """:func:`group_counts` of each single attribute in ``attributes`` -- ``{name: (counts,
    missing)}`` -- from **one** grouped aggregate over their value combinations, or None when
    there are more than :data:`MAX_COMBINATIONS` of them.

    Every count is a sum, so an attribute's counts are the sums of the combination counts over
    the other attributes' values, exactly (integers): one join of the cases with their attributes
    and one scan serve every sensitive attribute of a ``metrics`` run, instead of one of each per
    attribute."""
    favourable_label = positive_label if favourable_label is None else favourable_label
    t, aggs = _counted(source, flt, attributes=attributes, positive_label=positive_label,
                       favourable_label=favourable_label, decisions=decisions)
    # Grouped by (value or '', value is missing) per attribute, not by the joined columns
    # themselves: grouped by columns of the joined attribute table alone, DuckDB 2.0 pre-aggregates
    # the 10M cases by case key below the join (7.8 s at 10M instead of 1.5 s).
    n = len(attributes)
    keys = {**{f"_v{i}": t[f"_g{i}"].coalesce("") for i in range(n)},
            **{f"_m{i}": t[f"_g{i}"].isnull() for i in range(n)}}
    t = t.mutate(**keys)
    cross = t.group_by(list(keys)).aggregate(**aggs(t)).limit(MAX_COMBINATIONS + 1).to_pandas()
    if len(cross) > MAX_COMBINATIONS:
        return None
    counts = [c for c in cross.columns if c not in keys]
    out = {}
    for i, name in enumerate(attributes):
        # the attribute's rows summed over the other attributes' values: the frame
        # group_by("_group") gives for it alone (its NULL group = the cases without a value)
        value = cross[f"_v{i}"].astype("object").where(~cross[f"_m{i}"].astype(bool), None)
        one = cross[counts].astype("float64").assign(_group=value)
        df = one.groupby("_group", dropna=False, sort=False, as_index=False)[counts].sum()
        out[name] = _split(df, decisions)
    return out


def _split(df: pd.DataFrame, decisions: tuple[str, ...]) -> tuple[dict[str, pd.DataFrame], int]:
    """``group_by("_group")``'s frame as ``group_counts`` returns it: per decision, and the cases without a group."""
    missing = int(df.loc[df["_group"].isna(), "n"].sum())
    df = df[df["_group"].notna()].rename(columns={"_group": "group"}).fillna(0).sort_values("group")
    out = {}
    for d in decisions:
        one = df.rename(columns={f"{d}:{k}": k for k in ("pred_pos", "tp", "fp", "fn", "tn", "fav")})
        columns = [*fairness_stats.COUNT_COLUMNS, "fav"]
        one = one.astype({k: "int64" for k in columns[1:]})
        out[d] = one[columns].reset_index(drop=True)
    return out, missing


def fairness_block(counts: pd.DataFrame, *, n_boot: int = fairness_stats.N_BOOT, seed: int = 0,
                   min_group_size: int = fairness_stats.MIN_GROUP_SIZE) -> dict:
    """SCHEMA §3 ``FAIR``: per-group rates plus the disparities, from group confusion counts.

    Every group is listed; the disparities (what the policy judges) rest only on the groups with
    at least ``min_group_size`` decisions (``fairness_stats.with_sufficient_evidence``), the
    others are named in ``insufficient_evidence_groups``. Each rate and disparity carries its
    seeded percentile bootstrap interval (``ci``; ``bootstrap`` says how it was drawn)."""
    rates = fairness_stats.group_rates(counts)
    kept, small = fairness_stats.with_sufficient_evidence(counts, min_size=min_group_size)
    disparities = fairness_stats.disparities(kept) if kept else fairness_stats.no_disparities()
    boot = fairness_stats.bootstrap_intervals(counts, n_boot=n_boot, seed=seed, min_size=min_group_size)
    for g, r in rates.items():
        r["insufficient_evidence"] = g in small
        r["ci"] = boot["by_group"].get(g, {})
    return plain({"by_group": rates, **disparities, "ci": boot["disparities"],
                  "bootstrap": {"n_boot": boot["n_boot"], "seed": boot["seed"], "quantiles": boot["quantiles"]},
                  "min_group_size": min_group_size, "insufficient_evidence_groups": small})


def fairness_by_attribute(source: Source, flt: Filter = Filter(), *, attributes: tuple[str, ...] | str,
                          positive_label: str | None = None, favourable_label: str | None = None,
                          n_boot: int = fairness_stats.N_BOOT, seed: int = 0,
                          min_group_size: int = fairness_stats.MIN_GROUP_SIZE,
                          counts: tuple[dict[str, pd.DataFrame], int] | None = None) -> dict:
    """Model vs final decision fairness for one attribute (or an intersection of several).

    ``favourable_label`` (default: the system's, else the positive label) is the decision the
    four-fifths rule counts; ``positive_label`` the one selection rate and FPR/FNR count.
    ``counts`` is :func:`group_counts`' result when the caller has it already
    (:func:`fairness_summary` counts every attribute in one query, :func:`marginal_counts`)."""
    attributes = (attributes,) if isinstance(attributes, str) else tuple(attributes)
    label, favourable_label = _labels(source.config(flt.system), positive_label, favourable_label)
    if counts is None:
        counts = group_counts(source, flt, attributes=attributes, positive_label=label,
                              favourable_label=favourable_label)
    counts, missing = counts
    undecided = oversight.undecided_cases(source, flt)  # left out by group_counts
    if counts["model_decision"].empty:
        return {"positive_label": label, "favourable_label": favourable_label, "cases_without_group": missing,
                "cases_without_model_decision": undecided,
                "model_decision": None, "final_decision": None, "review_effect": None}
    out: dict = {decision: fairness_block(counts[decision], n_boot=n_boot, seed=seed, min_group_size=min_group_size)
                 for decision in DECISIONS}
    out["cases_without_group"] = missing
    out["cases_without_model_decision"] = undecided
    out["positive_label"] = label
    out["favourable_label"] = favourable_label
    for decision in DECISIONS:
        out[decision]["four_fifths_rule"]["favourable_label"] = favourable_label
    out["review_effect"] = plain(fairness_stats.review_effect(out["model_decision"], out["final_decision"]))
    return out


def _labels(cfg, positive_label: str | None, favourable_label: str | None) -> tuple[str, str]:
    """``(positive, favourable)`` labels of a fairness computation: the given ones, else the system's."""
    label = positive_label or cfg.positive_label
    if label is None:
        raise ValueError("fairness needs the positive label: declare it at ingestion (--positive-label) "
                         "or choose one system")
    if favourable_label is None:
        # the system's favourable label goes with the system's positive label, not with an override
        favourable_label = cfg.favourable_label if positive_label in (None, cfg.positive_label) else label
    return label, favourable_label or label


def fairness_summary(source: Source, flt: Filter = Filter(), *, positive_label: str | None = None,
                     intersections: list[tuple[str, ...]] | None = None,
                     n_boot: int = fairness_stats.N_BOOT, seed: int = 0) -> dict:
    """Fairness for every declared sensitive attribute (SCHEMA §3 ``fairness``).

    Returns ``{}`` when no sensitive attribute is declared, and an ``{"error": ...}`` entry per
    attribute when the positive label is unknown (e.g. systems with different labels mixed).
    """
    cfg = source.config(flt.system)
    label = positive_label or cfg.positive_label
    names: list[tuple[str, ...]] = [(a,) for a in cfg.sensitive] + [tuple(i) for i in intersections or []]
    out = {}
    # every single attribute counted by one grouped aggregate (marginal_counts), when there are several
    singles = list(dict.fromkeys(a[0] for a in names if len(a) == 1))
    known: dict = {}
    if label is not None and len(singles) > 1:
        positive, favourable = _labels(cfg, label, None)
        known = marginal_counts(source, flt, attributes=tuple(singles), positive_label=positive,
                                favourable_label=favourable) or {}
    for attrs in names:
        key = INTERSECTION.join(attrs)
        if label is None:
            out[key] = {"error": "positive label unknown: declare it (--positive-label) or filter to one system"}
            continue
        out[key] = fairness_by_attribute(source, flt, attributes=attrs, positive_label=label, n_boot=n_boot, seed=seed,
                                         counts=known.get(attrs[0]) if len(attrs) == 1 else None)
    return out


__all__ = ["fairness_by_attribute", "fairness_summary", "group_counts", "marginal_counts", "fairness_block", "ibis"]
