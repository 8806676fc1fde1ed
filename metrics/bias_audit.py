"""The NYC Local Law 144 bias-audit table, on the final decisions.

NYC Local Law 144 of 2021 and the DCWP rules (6 RCNY 5-300 ff.) require a yearly bias audit of
an automated employment decision tool, published as a table of **selection rates** and
**impact ratios** by sex, by race/ethnicity and by their intersection:

* **selection rate** of a category = individuals selected (here: the final decision equals the
  favourable label) / individuals in the category;
* **impact ratio** = the category's selection rate / the selection rate of the most selected
  category (of the same dimension);
* the number of individuals in an **unknown** category (no value recorded) is stated and left out
  of the rates and ratios;
* a category holding **less than 2% of the data** may be excluded from the impact-ratio
  calculation (DCWP rule 5-301); it is flagged ``excludable``, its count and selection rate are
  still shown, and with ``exclude_small=True`` (the default) it takes no part in choosing the most
  selected category and gets no ratio.

The attributes are the case attributes named by ``sex_attribute`` and ``race_attribute``
(defaults: the first of ``sex``/``gender`` and of ``race_ethnicity``/``race``/``ethnicity``
present). One Ibis aggregation groups the filter's cases by the two attributes; the marginal
tables are sums of that small result. :func:`bias_audit_csv` writes the table as CSV.
"""
from __future__ import annotations

import csv
import io

import ibis
import pandas as pd
from hitlgov.metrics._values import plain
from hitlgov.metrics.source import Filter, Source

SEX_NAMES = ("sex", "gender")
RACE_NAMES = ("race_ethnicity", "race", "ethnicity")
SMALL_SHARE = 0.02
UNKNOWN = "Unknown"
CSV_COLUMNS = ("dimension", "category", "individuals", "selected", "selection_rate", "impact_ratio",
               "share_of_data", "excludable")


def _attribute_names(source: Source, flt: Filter) -> set[str]:
    a = source.table("case_attributes")
    if flt.system is not None:
        a = a.filter(a.system == flt.system)
    return set(a.select("name").distinct().to_pandas()["name"])


def rates_table(groups: pd.DataFrame, column: str, *, total: int, exclude_small: bool = True) -> list[dict]:
    """One dimension of the table from per-category ``individuals``/``selected`` counts.

    ``groups`` has the category in ``column`` (None = unknown); ``total`` is every individual
    audited (the 2% threshold is a share of all the data, unknown included).
    """
    known_mask = groups[column].notna()
    g = groups[known_mask].groupby(column)[["individuals", "selected"]].sum().reset_index()
    parts = [(r[column], int(r["individuals"]), int(r["selected"])) for _, r in g.iterrows()]
    unknown = groups[~known_mask]
    if len(unknown):
        parts.append((None, int(unknown["individuals"].sum()), int(unknown["selected"].sum())))
    rows = []
    for cat, n, s in parts:
        share = n / total if total else None
        rows.append({"category": cat if cat is not None else UNKNOWN, "unknown": cat is None, "individuals": n,
                     "selected": s, "selection_rate": s / n if n and cat is not None else None,
                     "share_of_data": share, "excludable": cat is not None and share is not None and share < SMALL_SHARE})
    eligible = [r for r in rows if not r["unknown"] and r["selection_rate"] is not None
                and not (exclude_small and r["excludable"])]
    best = max((r["selection_rate"] for r in eligible), default=None)
    for r in rows:
        usable = r in eligible
        r["impact_ratio"] = r["selection_rate"] / best if usable and best else None
    known = [r for r in rows if not r["unknown"]]
    known.sort(key=lambda r: str(r["category"]))
    return known + [r for r in rows if r["unknown"]]


def bias_audit_table(source: Source, flt: Filter = Filter(), *, sex_attribute: str | None = None,
               race_attribute: str | None = None, favourable_label: str | None = None,
               exclude_small: bool = True) -> dict:
    """The LL144 table: ``{"sex", "race_ethnicity", "intersectional"}`` rows, the unknown counts,
    the attributes and favourable label used; ``available`` False (with ``reason``) when the
    filter holds no case or the log has neither attribute or no favourable label is known."""
    names = _attribute_names(source, flt)
    sex = sex_attribute or next((n for n in SEX_NAMES if n in names), None)
    race = race_attribute or next((n for n in RACE_NAMES if n in names), None)
    for given in (sex_attribute, race_attribute):
        if given is not None and given not in names:
            raise ValueError(f"no case attribute named {given!r} (attributes: {', '.join(sorted(names)) or 'none'})")
    label = favourable_label or source.config(flt.system).favourable_label
    out = {"available": False, "reason": None, "sex_attribute": sex, "race_attribute": race,
           "favourable_label": label, "individuals": 0, "small_share_threshold": SMALL_SHARE,
           "exclude_small": exclude_small, "sex": [], "race_ethnicity": [], "intersectional": [],
           "unknown_sex": 0, "unknown_race_ethnicity": 0}
    if sex is None and race is None:
        out["reason"] = "the log has no sex or race/ethnicity attribute (name them with sex_attribute/race_attribute)"
        return out
    if label is None:
        out["reason"] = "no favourable label is known for the system (--positive-label or the mapping file)"
        return out
    c = source.cases(flt).select(*source.key, "final")
    named = [n for n in (sex, race) if n is not None]
    w, col = source.attributes(named)
    c = c.left_join(w, list(source.key)).select(
        c, sex=w[col[sex]] if sex else ibis.null("string"), race=w[col[race]] if race else ibis.null("string"))
    df = c.group_by(["sex", "race"]).aggregate(
        individuals=c.count(), selected=(c.final == label).cast("int64").sum()).to_pandas()
    total = int(df["individuals"].sum()) if len(df) else 0
    if total == 0:
        out["reason"] = "no case in the filter"
        return out
    out.update(available=True, individuals=total)
    if sex:
        out["sex"] = rates_table(df, "sex", total=total, exclude_small=exclude_small)
        out["unknown_sex"] = int(df.loc[df["sex"].isna(), "individuals"].sum())
    if race:
        out["race_ethnicity"] = rates_table(df, "race", total=total, exclude_small=exclude_small)
        out["unknown_race_ethnicity"] = int(df.loc[df["race"].isna(), "individuals"].sum())
    if sex and race:
        both = df[df["sex"].notna() & df["race"].notna()]
        inter = both.assign(category=both["sex"].astype(str) + " / " + both["race"].astype(str))
        out["intersectional"] = rates_table(inter, "category", total=total, exclude_small=exclude_small)
    return plain(out)


def bias_audit_csv(table: dict) -> str:
    """The table of :func:`bias_audit_table` as CSV (one row per dimension and category)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for dimension in ("sex", "race_ethnicity", "intersectional"):
        for r in table.get(dimension, []):
            w.writerow([dimension, r["category"], r["individuals"], r["selected"],
                        "" if r["selection_rate"] is None else f"{r['selection_rate']:.6f}",
                        "" if r["impact_ratio"] is None else f"{r['impact_ratio']:.6f}",
                        "" if r["share_of_data"] is None else f"{r['share_of_data']:.6f}",
                        "yes" if r["excludable"] else "no"])
    return buf.getvalue()
